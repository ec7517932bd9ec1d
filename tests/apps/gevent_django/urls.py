"""gevent-socketio's Django wiring, renamed: ``sdjango.autodiscover()`` and
``include(sdjango.urls)`` under ``^socket\\.io``."""

from django.urls import include, re_path

from tests.apps.gevent_django import views
from tornio import sdjango

sdjango.autodiscover()

urlpatterns = [
    re_path(r"^login/(?P<name>\w+)/$", views.login_as),
    re_path(r"^socket\.io", include(sdjango.urls)),
]
