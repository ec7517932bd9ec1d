"""Which origins may talk to the server, and the CORS headers that say so: one decision for
every transport of both generations.

:func:`decide` is the decision, with no I/O: given the ``origins`` setting (parsed once by
:func:`parse_policy`), a request's ``Origin`` (and ``Referer``, where the 0.9 protocol used it),
and the request's own scheme and host, it says whether the request is allowed and which CORS
headers its answer carries. :func:`check_request` is the thin adapter that reads those values
from a Tornado (or fast-path, or bus-forwarded) request, and logs refusals, rate-limited.

The rules:

- No ``Origin`` (and no ``Referer`` where one is looked at): allowed, no CORS headers. Only a
  browser sends ``Origin``, and only a browser carries a victim's cookies; node and python
  clients send none. The exception is JSONP (``require``): a ``<script>`` request sends no
  ``Origin`` and its answer is readable by whatever page included it, so it must show a
  ``Referer`` (or ``Origin``) that passes; with neither it is refused, unless the policy is ``*``.
- The request's own origin (its scheme, and its ``Host``; from a trusted proxy,
  ``X-Forwarded-Proto`` and ``X-Forwarded-Host``), default ports normalised (80 for http,
  443 for https), the host compared case-insensitively: allowed, no CORS headers (the
  browser needs none).
- An origin the policy lists by name (a full origin ``'https://app.example.com'``, node 0.9's
  ``'host:port'`` or ``'host:*'``, or ``'null'`` written out): allowed, with
  ``Access-Control-Allow-Origin: <that origin>``, ``Access-Control-Allow-Credentials: true``
  and ``Vary: Origin``.
- A wildcard (``'*'``, or node 0.9's ``'*:*'`` and ``'*:port'``): allowed, with
  ``Access-Control-Allow-Origin: *`` and no credentials (as node's ``cors`` with
  ``origin: '*'``): a browser then sends no cookies, and refuses a credentialed request.
- Anything else (a foreign origin, ``'null'``, a malformed value): refused.

Node 0.9's patterns compare host and port only (any scheme), as node 0.9 did; a full origin
compares scheme, host and port.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from tornio.settings import parse_origins
from tornio.transports.forwarded import TrustedProxies

__all__ = [
    "MAX_ORIGIN_LENGTH",
    "OriginDecision",
    "OriginPolicy",
    "check_request",
    "decide",
    "parse_origin",
    "parse_policy",
    "request_decision",
]

log = logging.getLogger("tornio.transports.origins")

#: Longest ``Origin`` (or ``Referer`` scheme and authority) looked at, in characters; a
#: longer one is malformed. A host name is at most 253 characters.
MAX_ORIGIN_LENGTH = 512

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
#: scheme "://" authority; no user info, path, query, fragment, white space or controls.
_ORIGIN = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^\s/?#@\\\x00-\x1f\x7f]+)\Z")
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[^\s/?#@\\\[\]:\x00-\x1f\x7f]+)\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")

Site = tuple[str, str, "int | None"]  # scheme, host (lower case, IPv6 in brackets), port


def _authority(authority: str, scheme: str) -> tuple[str, int | None] | None:
    """(host, port) of ``host[:port]`` (IPv6 in brackets), the port defaulted for ``scheme``."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_ = authority.partition(":")
        port_text = port_text_ if colon else None
    if not _HOST.match(host):
        return None
    if port_text is None or port_text == "":
        port = _DEFAULT_PORTS.get(scheme)
    elif _PORT.match(port_text) and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        return None
    return host.lower(), port


def parse_origin(text: str, *, url: bool = False) -> Site | None:
    """``(scheme, host, port)`` of an origin (``url``: of a URL, a ``Referer``), or None if it
    is not one. Scheme and host are lower case, the port is the scheme's default when absent
    (None for a scheme without one), an IPv6 host keeps its brackets."""
    if url:
        scheme_end = text.find("://")
        if scheme_end < 0:
            return None
        end = len(text)
        for stop in "/?#":
            found = text.find(stop, scheme_end + 3)
            if found >= 0:
                end = min(end, found)
        text = text[:end]
    if len(text) > MAX_ORIGIN_LENGTH:
        return None
    match = _ORIGIN.match(text)
    if match is None:
        return None
    scheme = match.group(1).lower()
    hostport = _authority(match.group(2), scheme)
    if hostport is None:
        return None
    return scheme, hostport[0], hostport[1]


#: The same few origins and hosts come again and again: parsed once (a bounded cache, so
#: that a client sending ever new values only churns it).
@functools.lru_cache(maxsize=1024)
def _site(text: str, url: bool) -> Site | None:
    return parse_origin(text, url=url)


@functools.lru_cache(maxsize=256)
def _own_site(scheme: str, host: str) -> Site | None:
    return parse_origin(f"{scheme.lower()}://{host}")


