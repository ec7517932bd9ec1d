"""Every Python example of README.md and docs/ runs as written.

Each ```` ```python ```` block is either a complete application (imported, served on a free
loopback port, then real clients connect and do what its ``<!-- check: ... -->`` says) or a
fragment marked ``<!-- fragment -->`` (compiled only): see ``tests/support/doc_examples.py``.
The fragments are listed (``test_fragment_compiles[...]``), and there must be complete
applications, so the test cannot pass by skipping everything. The README's first application
is ``examples/hello/app.py``, which is also served by ``tornio serve`` and used by socket.io
client 4.x under Node, python-socketio's client and a 0.9 client.
"""

from __future__ import annotations

import ast
import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio  # type: ignore[import-untyped]

from tests.support.doc_examples import (
    Block,
    default_check,
    extract_blocks,
    load_app,
    router_of,
    run_checks,
)
from tests.support.legacy_client import LegacyClient
from tests.support.node_client import NodeClient, node_modules_ready
from tests.support.serve_cluster import ClusterProcess
from tornio.protocol import legacy

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PAGES = [page for page in PAGES if "_build" not in page.parts]
BLOCKS = [block for page in PAGES for block in extract_blocks(page)]
APPS = [block for block in BLOCKS if not block.fragment]
FRAGMENTS = [block for block in BLOCKS if block.fragment]
_names = itertools.count()


def _id(block: Block) -> str:
    return f"{block.path.relative_to(ROOT)}:{block.line}"


def test_the_examples_are_found() -> None:
    """Complete applications in the README and in the docs, and the fragments named."""
    assert any(block.path.name == "README.md" for block in APPS)
    assert len({block.path for block in APPS}) >= 4, [_id(b) for b in APPS]
    assert len(APPS) >= 8, [_id(b) for b in APPS]
    for block in BLOCKS:
        assert block.info == "python", f"{_id(block)}: write ```python, not ```{block.info}"


@pytest.mark.parametrize("block", FRAGMENTS, ids=_id)
def test_fragment_compiles(block: Block) -> None:
    # Fragments may await at the top level, as if inside a coroutine.
    compile(block.code, _id(block), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize("block", APPS, ids=_id)
async def test_complete_example_runs(block: Block, tmp_path: Path) -> None:
    module = load_app(block, tmp_path, f"doc_example_{next(_names)}")
    check = block.check or default_check(module)
    await run_checks(router_of(module), check)


def test_the_readme_app_is_examples_hello() -> None:
    readme = [block for block in APPS if block.path.name == "README.md"]
    assert readme[0].code == (HELLO / "app.py").read_text(encoding="utf-8")


@pytest.fixture
def hello(tmp_path: Path) -> Iterator[ClusterProcess]:
    """``tornio serve app:namespaces`` run from examples/hello, as the README says."""
    cluster = ClusterProcess("app:namespaces", tmp_path, cwd=HELLO, workers=1)
    try:
        yield cluster.start()
    finally:
        cluster.kill()


def test_hello_under_tornio_serve_with_three_clients(hello: ClusterProcess) -> None:
    missing = node_modules_ready()
    if missing:
        pytest.skip(missing)
    with NodeClient(hello.url, "interactive", {"nsp": "/hello"}) as node:
        node.step("connect")
        assert node.emit("hello", "Node") == ["Hello, Node!"]
        node.quit()
    asyncio.run(_python_and_legacy(hello.url))


async def _python_and_legacy(url: str) -> None:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, namespaces=["/hello"], wait_timeout=5)
    try:
        assert await client.call("hello", "Python", namespace="/hello", timeout=5) == (
            "Hello, Python!"
        )
    finally:
        await client.disconnect()
    old = await LegacyClient(url, "xhr-polling").connect()
    try:
        await old.send("1::/hello")
        assert await old.recv() == "1::/hello"
        await old.emit("/hello", "hello", "0.9", msg_id=1)
        assert legacy.decode_packet(await old.recv())["args"] == ["Hello, 0.9!"]
    finally:
        await old.close()
