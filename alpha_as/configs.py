"""Typed configuration: frozen dataclasses built from dicts (JSON, TOML) with one clear error per problem.

``from_dict(cls, d, source=...)`` refuses unknown keys (naming them and the known ones) and values of the
wrong type (naming the key), then lets the dataclass validate its values in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from pathlib import Path
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


@functools.cache
def _fields(cls: type) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(type hints, field names) of a dataclass, resolved once per class (get_type_hints is slow)."""
    return typing.get_type_hints(cls), tuple(f.name for f in dataclasses.fields(cls))


def _check_keys(cls: type, d: dict, source: str) -> None:
    if not isinstance(d, dict):
        raise InputError(f"{source}: expected a table of keys, got {type(d).__name__}")
    hints, names = _fields(cls)
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    for key, value in d.items():
        if not _type_ok(value, hints[key]):
            want = getattr(hints[key], "__name__", str(hints[key]))
            raise InputError(f"{source}: key {key!r} must be {want}, got {value!r}")


def from_dict(cls: type[T], d: dict, *, source: str) -> T:
    """Build the frozen dataclass ``cls`` from ``d``; InputError names the source and the key at fault."""
    _check_keys(cls, d, source)
    return cls(**d)


def replace_checked(obj: T, update: dict, *, source: str) -> T:
    """``dataclasses.replace(obj, **update)`` with the keys and types of ``update`` checked as in from_dict."""
    _check_keys(type(obj), update, source)
    return dataclasses.replace(obj, **update)


def load_json_arg(text: str, what: str, *, file_only: bool = False) -> tuple[dict, str]:
    """A JSON object given on the command line as a file path or (unless ``file_only``) inline.

    Returns the object and the name to use in error messages (the file, or the option ``what``).
    """
    path = Path(text)
    try:
        is_file = path.is_file()
    except OSError:  # e.g. inline JSON longer than a file name may be
        is_file = False
    if file_only and not is_file:
        raise InputError(f"{what}: no such file {text!r}")
    source = str(path) if is_file else what
    try:
        raw = json.loads(path.read_text() if is_file else text)
    except json.JSONDecodeError as e:
        raise InputError(f"{source}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{source}: expected a JSON object")
    return raw, source
