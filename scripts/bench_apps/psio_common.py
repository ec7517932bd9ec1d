"""The python-socketio handlers both python-socketio servers share (the same events as
tornio's bench namespace: ``echo``, ``join``, ``publish``)."""

from __future__ import annotations

from typing import Any

import socketio  # type: ignore[import-untyped]

from bench_apps import ROOM, heartbeat

__all__ = ["make_server"]


def make_server(async_mode: str) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(
        async_mode=async_mode,
        ping_interval=heartbeat(),
        ping_timeout=20,
        cors_allowed_origins="*",
        logger=False,
        engineio_logger=False,
    )

    async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    async def join(sid: str, room: str) -> bool:
        await sio.enter_room(sid, room)
        return True

    async def publish(sid: str, data: Any) -> bool:
        await sio.emit("msg", data, room=ROOM, skip_sid=sid)
        return True

    sio.on("echo", echo)
    sio.on("join", join)
    sio.on("publish", publish)
    return sio
