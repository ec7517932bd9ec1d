"""Integrations of tornio with web frameworks.

- :mod:`tornio.contrib.django`: gevent-socketio's ``sdjango`` on today's Django (the
  ``@namespace`` decorator, ``autodiscover()``, the ``runserver_socketio`` command, and the
  Django session and user of the browser behind a socket).
"""
