"""``AdminNamespace``: the Admin UI's namespace (``/admin``), on tornio's namespace API.

Login: the UI sends ``auth: {username, password}``; the password is checked against the
bcrypt hash (off the event loop), and a session id is sent back as the ``session`` event;
the UI reconnects later with ``auth: {sessionId}``. A session id names when it was issued
and is signed with the password hash, so every worker (and host) of the cluster accepts it
without a shared store, until ``session_duration`` has passed or the password changes.
Anything else is refused with ``invalid credentials`` (what the UI shows as such).

Then the UI gets ``config`` (the features: ``EMIT``, ``JOIN``, ``LEAVE``, ``DISCONNECT``,
``MJOIN``, ``MLEAVE``, ``MDISCONNECT`` unless read-only, ``AGGREGATED_EVENTS``, and
``ALL_EVENTS`` in development mode) and, in development mode, ``all_sockets`` (every
socket of every worker). Its commands act on the whole cluster, through the cluster
operations (a socket id is a room too):

- ``emit(nsp, filter, event, *args)``: ``emit`` to the namespace, or to the room(s) or
  socket named by ``filter``;
- ``join(nsp, room, filter)``, ``leave(nsp, room, filter)``: ``sockets_join`` /
  ``sockets_leave``;
- ``_disconnect(nsp, close, filter)``: ``disconnect_sockets(close)``.

Each answers its ack (when asked for one) with ``{"ok": true}``. A read-only UI's command
gets the ``error`` event ``["method_access_denied", …]`` (the namespace's ACL), a malformed
one ``["invalid_admin_command", "<what is wrong>"]`` and ``{"ok": false, "error": …}`` as its
ack; both are logged, and nothing is done.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from tornio.core.namespace import BaseNamespace
from tornio.exceptions import ConnectionRefused, TornioError
from tornio.protocol.endpoints import to_endpoint

if TYPE_CHECKING:
    from tornio.admin.instrument import Instrument
    from tornio.admin.options import AdminOptions

__all__ = ["AdminNamespace", "InvalidCommand"]

log = logging.getLogger("tornio.admin")

#: The UI's events → the methods that run them.
COMMANDS = {"emit": "on_emit", "join": "on_join", "leave": "on_leave",
            "_disconnect": "on__disconnect"}
#: What a read-only UI may call.
READONLY_ACL = ("recv_connect", "recv_message", "recv_json", "recv_error", "recv_disconnect")
RESERVED = frozenset({"connect", "connect_error", "disconnect", "disconnecting",
                      "newListener", "removeListener"})


class InvalidCommand(TornioError, ValueError):
    """A command the UI sent does not make sense."""


def make_session_id(secret: str, now: float | None = None) -> str:
    issued = f"{int(time.time() if now is None else now):x}.{secrets.token_hex(8)}"
    mac = hmac.new(secret.encode(), issued.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{issued}.{mac}"


def check_session_id(secret: str, value: Any, duration: float) -> bool:
    if not isinstance(value, str) or value.count(".") != 2 or len(value) > 100:
        return False
    issued, _, mac = value.rpartition(".")
    expected = hmac.new(secret.encode(), issued.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(mac, expected):
        return False
    try:
        when = int(issued.partition(".")[0], 16)
    except ValueError:
        return False
    return 0 <= time.time() - when <= duration


def _rooms(value: Any, what: str) -> list[str] | None:
    """A filter: None (everything), a room or socket id, or a list of them."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise InvalidCommand(f"{what} is a room or socket id (or a list of them)")


