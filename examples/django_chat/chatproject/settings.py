"""Settings of the Django chat example: SQLite, sessions in the database, the ``chat`` app and
``tornio.contrib.django`` (for ``manage.py runserver_socketio``).

Made for running on your own machine. Environment variables:

- ``DJANGO_CHAT_DB``: the SQLite file (default ``db.sqlite3`` here);
- ``DJANGO_DEBUG``: ``0`` turns debugging (and static file serving) off;
- ``DJANGO_SECRET_KEY``: set one for anything but a local try.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
NODE_MODULES = BASE_DIR / "node_modules"

SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-tornio-chat-example-not-for-production"
)
DEBUG = os.environ.get("DJANGO_DEBUG", "1") != "0"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "tornio.contrib.django",  # manage.py runserver_socketio
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatproject.urls"
WSGI_APPLICATION = "chatproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Two worker processes and their session-loading threads share one SQLite file: WAL lets
# readers and a writer work at once, IMMEDIATE transactions take the write lock up front
# (no "database is locked" half-way through), and a writer waits up to 20 s for it.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_CHAT_DB") or BASE_DIR / "db.sqlite3",
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The namespace reads the session from the database, in a thread (tornio.contrib.django).
SESSION_ENGINE = "django.contrib.sessions.backends.db"

LOGIN_REDIRECT_URL = "rooms"
LOGOUT_REDIRECT_URL = "rooms"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The browser libraries, straight from node_modules (npm installs them: see ./run).
STATICFILES_DIRS = [
    ("vendor/socket.io-0.9", NODE_MODULES / "socket.io-client" / "dist"),
    ("vendor/socket.io-4", NODE_MODULES / "socket.io-client-4" / "dist"),
    ("vendor/jquery", NODE_MODULES / "jquery" / "dist"),
]

# tornio's Router settings (see tornio/settings.py), for runserver_socketio.
TORNIO = {"resource": "socket.io"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"chat": {"handlers": ["console"], "level": "INFO"}},
}
