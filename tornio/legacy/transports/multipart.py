"""xhr-multipart: one ``multipart/x-mixed-replace`` response carries every packet.

Neither node socket.io 0.9 nor its client implements it any more (``reference/legacy.md``
§2.5); tornio serves it as gevent-socketio meant to, with ``1::`` (not the session id) as the
first part. The exact layout of ``GET /<resource>/1/xhr-multipart/<sid>``, chunked::

    Content-Type: multipart/x-mixed-replace; boundary="socketio"

    --socketio\\r\\n                                   the prelude, sent at once
    Content-Type: text/plain; charset=UTF-8\\r\\n      then one part per write
    Content-Length: <UTF-8 bytes of payload>\\r\\n
    \\r\\n
    <payload>\\r\\n
    --socketio\\r\\n

``<payload>`` is one packet, or several in ``\\ufffd<len>\\ufffd`` framing (the first part is
``1::``). Each part is one HTTP chunk. ``Content-Length`` makes a part's end unambiguous even
when a payload contains the delimiter ``\\r\\n--socketio``; a reader that only scans for the
delimiter reads every other payload right. Sends arrive by POST as with xhr-polling; the
session heartbeats the stream as a persistent transport.
"""

from __future__ import annotations

from tornio.legacy.transports.streaming import StreamingHandler

__all__ = ["BOUNDARY", "XhrMultipartHandler", "multipart_part"]

BOUNDARY = b"socketio"


def multipart_part(payload: str) -> bytes:
    """One part, ending with the delimiter that opens the next."""
    body = payload.encode("utf-8", "replace")
    return (
        b"Content-Type: text/plain; charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s\r\n--%s\r\n"
        % (len(body), body, BOUNDARY)
    )


class XhrMultipartHandler(StreamingHandler):
    """``/<resource>/1/xhr-multipart/<sid>``."""

    transport_name = "xhr-multipart"
    content_type = 'multipart/x-mixed-replace; boundary="socketio"'

    def prelude(self) -> bytes:
        return b"--" + BOUNDARY + b"\r\n"

    def frame(self, payload: str) -> bytes:
        return multipart_part(payload)
