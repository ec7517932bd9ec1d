"""Prometheus metrics: a process's snapshot, and its exposition at scrape time.

The hot paths only add to plain integers (:mod:`tornio.core.counters`); nothing here runs
until something asks. :func:`snapshot` reads a manager (its sockets, namespaces and rooms, as
gauges), the process's counters and its bus, as plain JSON values: what a ``tornio serve``
worker sends its supervisor once a second. :func:`render` turns snapshots (one per worker,
labelled ``worker="N"``, and the supervisor's own figures) into the Prometheus text format
with ``prometheus_client``, built afresh for each scrape. ``prometheus_client`` is an optional
dependency (``pip install tornio[metrics]``): only :func:`render` needs it.

In one process (``Router`` in your own Tornado application) serve them with
:class:`MetricsHandler`::

    app = tornado.web.Application(router.urls + [
        (r"/metrics", tornio.metrics.MetricsHandler, {"manager": router.manager}),
    ])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import tornado.web

from tornio.core.counters import ACK_BUCKETS, COUNTERS
from tornio.exceptions import TornioError
from tornio.protocol.endpoints import to_nsp

if TYPE_CHECKING:
    from tornio.core.socket import Socket
    from tornio.manager import SocketManager

__all__ = [
    "CONTENT_TYPE",
    "MetricsHandler",
    "MetricsUnavailable",
    "render",
    "snapshot",
    "transport_of",
    "write_exposition",
]

#: The Prometheus text format's content type.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsUnavailable(TornioError, RuntimeError):
    """``prometheus_client`` is not installed."""


def transport_of(socket: Socket) -> str:
    """The transport that carries a socket now (0.9's names for 0.9 clients: ``websocket``,
    ``xhr-polling``, ``jsonp-polling``, ``htmlfile``, ``xhr-multipart``, ``flashsocket``;
    ``polling`` or ``websocket`` for Engine.IO), ``none`` between two polls of 0.9."""
    return socket.engine.queue_transport


def snapshot(
    manager: SocketManager, *, forwarded: int = 0, started: float | None = None
) -> dict[str, Any]:
    """The process's metrics as plain JSON values: the counters, and gauges read from
    ``manager`` and its bus."""
    sockets: dict[tuple[str, str], int] = {}
    for socket in manager.sockets.values():
        key = (socket.protocol, transport_of(socket))
        sockets[key] = sockets.get(key, 0) + 1
    counts = manager.rooms.counts()
    namespaces = {name: 0 for name in manager.namespaces}
    namespaces.update({name: members for name, (members, _) in counts.items()})
    room_counts = {name: rooms for name, (_, rooms) in counts.items()}
    bus = manager.bus
    stats = getattr(bus, "stats", None)
    live_paths = getattr(bus, "live_paths", None)  # the ZeroMQ bus: brokers that carry it
    return {
        **COUNTERS.snapshot(),
        "sockets": [[protocol, transport, count]
                    for (protocol, transport), count in sorted(sockets.items())],
        "namespaces": namespaces,
        "rooms": room_counts,
        "forwarded": forwarded,
        "bus": {
            "ready": bool(getattr(bus, "is_ready", True)),
            "stats": stats.as_dict() if stats is not None else {},
            "round_trip": getattr(bus, "round_trip", None),
            "live_brokers": len(live_paths()) if live_paths is not None else None,
        },
        "uptime": None if started is None else time.time() - started,
    }


def _families(
    workers: Sequence[tuple[str | None, Mapping[str, Any]]], supervisor: Mapping[str, Any] | None
) -> Iterator[Any]:
    try:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise MetricsUnavailable(
            "metrics need prometheus_client: pip install 'tornio[metrics]'"
        ) from exc

    def labelled(names: list[str]) -> tuple[list[str], bool]:
        with_worker = any(worker is not None for worker, _ in workers)
        return (["worker", *names] if with_worker else names), with_worker

    def family(kind: Any, name: str, doc: str, names: list[str]) -> tuple[Any, bool]:
        labels, with_worker = labelled(names)
        return kind(name, doc, labels=labels), with_worker

    def add(metric: Any, with_worker: bool, worker: str | None, values: list[str],
            value: float) -> None:
        metric.add_metric([worker or "", *values] if with_worker else values, value)

    sockets, w1 = family(GaugeMetricFamily, "tornio_sockets",
                         "Connected clients (sessions) by protocol and transport",
                         ["protocol", "transport"])
    members, w2 = family(GaugeMetricFamily, "tornio_namespace_sockets",
                         "Sockets connected to each namespace", ["namespace"])
    rooms, w3 = family(GaugeMetricFamily, "tornio_rooms",
                       "Rooms with members, per namespace (rooms named by socket ids left out)",
                       ["namespace"])
    traffic = {
        key: family(CounterMetricFamily, name, doc, ["protocol"])
        for key, name, doc in (
            ("messages_in", "tornio_messages_received",
             "Messages received: websocket data frames, packets of polling payloads"),
            ("messages_out", "tornio_messages_sent",
             "Messages sent: websocket data frames, packets of polling payloads"),
            ("bytes_in", "tornio_received_bytes", "Bytes received by the transports"),
            ("bytes_out", "tornio_sent_bytes", "Bytes sent by the transports"),
            ("handshakes", "tornio_handshakes",
             "Sessions opened: 0.9 handshakes, Engine.IO opens"),
        )
    }
    disconnects, w4 = family(CounterMetricFamily, "tornio_disconnects",
                             "Sockets that ended, by node's disconnect reason",
                             ["protocol", "reason"])
    overflows, w9 = family(CounterMetricFamily, "tornio_write_buffer_overflows",
                           "Sessions closed for holding more than max_write_buffer bytes their"
                           " client had not taken", ["protocol", "transport"])
    limited, w10 = family(CounterMetricFamily, "tornio_rate_limited_sockets",
                         "Sockets disconnected for sending more than max_event_rate events",
                         ["protocol"])
    forwarded, w5 = family(CounterMetricFamily, "tornio_forwarded_requests",
                           "HTTP requests forwarded over the bus to their session's owner", [])
    bus_counts = {
        key: family(CounterMetricFamily, name, doc, [])
        for key, name, doc in (
            ("published", "tornio_bus_published_messages", "Messages published on the bus"),
            ("received", "tornio_bus_received_messages", "Messages read from the bus"),
            ("dropped_hwm", "tornio_bus_dropped_messages",
             "Messages dropped at the high-water mark or while the bus was not ready"),
            ("dropped_malformed", "tornio_bus_malformed_messages",
             "Bus messages that did not decode"),
            ("duplicates", "tornio_bus_duplicate_messages",
             "Copies of bus messages dropped (several brokers deliver each message)"),
            ("failovers", "tornio_bus_failovers",
             "Times the node stopped waiting for one broker and took another's copies"),
            ("gaps", "tornio_bus_gaps",
             "Times no broker carried the node's messages for the node timeout"),
            ("published_in_gap", "tornio_bus_published_in_gap_messages",
             "Messages published while no broker carried the node's messages (lost)"),
        )
    }
    bus_ready, w6 = family(GaugeMetricFamily, "tornio_bus_ready",
                           "1 when the bus is connected and flowing", [])
    live_brokers, w11 = family(GaugeMetricFamily, "tornio_bus_live_brokers",
                               "Brokers that carried the node's heartbeats lately", [])
    round_trip, w7 = family(GaugeMetricFamily, "tornio_bus_round_trip_seconds",
                            "How long the last heartbeat took to come back through the broker",
                            [])
    acks, w8 = family(HistogramMetricFamily, "tornio_ack_latency_seconds",
                      "How long clients took to answer the server's acks", [])
    for worker, snap in workers:
        for protocol, transport, count in snap.get("sockets", ()):
            add(sockets, w1, worker, [protocol, transport], count)
        for namespace, count in sorted(snap.get("namespaces", {}).items()):
            add(members, w2, worker, [to_nsp(namespace)], count)
        for namespace, count in sorted(snap.get("rooms", {}).items()):
            add(rooms, w3, worker, [to_nsp(namespace)], count)
        for protocol, values in sorted(snap.get("traffic", {}).items()):
            for key, (metric, with_worker) in traffic.items():
                add(metric, with_worker, worker, [protocol], values.get(key, 0))
        for protocol, reason, count in snap.get("disconnects", ()):
            add(disconnects, w4, worker, [protocol, reason], count)
        for protocol, transport, count in snap.get("overflows", ()):
            add(overflows, w9, worker, [protocol, transport], count)
        for protocol, count in sorted(snap.get("rate_limited", {}).items()):
            add(limited, w10, worker, [protocol], count)
        add(forwarded, w5, worker, [], snap.get("forwarded", 0))
        bus = snap.get("bus", {})
        for key, (metric, with_worker) in bus_counts.items():
            add(metric, with_worker, worker, [], bus.get("stats", {}).get(key, 0))
        add(bus_ready, w6, worker, [], 1 if bus.get("ready") else 0)
        if bus.get("round_trip") is not None:
            add(round_trip, w7, worker, [], bus["round_trip"])
        if bus.get("live_brokers") is not None:
            add(live_brokers, w11, worker, [], bus["live_brokers"])
        answered = snap.get("acks", {})
        counts = answered.get("buckets") or [0] * (len(ACK_BUCKETS) + 1)
        cumulative, buckets = 0, []
        for bound, count in zip([*map(str, ACK_BUCKETS), "+Inf"], counts, strict=False):
            cumulative += count
            buckets.append((bound, cumulative))
        acks.add_metric([worker or ""] if w8 else [], buckets, answered.get("sum", 0.0))
    yield from (sockets, members, rooms)
    yield from (metric for metric, _ in traffic.values())
    yield from (disconnects, overflows, limited, forwarded)
    yield from (metric for metric, _ in bus_counts.values())
    yield from (bus_ready, live_brokers, round_trip, acks)
    if supervisor is not None:
        yield from _supervisor_families(supervisor, CounterMetricFamily, GaugeMetricFamily)


def _supervisor_families(stats: Mapping[str, Any], counter: Any, gauge: Any) -> Iterator[Any]:
    up = gauge("tornio_worker_up", "1 while the worker runs and reports", labels=["worker"])
    restarts = counter("tornio_worker_restarts", "Times the worker was restarted",
                       labels=["worker"])
    age = gauge("tornio_worker_report_age_seconds", "Seconds since the worker last reported",
                labels=["worker"])
    now = time.time()
    for worker in stats.get("workers", ()):
        index = str(worker["index"])
        up.add_metric([index], 1 if worker["alive"] else 0)
        restarts.add_metric([index], worker["restarts"])
        if worker.get("reported_at"):
            age.add_metric([index], max(0.0, now - worker["reported_at"]))
    yield from (up, restarts, age)
    yield counter("tornio_connections_handed", "Connections the supervisor passed to workers",
                  value=stats.get("handed", 0))
    for name, doc in (("broker", "the bus broker"), ("store", "the recovery store")):
        helper = stats.get(name)
        if helper is not None:
            yield counter(f"tornio_{name}_restarts", f"Times {doc} was restarted",
                          value=helper.get("restarts", 0))


class _Collector:
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


def render(
    workers: Sequence[tuple[str | None, Mapping[str, Any]]],
    supervisor: Mapping[str, Any] | None = None,
) -> bytes:
    """The Prometheus text exposition of some snapshots (``(worker label or None,
    snapshot)``) and the supervisor's stats.

    Raises:
        MetricsUnavailable: ``prometheus_client`` is not installed.
    """
    families = list(_families(workers, supervisor))
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(families))
    return bytes(generate_latest(registry))


def write_exposition(handler: tornado.web.RequestHandler, body: Callable[[], Any]) -> None:
    """Answer with ``body()`` as Prometheus's text format, or 501 when prometheus_client is
    not installed."""
    try:
        text = body()
    except MetricsUnavailable as exc:
        handler.set_status(501)
        handler.finish(str(exc))
        return
    handler.set_header("Content-Type", CONTENT_TYPE)
    handler.finish(text)


class MetricsHandler(tornado.web.RequestHandler):
    """``GET``: one process's metrics (see the module docstring)."""

    def initialize(self, manager: SocketManager) -> None:
        self.manager = manager

    def get(self) -> None:
        forwarding = self.manager.forwarding
        write_exposition(self, lambda: render([(None, snapshot(
            self.manager, forwarded=getattr(forwarding, "forwarded", 0)))]))
