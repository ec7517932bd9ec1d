"""permessage-deflate (tornio.protocol.permessage_deflate) as tables of exact answers: the
agreement for each form of offer (quoting, case, spacing, repeated and empty parameters, the
window bits at each bound), what the deflater compresses and how (threshold on both sides,
window, context), and what the inflater refuses and how it starts over.
``tests/test_websocket_deflate.py`` has the common offers and the clients end to end."""

from __future__ import annotations

import os
import random
import tracemalloc
import zlib

import pytest

from tornio.protocol import permessage_deflate as pmd
from tornio.protocol import websocket as ws
from tornio.protocol.permessage_deflate import (
    Agreement,
    DeflateError,
    DeflateOptions,
    Deflater,
    Inflater,
    negotiate,
)

PMD = "permessage-deflate"
NCT = "permessage-deflate; server_no_context_takeover"


@pytest.mark.parametrize(
    ("offer", "options", "agreement"),
    [
        ("permessage-deflate", {}, Agreement(True, False, 15, 15, NCT)),
        ("permessage-deflate", {"server_no_context_takeover": False},
         Agreement(False, False, 15, 15, PMD)),
        ("permessage-deflate; Server_No_Context_Takeover", {"server_no_context_takeover": False},
         Agreement(True, False, 15, 15, NCT)),
        ("permessage-deflate;; ;client_no_context_takeover", {},
         Agreement(True, True, 15, 15, NCT + "; client_no_context_takeover")),
        ("permessage-deflate; server_max_window_bits = 9", {},
         Agreement(True, False, 9, 15, NCT + "; server_max_window_bits=9")),
        ("permessage-deflate; server_max_window_bits=15", {},
         Agreement(True, False, 15, 15, NCT + "; server_max_window_bits=15")),
        ("permessage-deflate; server_max_window_bits=010", {},
         Agreement(True, False, 10, 15, NCT + "; server_max_window_bits=10")),
        ("permessage-deflate; server_max_window_bits=14", {"server_max_window_bits": 12},
         Agreement(True, False, 12, 15, NCT + "; server_max_window_bits=12")),
        ("permessage-deflate; server_max_window_bits=10", {"server_max_window_bits": 12},
         Agreement(True, False, 10, 15, NCT + "; server_max_window_bits=10")),
        ("permessage-deflate", {"server_max_window_bits": 12},
         Agreement(True, False, 12, 15, NCT + "; server_max_window_bits=12")),
        ("permessage-deflate", {"server_max_window_bits": 15}, Agreement(True, False, 15, 15, NCT)),
        ("permessage-deflate; client_max_window_bits=8", {},
         Agreement(True, False, 15, 8, NCT + "; client_max_window_bits=8")),
        ("permessage-deflate; client_max_window_bits=15", {}, Agreement(True, False, 15, 15, NCT)),
        ("permessage-deflate; client_max_window_bits", {"client_max_window_bits": 11},
         Agreement(True, False, 15, 11, NCT + "; client_max_window_bits=11")),
        ("permessage-deflate; client_max_window_bits=12", {"client_max_window_bits": 14},
         Agreement(True, False, 15, 12, NCT + "; client_max_window_bits=12")),
        # A quoted value keeps its separators; a repeated parameter declines only its offer.
        ('permessage-deflate; server_max_window_bits="1,2", permessage-deflate', {},
         Agreement(True, False, 15, 15, NCT)),
        ('permessage-deflate; server_max_window_bits="9;"', {}, None),
        # An offer inside another extension's quoted value is no offer.
        ('x-ext; p="a, permessage-deflate; server_max_window_bits=9, b", '
         "permessage-deflate; server_max_window_bits=10", {},
         Agreement(True, False, 10, 15, NCT + "; server_max_window_bits=10")),
        ("permessage-deflate; server_max_window_bits=10; server_max_window_bits=11, "
         "permessage-deflate; server_max_window_bits=12", {},
         Agreement(True, False, 12, 15, NCT + "; server_max_window_bits=12")),
        ("permessage-deflate; SERVER_MAX_WINDOW_BITS=10; server_max_window_bits=10", {}, None),
        ("permessage-deflate; server_max_window_bits=", {}, None),
        ("permessage-deflate; server_max_window_bits=+9", {}, None),
        ("permessage-deflate; server_max_window_bits=X10", {}, None),
        ('permessage-deflate; server_max_window_bits="10X"', {}, None),
        ("permessage-deflate; server_max_window_bits=8", {}, None),
        ("permessage-deflate; client_max_window_bits=16", {}, None),
        ("permessage-deflate; client_max_window_bits=", {}, None),
        ("permessage-deflate; client_no_context_takeover=", {}, None),
        ("deflate-frame; server_max_window_bits=10", {}, None),
        (None, {}, None),
    ],
)
def test_agreement(offer: str | None, options: dict[str, object], agreement: Agreement) -> None:
    assert negotiate(offer, DeflateOptions(**options)) == agreement  # type: ignore[arg-type]


