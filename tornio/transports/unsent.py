"""How many bytes a Tornado ``IOStream`` holds that the kernel has not taken yet.

The streaming transports that stay on Tornado's ``IOStream`` (htmlfile, xhr-multipart,
flashsocket's hixie-76, websockets over TLS) report this to their session's bound
(``Settings.max_write_buffer``, :mod:`tornio.protocol.backlog`). ``IOStream`` has no public
getter for it (asyncio transports have ``get_write_buffer_size``); its write buffer is read
here, in one place, and the streaming transports' overflow tests fail if a Tornado release
renames it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["unsent_bytes"]


def unsent_bytes(stream: Any) -> int:
    """Bytes written to ``stream`` and not yet sent (0 for a closed stream)."""
    buffer = getattr(stream, "_write_buffer", None)
    return len(buffer) if buffer is not None else 0
