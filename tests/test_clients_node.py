"""socket.io-client 4.x under Node against a tornio server: polling only, websocket only, the
default (polling, then the upgrade to websocket), and the msgpack parser. Each run connects
with an auth payload, emits with acks both ways, sends and receives binary, uses a room, a
second namespace and sees refusals arrive as ``connect_error`` (``tests/js/modern_client.mjs``,
scenario ``full``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.apps.probe import Record, namespaces
from tests.support import LiveServer, wait_for
from tests.support.node_client import NodeClient, node_modules_ready, unbin
from tornio import Router
from tornio.bus.ids import owner_of


def make_app(record: Record, routers: list[Router]) -> Any:
    router = Router(namespaces(record))
    routers.append(router)
    return router.application()


@pytest.fixture
def node_ready() -> None:
    missing = node_modules_ready()
    if missing:
        pytest.fail(missing)


@pytest.fixture
def server(
    live_server: Callable[..., LiveServer], node_ready: None
) -> Iterator[tuple[LiveServer, Record, list[Router]]]:
    record, routers = Record(), list[Router]()
    yield live_server(lambda: make_app(record, routers)), record, routers


MODES: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "default": {},
    "msgpack": {"parser": "msgpack"},
}


@pytest.mark.parametrize("mode", MODES)
def test_socket_io_client_4(server: tuple[LiveServer, Record, list[Router]], mode: str) -> None:
    live, record, routers = server
    options = MODES[mode]
    started = time.monotonic()
    with NodeClient(live.url, "full", options, timeout=10) as client:
        connect = client.step("connect")
        expected_transport = {"polling": "polling", "websocket": "websocket"}.get(mode)
        if expected_transport:
            assert connect["transport"] == connect["opened"]["transport"] == expected_transport
        else:  # the default: polling first, then the upgrade
            upgrade = client.step("upgrade")
            assert upgrade["opened"]["transport"] == "polling"
            assert upgrade["opened"]["upgraded"] == upgrade["transport"] == "websocket"

        # A handler's return value is the ack (a tuple gives several arguments).
        assert client.step("echo")["args"] == [1, "two", {"three": [3]}, None]
        whoami = client.step("whoami")["args"][0]
        assert whoami["sid"] == connect["id"]
        assert whoami["nsp"] == "/test"
        assert whoami["auth"] == {"token": "good"}
        assert whoami["protocol"] == "modern"

        # The server's emit with callback=: the client's ack reaches the callback.
        ask = unbin(client.step("ask"))
        assert ask["ack"] == ["asked"]
        assert ask["questions"] == ["life?"]
        assert ask["answered"] == ["answer to life?", 42, {"bytes": b"\x07\x08"}]

        # Binary both ways, nested; Buffer and ArrayBuffer both arrive as bytes.
        sent = {"buf": b"\x01\x02\x03", "nested": {"ab": b"\x04\x05\x06", "list": [b"xyz", "text"]}}
        binary = unbin(client.step("binary"))
        assert binary["ack"] == [{"echo": sent, "made": b"\x00\x01\x02\x03\x04"}]
        assert binary["event"] == [{"got": sent, "extra": [b"\x00\xff"]}, b"top-level"]

        # A room: b (kitchen) hears a's shout to the kitchen; a (the sender) and c (den) do not.
        room = client.step("room")
        assert room["joins"] == {"a": [["kitchen"]], "b": [["kitchen"]], "c": [["den"]]}
        assert room["shout"] == [True]
        assert room["heard"] == {"a": [], "b": [[connect["id"], "hello kitchen"]], "c": []}
        if expected_transport:
            assert room["b_transport"] == expected_transport

        # A second namespace on the same connection (one server socket, two namespaces).
        other = client.step("other")
        assert other["same_manager"] is True
        other_who, test_who = other["whoami"][0], other["test_whoami"][0]
        assert other_who["nsp"] == "/other" and other_who["auth"] == {"token": "other"}
        assert other_who["engine_sid"] == test_who["engine_sid"]
        # Each namespace connection has its own id, naming the same owner.
        assert other_who["sid"] != test_who["sid"] == connect["id"]
        node_id = routers[-1].manager.node_id
        assert owner_of(other_who["sid"]) == owner_of(test_who["sid"]) == node_id

        # Refusals arrive as connect_error with the server's message and data.
        refused = client.step("refused")
        assert refused["raised"] == {
            "message": "not authorized",
            "data": {"reason": "bad token", "code": 401},
            "active": False,
        }
        assert refused["false"] == {"message": "Connection refused", "data": None, "active": False}
        assert refused["unknown"] == {"message": "Invalid namespace", "data": None, "active": False}

        assert client.step("still")["args"] == ["after /other left"]
        client.step("done")
        client.wait()

    # The server's side of it.
    received = live.call(lambda: list(record.received_binary))
    assert received == [sent]
    assert live.call(lambda: list(record.answers)) == [
        ("answer to life?", 42, {"bytes": b"\x07\x08"})
    ]
    connected = live.call(lambda: list(record.connected))
    assert [(nsp, auth) for nsp, _, auth in connected] == [
        ("/test", {"token": "good"}),
        ("/test", {"token": "good"}),
        ("/test", {"token": "good"}),
        ("/other", {"token": "other"}),
    ]
    other_sid = connected[3][1]
    # b and c left, /other was left by a, then a disconnected: recv_disconnect each time.
    wait_for(
        lambda: (
            live.call(lambda: sorted(record.disconnected))
            == sorted([("/test", sid) for _, sid, _ in connected[:3]] + [("/other", other_sid)])
        ),
        5,
        message="every namespace's recv_disconnect",
    )
    # Every socket is gone from the server.
    manager = routers[-1].manager
    wait_for(
        lambda: live.call(lambda: not manager.sockets and not manager.engines),
        5,
        message="the server forgetting every socket",
    )
    assert time.monotonic() - started < 20
