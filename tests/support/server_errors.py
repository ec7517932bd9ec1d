"""What fails a test on its server's errors: every record logged at ERROR or above while a test
runs (set-up and teardown included, from any thread) is a server error that was only logged,
unless the test declares it:

    @pytest.mark.server_errors(("tornio.core.socket", "failed in on_boom"))
    def test_a_handler_that_raises(...): ...

Each declared entry is ``(logger, pattern)``: the record's logger is ``logger`` or one of its
children, and ``re.search(pattern, message)`` finds the pattern in its message (the formatted
message, and the exception's type and text when it has one). A declaration is exact both
ways: a record no entry matches fails the test, and so does an entry that matched nothing (the
error it names no longer happens: drop the declaration).

The one kind of record let through undeclared is the test's own HTTP client's noise, when a
test closes a client whose poll was in flight or the server cuts an upload off (a 413):
tornado's ``HTTPStreamClosedError`` (raised by its client only), a ``ConnectionError``
raised through tornado's HTTP client, or one that tornado reports for a read future that was
cancelled (the client's poll, cancelled by its ``close()``: tornio cancels no tornado read).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tornado.simple_httpclient import HTTPStreamClosedError

__all__ = ["ErrorRecords", "Expected", "client_noise", "describe", "sort_out"]

_CLIENT_MODULE = "tornado/simple_httpclient.py"
#: What tornado logs when a future someone cancelled gets an exception: a test's client
#: cancelling its own poll (tornio cancels no tornado read).
_CANCELLED = "Exception after Future was cancelled"


@dataclass(frozen=True)
class Expected:
    """An error a test provokes on purpose: logged on ``logger`` (or a child), its text
    matching ``pattern``."""

    logger: str
    pattern: str

    def matches(self, record: logging.LogRecord) -> bool:
        if record.name != self.logger and not record.name.startswith(self.logger + "."):
            return False
        return re.search(self.pattern, describe(record)) is not None


class ErrorRecords(logging.Handler):
    """A handler on the root logger that keeps every record at ERROR or above."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._records_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._records_lock:
            self.records.append(record)

    def taken(self) -> list[logging.LogRecord]:
        with self._records_lock:
            return list(self.records)


def describe(record: logging.LogRecord) -> str:
    """The record's message, and its exception's type and text when it has one."""
    try:
        text = record.getMessage()
    except Exception:  # a bad format string is still an error to report
        text = str(record.msg)
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        text += f"\n{type(exc).__name__}: {exc}"
    return text


def client_noise(record: logging.LogRecord) -> bool:
    """The test's own tornado HTTP client, closed (or cut off) while a request was in
    flight."""
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, HTTPStreamClosedError):
        return True
    if not isinstance(exc, ConnectionError):
        return False
    if record.name == "tornado.application" and record.msg == _CANCELLED:
        # A read the client cancelled (a test closing its poll) met the server's reset.
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    return any(frame.filename.endswith(_CLIENT_MODULE) for frame in frames)


def sort_out(
    records: Iterable[logging.LogRecord], expected: Sequence[Expected]
) -> tuple[list[logging.LogRecord], list[Expected]]:
    """The records no expectation covers (client noise aside), and the expectations that
    covered no record."""
    unexpected = []
    used: set[Expected] = set()
    for record in records:
        covering = [entry for entry in expected if entry.matches(record)]
        if covering:
            used.update(covering)
        elif not client_noise(record):
            unexpected.append(record)
    return unexpected, [entry for entry in expected if entry not in used]
