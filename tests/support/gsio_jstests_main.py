"""Serve gevent-socketio's ported ``tests/jstests`` application with tornio, as its
``__main__`` does, on a loopback port the test chose:

    python tests/support/gsio_jstests_main.py JSTESTS_DIR HOST PORT POLICY_PORT

Its ``__main__`` runs ``SocketIOServer(('0.0.0.0', 8080), Application(), resource="socket.io",
policy_server=True).serve_forever()``. This imports the module (so its first line, ``from gevent
import monkey; monkey.patch_all()``, runs first, before anything imports tornio, as when it is
run) and makes the same call with the test's host and port, and the Flash policy server on
the test's port rather than 10843 (its ``policy_listener``, gevent-socketio's keyword). The
working directory is the app's directory: it opens ``static/`` and ``tests/`` from there.

Run as a script, not with ``-m``: ``tests.support``'s ``__init__`` imports tornio, which must
not be imported before the application's first line. Nothing but the standard library is
imported here before the application.
"""

import os
import sys


def main(argv: list[str]) -> None:
    directory, host, port, policy_port = argv
    os.chdir(directory)
    sys.path[0] = directory  # in place of this script's directory, tests/support
    # The application first, as when it runs; then logging, to read what tornio says.
    import jstests  # type: ignore[import-not-found]  # noqa: I001
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    monkey = sys.modules.get("gevent.monkey")
    patched = [name for name in ("socket", "select", "threading", "time", "ssl")
               if monkey is not None and monkey.is_module_patched(name)]
    print(f"jstests: serving on http://{host}:{port}/ (gevent patched: {', '.join(patched)})",
          flush=True)
    jstests.SocketIOServer(
        (host, int(port)), jstests.Application(), resource="socket.io", policy_server=True,
        policy_listener=(host, int(policy_port)),
    ).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
