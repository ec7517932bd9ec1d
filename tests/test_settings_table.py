"""``Settings`` validation (``tornio.settings``) as tables: every value refused with its exact
message, the values just inside each bound accepted, and what the parsers of ``origins``,
``trusted_proxies``, ``per_message_deflate`` and ``http_compression`` make of what they take."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tornio.settings import (
    DEFLATE_DEFAULTS,
    HTTP_COMPRESSION_DEFAULTS,
    Settings,
    check_http_compression,
    check_per_message_deflate,
    http_server_options,
    parse_origins,
    parse_trusted_proxies,
)

POSITIVE_TIMES = [
    "heartbeat_timeout", "heartbeat_interval", "close_timeout", "polling_duration",
    "handshake_timeout", "ping_interval", "ping_timeout", "upgrade_timeout",
    "connect_timeout", "max_disconnection_duration", "header_timeout",
]
POSITIVE_COUNTS = [
    "max_room_name", "max_event_name", "max_namespace_name", "max_rooms_per_socket",
    "max_event_burst", "max_header_size", "max_buffer_size", "max_write_buffer",
]


def kwargs(name: str, value: Any) -> dict[str, Any]:
    return {name: value}


@pytest.mark.parametrize("name", POSITIVE_TIMES)
@pytest.mark.parametrize("value", [0, 0.0, -1.0])
def test_a_time_must_be_positive(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be positive$"):
        Settings(**kwargs(name, value))


@pytest.mark.parametrize("name", POSITIVE_TIMES)
def test_a_small_positive_time_is_taken(name: str) -> None:
    assert getattr(Settings(**kwargs(name, 0.001)), name) == 0.001


@pytest.mark.parametrize("name", POSITIVE_COUNTS)
@pytest.mark.parametrize("value", [0, -1, 1.5, 10.0, True, "10", None])
def test_a_limit_must_be_a_positive_whole_number(name: str, value: Any) -> None:
    message = f"^{name} must be a positive whole number, not {value!r}$".replace("(", r"\(")
    with pytest.raises(ValueError, match=message.replace(")", r"\)")):
        Settings(**kwargs(name, value))


@pytest.mark.parametrize("name", POSITIVE_COUNTS)
def test_a_limit_of_one_is_taken(name: str) -> None:
    assert getattr(Settings(**kwargs(name, 1)), name) == 1


@pytest.mark.parametrize(
    ("room", "namespace", "ok"),
    [(2046, 0 + 1, False), (2045, 1, True), (1, 2045, True), (1, 2046, False),
     (1024, 256, True), (1500, 546, True), (1500, 547, False)],
)
def test_room_and_namespace_names_fit_a_bus_topic(room: int, namespace: int, ok: bool) -> None:
    if ok:
        Settings(max_room_name=room, max_namespace_name=namespace)
        return
    with pytest.raises(
        ValueError,
        match=r"^max_room_name \+ max_namespace_name must be at most 2046: the bus carries a "
              r"room as a topic of at most 4096 bytes$",
    ):
        Settings(max_room_name=room, max_namespace_name=namespace)


@pytest.mark.parametrize("rate", [0, 0.0, -5.0])
def test_max_event_rate_is_positive_or_none(rate: float) -> None:
    with pytest.raises(ValueError, match=r"^max_event_rate must be positive, or None for no "
                                         r"limit$"):
        Settings(max_event_rate=rate)
    assert Settings(max_event_rate=0.01).max_event_rate == 0.01
    assert Settings().max_event_rate is None


def test_transports_and_resource() -> None:
    assert Settings(resource="/io/").resource == "io"
    assert Settings(resource="/X.io/").resource == "X.io"
    assert Settings(transports=["xhr-polling"]).transports == ["xhr-polling"]
    with pytest.raises(ValueError, match=r"^unknown transports: polling, ws$"):
        Settings(transports=["xhr-polling", "polling", "ws"])


def test_client_bundle_must_be_a_directory(tmp_path: Any) -> None:
    assert Settings(client_bundle=str(tmp_path)).client_bundle == str(tmp_path)
    assert Settings(client_bundle=True).client_bundle is True
    missing = str(tmp_path / "missing")
    with pytest.raises(ValueError, match="is not a directory"):
        Settings(client_bundle=missing)


def test_json_and_middlewares() -> None:
    settings = Settings(json=json, middlewares=[print])
    assert settings.middlewares == (print,)
    with pytest.raises(TypeError, match=r"^json_default must be a callable, not 3$"):
        Settings(json_default=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^give json= \(a module\) or json_default= \(a "
                                         r"function\), not both$"):
        Settings(json=json, json_default=str)
    for half in ({"dumps": json.dumps}, {"loads": json.loads}):
        module = type("M", (), {k: staticmethod(v) for k, v in half.items()})
        missing = "loads" if "dumps" in half else "dumps"
        with pytest.raises(TypeError, match=rf"^json= needs a callable {missing}\(\)"):
            Settings(json=module)
    with pytest.raises(TypeError, match=r"^middlewares must be callables, not 'x'$"):
        Settings(middlewares=[print, "x"])  # type: ignore[list-item]


def test_from_kwargs_names_the_unknown_settings() -> None:
    assert Settings.from_kwargs(ping_interval=3.0).ping_interval == 3.0
    with pytest.raises(TypeError, match=r"^unknown tornio settings: a, pingInterval$"):
        Settings.from_kwargs(pingInterval=3, a=1)


# -- origins ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "entries"),
    [
        (None, ()),
        ("", ()),
        (" , ", ()),
        ("*", ("*",)),
        ("*:* null", ("*:*", "null")),
        ("https://a.example,http://b.example:8080", ("https://a.example", "http://b.example:8080")),
        (["https://a.example/", "a.example:*"], ("https://a.example/", "a.example:*")),
        (["a.example:1 b.example:65535"], ("a.example:1", "b.example:65535")),
        ("[::1]:8080 *:80", ("[::1]:8080", "*:80")),
        ("http://[::1]:8080", ("http://[::1]:8080",)),
        ("app://local", ("app://local",)),
    ],
)
def test_parse_origins(spec: Any, entries: tuple[str, ...]) -> None:
    assert parse_origins(spec) == entries


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("a.example", "is neither a full origin"),
        ("https://a.example/path", "is neither a full origin"),
        ("https://a.example:80:80", "is neither a full origin"),
        ("https://user@a.example", "is neither a full origin"),
        ("1http://a.example", "is neither a full origin"),
        ("a.example:", "is neither a full origin"),
        ("a.example:http", "is neither a full origin"),
        ("a.example:123456", "is neither a full origin"),
        ("https://a.example:0", "has a bad port"),
        ("https://a.example:65536", "has a bad port"),
        ("a.example:0", "has a bad port"),
        ("*:65536", "has a bad port"),
    ],
)
def test_parse_origins_refuses(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^origins: {re.escape(repr(entry))} {message}"):
        parse_origins(entry)


def test_parse_origins_says_what_an_entry_may_be() -> None:
    with pytest.raises(ValueError) as raised:
        parse_origins("https://a.example/x")
    assert str(raised.value) == (
        "origins: 'https://a.example/x' is neither a full origin (scheme://host[:port], no "
        "path) nor a node 0.9 pattern ('host:port', 'host:*', '*:port')"
    )


def test_parse_origins_refuses_what_is_not_a_string() -> None:
    with pytest.raises(ValueError, match=r"^origins: 5 is not a string$"):
        parse_origins(["https://a.example", 5])  # type: ignore[list-item]


# -- trusted proxies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "entries"),
    [
        (None, ()),
        ("", ()),
        ("127.0.0.1", ("127.0.0.1",)),
        ("127.0.0.1, 10.0.0.0/8 ::1", ("127.0.0.1", "10.0.0.0/8", "::1")),
        (["*", " 10.0.0.1 ", ""], ("*", "10.0.0.1")),
        ("10.0.0.1/8", ("10.0.0.1/8",)),  # host bits set: taken (strict=False)
    ],
)
def test_parse_trusted_proxies(spec: Any, entries: tuple[str, ...]) -> None:
    assert parse_trusted_proxies(spec) == entries


@pytest.mark.parametrize("entry", ["localhost", "10.0.0.0/33", "::g", "**"])
def test_parse_trusted_proxies_refuses(entry: str) -> None:
    with pytest.raises(ValueError, match=f"^trusted_proxies: {re.escape(repr(entry))} is not an "
                                         "IP address, a CIDR network or '\\*'$"):
        parse_trusted_proxies(["127.0.0.1", entry])


# -- compression options ----------------------------------------------------------------------


def test_compression_options_defaults() -> None:
    assert check_per_message_deflate(False) is None
    assert check_per_message_deflate(None) is None
    assert check_per_message_deflate(True) == DEFLATE_DEFAULTS
    assert check_http_compression(True) == HTTP_COMPRESSION_DEFAULTS == {
        "threshold": 1024, "level": 6}
    assert check_http_compression({"level": 9}) == {"threshold": 1024, "level": 9}
    assert check_per_message_deflate({"threshold": 0, "level": 0}) == {
        **DEFLATE_DEFAULTS, "threshold": 0, "level": 0}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yes", "per_message_deflate must be True, False or a dict of options"),
        (1, "per_message_deflate must be True, False or a dict of options"),
        ({"zlevel": 1, "a": 2}, "per_message_deflate: unknown options a, zlevel"),
        ({"level": "9"}, "per_message_deflate: level must be a int"),
        ({"threshold": 1.0}, "per_message_deflate: threshold must be a int"),
        ({"server_no_context_takeover": 1}, "per_message_deflate: server_no_context_takeover "
                                             "must be a bool"),
        ({"threshold": -1}, "per_message_deflate: threshold must be >= 0 and level 0 to 9"),
        ({"level": -1}, "per_message_deflate: threshold must be >= 0 and level 0 to 9"),
        ({"level": 10}, "per_message_deflate: threshold must be >= 0 and level 0 to 9"),
        ({"server_max_window_bits": 8}, "per_message_deflate: server_max_window_bits must be "
                                        "9 to 15"),
        ({"client_max_window_bits": 16}, "per_message_deflate: client_max_window_bits must be "
                                         "9 to 15"),
        ({"mem_level": 0}, "per_message_deflate: mem_level must be 1 to 9"),
        ({"mem_level": 10}, "per_message_deflate: mem_level must be 1 to 9"),
    ],
)
def test_per_message_deflate_refuses(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        check_per_message_deflate(value)
    assert str(raised.value) == message
    with pytest.raises(ValueError):
        Settings(per_message_deflate=value)


@pytest.mark.parametrize(
    "options",
    [{"server_max_window_bits": 9, "client_max_window_bits": 15, "mem_level": 1},
     {"server_max_window_bits": 15, "client_max_window_bits": 9, "mem_level": 9}],
)
def test_per_message_deflate_bounds_are_inclusive(options: dict[str, int]) -> None:
    assert check_per_message_deflate(options) == {**DEFLATE_DEFAULTS, **options}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"level": 10}, "http_compression: threshold must be >= 0 and level 0 to 9"),
        ({"mem_level": 1}, "http_compression: unknown options mem_level"),
        ("on", "http_compression must be True, False or a dict of options"),
    ],
)
def test_http_compression_refuses(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        check_http_compression(value)
    assert str(raised.value) == message
    with pytest.raises(ValueError) as raised:
        Settings(http_compression=value)
    assert str(raised.value) == message


def test_http_server_options() -> None:
    assert http_server_options(Settings(max_header_size=1234, header_timeout=2.5)) == {
        "max_header_size": 1234,
        "idle_connection_timeout": 2.5,
    }
