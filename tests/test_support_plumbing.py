"""The test plumbing itself: the shared async ``eventually()``, the check that fails a test on a
server error that was only logged (``tests/conftest.py``, ``tests/support/server_errors.py``),
and the rules that keep helpers in one place: no test file imports from another, and the
shared helpers have no copies outside ``tests/support/``."""

from __future__ import annotations

import ast
import asyncio
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tornado.simple_httpclient import HTTPStreamClosedError

from tests.support.server_errors import Expected, client_noise, sort_out
from tests.support.waiting import eventually

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

# -- eventually ------------------------------------------------------------------------------


async def test_eventually_returns_the_first_truthy_value_while_the_loop_runs() -> None:
    state = {"n": 0}

    async def count() -> None:
        for _ in range(3):
            await asyncio.sleep(0)
            state["n"] += 1

    task = asyncio.ensure_future(count())
    assert await eventually(lambda: state["n"] >= 3 and state["n"]) == 3
    await task


async def test_eventually_awaits_an_async_predicate() -> None:
    calls: list[int] = []

    async def third_time() -> str | None:
        calls.append(1)
        return "ok" if len(calls) == 3 else None

    assert await eventually(third_time, interval=0) == "ok"
    assert len(calls) == 3


async def test_eventually_fails_with_its_message_and_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.05 s waiting for the moon "
                                             r"\(last value: \[\]\)"):
        await eventually(lambda: [], 0.05, message="the moon")


async def test_eventually_lets_a_predicates_exception_through_at_once() -> None:
    def broken() -> bool:
        raise KeyError("nope")

    with pytest.raises(KeyError):
        await eventually(broken, 10)


# -- server errors ---------------------------------------------------------------------------


def record(name: str, message: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, (), exc_info)


def test_a_declared_error_covers_its_logger_and_children_and_its_pattern_only() -> None:
    expected = Expected("tornio.core", r"failed in on_\w+")
    assert expected.matches(record("tornio.core", "failed in on_boom"))
    assert expected.matches(record("tornio.core.socket", "x: failed in on_boom"))
    assert not expected.matches(record("tornio.corex", "failed in on_boom"))
    assert not expected.matches(record("tornio", "failed in on_boom"))
    assert not expected.matches(record("tornio.core", "failed in recv_connect"))
    # the exception's type and text count as the message's
    assert Expected("asyncio", "ZeroDivisionError").matches(
        record("asyncio", "Task exception was never retrieved", ZeroDivisionError("x"))
    )


def test_sort_out_is_exact_both_ways() -> None:
    boom = record("tornio.core.socket", "failed in on_boom")
    other = record("tornado.application", "Uncaught exception GET /")
    declared = Expected("tornio.core", "on_boom")
    stale = Expected("tornio.bus", "never logged")
    assert sort_out([boom, other], [declared]) == ([other], [])
    assert sort_out([boom], [declared, stale]) == ([], [stale])
    assert sort_out([], []) == ([], [])


def test_only_the_http_clients_own_noise_is_let_through() -> None:
    assert client_noise(record("asyncio", "x", HTTPStreamClosedError("Stream is closed")))
    assert not client_noise(record("asyncio", "x", ConnectionResetError("server side")))
    assert not client_noise(record("tornado.application", "x", ValueError("x")))
    assert not client_noise(record("tornado.application", "no exception"))
    cancelled = record("tornado.application", "Exception after Future was cancelled",
                       ConnectionResetError("reset"))
    assert client_noise(cancelled)
    assert not client_noise(record("tornado.application", "Exception after Future was "
                                   "cancelled", ValueError("not a connection error")))


PROBE = '''
import logging

import pytest

log = logging.getLogger("tornio.probe")


def test_undeclared() -> None:
    log.error("it broke")


@pytest.mark.server_errors(("tornio.probe", "it broke"))
def test_declared() -> None:
    log.error("it broke, as the test meant")


@pytest.mark.server_errors(("tornio.probe", "it broke"))
def test_declared_but_never_logged() -> None:
    pass


def test_a_warning_is_no_error() -> None:
    log.warning("careful")


def test_an_error_in_a_thread() -> None:
    import threading

    thread = threading.Thread(target=lambda: log.error("from a server thread"))
    thread.start()
    thread.join()
'''


def test_the_suite_fails_a_test_on_an_error_it_did_not_declare(tmp_path: Path) -> None:
    """The conftest's check, as pytest runs it (a pytest of its own, with tests/conftest.py
    as a plugin): each outcome below is the check's doing."""
    (tmp_path / "test_probe.py").write_text(textwrap.dedent(PROBE))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "-rA", "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120,
    )
    outcomes: dict[str, set[str]] = {}
    for outcome, name in re.findall(r"^(PASSED|FAILED|ERROR) \S+::(\w+)", run.stdout, re.M):
        outcomes.setdefault(name, set()).add(outcome)
    # The check runs at teardown (so that what a server logs while it stops counts too): a
    # test it fails passed its call and errs at teardown, which fails the run.
    failed = {"PASSED", "ERROR"}
    assert outcomes == {
        "test_undeclared": failed,
        "test_declared": {"PASSED"},
        "test_declared_but_never_logged": failed,
        "test_a_warning_is_no_error": {"PASSED"},
        "test_an_error_in_a_thread": failed,
    }, run.stdout + run.stderr
    assert run.returncode == 1
    assert "logged on tornio.probe: it broke" in run.stdout
    assert "declared but never logged: tornio.probe 'it broke'" in run.stdout


# -- one copy of each helper -----------------------------------------------------------------


def _test_files() -> list[Path]:
    return sorted(TESTS.glob("test_*.py"))


def test_no_test_file_imports_from_another() -> None:
    offenders = []
    for path in _test_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("tests.test_")]
    assert offenders == [], "move what they share into tests/support/"


SHARED = {
    "free_port": "tests/support/ports.py",
    "free_port_pair": "tests/support/ports.py",
    "eventually": "tests/support/waiting.py",
    "wait_for": "tests/support/waiting.py",
    "RecordingNode": "tests/support/zmq_nodes.py",
    "broker": "tests/support/zmq_nodes.py",
    "workdir": "tests/conftest.py",
}


def test_the_shared_helpers_have_no_copies() -> None:
    copies = []
    for path in [*_test_files(), *sorted((TESTS / "support").glob("*.py")), TESTS / "conftest.py"]:
        where = str(path.relative_to(ROOT))
        for node in ast.parse(path.read_text()).body:
            name = getattr(node, "name", None)
            if name in SHARED and SHARED[name] != where:
                copies.append(f"{where}: {name} (the one copy is {SHARED[name]})")
    assert copies == []
