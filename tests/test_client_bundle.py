"""The socket.io-client 4.8 bundle served at ``/<resource>/socket.io.js`` and its siblings
(``client_bundle``): the installed npm package's bytes, with the right content type, an
ETag that a revalidation answers with 304, gzip when the client takes it, 404 for a file the
package lacks or when nothing is configured; the 0.9 protocol's URLs under the same prefix
unchanged. And a page in Chromium that loads the served bundle and connects with it.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from playwright.sync_api import BrowserContext
from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse

from tests.apps.transport_probe import namespaces
from tests.support import LiveServer
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import handshake
from tornio import Router
from tornio.transports.client_bundle import BUNDLE_FILES, find_bundle

PACKAGE = Path(__file__).resolve().parent / "js" / "node_modules" / "socket.io-client"
DIST = PACKAGE / "dist"
SERVED = ["socket.io.js", "socket.io.min.js", "socket.io.msgpack.min.js", "socket.io.esm.min.js"]


async def fetch(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> HTTPResponse:
    """One request, as sent: no Accept-Encoding unless given, the body as it came."""
    client = AsyncHTTPClient(force_instance=True)
    try:
        request = HTTPRequest(
            url, method=method, body=body, headers=headers, decompress_response=False,
            allow_nonstandard_methods=True, request_timeout=10,
        )  # fmt: skip
        return await client.fetch(request, raise_error=False)
    finally:
        client.close()


@pytest.fixture
def package() -> Path:
    if not (DIST / "socket.io.min.js").is_file():
        pytest.fail(f"{PACKAGE} is missing: run scripts/setup")
    return PACKAGE


@pytest.fixture
async def start() -> AsyncIterator[Callable[..., Any]]:
    servers: list[InLoopServer] = []

    async def make(**settings: Any) -> InLoopServer:
        server = await InLoopServer.start(namespaces, **settings)
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


async def test_every_file_is_served_with_its_type_and_etag(start: Any, package: Path) -> None:
    server = await start(client_bundle=str(package))
    for name in [*SERVED, *(name + ".map" for name in SERVED)]:
        response = await fetch(f"{server.base}/socket.io/{name}")
        assert response.code == 200, (name, response.code)
        assert response.body == (DIST / name).read_bytes(), name
        kind = "application/json" if name.endswith(".map") else "application/javascript"
        assert response.headers["Content-Type"] == kind + "; charset=utf-8"
        assert response.headers["Cache-Control"] == "public, max-age=0"
        etag = response.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10
        assert "Content-Encoding" not in response.headers
    js, min_js = [await fetch(f"{server.base}/socket.io/{n}") for n in SERVED[:2]]
    assert js.headers["ETag"] != min_js.headers["ETag"]


async def test_a_revalidation_with_the_etag_gets_304(start: Any, package: Path) -> None:
    server = await start(client_bundle=str(package))
    url = f"{server.base}/socket.io/socket.io.min.js"
    etag = (await fetch(url)).headers["ETag"]
    for header in (etag, "W/" + etag, f'"other", {etag}', "*"):
        response = await fetch(url, headers={"If-None-Match": header})
        assert response.code == 304, header
        assert response.body == b"" and response.headers["ETag"] == etag
    stale = await fetch(url, headers={"If-None-Match": '"not-this-one"'})
    assert stale.code == 200 and stale.body == (DIST / "socket.io.min.js").read_bytes()


async def test_a_client_that_takes_gzip_gets_it_gzipped(start: Any, package: Path) -> None:
    server = await start(client_bundle=str(package))
    url = f"{server.base}/socket.io/socket.io.js"
    zipped = await fetch(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.body) == (DIST / "socket.io.js").read_bytes()
    assert len(zipped.body) < len((DIST / "socket.io.js").read_bytes()) // 2
    revalidate = {"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}
    again = await fetch(url, headers=revalidate)
    assert again.code == 304
    refused = await fetch(url, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    assert refused.body == (DIST / "socket.io.js").read_bytes()


async def test_head_and_other_methods(start: Any, package: Path) -> None:
    server = await start(client_bundle=str(package))
    url = f"{server.base}/socket.io/socket.io.min.js"
    head = await fetch(url, method="HEAD")
    assert head.code == 200 and head.body == b""
    assert head.headers["Content-Length"] == str((DIST / "socket.io.min.js").stat().st_size)
    assert (await fetch(url, method="POST", body=b"x")).code == 405


async def test_missing_files_and_no_setting_answer_404(
    start: Any, package: Path, tmp_path: Path
) -> None:
    # A package without source maps (and without the ESM build).
    partial = tmp_path / "socket.io-client"
    (partial / "dist").mkdir(parents=True)
    for name in ("socket.io.js", "socket.io.min.js"):
        shutil.copy(DIST / name, partial / "dist" / name)
    server = await start(client_bundle=str(partial))
    assert (await fetch(f"{server.base}/socket.io/socket.io.min.js")).code == 200
    for name in ("socket.io.min.js.map", "socket.io.esm.min.js", "socket.io.msgpack.min.js"):
        assert (await fetch(f"{server.base}/socket.io/{name}")).code == 404, name
    # Not a bundle name at all, or the file removed after it was served once.
    assert (await fetch(f"{server.base}/socket.io/socket.io.max.js")).code == 404
    (partial / "dist" / "socket.io.min.js").unlink()
    assert (await fetch(f"{server.base}/socket.io/socket.io.min.js")).code == 404
    # Nothing configured (the default): 404, as before.
    plain = await start()
    for name in SERVED:
        assert (await fetch(f"{plain.base}/socket.io/{name}")).code == 404
    assert {*SERVED, *(n + ".map" for n in SERVED)} <= BUNDLE_FILES


async def test_a_changed_file_gets_a_new_etag(start: Any, package: Path, tmp_path: Path) -> None:
    copy = tmp_path / "dist"
    copy.mkdir()
    shutil.copy(DIST / "socket.io.js", copy / "socket.io.js")
    server = await start(client_bundle=str(copy))
    url = f"{server.base}/socket.io/socket.io.js"
    first = await fetch(url)
    (copy / "socket.io.js").write_bytes(first.body + b"\n// patched\n")
    second = await fetch(url, headers={"If-None-Match": first.headers["ETag"]})
    assert second.code == 200 and second.body.endswith(b"// patched\n")
    assert second.headers["ETag"] != first.headers["ETag"]


def test_true_finds_the_package_from_the_working_directory(
    package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "node_modules").mkdir()
    (project / "node_modules" / "socket.io-client").symlink_to(package)
    found = find_bundle(True, cwd=str(project / "src"))
    assert found == project / "node_modules" / "socket.io-client" / "dist"
    # A 0.9 package (socket.io-client@0.9 has a dist/socket.io.js too) is not taken.
    old = tmp_path / "old" / "node_modules" / "socket.io-client"
    (old / "dist").mkdir(parents=True)
    (old / "dist" / "socket.io.js").write_text("// 0.9")
    (old / "package.json").write_text('{"version": "0.9.16"}')
    monkeypatch.setenv("NODE_PATH", "")
    assert find_bundle(True, cwd=str(tmp_path / "old")) is None
    assert find_bundle(None) is None and find_bundle(False) is None
    with pytest.raises(ValueError, match="client_bundle"):
        Router(namespaces, client_bundle=str(tmp_path / "nowhere"))


@pytest.mark.server_errors(("tornado.access", "^500 GET /socket.io/2/"))
async def test_the_legacy_urls_under_the_prefix_are_unchanged(start: Any, package: Path) -> None:
    server = await start(client_bundle=str(package))
    assert len(await handshake(server.base)) == 4
    swf = await fetch(f"{server.base}/socket.io/static/flashsocket/WebSocketMain.swf")
    assert swf.code == 404  # client_package is not set
    assert (await fetch(f"{server.base}/socket.io/2/")).code != 200  # the version refusal
    welcome = await fetch(f"{server.base}/socket.io/")
    assert welcome.body == b"Welcome to socket.io."
    opened = await fetch(f"{server.base}/socket.io/?EIO=4&transport=polling")
    assert opened.code == 200 and opened.body.startswith(b"0{")


# -- in a browser -------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>tornio: the served bundle</title>
<link rel="icon" href="data:,">
<script src="/socket.io/socket.io.min.js"></script>
<script>
window.result = new Promise(function (resolve, reject) {
  var socket = io('/big', {transports: ['polling', 'websocket']});
  socket.on('connect_error', function (err) { reject(String(err)); });
  socket.on('connect', function () {
    socket.timeout(5000).emit('echo', 'from the served bundle', function (err, echoed) {
      if (err) { reject(String(err)); return; }
      resolve({manager: typeof io.Manager, echoed: echoed, id: socket.id});
      socket.disconnect();
    });
  });
});
</script></head><body></body></html>"""


class Page(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(PAGE)


def test_a_page_loads_the_served_bundle_and_connects(
    live_server: Callable[..., LiveServer],
    browser_context: Callable[..., BrowserContext],
    package: Path,
) -> None:
    def factory() -> tornado.web.Application:
        router = Router(namespaces, client_bundle=str(package), handlers=[(r"/", Page)])
        return router.application()

    server = live_server(factory)
    page = browser_context().new_page()
    loaded: list[str] = []
    page.on("response", lambda r: loaded.append(f"{r.status} {r.url}"))
    page.goto(server.url + "/")
    result = page.evaluate("window.result")
    assert result["manager"] == "function" and result["echoed"] == "from the served bundle"
    assert result["id"]
    assert f"200 {server.url}/socket.io/socket.io.min.js" in loaded, loaded
