"""gevent-socketio 0.3.6's own tests, moved to tornio the way a migrating user moves an
application: its imports renamed, and the Python 3 fixes any user makes. Nothing else.

    tarball = sdist()                 # PyPI's sdist, downloaded once into the cache
    ported = port(tarball, dest)      # dest/gevent_socketio_tests/: the sdist's tests/, rewritten
    ported.tests                      # ['test_namespace.py::TestBaseNamespace::test_...', ...]
    ported.applied                    # which rewrite changed which file

    python -m tests.support.gsio_port download     # scripts/setup: the sdist into the cache
    python -m tests.support.gsio_port port DEST    # the ported tests in DEST, and their diff

The sdist comes from PyPI with pip (``pip download --no-deps --no-binary :all:
gevent-socketio==0.3.6``, see :func:`sdist`), never from this repository; it is kept in
``$TORNIO_GSIO_CACHE`` (default ``~/.cache/tornio-test-gevent-socketio``) and checked
against its SHA-256.

The sdist's ``tests/`` package is copied as ``gevent_socketio_tests/`` (ours is ``tests``),
and every ``.py`` file in it gets these rewrites, in this order; each one must change at
least one file (``Ported.applied``), so that the list holds no rule that is not needed:

1. ``rename``: ``socketio`` → ``tornio`` in ``import`` and ``from ... import`` lines (regex).
2. ``print``: the print statement becomes a call, ``print 'x'`` → ``print('x')`` (regex;
   ``jstests.py``'s ``__main__``).
3. ``mock``: ``from mock import`` → ``from unittest.mock import`` (regex): the ``mock``
   package is in the standard library since Python 3.3.
4. ``message``: ``e.message`` → ``str(e)`` for a name bound by ``except ... as e`` (AST):
   ``BaseException.message`` is gone since Python 3.0.
5. ``wsgi-bytes``: in a WSGI callable (a function with a ``start_response`` parameter),
   each element of a returned list is encoded, ``return [body]`` → ``return
   [body.encode()]`` (AST): a WSGI body is bytes in Python 3 (PEP 3333).
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "PACKAGE",
    "RULES",
    "SDIST_NAME",
    "SDIST_SHA256",
    "Ported",
    "cache_dir",
    "port",
    "sdist",
]

REQUIREMENT = "gevent-socketio==0.3.6"
SDIST_NAME = "gevent-socketio-0.3.6.tar.gz"
#: PyPI's digest of the sdist (pip checks it too, against the index's).
SDIST_SHA256 = "53394ab93fbd84d9dbbb2bef85349f6a503bfc53d86a9be8653250f1a0412aff"
#: The sdist's directory of tests, and the package name the copy gets.
TESTS_IN_SDIST = "gevent-socketio-0.3.6/tests/"
PACKAGE = "gevent_socketio_tests"
CACHE_ENV = "TORNIO_GSIO_CACHE"


def cache_dir() -> Path:
    """Where the sdist is kept: ``$TORNIO_GSIO_CACHE``, else
    ``~/.cache/tornio-test-gevent-socketio``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "tornio-test-gevent-socketio"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sdist(directory: Path | None = None) -> Path:
    """The sdist's path in ``directory`` (default :func:`cache_dir`), downloaded from PyPI
    first when it is not there (once: later calls only check its digest).

    Raises:
        RuntimeError: pip failed (its output included), or the file is not the expected one.
    """
    directory = directory or cache_dir()
    target = directory / SDIST_NAME
    if not target.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".download-") as scratch:
            command = [
                sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                "--disable-pip-version-check", "--no-input", "-d", scratch, REQUIREMENT,
            ]
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
            got = Path(scratch) / SDIST_NAME
            if done.returncode != 0 or not got.is_file():
                raise RuntimeError(
                    f"{' '.join(command)} failed ({done.returncode}):\n"
                    f"{done.stdout}\n{done.stderr}"
                )
            os.replace(got, target)  # atomic: a concurrent run sees all of it or nothing
    digest = _digest(target)
    if digest != SDIST_SHA256:
        raise RuntimeError(
            f"{target} has SHA-256 {digest}, not {SDIST_SHA256} (PyPI's): remove it to "
            "download it again"
        )
    return target


# -- the rewrites -------------------------------------------------------------------------

_IMPORT_LINE = re.compile(r"^(\s*(?:from|import)\s+)socketio\b", re.MULTILINE)
_PRINT_STATEMENT = re.compile(r"^(\s*)print\s+(?!\()(.+?)\s*$", re.MULTILINE)
_FROM_MOCK = re.compile(r"^(\s*)from\s+mock\s+import\b", re.MULTILINE)


def _regex(pattern: re.Pattern[str], replacement: str) -> Callable[[str], str]:
    return lambda source: pattern.sub(replacement, source)


