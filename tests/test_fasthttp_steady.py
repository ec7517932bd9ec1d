"""The fast path's steady-state exchanges (tornio.transports.steady: the polls of an open
session, Engine.IO and 0.9 xhr-polling) against plain Tornado: the same requests on a session
of each, answered byte for byte alike, for good requests and bad ones (which the steady-state
exchange hands to the general one), and what the session is left in (a follow-up poll's
answer). The route's choice between the two exchanges is checked on its own."""

from __future__ import annotations

import asyncio
import email.utils
import math
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.support.raw_http import EIO_OPEN, FastAndTornado, Raw, get, open_session, post
from tests.support.waiting import eventually
from tornio import fastpath
from tornio.core import timers
from tornio.core.fairness import SLICE
from tornio.fastpath import socketio_routes
from tornio.legacy.transports.polling import PollingSink, SteadyXhrPolling
from tornio.modern.session import EngineState
from tornio.modern.transports import PollSink, SteadyEnginePolling
from tornio.router import Router
from tornio.transports.steady import SteadyExchange

LIMIT = 100  # the Router's max_buffer_size (and so Engine.IO's max payload)
ECHO = b'42["echo","hi"]'
LEGACY_ECHO = b'5:::{"name":"echo","args":["hi"]}'
FRAMED = f"\ufffd{len(LEGACY_ECHO)}\ufffd".encode() + LEGACY_ECHO  # (one of several)


@pytest.fixture
async def servers() -> AsyncIterator[FastAndTornado]:
    srv = FastAndTornado(max_buffer_size=LIMIT)
    yield srv
    await srv.stop()


async def read_answer(raw: Raw) -> bytes:
    """One answer, or what came before the server closed: Date and ids made comparable."""
    try:
        data = await asyncio.wait_for(raw.reader.readuntil(b"\r\n\r\n"), 10)
    except asyncio.IncompleteReadError as exc:
        data = exc.partial
    length = re.search(rb"Content-Length: (\d+)", data)
    if length is not None:
        data += await asyncio.wait_for(raw.reader.readexactly(int(length.group(1))), 10)
    date = re.search(rb"\r\nDate: ([^\r]+)\r\n", data)
    if date is not None:  # a Date of now (the second may have just turned)
        sent = email.utils.parsedate_to_datetime(date.group(1).decode()).timestamp()
        assert abs(sent - time.time()) < 2.5
    data = re.sub(rb"\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n",
                  b"\r\nDate: D\r\n", data)
    return re.sub(rb"(?<![\w-])[\w-]{20}(?![\w-])", b"SID", data)


