"""The Python examples of README.md and docs/**/*.md, as ``tests/test_docs_examples.py`` runs
them.

Every ```` ```python ```` block is one of two kinds, said by the line just before it:

* ``<!-- fragment -->`` (or ``<!-- fragment: why -->``): a piece of an application that names
  things it does not define; it is compiled, not run.
* anything else: a **complete application**. It is imported as a module of its own; it must
  define ``namespaces`` (a dict) or ``router`` (a :class:`tornio.Router`), which is served on
  a free loopback port. A ``<!-- check: {...} -->`` line before it says what clients do
  (see :func:`run_checks`); without one, a python-socketio client connects every namespace
  the dict names.

A check is JSON: ``{"clients": {"ann": "modern", "bob": "legacy"}, "steps": [...]}`` (a modern
client may be ``{"kind": "modern", "answers": {"question": 42}}``: it answers the server's
``question`` events, asked with an ack, with 42), each step one of

* ``[client, "connect", [namespace, ...]]``, or with a modern client's ``auth`` after it;
* ``[client, "emit", namespace, [event, *args], [*ack_args]]``: the ack must be these
  arguments (a 0.9 client asks for a data ack, a modern one calls);
* ``[client, "send", namespace, [event, *args]]``: no ack asked;
* ``[client, "expect", namespace, [event, *args]]``: the next event the client receives on
  that namespace is this one.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import socketio  # type: ignore[import-untyped]

from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient
from tornio import Router
from tornio.protocol import legacy

__all__ = ["Block", "CheckFailed", "extract_blocks", "load_app", "run_checks"]

TIMEOUT = 5.0

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(.*?)\s*$")
PYTHON = re.compile(r"^(python|py|python3|\{code-block\}\s+python|\{code\}\s+python)$")
FRAGMENT = re.compile(r"^<!--\s*fragment(:.*)?-->$")
CHECK = re.compile(r"^<!--\s*check:\s*(\{.*\})\s*-->$")


@dataclass(frozen=True)
class Block:
    """One ```python block: where it is, its code, and its kind."""

    path: Path
    line: int  # of the opening fence, 1-based
    code: str
    info: str  # the fence's info string, as written
    fragment: bool
    check: dict[str, Any] | None

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


class CheckFailed(AssertionError):
    """A step of a check did not see what it said."""


def extract_blocks(path: Path) -> list[Block]:
    """Every Python code block of a Markdown file, with the marker before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, fence, info = match.groups()
        end = i + 1
        while end < len(lines):
            closing = FENCE.match(lines[end])
            if closing and closing.group(2).startswith(fence) and not closing.group(3):
                break
            end += 1
        if PYTHON.match(info):
            body = [line[len(indent):] if line.startswith(indent) else line
                    for line in lines[i + 1:end]]  # fmt: skip
            marker = _marker_before(lines, i)
            check = CHECK.match(marker)
            blocks.append(Block(
                path=path,
                line=i + 1,
                code="\n".join(body) + "\n",
                info=info,
                fragment=bool(FRAGMENT.match(marker)),
                check=json.loads(check.group(1)) if check else None,
            ))  # fmt: skip
        i = end + 1
    return blocks


def _marker_before(lines: list[str], index: int) -> str:
    j = index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    return lines[j].strip() if j >= 0 else ""


def load_app(block: Block, directory: Path, name: str) -> ModuleType:
    """Import a complete application's block as the module ``name`` (written to
    ``directory``); the module stays out of ``sys.modules`` afterwards."""
    source = directory / f"{name}.py"
    source.write_text(block.code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look modules up while they load
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def router_of(module: ModuleType) -> Router:
    router = getattr(module, "router", None)
    if isinstance(router, Router):
        return router
    namespaces = getattr(module, "namespaces", None)
    if isinstance(namespaces, dict):
        return Router(namespaces)
    raise AssertionError("a complete example defines `namespaces` (a dict) or `router`")


def default_check(module: ModuleType) -> dict[str, Any]:
    """Connect a modern client to every namespace the application's dict names."""
    namespaces = getattr(module, "namespaces", None) or {"/": None}
    names = [("/" if key in ("", "/") else key) for key in namespaces if isinstance(key, str)]
    return {"clients": {"client": "modern"}, "steps": [["client", "connect", names]]}


class _Modern:
    """python-socketio's AsyncClient, every event it gets queued per namespace."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, asyncio.Queue[list[Any]]] = {}
        self.answers = answers or {}

    async def connect(self, base: str, namespaces: list[str], auth: Any = None) -> None:
        for namespace in namespaces:
            queue: asyncio.Queue[list[Any]] = asyncio.Queue()
            self.events[namespace] = queue

            async def received(event: str, *args: Any, queue: Any = queue) -> None:
                queue.put_nowait([event, *args])

            self.client.on("*", received, namespace=namespace)
            for event, answer in self.answers.items():
                self.client.on(event, lambda *args, answer=answer: answer, namespace=namespace)
        await asyncio.wait_for(
            self.client.connect(base, transports=["websocket"], namespaces=namespaces,
                                auth=auth, wait_timeout=TIMEOUT),
            TIMEOUT,
        )  # fmt: skip

    async def emit(self, namespace: str, event: list[Any], ack: bool) -> list[Any] | None:
        name, args = event[0], tuple(event[1:])
        data = args[0] if len(args) == 1 else (args or None)
        if not ack:
            await self.client.emit(name, data, namespace=namespace)
            return None
        answer = await self.client.call(name, data, namespace=namespace, timeout=TIMEOUT)
        if answer is None:
            return []
        return list(answer) if isinstance(answer, tuple) else [answer]

    async def expect(self, namespace: str) -> list[Any]:
        return await asyncio.wait_for(self.events[namespace].get(), TIMEOUT)

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()


class _Legacy:
    """A 0.9 client over websocket (tests/support/legacy_client.py)."""

    def __init__(self) -> None:
        self.client: LegacyClient | None = None
        self.next_id = 0
        self.events: dict[str, list[list[Any]]] = {}
        self.acks: dict[int, list[Any]] = {}
        self._connected: set[str] = set()

    async def connect(self, base: str, namespaces: list[str], auth: Any = None) -> None:
        self.client = await LegacyClient(base, "websocket").connect()
        for namespace in namespaces:
            endpoint = "" if namespace == "/" else namespace
            self.events[endpoint] = []
            if endpoint:
                await self.client.send(f"1::{endpoint}")
                await self._until(lambda e=endpoint: e in self._connected, "1::" + endpoint)

    async def _read(self) -> None:
        assert self.client is not None
        packet = legacy.decode_packet(await self.client.recv(TIMEOUT))
        kind, endpoint = packet["type"], packet.get("endpoint", "")
        if kind == "connect":
            self._connected.add(endpoint)
        elif kind == "event":
            self.events.setdefault(endpoint, []).append([packet["name"], *packet.get("args", [])])
        elif kind == "ack":
            self.acks[int(packet["ackId"])] = list(packet.get("args", []))
        elif kind == "error":
            raise CheckFailed(f"the 0.9 client got an error packet: {packet}")

    async def _until(self, done: Any, what: str) -> None:
        try:
            while not done():
                await self._read()
        except TimeoutError:
            raise CheckFailed(f"the 0.9 client waited in vain for {what}") from None

    async def emit(self, namespace: str, event: list[Any], ack: bool) -> list[Any] | None:
        assert self.client is not None
        endpoint = "" if namespace == "/" else namespace
        msg_id = None
        if ack:
            self.next_id += 1
            msg_id = self.next_id
        await self.client.send(legacy.encode_event(endpoint, event[0], event[1:], msg_id))
        if msg_id is None:
            return None
        await self._until(lambda: msg_id in self.acks, f"the ack of {event[0]!r}")
        return self.acks.pop(msg_id)

    async def expect(self, namespace: str) -> list[Any]:
        endpoint = "" if namespace == "/" else namespace
        queue = self.events.setdefault(endpoint, [])
        await self._until(lambda: bool(queue), f"an event on {namespace!r}")
        return queue.pop(0)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


async def run_checks(router: Router, check: dict[str, Any]) -> None:
    """Serve ``router`` on a free loopback port and run the check's steps against it."""
    server = InLoopServer(router)
    clients: dict[str, _Modern | _Legacy] = {}
    for name, spec in check["clients"].items():
        kind = spec if isinstance(spec, str) else spec["kind"]
        if kind == "modern":
            clients[name] = _Modern(None if isinstance(spec, str) else spec.get("answers"))
        elif kind == "legacy":
            clients[name] = _Legacy()
        else:
            raise AssertionError(f"unknown client kind {kind!r}")
    try:
        for step in check["steps"]:
            who, action, *rest = step
            client = clients[who]
            if action == "connect":
                await client.connect(server.base, *rest)
            elif action in ("emit", "send"):
                answer = await client.emit(rest[0], rest[1], ack=action == "emit")
                if action == "emit" and answer != rest[2]:
                    raise CheckFailed(f"{step}: the ack was {answer!r}")
            elif action == "expect":
                got = await client.expect(rest[0])
                if got != rest[1]:
                    raise CheckFailed(f"{step}: got {got!r}")
            else:
                raise AssertionError(f"unknown step {step!r}")
    except TimeoutError:
        raise CheckFailed(f"timed out at step {step!r}") from None
    finally:
        for client in clients.values():
            await client.close()
        await server.stop()
