"""``manage.py runserver_socketio [addr:port] [--workers N]``: the project and Socket.IO on one
port, with tornio's supervisor and worker processes.

It runs ``tornio serve tornio.contrib.django.serve:router`` in this process (the supervisor),
with ``DJANGO_SETTINGS_MODULE`` and the project's directory in the environment of the workers,
each of which sets Django up after it started. Socket.IO is served under ``/socket.io``
(``settings.TORNIO['resource']`` changes it); every other path goes to the project's WSGI
application, on a thread pool in each worker. Static files are served as ``runserver`` serves
them (with ``DEBUG``, or ``--insecure``; never with ``--nostatic``). There is no autoreloader:
restart it after editing code.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands.runserver import naiveip_re

from tornio.contrib.django.serve import STATIC_ENV

TARGET = "tornio.contrib.django.serve:router"
DEFAULT_ADDR = "127.0.0.1"
DEFAULT_PORT = 8000


def runtime_cli() -> ModuleType:
    """``tornio serve``'s module: ``tornio.workers.cli`` where tornio is installed from its
    wheel, ``workers.cli`` in a checkout (where ``workers/`` is a package of its own)."""
    try:
        return importlib.import_module("tornio.workers.cli")
    except ModuleNotFoundError as error:
        if error.name not in ("tornio.workers", "tornio.workers.cli"):
            raise
    return importlib.import_module("workers.cli")


def project_path() -> str | None:
    """The directory the settings module's top-level package is in."""
    top = str(settings.SETTINGS_MODULE or "").partition(".")[0]
    spec = importlib.util.find_spec(top) if top else None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return str(Path(next(iter(spec.submodule_search_locations))).resolve().parent)
    return str(Path(spec.origin).resolve().parent) if spec.origin else None


class Command(BaseCommand):
    help = (
        "Serves the project and Socket.IO (tornio) on one port, with a supervisor and N worker "
        "processes joined by a ZeroMQ bus."
    )
    requires_migrations_checks = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "addrport",
            nargs="?",
            help=f"port or address:port (default {DEFAULT_ADDR}:{DEFAULT_PORT})",
        )
        parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        parser.add_argument(
            "--nostatic",
            action="store_false",
            dest="use_static_handler",
            help="do not serve static files",
        )
        parser.add_argument(
            "--insecure",
            action="store_true",
            dest="insecure_serving",
            help="serve static files even with DEBUG off",
        )
        parser.add_argument(
            "--policy-port",
            type=int,
            default=None,
            help="also run the Flash policy server on this port (off by default)",
        )
        parser.add_argument(
            "--bus",
            metavar="ADDRESS",
            help="join the `tornio broker` at ADDRESS (tcp://HOST:PORT) instead of running one",
        )
        parser.add_argument(
            "--log-level", default="info", choices=["debug", "info", "warning", "error"]
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not settings.ALLOWED_HOSTS:
            raise CommandError("You must set settings.ALLOWED_HOSTS if DEBUG is False.")
        addr, port = self.parse_addrport(options["addrport"])
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")

        if not options["use_static_handler"]:
            os.environ[STATIC_ENV] = "0"
        elif options["insecure_serving"]:
            os.environ[STATIC_ENV] = "1"
        paths = [p for p in (options.get("pythonpath"), project_path()) if p]
        if os.environ.get("PYTHONPATH"):
            paths.append(os.environ["PYTHONPATH"])
        os.environ["PYTHONPATH"] = os.pathsep.join(paths)
        os.environ["DJANGO_SETTINGS_MODULE"] = str(settings.SETTINGS_MODULE)

        cli = runtime_cli()
        argv = [
            "serve",
            TARGET,
            "--host",
            addr,
            "--port",
            str(port),
            "--workers",
            str(options["workers"]),
            "--log-level",
            options["log_level"],
        ]
        if options["bus"]:
            argv += ["--bus", options["bus"]]
        if options["policy_port"] is None:
            argv.append("--no-policy-server")
        else:
            argv += ["--policy-port", str(options["policy_port"])]
        self.stdout.write(
            f"Starting tornio (Socket.IO and Django) at http://{addr}:{port}/ with "
            f"{options['workers']} worker(s)\nQuit the server with CONTROL-C."
        )
        code = cli.main(argv)
        if code:
            raise CommandError(f"tornio serve exited with {code}", returncode=code)

    @staticmethod
    def parse_addrport(addrport: str | None) -> tuple[str, int]:
        if not addrport:
            return DEFAULT_ADDR, DEFAULT_PORT
        match = re.match(naiveip_re, addrport)
        if match is None:
            raise CommandError(f'"{addrport}" is not a valid port number or address:port pair.')
        addr, _ipv4, ipv6, _fqdn, port = match.groups()
        if ipv6:
            addr = addr[1:-1]
        return addr or DEFAULT_ADDR, int(port)
