"""The ``tornio`` command.

tornio serve MODULE:OBJECT [--workers N] [--host H] [--port P] [--policy-port Q]
             [--loop auto|asyncio|uvloop] [--http auto|fast|tornado]
             [--bus tcp://BROKER:PORT[,tcp://BROKER2:PORT...] [--curve-dir DIR]]
             [--trusted-proxies LIST]
             [--origins LIST]
             [--metrics-port M]
             [--admin USER:BCRYPT_HASH [--admin-readonly] [--admin-mode MODE] ...]
tornio broker --bind tcp://ADDRESS:PORT [--curve-dir DIR | --insecure]
tornio keys DIR [--client NAME ...]
tornio --version

Every option is checked by argparse (ports in range, timeouts positive...) and the
application (``MODULE:OBJECT``) is loaded and checked once, here, before any worker starts:
a bad command line or application is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from tornio import fastpath
from tornio.admin import AdminOptions, parse_credentials
from tornio.bus import broker, security
from tornio.bus.addresses import broker_addresses, bus_addresses
from tornio.policy import PolicySupervisor
from tornio.settings import parse_origins, parse_trusted_proxies
from tornio.transports import relay

from . import loops
from .loading import TargetError, load_router
from .supervisor import Supervisor, SupervisorOptions

__all__ = ["build_parser", "main", "runtime_line", "version"]

log = logging.getLogger("tornio.cli")

LOG_LEVELS = ["debug", "info", "warning", "error"]


def version() -> str:
    """tornio's version: the installed distribution's, else the package's constant."""
    try:
        return importlib.metadata.version("tornio")
    except importlib.metadata.PackageNotFoundError:
        import tornio

        return tornio.__version__


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad command line told in one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help, unless the help tells it already or there is
    none to tell (no value, an off switch)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if "default" in help_text or action.default in (None, False, argparse.SUPPRESS):
            return help_text
        return super()._get_help_string(action)