async def respond_to(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """``request`` on a connection of its own; its answer, parsed."""
    raw = await Raw.open(port)
    try:
        raw.send(request)
        return await raw.response()
    finally:
        raw.close()


async def ask(port: int, request: bytes) -> bytes:
    """``request`` on a connection of its own; its answer."""
    raw = await Raw.open(port)
    try:
        raw.send(request)
        return await read_answer(raw)
    finally:
        raw.close()


# -- Engine.IO ---------------------------------------------------------------------------------


def target(sid: str, extra: str = "") -> str:
    return f"{EIO_OPEN}&sid={sid}{extra}"


#: Requests for an open, connected session whose queue holds an echo, by a name; ``{sid}`` is
#: its id. Those the steady-state exchange serves, and those it hands to the general one.
MODERN_CASES: dict[str, Callable[[str], bytes]] = {
    "poll": lambda sid: get(target(sid)),
    "poll, b64": lambda sid: get(target(sid, "&b64=1")),
    "poll, keep-alive named": lambda sid: get(target(sid), "Connection: keep-alive"),
    "poll, then close": lambda sid: get(target(sid), "Connection: close"),
    "poll, JSONP on v4": lambda sid: get(target(sid, "&j=0")),
    "poll, quoted query": lambda sid: get(f"/socket.io/?EIO=4&transport=polling&%73id={sid}"),
    "poll, the sid twice": lambda sid: get(target(sid, f"&sid={sid}")),
    "poll, empty sid first": lambda sid: get(f"{EIO_OPEN}&sid=&sid={sid}"),
    "poll, websocket named": lambda sid: get(f"/socket.io/?EIO=4&transport=websocket&sid={sid}"),
    "poll, no transport": lambda sid: get(f"/socket.io/?EIO=4&sid={sid}"),
    "poll, transport without value": lambda sid: get(f"/socket.io/?EIO=4&transport&sid={sid}"),
    "poll, own origin": lambda sid: get(target(sid), "Origin: http://test"),
    "poll, foreign origin": lambda sid: get(target(sid), "Origin: http://evil"),
    "poll, unknown sid": lambda sid: get(target("nosuchsessionnosuch0")),
    "post": lambda sid: post(target(sid), ECHO, "Content-Type: text/plain;charset=UTF-8"),
    "post, two packets": lambda sid: post(target(sid), ECHO + b"\x1e" + ECHO),
    "post, then close": lambda sid: post(target(sid), ECHO, "Connection: close"),
    "post, binary": lambda sid: post(
        target(sid), ECHO, "Content-Type: application/octet-stream"),
    "post, bad payload": lambda sid: post(target(sid), b"zz"),
    "post, not UTF-8": lambda sid: post(target(sid), b"4\xff\xfe"),
    "post, over the limit": lambda sid: post(target(sid), b"4" + b"x" * LIMIT),
    "post, chunked over the limit": lambda sid: (
        f"POST {target(sid)} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"40\r\n4{'x' * 63}\r\n40\r\n{'x' * 64}\r\n0\r\n\r\n").encode(),
    "post, foreign origin": lambda sid: post(target(sid), ECHO, "Origin: http://evil"),
    "post, own origin": lambda sid: post(target(sid), ECHO, "Origin: http://test"),
    "post, JSONP on v4": lambda sid: post(target(sid, "&j=0"), b'd="42"'),
    "post, unknown sid": lambda sid: post(target("nosuchsessionnosuch0"), ECHO),
}


async def modern_session(port: int) -> str:
    """A connected session whose queue holds an echo."""
    raw = await Raw.open(port)
    try:
        sid = await open_session(raw)
        raw.send(post(target(sid), b"40"))
        assert (await raw.response())[2] == b"ok"
        raw.send(get(target(sid)))
        assert (await raw.response())[2].startswith(b"40")
        raw.send(post(target(sid), ECHO))
        assert (await raw.response())[2] == b"ok"
        return sid
    finally:
        raw.close()


async def modern_case(port: int, case: str) -> list[bytes]:
    """The answer to the case's request, then what the session says to an echo and a poll."""
    sid = await modern_session(port)
    answers = [await ask(port, MODERN_CASES[case](sid))]
    answers.append(await ask(port, post(target(sid), b'42["echo","after"]')))
    answers.append(await ask(port, get(target(sid))))
    return answers


#: POSTs refused before their body is read: the fast path closes the connection after the
#: answer as Tornado does, and says so (``Connection: close``), where Tornado does not (as
#: before the steady-state exchanges; tornio.transports.fasthttp).
MODERN_EARLY = {"post, foreign origin"}
LEGACY_EARLY = {"post, foreign origin", "post, over the limit", "post, chunked over the limit"}


def same_answers(early: bool, fast: list[bytes], tornado: list[bytes]) -> None:
    if early:
        assert b"\r\nConnection: close\r\n" in fast[0]
        fast = [fast[0].replace(b"\r\nConnection: close\r\n", b"\r\n"), *fast[1:]]
    assert fast == tornado


@pytest.mark.parametrize("case", list(MODERN_CASES))
@pytest.mark.asyncio
async def test_engine_io_polls_are_answered_as_tornado_answers_them(
    servers: FastAndTornado, case: str
) -> None:
    fast = await modern_case(servers.port, case)
    same_answers(case in MODERN_EARLY, fast, await modern_case(servers.tornado_port, case))


@pytest.mark.asyncio
async def test_a_held_engine_io_poll_is_the_steady_exchange_itself(
    servers: FastAndTornado,
) -> None:
    """On the fast path the session's sink is the exchange (no PollSink, no future), with no
    Origin or the server's own (a browser's same-origin request); every poll is the handler's
    on Tornado. Each is answered when the session writes."""
    manager = servers.router.manager
    for port, headers, held in (
        (servers.port, (), SteadyEnginePolling),
        (servers.port, ("Origin: http://test",), SteadyEnginePolling),
        (servers.tornado_port, (), PollSink),
    ):
        raw = await Raw.open(port)
        sid = await open_session(raw)
        raw.send(get(target(sid), *headers))
        engine = manager.get_engine(sid).engine
        await eventually(lambda e=engine: e.sink is not None, message="the poll held")
        assert isinstance(engine.sink, held)
        assert (await respond_to(port, post(target(sid), b"40")))[2] == b"ok"
        status, _, body = await raw.response()
        assert status == 200 and body.startswith(b"40")
        raw.close()


@pytest.mark.asyncio
async def test_the_session_timer_is_never_later_than_its_next_deadline() -> None:
    """Steady polls re-arm the session's timer only when a deadline may move earlier (a POST
    that holds a pong; not one of messages, not a held GET): after a pong then an event, the
    timer armed is no later than the next ping's deadline."""
    srv = FastAndTornado(ping_interval=0.2, ping_timeout=30)
    try:
        raw = await Raw.open(srv.port)
        sid = await open_session(raw)
        assert (await respond_to(srv.port, post(target(sid), b"40")))[2] == b"ok"
        raw.send(get(target(sid)))
        assert (await raw.response())[2].startswith(b"40")
        raw.send(get(target(sid)))  # held until the ping
        assert (await raw.response())[2] == b"2"
        assert (await respond_to(srv.port, post(target(sid), b"3")))[2] == b"ok"
        assert (await respond_to(srv.port, post(target(sid), b'42["echo","x"]')))[2] == b"ok"
        raw.send(get(target(sid)))
        assert (await raw.response())[2] == b'42["echo","x"]'
        socket = srv.router.manager.get_engine(sid)
        due = socket.engine.next_deadline()
        assert due is not None and due == socket.engine.heartbeat_due
        armed, _ = srv.router.manager.timers.armed[socket.sessid]
        assert armed <= math.ceil(due / timers.GRAIN) * timers.GRAIN
        raw.close()
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_an_overlapping_poll_ends_the_session_as_on_tornado(
    servers: FastAndTornado,
) -> None:
    async def overlap(port: int) -> list[bytes]:
        raw = await Raw.open(port)
        sid = await open_session(raw)
        raw.send(get(target(sid)))
        engine = servers.router.manager.get_engine(sid).engine
        await eventually(lambda: engine.sink is not None, message="the poll held")
        second = await ask(port, get(target(sid)))
        answers = [await read_answer(raw), second, await ask(port, get(target(sid)))]
        raw.close()
        return answers

    fast = await overlap(servers.port)
    assert fast == await overlap(servers.tornado_port)
    assert b'"code":3' in fast[1]


@pytest.mark.asyncio
async def test_a_poll_of_a_closed_session_not_yet_forgotten_is_refused_as_on_tornado(
    servers: FastAndTornado,
) -> None:
    """The session refuses the poll (attach_poll raises): the handler's answer, code 1."""
    async def closed(port: int) -> bytes:
        sid = await modern_session(port)
        engine = servers.router.manager.get_engine(sid).engine
        engine.state, engine.owes_noop = EngineState.CLOSED, False
        return await ask(port, get(target(sid)))

    fast = await closed(servers.port)
    assert fast == await closed(servers.tornado_port)
    assert b'"code":1' in fast


@pytest.mark.asyncio
async def test_engine_io_v3_binary_polls_are_answered_as_on_tornado_with_b64_or_not() -> None:
    servers = FastAndTornado(allow_eio3=True)
    v3 = "/socket.io/?EIO=3&transport=polling"
    event = '451-["echo",{"_placeholder":true,"num":0}]'
    body = f"{len(event)}:{event}6:b4AQID".encode()

    async def answers(port: int) -> list[bytes]:
        raw = await Raw.open(port)
        raw.send(get(v3))
        sid = re.search(rb'"sid":"([^"]+)"', (await raw.response())[2])
        assert sid is not None
        at = f"{v3}&sid={sid.group(1).decode()}"
        got = []
        for query in ("&b64=1", "", "&b64", "&j=0"):
            got.append(await ask(port, post(at, body)))
            got.append(await ask(port, get(at + query)))
        raw.close()
        return got

    try:
        fast = await answers(servers.port)
        assert fast == await answers(servers.tornado_port)
        assert b"application/octet-stream" in fast[3]  # (binary without b64: XHR2 framing)
        assert b"application/octet-stream" not in fast[1] + fast[5]
        assert b"___eio[0](" in fast[7]  # (JSONP)
    finally:
        await servers.stop()


@pytest.mark.asyncio
async def test_the_date_of_a_steady_answer_follows_the_clock(servers: FastAndTornado) -> None:
    sid = await modern_session(servers.port)
    dates = []
    for _ in range(2):
        before = int(time.time())
        _, headers, _ = await respond_to(servers.port, post(target(sid), ECHO))
        now = {email.utils.formatdate(t, usegmt=True) for t in range(before, int(time.time()) + 1)}
        assert headers["date"] in now
        dates.append(headers["date"])
        # Into the next second (the text is kept for a second): nothing to await but time.
        await asyncio.sleep(1.05 - time.time() % 1)
    assert dates[0] != dates[1]


# -- 0.9 xhr-polling ---------------------------------------------------------------------------


def xhr(sid: str, query: str = "?t=1") -> str:
    return f"/socket.io/1/xhr-polling/{sid}{query}"


LEGACY_CASES: dict[str, Callable[[str], bytes]] = {
    "poll": lambda sid: get(xhr(sid)),
    "poll, no query": lambda sid: get(xhr(sid, "")),
    "poll, slash after the sid": lambda sid: get(xhr(sid, "/")),
    "poll, then close": lambda sid: get(xhr(sid), "Connection: close"),
    "poll, disconnect": lambda sid: get(xhr(sid, "?disconnect")),
    "poll, quoted query": lambda sid: get(xhr(sid, "?t=%31")),
    "poll, quoted sid": lambda sid: get(xhr(sid.replace(sid[0], "%" + format(ord(sid[0]), "02X"),
                                                        1))),
    "poll, own origin": lambda sid: get(xhr(sid), "Origin: http://test"),
    "poll, foreign origin": lambda sid: get(xhr(sid), "Origin: http://evil"),
    "poll, unknown sid": lambda sid: get(xhr("nosuchsessionnosuch0")),
    "poll, jsonp-polling": lambda sid: get(f"/socket.io/1/jsonp-polling/{sid}?i=1"),
    "post": lambda sid: post(xhr(sid), LEGACY_ECHO),
    "post, framed": lambda sid: post(xhr(sid), FRAMED * 2),
    "post, bad framing": lambda sid: post(xhr(sid), "\ufffd31\ufffd".encode() + LEGACY_ECHO),
    "post, then close": lambda sid: post(xhr(sid), LEGACY_ECHO, "Connection: close"),
    "post, foreign origin": lambda sid: post(xhr(sid), LEGACY_ECHO, "Origin: http://evil"),
    "post, own origin": lambda sid: post(xhr(sid), LEGACY_ECHO, "Origin: http://test"),
    "post, not UTF-8": lambda sid: post(xhr(sid), b"5:::\xff"),
    "post, over the limit": lambda sid: post(xhr(sid), b"3:::" + b"x" * LIMIT),
    "post, chunked over the limit": lambda sid: (
        f"POST {xhr(sid)} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"40\r\n3:::{'x' * 60}\r\n40\r\n{'x' * 64}\r\n0\r\n\r\n").encode(),
    "post, disconnect": lambda sid: post(xhr(sid, "?disconnect"), b""),
    "post, unknown sid": lambda sid: post(xhr("nosuchsessionnosuch0"), LEGACY_ECHO),
}


async def legacy_session(port: int) -> str:
    """A handshaken session, connected by its first poll, whose queue holds an echo."""
    status, _, body = await respond_to(port, get("/socket.io/1/"))
    assert status == 200
    sid = body.decode().split(":")[0]
    status, _, body = await respond_to(port, get(xhr(sid)))
    assert body.startswith(b"1::")
    assert (await respond_to(port, post(xhr(sid), LEGACY_ECHO)))[2] == b"1"
    return sid


async def legacy_case(port: int, case: str) -> list[bytes]:
    sid = await legacy_session(port)
    answers = [await ask(port, LEGACY_CASES[case](sid))]
    answers.append(await ask(port, post(xhr(sid), b'5:::{"name":"echo","args":["after"]}')))
    answers.append(await ask(port, get(xhr(sid))))
    return answers


@pytest.mark.parametrize("case", list(LEGACY_CASES))
@pytest.mark.asyncio
async def test_xhr_polls_are_answered_as_tornado_answers_them(
    servers: FastAndTornado, case: str
) -> None:
    fast = await legacy_case(servers.port, case)
    same_answers(case in LEGACY_EARLY, fast, await legacy_case(servers.tornado_port, case))


@pytest.mark.asyncio
async def test_a_held_xhr_poll_is_the_steady_exchange_itself(servers: FastAndTornado) -> None:
    manager = servers.router.manager
    for port, headers, held in (
        (servers.port, (), SteadyXhrPolling),
        (servers.port, ("Origin: http://test",), SteadyXhrPolling),
        (servers.tornado_port, (), PollingSink),
    ):
        sid = await legacy_session(port)
        assert (await respond_to(port, get(xhr(sid))))[2].startswith(b"5:::")  # (the echo)
        raw = await Raw.open(port)
        raw.send(get(xhr(sid), *headers))
        socket = manager.get(sid)
        await eventually(lambda s=socket: s.engine.sink is not None, message="the poll held")
        assert isinstance(socket.engine.sink, held)
        assert (await respond_to(port, post(xhr(sid), LEGACY_ECHO)))[2] == b"1"
        status, _, body = await raw.response()
        assert status == 200 and body.startswith(b"5:::")
        raw.close()


@pytest.mark.asyncio
async def test_xhr_polls_of_a_disabled_transport_are_refused_as_on_tornado() -> None:
    servers = FastAndTornado(transports=["websocket", "jsonp-polling"])
    try:
        for request, early in ((get(xhr("nosuchsessionnosuch0")), False),
                               (post(xhr("nosuchsessionnosuch0"), LEGACY_ECHO), True)):
            same_answers(early, [await ask(servers.port, request)],
                         [await ask(servers.tornado_port, request)])
    finally:
        await servers.stop()


# -- the route ---------------------------------------------------------------------------------


def test_the_route_sends_to_the_steady_exchange_only_what_prepare_has_nothing_to_say_about(
) -> None:
    router = Router({}, max_buffer_size=LIMIT)
    route = socketio_routes(router.manager)
    sid = "a" * 20

    def handler(method: str, uri: str, **raw: bytes) -> Any:
        found = route(method, uri, uri.partition("?")[0], {k.replace("_", "-"): v
                                                          for k, v in raw.items()})
        return None if found is None else found.handler

    steady_modern, steady_xhr = fastpath.SteadyEnginePoll, fastpath.SteadyXhrPoll
    assert issubclass(steady_modern, SteadyExchange) and issubclass(steady_xhr, SteadyExchange)
    assert handler("GET", target(sid)) is steady_modern
    assert handler("POST", target(sid)) is steady_modern
    # An Origin is looked at as the head is read (SteadyExchange.own_origin), not here.
    assert handler("GET", target(sid), origin=b"http://evil") is steady_modern
    assert handler("OPTIONS", target(sid)) is fastpath.FastEnginePolling
    assert handler("GET", EIO_OPEN) is fastpath.FastEnginePolling  # a handshake
    assert handler("GET", "/socket.io/1/") is fastpath.FastHandshake
    assert handler("GET", xhr(sid)) is steady_xhr
    assert handler("GET", xhr(sid, "/")) is steady_xhr
    assert handler("POST", xhr(sid), content_length=b"%d" % LIMIT) is steady_xhr
    assert handler("POST", xhr(sid), content_length=b"%d" % (LIMIT + 1)) is fastpath.FastXhrPolling
    assert handler("GET", xhr(sid), origin=b"http://evil") is steady_xhr
    assert handler("GET", xhr(sid, "?disconnect")) is fastpath.FastXhrPolling
    assert handler("GET", xhr(sid, "?t=%31")) is fastpath.FastXhrPolling
    assert handler("GET", xhr("%61" + sid[1:])) is fastpath.FastXhrPolling
    assert handler("GET", f"/socket.io/1/jsonp-polling/{sid}") is fastpath.FastJsonpPolling
    for path in (f"/socket.io/1/xhr-polling/{sid}//", "/socket.io/1/xhr-polling/",
                 "/socket.io/1/xhr-polling", f"/socket.io/1/htmlfile/{sid}",
                 f"/socket.io/1/xhr-polling/{sid}/x", "/socket.io/2/", "/elsewhere"):
        assert handler("GET", path) is None, path
    assert handler("OPTIONS", xhr(sid)) is None


def test_the_route_keeps_a_bounded_number_of_xhr_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastpath, "MAX_ROUTES", 3)
    route = socketio_routes(Router({}).manager)
    found = [route("GET", xhr(f"{n:020d}"), xhr(f"{n:020d}", ""), {}) for n in range(5)]
    assert [r.path_args for r in found if r is not None] == [[f"{n:020d}"] for n in range(5)]
    again = route("GET", xhr(f"{4:020d}"), xhr(f"{4:020d}", ""), {})
    assert again is found[4]  # kept
    first = route("GET", xhr(f"{0:020d}"), xhr(f"{0:020d}", ""), {})
    assert first is not found[0] and first is not None  # dropped when the bound was met


@pytest.mark.asyncio
async def test_a_sessions_first_xhr_poll_is_the_request_it_keeps_as_on_tornado(
    servers: FastAndTornado,
) -> None:
    manager = servers.router.manager
    kept = []
    for port in (servers.port, servers.tornado_port):
        sid = await legacy_session(port)
        request = manager.get(sid).request
        kept.append((request.method, request.path.replace(sid, "SID"), request.headers["Host"]))
    assert kept[0] == kept[1] == ("GET", "/socket.io/1/xhr-polling/SID", "test")


@pytest.mark.asyncio
async def test_a_client_that_leaves_during_a_held_xhr_poll_is_noticed(
    servers: FastAndTornado,
) -> None:
    sid = await legacy_session(servers.port)
    assert (await respond_to(servers.port, get(xhr(sid))))[2].startswith(b"5:::")  # (the echo)
    raw = await Raw.open(servers.port)
    raw.send(get(xhr(sid)))
    engine = servers.router.manager.get(sid).engine
    await eventually(lambda: isinstance(engine.sink, SteadyXhrPolling), message="held")
    raw.writer.transport.abort()
    await eventually(lambda: engine.sink is None, message="the held poll given up")


@pytest.mark.asyncio
async def test_many_packets_in_one_post_are_handled_in_slices_as_on_tornado() -> None:
    """More packets than a slice (``SLICE``): the POST is answered once they are handled."""
    servers = FastAndTornado()
    try:
        async def modern(port: int) -> list[bytes]:
            sid = await modern_session(port)
            await ask(port, get(target(sid)))  # (the echo queued)
            body = b"\x1e".join([ECHO] * (SLICE + 1))
            return [await ask(port, post(target(sid), body)), await ask(port, get(target(sid)))]

        async def legacy(port: int) -> list[bytes]:
            sid = await legacy_session(port)
            await ask(port, get(xhr(sid)))
            return [await ask(port, post(xhr(sid), FRAMED * (SLICE + 1))),
                    await ask(port, get(xhr(sid)))]

        fast = await modern(servers.port)
        assert fast == await modern(servers.tornado_port)
        assert fast[1].count(b'["echo","hi"]') == SLICE + 1
        fast = await legacy(servers.port)
        assert fast == await legacy(servers.tornado_port)
        assert fast[1].count(b'"name":"echo"') == SLICE + 1
    finally:
        await servers.stop()


@pytest.mark.asyncio
async def test_a_worker_serves_its_own_sessions_polls_and_hands_the_others_to_tornado() -> None:
    """``is_local``: a ``tornio serve`` worker's owner check (Tornado's delegate chain then
    forwards what another worker owns; here plain Tornado answers it: unknown session)."""
    worker = FastAndTornado()
    raw = await Raw.open(worker.port)
    sid = await open_session(raw)
    raw.close()
    owner = sid[:6]
    worker.fast.router = socketio_routes(worker.router.manager, lambda tag: tag == owner)
    try:
        assert (await respond_to(worker.port, post(target(sid), b"40")))[2] == b"ok"
        assert worker.fast.handed_off == 0
        other = "ZZZZZZ" + sid[6:] if owner != "ZZZZZZ" else "YYYYYY" + sid[6:]
        status, _, body = await respond_to(worker.port, post(target(other), b"40"))
        assert (status, worker.fast.handed_off) == (400, 1)
        assert body == b'{"code":1,"message":"Session ID unknown"}'
    finally:
        await worker.stop()


#: With ``origins`` naming another site: its pages' polls are allowed with CORS headers (the
#: handler's ``prepare`` sets them: the general exchange's), the server's own are steady.
ORIGIN_CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "listed": ("http://listed.example", ("Access-Control-Allow-Origin",)),
    "own": ("http://test", ()),
    "foreign": ("http://evil.example", ()),
}


@pytest.mark.parametrize("kind", list(ORIGIN_CASES))
@pytest.mark.asyncio
async def test_polls_with_an_origin_are_answered_as_tornado_answers_them(kind: str) -> None:
    origin, cors = ORIGIN_CASES[kind]
    srv = FastAndTornado(max_buffer_size=LIMIT, origins="listed.example:*")
    header = f"Origin: {origin}"
    try:
        for port_of in ("port", "tornado_port"):
            port = getattr(srv, port_of)
            sid = await modern_session(port)
            answers = [await ask(port, get(target(sid), header)),
                       await ask(port, post(target(sid), ECHO, header)),
                       await ask(port, get(target(sid), header))]
            lsid = await legacy_session(port)
            answers += [await ask(port, get(xhr(lsid), header)),
                        await ask(port, post(xhr(lsid), LEGACY_ECHO, header)),
                        await ask(port, get(xhr(lsid), header))]
            if port_of == "port":
                fast = answers
        early = kind == "foreign"  # (a refused POST: as MODERN_EARLY, LEGACY_EARLY say)
        for index, (mine, theirs) in enumerate(zip(fast, answers, strict=True)):
            same_answers(early and index in (1, 4), [mine], [theirs])
        for name in cors:
            assert all(name.encode() in answer for answer in fast)
        status = b"HTTP/1.1 403" if kind == "foreign" else b"HTTP/1.1 200"
        assert all(answer.startswith(status) for answer in fast)
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_a_poll_from_a_listed_origin_is_the_handlers() -> None:
    """CORS headers are the handler's to set: such a poll is held by the general exchange
    (a PollSink), the server's own origin's by the steady-state exchange."""
    srv = FastAndTornado(max_buffer_size=LIMIT, origins="listed.example:*")
    try:
        for origin, held in (("http://listed.example", PollSink),
                             ("http://test", SteadyEnginePolling)):
            raw = await Raw.open(srv.port)
            sid = await open_session(raw)
            raw.send(get(target(sid), f"Origin: {origin}"))
            engine = srv.router.manager.get_engine(sid).engine
            await eventually(lambda e=engine: e.sink is not None, message="the poll held")
            assert isinstance(engine.sink, held)
            raw.close()
    finally:
        await srv.stop()
