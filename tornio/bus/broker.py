"""The bus broker: an XSUB/XPUB forwarder that every node's PUB and SUB sockets connect to.

N nodes make N connections to it instead of N² to each other, and may come and go: ZeroMQ
reconnects them by themselves when the broker restarts, and their SUB sockets send their
subscriptions again.

Two addresses, named from the nodes' side:

- the **pub address**, the broker's XSUB socket, where nodes' PUB sockets connect;
- the **sub address**, the broker's XPUB socket, where nodes' SUB sockets connect.

One address is enough to name both (:func:`broker_addresses`): ``tcp://HOST:PORT`` means the
pub address at PORT and the sub address at PORT+1; ``ipc://PATH`` means ``ipc://PATH.pub`` and
``ipc://PATH.sub``. Port 0 (or ``*``) binds both to random free ports (tests).

Run it as a process::

    python -m tornio.bus.broker --bind tcp://127.0.0.1:5560        # 5560 and 5561
    python -m tornio.bus.broker --pub-bind tcp://*:7000 --sub-bind tcp://*:7001

It prints one line, ``tornio-broker pub=ADDRESS sub=ADDRESS``, once both are bound, and stops
cleanly on SIGTERM or SIGINT. Or use :class:`Broker` in-process (tests, a supervisor).

The forwarding itself is libzmq's ``zmq_proxy_steerable`` on a thread: it runs in C without
the GIL, copies no message into Python, and stops on a TERMINATE command sent over an inproc
control socket, so :meth:`Broker.stop` needs neither a context termination race nor polling.
An asyncio loop in Python would only add a copy per message and per hop. The broker never
decodes messages: validation is each node's job.

Back-pressure and bounds: the XPUB side drops messages for a subscriber whose queue (``hwm``
messages) is full, as PUB sockets do; it never blocks the other subscribers. ZeroMQ counts
queues in messages, so each connection's queue holds at most ``hwm`` × the largest message:
``max_message`` bytes (``ZMQ_MAXMSGSIZE`` on the XSUB side: a publisher that sends a larger
frame is disconnected, so no node's and no emitter's oversized frame is ever forwarded). With
the defaults (1,000 messages, 1 MiB + 8 KiB) that is ~1 GiB per connection in the very worst
case (every message the largest allowed, every subscriber stalled); ~0.2 MB per connection
with 200-byte emits. The broker never hands libzmq a subscription of its own: topics come
from the nodes, which refuse any longer than :data:`~tornio.bus.messages.MAX_TOPIC`.

Security: with ``curve`` (a :class:`~tornio.bus.security.CurveServer`; ``--curve-dir DIR``)
both sockets are CURVE servers and a ZAP handler lets in only authorized client keys (see
:mod:`tornio.bus.security`). ``main`` refuses to bind an address that is not loopback (or
ipc) without it, unless given ``--insecure``.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType, TracebackType

import zmq

from tornio.bus import security
from tornio.bus.addresses import broker_addresses
from tornio.bus.messages import MAX_PAYLOAD
from tornio.bus.security import Authenticator, CurveError, CurveServer

__all__ = ["DEFAULT_HWM", "DEFAULT_MAX_MESSAGE", "Broker", "broker_addresses", "main"]

log = logging.getLogger("tornio.bus.broker")

#: Messages queued per connection before the broker drops (XPUB) or stops reading (XSUB).
DEFAULT_HWM = 1_000
#: The largest frame the broker takes from a publisher (a payload of
#: :data:`~tornio.bus.messages.MAX_PAYLOAD` and its topic, with room to spare).
DEFAULT_MAX_MESSAGE = MAX_PAYLOAD + 8192

_TCP = re.compile(r"^(tcp://.+):(\d+|\*)$")


def _bind(socket: zmq.Socket[bytes], address: str) -> str:
    """Bind, choosing a random free port for ``tcp://HOST:0``; return the bound endpoint."""
    match = _TCP.match(address)
    if match and match.group(2) in ("0", "*"):
        port = socket.bind_to_random_port(match.group(1))
        return f"{match.group(1)}:{port}"
    socket.bind(address)
    endpoint = socket.getsockopt(zmq.LAST_ENDPOINT)
    return endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)


