"""Validate the days a command replays before it spends time on them (issue #12).

Every command that replays data (``run``, ``runs``, ``replicate``, ``tune``, ``features``, ``train``) calls
:func:`require_days` (or :func:`require_sessions`) on the days it will read, before it computes anything.
A day is checked with the rules of ``alpha-as data check`` (:func:`alpha_as.data.check.validate_day`):

* an **error** stops the command with the same one line ``data check`` prints (file, row, cause and the
  ``--repair`` hint), plus how many other problems the day has and the ``data check`` command that lists them;
* a **suspect** problem (data that reads fine but probably is not: a day spanning far more than 24 h, a 0/1
  side, many trades of unknown side, trades outside the book's time range) stops the command the same way
  unless the user passes ``--trust-data``;
* warnings are not repeated here (``data check`` prints them).

A session is also refused when its window holds no depth snapshot, naming the file, the window and the
time range the file does cover.

**Cache.** The verdict depends only on the two files' bytes and on the rules, so it is keyed by the files'
sha256 and :data:`RULES_VERSION`. Within a process, a file is hashed once per (path, size, mtime). A
command that writes a results folder keeps the verdicts in ``<out>/data_check.json`` (written atomically),
so a resumed run re-validates nothing that has not changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from alpha_as.atomic import sha256_file, write_text_atomic
from alpha_as.data import store
from alpha_as.data.problems import ERROR, SUSPECT
from alpha_as.errors import InputError

__all__ = ["RULES_VERSION", "CACHE_FILE", "Verdict", "file_sha256", "day_verdict", "require_days",
           "require_sessions", "window_rows", "add_trust_argument", "out_cache"]

RULES_VERSION = 1
"""Bumped when the rules of ``data check`` change what a day's verdict is (cached verdicts are then redone)."""
CACHE_FILE = "data_check.json"
"""Name of the verdict cache in a results folder."""

_HASHES: dict[tuple[str, int, int], str] = {}
_VERDICTS: dict[str, Verdict] = {}


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, memoised per (absolute path, size, mtime) in this process."""
    p = Path(path)
    st = p.stat()
    key = (str(p.absolute()), st.st_size, st.st_mtime_ns)
    h = _HASHES.get(key)
    if h is None:
        h = _HASHES[key] = sha256_file(p)
    return h


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one instrument-day: its error lines and suspect lines (each as printed)."""

    key: str
    errors: tuple[str, ...] = ()
    suspects: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and not self.suspects

    def to_json(self) -> dict:
        return {"errors": list(self.errors), "suspects": list(self.suspects)}


def _key(root: Path, instrument: str, date: dt.date) -> str | None:
    """``rules:depth_sha:trade_sha`` or None when a file is missing (the check itself then says which)."""
    paths = [store.partition_path(root, k, instrument, date) for k in (store.DEPTH, store.TRADE)]
    if not all(p.is_file() for p in paths):
        return None
    return ":".join([f"r{RULES_VERSION}", *(file_sha256(p) for p in paths)])


def day_verdict(root: str | Path, instrument: str, date: dt.date, cache: dict | None = None) -> Verdict:
    """Check one day (or take its verdict from ``cache`` / this process's memo, keyed by the files' hashes)."""
    from alpha_as.data.check import validate_day

    root = Path(root)
    key = _key(root, instrument, date)
    if key is not None:
        if key in _VERDICTS:
            v = _VERDICTS[key]
            if cache is not None and key not in cache:
                cache[key] = v.to_json()
            return v
        if cache is not None and isinstance(cache.get(key), dict):
            c = cache[key]
            v = Verdict(key, tuple(c.get("errors", ())), tuple(c.get("suspects", ())))
            _VERDICTS[key] = v
            return v
    problems = validate_day(root, instrument, date)
    errors = tuple(p.line() for p in problems if p.severity == ERROR)
    suspects = tuple(p.line() for p in problems if p.severity == SUSPECT)
    v = Verdict(key or "", errors, suspects)
    if key is not None:
        _VERDICTS[key] = v
        if cache is not None:
            cache[key] = v.to_json()
    return v


def _check_hint(root: Path, instrument: str, date: dt.date) -> str:
    return f"alpha-as data check {root} --instrument {instrument} --start {date} --end {date}"


