"""No module of ``tornio/`` or ``workers/`` reaches into another module's ``_private`` names.

Every module is parsed (nothing is imported) and these count as a reach:

* ``from m import _name`` (absolute or relative);
* ``x._name``, read or written, where ``x`` is an imported module (``dispatch._infos``);
* ``x._name`` where ``x`` is not ``self``, ``cls``, ``super()`` or a class of the module, and
  the module itself defines no ``_name`` (as a function, a class, a method or attribute of
  one of its classes, or ``self._name = ...``). A ``typing.Protocol`` declaring ``_name``
  does not count as defining it: it is how one module spells another's private method.

What a class does with its own privates, and with those of other instances of its module's
classes, is the module's business. A mixin or subclass using ``self._name`` of a base from
another module is not caught here (``self`` is exempt); the manager's collaborators have
narrow public interfaces instead.

No tornio module reaches into another's privates. :data:`ALLOWED` lists the reaches into
third-party internals the fast paths depend on (Tornado's and asyncio's, which have no public
equivalent), each with its reason. The list only shrinks: a reach not in it fails, and so
does an entry that no longer matches anything (take it out).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tornio", "workers")

TORNADO = (
    "Tornado's and asyncio's internals (IOStream's read buffer, "
    "HTTPHeaders' lists, a future's blocking flag), which have no public equivalent"
)

#: ``"module: reach"`` -> why it stays.
ALLOWED: dict[str, str] = {
    "tornio.transports.fasthttp: stream._read_buffer": TORNADO,
    "tornio.transports.fasthttp: stream._read_buffer_size": TORNADO,
    "tornio.transports.fasthttp: waited._asyncio_future_blocking": TORNADO,
    "tornio.transports.fastrequest: headers._as_list": TORNADO,
    "tornio.transports.fastrequest: headers._combined_cache": TORNADO,
    "tornio.transports.wsconn: stream._read_buffer": TORNADO,
}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_protocol(node: ast.ClassDef) -> bool:
    return any(ast.unparse(base).rpartition(".")[2] == "Protocol" for base in node.bases)


class _Module:
    """What one module defines, and which names it imported."""

    def __init__(self, tree: ast.Module) -> None:
        self.classes: set[str] = set()
        self.defined: set[str] = set()
        self.imported: set[str] = set()
        self._visit(tree, in_protocol=False)

    def _visit(self, node: ast.AST, in_protocol: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                self.classes.add(child.name)
                self.defined.add(child.name)
                self._visit(child, _is_protocol(child))
                continue
            if not in_protocol:
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.defined.add(child.name)
                elif (
                    isinstance(node, ast.ClassDef) and isinstance(child, ast.AnnAssign)
                    and isinstance(child.target, ast.Name)
                ):
                    self.defined.add(child.target.id)
            if (
                isinstance(child, ast.Attribute) and isinstance(child.ctx, ast.Store)
                and isinstance(child.value, ast.Name) and child.value.id == "self"
            ):
                self.defined.add(child.attr)
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for alias in child.names:
                    self.imported.add((alias.asname or alias.name).partition(".")[0])
            self._visit(child, in_protocol)


def reaches(module: str, source: str) -> Iterator[str]:
    """Each reach into another module's private names, as ``"module: reach"``."""
    tree = ast.parse(source)
    own = _Module(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _private(alias.name):
                    where = "." * node.level + (node.module or "")
                    yield f"{module}: from {where} import {alias.name}"
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            value = node.value
            if isinstance(value, ast.Name) and value.id in own.imported:
                yield f"{module}: {ast.unparse(node)}"
                continue
            if isinstance(value, ast.Name) and (
                value.id in ("self", "cls") or value.id in own.classes
            ):
                continue
            if (
                isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "super"
            ):
                continue
            if node.attr not in own.defined:
                yield f"{module}: {ast.unparse(node)}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_reaches() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found.update(reaches(module_name(path), path.read_text(encoding="utf-8")))
    return found


def test_no_module_reaches_into_another_modules_private_names() -> None:
    found = all_reaches()
    assert sorted(found - ALLOWED.keys()) == [], "new reaches into another module's privates"
    assert sorted(ALLOWED.keys() - found) == [], "gone: take them out of ALLOWED"


# -- the checker, on made-up modules --------------------------------------------------------


def test_the_checker_finds_each_kind_of_reach() -> None:
    source = """
from tornio.core import dispatch
from tornio.bus.requests import _Request
from .sibling import _helper

def _infos(): ...                        # the same name here does not make dispatch's its own

class Mine:
    def __init__(self, other):
        self._own = 1
        other._theirs = 2                # a write into another object's private

    def run(self, socket):
        socket._pop_ack_callback(1)      # a method the module does not define
        dispatch._infos                  # an imported module's private
        self._own, Mine._own, super()._base  # its own, its class's, its base's: fine
"""
    assert sorted(reaches("m", source)) == [
        "m: dispatch._infos",
        "m: from .sibling import _helper",
        "m: from tornio.bus.requests import _Request",
        "m: other._theirs",
        "m: socket._pop_ack_callback",
    ]


def test_a_private_the_module_defines_is_its_own_but_a_protocol_does_not_define_it() -> None:
    source = """
from typing import Protocol

class Namespace(Protocol):
    def _disconnect_hook(self): ...

class Pipe:
    _buffered: int
    def _flush(self): ...
    def relay(self, peer):
        peer._flush()                    # another Pipe: the module's own private
        peer._buffered += 1

def end(namespace):
    namespace._disconnect_hook()         # declared by a Protocol only: a reach
"""
    assert list(reaches("m", source)) == ["m: namespace._disconnect_hook"]
