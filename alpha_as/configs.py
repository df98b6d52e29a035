"""Typed configuration: frozen dataclasses built from dicts (JSON, TOML) with one clear error per problem.

``from_dict(cls, d, source=...)`` refuses unknown keys (naming them and the known ones) and values of the
wrong type (naming the key), then lets the dataclass validate its values in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

from alpha_as.errors import InputError

T = TypeVar("T")


def _type_ok(value: Any, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
        return any(_type_ok(value, a) for a in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        return isinstance(value, list | tuple)
    if origin is dict:
        return isinstance(value, dict)
    if isinstance(expected, type):
        return isinstance(value, expected)
    return True


def from_dict(cls: type[T], d: dict, *, source: str) -> T:
    """Build the frozen dataclass ``cls`` from ``d``; InputError names the source and the key at fault."""
    if not isinstance(d, dict):
        raise InputError(f"{source}: expected a table of keys, got {type(d).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    for key, value in d.items():
        if not _type_ok(value, hints[key]):
            want = getattr(hints[key], "__name__", str(hints[key]))
            raise InputError(f"{source}: key {key!r} must be {want}, got {value!r}")
    return cls(**d)
