"""The request side of the fast HTTP path (:mod:`tornio.transports.fasthttp`): an
``HTTPServerRequest`` made from parsed parts, headers kept as Tornado keeps them but built
for less, the query parsed as Tornado parses it, and who the client is (the peer, or what
Tornado's ``xheaders`` believe). No I/O.
"""

from __future__ import annotations

import functools
import time
from typing import Any
from urllib.parse import unquote_to_bytes

from tornado import httputil
from tornado.escape import parse_qs_bytes
from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.netutil import is_valid_ip

__all__ = [
    "FAST_HEADERS",
    "HEADER_KEYS",
    "FastRequest",
    "RequestHeaders",
    "ResponseHeaders",
    "date_header",
    "head_end",
    "header_keys",
    "header_name",
    "host_name",
    "new_headers",
    "parse_query",
    "path_arg",
    "peer_client",
    "request_headers",
    "xheaders_client",
]

_date_second = 0
_date_text = ""
#: A request header's name as received -> (as ``HTTPHeaders`` writes it, lower case), for
#: the names seen so far, up to a bound (a client chooses them; the rest are computed).
HEADER_KEYS: dict[bytes, tuple[str, str]] = {}
MAX_HEADER_KEYS = 1024
#: ``Host`` values -> their ``host_name`` (:func:`host_name`).
_HOST_NAMES: dict[str, str] = {}
MAX_HOST_NAMES = 1024


@functools.lru_cache(512)
def header_name(name: str) -> str:
    """A header name as ``HTTPHeaders`` writes it (``x-xss-protection`` → ``X-Xss-Protection``)."""
    return "-".join(word.capitalize() for word in name.split("-"))


_HEADER_ATTRS = set(vars(HTTPHeaders()))
#: Whether ``HTTPHeaders`` keeps what this module builds it from (its lists of values, a
#: cache), so that the fast path may fill ``_as_list`` itself.
FAST_HEADERS = {"_as_list", "_combined_cache"} == _HEADER_ATTRS


def header_keys(name: bytes) -> tuple[str, str]:
    """A request header's name as ``HTTPHeaders`` writes it, and in lower case (remembered
    in :data:`HEADER_KEYS`)."""
    keys = HEADER_KEYS.get(name)
    if keys is None:
        key = name.decode("latin-1")
        keys = (header_name(key), key.lower())
        if len(HEADER_KEYS) < MAX_HEADER_KEYS:
            HEADER_KEYS[name] = keys
    return keys


class RequestHeaders(HTTPHeaders):
    """``HTTPHeaders`` whose ``get`` of a missing name does not go through a KeyError (most
    of the handlers' lookups are of headers a poll does not send)."""

    def get(self, name: str, default: Any = None) -> Any:
        values = self._as_list.get(header_name(name))
        if values is None:
            return default
        return values[0] if len(values) == 1 else ",".join(values)


def new_headers() -> HTTPHeaders:
    """Empty request headers, without the generic ``MutableMapping.update`` that
    ``HTTPHeaders()`` runs (a few per cent of a poll); a plain ``HTTPHeaders()`` if its
    attributes ever change."""
    if not FAST_HEADERS:
        return HTTPHeaders()
    headers = RequestHeaders.__new__(RequestHeaders)
    headers._as_list = {}
    headers._combined_cache = {}
    return headers


def request_headers(fields: list[Any]) -> HTTPHeaders:
    """The ``HTTPHeaders`` of a request's fields: a header's name as ``HTTPHeaders`` writes
    it and its value as received, in turn. llhttp refused what ``HTTPHeaders.add`` refuses (a
    name that is not a token, control characters and DEL in a value): its lists are filled
    directly."""
    headers = new_headers()
    pairs = zip(fields[0::2], fields[1::2], strict=True)
    if not FAST_HEADERS:
        for name, value in pairs:
            headers.add(name, value.decode("latin-1"))
        return headers
    as_list = headers._as_list
    for name, value in pairs:
        text = value.decode("latin-1")
        if name in as_list:
            as_list[name].append(text)
        else:
            as_list[name] = [text]
    return headers


