"""Run codec tests on both ways of writing the built-in JSON: with orjson (the ``speed``
extra) and with the standard library only (:func:`tornio.protocol.jsoncodec.use_orjson`).

``json_path`` is a module-scoped fixture (so that hypothesis tests may use it) with the
params ``"orjson"`` and ``"stdlib"``; a test module takes it with
``pytestmark = pytest.mark.usefixtures("json_path")`` after importing it. The ``"orjson"``
run is skipped when orjson is not installed. :func:`outcome` turns a call into a value two
paths can be compared by: what it returned (by ``repr``, so ``1``, ``1.0`` and ``True``
differ) or the type and text of what it raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tornio.protocol import jsoncodec

PATHS = ("orjson", "stdlib")


@pytest.fixture(scope="module", params=PATHS)
def json_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """The built-in JSON on ``request.param``'s path for the module's tests."""
    with using(request.param):
        yield request.param


class using:
    """``with using("stdlib"):`` — the built-in JSON on that path inside, orjson after."""

    def __init__(self, path: str) -> None:
        if path not in PATHS:
            raise ValueError(f"unknown JSON path {path!r}")
        self.path = path

    def __enter__(self) -> str:
        if jsoncodec.use_orjson(self.path == "orjson") != (self.path == "orjson"):
            jsoncodec.use_orjson()
            pytest.skip("orjson is not installed")
        return self.path

    def __exit__(self, *exc: object) -> None:
        jsoncodec.use_orjson()


def outcome(call: Callable[[], Any]) -> tuple[str, str]:
    """``("ok", repr(result))`` or ``(exception type name, its text)``."""
    try:
        result = call()
    except Exception as exc:  # what is compared is which exception, and its message
        return type(exc).__name__, str(exc)
    return "ok", repr(result)


def both(call: Callable[[], Any]) -> tuple[tuple[str, str], tuple[str, str]]:
    """The :func:`outcome` of ``call`` with orjson, then with the stdlib only."""
    with using("orjson"):
        fast = outcome(call)
    with using("stdlib"):
        slow = outcome(call)
    return fast, slow
