"""tornio as a user installs it: ``python -m build`` makes an sdist and a wheel (once per
session, into a temporary folder), the wheel goes into fresh virtual environments outside the
checkout, and ``tornio serve`` runs the examples from there, with no part of the checkout on
the import path.

* The wheel holds one import package, ``tornio``, with the repository's ``workers/`` as
  ``tornio.workers``, ``py.typed``, and its metadata; nothing of tests/, scripts/ or examples/.
* Its metadata: Python versions, license, classifiers, keywords, extras, the console script.
* ``pip install <wheel>`` serves examples/chat to python-socketio clients, on asyncio's loop.
* ``pip install '<wheel>[speed]'`` serves examples/hello/app.py on uvloop and httptools.

The dependencies' wheels are kept in a cache folder (``TORNIO_TEST_WHEELHOUSE``, default
``~/.cache/tornio-test-wheels``) and installed with ``--no-index``: the package index is asked
only when that cache lacks one, i.e. on a machine's first run.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
import socketio  # type: ignore[import-untyped]
from packaging.requirements import Requirement

from tests.support.serve_cluster import ClusterProcess

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent
CHAT = ROOT / "examples" / "chat"
HELLO = ROOT / "examples" / "hello"
WHEELHOUSE = Path(
    os.environ.get("TORNIO_TEST_WHEELHOUSE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tornio-test-wheels"
)
TIMEOUT = 10


def clean_env() -> dict[str, str]:
    """This environment without anything that would put the checkout (or another Python's
    packages) on a fresh venv's import path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run(*argv: str | Path, cwd: Path, timeout: float = 120) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=clean_env(), capture_output=True, text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise AssertionError(
            f"{' '.join(map(str, argv))} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


