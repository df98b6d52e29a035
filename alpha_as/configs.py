"""Typed configuration: frozen dataclasses built from dicts (JSON, TOML) with one clear error per problem.

``from_dict(cls, d, source=...)`` refuses unknown keys (naming them and the known ones), values of the
wrong type (naming the key) and non-finite numbers (NaN, ±inf: JSON's ``NaN`` / ``Infinity`` and TOML's
``nan`` / ``inf`` parse as floats) in float fields, then lets the dataclass validate its values in
``__post_init__``; an error raised there is prefixed by the source (the file and table, or the option). A float
field that legitimately takes a non-finite value opts out with ``field(metadata={NONFINITE_OK: True})`` (no
field does today).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import typing
from pathlib import Path
from typing import Any, TypeVar

from alpha_as.errors import InputError

T = TypeVar("T")

NONFINITE_OK = "nonfinite_ok"
"""Field metadata key: a float field with ``metadata={NONFINITE_OK: True}`` accepts NaN and ±inf."""


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
    if isinstance(expected, type) and dataclasses.is_dataclass(expected):  # a nested table (built by the class)
        return isinstance(value, expected | dict)
    if isinstance(expected, type):
        return isinstance(value, expected)
    return True


@functools.cache
def _fields(cls: type) -> tuple[dict[str, Any], tuple[str, ...], frozenset[str]]:
    """(type hints, field names, names of the fields that accept non-finite floats) of a dataclass, resolved
    once per class (get_type_hints is slow)."""
    fields = dataclasses.fields(cls)
    return (typing.get_type_hints(cls), tuple(f.name for f in fields),
            frozenset(f.name for f in fields if f.metadata.get(NONFINITE_OK)))


def _check_keys(cls: type, d: dict, source: str) -> None:
    if not isinstance(d, dict):
        raise InputError(f"{source}: expected a table of keys, got {type(d).__name__}")
    hints, names, nonfinite_ok = _fields(cls)
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    for key, value in d.items():
        if not _type_ok(value, hints[key]):
            want = getattr(hints[key], "__name__", str(hints[key]))
            raise InputError(f"{source}: key {key!r} must be {want}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value) and key not in nonfinite_ok:
            raise InputError(f"{source}: key {key!r} must be a finite number, got {value!r}")


def _with_source(e: InputError, source: str) -> InputError:
    """``e`` (raised while building a dataclass) as one line starting with ``source``."""
    msg = str(e)
    return e if msg.startswith(source) else InputError(f"{source}: {msg}")


def from_dict(cls: type[T], d: dict, *, source: str) -> T:
    """Build the frozen dataclass ``cls`` from ``d``; InputError names the source and the key at fault (an
    error of ``cls.__post_init__`` is prefixed by ``source``)."""
    _check_keys(cls, d, source)
    try:
        return cls(**d)
    except InputError as e:
        raise _with_source(e, source) from None


def replace_checked(obj: T, update: dict, *, source: str) -> T:
    """``dataclasses.replace(obj, **update)`` with the keys and types of ``update`` checked as in from_dict."""
    _check_keys(type(obj), update, source)
    try:
        return dataclasses.replace(obj, **update)
    except InputError as e:
        raise _with_source(e, source) from None


REMEDIES: dict[str, str] = {
    "best.json": "delete it and rerun the GA that writes it (`alpha-as tune`, or `alpha-as replicate`, which "
                 "reruns its genas stage)",
    "features.json": "delete it and rerun the feature selection that writes it (`alpha-as features`, or "
                     "`alpha-as replicate`, which reruns its features stage)",
}
"""What to do about a truncated output file of one of the stages, by file name (see :func:`read_json_file`)."""


def _json_problem(e: json.JSONDecodeError) -> str:
    return f"line {e.lineno} column {e.colno}: {e.msg}"


def read_json_file(path: str | Path, what: str, *, remedy: str | None = None) -> dict:
    """The JSON object in the file ``path`` (``what`` says what it is, e.g. "Gen-AS best.json").

    Every problem is one InputError line naming the file: missing, unreadable, truncated or not valid JSON (with
    ``remedy``, default :data:`REMEDIES` of the file's name, e.g. "delete it and rerun ..."), not an object.
    """
    path = Path(path)
    fix = REMEDIES.get(path.name, "") if remedy is None else remedy
    fix = f"; {fix}" if fix else ""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file ({what})") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a JSON file ({what})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: {what} is not a UTF-8 text file, so not valid JSON{fix}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read {what}: {e.strerror or e}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: {what} is truncated or not valid JSON ({_json_problem(e)}){fix}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: {what} must hold a JSON object, got {type(raw).__name__}{fix}")
    return raw


def load_json_arg(text: str, what: str, *, file_only: bool = False) -> tuple[dict, str]:
    """A JSON object given on the command line as a file path or (unless ``file_only``) inline.

    Text that starts with ``{`` (after white space) is inline JSON, unless it names a file; any other text must
    name a file. Returns the object and the name to use in error messages (the file, or the option ``what``).
    """
    path = Path(text)
    try:
        is_file = path.is_file()
        is_dir = not is_file and path.is_dir()
    except (OSError, ValueError):  # e.g. inline JSON longer than a file name may be, or holding a NUL
        is_file = is_dir = False
    if is_dir:
        raise InputError(f"{what}: {text!r} is a folder, not a JSON file")
    if not is_file and (file_only or not text.lstrip().startswith("{")):
        raise InputError(f"{what}: no such file {text!r}")
    if is_file:
        return read_json_file(path, f"the {what} file"), str(path)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{what}: not valid JSON ({_json_problem(e)})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{what}: expected a JSON object")
    return raw, what


def finite_float(text: str) -> float:
    """An argparse ``type``: a float that is finite (refuses nan, inf); argparse names the option at fault."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value
