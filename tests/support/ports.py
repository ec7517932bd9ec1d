"""Free loopback ports for servers a test starts (binding port 0 is better where the server
can report the port it got; these are for a server in another process that cannot)."""

from __future__ import annotations

import random
import socket
import subprocess

from tests.support.waiting import wait_for

__all__ = ["HOST", "free_port", "free_port_pair", "wait_for_port"]

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def free_port_pair() -> int:
    """A port P such that P and P+1 are free (a broker binds both).

    Drawn below Linux's ephemeral range (32768 and up), where earlier tests' client
    connections leave TIME_WAIT entries, and probed with SO_REUSEADDR as ZeroMQ binds.
    """
    for _ in range(200):
        port = random.randrange(20_000, 32_000)
        with socket.socket() as first, socket.socket() as second:
            try:
                for sock, number in ((first, port), (second, port + 1)):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind((HOST, number))
                    sock.listen()
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Until something accepts connections on ``port`` of 127.0.0.1; AssertionError if
    ``process`` (which is to listen there) exits first, or after ``timeout`` seconds."""

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"process exited early: {process.communicate()}")
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
        except OSError:
            return False
        return True

    wait_for(listening, timeout, message=f"something to listen on {port}", interval=0.05)
