"""The bus that carries emits and room operations between tornio nodes (processes)."""

from __future__ import annotations

from tornio.bus.base import Bus, BusNode
from tornio.bus.local import InProcessBus

__all__ = ["Bus", "BusNode", "InProcessBus"]
