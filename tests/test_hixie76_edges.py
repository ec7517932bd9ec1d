"""The hixie-76 codec's refusals, each with its exact message, its bounds on both sides, and
keys made as a client does from a seeded generator (exact answers).
``tests/test_protocol_hixie76.py`` has the draft's example and the slicing properties."""

from __future__ import annotations

import random

import pytest

from tornio.protocol import hixie76
from tornio.protocol.hixie76 import FrameError, FrameParser, HandshakeError

NO_DIGITS = "a key needs digits and at least one space"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("123456", NO_DIGITS),
        ("   ", NO_DIGITS),
        ("", NO_DIGITS),
        ("1 2 3", "a key's number is not a multiple of its spaces"),
        ("4294967296 ", "a key's number does not fit in 32 bits"),
        ("8589934592  ", "a key's number does not fit in 32 bits"),
    ],
)
def test_a_bad_key_is_refused_with_its_reason(key: str, message: str) -> None:
    with pytest.raises(HandshakeError) as refused:
        hixie76.key_number(key)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("key", "number"),
    [
        ("4294967295 ", 0xFFFFFFFF),  # the largest 32-bit number
        ("8589934590  ", 0xFFFFFFFF),
        ("0 ", 0),
        ("/9:0 ", 90),  # '/' and ':' are the characters around the digits: not digits
    ],
)
def test_key_numbers_at_the_bounds(key: str, number: int) -> None:
    assert hixie76.key_number(key) == number


@pytest.mark.parametrize("key3", [b"", b"1234567", b"123456789"])
def test_key3_of_any_other_length_is_refused(key3: bytes) -> None:
    with pytest.raises(HandshakeError) as refused:
        hixie76.challenge_response("1 ", "1 ", key3)
    assert str(refused.value) == "key3 must be 8 bytes"


def test_keys_from_a_seeded_generator() -> None:
    assert [hixie76.make_key(random.Random(seed)) for seed in (1, 2, 3)] == [
        ("3667:06 d 80 15", 1222356005),
        ("u39Rx3| x353?683", 393353683),
        ("g1x1q20C3232  8gu  0", 280080820),
    ]


def test_keys_use_1_to_12_spaces_and_1_to_12_noise_characters() -> None:
    rng = random.Random(5)
    spaces, noise, first = set(), set(), set()
    for _ in range(3000):
        key, number = hixie76.make_key(rng)
        assert hixie76.key_number(key) == number
        spaces.add(key.count(" "))
        noise.add(sum(1 for c in key if c != " " and not c.isdigit()))
        first.add(key[0].isdigit())
    assert spaces == noise == set(range(1, 13))
    assert first == {True, False}  # noise may come first, a space never


def test_a_key_without_a_generator_is_made_with_the_systems() -> None:
    key, number = hixie76.make_key()
    assert hixie76.key_number(key) == number and 0 <= number <= 0xFFFFFFFF


@pytest.mark.parametrize(
    ("origin", "location", "protocol"),
    [
        ("o\r", "ws://h/", None),
        ("o", "ws://h/\n", None),
        ("o", "ws://h/", "chat\r\nX-Evil: 1"),
    ],
)
def test_a_line_break_in_any_value_is_refused(
    origin: str, location: str, protocol: str | None
) -> None:
    with pytest.raises(HandshakeError) as refused:
        hixie76.handshake_response(origin, location, protocol)
    assert str(refused.value) == "a header value with a line break"


def test_values_with_any_other_characters_are_answered() -> None:
    head = hixie76.handshake_response("http://X.example", "ws://XX/", "")
    assert head == (
        b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Origin: http://X.example\r\n"
        b"Sec-WebSocket-Location: ws://XX/\r\n\r\n"
    )


def test_a_new_parser() -> None:
    parser = FrameParser()
    assert parser.max_size == 1_000_000 and parser.closed is False


def test_the_default_limit_allows_exactly_one_million_bytes() -> None:
    assert FrameParser().feed(b"\x00" + b"x" * 1_000_000 + b"\xff") == ["x" * 1_000_000]
    with pytest.raises(FrameError) as refused:
        FrameParser().feed(b"\x00" + b"x" * 1_000_001)
    assert str(refused.value) == "a frame over 1000000 bytes"


def test_a_length_prefixed_frame_of_exactly_max_size_is_skipped() -> None:
    parser = FrameParser(max_size=10)
    assert parser.feed(b"\x80\x0a" + b"z" * 10 + b"\x00ok\xff") == ["ok"]
    with pytest.raises(FrameError) as refused:
        FrameParser(max_size=10).feed(b"\x80\x0b")
    assert str(refused.value) == "a frame over 10 bytes"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00" + b"x" * 11, "a frame over 10 bytes"),
        (b"\x00\xc3\x28\xff", "a text frame that is not UTF-8: "),
        (b"\xff\x00\x00", "data after the closing frame"),
    ],
)
def test_after_a_refusal_the_parser_takes_nothing_more(data: bytes, message: str) -> None:
    parser = FrameParser(max_size=10)
    with pytest.raises(FrameError) as refused:
        parser.feed(data)
    assert str(refused.value).startswith(message)
    assert message.endswith(": ") or str(refused.value) == message
    with pytest.raises(FrameError) as again:
        parser.feed(b"\x00a\xff")
    assert str(again.value) == "data after the end of the stream"
    assert parser.feed(b"") == []


def test_after_the_closing_frame_nothing_more_is_taken() -> None:
    parser = FrameParser()
    assert parser.feed(b"\x00a\xff\xff\x00") == ["a"] and parser.closed is True
    assert parser.feed(b"") == []
    with pytest.raises(FrameError) as refused:
        parser.feed(b"\x00b\xff")
    assert str(refused.value) == "data after the end of the stream"