def _refusal(v: Verdict, root: Path, instrument: str, date: dt.date, trust: bool) -> str | None:
    if v.errors:
        lines, what = v.errors, "problem"
    elif v.suspects and not trust:
        lines, what = v.suspects, "suspect problem"
    else:
        return None
    more = len(lines) - 1 + (len(v.suspects) if v.errors else 0)
    first = lines[0]  # a suspect's line ends with the --trust-data hint (Problem.line)
    tail = f"; {more} more {what}{'s' * (more != 1)}, see `{_check_hint(root, instrument, date)}`" if more else ""
    return f"{instrument} {date}: {first}{tail}"


def _load_cache(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # a damaged cache only costs a re-check
    return doc.get("verdicts", {}) if isinstance(doc, dict) and doc.get("rules") == RULES_VERSION else {}


def _save_cache(path: Path | None, cache: dict) -> None:
    if path is None or not path.parent.is_dir():
        return
    write_text_atomic(json.dumps({"rules": RULES_VERSION, "verdicts": cache}, indent=1, sort_keys=True) + "\n", path)


def require_days(root: str | Path, instrument: str, dates: Iterable[dt.date], *, trust: bool = False,
                 cache_file: Path | None = None, echo: Callable[[str], None] | None = None) -> dict[dt.date, Verdict]:
    """Check every day; raise one :class:`InputError` line for the first day with an error (or a suspect
    problem unless ``trust``). ``cache_file`` (e.g. ``<out>/data_check.json``) keeps the verdicts across runs;
    ``echo`` reports suspect days that ``trust`` lets through."""
    root = Path(root)
    cache = _load_cache(cache_file)
    before = dict(cache)
    out: dict[dt.date, Verdict] = {}
    try:
        for d in sorted(set(dates)):
            v = out[d] = day_verdict(root, instrument, d, cache)
            line = _refusal(v, root, instrument, d, trust)
            if line is not None:
                raise InputError(line)
            if v.suspects and echo is not None:
                echo(f"warning: {instrument} {d}: {v.suspects[0]} (replayed: --trust-data)")
    finally:
        if cache != before:
            _save_cache(cache_file, cache)
    return out


def window_rows(root: str | Path, instrument: str, date: dt.date, window: str) -> tuple[int, int | None, int | None]:
    """(depth snapshots inside ``window``, first and last depth timestamp of the file in epoch ms), reading only
    the timestamp column."""
    path = store.partition_path(root, store.DEPTH, instrument, date)
    ts = np.asarray(pq.read_table(path, columns=["timestamp"]).column(0).cast("int64").to_numpy(zero_copy_only=False),
                    dtype=np.int64)
    if len(ts) == 0:
        return 0, None, None
    start, end = store.parse_window(window)
    lo, hi = store.window_ns(date, start, end)
    ns = ts.astype(np.int64) * store.NS_PER_MS
    n = int(np.count_nonzero((ns >= lo) & (ns < hi)))
    return n, int(ts.min()), int(ts.max())


def _ms_text(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def require_sessions(root: str | Path, instrument: str, sessions: Iterable[tuple[dt.date, str]], *,
                     trust: bool = False, cache_file: Path | None = None,
                     echo: Callable[[str], None] | None = None) -> dict[dt.date, Verdict]:
    """:func:`require_days` on the sessions' days, then refuse a session whose window holds no depth snapshot."""
    sessions = list(sessions)
    verdicts = require_days(root, instrument, [d for d, _ in sessions], trust=trust, cache_file=cache_file, echo=echo)
    for d, window in sessions:
        n, first, last = window_rows(root, instrument, d, window)
        if n == 0:
            path = store.partition_path(root, store.DEPTH, instrument, d)
            have = "it has no rows" if first is None else f"it covers {_ms_text(first)} to {_ms_text(last)} UTC"
            raise InputError(f"{path}: no depth snapshot in the session {d} {window} ({have})")
    return verdicts


def add_trust_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--trust-data`` flag of every command that replays data."""
    parser.add_argument("--trust-data", action="store_true",
                        help="replay days that `alpha-as data check` marks SUSPECT (errors are still refused)")


def out_cache(out: Path) -> Path:
    """The verdict cache of a results folder."""
    return Path(out) / CACHE_FILE


def clear_memo() -> None:
    """Forget this process's hashes and verdicts (tests)."""
    _HASHES.clear()
    _VERDICTS.clear()
