"""Bare Tornado, no protocol: the baseline every other server is compared with.

    python -m bench_apps.tornado_app --port P        (from scripts/)

- ``/echo``: a websocket that writes every text frame back.
- ``/broadcast``: a websocket room; a frame from the publisher (``?role=pub``) is written to
  every member with one ``write_message`` per recipient (the naive loop), then ``ok`` to the
  publisher.
- ``/poll?id=ID``: long-polling echo. A GET is held until a POST for the same id arrives and
  is answered with the POST's body (a body that arrives first waits for the next GET).
- ``/health``: readiness.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import deque

import tornado.web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from bench_apps import heartbeat

__all__ = ["main"]


class EchoHandler(WebSocketHandler):
    def check_origin(self, origin: str) -> bool:
        return True

    def open(self) -> None:
        self.set_nodelay(True)  # as tornio, node and aiohttp do

    def on_message(self, message: str | bytes) -> None:
        with contextlib.suppress(WebSocketClosedError):
            self.write_message(message, binary=isinstance(message, bytes))


MEMBERS: set[BroadcastHandler] = set()


class BroadcastHandler(WebSocketHandler):
    def check_origin(self, origin: str) -> bool:
        return True

    def open(self) -> None:
        self.set_nodelay(True)
        if self.get_query_argument("role", "") != "pub":
            MEMBERS.add(self)

    def on_message(self, message: str | bytes) -> None:
        for member in MEMBERS:
            with contextlib.suppress(WebSocketClosedError):
                member.write_message(message)
        with contextlib.suppress(WebSocketClosedError):
            self.write_message("ok")

    def on_close(self) -> None:
        MEMBERS.discard(self)


class Mailbox:
    def __init__(self) -> None:
        self.waiting: asyncio.Future[bytes] | None = None
        self.queued: deque[bytes] = deque()


MAILBOXES: dict[str, Mailbox] = {}


class PollHandler(tornado.web.RequestHandler):
    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")

    def compute_etag(self) -> None:
        return None

    async def get(self) -> None:
        box = MAILBOXES.setdefault(self.get_query_argument("id"), Mailbox())
        if box.queued:
            self.finish(box.queued.popleft())
            return
        box.waiting = asyncio.get_running_loop().create_future()
        body = await box.waiting
        self.finish(body)

    def post(self) -> None:
        box = MAILBOXES.setdefault(self.get_query_argument("id"), Mailbox())
        waiting, box.waiting = box.waiting, None
        if waiting is not None and not waiting.done():
            waiting.set_result(self.request.body)
        else:
            box.queued.append(self.request.body)
        self.finish("ok")


class HealthHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish("ok")


def application() -> tornado.web.Application:
    return tornado.web.Application(
        [
            (r"/echo", EchoHandler),
            (r"/broadcast", BroadcastHandler),
            (r"/poll", PollHandler),
            (r"/health", HealthHandler),
        ],
        websocket_ping_interval=heartbeat(),
        websocket_ping_timeout=heartbeat(),  # Tornado allows no longer
    )


async def serve(host: str, port: int) -> None:
    application().listen(port, host)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
