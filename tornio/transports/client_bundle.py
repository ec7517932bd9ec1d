"""The socket.io-client bundle at ``/<resource>/socket.io.js`` (and ``.min.js``, the msgpack
and ESM builds, their source maps), from an installed npm package, as node's server does.

``client_bundle`` names the package (``node_modules/socket.io-client``, or its ``dist``) or is
True: the first ``node_modules/socket.io-client`` of version 3 or later found in the current
directory or one of its parents, else in ``$NODE_PATH``. Unset, these URLs answer 404 as
any unknown path does.

Each answer carries an ``ETag`` (a hash of the file, read again when it changes on disk) and
``Cache-Control: public, max-age=0``, so a browser revalidates and gets ``304 Not Modified``
while the file is the same; a client that accepts gzip gets it gzipped (compressed once).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tornado.web import RequestHandler

from tornio.transports.compression import accepts_gzip

if TYPE_CHECKING:
    from tornio.settings import Settings

__all__ = ["BUNDLE_FILES", "BUNDLE_PATTERN", "ClientBundleHandler", "find_bundle"]

log = logging.getLogger("tornio.transports.client_bundle")

#: The files served, as node's socket.io 4.x serves them.
BUNDLE_FILES = frozenset(
    name + suffix
    for name in ("socket.io.js", "socket.io.min.js", "socket.io.msgpack.min.js",
                 "socket.io.esm.min.js")
    for suffix in ("", ".map")
)  # fmt: skip
#: The URL pattern under ``/<resource>`` (a name outside :data:`BUNDLE_FILES` is 404).
BUNDLE_PATTERN = r"/(socket\.io(?:\.msgpack|\.esm)?(?:\.min)?\.js(?:\.map)?)"

CACHE_CONTROL = "public, max-age=0"


def _version_major(package: Path) -> int:
    try:
        version = json.loads((package / "package.json").read_text("utf-8"))["version"]
        return int(str(version).split(".")[0])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def find_bundle(setting: str | bool | None, cwd: str | None = None) -> Path | None:
    """The ``dist`` directory the ``client_bundle`` setting names, or None."""
    if setting is None or setting is False:
        return None
    if isinstance(setting, str):
        path = Path(setting)
        for candidate in (path / "dist", path):
            if (candidate / "socket.io.js").is_file():
                return candidate
        return None
    start = Path(cwd or os.getcwd()).resolve()
    places = [folder / "node_modules" for folder in (start, *start.parents)]
    places += [Path(entry) for entry in os.environ.get("NODE_PATH", "").split(os.pathsep) if entry]
    for place in places:
        package = place / "socket.io-client"
        if (package / "dist" / "socket.io.js").is_file() and _version_major(package) >= 3:
            return package / "dist"
    return None


@dataclass
class _File:
    stamp: tuple[int, int]  # (mtime_ns, size): read again when either changes
    body: bytes
    etag: str
    gzipped: bytes | None = None


#: Files read so far, by path.
_files: dict[Path, _File] = {}
#: Where each setting led (looked up once per setting and working directory).
_found: dict[tuple[Any, str], Path | None] = {}


def _bundle_dir(settings: Settings) -> Path | None:
    key = (settings.client_bundle, os.getcwd())
    if key not in _found:
        found = _found[key] = find_bundle(settings.client_bundle)
        if found is None and settings.client_bundle is not None:
            log.warning(
                "client_bundle=%r: no socket.io-client package found; its URLs answer 404",
                settings.client_bundle,
            )
    return _found[key]


def _load(path: Path) -> _File | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    known = _files.get(path)
    if known is not None and known.stamp == stamp:
        return known
    try:
        body = path.read_bytes()
    except OSError:
        return None
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    loaded = _files[path] = _File(stamp, body, etag)
    return loaded


def _matches(header: str, etags: tuple[str, ...]) -> bool:
    """Whether an ``If-None-Match`` value names one of ``etags`` (weakly compared)."""
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag in etags:
            return True
    return False


class ClientBundleHandler(RequestHandler):
    """``GET``/``HEAD /<resource>/socket.io[.msgpack|.esm][.min].js[.map]``."""

    def initialize(self, manager: Any) -> None:
        self.tornio_settings: Settings = manager.settings

    def compute_etag(self) -> None:
        return None  # ours, below

    def head(self, name: str) -> None:
        self.get(name)

    def get(self, name: str) -> None:
        folder = _bundle_dir(self.tornio_settings)
        found = _load(folder / name) if folder is not None and name in BUNDLE_FILES else None
        if found is None:
            self.set_status(404)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("Not Found" if self.request.method != "HEAD" else None)
            return
        zipped = accepts_gzip(self.request.headers.get("Accept-Encoding", ""))
        gzip_etag = found.etag[:-1] + '-gzip"'
        self.set_header("Cache-Control", CACHE_CONTROL)
        self.set_header("Vary", "Accept-Encoding")
        self.set_header("ETag", gzip_etag if zipped else found.etag)
        if _matches(self.request.headers.get("If-None-Match", ""), (found.etag, gzip_etag)):
            self.set_status(304)
            self.finish()
            return
        is_map = name.endswith(".map")
        kind = "application/json" if is_map else "application/javascript"
        self.set_header("Content-Type", kind + "; charset=utf-8")
        body = found.body
        if zipped:
            if found.gzipped is None:
                found.gzipped = gzip.compress(found.body, compresslevel=9, mtime=0)
            body = found.gzipped
            self.set_header("Content-Encoding", "gzip")
        if self.request.method == "HEAD":
            self.set_header("Content-Length", str(len(body)))
            self.finish()
        else:
            self.finish(body)