class ResponseHeaders(dict[str, str]):
    """A response's headers: a dict whose names are normalized as ``HTTPHeaders`` does it
    (one value per name: the handlers only set headers)."""

    def __setitem__(self, name: str, value: str) -> None:
        super().__setitem__(header_name(name), value)

    def __delitem__(self, name: str) -> None:
        super().__delitem__(header_name(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(header_name(name))

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(header_name(name), default)

    def pop(self, name: str, default: Any = None) -> Any:
        return super().pop(header_name(name), default)


def parse_query(query: str) -> dict[str, list[bytes]]:
    """``parse_qs_bytes(query, keep_blank_values=True)``, without unquoting when nothing in
    ``query`` is quoted (a poll's query never is)."""
    if "%" in query or "+" in query:
        return parse_qs_bytes(query, keep_blank_values=True)
    arguments: dict[str, list[bytes]] = {}
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            if name in arguments:
                arguments[name].append(value.encode("latin-1"))
            else:
                arguments[name] = [value.encode("latin-1")]
    return arguments


def host_name(host: str) -> str:
    """``HTTPServerRequest.host_name`` of a ``Host`` value: lower case, without a ``:port``
    (``split_host_and_port``'s answer, without its regex); remembered for the values seen,
    up to a bound (a client chooses them)."""
    name = _HOST_NAMES.get(host)
    if name is None:
        lower = host.lower()
        name, colon, port = lower.rpartition(":")
        if not (colon and name and port.isascii() and port.isdigit()):
            name = lower
        if len(_HOST_NAMES) < MAX_HOST_NAMES:
            _HOST_NAMES[host] = name
    return name


def date_header() -> str:
    """The ``Date`` header, formatted once a second."""
    global _date_second, _date_text
    now = time.time()
    if int(now) != _date_second:
        _date_second = int(now)
        _date_text = httputil.format_timestamp(now)
    return _date_text


def path_arg(text: str) -> str | None:
    """A path argument as Tornado decodes it (percent-unquoted, UTF-8); None if it is not
    UTF-8 (Tornado answers that with a 400: leave it to Tornado)."""
    if "%" not in text:
        return text
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        return None


class FastRequest(HTTPServerRequest):
    """An ``HTTPServerRequest`` made from parsed parts (what ``HTTPServerRequest.__init__``
    sets, without its deep copy of the query). ``host``: the ``Host`` header's value, when
    the caller has it (read from ``headers`` otherwise)."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: HTTPHeaders,
        connection: Any,
        remote_ip: str,
        protocol: str,
        host: str | None = None,
    ) -> None:
        self.method = method
        self.uri = uri
        self.version = "HTTP/1.1"
        self.headers = headers
        self.body = b""
        self.remote_ip = remote_ip
        self.protocol = protocol
        if host is None:  # else the caller read it from the headers
            host = headers.get("Host")
        host = self.host = host or "127.0.0.1"
        self.host_name = _HOST_NAMES.get(host) or host_name(host)
        self.files = {}
        self.connection = connection
        self.server_connection = None
        self._start_time = time.time()
        self._finish_time = None
        self.path, _, self.query = uri.partition("?")
        self.query_arguments = parse_query(self.query)
        self._arguments: dict[str, list[bytes]] | None = None
        self.body_arguments = {}

    @property
    def arguments(self) -> dict[str, list[bytes]]:
        """The query's arguments (a copy of ``query_arguments``, as in ``HTTPServerRequest``;
        made when first asked for: the transports read ``query_arguments`` only)."""
        if self._arguments is None:
            self._arguments = {name: list(v) for name, v in self.query_arguments.items()}
        return self._arguments

    @arguments.setter
    def arguments(self, value: dict[str, list[bytes]]) -> None:
        self._arguments = value



def peer_client(address: tuple[Any, ...], headers: HTTPHeaders) -> tuple[str, str]:
    """The client is the peer (no proxies believed)."""
    return str(address[0]) if address else "", "http"


def xheaders_client(address: tuple[Any, ...], headers: HTTPHeaders) -> tuple[str, str]:
    """What Tornado's ``xheaders=True`` makes of a request: ``X-Real-Ip`` or the last
    ``X-Forwarded-For`` entry, ``X-Scheme`` or ``X-Forwarded-Proto``, from any peer."""
    ip = str(address[0]) if address else ""
    forwarded = headers.get("X-Forwarded-For", ip)
    candidates = [part.strip() for part in reversed(forwarded.split(","))]
    claimed = headers.get("X-Real-Ip", candidates[0] if candidates else ip)
    if is_valid_ip(claimed):
        ip = claimed
    protocol = "http"
    proto = headers.get("X-Scheme", headers.get("X-Forwarded-Proto", protocol))
    if proto:
        proto = proto.split(",")[-1].strip()
        if proto in ("http", "https"):
            protocol = proto
    return ip, protocol


def head_end(buffer: bytearray) -> int:
    """Where the head of the request at the start of ``buffer`` ends: after its first blank
    line (what ``\\r?\\n\\r?\\n`` finds first); 0 if there is none yet, -1 if it is not
    ``CRLF CRLF`` (a bare LF). Two ``find`` calls: a regex search costs a few times more."""
    crlf = buffer.find(b"\n\r\n")
    bare = buffer.find(b"\n\n", 0, crlf if crlf >= 0 else len(buffer))
    if bare >= 0:
        return -1
    if crlf < 0:
        return 0
    return crlf + 3 if crlf > 0 and buffer[crlf - 1] == 13 else -1