class AdminNamespace(BaseNamespace):
    """The Admin UI's side of the server (see the module docstring). ``Router(admin=…)``
    makes a subclass bound to its options and instrument."""

    options: ClassVar[AdminOptions]
    instrument: ClassVar[Instrument]

    def get_initial_acl(self) -> Iterable[str] | None:
        return READONLY_ACL if self.options.readonly else None

    # -- login -------------------------------------------------------------------------------

    async def recv_connect(self) -> None:
        options = self.options
        if options.authenticated:
            await self._authenticate(options)
        features = ["AGGREGATED_EVENTS"]
        if not options.readonly:
            features[:0] = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE",
                            "MDISCONNECT"]
        if options.development:
            features.append("ALL_EVENTS")
        self.instrument.admin_joined()
        self.emit("config", {"supportedFeatures": features})
        if options.development:
            self.spawn(self._send_all_sockets)

    async def _authenticate(self, options: AdminOptions) -> None:
        secret = options.password_hash
        assert secret is not None
        auth = self.auth
        if check_session_id(secret, auth.get("sessionId"), options.session_duration):
            return
        username, password = auth.get("username"), auth.get("password")
        if username == options.username and isinstance(password, str) and len(password) < 1024:
            import bcrypt

            matches = await asyncio.get_running_loop().run_in_executor(
                None, bcrypt.checkpw, password.encode(), secret.encode())
            if matches:
                self.emit("session", make_session_id(secret))
                return
        log.warning("admin: invalid credentials from %s",
                    self.request.remote_ip if self.request is not None else "?")
        raise ConnectionRefused("invalid credentials")

    async def _send_all_sockets(self) -> None:
        self.emit("all_sockets", await self.instrument.all_sockets())

    # -- commands ----------------------------------------------------------------------------

    def process_event(self, packet: dict[str, Any]) -> Any:
        method = COMMANDS.get(packet["name"])
        if method is None:
            return super().process_event(packet)
        return self.call_method_with_acl(method, packet, *packet.get("args", ()))

    def _run(self, command: str, action: Any, *args: Any) -> dict[str, Any]:
        try:
            action(*args)
        except (InvalidCommand, TypeError, ValueError) as exc:
            log.warning("admin: refused %s%r: %s", command, args, exc)
            self.error("invalid_admin_command", f"{command}: {exc}")
            return {"ok": False, "error": str(exc)}
        return {"ok": True}

    def _endpoint_of(self, nsp: Any) -> str:
        if not isinstance(nsp, str):
            raise InvalidCommand("the namespace is a string")
        endpoint = to_endpoint(nsp)
        if endpoint != "" and endpoint not in self.instrument.manager.namespaces:
            raise InvalidCommand(f"no namespace {nsp!r}")
        return endpoint

    def on_emit(self, *args: Any) -> dict[str, Any]:
        def emit(nsp: Any = None, selected: Any = None, event: Any = None, *values: Any) -> None:
            endpoint = self._endpoint_of(nsp)
            rooms = _rooms(selected, "the filter")
            if not isinstance(event, str) or not event or event in RESERVED:
                raise InvalidCommand("the event name is a string, not a reserved one")
            self.instrument.manager.emit(event, *values, namespace=endpoint, room=rooms)

        return self._run("emit", emit, *args)

    def on_join(self, *args: Any) -> dict[str, Any]:
        return self._run("join", self._rooms_command, "join", *args)

    def on_leave(self, *args: Any) -> dict[str, Any]:
        return self._run("leave", self._rooms_command, "leave", *args)

    def _rooms_command(self, what: str, nsp: Any = None, room: Any = None,
                       selected: Any = None, *extra: Any) -> None:
        endpoint = self._endpoint_of(nsp)
        rooms = _rooms(room, "the room")
        if rooms is None or extra:
            raise InvalidCommand(f"{what} takes a namespace, a room and a filter")
        manager = self.instrument.manager
        operate = manager.sockets_join if what == "join" else manager.sockets_leave
        operate(rooms, namespace=endpoint, room=_rooms(selected, "the filter"))

    def on__disconnect(self, *args: Any) -> dict[str, Any]:
        def disconnect(nsp: Any = None, close: Any = False, selected: Any = None,
                       *extra: Any) -> None:
            endpoint = self._endpoint_of(nsp)
            if not isinstance(close, bool) or extra:
                raise InvalidCommand("_disconnect takes a namespace, close (a boolean) and a "
                                     "filter")
            self.instrument.manager.disconnect_sockets(
                close, namespace=endpoint, room=_rooms(selected, "the filter"))

        return self._run("_disconnect", disconnect, *args)
