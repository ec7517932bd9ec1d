"""What ``import tornio`` gives applications: pinned, so that a change to it is a decision."""

from __future__ import annotations

import importlib

import tornio
import tornio.exceptions

PUBLIC = [
    "BaseNamespace",
    "BroadcastMixin",
    "CallTimeout",
    "ConnectionRefused",
    "Disconnected",
    "Emitter",
    "EventRefused",
    "NameTooLong",
    "RemoteSocket",
    "RoomsMixin",
    "Router",
    "Settings",
    "SocketIOServer",
    "TornioError",
    "event",
    "socketio_manage",
]


def test_the_exported_names_are_pinned_and_import() -> None:
    assert tornio.__all__ == PUBLIC
    namespace: dict[str, object] = {}
    exec("from tornio import *", namespace)
    assert sorted(name for name in namespace if not name.startswith("__")) == sorted(PUBLIC)
    for name in PUBLIC:
        assert namespace[name] is getattr(tornio, name)


def test_internals_stay_in_their_modules() -> None:
    internals = {
        "Socket": "tornio.core.socket",
        "SocketManager": "tornio.manager",
        "EngineConnection": "tornio.modern.endpoint",
        "EngineEndpoint": "tornio.modern.endpoint",
        "InvalidPacket": "tornio.exceptions",
        "ProtocolError": "tornio.exceptions",
    }
    for name, module in internals.items():
        assert not hasattr(tornio, name), name
        assert hasattr(importlib.import_module(module), name), name
    assert not hasattr(tornio.exceptions, "PayloadTooLarge")  # nothing raised it


def test_the_docstring_names_both_protocol_generations() -> None:
    doc = tornio.__doc__ or ""
    assert "Socket.IO 0.9" in doc
    assert "Engine.IO v4 / Socket.IO v5" in doc
    assert "speaks the legacy Socket.IO 0.9 protocol behind" not in doc
