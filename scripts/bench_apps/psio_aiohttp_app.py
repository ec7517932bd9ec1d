"""python-socketio's AsyncServer on aiohttp.

    python -m bench_apps.psio_aiohttp_app --port P        (from scripts/)
"""

from __future__ import annotations

import argparse

from aiohttp import web

from bench_apps.psio_common import make_server

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sio = make_server("aiohttp")
    app = web.Application()
    sio.attach(app)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
