"""The Flash policy, answered on the HTTP port itself (node's "inline" policy mode).

Flash asks for the policy on the port it is about to connect to when the policy port does not
answer. :class:`InlinePolicyHTTPServer` looks at a new connection's first bytes before HTTP
parsing starts (``MSG_PEEK``: nothing is consumed): ``<policy-file-request/>\\0`` is answered
with the policy and a NUL and the connection is closed; anything else (an HTTP request never
starts with ``<``) goes to HTTP untouched. A connection that says nothing for
``sniff_timeout`` seconds goes to HTTP too, whose own timeouts then apply. TLS connections are
not looked at.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from tornado.iostream import IOStream, SSLIOStream, StreamClosedError

from tornio.protocol import flashpolicy
from tornio.transports.heads import HeadLimitHTTPServer

__all__ = ["InlinePolicyHTTPServer"]


class InlinePolicyHTTPServer(HeadLimitHTTPServer):
    """An ``HTTPServer`` (answering 431 to a head over its limit, as its base does) that also
    answers a Flash policy request sent as a connection's first bytes. ``policy_answer``
    (from :func:`tornio.protocol.flashpolicy.policy_answer`) is its one extra keyword
    argument."""

    sniff_timeout = 5.0

    def initialize(self, *args: Any, policy_answer: bytes = b"", **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self.policy_answer = policy_answer or flashpolicy.policy_answer()

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        if isinstance(stream, SSLIOStream):
            super().handle_stream(stream, address)
            return
        _Sniffer(self, stream, address).start()

    def pass_on(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        super().handle_stream(stream, address)


class _Sniffer:
    """Waits for one connection's first bytes, then answers the policy or hands it to HTTP."""

    def __init__(
        self, server: InlinePolicyHTTPServer, stream: IOStream, address: tuple[Any, ...]
    ) -> None:
        self.server = server
        self.stream = stream
        self.address = address
        self.sock: socket.socket = stream.socket
        self.fd = self.sock.fileno()
        self.loop = asyncio.get_running_loop()
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.timer = self.loop.call_later(self.server.sniff_timeout, self.hand_over)
        self.loop.add_reader(self.fd, self.on_readable)

    def stop_watching(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.remove_reader(self.fd)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def hand_over(self) -> None:
        self.stop_watching()
        if not self.stream.closed():
            self.server.pass_on(self.stream, self.address)

    def on_readable(self) -> None:
        try:
            head = self.sock.recv(len(flashpolicy.REQUEST), socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            head = b""
        if not head:  # closed before it said anything
            self.stop_watching()
            self.stream.close()
            return
        kind = flashpolicy.classify(head)
        if kind == flashpolicy.GARBAGE:
            self.hand_over()  # an HTTP request: not ours
        elif kind == flashpolicy.COMPLETE:
            self.stop_watching()
            with contextlib.suppress(OSError):
                self.sock.recv(len(flashpolicy.REQUEST))
            with contextlib.suppress(StreamClosedError):
                self.stream.write(self.server.policy_answer).add_done_callback(
                    lambda _: self.stream.close()
                )
        else:  # the start of a request: look again shortly (the bytes stay readable)
            self.loop.remove_reader(self.fd)
            self.loop.call_later(0.005, self.watch_again)

    def watch_again(self) -> None:
        if self.timer is not None and not self.stream.closed():
            self.loop.add_reader(self.fd, self.on_readable)
