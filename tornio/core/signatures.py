"""What a handler's signature says, read once per class and method: whether it takes the
instance (``self``), the raw ``packet`` (gevent-socketio's dict), the disconnect reason; whether
it runs on a thread (:func:`tornio.core.threads.wants_thread`); whether its class decorates
its handlers (``exception_handler_decorator``). The namespace's dispatch reads these caches
(:data:`SIGNATURES`, :data:`DECORATED`) on its hot path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from tornio.core import threads

__all__ = [
    "DECORATED",
    "SIGNATURES",
    "describe",
    "describe_function",
    "describe_registered",
    "first_parameter",
    "has_decorator",
    "takes_reason",
]

#: class -> it has an ``exception_handler_decorator``
DECORATED: dict[type, bool] = {}

def has_decorator(cls: type) -> bool:
    found = DECORATED.get(cls)
    if found is None:
        found = DECORATED[cls] = hasattr(cls, "exception_handler_decorator")
    return found


#: (class, method name) -> (has a leading self parameter, takes the raw packet, on a thread)
SIGNATURES: dict[tuple[type, str], tuple[bool, bool, bool]] = {}


def describe(cls: type, method_name: str) -> tuple[bool, bool, bool]:
    key = (cls, method_name)
    info = SIGNATURES.get(key)
    if info is None:
        func = inspect.getattr_static(cls, method_name, None)
        if isinstance(func, (staticmethod, classmethod)) or not callable(func):
            info = (False, False, False)
        else:
            has_self, wants_packet = describe_function(func)
            if has_self and getattr(cls, "self_named_handlers", False):
                has_self = first_parameter(func) == "self"
            info = (has_self, wants_packet,
                    threads.wants_thread(func, getattr(cls, "blocking", False)))
        SIGNATURES[key] = info
    return info


def describe_function(func: Callable[..., Any]) -> tuple[bool, bool]:
    """(has a leading self parameter, takes the raw packet) of a handler function."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    has_self = bool(params) and params[0].kind in (
        params[0].POSITIONAL_ONLY,
        params[0].POSITIONAL_OR_KEYWORD,
        params[0].VAR_POSITIONAL,
    )
    return has_self, len(positional) == 2 and positional[1].name == "packet"


def first_parameter(func: Callable[..., Any]) -> str | None:
    """The name of a function's first positional parameter (None: it has none)."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY,
                                            params[0].POSITIONAL_OR_KEYWORD):
        return None
    return params[0].name


_functions: dict[Callable[..., Any], tuple[bool, bool]] = {}


def describe_registered(func: Callable[..., Any]) -> tuple[bool, bool]:
    try:
        info = _functions.get(func)
    except TypeError:  # an unhashable callable object
        return describe_function(func)
    if info is None:
        info = _functions[func] = describe_function(func)
    return info


# (class, hook name) -> the hook takes the disconnect reason
_reasons: dict[tuple[type, str], bool] = {}


def takes_reason(cls: type, method_name: str) -> bool:
    """Whether ``cls.method_name`` takes an argument after ``self`` (``recv_disconnect(self,
    reason)``) or not (gevent-socketio's ``recv_disconnect(self)``)."""
    key = (cls, method_name)
    takes = _reasons.get(key)
    if takes is None:
        func = inspect.getattr_static(cls, method_name, None)
        try:
            params = list(inspect.signature(func).parameters.values())[1:]
        except (TypeError, ValueError):
            params = []
        takes = any(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
            for p in params
        )
        _reasons[key] = takes
    return takes
