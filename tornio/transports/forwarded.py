"""Which client a request comes from when proxies stand between: ``X-Forwarded-For``,
``X-Real-Ip`` and ``X-Forwarded-Proto``, believed only from trusted proxies.

Anyone can send those headers, so they say nothing unless the peer that sent the request is a
proxy the operator named (the ``trusted_proxies`` setting, ``tornio serve --trusted-proxies``,
as uvicorn's ``--forwarded-allow-ips``). The default trusts nobody: ``remote_ip`` is the peer
address. From a trusted peer, the client is the rightmost address of ``X-Forwarded-For`` that
is not itself a trusted proxy (each proxy appends the address it got the request from, so
everything left of the first untrusted one was written by the client and proves nothing).

:func:`resolve` is the decision, with no I/O; :class:`ForwardedHeaders` is the thin Tornado
adapter that applies it to each request's connection context before the application sees the
request (what Tornado's ``xheaders=True`` does, for every peer). A request that another tornio
process forwarded over the bus (:mod:`tornio.transports.forwarding`) carries the client address that
the first process resolved; the owner runs it without looking at its headers again.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tornado.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    RequestStartLine,
    ResponseStartLine,
)

from tornio.settings import parse_trusted_proxies

__all__ = ["Client", "ForwardedHeaders", "TrustedProxies", "resolve", "resolve_headers"]

log = logging.getLogger("tornio.transports.forwarded")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> Address | None:
    """An address as a header or a peer gives it (``[v6]:port`` and ``v4:port`` too), or None.
    An IPv4-mapped IPv6 address is its IPv4 address."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The peers whose forwarded headers are believed: addresses and CIDR networks (a
    string separated by commas, or a sequence), ``'*'`` for every peer. A bad entry raises
    ValueError (:func:`tornio.settings.parse_trusted_proxies`)."""

    def __init__(self, spec: str | Sequence[str] | None = ()) -> None:
        entries = parse_trusted_proxies(spec)
        self.always = "*" in entries
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in entries if entry != "*"
        )

    def __bool__(self) -> bool:
        return self.always or bool(self.networks)

    def __contains__(self, host: object) -> bool:
        if self.always:
            return True
        if not isinstance(host, str):
            return False
        address = _address(host)
        if address is None:
            return False
        return any(address in network for network in self.networks)

    def __repr__(self) -> str:
        entries = ["*"] if self.always else [str(n) for n in self.networks]
        return f"TrustedProxies({entries!r})"


@dataclass(frozen=True)
class Client:
    """Who sent a request: the client's address and the scheme it used (None: the scheme of
    the connection itself)."""

    ip: str
    scheme: str | None = None


_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def resolve(
    peer: str,
    trusted: TrustedProxies,
    forwarded_for: str | None = None,
    real_ip: str | None = None,
    forwarded_proto: str | None = None,
) -> Client:
    """The client of a request that ``peer`` sent with these header values.

    An untrusted peer is the client, whatever it says. A trusted peer's ``X-Forwarded-For``
    names the client: its rightmost entry that is not a trusted proxy (all of them trusted:
    the leftmost; ``'*'`` trusts everyone, so the leftmost too). Without ``X-Forwarded-For``,
    ``X-Real-Ip``. An entry that is not an address leaves the peer as the client. The scheme
    is the last value of ``X-Forwarded-Proto`` (or ``X-Scheme``) when it is http or https
    (ws and wss count as those).
    """
    if peer not in trusted:
        return Client(peer)
    scheme = None
    if forwarded_proto:
        scheme = _SCHEMES.get(forwarded_proto.split(",")[-1].strip().lower())
    claimed: str | None = None
    if forwarded_for:
        hosts = [host.strip() for host in forwarded_for.split(",") if host.strip()]
        if hosts:
            claimed = hosts[0]
            if not trusted.always:
                for host in reversed(hosts):
                    if host not in trusted:
                        claimed = host
                        break
    elif real_ip:
        claimed = real_ip.strip()
    if claimed is None:
        return Client(peer, scheme)
    address = _address(claimed)
    if address is None:
        log.debug("a forwarded client address that is not one: %r (from %s)", claimed, peer)
        return Client(peer, scheme)
    return Client(str(address), scheme)


def resolve_headers(peer: str, headers: Mapping[str, str], trusted: TrustedProxies) -> Client:
    """:func:`resolve` with the values of a request's headers (a case-insensitive mapping)."""
    if peer not in trusted:
        return Client(peer)
    return resolve(
        peer,
        trusted,
        forwarded_for=headers.get("X-Forwarded-For"),
        real_ip=headers.get("X-Real-Ip"),
        forwarded_proto=headers.get("X-Forwarded-Proto") or headers.get("X-Scheme"),
    )


# -- the Tornado adapter ---------------------------------------------------------------------


class ForwardedHeaders(HTTPServerConnectionDelegate):
    """Wraps what an ``HTTPServer`` serves (run it with ``xheaders=False``): each request's
    ``remote_ip`` and ``protocol`` are the ones :func:`resolve` gives. With no trusted
    proxies it adds nothing: requests go straight to the application."""

    def __init__(
        self, app: HTTPServerConnectionDelegate, trusted: TrustedProxies | str | Sequence[str]
    ) -> None:
        self.app = app
        self.trusted = trusted if isinstance(trusted, TrustedProxies) else TrustedProxies(trusted)

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        inner = self.app.start_request(server_conn, request_conn)
        if not self.trusted:
            return inner
        return _Resolver(inner, request_conn, self.trusted)

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)


class _Resolver(HTTPMessageDelegate):
    def __init__(
        self, inner: HTTPMessageDelegate, request_conn: HTTPConnection, trusted: TrustedProxies
    ) -> None:
        self.inner = inner
        self.request_conn = request_conn
        self.trusted = trusted

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        context: Any = getattr(self.request_conn, "context", None)
        if context is not None and hasattr(context, "remote_ip"):
            # The connection's own values, kept from its first request: every request on a
            # kept-alive connection is resolved afresh from the peer, not from the last one.
            peer = getattr(context, "tornio_peer", None)
            if peer is None:
                peer = context.tornio_peer = (context.remote_ip, context.protocol)
            client = resolve_headers(peer[0], headers, self.trusted)
            context.remote_ip = client.ip
            context.protocol = client.scheme or peer[1]
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        self.inner.finish()

    def on_connection_close(self) -> None:
        self.inner.on_connection_close()
