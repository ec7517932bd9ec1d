"""The ``tornio`` command.

tornio serve MODULE:OBJECT [--workers N] [--host H] [--port P] [--policy-port Q]
tornio broker --bind tcp://ADDRESS:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from tornio.bus import broker
from workers.loading import TargetError, load_router
from workers.supervisor import Supervisor, SupervisorOptions

__all__ = ["main"]

log = logging.getLogger("tornio.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tornio", description="A Socket.IO server on Tornado.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve a namespaces dict or a tornio.Router with N worker processes",
        description="Bind the port, start N Tornado workers joined by a ZeroMQ bus, a bus "
        "broker and the Flash policy server, and keep them all running.",
    )
    serve.add_argument(
        "target",
        metavar="MODULE:OBJECT",
        help="a namespaces dict, a Router, or a callable returning one",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: the number of cores)",
    )
    serve.add_argument(
        "--policy-port",
        type=int,
        default=10843,
        help="Flash policy server port (default 10843; 843 needs root)",
    )
    serve.add_argument(
        "--no-policy-server", action="store_true", help="do not run the Flash policy server"
    )
    serve.add_argument(
        "--bus",
        metavar="ADDRESS",
        help="join the broker at ADDRESS (tcp://HOST:PORT) instead of running "
        "one: how several hosts form one cluster (see `tornio broker`)",
    )
    serve.add_argument(
        "--drain-timeout",
        type=float,
        default=10.0,
        help="seconds clients get to be told to reconnect on shutdown",
    )
    serve.add_argument(
        "--stats-file",
        help="keep a JSON file of workers, sessions and forwarded requests up to date",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    run_broker = sub.add_parser(
        "broker",
        help="run a standalone bus broker",
        description="A bus broker that several `tornio serve --bus` "
        "instances (on several hosts) join.",
    )
    run_broker.add_argument(
        "--bind", required=True, help="tcp://HOST:PORT: publishers at PORT, subscribers at PORT+1"
    )
    run_broker.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "broker":
        return broker.main(["--bind", args.bind, "--log-level", args.log_level.upper()])
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.workers < 1:
        print("tornio: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        load_router(args.target)  # fail here, once, rather than in every worker
    except TargetError as exc:
        print(f"tornio: {exc}", file=sys.stderr)
        return 2
    options = SupervisorOptions(
        target=args.target,
        host=args.host,
        port=args.port,
        workers=args.workers,
        policy_port=None if args.no_policy_server else args.policy_port,
        bus=args.bus,
        drain_timeout=args.drain_timeout,
        log_level=args.log_level,
        stats_file=args.stats_file,
    )
    try:
        return asyncio.run(Supervisor(options).run())
    except OSError as exc:
        print(f"tornio: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