@dataclass
class Dist:
    wheel: Path
    sdist: Path

    @property
    def dist_info(self) -> str:
        """The wheel's metadata folder: ``tornio-<version>.dist-info/``."""
        return self.wheel.name.split("-py3")[0] + ".dist-info/"

    def names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())

    def read(self, name: str) -> str:
        with zipfile.ZipFile(self.wheel) as archive:
            return archive.read(name).decode()

    def metadata(self) -> Message:
        return email.parser.Parser().parsestr(self.read(self.dist_info + "METADATA"))

    def requirements(self, *extras: str) -> list[str]:
        """The dependencies pip installs with these extras (as requirement strings)."""
        wanted = []
        for line in self.metadata().get_all("Requires-Dist") or []:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ["", *extras]):
                req.marker = None
                wanted.append(str(req))
        return wanted


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """``python -m build``: the sdist, and the wheel built from it. Without build isolation
    (the test extra installs build and setuptools), so no package index is needed."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, cwd=out)
    (wheel,) = out.glob("tornio-*.whl")
    (sdist,) = out.glob("tornio-*.tar.gz")
    return Dist(wheel, sdist)


@dataclass
class Venv:
    path: Path
    #: Seconds the venv and the install took.
    seconds: float

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def tornio(self) -> Path:
        return self.path / "bin" / "tornio"


def pip_install(python: Path, *specs: str, wheels: Sequence[str] = (), options: Sequence[str] = ()
                ) -> None:
    """``pip install specs`` into the venv of ``python``, by this Python's pip (``pip
    --python``), from the wheel cache only; when that fails, the wheels of the requirements
    ``wheels`` (default: ``specs``) are fetched into the cache first, and it is tried again."""
    pip: list[str | Path] = [sys.executable, "-m", "pip", "--python", python,
                             "--disable-pip-version-check"]
    install = [*pip, "install", "--quiet", "--no-index", "--find-links", WHEELHOUSE, *options]
    try:
        run(*install, *specs, cwd=python.parent)
    except AssertionError:
        WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        run(*pip, "wheel", "--quiet", "--wheel-dir", WHEELHOUSE, *(wheels or specs),
            cwd=python.parent, timeout=300)
        run(*install, *specs, cwd=python.parent)


def make_venv(path: Path, dist: Dist, *extras: str) -> Venv:
    """A fresh venv (of this Python's base interpreter) with the wheel and ``extras``. Made
    without pip of its own (ensurepip is the slowest part): this Python's pip installs into it,
    as the venv's own pip would."""
    started = time.monotonic()
    run(sys.executable, "-m", "venv", "--without-pip", path, cwd=path.parent)
    spec = f"{dist.wheel}[{','.join(extras)}]" if extras else str(dist.wheel)
    pip_install(path / "bin" / "python", spec, wheels=dist.requirements(*extras))
    return Venv(path, time.monotonic() - started)


@pytest.fixture(scope="session")
def plain(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return make_venv(tmp_path_factory.mktemp("plain") / "venv", dist)


@pytest.fixture(scope="session")
def speed(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return make_venv(tmp_path_factory.mktemp("speed") / "venv", dist, "speed")


def served(venv: Venv, target: str, cwd: Path, workdir: Path) -> Iterator[ClusterProcess]:
    """``<venv>/bin/tornio serve TARGET`` from ``cwd``, two workers, ended in teardown."""
    process = ClusterProcess(target, workdir, cwd=cwd, workers=2, command=[str(venv.tornio)],
                             env=clean_env())
    try:
        yield process.start(timeout=30)
    finally:
        process.kill()


def wheel_workers(process: ClusterProcess) -> list[str]:
    """The command lines of the worker processes, which run the wheel's ``tornio.workers``."""
    workers = [line for line in process.children().values() if "workers.worker" in line]
    assert len(workers) == process.workers, workers
    assert all(" -m tornio.workers.worker " in line for line in workers), workers
    return workers


# -- the wheel and the sdist ---------------------------------------------------------------------


def test_the_wheel_holds_tornio_with_workers_under_it_and_nothing_else(dist: Dist) -> None:
    names = dist.names()
    assert {n.split("/")[0] + "/" for n in names} == {"tornio/", dist.dist_info}
    assert dist.read(dist.dist_info + "top_level.txt").split() == ["tornio"]
    # Every module of the checkout's tornio/ and workers/, and only those, plus py.typed.
    def modules(folder: str) -> set[str]:
        return {p.relative_to(ROOT / folder).as_posix() for p in (ROOT / folder).rglob("*.py")}

    expected = {f"tornio/{name}" for name in modules("tornio")}
    expected |= {f"tornio/workers/{name}" for name in modules("workers")}
    expected.add("tornio/py.typed")
    assert {n for n in names if not n.startswith(dist.dist_info)} == expected
    assert "tornio/workers/cli.py" in names


def test_the_sdist_builds_the_same_package_and_leaves_the_tests_out(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"pyproject.toml", "setup.py", "README.md", "tornio/py.typed",
            "workers/cli.py"} <= names
    assert {n.split("/")[0] for n in names if "/" in n} <= {"tornio", "workers", "tornio.egg-info"}


def test_the_wheel_metadata(dist: Dist) -> None:
    meta = dist.metadata()
    assert meta["Name"] == "tornio"
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["License-Expression"] == "MIT"
    assert meta["Summary"]
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "socket.io" in (meta["Keywords"] or "").split(",")
    classifiers = set(meta.get_all("Classifier") or [])
    versions = {f"Programming Language :: Python :: 3.{minor}" for minor in (10, 11, 12, 13)}
    assert versions <= classifiers
    assert "Typing :: Typed" in classifiers
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"test", "speed", "metrics", "admin", "django"} <= extras
    assert {Requirement(r).name for r in dist.requirements()} == {"tornado", "pyzmq", "msgpack"}
    assert {Requirement(r).name for r in dist.requirements("speed")} >= {"uvloop", "httptools"}
    entry_points = dist.read(dist.dist_info + "entry_points.txt")
    assert re.search(r"^tornio = tornio\.workers\.cli:main$", entry_points, re.MULTILINE)


# -- installed -----------------------------------------------------------------------------------


def test_the_installed_wheel_is_one_package_imported_from_the_venv(
    plain: Venv, tmp_path: Path
) -> None:
    found = json.loads(run(plain.python, "-c", (
        "import importlib.util, json, tornio, tornio.workers.cli; print(json.dumps({"
        "'tornio': tornio.__file__, 'cli': tornio.workers.cli.__file__,"
        "'workers': importlib.util.find_spec('workers') is not None}))"
    ), cwd=tmp_path))
    site = plain.path / "lib"
    assert Path(found["tornio"]).is_relative_to(site), found
    assert Path(found["cli"]).is_relative_to(site), found
    assert found["workers"] is False  # no top-level package of that generic name
    assert "serve" in run(plain.tornio, "--help", cwd=tmp_path)
    assert plain.seconds < 60, f"venv and install took {plain.seconds:.1f} s"


@pytest.fixture
def chat(plain: Venv, tmp_path: Path) -> Iterator[ClusterProcess]:
    yield from served(plain, "chat:router", CHAT, tmp_path)


async def test_the_chat_example_runs_from_the_wheel(chat: ClusterProcess) -> None:
    async with socketio.AsyncSimpleClient() as ann, socketio.AsyncSimpleClient() as bob:
        await ann.connect(chat.url, namespace="/chat", transports=["polling"])
        await bob.connect(chat.url, namespace="/chat", transports=["websocket"])
        for client, name in ((ann, "ann"), (bob, "bob")):
            assert await client.call("join", "kitchen", timeout=TIMEOUT) is True
            assert await client.call("nickname", name, timeout=TIMEOUT) is True
        assert await ann.call("user message", "hello from the wheel", timeout=TIMEOUT) is True
        while (received := await bob.receive(timeout=TIMEOUT))[0] != "msg_to_room":
            pass  # announcements and nickname lists first
        assert received == ["msg_to_room", "ann", "hello from the wheel"]
    assert all("--loop asyncio" in line for line in wheel_workers(chat))
    log = chat.log_text()
    assert re.search(r"event loop\W+asyncio", log), log  # no [speed]: no uvloop either


@pytest.fixture
def hello(speed: Venv, tmp_path: Path) -> Iterator[ClusterProcess]:
    yield from served(speed, "app:namespaces", HELLO, tmp_path)


async def test_the_speed_extra_serves_on_uvloop_and_httptools(
    hello: ClusterProcess, speed: Venv
) -> None:
    for transport in ("polling", "websocket"):
        async with socketio.AsyncSimpleClient() as client:
            await client.connect(hello.url, namespace="/hello", transports=[transport])
            assert await client.call("hello", "wheel", timeout=TIMEOUT) == "Hello, wheel!"
    assert all("--loop uvloop --http=fast" in line for line in wheel_workers(hello))
    log = hello.log_text()
    assert re.search(r"event loop\W+uvloop", log), log
    assert re.search(r"HTTP: fast \(httptools\)", log), log  # tornio.fastpath
    assert speed.seconds < 60, f"venv and install took {speed.seconds:.1f} s"


# -- scripts/setup's check of the project venv -----------------------------------------------


def test_venv_ready_tells_what_the_project_venv_lacks(dist: Dist, tmp_path: Path) -> None:
    """scripts/venv_ready.py, which decides whether scripts/setup runs pip, in a real venv
    taken from nothing to tornio installed editable from this checkout."""
    run(sys.executable, "-m", "venv", "--without-pip", tmp_path / "venv", cwd=tmp_path)
    python = tmp_path / "venv" / "bin" / "python"
    # What the check and an editable build need (a venv of scripts/setup has them with pip).
    pip_install(python, "setuptools>=77", "packaging")

    def ready(*extras: str) -> str:
        done = subprocess.run(
            [python, ROOT / "scripts" / "venv_ready.py", ROOT, *extras],
            cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60,
        )
        assert done.returncode in (0, 1), done.stderr
        return "ready" if done.returncode == 0 else done.stdout.strip()

    assert ready() == "tornio is not installed"
    pip_install(python, str(dist.wheel), options=["--no-deps"])
    assert ready() == "tornio is not installed editable from this checkout"
    pip_install(python, "-e", str(ROOT), options=["--no-deps", "--no-build-isolation"])
    assert ready() == "tornado is not installed"
    pip_install(python, *dist.requirements())
    assert ready() == "ready"
    assert ready("speed") in ("uvloop is not installed", "httptools is not installed")
    assert ready("nonsense") == "no extra 'nonsense' in pyproject.toml"
