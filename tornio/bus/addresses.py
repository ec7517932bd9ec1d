"""Broker addresses: one address names the broker's two sides (see tornio.bus.broker), and
a comma separates the addresses of several brokers (``tcp://a:5560,tcp://b:5560``: see
tornio.bus.sequence).

Kept apart from the broker so that importing tornio never imports the broker module, which
must stay clean to run as ``python -m tornio.bus.broker``.
"""

from __future__ import annotations

import re

__all__ = ["broker_addresses", "bus_addresses"]

_TCP = re.compile(r"^(tcp://.+):(\d+|\*)$")


def broker_addresses(address: str) -> tuple[str, str]:
    """The (pub, sub) addresses one broker address names (see the module docstring).

    Raises:
        ValueError: an address that is neither ``tcp://HOST:PORT`` nor ``ipc://PATH``, or a
            PORT out of 0-65534 (subscribers use PORT+1).
    """
    match = _TCP.match(address)
    if match:
        host, port = match.groups()
        if port in ("0", "*"):
            return address, address
        if not 0 < int(port) < 65535:
            raise ValueError(
                f"a broker address's port is 1-65534 (subscribers use PORT+1), or 0 or * for "
                f"any free ports, not {port}"
            )
        return address, f"{host}:{int(port) + 1}"
    if address.startswith("ipc://") and len(address) > len("ipc://"):
        return f"{address}.pub", f"{address}.sub"
    raise ValueError(f"a broker address is tcp://HOST:PORT or ipc://PATH, not {address!r}")


def bus_addresses(text: str) -> tuple[str, str]:
    """The pub and sub addresses of one or several brokers (separated by commas), each
    list joined by commas in the same order: what ``ZmqBus`` takes.

    Raises:
        ValueError: no address, one that :func:`broker_addresses` refuses, or one given
            twice.
    """
    given = [part.strip() for part in text.split(",")]
    if not all(given):
        raise ValueError(f"an empty broker address in {text!r}")
    if len(set(given)) != len(given):
        raise ValueError(f"a broker address given twice in {text!r}")
    pairs = [broker_addresses(address) for address in given]
    return ",".join(pub for pub, _ in pairs), ",".join(sub for _, sub in pairs)
