"""Cluster operations from server code, with socket.io-client 4.8 under Node against
``tornio serve --workers 2`` (``tests/apps/cluster_ops.py``; the clients are
``tests/js/cluster_client.mjs``): per-namespace socket ids, ``fetch_sockets`` and remote
socket operations, broadcasts with acks, server-side events with answers,
``sockets_join``/``sockets_leave``/``disconnect_sockets(close=)`` with ``except_rooms``, and
``local=True``. Every operation runs in a handler on one worker and reaches sockets on the
other, through the bus.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster_sockets import Sockets
from tests.support.node_client import node_modules_ready
from tests.support.serve_cluster import ClusterProcess
from tornio.bus.ids import owner_of

pytestmark = pytest.mark.timeout(120)

@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterProcess]:
    """``tornio serve tests.apps.cluster_ops:router --workers 2``, for the whole module."""
    missing = node_modules_ready()
    if missing:
        pytest.fail(missing)
    with tempfile.TemporaryDirectory(prefix="tornio-cluster-ops-") as path:
        process = ClusterProcess("tests.apps.cluster_ops:router", Path(path), workers=2)
        with process.running():
            yield process
        bad = [line for line in process.log_text().splitlines() if "Traceback" in line]
        assert bad == [], process.tail()


def node_of(sockets: Sockets, name: str) -> str:
    return str(sockets.emit(name, "whoami")["node"])


def test_namespace_connections_of_one_client_have_their_own_ids(cluster: ClusterProcess) -> None:
    with Sockets(cluster.url) as sockets:
        ops = sockets.open_on(0, "a-ops")
        engine = sockets.client.lines[-1]["engine"]
        aux = sockets.open("a-aux", nsp="/aux", conn=sockets.conns["a-ops"])
        assert sockets.client.lines[-1]["engine"] == engine  # one connection, two namespaces
        assert aux != ops
        node = node_of(sockets, "a-ops")
        assert owner_of(ops) == owner_of(aux) == node
        assert sockets.emit("a-aux", "whoami") == {"sid": aux, "node": node}
        assert sockets.emit("a-ops", "whoami")["sid"] == ops

        # From the other worker: an emit to= each id reaches only that namespace connection;
        # an id in the wrong namespace reaches nobody; the room named by an id holds it.
        sockets.open_on(1, "b")
        sockets.emit("b", "emit", "for-ops", [1], {"to": ops})
        sockets.emit("b", "emit", "ops-id-in-aux", [], {"namespace": "/aux", "to": ops})
        sockets.emit("b", "emit", "aux-id-in-ops", [], {"to": aux})
        sockets.emit("b", "emit", "for-aux", [2], {"namespace": "/aux", "to": aux})
        sockets.emit("b", "emit", "ops-room", [3], {"room": ops})
        assert sockets.event("a-ops", "ops-room") == [3]
        assert sockets.events_seen("a-ops") == ["for-ops", "ops-room"]
        assert sockets.event("a-aux", "for-aux") == [2]
        assert sockets.events_seen("a-aux") == ["for-aux"]
        assert sockets.events_seen("b") == []


def test_fetch_sockets_and_remote_socket_operations_across_two_workers(
    cluster: ClusterProcess,
) -> None:
    with Sockets(cluster.url) as sockets:
        alice = sockets.open_on(0, "alice", auth={"token": "a"})
        bob = sockets.open_on(1, "bob", auth={"token": "b"})
        assert sockets.emit("bob", "set", "nick", "bob") is True
        for name in ("alice", "bob"):
            assert sockets.emit(name, "join", "t-fetch") is True
        assert sockets.emit("bob", "join", "club") is True

        found = sockets.emit("alice", "fetch", {"room": "t-fetch"})
        assert [s["id"] for s in found] == sorted([alice, bob])
        record = next(s for s in found if s["id"] == bob)
        assert record["rooms"] == sorted([bob, "club", "t-fetch"])
        assert record["data"]["nick"] == "bob"
        handshake = record["handshake"]
        assert handshake["auth"] == {"token": "b"}
        assert handshake["address"] == "127.0.0.1"
        assert handshake["headers"]["host"] == f"127.0.0.1:{cluster.port}"
        assert handshake["query"]["EIO"] == "4"
        assert handshake["query"]["transport"] == "websocket"
        assert handshake["url"].startswith("/socket.io/?")
        assert handshake["secure"] is False
        assert isinstance(handshake["issued"], int) and handshake["issued"] > 0
        assert handshake["time"]
        assert sockets.emit("alice", "fetch", {"room": "club"}) == [record]
        assert sockets.emit("bob", "fetch", {"room": "club", "except_rooms": bob}) == []
        assert sockets.emit("alice", "fetch", {"to": bob}) == [record]

        # Remote operations from alice's worker on bob's socket, on the other worker. join and
        # leave are fire-and-forget over the bus (as node's): bob's own connection could ask
        # before the bus has delivered them, so the rooms are read back over the bus, from
        # alice's worker, after the operation (one publisher's messages stay in order).
        def bobs_rooms() -> list[str]:
            return sockets.emit("alice", "fetch", {"to": bob})[0]["rooms"]

        assert sockets.emit("alice", "remote", bob, "emit", "psst", 1) == {"done": "emit"}
        assert sockets.event("bob", "psst") == [1]
        assert sockets.emit("alice", "remote", bob, "join", "secret") == {"done": "join"}
        assert bobs_rooms() == sorted([bob, "club", "secret", "t-fetch"])
        assert sockets.emit("alice", "remote", bob, "leave", ["club", "secret"]) == {
            "done": "leave"
        }
        assert bobs_rooms() == sorted([bob, "t-fetch"])
        assert sockets.emit("bob", "whoami")["rooms"] == ["t-fetch"]  # bob's socket agrees
        assert sockets.emit("alice", "remote", bob, "call", "question", "q?") == {
            "answer": {"from": "bob", "args": ["q?"]}
        }
        assert sockets.emit("alice", "remote", "AAAAAAAAAAAAAAAAAAAA", "emit", "x") == {
            "found": 0
        }
        assert sockets.emit("alice", "remote", bob, "disconnect") == {"done": "disconnect"}
        assert sockets.disconnected("bob") == "io server disconnect"
        assert sockets.emit("alice", "fetch", {"room": "t-fetch"}) == [
            s for s in found if s["id"] == alice
        ]


def test_broadcast_with_acks_collects_every_clients_answer_across_two_workers(
    cluster: ClusterProcess,
) -> None:
    with Sockets(cluster.url) as sockets:
        names = {"w0-a": 0, "w0-b": 0, "w1-a": 1, "w1-b": 1}
        for name, worker in names.items():
            sockets.open_on(worker, name)
            assert sockets.emit(name, "join", "quiz") is True

        answer = sockets.emit("w0-a", "call", "question", ["2+2"], {"room": "quiz"}, 5)
        assert sorted(answer["responses"], key=lambda r: r["from"]) == [
            {"from": name, "args": ["2+2"]} for name in sorted(names)
        ]
        for name in names:
            assert sockets.event(name, "question") == ["2+2"]

        # except_rooms, and one socket by id on the other worker.
        assert sockets.emit("w1-b", "join", "left-out") is True
        answer = sockets.emit(
            "w0-a", "call", "q2", [], {"room": "quiz", "except_rooms": ["left-out"]}, 5
        )
        assert sorted(r["from"] for r in answer["responses"]) == ["w0-a", "w0-b", "w1-a"]
        answer = sockets.emit("w0-a", "call", "q3", [7], {"to": sockets.ids["w1-a"]}, 5)
        assert answer == {"responses": [{"from": "w1-a", "args": [7]}]}

        # A recipient that never answers: what came, and how many did not.
        sockets.open_on(1, "mute", answers={"question": "$silent"})
        assert sockets.emit("mute", "join", "quiz") is True
        answer = sockets.emit("w1-a", "call", "question", ["again"], {"room": "quiz"}, 1)
        assert answer["timeout"] is True and answer["missing"] == 1
        assert sorted(r["from"] for r in answer["responses"]) == sorted(names)


def test_server_side_emit_with_acks_between_workers(cluster: ClusterProcess) -> None:
    with Sockets(cluster.url) as sockets:
        sockets.open_on(0, "zero")
        sockets.open_on(1, "one")
        zero, one = node_of(sockets, "zero"), node_of(sockets, "one")
        # Each worker asks the others only.
        assert sockets.emit("zero", "server_side_call", "where", [], 3) == {"answers": [one]}
        assert sockets.emit("one", "server_side_call", "where", [], 3) == {"answers": [zero]}
        # One-way: worker 1 hears it, worker 0 (the sender) does not.
        assert sockets.emit("zero", "server_side_emit", "note", [1, "x"]) is True
        assert sockets.emit("zero", "server_side_call", "notes", [], 3) == {
            "answers": [[[1, "x"]]]
        }
        assert sockets.emit("one", "server_side_call", "notes", [], 3) == {"answers": [[]]}
        # No handler on the other worker: no answer, a timeout that says so.
        assert sockets.emit("zero", "server_side_call", "nobody", [], 0.5) == {
            "timeout": True, "answers": [], "missing": 1
        }


def test_sockets_join_leave_and_disconnect_sockets_with_except_rooms(
    cluster: ClusterProcess,
) -> None:
    with Sockets(cluster.url) as sockets:
        a = sockets.open_on(0, "a")
        b = sockets.open_on(1, "b")
        c = sockets.open_on(1, "c")
        sockets.open("b-aux", nsp="/aux", conn=sockets.conns["b"])
        sockets.open("c-aux", nsp="/aux", conn=sockets.conns["c"])
        for name in ("a", "b", "c"):
            assert sockets.emit(name, "join", "grp") is True
        assert sockets.emit("c", "join", "vip") is True

        def members(room: str) -> list[str]:
            return [s["id"] for s in sockets.emit("a", "fetch", {"room": room})]

        assert sockets.emit("a", "sockets_join", ["grp2", "grp3"],
                            {"room": "grp", "except_rooms": "vip"}) is True
        assert members("grp2") == members("grp3") == sorted([a, b])
        assert sockets.emit("a", "sockets_leave", ["grp"], {"room": "grp2"}) is True
        assert members("grp") == [c]
        assert sockets.emit("c", "whoami")["rooms"] == ["grp", "vip"]

        # close=False: b leaves /ops, its connection (and /aux on it) stays.
        assert sockets.emit("a", "disconnect_sockets", False,
                            {"room": "grp2", "except_rooms": [a]}) is True
        assert sockets.disconnected("b") == "io server disconnect"
        assert sockets.emit("b-aux", "whoami")["node"] == node_of(sockets, "c")
        # close=True: c's whole connection ends, /aux with it.
        assert sockets.emit("a", "disconnect_sockets", True, {"to": c}) is True
        assert sockets.disconnected("c") == sockets.disconnected("c-aux") == "io server disconnect"
        assert members("grp2") == [a]
        assert sockets.emit("a", "whoami")["sid"] == a


def test_a_local_emit_stays_on_its_worker(cluster: ClusterProcess) -> None:
    with Sockets(cluster.url) as sockets:
        sockets.open_on(0, "here")
        sockets.open_on(1, "there")
        for name in ("here", "there"):
            assert sockets.emit(name, "join", "loc") is True
        assert sockets.emit("here", "emit", "ping", [1], {"room": "loc", "local": True}) is True
        assert sockets.emit("here", "emit", "pong", [2], {"room": "loc"}) is True
        assert sockets.event("here", "ping") == [1]
        assert sockets.event("here", "pong") == [2]
        assert sockets.event("there", "pong") == [2]
        assert sockets.events_seen("there") == ["pong"]
