"""tornio's imports go one way: from a layer to the layers below it, never up, never round.

Every module of ``tornio/`` and ``workers/`` is parsed (nothing is imported), and each of its
imports is read, wherever it stands: at the top, inside a function, or under
``if TYPE_CHECKING:`` (a type-only import is a dependency too: it is what couples modules).
Then:

* every module belongs to exactly one layer of :data:`LAYERS`, and imports only from its own
  layer or lower ones;
* the two protocol generations (``tornio.legacy``, ``tornio.modern``) do not import each
  other, and the protocol-neutral layers import neither;
* no cycle: not among modules, whatever their layers;
* no module is over :data:`MAX_LINES` lines;
* the layer table of the architecture page (``docs/topics/architecture.md``) names every
  package and top-level module, and only real paths.

The checker itself is tested on small made-up trees, so it is known to fail when it must.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The layers, lowest first: a module may import from its own layer and the ones before it.
#: A module is in the layer of the longest prefix that names it.
LAYERS: list[tuple[str, list[str]]] = [
    ("foundation", ["tornio.exceptions", "tornio.settings"]),
    ("codecs", ["tornio.protocol"]),
    ("cluster", ["tornio.bus"]),
    ("sessions", ["tornio.legacy.session", "tornio.modern.session", "tornio.modern.driving"]),
    ("application", ["tornio.core"]),
    ("sockets", ["tornio.legacy.socket", "tornio.modern.socket"]),
    ("transports", ["tornio.transports", "tornio.legacy.transports", "tornio.modern.transports"]),
    ("manager", ["tornio.manager", "tornio.cluster"]),
    ("embedding", [
        "tornio.router", "tornio.server", "tornio.policy", "tornio.modern.endpoint",
        "tornio.contrib", "tornio.metrics", "tornio.admin", "tornio.fastpath",
    ]),
    ("package", ["tornio"]),
    # Django's ``runserver_socketio`` command runs ``tornio serve``.
    ("runtime", ["workers", "tornio.contrib.django.management"]),
]

#: The generations: neither imports the other.
GENERATIONS = ("tornio.legacy", "tornio.modern")
#: Layers that are the same for both generations, and so may import neither.
NEUTRAL = ("tornio.core", "tornio.transports", "tornio.bus", "tornio.protocol")

MAX_LINES = 800


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: Path, packages: Sequence[str]) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            modules[module_name(path, root)] = path
    return modules


def read_imports(modules: Mapping[str, Path]) -> list[Import]:
    """Every import between the given modules (third-party ones are left out)."""
    found: list[Import] = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.module, node.level)
                # ``from a.b import c`` imports the module a.b.c when there is one, else a.b
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                owner = _known(target, modules)
                if owner is not None and owner != name:
                    found.append(Import(name, owner, node.lineno))
    return found


def _resolve(module: str, is_package: bool, target: str | None, level: int) -> str:
    if level == 0:
        return target or ""
    parts = module.split(".")
    if not is_package:
        parts.pop()
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, *([target] if target else [])])


def _known(target: str, modules: Mapping[str, Path]) -> str | None:
    """The module an import names (``import a.b.c`` of a function's name: its module)."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def layer_of(module: str, layers: Sequence[tuple[str, Sequence[str]]] = LAYERS) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                candidate = (len(prefix), index)
                if best is None or candidate > best:
                    best = candidate
    return None if best is None else best[1]


def _under(module: str, prefixes: Iterable[str]) -> str | None:
    for prefix in prefixes:
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return None


def layer_violations(
    imports: Iterable[Import],
    modules: Iterable[str],
    layers: Sequence[tuple[str, Sequence[str]]] = LAYERS,
) -> list[str]:
    problems = [f"{m} is in no layer" for m in modules if layer_of(m, layers) is None]
    for imp in imports:
        low, high = layer_of(imp.target, layers), layer_of(imp.source, layers)
        if low is None or high is None:
            continue
        if low > high:
            problems.append(
                f"{imp.source} (layer {layers[high][0]}) imports {imp.target} "
                f"(layer {layers[low][0]}, higher) at line {imp.line}"
            )
    return problems


def generation_violations(imports: Iterable[Import]) -> list[str]:
    problems = []
    for imp in imports:
        target_generation = _under(imp.target, GENERATIONS)
        if target_generation is None:
            continue
        source_generation = _under(imp.source, GENERATIONS)
        if source_generation is not None and source_generation != target_generation:
            problems.append(f"{imp.source} imports the other generation: {imp.target}")
        elif source_generation is None and _under(imp.source, NEUTRAL):
            problems.append(f"{imp.source} is protocol-neutral but imports {imp.target}")
    return problems


def cycles(imports: Iterable[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.source, set()).add(imp.target)
        graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# -- the real tree ------------------------------------------------------------------------------

MODULES = find_modules(ROOT, ["tornio", "workers"])
IMPORTS = read_imports(MODULES)


def test_the_tree_is_read() -> None:
    assert {"tornio.manager", "tornio.core.socket", "workers.cli"} <= set(MODULES)
    assert Import("tornio.manager", "tornio.core.socket", 0).target in {
        imp.target for imp in IMPORTS if imp.source == "tornio.manager"
    }


def test_every_import_goes_down_the_layers() -> None:
    assert layer_violations(IMPORTS, MODULES) == []


def test_the_generations_stay_apart() -> None:
    assert generation_violations(IMPORTS) == []


def test_no_import_cycle() -> None:
    assert cycles(IMPORTS) == []


def test_no_module_is_too_long() -> None:
    long = {
        name: count
        for name, path in MODULES.items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


#: The architecture page: its table says where every part of the tree lives.
ARCHITECTURE = ROOT / "docs" / "topics" / "architecture.md"


def _layout_paths() -> list[str]:
    page = ARCHITECTURE.read_text(encoding="utf-8")
    paths: list[str] = []
    for row in page.splitlines():
        if row.startswith("| `"):
            cell = row.split("|")[1]
            paths.extend(re.findall(r"`([^`]+)`", cell))
    return paths


def test_the_architecture_page_matches_the_tree() -> None:
    paths = _layout_paths()
    assert paths, f"no layer table in {ARCHITECTURE}"
    missing = [p for p in paths if not (ROOT / p.rstrip("/")).exists()]
    assert missing == []
    named = {p.rstrip("/") for p in paths}
    parts = [
        p.relative_to(ROOT).as_posix()
        for p in sorted((ROOT / "tornio").iterdir())
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.name != "__init__.py")
    ]
    subpackages = [
        p.parent.relative_to(ROOT).as_posix()
        for p in sorted((ROOT / "tornio").glob("*/*/__init__.py"))
        if "contrib" not in p.parts
    ]
    unnamed = [
        part for part in [*parts, *subpackages]
        if part not in named and not any(n.startswith(part + "/") for n in named)
    ]
    assert unnamed == []


# -- the checker, on made-up trees ---------------------------------------------------------------


def _tree(tmp_path: Path, files: Mapping[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return find_modules(tmp_path, ["pkg"])


def test_a_type_only_import_cycle_is_found(tmp_path: Path) -> None:
    modules = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/manager.py": "from pkg.sock import Socket\n",
        "pkg/sock.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from pkg.manager import Manager\n"
        ),
    })
    assert cycles(read_imports(modules)) == [["pkg.manager", "pkg.sock"]]


def test_a_cycle_through_a_function_level_and_relative_import_is_found(tmp_path: Path) -> None:
    modules = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from . import b\n",
        "pkg/b.py": "def f():\n    from .sub.c import g\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "import pkg.a\n",
    })
    assert cycles(read_imports(modules)) == [["pkg.a", "pkg.b", "pkg.sub.c"]]


def test_an_upward_import_and_an_unplaced_module_are_found(tmp_path: Path) -> None:
    modules = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/low.py": "from pkg.high import thing\n",
        "pkg/high.py": "thing = 1\n",
        "pkg/stray.py": "",
    })
    layers = [("low", ["pkg.low"]), ("high", ["pkg.high"]), ("top", ["pkg"])]
    imports = read_imports(modules)
    problems = layer_violations(imports, modules, layers)
    assert problems == [
        "pkg.low (layer low) imports pkg.high (layer high, higher) at line 1"
    ]
    assert layer_violations(imports, [*modules, "other.mod"], layers)[0] == (
        "other.mod is in no layer"
    )


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("tornio.legacy.socket", "tornio.modern.session", "imports the other generation"),
        ("tornio.core.socket", "tornio.legacy.session", "protocol-neutral"),
        ("tornio.manager", "tornio.legacy.socket", None),
        ("tornio.legacy.socket", "tornio.legacy.session", None),
    ],
)
def test_the_generation_rule(source: str, target: str, expected: str | None) -> None:
    problems = generation_violations([Import(source, target, 1)])
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0]
