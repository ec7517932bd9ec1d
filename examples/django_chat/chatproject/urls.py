"""The chat project's URLs. Socket.IO (``/socket.io/``) never reaches Django:
``runserver_socketio`` serves it first."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("chat.urls")),
]
