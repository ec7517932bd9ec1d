"""The origin decision on a real server, on every transport of both generations: by default a
foreign Origin is refused (403, no CORS header), the same origin and no Origin pass; listed
origins get credentialed CORS; ``'*'`` gets ``Access-Control-Allow-Origin: *`` alone."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest

from tests.support.engine_client import EnginePolling
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import fetch, handshake
from tests.support.raw_flashsocket import hixie_headers, raw_request
from tests.support.raw_websocket import EIO_WS, RawWebSocket
from tests.support.stream_clients import open_raw_get
from tornio import BaseNamespace
from tornio.transports import origins

EVIL = "http://evil.example"
ACAO = "access-control-allow-origin"
ACAC = "access-control-allow-credentials"


class Quiet(BaseNamespace):
    pass


NAMESPACES = {"": Quiet, "/test": Quiet}


@pytest.fixture(autouse=True)
def fresh_refusal_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test logs its refusals afresh: the process-wide log takes 20 lines a minute, which
    the tests before this one (in the same minute) may have used up."""
    monkeypatch.setattr(origins, "refusals", origins.RefusalLog())


@pytest.fixture
async def server() -> AsyncIterator[InLoopServer]:
    srv = await InLoopServer.start(NAMESPACES)
    yield srv
    await srv.stop()


async def modern_sid(srv: InLoopServer, queued: bool = False) -> str:
    polling = await EnginePolling.open(srv.base)
    if queued:  # something to answer the next GET with at once
        assert (await polling.post("40")).code == 200
    return polling.sid


async def legacy_sid(srv: InLoopServer) -> str:
    return (await handshake(srv.base))[0]


#: name -> (method, URL path with {sid} for a fresh session of the right generation, body)
HTTP = {
    "modern handshake": ("GET", "/socket.io/?EIO=4&transport=polling", None),
    "modern poll": ("GET", "/socket.io/?EIO=4&transport=polling&sid={msid}", None),
    "modern post": ("POST", "/socket.io/?EIO=4&transport=polling&sid={msid}", "40"),
    "modern preflight": ("OPTIONS", "/socket.io/?EIO=4&transport=polling", None),
    "0.9 handshake": ("GET", "/socket.io/1/?t=1", None),
    "0.9 handshake by POST": ("POST", "/socket.io/1/?t=1", ""),
    "xhr-polling GET": ("GET", "/socket.io/1/xhr-polling/{sid}?t=1", None),
    "xhr-polling POST": ("POST", "/socket.io/1/xhr-polling/{sid}?t=1", "2::"),
    "jsonp-polling GET": ("GET", "/socket.io/1/jsonp-polling/{sid}?t=1&i=0", None),
    "jsonp-polling POST": (
        "POST", "/socket.io/1/jsonp-polling/{sid}?t=1&i=0", "d=" + quote('"2::"')
    ),
    "htmlfile": ("GET", "/socket.io/1/htmlfile/{sid}?t=1", None),
    "htmlfile POST": ("POST", "/socket.io/1/htmlfile/{sid}?t=1", "2::"),
    "xhr-multipart": ("GET", "/socket.io/1/xhr-multipart/{sid}?t=1", None),
    "forced disconnect": ("GET", "/socket.io/1/xhr-polling/{sid}?disconnect", None),
    "flashsocket forced disconnect": ("GET", "/socket.io/1/flashsocket/{sid}?disconnect", None),
    "unknown transport": ("GET", "/socket.io/1/carrier-pigeon/{sid}?disconnect", None),
}


async def http(
    srv: InLoopServer, name: str, headers: dict[str, str]
) -> tuple[int, dict[str, str]]:
    """The status and (lower-cased) headers of request ``name`` on a fresh session; a GET is
    read up to its head only (a stream's body never ends)."""
    method, path, body = HTTP[name]
    if "{msid}" in path:
        path = path.format(msid=await modern_sid(srv, queued=method == "GET"))
    if "{sid}" in path:
        path = path.format(sid=await legacy_sid(srv))
    if method == "GET":
        stream = await open_raw_get(srv.base + path, headers)
        stream.close()
        return stream.status, stream.headers
    response = await fetch(srv.base + path, method=method, body=body, headers=headers)
    return response.code, {k.lower(): v for k, v in response.headers.get_all()}


async def upgrade(srv: InLoopServer, name: str, headers: dict[str, str]) -> int:
    """The status answering upgrade ``name`` (on a fresh session where it needs one)."""
    if name == "modern websocket":
        client = await RawWebSocket.connect(srv.port, EIO_WS, headers=headers)
    elif name == "0.9 websocket":
        path = f"/socket.io/1/websocket/{await legacy_sid(srv)}"
        client = await RawWebSocket.connect(srv.port, path, headers=headers)
    else:  # flashsocket (hixie-76)
        fields = hixie_headers(headers.get("Origin", ""))
        if "Origin" not in headers:
            del fields["Origin"]
        reader, writer = await raw_request(srv, await legacy_sid(srv), fields, b"12345678")
        status = int((await reader.readline()).split()[1])
        writer.close()
        return status
    client.writer.close()
    return client.status