@dataclass(frozen=True)
class _Entry:
    """One entry of the policy: a full origin, or a node 0.9 ``host:port`` pattern (``'*'``
    for any host or port, scheme ignored)."""

    scheme: str | None  # None: a node 0.9 pattern
    host: str  # '*': any
    port: int | None  # None: any (or the scheme has no default port)
    text: str

    @property
    def named(self) -> bool:
        """Whether it names its host: only those get credentialed CORS."""
        return self.host != "*"

    def matches(self, site: Site) -> bool:
        _, host, port = site
        if self.scheme is not None:
            return (self.scheme, self.host, self.port) == site
        if self.host != "*" and self.host != host:
            return False
        return self.port is None or self.port == port


@dataclass(frozen=True)
class OriginPolicy:
    """The ``origins`` setting, parsed: empty means the same origin only."""

    any: bool = False
    null: bool = False
    entries: tuple[_Entry, ...] = ()


def _entry(text: str) -> _Entry:
    if "://" in text:
        site = parse_origin(text.rstrip("/"))
        if site is None:
            raise ValueError(
                f"origins: {text!r} is not an origin (scheme://host[:port], no path)"
            )
        return _Entry(site[0], site[1], site[2], text)
    host, colon, port_text = text.rpartition(":")
    if not colon or not host:
        raise ValueError(
            f"origins: {text!r} is neither a full origin ('https://{text}') nor a node 0.9 "
            f"pattern ('{text}:*', 'host:port', '*:port')"
        )
    port: int | None
    if port_text == "*":
        port = None
    elif _PORT.match(port_text) and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        raise ValueError(f"origins: {text!r} has a bad port (1-65535 or '*')")
    if host != "*" and not _HOST.match(host):
        raise ValueError(f"origins: {text!r} has a bad host")
    return _Entry(None, host.lower(), port, text)


def parse_policy(origins: str | Sequence[str]) -> OriginPolicy:
    """The policy an ``origins`` setting describes: entries separated by spaces or commas
    (or a sequence). ``'*'`` or ``'*:*'``: any origin; ``'null'``: the ``null`` origin;
    ``'https://app.example.com'``: that origin; ``'host:port'``, ``'host:*'``, ``'*:port'``:
    node 0.9's patterns. Empty: the same origin only.

    Raises:
        ValueError: an entry that is none of those.
    """
    if isinstance(origins, tuple):  # as Settings keeps it: the split is cached too
        return _policy_of_tuple(origins)
    return _parse_policy(parse_origins(origins))


@functools.lru_cache(maxsize=64)
def _policy_of_tuple(origins: tuple[str, ...]) -> OriginPolicy:
    return _parse_policy(parse_origins(origins))


@functools.lru_cache(maxsize=64)
def _parse_policy(entries: tuple[str, ...]) -> OriginPolicy:
    any_origin = null = False
    parsed = []
    for text in entries:
        if text in ("*", "*:*"):
            any_origin = True
        elif text == "null":
            null = True
        else:
            parsed.append(_entry(text))
    return OriginPolicy(any_origin, null, tuple(parsed))


class OriginDecision(NamedTuple):
    """Whether a request may proceed, the CORS headers of its answer, and why (for logs)."""

    allowed: bool
    headers: tuple[tuple[str, str], ...] = ()
    reason: str = ""


_ANY = (("Access-Control-Allow-Origin", "*"),)
_NO_ORIGIN = OriginDecision(True, reason="no origin")


def _credentialed(origin: str) -> tuple[tuple[str, str], ...]:
    return (
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    )


def decide(
    policy: OriginPolicy,
    *,
    origin: str | None,
    scheme: str,
    host: str | None,
    referer: str | None = None,
    require: bool = False,
) -> OriginDecision:
    """The decision for a request (see the module's docstring for the rules).

    Args:
        policy: :func:`parse_policy` of the ``origins`` setting.
        origin: the ``Origin`` header, None when absent.
        scheme: the request's own scheme, ``http`` or ``https``.
        host: the request's own ``Host`` (``host[:port]``), None when absent.
        referer: the ``Referer`` header, looked at only when there is no ``Origin``; pass it
            where the 0.9 protocol used it (the handshake, JSONP).
        require: refuse a request that shows neither (JSONP), unless the policy is ``*``.
    """
    via_referer = origin is None and referer is not None
    source = referer if via_referer else origin
    if source is None:
        if require and not policy.any:
            return OriginDecision(False, reason="no Origin or Referer on a JSONP request")
        return OriginDecision(True, reason="no origin")
    if policy.any:
        return OriginDecision(True, _ANY if origin is not None else (), "any origin")
    if source == "null" and not via_referer:
        if policy.null:
            return OriginDecision(True, _credentialed("null"), "listed")
        return OriginDecision(False, reason="the null origin")
    site = _site(source, via_referer)
    if site is None:
        return OriginDecision(False, reason="malformed origin")
    own = _own_site(scheme, host) if host else None
    if site == own:
        return OriginDecision(True, reason="same origin")
    for entry in policy.entries:
        if entry.matches(site):
            if origin is None:
                headers: tuple[tuple[str, str], ...] = ()
            else:
                headers = _credentialed(origin) if entry.named else _ANY
            return OriginDecision(True, headers, "listed")
    return OriginDecision(False, reason="cross origin")


