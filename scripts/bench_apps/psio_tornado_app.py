"""python-socketio's AsyncServer on Tornado, through ``socketio.get_tornado_handler``.

    python -m bench_apps.psio_tornado_app --port P        (from scripts/)
"""

from __future__ import annotations

import argparse
import asyncio

import socketio  # type: ignore[import-untyped]
import tornado.web

from bench_apps.psio_common import make_server

__all__ = ["main"]


async def serve(host: str, port: int) -> None:
    sio = make_server("tornado")
    app = tornado.web.Application([(r"/socket.io/", socketio.get_tornado_handler(sio))])
    app.listen(port, host)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
