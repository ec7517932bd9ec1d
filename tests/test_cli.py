"""The ``tornio`` command and start-up: its options and their bounds, the application checked
before any worker starts (one line on stderr, exit status 2), and a start-up and shutdown
that log what matters and nothing else (a taken Flash policy port is one WARNING; Ctrl-C
logs no restarts and no warnings)."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.serve_cluster import ROOT, ClusterProcess, tornio_command
from tests.support.waiting import wait_for
from tornio import BaseNamespace, Router
from workers import cli

pytestmark = pytest.mark.timeout(60)


def run_tornio(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``tornio ARGS`` to its end (these commands must end by themselves, promptly)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(cwd)])}
    return subprocess.run(
        [*tornio_command(), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=20, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal's single stderr line, after checking how it was refused."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- options ------------------------------------------------------------------------------------


def test_version_comes_from_the_package() -> None:
    result = run_tornio("--version")
    assert result.returncode == 0
    assert result.stdout == f"tornio {cli.version()}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", cli.version())


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--port", "99999", "argument --port: must be 0-65535, not 99999"),
        ("--port", "-1", "argument --port: must be 0-65535, not -1"),
        ("--port", "http", "argument --port: not a whole number: 'http'"),
        ("--policy-port", "65536", "argument --policy-port: must be 0-65535, not 65536"),
        ("--metrics-port", "0", "argument --metrics-port: must be 1-65535, not 0"),
        ("--workers", "0", "argument --workers: must be at least 1, not 0"),
        ("--drain-timeout", "0", "argument --drain-timeout: must be a positive number"),
        ("--drain-timeout", "nan", "argument --drain-timeout: must be a positive number"),
        ("--bus-heartbeat", "-2", "argument --bus-heartbeat: must be a positive number"),
        ("--bus-node-timeout", "inf", "argument --bus-node-timeout: must be a positive number"),
        ("--host", "", "argument --host: must not be empty"),
        ("--bus", "tcp://127.0.0.1:70000", "argument --bus: a broker address's port is 1-65534"),
        ("--bus", "127.0.0.1:5555", "argument --bus: a broker address is tcp://HOST:PORT or"),
        ("--bus", "tcp://127.0.0.1:5560,tcp://127.0.0.1:5560",
         "argument --bus: a broker address given twice in"),
        ("--bus", "tcp://127.0.0.1:5560,", "argument --bus: an empty broker address in"),
        ("--bus", "tcp://127.0.0.1:5560,tcp://127.0.0.1:70000",
         "argument --bus: a broker address's port is 1-65534"),
        ("--advertise", "127.0.0.1", "argument --advertise: expected HOST:PORT with PORT 1-"),
    ],
)
def test_an_option_out_of_range_is_refused_in_one_line(
    option: str, value: str, expected: str
) -> None:
    result = run_tornio("serve", "tests.apps.echo:router", option, value)
    line = one_line_error(result)
    assert line.startswith(f"tornio serve: error: {expected}"), line
    assert line.endswith("(see tornio serve --help)")


def test_a_broker_address_out_of_range_is_refused_in_one_line() -> None:
    line = one_line_error(run_tornio("broker", "--bind", "tcp://127.0.0.1:99999"))
    assert line.startswith("tornio broker: error: argument --bind: a broker address's port is "
                           "1-65534 (subscribers use PORT+1)"), line


def subcommands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    parser = cli.build_parser()
    yield "tornio", parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


@pytest.mark.parametrize("name", [name for name, _ in subcommands()])
def test_every_option_has_help_and_shows_its_default(name: str) -> None:
    parser = dict(subcommands())[name]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, f"{name} {action.option_strings or action.dest}: no help text"
        shown = " ".join(parser._get_formatter()._format_action(action).split())
        if action.default not in (None, False, argparse.SUPPRESS):
            default = str(action.default)
            assert f"default: {default}" in shown or f"{default} here" in shown, shown


def test_the_start_up_line_tells_the_extras_that_would_speed_it_up() -> None:
    assert cli.runtime_line("asyncio", "auto", "tornado", "auto") == (
        "event loop: asyncio (pip install 'tornio[speed]' for uvloop); "
        "HTTP: tornado (httptools not installed: pip install 'tornio[speed]')"
    )
    assert cli.runtime_line("uvloop", "auto", "fast", "auto") == (
        "event loop: uvloop; HTTP: fast (httptools)"
    )
    assert cli.runtime_line("asyncio", "asyncio", "tornado", "tornado") == (
        "event loop: asyncio (--loop asyncio); HTTP: tornado (--http tornado)"
    )


# -- the application, checked before any worker starts ------------------------------------------

APP = """\
from tornio import BaseNamespace, Router


class Chat(BaseNamespace):
    def on_hello(self, name):
        return name


namespaces = {"/chat": Chat}
no_slash = {"chat": Chat}
not_a_namespace = {"/chat": dict}
an_instance = {"/chat": object()}


def make_router():
    return Router({"/chat": Chat})
