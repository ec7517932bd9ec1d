"""The cluster: the bus that carries emits and room operations between tornio nodes
(processes), and what else makes many processes one server.

- :mod:`tornio.bus.ids`: session ids that name the node owning them;
- :mod:`tornio.bus.emitter`: ``Emitter``, emits from any process (a Django view, a job);
- :mod:`tornio.bus.base`: what a bus and a node are (``Bus``, ``BusNode``, ``Message``);
- :mod:`tornio.bus.messages`: the wire schema (msgpack, versioned, topics for SUB filters);
- :mod:`tornio.bus.local`: the in-process bus;
- :mod:`tornio.bus.zmq`: one node's ZeroMQ bus (``ZmqBus``);
- :mod:`tornio.bus.security`: CURVE keys and the broker's authenticator;
- :mod:`tornio.bus.broker`: the XSUB/XPUB broker (``python -m tornio.bus.broker``), not
  imported here so that running it as a module stays clean.
"""

from __future__ import annotations

from tornio.bus.base import Bus, BusNode
from tornio.bus.local import InProcessBus
from tornio.bus.messages import BusMessageError, MessageType
from tornio.bus.zmq import BusStats, ZmqBus

__all__ = ["Bus", "BusMessageError", "BusNode", "BusStats", "InProcessBus", "MessageType", "ZmqBus"]