def test_the_default_options() -> None:
    assert DeflateOptions() == DeflateOptions(
        threshold=1024, server_no_context_takeover=True, client_no_context_takeover=False,
        server_max_window_bits=15, client_max_window_bits=15, level=6, mem_level=8,
    )
    assert DeflateOptions.from_setting(None) is None
    assert DeflateOptions.from_setting({"level": 1, "mem_level": 9}) == DeflateOptions(
        level=1, mem_level=9
    )
    assert DeflateError("x").too_big is False


def deflater(takeover: bool = False, bits: int = 15, **options: int) -> Deflater:
    agreement = Agreement(not takeover, False, bits, 15, "")
    chosen = DeflateOptions(server_no_context_takeover=not takeover, **options)  # type: ignore[arg-type]
    return Deflater(agreement, chosen)


def payload_of(frame: bytes) -> bytes:
    length, head = frame[1], 2
    if length == 126:
        length, head = int.from_bytes(frame[2:4], "big"), 4
    return frame[head : head + length]


def inflate(data: bytes, bits: int = 15) -> bytes:
    return zlib.decompressobj(-bits).decompress(data + pmd.TAIL)


@pytest.mark.parametrize(
    ("data", "compressed"),
    [
        (b"b" * 9, False),
        (b"b" * 10, True),
        ("abc", False),  # 3 characters: at most 9 bytes, not encoded
        ("abcd", False),  # 4 characters, 4 bytes
        ("\u00e9" * 4, False),  # 4 characters, 8 bytes
        ("\u00e9" * 5, True),  # 5 characters, 10 bytes
        ("a" * 10, True),
        ("\u20ac" * 3, False),  # 3 characters, 9 bytes
        ("\u20ac" * 4, True),  # 4 characters, 12 bytes
    ],
)
def test_the_threshold_on_both_sides(data: str | bytes, compressed: bool) -> None:
    frame = deflater(threshold=10).frame(data)
    if not compressed:
        assert frame is None
        return
    assert frame is not None
    raw = data.encode() if isinstance(data, str) else data
    assert frame[0] == 0xC0 | (ws.TEXT if isinstance(data, str) else ws.BINARY)
    assert inflate(payload_of(frame)) == raw


def test_the_compressed_payload_leaves_the_tail_off() -> None:
    compressed = deflater().compress(b"hello " * 300)
    assert not compressed.endswith(pmd.TAIL)
    assert inflate(compressed) == b"hello " * 300


def test_the_window_asked_for_is_the_window_used() -> None:
    block = random.Random(9).randbytes(1000)
    narrow = deflater(bits=9).compress(block + block)
    assert inflate(narrow, bits=9) == block + block
    assert len(narrow) > 2000  # a 512-byte window cannot refer 1000 bytes back
    wide = deflater(bits=15).compress(block + block)
    assert len(wide) < 1100 and inflate(wide) == block + block


def test_the_level_and_memory_level_are_zlibs() -> None:
    text = bytes(range(256)) * 40 + b"abcabcabc" * 500
    for level, mem_level in ((1, 8), (9, 8), (6, 1), (6, 9)):
        expected = zlib.compressobj(level, zlib.DEFLATED, -15, mem_level)
        want = expected.compress(text) + expected.flush(zlib.Z_SYNC_FLUSH)
        got = deflater(level=level, mem_level=mem_level).compress(text)
        assert got == want[:-4]


