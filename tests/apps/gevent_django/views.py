"""A login view for the tests: ``/login/NAME/`` logs NAME in (the session cookie comes
back)."""

from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse


def login_as(request: HttpRequest, name: str) -> HttpResponse:
    user, _ = get_user_model().objects.get_or_create(username=name)
    login(request, user)
    return HttpResponse(f"logged in as {name}")
