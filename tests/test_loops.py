"""``tornio serve --loop``: every process runs on the event loop asked for (uvloop or
asyncio's), ``auto`` takes uvloop when installed, and a loop that cannot run is refused
before anything starts."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from tests.support.serve_cluster import ROOT, ClusterProcess, tornio_command
from workers import cli, loops

pytestmark = pytest.mark.timeout(60)


def test_resolve_names_the_loop_each_choice_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert loops.resolve("asyncio") == "asyncio"
    assert loops.resolve("uvloop") == "uvloop"  # the test extra installs it
    assert loops.resolve("auto") == "uvloop"
    monkeypatch.setattr(loops, "uvloop_installed", lambda: False)
    assert loops.resolve("auto") == "asyncio"
    with pytest.raises(loops.LoopError, match=r"pip install 'tornio\[speed\]'"):
        loops.resolve("uvloop")
    with pytest.raises(loops.LoopError, match="unknown event loop"):
        loops.resolve("trio")


@pytest.mark.parametrize("name", ["asyncio", "uvloop"])
def test_run_runs_a_coroutine_on_that_loop(name: str) -> None:
    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__.split(".")[0]

    assert loops.run(which(), name) == name


def test_serve_refuses_uvloop_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(loops, "uvloop_installed", lambda: False)
    assert cli.main(["serve", "tests.apps.echo:namespaces", "--loop", "uvloop"]) == 2
    assert "uvloop is not installed" in capsys.readouterr().err


@pytest.fixture
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClusterProcess]:
    process = ClusterProcess("tests.apps.echo:namespaces", tmp_path, workers=1,
                             args=["--loop", request.param])
    try:
        yield process.start(timeout=30)
    finally:
        process.kill()


@pytest.mark.parametrize(
    ("served", "expected"), [("asyncio", "asyncio"), ("uvloop", "uvloop"), ("auto", "uvloop")],
    indirect=["served"],
)
async def test_the_workers_run_on_the_loop_asked_for(served: ClusterProcess, expected: str) -> None:
    for transport in ("polling", "websocket"):
        async with socketio.AsyncSimpleClient() as client:
            await client.connect(served.url, namespace="/echo", transports=[transport])
            assert await client.call("loop", timeout=10) == expected
            assert await client.call("echo", {"a": [1, 2]}, timeout=10) == {
                "a": [1, 2]
            }


# -- an application that starts with gevent's monkey.patch_all() ----------------------------
# tests/apps/gevent_patched.py: only subprocesses import it (it patches the whole process).

GEVENT_APP = "tests.apps.gevent_patched:namespaces"


def test_a_gevent_patched_application_runs_on_asyncio_and_uvloop_is_refused() -> None:
    """``--loop auto`` takes asyncio's loop for it (above: auto is uvloop otherwise), and
    ``--loop uvloop`` fails at start with one line saying why."""
    done = subprocess.run(
        [*tornio_command(), "serve", GEVENT_APP, "--loop", "uvloop", "--port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "tornio: --loop uvloop: the application called gevent's monkey.patch_all(), and "
        "uvloop cannot run on gevent's threads: use --loop asyncio (or auto)"
    )
    assert "Traceback" not in done.stderr


async def test_tornio_serve_runs_a_gevent_patched_application(tmp_path: Path) -> None:
    process = ClusterProcess(GEVENT_APP, tmp_path, workers=2)
    try:
        process.start(timeout=30)
        for transport in ("polling", "websocket"):
            async with socketio.AsyncSimpleClient() as client:
                await client.connect(process.url, namespace="/echo", transports=[transport])
                assert await client.call("patched", timeout=10) == [
                    "socket", "select", "threading", "time",
                ]
                assert await client.call("loop", timeout=10) == "asyncio"
                assert await client.call("echo", [1, "two"], timeout=10) == [1, "two"]
        assert "event loop: asyncio (the application called gevent's monkey.patch_all(): " \
            "no uvloop)" in process.log_text()
    finally:
        process.kill()