def test_the_cached_frame_is_per_settings() -> None:
    text = "x" * 2000 + "y" * 2000
    fast, best = deflater(level=1), deflater(level=9)
    assert fast.frame(text) is fast.frame(text)
    assert best.frame(text) == deflater(level=9).frame(text)
    assert payload_of(best.frame(text) or b"") != payload_of(fast.frame(text) or b"")
    small = deflater(mem_level=1)
    assert small.frame(text) is not best.frame(text)
    narrow = deflater(bits=9)
    assert inflate(payload_of(narrow.frame(text) or b""), 9).decode() == text
    binary = text.encode()
    assert deflater().frame(binary) is deflater().frame(binary)
    assert (deflater().frame(binary) or b"")[0] == 0xC2


def test_context_takeover_compresses_a_repeat_smaller() -> None:
    message = os.urandom(3000)
    keeping = deflater(takeover=True, threshold=0)
    first, second = keeping.compress(message), keeping.compress(message)
    assert len(second) < len(first) // 10
    stream = zlib.decompressobj(-15)
    assert stream.decompress(first + pmd.TAIL) == message
    assert stream.decompress(second + pmd.TAIL) == message
    alone = deflater(takeover=False, threshold=0)
    assert alone.compress(message) == alone.compress(message) == first
    # With takeover nothing is cached between connections or messages.
    text = "t" * 3000
    one, two = deflater(takeover=True), deflater(takeover=True)
    assert one.frame(text) == two.frame(text) and one.frame(text) != two.frame("u" * 3000)


def client_messages(*messages: bytes, finish: bool = False) -> list[bytes]:
    client = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = []
    for message in messages:
        data = client.compress(message) + client.flush(
            zlib.Z_FINISH if finish else zlib.Z_SYNC_FLUSH
        )
        out.append(data[:-4] if data.endswith(pmd.TAIL) else data)
    return out


def inflater(max_size: int, client_nct: bool = False) -> Inflater:
    return Inflater(Agreement(True, client_nct, 15, 15, ""), max_size)


def test_the_inflater_allows_exactly_max_size() -> None:
    [data] = client_messages(b"z" * 1000)
    assert inflater(1000).inflate(data) == b"z" * 1000
    with pytest.raises(DeflateError) as refused:
        inflater(999).inflate(data)
    assert (str(refused.value), refused.value.too_big) == (
        "message inflates past 999 bytes", True,
    )


def test_three_byte_characters_exactly_at_the_threshold_are_compressed() -> None:
    frame = deflater(threshold=9).frame("\u20ac" * 3)
    assert frame is not None and inflate(payload_of(frame)) == "\u20ac\u20ac\u20ac".encode()


def test_a_bomb_is_never_inflated_past_the_limit_in_memory() -> None:
    """The inflater asks zlib for at most max_size + 1 bytes: 50 MB of zeros in 50 KB never
    take more than the limit's worth of memory (counted by tracemalloc, not timed)."""
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = bomb.compress(bytes(50_000_000)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    reader = inflater(1000)
    tracemalloc.start()
    try:
        with pytest.raises(DeflateError) as refused:
            reader.inflate(data[:-4])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.too_big
    assert peak < 1_000_000


def test_garbage_is_refused_with_zlibs_reason() -> None:
    with pytest.raises(DeflateError) as refused:
        inflater(100).inflate(b"\xff\xfe\xfd")
    assert str(refused.value).startswith("bad compressed data: Error -3 ")
    assert refused.value.too_big is False


def test_without_client_context_takeover_each_message_inflates_alone() -> None:
    first, second = client_messages(b"abcdefgh" * 100, b"abcdefgh" * 100)
    keeping = inflater(10_000)
    assert keeping.inflate(first) == keeping.inflate(second) == b"abcdefgh" * 100
    alone = inflater(10_000, client_nct=True)
    assert alone.inflate(first) == b"abcdefgh" * 100
    with pytest.raises(DeflateError):
        alone.inflate(second)  # it refers to the first message's context


@pytest.mark.parametrize("bad", [b"\xff\xfe\xfd", client_messages(b"q" * 500)[0]])
def test_after_a_refusal_the_inflater_starts_over(bad: bytes) -> None:
    reader = inflater(100)
    with pytest.raises(DeflateError):
        reader.inflate(bad)
    [fresh] = client_messages(b"fresh")
    assert reader.inflate(fresh) == b"fresh"


def test_a_final_block_ends_the_context() -> None:
    reader = inflater(1000)
    [first] = client_messages(b"one", finish=True)
    [second] = client_messages(b"two", finish=True)
    assert reader.inflate(first) == b"one"
    assert reader.inflate(second) == b"two"