def _replace_segments(source: str, replacements: list[tuple[ast.expr, str]]) -> str:
    """``source`` with each node's text replaced (nodes do not overlap)."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:  # col: UTF-8 bytes into the line
        line = lines[lineno - 1]
        return starts[lineno - 1] + len(line.encode()[:col].decode())

    spans = []
    for node, text in replacements:
        assert node.end_lineno is not None and node.end_col_offset is not None
        spans.append((offset(node.lineno, node.col_offset),
                      offset(node.end_lineno, node.end_col_offset), text))
    for start, end, text in sorted(spans, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def _exception_messages(source: str) -> str:
    """``e.message`` → ``str(e)`` inside ``except ... as e:``."""
    tree = ast.parse(source)
    found: list[tuple[ast.expr, str]] = []
    for handler in ast.walk(tree):
        if isinstance(handler, ast.ExceptHandler) and handler.name:
            for statement in handler.body:
                for node in ast.walk(statement):
                    if (
                        isinstance(node, ast.Attribute)
                        and node.attr == "message"
                        and isinstance(node.value, ast.Name)
                        and node.value.id == handler.name
                    ):
                        found.append((node, f"str({handler.name})"))
    return _replace_segments(source, found)


def _wsgi_bodies(source: str) -> str:
    """``return [body, ...]`` → ``return [body.encode(), ...]`` in WSGI callables."""
    tree = ast.parse(source)
    found: list[tuple[ast.expr, str]] = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if "start_response" not in {arg.arg for arg in function.args.args}:
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.List):
                for element in node.value.elts:
                    text = ast.get_source_segment(source, element)
                    if not isinstance(element, (ast.Name, ast.Constant, ast.Attribute)):
                        text = f"({text})"
                    found.append((element, f"{text}.encode()"))
    return _replace_segments(source, found)


#: name → rewrite, applied in this order (see the module docstring).
RULES: dict[str, Callable[[str], str]] = {
    "rename": _regex(_IMPORT_LINE, r"\1tornio"),
    "print": _regex(_PRINT_STATEMENT, r"\1print(\2)"),
    "mock": _regex(_FROM_MOCK, r"\1from unittest.mock import"),
    "message": _exception_messages,
    "wsgi-bytes": _wsgi_bodies,
}


@dataclass
class Ported:
    """What :func:`port` made."""

    #: The directory holding the package (put it on ``sys.path``).
    root: Path
    #: The package: the sdist's ``tests/`` as :data:`PACKAGE`.
    package: Path
    #: Rule name → the files (relative to the package) it changed.
    applied: dict[str, list[str]] = field(default_factory=dict)
    #: The unified diff of every rewritten file.
    diff: str = ""
    #: Every test: ``file.py::Class::test_name``, in file order.
    tests: list[str] = field(default_factory=list)

    @property
    def jstests(self) -> Path:
        """The QUnit suite's directory (its app, ``jstests.py``, opens ``static/`` and
        ``tests/`` relative to the working directory)."""
        return self.package / "jstests"


def _extract_tests(tarball: Path, dest: Path) -> None:
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            if not member.name.startswith(TESTS_IN_SDIST):
                continue
            relative = member.name[len(TESTS_IN_SDIST):]
            if not relative or ".." in Path(relative).parts or Path(relative).is_absolute():
                continue
            target = dest / relative
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                source = archive.extractfile(member)
                assert source is not None
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read())
            # links and devices: the sdist has none, and none are followed


def _test_ids(package: Path) -> list[str]:
    """``file::Class::test`` of every ``test*`` method of every ``Test*`` class, as unittest
    and pytest find them (the sdist's tests are plain unittest cases)."""
    found = []
    for path in sorted(package.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                        found.append(f"{path.name}::{node.name}::{item.name}")
    return found


def port(tarball: Path, dest: Path) -> Ported:
    """Copy the sdist's tests into ``dest``/:data:`PACKAGE` and apply :data:`RULES` to
    every ``.py`` file. ``dest`` must not hold the package already."""
    package = dest / PACKAGE
    package.mkdir(parents=True)
    _extract_tests(tarball, package)
    ported = Ported(root=dest, package=package, applied={name: [] for name in RULES})
    diffs: list[str] = []
    for path in sorted(package.rglob("*.py")):
        relative = str(path.relative_to(package))
        original = text = path.read_text()
        for name, rewrite in RULES.items():
            rewritten = rewrite(text)
            if rewritten != text:
                ported.applied[name].append(relative)
                text = rewritten
        if text != original:
            path.write_text(text)
            diffs.extend(difflib.unified_diff(
                original.splitlines(keepends=True), text.splitlines(keepends=True),
                f"a/{relative}", f"b/{relative}",
            ))
    ported.diff = "".join(diffs)
    ported.tests = _test_ids(package)
    return ported


def main(argv: list[str]) -> int:
    if argv[:1] == ["download"] and len(argv) == 1:
        print(sdist())
        return 0
    if argv[:1] == ["port"] and len(argv) == 2:
        dest = Path(argv[1])
        if (dest / PACKAGE).exists():
            shutil.rmtree(dest / PACKAGE)
        ported = port(sdist(), dest)
        sys.stdout.write(ported.diff)
        print(f"{len(ported.tests)} tests in {ported.package}")
        return 0
    print("usage: python -m tests.support.gsio_port download | port DEST", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
