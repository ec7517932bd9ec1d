"""One home per concern: the rules written once, and what would bring a second copy back.

* a namespace's two spellings, ``''`` (an endpoint, tornio's key) and ``'/'`` (Socket.IO
  v5's ``nsp``), are converted in ``tornio/protocol/endpoints.py`` only;
* every exception class tornio and its runtime define is under
  :class:`tornio.exceptions.TornioError` (a codec's own classes, such as hixie-76's, derive
  from the same root), so ``except TornioError`` catches whatever tornio raises on purpose;
* the manager is composed of collaborators (its timers, its cluster operations), not mixins.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tornio.cluster import ClusterOperations
from tornio.core.timers import SessionTimers
from tornio.exceptions import (
    DeflateError,
    EngineError,
    ProtocolError,
    WebSocketError,
)
from tornio.manager import SocketManager
from tornio.protocol.endpoints import to_endpoint, to_nsp
from tornio.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("name", "endpoint", "nsp"),
    [("", "", "/"), ("/", "", "/"), ("/chat", "/chat", "/chat"), ("/a/b", "/a/b", "/a/b")],
)
def test_a_namespace_name_reads_the_same_in_either_spelling(
    name: str, endpoint: str, nsp: str
) -> None:
    assert to_endpoint(name) == endpoint
    assert to_nsp(to_endpoint(name)) == nsp
    assert to_endpoint(to_nsp(endpoint)) == endpoint


#: Run in a process of its own: importing every module (Django's included) must not change
#: the test process (a lazy Django settings object in it breaks later tests' scans).
OUTSIDE_THE_TREE = """
import importlib, json, pathlib, sys
from tornio.exceptions import TornioError
root = pathlib.Path(sys.argv[1])
outside = []
for package in ("tornio", "workers"):
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts[-1] == "__main__":
            continue
        name = ".".join(parts)
        # type(value): Django's lazy settings object is not to be touched
        for value in vars(importlib.import_module(name)).values():
            if (issubclass(type(value), type) and issubclass(value, BaseException)
                    and value.__module__ == name and not issubclass(value, TornioError)):
                outside.append(f"{name}.{value.__qualname__}")
print(json.dumps(outside))
"""


def test_every_exception_class_is_a_tornio_error() -> None:
    done = subprocess.run(
        [sys.executable, "-c", OUTSIDE_THE_TREE, str(ROOT)], cwd=ROOT,
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert json.loads(done.stdout) == []


def test_the_wire_errors_carry_what_answers_them() -> None:
    assert issubclass(DeflateError, WebSocketError) and issubclass(WebSocketError, ProtocolError)
    assert (DeflateError("bad").code, DeflateError("big", too_big=True).code) == (1007, 1009)
    refused = EngineError(3, "overlapping poll")
    assert (refused.code, str(refused)) == (3, "overlapping poll")
    assert str(EngineError(1)) == "Engine.IO error 1"
    assert not hasattr(ProtocolError, "http_status")  # read nowhere: each subclass says


def test_the_manager_holds_its_collaborators_instead_of_inheriting_them() -> None:
    """Mixins read each other's privates through ``self``; collaborators see one narrow
    interface (:class:`~tornio.cluster.ClusterHost`, the sockets they are given), and
    ``tests/test_private_names.py`` catches a reach through it."""
    assert SocketManager.__mro__ == (SocketManager, object)
    manager = SocketManager({}, Settings())
    assert isinstance(manager.cluster, ClusterOperations) and manager.cluster.host is manager
    assert isinstance(manager.timers, SessionTimers) and manager.timers.clock == manager.clock
    # The cluster operations are offered as the manager's own, with their docstrings.
    assert manager.sockets_join.__doc__ == ClusterOperations.sockets_join.__doc__
    assert inspect.signature(manager.fetch_sockets).parameters.keys() == (
        inspect.signature(ClusterOperations.fetch_sockets).parameters.keys() - {"self"}
    )


def _spellings_converted(source: str) -> list[int]:
    """Lines that convert between ``''`` and ``'/'`` themselves: ``x or "/"``,
    ``"" if x == "/" else x``, ``x in ("", "/")``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            last = node.values[-1]
            if isinstance(last, ast.Constant) and last.value == "/":
                found.append(node.lineno)
        elif (isinstance(node, ast.IfExp) and isinstance(node.body, ast.Constant) and (
            node.body.value == "" and "'/'" in ast.unparse(node.test)
        )) or (isinstance(node, ast.Compare) and any(
            isinstance(c, ast.Tuple) and {"", "/"} <= {
                e.value for e in c.elts if isinstance(e, ast.Constant)
            } for c in node.comparators
        )):
            found.append(node.lineno)
    return found


def test_only_the_endpoints_module_converts_a_namespace_name() -> None:
    home = ROOT / "tornio" / "protocol" / "endpoints.py"
    assert _spellings_converted(home.read_text(encoding="utf-8"))  # the checker sees it
    elsewhere = {
        str(path.relative_to(ROOT)): lines
        for package in ("tornio", "workers")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != home
        and (lines := _spellings_converted(path.read_text(encoding="utf-8")))
    }
    assert elsewhere == {}
