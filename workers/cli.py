"""The ``tornio`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from workers.loading import TargetError, load_router

__all__ = ["main"]

log = logging.getLogger("tornio.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tornio", description="A Socket.IO server on Tornado.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a namespaces dict or a tornio.Router")
    serve.add_argument("target", metavar="MODULE:OBJECT",
                       help="a namespaces dict, a Router, or a callable returning one")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument("--log-level", default="info",
                       choices=["debug", "info", "warning", "error"])
    return parser


async def serve(target: str, host: str, port: int) -> None:
    router = load_router(target)
    app = router.application()
    server = HTTPServer(app, xheaders=True)
    sockets = bind_sockets(port, host or None)
    server.add_sockets(sockets)
    bound = sockets[0].getsockname()
    log.info("tornio serving %s on http://%s:%d/", target, bound[0], bound[1])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down")
    server.stop()
    router.manager.close_all()
    await asyncio.wait_for(server.close_all_connections(), timeout=5)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        try:
            asyncio.run(serve(args.target, args.host, args.port))
        except TargetError as exc:
            print(f"tornio: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"tornio: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
