"""The Django app ``tornio.contrib.django``: add it to ``INSTALLED_APPS`` for the
``runserver_socketio`` management command."""

from __future__ import annotations

from django.apps import AppConfig


class TornioConfig(AppConfig):
    name = "tornio.contrib.django"
    label = "tornio"  # "django", the default, would read as Django's own
    verbose_name = "tornio (Socket.IO)"