# -- the adapter --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _trusted(spec: tuple[str, ...]) -> TrustedProxies:
    return TrustedProxies(spec)


def _peer(request: Any) -> str:
    """The address that sent ``request`` (not the client a proxy names)."""
    connection = request.connection
    peer = getattr(getattr(connection, "context", None), "tornio_peer", None)
    if peer:  # Tornado, behind ForwardedHeaders (or forwarded over the bus from there)
        return str(peer[0])
    address = getattr(connection, "address", None)  # the fast path's connection
    if isinstance(address, tuple) and address:
        return str(address[0])
    sock = getattr(getattr(connection, "stream", None), "socket", None)
    if sock is not None:  # Tornado without ForwardedHeaders (xheaders may have rewritten
        try:  # remote_ip from the client's own headers)
            return str(sock.getpeername()[0])
        except (OSError, IndexError, TypeError):
            return ""
    return str(request.remote_ip or "")


def own_host(request: Any, trusted_proxies: Sequence[str]) -> str | None:
    """The request's own host: ``X-Forwarded-Host`` (its last value) from a trusted proxy,
    else ``Host``. (Its own scheme, ``request.protocol``, is already the one
    ``X-Forwarded-Proto`` names from a trusted proxy.)"""
    headers: Mapping[str, str] = request.headers
    if trusted_proxies:
        forwarded = headers.get("X-Forwarded-Host")
        if forwarded and _peer(request) in _trusted(tuple(trusted_proxies)):
            last = forwarded.split(",")[-1].strip()
            if last:
                return last
    return headers.get("Host")


class RefusalLog:
    """Logs refusals at INFO, at most ``limit`` lines per ``window`` seconds, then one line
    saying how many were left out."""

    def __init__(
        self, limit: int = 20, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.start = -window
        self.count = 0
        self.dropped = 0

    def __call__(self, message: str, *args: object) -> None:
        now = self.clock()
        if now - self.start >= self.window:
            if self.dropped:
                log.info("%d more origin refusals were not logged", self.dropped)
            self.start, self.count, self.dropped = now, 0, 0
        if self.count < self.limit:
            self.count += 1
            log.info(message, *args)
        else:
            self.dropped += 1


refusals = RefusalLog()


def request_decision(
    request: Any,
    settings: Any,
    *,
    referer: bool = False,
    require: bool = False,
    websocket: bool = False,
) -> tuple[OriginDecision, str | None, str | None]:
    """:func:`decide` for a Tornado ``HTTPServerRequest`` (or the fast path's, or a
    forwarded one) under ``settings`` (``origins``, ``trusted_proxies``), not logged: the
    decision, the origin it was made for and the request's own host (what a log line shows).

    ``referer`` and ``require`` as for :func:`decide`; ``websocket``: an upgrade, whose old
    (hybi-07 to -10) clients send ``Sec-WebSocket-Origin`` instead of ``Origin``.
    """
    headers: Mapping[str, str] = request.headers
    origin = headers.get("Origin")
    if origin is None and websocket:
        origin = headers.get("Sec-WebSocket-Origin")
    if origin is None and not referer:
        return _NO_ORIGIN, None, None  # a non-browser client (decide's answer, without work)
    try:
        policy = parse_policy(settings.origins)
    except ValueError:
        log.exception("the origins setting is invalid: only the same origin is allowed")
        policy = OriginPolicy()
    host = own_host(request, settings.trusted_proxies)
    decision = decide(
        policy,
        origin=origin,
        scheme=request.protocol,
        host=host,
        referer=headers.get("Referer") if referer else None,
        require=require,
    )
    return decision, origin, host


def check_request(
    request: Any,
    settings: Any,
    *,
    referer: bool = False,
    require: bool = False,
    websocket: bool = False,
) -> OriginDecision:
    """:func:`request_decision`'s decision; a refusal is logged."""
    decision, origin, host = request_decision(
        request, settings, referer=referer, require=require, websocket=websocket
    )
    if not decision.allowed:
        headers: Mapping[str, str] = request.headers
        shown = origin if origin is not None else headers.get("Referer")
        refusals(
            "refused %s %s from %s: %s %r (own origin %s://%s)",
            request.method,
            request.path,
            request.remote_ip,
            decision.reason,
            shown[:MAX_ORIGIN_LENGTH] if shown else shown,
            request.protocol,
            host,
        )
    return decision
