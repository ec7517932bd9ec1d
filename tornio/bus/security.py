"""CURVE encryption and authentication for the bus.

A bus that crosses a network must let no stranger in: whoever can publish on it can make
every client of the cluster receive anything, join any room or be disconnected, and whoever
can subscribe reads every message. (python-socketio's ZeroMQ manager went further: it
unpickled what arrived, a remote-code-execution hole. tornio's messages are msgpack data
checked against a schema, never code.) So across hosts the bus runs ZeroMQ's CURVE security
(CurveZMQ: Curve25519 keys, every connection encrypted and authenticated):

- the **broker** has a server key pair, and a set of **authorized** client public keys;
- every **node** (each worker of each ``tornio serve``) and every **emitter** has a client
  key pair and knows the broker's public key;
- the broker's ZAP handler (:class:`Authenticator`, pyzmq's ``ThreadAuthenticator`` with a
  callback) refuses every handshake whose client key is not authorized: such a peer can
  neither publish nor receive. A peer without CURVE at all fails the handshake too.

CURVE is off by default, which is right on one machine (the bus of a lone ``tornio serve``
is an ipc socket in a private directory, or a loopback port). It is required across hosts:
``tornio broker`` refuses to bind an address that is not loopback without it, unless told
``--insecure``.

Keys come from **files** (pyzmq's certificate format: ``zmq.auth.create_certificates`` /
``load_certificate``) in one directory, laid out by :func:`create_keys` (``tornio keys
DIR``)::

    DIR/broker.key            the broker's public key          -> every host
    DIR/broker.key_secret     the broker's key pair            -> the broker's host only
    DIR/NAME.key              a client's public key
    DIR/NAME.key_secret       a client's key pair              -> the hosts that use it
    DIR/authorized/NAME.key   the client keys the broker lets in -> the broker's host

(clients are ``node`` and ``emitter`` unless told otherwise), or from **environment
variables** holding Z85 strings (40 characters), for hosts that keep secrets there:

========================== ===================================================================
variable                   meaning
========================== ===================================================================
``TORNIO_CURVE_SECRET_KEY`` this process's secret key (its public key is derived from it)
``TORNIO_CURVE_SERVER_KEY`` the broker's public key (nodes and emitters)
``TORNIO_CURVE_AUTHORIZED`` the authorized client public keys, separated by commas or
                           whitespace (the broker)
``TORNIO_CURVE_DIR``       a key directory, as ``--curve-dir`` (the ``tornio`` command)
========================== ===================================================================
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from tornio.exceptions import TornioError

__all__ = [
    "DEFAULT_CLIENTS",
    "ENV_AUTHORIZED",
    "ENV_DIR",
    "ENV_SECRET",
    "ENV_SERVER",
    "Authenticator",
    "CurveClient",
    "CurveError",
    "CurveServer",
    "client_from_env",
    "create_keys",
    "is_local_address",
    "load_client",
    "load_server",
    "server_from_env",
]

log = logging.getLogger("tornio.bus.security")

ENV_SECRET = "TORNIO_CURVE_SECRET_KEY"
ENV_SERVER = "TORNIO_CURVE_SERVER_KEY"
ENV_AUTHORIZED = "TORNIO_CURVE_AUTHORIZED"
ENV_DIR = "TORNIO_CURVE_DIR"

#: The client key pairs ``tornio keys`` creates unless told otherwise.
DEFAULT_CLIENTS = ("node", "emitter")
BROKER = "broker"
AUTHORIZED_DIR = "authorized"

_Z85_KEY = re.compile(rb"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
_REFUSAL_LOG_EVERY = 60.0


class CurveError(TornioError, ValueError):
    """A key is missing, unreadable or malformed."""


def _key(value: str | bytes, what: str) -> bytes:
    """A Z85 key (40 characters) as bytes, checked."""
    raw = value.encode("ascii", "replace") if isinstance(value, str) else bytes(value)
    raw = raw.strip()
    if not _Z85_KEY.match(raw):
        raise CurveError(f"{what} is not a Z85 CURVE key (40 characters)")
    return raw


def _public_of(secret: bytes) -> bytes:
    public: bytes = zmq.curve_public(secret)
    return public


@dataclass(frozen=True)
class CurveClient:
    """What a node or an emitter needs: its own key pair and the broker's public key (all
    Z85 bytes)."""

    public_key: bytes
    secret_key: bytes
    server_key: bytes

    def __post_init__(self) -> None:
        for name in ("public_key", "secret_key", "server_key"):
            object.__setattr__(self, name, _key(getattr(self, name), name))

    @classmethod
    def from_secret(cls, secret_key: str | bytes, server_key: str | bytes) -> CurveClient:
        """A client from its secret key (the public key is derived) and the broker's key."""
        secret = _key(secret_key, "the secret key")
        return cls(_public_of(secret), secret, _key(server_key, "the server key"))

    def apply(self, socket: Any) -> None:
        """Make a socket (before it connects) a CURVE client of the broker."""
        socket.setsockopt(zmq.CURVE_SECRETKEY, self.secret_key)
        socket.setsockopt(zmq.CURVE_PUBLICKEY, self.public_key)
        socket.setsockopt(zmq.CURVE_SERVERKEY, self.server_key)

    def __repr__(self) -> str:  # never print a secret
        return f"CurveClient(public_key={self.public_key!r}, server_key={self.server_key!r})"


