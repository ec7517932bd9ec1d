"""A blocking namespace after ``gevent.monkey.patch_all()``, as gevent-socketio applications
start: run as ``python -m tests.apps.gevent_blocking`` (the patching must not reach the test
process). One client's handler sleeps (``time.sleep``, patched: gevent's) and emits from its
thread (a greenlet, once patched); a second client's ping is answered meanwhile. Prints, as
JSON, the frames in the order they came, and the handler's thread name.
"""

from gevent import monkey

monkey.patch_all()

import asyncio  # noqa: E402
import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from tests.support.engine_client import EngineWebSocket  # noqa: E402
from tests.support.inloop import InLoopServer  # noqa: E402
from tornio.namespace import BaseNamespace  # noqa: E402

release = threading.Event()
#: The most the slow handler waits: a bound, not part of any assertion.
GIVE_UP = 5.0


class Patched(BaseNamespace):
    def on_slow(self) -> str:
        deadline = time.monotonic() + GIVE_UP
        while not release.wait(0.01):  # blocks this thread (a greenlet) until released
            if time.monotonic() > deadline:
                return "gave up"  # on the loop's thread the ping never comes
            time.sleep(0.01)
        self.emit("from_thread", 1)
        return threading.current_thread().name

    def on_ping(self) -> str:
        release.set()  # only once this was answered may the slow one finish
        return "pong"


async def main() -> None:
    server = await InLoopServer.start({"/g": Patched})
    order: list[str] = []
    try:
        a = await EngineWebSocket.open(server.base)
        await a.join("/g")
        b = await EngineWebSocket.open(server.base)
        await b.join("/g")
        await a.send('42/g,1["slow"]')
        await b.send('42/g,1["ping"]')
        order.append(f"b {await b.recv()}")
        order.append(f"a {await a.recv()}")
        order.append(f"a {await a.recv()}")
        a.close()
        b.close()
    finally:
        await server.stop()
    print(json.dumps(order))


if __name__ == "__main__":
    asyncio.run(main())
