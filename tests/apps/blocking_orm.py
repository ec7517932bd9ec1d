"""A gevent-socketio-style namespace whose plain handlers use Django's ORM and block, for
``tests/test_blocking_cluster.py`` under ``tornio serve --workers 2``.

Django is the chat example's project (``examples/django_chat`` on ``PYTHONPATH``,
``DJANGO_SETTINGS_MODULE=chatproject.settings``, ``DJANGO_CHAT_DB`` a migrated SQLite file);
``TORNIO_TEST_RELEASE`` names the file whose existence releases the blocked handler.
"""

from __future__ import annotations

import os
import threading
import time

import django

django.setup()

from chat.models import ChatRoom  # noqa: E402  (Django must be set up first)

from tornio.contrib.django import DjangoNamespace  # noqa: E402
from tornio.namespace import BaseNamespace  # noqa: E402

#: The most the blocked handler waits for its release: a bound, not part of any assertion.
GIVE_UP = 20.0


class OrmNamespace(BaseNamespace):
    def on_add(self, name: str) -> tuple[int, int, str, int]:
        """Create a room: its id, how many rooms have the name, this thread and process."""
        room = ChatRoom.objects.create(name=str(name)[:40], slug=f"s{time.monotonic_ns()}")
        count = ChatRoom.objects.filter(name=room.name).count()
        return room.pk, count, threading.current_thread().name, os.getpid()

    def on_slow(self, name: str) -> tuple[bool, bool, int]:
        """Create a room, block until released (a file appears), then read it back."""
        ChatRoom.objects.create(name=str(name)[:40], slug=f"s{time.monotonic_ns()}")
        release = os.environ["TORNIO_TEST_RELEASE"]
        deadline = time.monotonic() + GIVE_UP
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.02)
        found = ChatRoom.objects.filter(name=str(name)[:40]).exists()
        return os.path.exists(release), found, os.getpid()


    def on_ticker(self) -> None:
        """gevent-style: spawn a loop that blocks (``time.sleep``) between its emits: it says
        ``tick`` from its thread, waits until released (the release file with ``-ticks``
        after it), then says ``done``."""
        release = os.environ["TORNIO_TEST_RELEASE"] + "-ticks"

        def loop() -> None:
            self.emit("tick", threading.current_thread().name)
            deadline = time.monotonic() + GIVE_UP
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.02)
            self.emit("done", os.path.exists(release), threading.current_thread().name)

        self.spawn(loop)


class DjangoOrmNamespace(DjangoNamespace):
    """tornio's Django namespace, opted in: the user loaded first, then a plain ORM handler."""

    blocking = True

    def on_rooms(self) -> tuple[int, bool, str]:
        return (ChatRoom.objects.count(), self.django_user.is_authenticated,
                threading.current_thread().name)


namespaces = {"/orm": OrmNamespace, "/django": DjangoOrmNamespace}