@dataclass(frozen=True)
class CurveServer:
    """What the broker needs: its key pair and the client public keys it lets in."""

    public_key: bytes
    secret_key: bytes
    authorized: frozenset[bytes]

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_key", _key(self.public_key, "public_key"))
        object.__setattr__(self, "secret_key", _key(self.secret_key, "secret_key"))
        keys = frozenset(_key(k, "an authorized key") for k in self.authorized)
        if not keys:
            raise CurveError("no authorized client keys: nobody could join the bus")
        object.__setattr__(self, "authorized", keys)

    @classmethod
    def from_secret(cls, secret_key: str | bytes, authorized: Iterable[str | bytes]) -> CurveServer:
        secret = _key(secret_key, "the secret key")
        return cls(_public_of(secret), secret, frozenset(_key(k, "a key") for k in authorized))

    def apply(self, socket: Any) -> None:
        """Make a socket (before it binds) a CURVE server."""
        socket.setsockopt(zmq.CURVE_SERVER, 1)
        socket.setsockopt(zmq.CURVE_SECRETKEY, self.secret_key)
        socket.setsockopt(zmq.CURVE_PUBLICKEY, self.public_key)

    def __repr__(self) -> str:
        return f"CurveServer(public_key={self.public_key!r}, authorized={len(self.authorized)})"


class Authenticator:
    """The broker's ZAP handler: a CURVE handshake succeeds only for an authorized client
    key. Start it (on the broker's context) before any socket binds; stop it before the
    context terminates. Refusals are logged, once a minute per key."""

    def __init__(self, context: zmq.Context[Any], server: CurveServer) -> None:
        self.server = server
        self.refused = 0
        self._logged: dict[bytes, float] = {}
        self._auth = ThreadAuthenticator(context, log=logging.getLogger("tornio.bus.zap"))

    def start(self) -> Authenticator:
        self._auth.start()
        self._auth.configure_curve_callback(domain="*", credentials_provider=self)
        return self

    def stop(self) -> None:
        self._auth.stop()

    def callback(self, domain: str, key: bytes) -> bool:
        """pyzmq's credentials-provider hook: is this (Z85) client key allowed in?"""
        if key in self.server.authorized:
            return True
        self.refused += 1
        now = time.monotonic()
        if now - self._logged.get(key, -_REFUSAL_LOG_EVERY) >= _REFUSAL_LOG_EVERY:
            self._logged[key] = now
            log.warning(
                "bus broker refused a peer with an unknown CURVE key %s (%d refusals so far)",
                key.decode("ascii", "replace"),
                self.refused,
            )
        return False


# -- key files ------------------------------------------------------------------------------------


def _read_certificate(path: Path, need_secret: bool) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        raise CurveError(f"{path} is missing")
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise CurveError(f"cannot read {path}: {exc}") from exc
    if need_secret:
        if not secret:
            raise CurveError(f"{path} holds no secret key")
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s can be read by other users: chmod 600 it", path)
    return _key(public, f"the public key in {path}"), (
        _key(secret, f"the secret key in {path}") if secret else None
    )


