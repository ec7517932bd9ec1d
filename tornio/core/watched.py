"""``WatchedDict``: a dict that says when it changes (top-level writes only).

Connection state recovery keeps a session's data outside the worker as it changes, so that it
survives the worker's death: a socket's ``session`` becomes a :class:`WatchedDict` whose
callback asks for a save at the end of the loop's pass. A change *inside* a value
(``session['list'].append(x)``) is not seen; it is saved with the next top-level write, room
change or disconnect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["WatchedDict"]


class WatchedDict(dict[str, Any]):
    """A dict that calls ``changed()`` after every write to its own keys."""

    def __init__(self, changed: Callable[[], None], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._changed = changed

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        value = super().setdefault(key, default)
        self._changed()
        return value

    def pop(self, key: str, *default: Any) -> Any:
        had = key in self
        value = super().pop(key, *default)
        if had:
            self._changed()
        return value

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self._changed()
        return item

    def clear(self) -> None:
        super().clear()
        self._changed()
