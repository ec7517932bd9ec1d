"""Finding what ``tornio serve MODULE:OBJECT`` names and turning it into a Router.

Everything that can be wrong with the application is found here, in the supervisor, before
any worker starts, and told in one line (:class:`TargetError`'s message): a path given for
a module (``app.py:namespaces``), a module that is not there, the application's own syntax
or import error (its file, line and message, without importlib's frames), a missing
attribute (with the module's attributes that could be meant), and a namespaces dict or
settings the :class:`~tornio.router.Router` refuses.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import traceback
import types
from collections.abc import Mapping
from typing import Any

from tornio.core.namespace import BaseNamespace
from tornio.exceptions import TornioError
from tornio.router import Router

__all__ = ["TargetError", "load_router", "load_target"]

#: Frames of these directories are not the application's: an error is reported at the
#: application's own line that led into them.
_OWN_DIRS = (
    os.path.dirname(os.path.abspath(sys.modules["tornio"].__file__ or "")) + os.sep,
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
)


class TargetError(TornioError):
    """The MODULE:OBJECT argument does not name something tornio can serve."""


def _module_hint(module_name: str, object_path: str = "") -> str:
    """What to write instead of a file path given as the module."""
    if module_name.endswith(".py") or "/" in module_name or os.sep in module_name:
        dotted = module_name.removesuffix(".py").strip("./" + os.sep)
        dotted = dotted.replace(os.sep, ".").replace("/", ".")
        return f"; give a module name: {dotted}:{object_path or 'OBJECT'}"
    return ""


def _where(exc: BaseException) -> str:
    """``file, line N: `` for the application's line an exception came from."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}, line {exc.lineno}: "
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<frozen ")
    ]
    own = [f for f in frames if not os.path.abspath(f.filename).startswith(_OWN_DIRS)]
    if not (own or frames):
        return ""
    frame = (own or frames)[-1]
    return f"{frame.filename}, line {frame.lineno}: "


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc.msg}"
    return f"{type(exc).__name__}: {exc}"


def _import(module_name: str, object_path: str) -> types.ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise TargetError(
                f"cannot import {module_name!r}: no module named {missing!r}"
                + _module_hint(module_name, object_path)
            ) from None
        raise TargetError(
            f"importing {module_name!r} failed at {_where(exc)}{_describe(exc)}"
        ) from None
    except Exception as exc:  # the application's own error, while importing it
        raise TargetError(
            f"importing {module_name!r} failed at {_where(exc)}{_describe(exc)}"
        ) from None


def _servable(value: Any) -> bool:
    if isinstance(value, Router):
        return True
    if isinstance(value, Mapping):
        return any(isinstance(v, type) and issubclass(v, BaseNamespace) for v in value.values())
    return False


def _candidates(module: types.ModuleType, wanted: str) -> str:
    """The module's attributes that ``wanted`` could have meant, as a hint."""
    public = [name for name in vars(module) if not name.startswith("_")]
    servable = sorted(
        name
        for name in public
        if _servable(getattr(module, name))
        or (
            isinstance(getattr(module, name), types.FunctionType)
            and getattr(module, name).__module__ == module.__name__
        )
    )
    close = [n for n in difflib.get_close_matches(wanted, public, 3) if n not in servable]
    names = servable + close
    return f"; it has {', '.join(names[:10])}" if names else ""


def load_target(spec: str) -> Any:
    """Import ``MODULE:OBJECT`` (OBJECT may be dotted); the current directory is importable.

    Raises:
        TargetError: one line saying what is wrong (see the module docstring).
    """
    module_name, sep, object_path = spec.partition(":")
    if not sep or not module_name or not object_path:
        raise TargetError(f"expected MODULE:OBJECT, got {spec!r}" + _module_hint(module_name))
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    target: Any = _import(module_name, object_path)
    owner = module_name
    for part in object_path.split("."):
        parent = target
        try:
            target = getattr(parent, part)
        except AttributeError:
            hint = _candidates(parent, part) if isinstance(parent, types.ModuleType) else ""
            raise TargetError(f"{owner!r} has no {part!r}{hint}") from None
        owner = f"{owner}{'.' if ':' in owner else ':'}{part}"
    return target


def load_router(spec: str, **settings: Any) -> Router:
    """A Router for ``MODULE:OBJECT``: a Router itself, a namespaces dict, or a callable
    returning either.

    Raises:
        TargetError: one line saying what is wrong (see the module docstring).
    """
    target = load_target(spec)
    if callable(target) and not isinstance(target, (Router, type)):
        try:
            target = target()
        except Exception as exc:
            raise TargetError(f"{spec}() failed at {_where(exc)}{_describe(exc)}") from None
    if isinstance(target, Router):
        if settings:
            raise TargetError("settings can't be given on the command line for a Router object")
        return target
    if isinstance(target, Mapping):
        try:
            return Router(target, **settings)
        except (TypeError, ValueError) as exc:
            raise TargetError(f"{spec}: {exc}") from None
    kind = f"the class {target.__qualname__}" if isinstance(target, type) else (
        f"a {type(target).__name__}"
    )
    raise TargetError(f"{spec} is {kind}, not a Router or namespaces dict")