def create_keys(
    directory: str | os.PathLike[str], clients: Iterable[str] = DEFAULT_CLIENTS
) -> Path:
    """Create the broker's key pair and one key pair per client name in ``directory``, and
    authorize every client (see the module docstring for the layout). Secret files are
    made readable by their owner only. Existing files are never overwritten.

    Raises:
        CurveError: a name is not a plain file name, or a key file exists already.
    """
    root = Path(directory)
    names = [BROKER, *clients]
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
            raise CurveError(f"{name!r} is not a plain name")
    if len(set(names)) != len(names):
        raise CurveError("key names must differ (and none may be 'broker' but the broker's)")
    authorized = root / AUTHORIZED_DIR
    for name in names:
        for path in (root / f"{name}.key", root / f"{name}.key_secret"):
            if path.exists():
                raise CurveError(f"{path} exists already: not overwriting keys")
    authorized.mkdir(parents=True, exist_ok=True)
    for name in names:
        public_file, secret_file = zmq.auth.create_certificates(str(root), name)
        os.chmod(secret_file, 0o600)
        if name != BROKER:
            text = Path(public_file).read_text()
            (authorized / f"{name}.key").write_text(text)
    return root


def load_server(directory: str | os.PathLike[str]) -> CurveServer:
    """The broker's keys from a key directory: ``broker.key_secret`` and every
    ``authorized/*.key``.

    Raises:
        CurveError: a file is missing or malformed, or no client is authorized.
    """
    root = Path(directory)
    public, secret = _read_certificate(root / f"{BROKER}.key_secret", need_secret=True)
    assert secret is not None
    folder = root / AUTHORIZED_DIR
    if not folder.is_dir():
        raise CurveError(f"{folder} is missing: no client could join the bus")
    keys = [_read_certificate(path, need_secret=False)[0] for path in sorted(folder.glob("*.key"))]
    return CurveServer(public, secret, frozenset(keys))


def load_client(directory: str | os.PathLike[str], name: str = "node") -> CurveClient:
    """A client's keys from a key directory: ``NAME.key_secret`` and ``broker.key``.

    Raises:
        CurveError: a file is missing or malformed.
    """
    root = Path(directory)
    public, secret = _read_certificate(root / f"{name}.key_secret", need_secret=True)
    assert secret is not None
    server_file = root / f"{BROKER}.key"
    if not server_file.is_file() and (root / f"{BROKER}.key_secret").is_file():
        server_file = root / f"{BROKER}.key_secret"  # the broker's own host
    server, _ = _read_certificate(server_file, need_secret=False)
    return CurveClient(public, secret, server)


# -- environment ----------------------------------------------------------------------------------


def client_from_env(environ: Mapping[str, str] | None = None) -> CurveClient | None:
    """A client from ``TORNIO_CURVE_SECRET_KEY`` and ``TORNIO_CURVE_SERVER_KEY``; None when
    neither is set.

    Raises:
        CurveError: only one is set, or a key is malformed.
    """
    env = os.environ if environ is None else environ
    secret, server = env.get(ENV_SECRET), env.get(ENV_SERVER)
    if not secret and not server:
        return None
    if not secret or not server:
        raise CurveError(f"a bus client needs both {ENV_SECRET} and {ENV_SERVER}")
    return CurveClient.from_secret(secret, server)


def server_from_env(environ: Mapping[str, str] | None = None) -> CurveServer | None:
    """The broker's keys from ``TORNIO_CURVE_SECRET_KEY`` and ``TORNIO_CURVE_AUTHORIZED``;
    None when neither is set.

    Raises:
        CurveError: only one is set, or a key is malformed.
    """
    env = os.environ if environ is None else environ
    secret, authorized = env.get(ENV_SECRET), env.get(ENV_AUTHORIZED)
    if not secret and not authorized:
        return None
    if not secret or not authorized:
        raise CurveError(f"the broker needs both {ENV_SECRET} and {ENV_AUTHORIZED}")
    return CurveServer.from_secret(secret, re.split(r"[\s,]+", authorized.strip()))


# -- addresses ------------------------------------------------------------------------------------


def is_local_address(address: str) -> bool:
    """Whether a ZeroMQ address stays on this machine: ``ipc://``, ``inproc://``, or TCP on
    a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``). ``tcp://*:P`` and
    interface names are not."""
    if address.startswith(("ipc://", "inproc://")):
        return True
    match = re.match(r"^tcp://(.+):(\d+|\*)$", address)
    if match is None:
        return False
    host = match.group(1)
    if ";" in host:  # tcp://source;destination: the destination decides
        host = host.rsplit(";", 1)[1]
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