UPGRADES = ["modern websocket", "0.9 websocket", "flashsocket"]


@pytest.mark.parametrize("name", list(HTTP))
async def test_default_refuses_a_foreign_origin(
    server: InLoopServer, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "tornio.transports.origins"):
        status, headers = await http(server, name, {"Origin": EVIL, "Referer": EVIL + "/"})
    assert status == 403
    assert ACAO not in headers and ACAC not in headers
    assert any("evil.example" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name", list(HTTP))
@pytest.mark.parametrize("origin", ["same", "none"])
async def test_default_accepts_the_same_origin_and_no_origin(
    server: InLoopServer, name: str, origin: str
) -> None:
    headers = {"Origin": server.base} if origin == "same" else {}
    status, answer = await http(server, name, headers)
    assert status in (200, 204), (status, answer)
    assert ACAO not in answer


@pytest.mark.parametrize("name", UPGRADES)
async def test_default_refuses_a_foreign_websocket_upgrade(
    server: InLoopServer, name: str
) -> None:
    assert await upgrade(server, name, {"Origin": EVIL}) == 403


@pytest.mark.parametrize("name", UPGRADES)
@pytest.mark.parametrize("origin", ["same", "none"])
async def test_default_accepts_same_origin_and_originless_upgrades(
    server: InLoopServer, name: str, origin: str
) -> None:
    headers = {"Origin": server.base} if origin == "same" else {}
    assert await upgrade(server, name, headers) == 101


async def test_an_old_hybi_client_s_sec_websocket_origin_counts(server: InLoopServer) -> None:
    status = await upgrade(server, "0.9 websocket", {"Sec-WebSocket-Origin": EVIL})
    assert status == 403


async def test_a_jsonp_handshake_must_show_its_page(server: InLoopServer) -> None:
    """A <script> sends no Origin and anyone can include one: the JSONP handshake needs a
    Referer (or Origin) that passes."""
    url = server.base + "/socket.io/1/?t=1&jsonp=0"
    bare = await fetch(url)
    foreign = await fetch(url, headers={"Referer": EVIL + "/page.html"})
    own = await fetch(url, headers={"Referer": server.base + "/page.html"})
    assert bare.body == foreign.body == b'io.j[0](new Error("handshake bad origin"));'
    assert own.body.startswith(b'io.j[0]("') and own.body.count(b":") == 3
    assert len(server.manager.sockets) == 1


@pytest.fixture
async def listed() -> AsyncIterator[InLoopServer]:
    srv = await InLoopServer.start(
        NAMESPACES, origins="https://app.example, http://localhost:3000"
    )
    yield srv
    await srv.stop()


@pytest.mark.parametrize("name", list(HTTP))
async def test_a_listed_origin_gets_credentialed_cors_and_others_403(
    listed: InLoopServer, name: str
) -> None:
    status, headers = await http(listed, name, {"Origin": "http://localhost:3000"})
    assert status in (200, 204), (status, headers)
    assert headers[ACAO] == "http://localhost:3000"
    assert headers[ACAC] == "true"
    assert "origin" in headers.get("vary", "").lower()
    status, headers = await http(listed, name, {"Origin": "http://localhost:3001"})
    assert status == 403 and ACAO not in headers


@pytest.mark.parametrize("name", UPGRADES)
async def test_a_listed_origin_may_upgrade_and_others_not(listed: InLoopServer, name: str) -> None:
    assert await upgrade(listed, name, {"Origin": "https://app.example"}) == 101
    assert await upgrade(listed, name, {"Origin": "http://app.example"}) == 403


@pytest.mark.parametrize("origins", ["*", "*:*"])
@pytest.mark.parametrize("name", ["modern handshake", "0.9 handshake", "xhr-polling GET"])
async def test_any_origin_gets_a_star_without_credentials(origins: str, name: str) -> None:
    srv = await InLoopServer.start(NAMESPACES, origins=origins)
    try:
        status, headers = await http(srv, name, {"Origin": EVIL})
        assert status == 200
        assert headers[ACAO] == "*"
        assert ACAC not in headers
        assert await upgrade(srv, "modern websocket", {"Origin": EVIL}) == 101
    finally:
        await srv.stop()


async def test_preflight_of_a_listed_origin_names_methods_and_headers(
    listed: InLoopServer,
) -> None:
    response = await fetch(
        listed.base + "/socket.io/?EIO=4&transport=polling",
        method="OPTIONS",
        headers={"Origin": "https://app.example", "Access-Control-Request-Headers": "x-y"},
    )
    assert response.code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert response.headers["Access-Control-Allow-Headers"] == "x-y"


async def test_a_refused_origin_leaves_no_session_behind(server: InLoopServer) -> None:
    await http(server, "modern handshake", {"Origin": EVIL})
    await http(server, "0.9 handshake", {"Origin": EVIL})
    assert await upgrade(server, "modern websocket", {"Origin": EVIL}) == 403
    assert server.manager.sockets == {}
    assert server.manager.engines == {}
