"""python-socketio's ``AsyncClient`` for async tests: the ``sio_clients`` fixture (made
everyone's by tests/conftest.py) is a factory, ``sio_clients(**client_kwargs)``, of clients
that do not reconnect; every one still connected is disconnected after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]

__all__ = ["sio_clients"]


@pytest.fixture
async def sio_clients() -> AsyncIterator[Callable[..., socketio.AsyncClient]]:
    made: list[socketio.AsyncClient] = []

    def make(**kwargs: Any) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        if client.connected:
            await client.disconnect()
