"""Rules of ``alpha-as data check`` for data that reads fine but is not (issue #12): wrong timestamp unit,
days far longer than 24 h or off their partition's date, a 0/1 side, many unknown sides, trades where there is
no book. The kinds and their messages are documented in :mod:`alpha_as.data.check`.

Everything here is O(rows) on arrays the check has already read, allocates nothing by the time range, and
returns :class:`~alpha_as.data.problems.Problem` objects.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from alpha_as.data import store
from alpha_as.data.problems import (
    ERROR,
    MAX_SPAN_H,
    MIN_SUSPECT_ROWS,
    SUSPECT,
    TOLERANCE_S,
    UNKNOWN_SIDE_SHARE,
    WARNING,
    Problem,
)

DAY_MS = 86_400_000


def utc_text(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of an epoch-ms value (the raw number when no calendar date can hold it)."""
    try:
        return (dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(ms))).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, ValueError):
        return str(int(ms))


def to_ms(path: Path, ts: np.ndarray, live: np.ndarray, date: dt.date) -> tuple[np.ndarray, str, list[Problem]]:
    """``(ts in epoch ms, unit found, problems)``: a ``timestamp_unit`` error when the values look like s, µs or
    ns (:func:`alpha_as.data.store.timestamp_unit`), the timestamps then rescaled (s x 1000; µs, ns floored)."""
    unit, median = store.timestamp_unit(ts if live.all() else ts[live], date)
    if unit is None or unit == "ms":
        return ts, "ms", []
    mul, div = store.TO_MS[unit]
    lim = store.MAX_MS // mul
    out = (np.clip(ts, -lim, lim) * mul) // div if mul != 1 else ts // div
    return out, unit, [Problem(path, "timestamp_unit", count=int(np.count_nonzero(live)),
                               detail=store.unit_message(unit, median))]


def order_and_date(path: Path, ts: np.ndarray, live: np.ndarray, date: dt.date) -> list[Problem]:
    """``unsorted`` (E), ``off_date`` (W), ``long_span`` and ``wrong_date`` (suspect) of one file's live rows."""
    problems: list[Problem] = []
    idx = np.flatnonzero(live)
    if not len(idx):
        return problems
    v = ts[idx]
    desc = np.zeros(len(ts), dtype=bool)
    desc[idx[1:][v[1:] < v[:-1]]] = True
    flag(problems, path, "unsorted", desc)
    day0 = (date - dt.date(1970, 1, 1)).days * DAY_MS
    flag(problems, path, "off_date", live & ((ts < day0 - DAY_MS) | (ts >= day0 + 2 * DAY_MS)), WARNING)
    lo, hi = int(v.min()), int(v.max())
    span_h = (hi - lo) / 3_600_000
    if span_h > MAX_SPAN_H:
        problems.append(Problem(path, "long_span", severity=SUSPECT, detail=(
            f"timestamps span {span_h:,.1f} h ({utc_text(lo)} to {utc_text(hi)} UTC), far more than one day's "
            f"{MAX_SPAN_H} h: a wrong unit, or several days in one file?")))
    outside = live & ((ts < day0) | (ts >= day0 + DAY_MS))
    n_out = int(np.count_nonzero(outside))
    if 2 * n_out > len(idx):
        problems.append(Problem(path, "wrong_date", count=n_out, row=int(np.argmax(outside)), severity=SUSPECT,
                                detail=f"{n_out / len(idx):.0%} of the timestamps fall outside the partition's date "
                                f"{date} UTC (a shifted or mislabelled file?)"))
    return problems


def side_rules(path: Path, side: np.ndarray, ok: np.ndarray) -> list[Problem]:
    """``side_01`` or ``unknown_side`` (suspect) over the trades ``ok`` (valid rows with a valid side)."""
    n = int(np.count_nonzero(ok))
    zero = ok & (side == 0)
    n0 = int(np.count_nonzero(zero))
    if n0 < MIN_SUSPECT_ROWS or n0 <= UNKNOWN_SIDE_SHARE * n:
        return []
    n1 = int(np.count_nonzero(ok & (side == 1)))
    if n1 >= MIN_SUSPECT_ROWS and not np.any(ok & (side == -1)):
        return [Problem(path, "side_01", severity=SUSPECT, detail=(
            f"side holds only 0 and 1 ({n0:,} zeros, {n1:,} ones, no -1): it looks like a 0/1 buy flag; the "
            "layout wants +1 buyer-initiated, -1 seller-initiated, 0 unknown"))]
    return [Problem(path, "unknown_side", count=n0, row=int(np.argmax(zero)), severity=SUSPECT, detail=(
        f"unknown side (0 or null) on {n0 / n:.1%} of the trades, more than {UNKNOWN_SIDE_SHARE:.0%}"))]


def outside_depth(path: Path, tts: np.ndarray, t_ok: np.ndarray, dts: np.ndarray,
                  d_keep: np.ndarray) -> tuple[list[Problem], np.ndarray | None]:
    """``trades_outside_depth`` (suspect, repairable): trades ``t_ok`` more than :data:`TOLERANCE_S` before the
    first or after the last depth snapshot ``d_keep`` (the snapshots a repair keeps); and the rows' mask."""
    if not d_keep.any() or not t_ok.any():
        return [], None
    dv = dts if d_keep.all() else dts[d_keep]
    first, last = int(dv.min()), int(dv.max())
    tol = TOLERANCE_S * 1000
    before = t_ok & (tts < first - tol)
    after = t_ok & (tts > last + tol)
    mask = before | after
    n = int(np.count_nonzero(mask))
    if not n:
        return [], None
    nb = int(np.count_nonzero(before))
    return [Problem(path, "trades_outside_depth", count=n, row=int(np.argmax(mask)), severity=SUSPECT, detail=(
        f"trades more than {TOLERANCE_S} s outside the depth snapshots' time range {utc_text(first)} to "
        f"{utc_text(last)} UTC ({nb:,} before, {n - nb:,} after): they would fill against a stale or missing "
        "book"))], mask


def flag(problems: list[Problem], path: Path, kind: str, mask: np.ndarray, severity: str = ERROR) -> None:
    """Append a problem of ``kind`` counting the rows of ``mask`` (first row = first True), if any."""
    n = int(np.count_nonzero(mask))
    if n:
        problems.append(Problem(path, kind, count=n, row=int(np.argmax(mask)), severity=severity))
