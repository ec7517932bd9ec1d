"""Finding what ``tornio serve MODULE:OBJECT`` names and turning it into a Router."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import Any

from tornio.router import Router

__all__ = ["load_router", "load_target"]


class TargetError(Exception):
    """The MODULE:OBJECT argument does not name something tornio can serve."""


def load_target(spec: str) -> Any:
    """Import ``MODULE:OBJECT`` (OBJECT may be dotted); the current directory is importable."""
    module_name, sep, object_path = spec.partition(":")
    if not sep or not module_name or not object_path:
        raise TargetError(f"expected MODULE:OBJECT, got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"cannot import {module_name!r}: {exc}") from exc
    for part in object_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise TargetError(f"{module_name!r} has no {object_path!r}") from exc
    return target


def load_router(spec: str, **settings: Any) -> Router:
    """A Router for ``MODULE:OBJECT``: a Router itself, or a namespaces dict."""
    target = load_target(spec)
    if callable(target) and not isinstance(target, (Router, type)):
        target = target()
    if isinstance(target, Router):
        if settings:
            raise TargetError("settings can't be given on the command line for a Router object")
        return target
    if isinstance(target, Mapping):
        return Router(target, **settings)
    raise TargetError(f"{spec} is a {type(target).__name__}, not a Router or namespaces dict")