"""


@pytest.mark.parametrize(
    ("files", "target", "expected"),
    [
        ({}, "app.py:namespaces", r"give a module name: app:namespaces$"),
        (
            {"broken.py": "import os\n\ndef handler(:\n    pass\n"},
            "broken:namespaces",
            r"^tornio: importing 'broken' failed at .*broken\.py, line 3: SyntaxError: ",
        ),
        (
            {"needy.py": "import os\nimport no_such_dependency_x\n"},
            "needy:namespaces",
            r"^tornio: importing 'needy' failed at .*needy\.py, line 2: ModuleNotFoundError: "
            r"No module named 'no_such_dependency_x'$",
        ),
        (
            {"routed.py": "from app import Chat\nfrom tornio import Router\n\n"
                          "router = Router({'chat': Chat})\n"},
            "routed:router",
            r"^tornio: importing 'routed' failed at .*routed\.py, line 4: ValueError: "
            r"namespace 'chat' does not start with '/'",
        ),
        ({}, "app:namespace", r"^tornio: 'app' has no 'namespace'; it has .*namespaces"),
        ({}, "app:no_slash", r"namespace 'chat' does not start with '/': no client can reach "
                             r"it \(write '/chat'\)$"),
        ({}, "app:not_a_namespace", r"namespace '/chat' is served by the class dict: give a "
                                    r"subclass of tornio.BaseNamespace"),
        ({}, "app:an_instance", r"namespace '/chat' is served by an instance of object"),
        ({}, "app:Chat", r"^tornio: app:Chat is the class Chat, not a Router or namespaces dict"),
    ],
)
def test_a_bad_application_is_refused_in_one_line(
    tmp_path: Path, files: dict[str, str], target: str, expected: str
) -> None:
    (tmp_path / "app.py").write_text(APP)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    line = one_line_error(run_tornio("serve", target, "--port", "0", cwd=tmp_path))
    assert re.search(expected, line), line
    assert "importlib" not in line


class Chat(BaseNamespace):
    pass


def test_the_router_checks_its_namespaces_when_it_is_built() -> None:
    dynamic = re.compile(r"^/room-\d+$")
    router = Router({"": Chat, "/chat": Chat, dynamic: Chat, lambda name, auth: True: Chat})
    assert set(router.manager.namespaces) >= {"", "/chat", dynamic}
    assert list(Router({"/": Chat}).manager.namespaces) == [""]  # v5's name for the default
    with pytest.raises(ValueError, match="'chat' does not start with '/'"):
        Router({"chat": Chat})
    with pytest.raises(TypeError, match="served by an instance of Chat"):
        Router({"/chat": Chat.__new__(Chat)})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="served by the class int"):
        Router({"/chat": int})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="longer than max_namespace_name"):
        Router({"/" + "x" * 20: Chat}, max_namespace_name=20)
    Router({"/" + "x" * 19: Chat}, max_namespace_name=20)
    with pytest.raises(TypeError, match="wsgi_app must be a WSGI callable, not str"):
        Router({"/chat": Chat}, wsgi_app="myproject.wsgi:application")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wsgi_threads must be a whole number >= 1, not 0"):
        Router({"/chat": Chat}, wsgi_threads=0)


# -- start-up and shutdown logs -----------------------------------------------------------------


def records(log: str, *levels: str) -> list[str]:
    return [line for line in log.splitlines() if any(f" {level} " in line for level in levels)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[ClusterProcess]]:
    started: list[ClusterProcess] = []
    yield started
    for process in started:
        process.kill()


def test_a_taken_policy_port_is_one_warning_and_no_restart(
    tmp_path: Path, cluster: list[ClusterProcess]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = ClusterProcess("tests.apps.echo:router", tmp_path, workers=1, policy_port=port)
        cluster.append(serve.start())
        warning = wait_for(lambda: records(serve.log_text(), "WARNING"), 20, message="warning")
        assert len(warning) == 1, serve.tail()
        assert (
            f"WARNING tornio.policy: Flash policy port {port} in use: flashsocket clients "
            "(Flash) cannot connect, the other transports are served; --policy-port to change"
        ) in warning[0]
        assert not [c for c in serve.children().values() if "tornio.policy" in c]
        assert serve.interrupt(20) == 0
    log = serve.log_text()
    assert records(log, "WARNING", "ERROR", "CRITICAL") == warning, serve.tail()
    assert "restarting" not in log


def test_ctrl_c_stops_cleanly_without_warnings(
    tmp_path: Path, cluster: list[ClusterProcess]
) -> None:
    policy_port = free_port()
    serve = ClusterProcess(
        "tests.apps.echo:router", tmp_path, workers=2, policy_port=policy_port
    )
    cluster.append(serve.start())
    wait_for(lambda: _listening(policy_port), 20, message="the policy server listening")
    log = serve.log_text()
    assert re.search(r"INFO tornio.cli: event loop: \w+.*; HTTP: \w+", log), serve.tail()
    assert serve.interrupt(20) == 0
    log = serve.log_text()
    assert "tornio stopped" in log
    assert records(log, "WARNING", "ERROR", "CRITICAL") == [], serve.tail()
    assert "Traceback" not in log


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
