"""An application's JSON for the codec tables (``json=`` of the Socket.IO and 0.9 codecs): a
:class:`Tag` that JSON has no type for, written ``{"$tag": <text>}``; ``TAG_DEFAULT`` (a
``json_default`` function), ``TAG_MODULE`` (a module-like object as python-socketio's
``json=`` takes, which reads ``{"$tag": ...}`` back as a :class:`Tag`) and ``BROKEN_MODULE``
(whose ``loads`` raises what no JSON decoder raises). The module writes with
``json.dumps``'s ASCII escapes, the default function with the codec's own dialect, so an
answer says which of the two wrote it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tornio.protocol.jsoncodec import JsonCodec

__all__ = ["BROKEN_MODULE", "TAG_DEFAULT", "TAG_MODULE", "Tag", "tag_default"]


@dataclass(frozen=True)
class Tag:
    text: str


def tag_default(value: Any) -> Any:
    if isinstance(value, Tag):
        return {"$tag": value.text}
    raise TypeError(f"{type(value).__name__} is not JSON")


def _tag_hook(obj: dict[str, Any]) -> Any:
    return Tag(obj["$tag"]) if set(obj) == {"$tag"} else obj


class TagJson:
    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, default=tag_default, **kwargs)

    @staticmethod
    def loads(text: str, **kwargs: Any) -> Any:
        return json.loads(text, object_hook=_tag_hook, **kwargs)


class BrokenJson(TagJson):
    @staticmethod
    def loads(text: str, **kwargs: Any) -> Any:
        raise KeyError("the application's loads failed")


TAG_DEFAULT = JsonCodec(default=tag_default)
TAG_MODULE = JsonCodec(module=TagJson)
BROKEN_MODULE = JsonCodec(module=BrokenJson)