class Broker:
    """An XSUB/XPUB forwarder on a thread.

    Args:
        pub_bind: where to bind the XSUB socket that nodes publish to, or a single address
            for both (see :func:`broker_addresses`) when ``sub_bind`` is None.
        sub_bind: where to bind the XPUB socket that nodes subscribe to.
        hwm: the send and receive high-water marks of both sockets, in messages.
        max_message: the largest frame a publisher may send, in bytes (larger: libzmq
            disconnects it); raise it with the nodes' ``max_payload``.
        curve: the broker's CURVE keys and the client keys it lets in; None: no security.

    After :meth:`start`, :attr:`pub_address` and :attr:`sub_address` are the bound endpoints
    (random ports resolved)::

        with Broker("tcp://127.0.0.1:0") as broker:
            bus = ZmqBus(broker.pub_address, broker.sub_address)
    """

    def __init__(
        self,
        pub_bind: str,
        sub_bind: str | None = None,
        *,
        hwm: int = DEFAULT_HWM,
        max_message: int = DEFAULT_MAX_MESSAGE,
        curve: CurveServer | None = None,
    ) -> None:
        if sub_bind is None:
            pub_bind, sub_bind = broker_addresses(pub_bind)
        self.pub_bind = pub_bind
        self.sub_bind = sub_bind
        self.hwm = hwm
        self.max_message = max_message
        self.curve = curve
        self.authenticator: Authenticator | None = None
        self.pub_address = ""
        self.sub_address = ""
        self._context: zmq.Context[zmq.Socket[bytes]] | None = None
        self._sockets: list[zmq.Socket[bytes]] = []
        self._control: zmq.Socket[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._control_address = f"inproc://tornio-broker-{id(self):x}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Broker:
        """Bind both sockets (raising ``zmq.ZMQError`` if an address is taken) and start
        forwarding."""
        if self._context is not None:
            raise RuntimeError("the broker has been started already")
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._context = context
        try:
            if self.curve is not None:  # the ZAP handler must be there before any handshake
                self.authenticator = Authenticator(context, self.curve).start()
            xsub = self._socket(zmq.XSUB)
            xsub.setsockopt(zmq.MAXMSGSIZE, self.max_message)
            xpub = self._socket(zmq.XPUB)
            if self.curve is not None:
                self.curve.apply(xsub)
                self.curve.apply(xpub)
            self.pub_address = _bind(xsub, self.pub_bind)
            self.sub_address = _bind(xpub, self.sub_bind)
            self._control = self._socket(zmq.PAIR)
            self._control.bind(self._control_address)
            worker_control = self._socket(zmq.PAIR)
            worker_control.connect(self._control_address)
        except BaseException:
            self._close()
            raise
        self._thread = threading.Thread(
            target=self._run, args=(xsub, xpub, worker_control), name="tornio-broker", daemon=True
        )
        self._thread.start()
        log.info(
            "bus broker: publishers at %s, subscribers at %s", self.pub_address, self.sub_address
        )
        return self

    def _socket(self, kind: int) -> zmq.Socket[bytes]:
        assert self._context is not None
        socket = self._context.socket(kind)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.SNDHWM, self.hwm)
        socket.setsockopt(zmq.RCVHWM, self.hwm)
        self._sockets.append(socket)
        return socket

    def _run(
        self, xsub: zmq.Socket[bytes], xpub: zmq.Socket[bytes], control: zmq.Socket[bytes]
    ) -> None:
        try:
            zmq.proxy_steerable(xsub, xpub, None, control)
        except zmq.ZMQError as exc:
            if exc.errno != zmq.ETERM:
                log.error("bus broker stopped: %s", exc)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop forwarding, close every socket with linger 0, end the context. Idempotent."""
        if self._thread is not None and self._control is not None:
            try:
                self._control.send(b"TERMINATE")
            except zmq.ZMQError as exc:  # pragma: no cover - the proxy thread is gone
                log.warning("cannot stop the bus broker thread: %s", exc)
            self._thread.join(timeout)
            if self._thread.is_alive():  # pragma: no cover
                log.error("the bus broker thread did not stop within %s s", timeout)
        self._thread = None
        self._close()

    def _close(self) -> None:
        for socket in self._sockets:
            socket.close(linger=0)
        self._sockets.clear()
        self._control = None
        if self.authenticator is not None:
            self.authenticator.stop()
            self.authenticator = None
        if self._context is not None:
            self._context.term()
            self._context = None

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None, *, curve: CurveServer | None = None) -> int:
    """``python -m tornio.bus.broker``: run a broker until SIGTERM or SIGINT. ``curve``
    (the ``tornio broker`` command's keys from the environment) stands for ``--curve-dir``."""
    parser = argparse.ArgumentParser(
        prog="python -m tornio.bus.broker",
        description="The tornio bus broker (XSUB/XPUB forwarder).",
    )
    parser.add_argument(
        "--bind",
        help="one address for both sides: tcp://HOST:PORT (publishers at PORT, subscribers at "
        "PORT+1; port 0 picks two free ports) or ipc://PATH (PATH.pub and PATH.sub)",
    )
    parser.add_argument("--pub-bind", help="where publishers connect (XSUB); overrides --bind")
    parser.add_argument("--sub-bind", help="where subscribers connect (XPUB); overrides --bind")
    parser.add_argument(
        "--hwm",
        type=int,
        default=DEFAULT_HWM,
        help="high-water mark per connection, in messages (default %(default)s)",
    )
    parser.add_argument(
        "--curve-dir",
        metavar="DIR",
        help="CURVE security: broker.key_secret and authorized/*.key in DIR (see tornio keys)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="bind an address that is not loopback without CURVE (a trusted network only)",
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--supervised",
        action="store_true",
        help="ignore SIGINT: run by tornio serve, which stops it (SIGTERM) after the workers "
        "have left the bus, also on Ctrl-C (which reaches the whole process group)",
    )
    args = parser.parse_args(argv)
    pub_bind, sub_bind = args.pub_bind, args.sub_bind
    if args.bind:
        try:
            default_pub, default_sub = broker_addresses(args.bind)
        except ValueError as exc:
            parser.error(str(exc))
        pub_bind, sub_bind = pub_bind or default_pub, sub_bind or default_sub
    if not pub_bind or not sub_bind:
        parser.error("give --bind, or both --pub-bind and --sub-bind")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if args.curve_dir:
        try:
            curve = security.load_server(args.curve_dir)
        except CurveError as exc:
            parser.error(str(exc))
    exposed = [a for a in (pub_bind, sub_bind) if not security.is_local_address(a)]
    if exposed and curve is None:
        if not args.insecure:
            parser.error(
                f"refusing to bind {', '.join(exposed)} without CURVE: anyone who reaches it "
                "could read and inject bus messages. Give --curve-dir (see tornio keys), or "
                "--insecure on a trusted network."
            )
        log.warning("bus broker on %s without CURVE (--insecure)", ", ".join(exposed))

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, signal.SIG_IGN if args.supervised else on_signal)
    broker = Broker(pub_bind, sub_bind, hwm=args.hwm, curve=curve)
    try:
        broker.start()
    except zmq.ZMQError as exc:
        log.error("cannot bind the bus broker: %s", exc)
        return 1
    print(
        f"tornio-broker pub={broker.pub_address} sub={broker.sub_address}"
        + (f" curve={curve.public_key.decode()}" if curve is not None else ""),
        flush=True,
    )
    try:
        while not stopping.wait(1.0):
            if not broker.running:  # pragma: no cover - the proxy failed
                return 1
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
