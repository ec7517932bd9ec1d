"""The chat's ``/chat`` namespace (found by ``autodiscover()``, as gevent-socketio's sdjango did).

A logged-in user's nickname is their username, read from the Django session of the browser
that opened the socket (``self.django_user``); anonymous users pick one, which may not be a
registered user's name. The nickname list is read from every socket's session with
``fetch_sessions``, so it stays right with several worker processes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model

from tornio import BroadcastMixin, RoomsMixin, event
from tornio.contrib.django import DjangoNamespace, namespace

log = logging.getLogger("chat")


def nickname_list(sessions: Iterable[dict[str, Any]]) -> list[str]:
    """The sorted nicknames of some sessions (sockets without one yet are left out)."""
    return sorted({s["nickname"] for s in sessions if s.get("nickname")})


def is_username(name: str) -> bool:
    """A registered user has this name (blocking: runs in Django's thread)."""
    return get_user_model().objects.filter(username__iexact=name).exists()


@namespace("/chat")
class ChatNamespace(DjangoNamespace, RoomsMixin, BroadcastMixin):
    room: str | None = None

    async def on_join(self, room: str) -> tuple[bool, str | None]:
        """Join a room. The ack is ``(True, nickname)``: a logged-in user's nickname is their
        username, from the Django session; null asks the page for one."""
        if self.room is not None:
            self.leave(self.room)
        self.room = str(room)
        self.join(self.room)
        nickname = self.session.get("nickname")
        if nickname is None and self.django_user.is_authenticated:
            nickname = self.django_user.get_username()
            log.info("%s joined %s (from the Django session)", nickname, self.room)
            await self._take(nickname)
        return True, nickname

    async def on_nickname(self, nickname: str) -> bool:
        """An anonymous user picks a nickname; False (the ack) when it is taken."""
        if self.django_user.is_authenticated:
            return False  # logged in: the username it is
        nickname = str(nickname).strip()[:32]
        if not nickname or await self.django_call(is_username, nickname):
            return False
        others = await self._others()
        if nickname in nickname_list(others):
            return False
        await self._take(nickname, others)
        return True

    # 4.x clients' names reach an on_ method only when they are Python identifiers: 'user
    # message' needs its handler named (0.9 clients' also find on_user_message by itself).
    @event("user message")
    def on_user_message(self, msg: str) -> bool:
        nickname = self.session.get("nickname")
        if self.room is None or not nickname:
            return False  # join a room and have a nickname first
        self.emit_to_room(self.room, "msg_to_room", nickname, str(msg)[:500])
        return True

    async def recv_disconnect(self) -> None:
        """The user left (closed the page, or the socket timed out): tell the others."""
        nickname = self.session.pop("nickname", None)
        try:
            if nickname:
                others = await self._others()
                self.broadcast_event_not_me("announcement", f"{nickname} disconnected")
                self.broadcast_event_not_me("nicknames", nickname_list(others))
        finally:
            self.disconnect(silent=True)

    async def _others(self) -> list[dict[str, Any]]:
        """The sessions of every other socket of the namespace, on every worker."""
        me = self.sid
        return [s for s in await self.socket.manager.fetch_sessions(self.ns_name) if s["sid"] != me]

    async def _take(self, nickname: str, others: list[dict[str, Any]] | None = None) -> None:
        if others is None:
            others = await self._others()
        self.session["nickname"] = nickname
        self.broadcast_event("announcement", f"{nickname} connected")
        self.broadcast_event("nicknames", nickname_list([*others, self.session]))
