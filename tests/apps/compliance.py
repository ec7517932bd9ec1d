"""The fixture servers the official compliance suites expect (``reference/modern.md`` §3.3),
on port 3000 by default:

    python -m tests.apps.compliance engineio [--port 3000]    # Engine.IO v4 and v3 suites
    python -m tests.apps.compliance socketio [--port 3000]    # Socket.IO v5 suite

``--http fast`` (or ``TORNIO_TEST_HTTP=fast``, which scripts/compliance passes on) serves
the polling routes on the fast HTTP path.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.support.fastmode import serve_fast
from tornio import BaseNamespace, Router, event
from tornio.modern.endpoint import EngineConnection, EngineEndpoint

TIMINGS = {"ping_interval": 0.3, "ping_timeout": 0.2, "max_buffer_size": 1_000_000}
#: The suites also run from a browser page (their index.html), opened from anywhere: any
#: origin, answered ``Access-Control-Allow-Origin: *`` without credentials.
ORIGINS = {"origins": "*"}


def echo(conn: EngineConnection, data: str | bytes) -> None:
    conn.send(data)


def engineio_app() -> tornado.web.Application:
    endpoint = EngineEndpoint(
        "/engine.io", on_message=echo, allow_eio3=True, **TIMINGS, **ORIGINS
    )
    return tornado.web.Application(endpoint.urls)


class MainNamespace(BaseNamespace):
    def recv_connect(self) -> None:
        self.emit("auth", self.auth)

    def on_message(self, *args: Any) -> None:
        self.emit("message-back", *args)

    @event("message-with-ack")  # not an identifier: a modern client's name needs its handler
    def message_with_ack(self, *args: Any) -> tuple[Any, ...]:
        return args


class CustomNamespace(BaseNamespace):
    def recv_connect(self) -> None:
        self.emit("auth", self.auth)


def socketio_app() -> tornado.web.Application:
    router = Router(
        {"/": MainNamespace, "/custom": CustomNamespace}, connect_timeout=1.0, **TIMINGS,
        **ORIGINS,
    )
    return router.application()


async def serve(kind: str, port: int, http: str = "tornado") -> None:
    app = engineio_app() if kind == "engineio" else socketio_app()
    server = HTTPServer(app)
    sockets = bind_sockets(port)
    if http == "fast":  # the polling routes on the fast HTTP path (tornio.fastpath)
        assert serve_fast(app, server, sockets, xheaders=False) is not None
    else:
        server.add_sockets(sockets)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["engineio", "socketio"])
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--http", choices=["fast", "tornado"],
                        default=os.environ.get("TORNIO_TEST_HTTP", "tornado"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.kind, args.port, args.http))


if __name__ == "__main__":
    main()
