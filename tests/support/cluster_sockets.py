"""socket.io-client 4.8 sockets under Node, by name, driven by ``tests/js/cluster_client.mjs``
(one Node process; each command waits for its answer): for cluster operations against
``tornio serve``."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.node_client import JS_DIR, NodeClient
from tests.support.serve_cluster import worker_of

__all__ = ["CLUSTER_DRIVER", "Sockets"]

CLUSTER_DRIVER = JS_DIR / "cluster_client.mjs"


class Sockets:
    """The Node driver's sockets, by name."""

    def __init__(self, url: str) -> None:
        self.client = NodeClient(url, "sockets", {}, timeout=15, driver=CLUSTER_DRIVER)
        self.refs = itertools.count()
        self.ids: dict[str, str] = {}
        #: The connection (the driver's ``conn``) each socket was opened on.
        self.conns: dict[str, str] = {}

    def _ref(self) -> str:
        return f"r{next(self.refs)}"

    def open(self, name: str, nsp: str = "/ops", **extra: Any) -> str:
        ref = self._ref()
        self.client.send({"cmd": "open", "ref": ref, "name": name, "nsp": nsp, **extra})
        opened = self.client.step("opened", ref=ref)
        self.ids[name] = opened["id"]
        if "conn" in extra:
            self.conns[name] = extra["conn"]
        return str(opened["id"])

    def open_on(self, worker: int, name: str, **extra: Any) -> str:
        """Open ``name`` on a connection of its own that lands on ``worker`` (new sessions
        go to the least-loaded worker: try again until one does)."""
        for attempt in range(12):
            sid = self.open(name, conn=f"{name}-{attempt}", **extra)
            if worker_of(sid) == worker:
                return sid
            self.close(name)
        raise AssertionError(f"no connection of {name} landed on worker {worker}")

    def emit(self, name: str, event: str, *args: Any) -> Any:
        """Emit with an ack; the ack's first argument."""
        ref = self._ref()
        self.client.send({"cmd": "emit", "ref": ref, "name": name, "event": event,
                          "args": list(args)})
        return self.client.step("ack", ref=ref)["args"][0]

    def event(self, name: str, event: str) -> list[Any]:
        return list(self.client.step("event", socket=name, event=event)["args"])

    def events_seen(self, name: str) -> list[str]:
        """The events ``name`` received among the lines read so far."""
        return [
            line["event"]
            for line in self.client.lines
            if line.get("step") == "event" and line.get("socket") == name
        ]

    def disconnected(self, name: str) -> str:
        """Why ``name`` was disconnected (not counting the closes of ``open_on``'s tries)."""
        while True:
            reason = str(self.client.step("disconnect", socket=name)["reason"])
            if reason != "io client disconnect":
                return reason

    def close(self, name: str) -> None:
        ref = self._ref()
        self.client.send({"cmd": "close", "ref": ref, "name": name})
        self.client.step("closed", ref=ref)

    def __enter__(self) -> Sockets:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.client.quit()
        finally:
            self.client.__exit__(None, None, None)