def _int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (no upper bound: None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"{low}-{high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its "invalid int value" errors
    return parse


def _seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _broker_address(text: str) -> str:
    """An argparse type: a bus broker's address (tcp://HOST:PORT or ipc://PATH)."""
    try:
        broker_addresses(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _bus_addresses(text: str) -> str:
    """An argparse type: one or several brokers' addresses, separated by commas."""
    try:
        bus_addresses(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _host_port(text: str) -> str:
    """An argparse type: HOST:PORT ([V6]:PORT), PORT 1-65535."""
    if relay.parse_address(text) is None:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with PORT 1-65535, not {text!r}")
    return text


PORT = _int_range(0, 65535)  # 0: any free port
FIXED_PORT = _int_range(1, 65535)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tornio",
        description="A Socket.IO server on Tornado: Socket.IO 0.9 and v5 (Engine.IO v4) "
        "clients, one namespace API, many processes.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        formatter_class=_HelpFormatter,
        help="serve a namespaces dict or a tornio.Router with N worker processes",
        description="Bind the port, start N Tornado workers joined by a ZeroMQ bus, a bus "
        "broker and the Flash policy server, and keep them all running.",
    )
    serve.add_argument(
        "target",
        metavar="MODULE:OBJECT",
        help="a namespaces dict, a Router, or a callable returning one",
    )
    serve.add_argument("--host", default="127.0.0.1", type=_nonempty, help="address to bind")
    serve.add_argument(
        "--port", type=PORT, default=8000, help="port to bind, 0-65535 (0: any free port)"
    )
    serve.add_argument(
        "--workers",
        type=_int_range(1),
        metavar="N",
        default=os.cpu_count() or 1,
        help="worker processes, at least 1 (default: the number of cores, %(default)s here)",
    )
    serve.add_argument(
        "--policy-port",
        type=PORT,
        metavar="PORT",
        default=10843,
        help="Flash policy server port (843 needs root): a process of its own, restarted if "
        "it dies, run when flashsocket is among the served transports; when the port is "
        "taken, tornio serves without it (flashsocket clients fall back to other transports)",
    )
    serve.add_argument(
        "--no-policy-server", action="store_true", help="do not run the Flash policy server"
    )
    serve.add_argument(
        "--bus",
        metavar="ADDRESS",
        type=_bus_addresses,
        help="join the broker at ADDRESS (tcp://HOST:PORT) instead of running "
        "one: how several hosts form one cluster (see `tornio broker`); several brokers "
        "separated by commas (tcp://a:5560,tcp://b:5560): every message goes through each, "
        "and the cluster carries on while one lives",
    )
    serve.add_argument(
        "--drain-timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="seconds clients get to be told to reconnect on shutdown",
    )
    serve.add_argument(
        "--stats-file",
        metavar="FILE",
        help="keep a JSON file of workers, sessions and forwarded requests up to date",
    )
    serve.add_argument(
        "--curve-dir",
        metavar="DIR",
        help="with --bus: CURVE keys (NAME.key_secret and broker.key in DIR; see `tornio "
        "keys`). Default: $TORNIO_CURVE_DIR, else $TORNIO_CURVE_SECRET_KEY and "
        "$TORNIO_CURVE_SERVER_KEY if set",
    )
    serve.add_argument(
        "--curve-name", default="node", type=_nonempty, metavar="NAME",
        help="the client key pair in --curve-dir",
    )
    serve.add_argument(
        "--bus-heartbeat",
        type=_seconds,
        metavar="SECONDS",
        help="seconds between a worker's bus heartbeats (default 2)",
    )
    serve.add_argument(
        "--bus-node-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="seconds after which a silent node leaves the node table (default 5)",
    )
    serve.add_argument(
        "--advertise",
        metavar="HOST:PORT",
        type=_host_port,
        help="where other hosts reach this one's port: they relay websockets for this host's "
        "sessions there (default: --host:--port, or this host's name's address when --host "
        "is 0.0.0.0)",
    )
    serve.add_argument(
        "--loop",
        default="auto",
        choices=loops.LOOPS,
        help="the event loop of every process: auto (uvloop when installed, "
        "pip install 'tornio[speed]', unless the application called gevent's "
        "monkey.patch_all()), asyncio or uvloop",
    )
    serve.add_argument(
        "--http",
        default="auto",
        choices=["auto", "fast", "tornado"],
        help="how the Socket.IO polling routes are served: fast (parsed by httptools, "
        "without Tornado's per-request handler machinery; everything else still goes to "
        "Tornado), tornado, or auto (fast when httptools is installed, "
        "pip install 'tornio[speed]')",
    )
    serve.add_argument(
        "--trusted-proxies",
        metavar="LIST",
        help="proxies whose X-Forwarded-For, X-Real-Ip and X-Forwarded-Proto headers are "
        "believed: comma-separated addresses and CIDR networks, or '*' for every peer "
        "(default: the application's trusted_proxies setting, none unless it names some: "
        "a request's remote_ip is the address that connected)",
    )
    serve.add_argument(
        "--header-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="close a connection that has not sent a whole request head within SECONDS "
        "(default: the application's header_timeout setting, 20)",
    )
    serve.add_argument(
        "--origins",
        metavar="LIST",
        help="browser origins allowed to connect besides the server's own (which is always "
        "allowed, as are clients that send no Origin): comma-separated full origins "
        "('https://app.example.com,http://localhost:3000', answered with credentialed CORS), "
        "node 0.9's 'host:port' or 'host:*', or '*' for any origin (answered "
        "Access-Control-Allow-Origin: * without credentials). Default: the application's "
        "origins setting, the same origin only unless it names some",
    )
    serve.add_argument(
        "--metrics-port",
        type=FIXED_PORT,
        metavar="PORT",
        help="serve /metrics (Prometheus, every worker's), /health and /ready on PORT, from "
        "the supervisor, 1-65535 (needs prometheus_client: pip install 'tornio[metrics]')",
    )
    serve.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        type=_nonempty,
        metavar="HOST",
        help="address of --metrics-port",
    )
    serve.add_argument(
        "--admin",
        metavar="USER:BCRYPT_HASH",
        help="serve the Socket.IO Admin UI's /admin namespace on every worker, for USER with "
        "that bcrypt password hash (needs bcrypt: pip install 'tornio[admin]')",
    )
    serve.add_argument(
        "--admin-no-auth", action="store_true", help="the Admin UI without a password"
    )
    serve.add_argument(
        "--admin-readonly", action="store_true", help="the Admin UI may look but not act"
    )
    serve.add_argument(
        "--admin-mode", choices=["development", "production"], default="development",
        help="development: every socket, room and event is shown; production: "
        "server stats only",
    )
    serve.add_argument(
        "--admin-ui-path", default="/admin/", metavar="PATH",
        help="URL path of the Admin UI's page ('none': not served)",
    )
    serve.add_argument(
        "--admin-ui-package", metavar="DIR",
        help="the @socket.io/admin-ui npm package (default ./node_modules/@socket.io/admin-ui)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=LOG_LEVELS,
        help="the least severe log records every process writes to stderr",
    )
    run_broker = sub.add_parser(
        "broker",
        formatter_class=_HelpFormatter,
        help="run a standalone bus broker",
        description="A bus broker that several `tornio serve --bus` "
        "instances (on several hosts) join. Run two or more, on different hosts, for a "
        "cluster with no single point of failure: they need not know each other; give "
        "every node and Emitter all of them (--bus tcp://a:5560,tcp://b:5560) and the same "
        "CURVE broker key pair to each broker.",
    )
    run_broker.add_argument(
        "--bind",
        required=True,
        type=_broker_address,
        metavar="ADDRESS",
        help="tcp://HOST:PORT: publishers at PORT, subscribers at PORT+1",
    )
    run_broker.add_argument(
        "--curve-dir",
        metavar="DIR",
        help="CURVE keys: broker.key_secret and authorized/*.key in DIR (see `tornio keys`). "
        "Default: $TORNIO_CURVE_DIR, else $TORNIO_CURVE_SECRET_KEY and "
        "$TORNIO_CURVE_AUTHORIZED if set",
    )
    run_broker.add_argument(
        "--insecure",
        action="store_true",
        help="allow an address that is not loopback without CURVE (a trusted network only)",
    )
    run_broker.add_argument(
        "--log-level",
        default="info",
        choices=LOG_LEVELS,
        help="the least severe log records the broker writes to stderr",
    )
    keys = sub.add_parser(
        "keys",
        formatter_class=_HelpFormatter,
        help="create CURVE key files for a cluster",
        description="Create the broker's key pair and client key pairs in DIR, and authorize "
        "the clients (DIR/authorized/).",
    )
    keys.add_argument(
        "directory", metavar="DIR", help="where to write the key files (created if missing)"
    )
    keys.add_argument(
        "--client",
        action="append",
        metavar="NAME",
        help="a client key pair to create (repeatable; default: node and emitter)",
    )
    return parser


def runtime_line(loop: str, asked_loop: str, http: str, asked_http: str) -> str:
    """The start-up line saying which event loop and HTTP path run, why, and what would
    make them faster: ``event loop: asyncio (pip install 'tornio[speed]' for uvloop);
    HTTP: tornado (httptools not installed)``."""
    if loop == "uvloop":
        loop_text = "uvloop"
    elif asked_loop == "asyncio":
        loop_text = "asyncio (--loop asyncio)"
    elif loops.gevent_patched():
        loop_text = "asyncio (the application called gevent's monkey.patch_all(): no uvloop)"
    else:
        loop_text = "asyncio (pip install 'tornio[speed]' for uvloop)"
    if http == "fast":
        http_text = "fast (httptools)"
    elif asked_http == "tornado":
        http_text = "tornado (--http tornado)"
    else:
        http_text = "tornado (httptools not installed: pip install 'tornio[speed]')"
    return f"event loop: {loop_text}; HTTP: {http_text}"


def _run_broker(args: argparse.Namespace) -> int:
    argv = ["--bind", args.bind, "--log-level", args.log_level.upper()]
    if args.insecure:
        argv.append("--insecure")
    curve_dir = args.curve_dir or os.environ.get(security.ENV_DIR)
    if curve_dir:
        return broker.main([*argv, "--curve-dir", curve_dir])
    try:
        curve = security.server_from_env()
    except security.CurveError as exc:
        print(f"tornio: {exc}", file=sys.stderr)
        return 2
    return broker.main(argv, curve=curve)


def _make_keys(args: argparse.Namespace) -> int:
    clients = args.client or list(security.DEFAULT_CLIENTS)
    try:
        root = security.create_keys(args.directory, clients)
    except (security.CurveError, OSError) as exc:
        print(f"tornio: {exc}", file=sys.stderr)
        return 1
    print(f"CURVE keys in {root}:")
    print(f"  broker host:  {root}/broker.key_secret and {root}/authorized/")
    for name in clients:
        print(f"  {name} hosts: {root}/broker.key and {root}/{name}.key_secret")
    print("Keep every *.key_secret file private (each is mode 600).")
    return 0


def _curve_worker_args(args: argparse.Namespace) -> list[str]:
    """The workers' CURVE flags for ``tornio serve`` (checked here, once).

    Raises:
        security.CurveError: keys that do not load, or --curve-dir without --bus.
    """
    if args.bus is None:
        if args.curve_dir:
            raise security.CurveError(
                "--curve-dir needs --bus: without it the bus is local (an ipc socket in a "
                "private directory)"
            )
        return []
    curve_dir = args.curve_dir or os.environ.get(security.ENV_DIR)
    if curve_dir:
        security.load_client(curve_dir, args.curve_name)
        return ["--curve-dir", os.path.abspath(curve_dir), "--curve-name", args.curve_name]
    if security.client_from_env() is not None:
        return ["--curve-env"]
    if not all(security.is_local_address(a) for a in args.bus.split(",")):
        log.warning(
            "joining the bus at %s without CURVE: anyone who reaches the broker can read and "
            "inject messages (see --curve-dir)",
            args.bus,
        )
    return []


def _admin_config(args: argparse.Namespace) -> dict[str, Any] | None:
    """The Admin UI's settings from the flags (None: no --admin).

    Raises:
        ValueError, TypeError: bad flags.
    """
    if args.admin is None and not args.admin_no_auth:
        return None
    if args.admin is not None and args.admin_no_auth:
        raise ValueError("--admin and --admin-no-auth: choose one")
    config: dict[str, Any] = {
        "auth": False if args.admin_no_auth else parse_credentials(args.admin),
        "readonly": args.admin_readonly,
        "mode": args.admin_mode,
        "ui_path": None if args.admin_ui_path == "none" else args.admin_ui_path,
    }
    if args.admin_ui_package:
        config["ui_package"] = os.path.abspath(args.admin_ui_package)
    AdminOptions.from_config(config)  # checked here, once, rather than in every worker
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "broker":
        return _run_broker(args)
    if args.command == "keys":
        return _make_keys(args)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        router = load_router(args.target)  # fail here, once, rather than in every worker
    except TargetError as exc:
        print(f"tornio: {exc}", file=sys.stderr)
        return 2
    trusted_proxies = None
    if args.trusted_proxies is not None:
        try:
            trusted_proxies = ",".join(parse_trusted_proxies(args.trusted_proxies))
        except ValueError as exc:
            print(f"tornio: --trusted-proxies: {exc}", file=sys.stderr)
            return 2
    header_timeout = router.settings.header_timeout
    if args.header_timeout is not None:
        header_timeout = args.header_timeout
    origins = None
    if args.origins is not None:
        try:
            origins = ",".join(parse_origins(args.origins))
        except ValueError as exc:
            print(f"tornio: --origins: {exc}", file=sys.stderr)
            return 2
    try:
        worker_args = _curve_worker_args(args)
    except security.CurveError as exc:
        print(f"tornio: {exc}", file=sys.stderr)
        return 2
    try:
        loop = loops.resolve(args.loop)
    except loops.LoopError as exc:
        print(f"tornio: {exc}", file=sys.stderr)
        return 2
    worker_args += ["--loop", loop]
    try:
        admin = _admin_config(args)
    except (ValueError, TypeError) as exc:
        print(f"tornio: {exc}", file=sys.stderr)
        return 2
    if admin is not None and router.admin is not None:
        print("tornio: the application turns the Admin UI on itself: drop --admin",
              file=sys.stderr)
        return 2
    if args.metrics_port is not None:
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            print("tornio: --metrics-port needs prometheus_client: pip install "
                  "'tornio[metrics]'", file=sys.stderr)
            return 2
    try:
        http_mode = fastpath.resolve_mode(args.http)
    except ValueError as exc:
        print(f"tornio: {exc}", file=sys.stderr)
        return 2
    log.info("%s", runtime_line(loop, args.loop, http_mode, args.http))
    if args.bus_heartbeat is not None:
        worker_args += ["--heartbeat-interval", str(args.bus_heartbeat)]
    if args.bus_node_timeout is not None:
        worker_args += ["--node-timeout", str(args.bus_node_timeout)]
    options = SupervisorOptions(
        target=args.target,
        host=args.host,
        port=args.port,
        workers=args.workers,
        policy_port=None,  # run below, with the application's host and origins
        bus=args.bus,
        drain_timeout=args.drain_timeout,
        log_level=args.log_level,
        stats_file=args.stats_file,
        worker_args=worker_args,
        advertise=args.advertise,
        http=http_mode,
        extra_env={"TORNIO_ADMIN": json.dumps(admin)} if admin is not None else {},
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        recovery=(
            router.settings.max_disconnection_duration
            if router.settings.connection_state_recovery
            else None
        ),
        trusted_proxies=trusted_proxies,
        header_timeout=header_timeout,
        origins=origins,
    )
    policy: PolicySupervisor | None = None
    settings = router.settings
    if not args.no_policy_server and "flashsocket" in settings.transports:
        policy = PolicySupervisor(
            port=args.policy_port,
            host=args.host,
            origins=settings.origins if origins is None else parse_origins(origins),
            port_option="--policy-port",
        ).start()
    try:
        return loops.run(Supervisor(options).run(), loop)
    except OSError as exc:
        print(f"tornio: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    finally:
        if policy is not None:
            policy.stop()


if __name__ == "__main__":
    sys.exit(main())
