"""gevent-socketio 0.3.6's own unit tests (``tests/test_namespace.py``, ``test_packet.py``,
``test_socket.py`` of its sdist on PyPI), ported by ``tests/support/gsio_port.py`` (the
``socketio`` → ``tornio`` renames and the Python 3 fixes a user makes, nothing else), run
against tornio: one test here per test there, ``test_ported[file::Class::test]``.

Each one passes, except the ones the migration guide lists under "gevent-socketio tests that
do not pass" (``docs/howto/migrating.md``): those are strict xfails with the guide's reason, so
that a listed test that starts to pass fails here too, and the list cannot rot.

The sdist is downloaded once (``scripts/setup`` does it; so does the first collection of this
file when the cache is empty: see ``gsio_port.sdist``). The ported copy lives in a temporary
directory for the session.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import re
import shutil
import sys
import tempfile
import types
import unittest
from pathlib import Path

import pytest

from tests.support import gsio_port
from tornio.exceptions import InvalidPacket

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "howto" / "migrating.md"
SECTION = "gevent-socketio tests that do not pass"
#: What the sdist holds: a port that lost a test must not pass.
EXPECTED_COUNTS = {"test_namespace.py": 19, "test_packet.py": 22, "test_socket.py": 8}


@functools.cache
def _ported_once() -> gsio_port.Ported | RuntimeError:
    dest = Path(tempfile.mkdtemp(prefix="tornio-gsio-"))
    atexit.register(shutil.rmtree, dest, True)
    try:
        return gsio_port.port(gsio_port.sdist(), dest)
    except RuntimeError as exc:
        return exc  # kept: a download that failed is not tried again by every test


def ported() -> gsio_port.Ported:
    """The sdist's tests ported into a temporary directory, once per session.

    Raises:
        RuntimeError: the sdist could not be downloaded, or is not PyPI's.
    """
    result = _ported_once()
    if isinstance(result, RuntimeError):
        raise RuntimeError(str(result))
    return result


def guide_section() -> str:
    """The text of the guide's section (empty when it has none)."""
    text = GUIDE.read_text() if GUIDE.is_file() else ""
    match = re.search(rf"^##+ {re.escape(SECTION)}\s*$(.*?)(?=^##? |\Z)", text, re.M | re.S)
    return "" if match is None else match.group(1)


def listed_failures() -> dict[str, str]:
    """The guide's list: ``file.py::Class::test`` → its reason."""
    listed = {}
    for line in guide_section().splitlines():
        item = re.match(r"^[-*]\s+`(test_\w+\.py::\w+::\w+)`\s*:\s*(.+)$", line)
        if item:
            listed[item.group(1)] = item.group(2).strip()
    return listed


def _module(file_name: str) -> types.ModuleType:
    root = str(ported().root)
    sys.path.insert(0, root)
    try:
        return importlib.import_module(f"{gsio_port.PACKAGE}.{file_name.removesuffix('.py')}")
    finally:
        sys.path.remove(root)


#: Why the sdist could not be had at collection (then one test says so, rather than an error
#: of collection that would stop the whole run).
MISSING = "the gevent-socketio sdist"


def _params() -> list[object]:
    try:
        tests = ported().tests
    except RuntimeError:
        return [pytest.param(MISSING, id="sdist-missing")]
    listed = listed_failures()
    params: list[object] = []
    for test in tests:
        marks = []
        if test in listed:
            # Failing as the guide says: an assertion of the test, or tornio refusing a
            # packet; anything else (an import, a crash) is a real failure.
            marks.append(pytest.mark.xfail(reason=listed[test], strict=True,
                                           raises=(AssertionError, InvalidPacket)))
        params.append(pytest.param(test, marks=marks, id=test))
    return params


@pytest.mark.parametrize("test", _params())
def test_ported(test: str) -> None:
    """One gevent-socketio test, run as unittest runs it (setUp, the test, tearDown), with
    its own exception and traceback when it fails."""
    if test == MISSING:
        ported()  # raises again: pip's output, or the digest that does not match
    file_name, class_name, method = test.split("::")
    case_class = getattr(_module(file_name), class_name)
    assert issubclass(case_class, unittest.TestCase)
    case_class(method).debug()


def test_every_test_of_the_sdist_is_ported() -> None:
    counts = {name: 0 for name in EXPECTED_COUNTS}
    for test in ported().tests:
        counts[test.split("::")[0]] = counts.get(test.split("::")[0], 0) + 1
    assert counts == EXPECTED_COUNTS


def test_the_port_is_renames_and_python3_fixes_only() -> None:
    """Each rewrite of gsio_port is needed (it changed a file), and every changed line of the
    diff is one of them: an import of tornio, print(), unittest.mock, str(e), .encode()."""
    found = ported()
    assert {name for name, files in found.applied.items() if files} == set(gsio_port.RULES)
    assert found.applied["rename"] == [
        "jstests/jstests.py", "test_namespace.py", "test_packet.py", "test_socket.py",
    ]
    added = [
        line[1:] for line in found.diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    allowed = re.compile(
        r"^\s*(from tornio\b.* import |print\(|from unittest\.mock import )"
        r"|str\(e\)|\.encode\(\)"
    )
    assert added and all(allowed.search(line) for line in added), added


def test_the_guide_lists_only_tests_of_the_sdist() -> None:
    """Every test named in the guide's list exists (a renamed or mistyped entry would
    otherwise mark nothing), each one has a reason, and the guide's counts are these."""
    listed = listed_failures()
    assert set(listed) <= set(ported().tests), set(listed) - set(ported().tests)
    assert all(len(reason) > 10 for reason in listed.values()), listed
    total = len(ported().tests)
    counts = f"Of its {total} unit tests, {total - len(listed)} pass; these {len(listed)} do not"
    assert counts in " ".join(guide_section().split()), counts


def test_an_unknown_packet_type_is_named_in_a_bounded_message() -> None:
    """``tornio.packet.decode`` says what gevent-socketio said (``test_except_on_invalid_
    message_type``), with at most 20 of the client's digits."""
    from tornio import packet

    with pytest.raises(InvalidPacket, match=r"^Unknown message type: 99$"):
        packet.decode("99::")
    with pytest.raises(InvalidPacket, match=r"^Unknown message type: 9{20}$"):
        packet.decode("9" * 5000 + "::")
    with pytest.raises(InvalidPacket, match="unknown packet type 'x'"):
        packet.decode("x::")  # not a number: the codec's own answer
