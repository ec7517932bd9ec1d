"""htmlfile (the "forever iframe"), byte for byte as node socket.io 0.9 writes it.

``GET /<resource>/1/htmlfile/<sid>`` answers ``text/html; charset=UTF-8``, chunked:

* the first chunk is the 256-byte prelude :data:`PRELUDE`, an 83-byte script defining ``_``
  (which hands each message to ``parent.s._(msg, document)``) padded with 173 spaces, the size
  old browsers buffer before they render progressively;
* each write of the session is one chunk ``<script>_(<JSON string>);</script>``, the JSON
  string of the payload with every ``/`` written ``\\/``, so ``</script>`` can never appear in
  it (the client undoes the escape: ``msg.replace(/\\\\\\//g, '/')``, which also turns a literal
  ``\\/`` of the payload into ``/``, as with node).

One addition to node's bytes: ``<!--`` is written ``\\u003c!--``. In a script element,
``<!--`` followed by ``<script`` switches the HTML parser into a state where our own
``</script>`` no longer ends the element, and the stream would stop delivering; the JSON
string means the same to the script engine either way. Likewise U+2028 and U+2029 are
escaped, which old script engines reject inside string literals.

Sends arrive by POST as with xhr-polling; the session heartbeats the stream as a persistent
transport.
"""

from __future__ import annotations

import json

from tornio.legacy.transports.streaming import StreamingHandler

__all__ = ["PRELUDE", "HtmlFileHandler", "htmlfile_frame"]

#: The first chunk: exactly 256 bytes.
PRELUDE = (
    b"<html><body><script>var _ = function (msg) { parent.s._(msg, document); };</script>"
    + b" " * 173
)


def htmlfile_frame(payload: str) -> bytes:
    """The chunk that carries one payload."""
    data = (
        json.dumps(payload, ensure_ascii=False)
        .replace("/", "\\/")
        .replace("<!--", "\\u003c!--")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return f"<script>_({data});</script>".encode("utf-8", "replace")


class HtmlFileHandler(StreamingHandler):
    """``/<resource>/1/htmlfile/<sid>``."""

    transport_name = "htmlfile"
    content_type = "text/html; charset=UTF-8"
    coalesce = False  # one chunk per write, as node's

    def prelude(self) -> bytes:
        return PRELUDE

    def frame(self, payload: str) -> bytes:
        return htmlfile_frame(payload)
