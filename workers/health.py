"""The supervisor's operations endpoint: ``/metrics``, ``/health`` and ``/ready`` on a port of
their own (``tornio serve --metrics-port PORT``).

They are not on the main port: the supervisor never reads a request there, it peeks at the
request line and passes the connection to a worker, which knows only its own figures. Here
the supervisor answers itself, from what every worker reported over its channel in the last
second:

- ``GET /metrics``: every worker's metrics (:mod:`tornio.metrics`), labelled ``worker="N"``,
  and the supervisor's own (worker restarts and liveness, connections handed over, broker and
  recovery store restarts), in the Prometheus text format;
- ``GET /health``: liveness, ``200 ok`` while the supervisor's event loop runs;
- ``GET /ready``: readiness, ``200`` when every worker runs, has reported within 3 s and has
  a flowing bus, and the bus broker runs (``503`` otherwise, and while draining), with a JSON
  body that says which part is not. A worker's bus stops flowing when no broker (of one or
  several, ``--bus A,B``) has carried its heartbeats for the node timeout: it is cut off
  from the cluster (see tornio.bus.zmq).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import tornado.web
from tornado.httpserver import HTTPServer

from tornio.metrics import render, write_exposition


class WorkerView(Protocol):
    index: int
    #: Its last metrics report, or None.
    metrics: dict[str, Any] | None


class Supervisor(Protocol):
    """What the endpoints read of the supervisor (``workers.supervisor.Supervisor``)."""

    @property
    def workers(self) -> Sequence[WorkerView]: ...

    def stats(self) -> dict[str, Any]: ...

    def readiness(self) -> tuple[bool, dict[str, Any]]: ...

__all__ = ["HealthServer"]

log = logging.getLogger("tornio.health")


class _Handler(tornado.web.RequestHandler):
    def initialize(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")


class MetricsPage(_Handler):
    def get(self) -> None:
        workers = [(str(w.index), w.metrics) for w in self.supervisor.workers
                   if w.metrics is not None]
        write_exposition(self, lambda: render(workers, self.supervisor.stats()))


class HealthPage(_Handler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok\n")


class ReadyPage(_Handler):
    def get(self) -> None:
        ready, detail = self.supervisor.readiness()
        self.set_status(200 if ready else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(detail))


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Scrapes and probes come every few seconds: logged at debug level only."""
    request = handler.request
    log.debug("%d %s %s (%s)", handler.get_status(), request.method, request.uri,
              request.remote_ip)


class HealthServer:
    """The HTTP server of the endpoints above, on the supervisor's event loop."""

    def __init__(self, supervisor: Supervisor, host: str, port: int) -> None:
        self.supervisor = supervisor
        self.host = host
        self.port = port
        self.server: HTTPServer | None = None

    def start(self) -> None:
        """Listen (an ``OSError`` if the port is taken)."""
        args: dict[str, Any] = {"supervisor": self.supervisor}
        app = tornado.web.Application([
            (r"/metrics", MetricsPage, args),
            (r"/health", HealthPage, args),
            (r"/ready", ReadyPage, args),
        ], log_function=_log_request)
        self.server = app.listen(self.port, self.host or None, xheaders=False)
        log.info("metrics, health and readiness on http://%s:%d/", self.host or "*", self.port)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
