"""The canonical market-data store: the paper authors' parquet layout (spec §10).

Layout under a root folder::

    ROOT/type=depth/instrument=I/date=YYYYMMDD/data.parquet
        timestamp (int64 epoch ms, UTC), bidPrice0..N-1, askPrice0..N-1, bidQuantity0..N-1, askQuantity0..N-1
    ROOT/type=trade/instrument=I/date=YYYYMMDD/data.parquet
        timestamp (int64 epoch ms, UTC), price, quantity[, side]   side: +1 buyer-, -1 seller-initiated

Level 0 is the best level. The authors' files have no ``side`` column and load unchanged; their partitions
are CET days, ours are the UTC day of the timestamps (both hold the 07:00-19:00 UTC window whole).

Reading returns a :class:`MarketDay` of contiguous numpy arrays ready for a numba engine: int64
nanosecond timestamps, float64 prices and sizes as ``(n, levels)`` C-ordered matrices. pyarrow does the IO;
pandas is not used.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from alpha_as.atomic import atomic_path
from alpha_as.errors import InputError

DEPTH = "depth"
TRADE = "trade"
MAX_LEVELS = 20
DEFAULT_LEVELS = 5
NS_PER_MS = 1_000_000
NS_PER_DAY = 86_400 * 1_000_000_000

_DATE_DIR = re.compile(r"^date=(\d{8})$")


def depth_columns(levels: int) -> list[str]:
    """Column names of a depth file with ``levels`` levels per side, in the order we write them."""
    cols = ["timestamp"]
    for name in ("bidPrice", "askPrice", "bidQuantity", "askQuantity"):
        cols += [f"{name}{i}" for i in range(levels)]
    return cols


def partition_path(root: str | Path, kind: str, instrument: str, date: dt.date) -> Path:
    """Path of the parquet file holding ``kind`` ('depth' or 'trade') data of one instrument and day."""
    return Path(root) / f"type={kind}" / f"instrument={instrument}" / f"date={date:%Y%m%d}" / "data.parquet"


def parse_date(text: str) -> dt.date:
    """Parse YYYY-MM-DD or YYYYMMDD; raise InputError naming the bad value."""
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise InputError(f"bad date {text!r}: expected YYYY-MM-DD")


def list_instruments(root: str | Path, kind: str = DEPTH) -> list[str]:
    """Instruments that have at least one ``kind`` partition under ``root``."""
    base = Path(root) / f"type={kind}"
    if not base.is_dir():
        return []
    return sorted(p.name.split("=", 1)[1] for p in base.iterdir() if p.is_dir() and p.name.startswith("instrument="))


def list_dates(root: str | Path, instrument: str, kind: str = DEPTH) -> list[dt.date]:
    """Dates that have a ``kind`` file for ``instrument`` under ``root``, sorted."""
    base = Path(root) / f"type={kind}" / f"instrument={instrument}"
    if not base.is_dir():
        return []
    out = []
    for p in base.iterdir():
        m = _DATE_DIR.match(p.name)
        if m and (p / "data.parquet").is_file():
            out.append(dt.datetime.strptime(m.group(1), "%Y%m%d").date())
    return sorted(out)


# --------------------------------------------------------------------------------------------- units

MAX_MS = (2**63 - 1) // NS_PER_MS
"""Largest |epoch ms| whose epoch ns (the engine's clock) fits in int64: 2262-04-11."""
_UNITS = {-3: "s", 0: "ms", 3: "µs", 6: "ns"}
TO_MS = {"s": (1000, 1), "ms": (1, 1), "µs": (1, 1000), "ns": (1, 1_000_000)}
"""Unit -> (multiplier, floor divisor) that turn it into epoch ms."""


def _sci(x: float) -> str:
    """``1.6e18``, ``1.6e9``, ``4.3e-5``, ``12``."""
    mant, _, exp = f"{x:.2g}".partition("e")
    return f"{mant}e{int(exp)}" if exp else mant


def timestamp_unit(ts: np.ndarray, date: dt.date | None = None) -> tuple[str | None, float]:
    """``(unit, median)``: the unit epoch timestamps look like ('s', 'ms', 'µs', 'ns'), or None.

    The median of (a strided sample of) the values is compared with noon of ``date`` in epoch ms (without a
    date, 2020-09-13): within a factor 10 of 1e-3, 1, 1e3 or 1e6 times it gives s, ms, µs or ns; anything
    else (e.g. ms after midnight, or a median <= 0) gives None. Never allocates more than the sample.
    """
    ts = np.asarray(ts)
    if len(ts) == 0:
        return None, math.nan
    median = float(np.median(ts[:: max(1, len(ts) // 4096)]))
    ref = 1.6e12 if date is None else ((date - dt.date(1970, 1, 1)).days + 0.5) * 86_400_000
    if not (median > 0 and ref > 0):
        return None, median
    r = math.log10(median / ref)
    k = 3 * round(r / 3)
    return (_UNITS.get(k) if abs(r - k) < 1 else None), median


def unit_message(unit: str | None, median: float) -> str:
    """"timestamps look like ns (median 1.6e18); the layout wants epoch ms"."""
    return f"timestamps look like {unit} (median {_sci(median)}); the layout wants epoch ms"


def require_ms(ts: np.ndarray, date: dt.date, path: Path) -> None:
    """Raise :class:`InputError` naming ``path`` and the unit when the timestamps are not epoch ms (or one is
    beyond :data:`MAX_MS`, where the engine's ns clock would overflow)."""
    unit, median = timestamp_unit(ts, date)
    if unit is not None and unit != "ms":
        raise InputError(f"{unit_message(unit, median)} (`alpha-as data check --repair` rescales them)", path=path)
    out = np.flatnonzero(np.abs(ts) > MAX_MS) if len(ts) and max(-int(ts.min()), int(ts.max())) > MAX_MS else []
    if len(out):
        raise InputError(f"timestamp {ts[out[0]]} is out of the epoch-ms range (years 1677-2262)", path=path,
                         row=int(out[0]))


def side_type_problem(col_type: pa.DataType) -> str | None:
    """Why a ``side`` column of this type is refused, or None when it is numeric (or all null)."""
    if pa.types.is_integer(col_type) or pa.types.is_floating(col_type) or pa.types.is_null(col_type):
        return None
    msg = f"column 'side' has type {col_type}, expected int8 +1/-1/0 (0 = unknown)"
    if pa.types.is_boolean(col_type):
        msg += "; a bool buy flag must be stored as +1 (buy) / -1 (sell)"
    return msg


def side_float64(col: pa.ChunkedArray) -> np.ndarray:
    """A numeric ``side`` column as float64: null -> 0 (unknown), NaN stays NaN (invalid)."""
    col = col.cast(pa.float64(), safe=False).fill_null(0)
    return np.ascontiguousarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


# --------------------------------------------------------------------------------------------- writing


def write_table_atomic(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` through a temporary file and a rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def depth_table(ts_ms: np.ndarray, bid_px: np.ndarray, ask_px: np.ndarray,
                bid_qty: np.ndarray, ask_qty: np.ndarray) -> pa.Table:
    """An arrow table in the depth schema; matrices are ``(n, levels)``, NaN where a level is empty."""
    n, levels = bid_px.shape
    if not 1 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must be 1..{MAX_LEVELS}, got {levels}")
    for m in (ask_px, bid_qty, ask_qty):
        if m.shape != (n, levels):
            raise ValueError("depth matrices must share one shape")
    arrays = {"timestamp": pa.array(np.asarray(ts_ms, dtype=np.int64))}
    for name, mat in (("bidPrice", bid_px), ("askPrice", ask_px), ("bidQuantity", bid_qty), ("askQuantity", ask_qty)):
        for i in range(levels):
            col = np.ascontiguousarray(mat[:, i], dtype=np.float64)
            arrays[f"{name}{i}"] = pa.array(col, mask=np.isnan(col))
    return pa.table(arrays)


def trade_table(ts_ms: np.ndarray, price: np.ndarray, qty: np.ndarray, side: np.ndarray | None = None) -> pa.Table:
    """An arrow table in the trade schema, with the optional ``side`` column (int8: +1 buy, -1 sell, 0 unknown)."""
    arrays = {
        "timestamp": pa.array(np.asarray(ts_ms, dtype=np.int64)),
        "price": pa.array(np.asarray(price, dtype=np.float64)),
        "quantity": pa.array(np.asarray(qty, dtype=np.float64)),
    }
    if side is not None:
        arrays["side"] = pa.array(np.asarray(side, dtype=np.int8))
    return pa.table(arrays)


def write_depth(root: str | Path, instrument: str, date: dt.date, ts_ms: np.ndarray, bid_px: np.ndarray,
                ask_px: np.ndarray, bid_qty: np.ndarray, ask_qty: np.ndarray) -> Path:
    """Write one day of depth snapshots (atomically) and return the file's path."""
    table = depth_table(ts_ms, bid_px, ask_px, bid_qty, ask_qty)
    return write_table_atomic(table, partition_path(root, DEPTH, instrument, date))


def write_trades(root: str | Path, instrument: str, date: dt.date, ts_ms: np.ndarray, price: np.ndarray,
                 qty: np.ndarray, side: np.ndarray | None = None) -> Path:
    """Write one day of trades (atomically) and return the file's path."""
    table = trade_table(ts_ms, price, qty, side)
    return write_table_atomic(table, partition_path(root, TRADE, instrument, date))


def utc_date_slices(ts_ms: np.ndarray, *, source: str | Path | None = None) -> list[tuple[dt.date, slice]]:
    """Split sorted epoch-ms timestamps into UTC calendar days: ``[(date, slice), ...]``.

    Raises :class:`InputError` (naming ``source``, e.g. the imported files, and the unit the values look like)
    when a timestamp is outside the epoch-ms range the store and the engine can hold (:data:`MAX_MS`).
    """
    if len(ts_ms) == 0:
        return []
    ts = np.asarray(ts_ms, dtype=np.int64)
    lo, hi = int(ts.min()), int(ts.max())
    if lo < -MAX_MS or hi > MAX_MS:
        bad = hi if hi > MAX_MS else lo
        unit, median = timestamp_unit(ts)
        why = f"; {unit_message(unit, median)}" if unit not in (None, "ms") else ""
        raise InputError(f"timestamp {bad} ({_sci(bad)}) is out of the epoch-ms range (years 1677-2262){why}",
                         path=source)
    day_index = ts // 86_400_000
    bounds = np.flatnonzero(np.diff(day_index)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [len(ts_ms)]])
    epoch = dt.date(1970, 1, 1)
    return [(epoch + dt.timedelta(days=int(day_index[a])), slice(int(a), int(b))) for a, b in zip(starts, stops, strict=True)]


# --------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class MarketDay:
    """One instrument-day of market data as contiguous arrays (the engine's input).

    Depth matrices are ``(n_depth, levels)`` float64, C-ordered; level 0 is the best; NaN marks an empty
    level. ``trade_side`` is int8: +1 buyer-initiated, -1 seller-initiated, 0 unknown (files without a
    side column give all zeros and ``has_side`` False).
    """

    instrument: str
    date: dt.date
    depth_ts: np.ndarray
    bid_px: np.ndarray
    ask_px: np.ndarray
    bid_qty: np.ndarray
    ask_qty: np.ndarray
    trade_ts: np.ndarray
    trade_px: np.ndarray
    trade_qty: np.ndarray
    trade_side: np.ndarray
    has_side: bool
    depth_path: Path | None
    trade_path: Path | None

    @property
    def levels(self) -> int:
        return self.bid_px.shape[1]

    @property
    def n_depth(self) -> int:
        return len(self.depth_ts)

    @property
    def n_trades(self) -> int:
        return len(self.trade_ts)

    @property
    def mid(self) -> np.ndarray:
        """Mid price of each snapshot (NaN where a side is empty)."""
        return (self.bid_px[:, 0] + self.ask_px[:, 0]) * 0.5


def _read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns)
    except FileNotFoundError as e:
        raise InputError("file not found", path=path) from e
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "No match for FieldRef" in msg or "not in schema" in msg.lower():
            raise InputError(f"missing column ({msg})", path=path) from e
        raise InputError(f"unreadable or corrupt parquet file ({msg})", path=path) from e


def column_float64(table: pa.Table, name: str, path: Path) -> np.ndarray:
    """Column ``name`` as a contiguous float64 array; nulls (and null-only string columns) become NaN."""
    if name not in table.column_names:
        raise InputError(f"missing column {name!r}", path=path)
    col = table.column(name)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_null(col.type):
        try:
            col = col.cast(pa.float64())
        except pa.ArrowInvalid as e:
            raise InputError(f"column {name!r} is not numeric", path=path) from e
    elif not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
        raise InputError(f"column {name!r} has type {col.type}, expected a number", path=path)
    arr = col.to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(arr, dtype=np.float64)


def column_int64(table: pa.Table, name: str, path: Path) -> np.ndarray:
    if name not in table.column_names:
        raise InputError(f"missing column {name!r}", path=path)
    col = table.column(name)
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.timestamp("ms"), safe=False).cast(pa.int64())
    if not pa.types.is_integer(col.type):
        raise InputError(f"column {name!r} has type {col.type}, expected int64 epoch ms", path=path)
    if col.null_count:
        raise InputError(f"column {name!r} has {col.null_count} null values", path=path)
    return np.ascontiguousarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)


def file_levels(table: pa.Table) -> int:
    """Number of levels a depth table carries: the leading levels with at least one non-null bid or ask price."""
    levels = 0
    while f"bidPrice{levels}" in table.column_names and f"askPrice{levels}" in table.column_names:
        levels += 1
    used = 0
    for i in range(levels):
        if table.column(f"bidPrice{i}").null_count < table.num_rows or \
                table.column(f"askPrice{i}").null_count < table.num_rows:
            used = i + 1
        else:
            break
    return used if table.num_rows else levels


def read_depth_table(path: Path, levels: int | None = None):
    """Read a depth file: ``(ts_ms, bid_px, ask_px, bid_qty, ask_qty)`` with ``(n, levels)`` matrices."""
    table = _read_parquet(path)
    ts = column_int64(table, "timestamp", path)
    available = file_levels(table)
    if available == 0:
        if "bidPrice0" not in table.column_names or "askPrice0" not in table.column_names:
            raise InputError("missing column 'bidPrice0'/'askPrice0'", path=path)
        available = 1
    n_lv = available if levels is None else levels
    if n_lv > available:
        raise InputError(f"asked for {n_lv} levels but the file has {available}", path=path)
    mats = []
    for name in ("bidPrice", "askPrice", "bidQuantity", "askQuantity"):
        m = np.empty((len(ts), n_lv), dtype=np.float64)
        for i in range(n_lv):
            m[:, i] = column_float64(table, f"{name}{i}", path)
        mats.append(m)
    return (ts, *mats)


def read_trade_table(path: Path):
    """Read a trade file: ``(ts_ms, price, qty, side or None)``."""
    table = _read_parquet(path)
    ts = column_int64(table, "timestamp", path)
    price = column_float64(table, "price", path)
    qty = column_float64(table, "quantity", path)
    side = None
    if "side" in table.column_names:
        col = table.column("side")
        problem = side_type_problem(col.type)
        if problem is not None:
            raise InputError(problem, path=path)
        raw = side_float64(col)
        ok = np.isin(raw, (-1.0, 0.0, 1.0))
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise InputError(f"side must be +1, -1 or 0, got {raw[bad]:g} (`alpha-as data check --repair` sets "
                             "it to 0)", path=path, row=bad)
        side = raw.astype(np.int8)
    return ts, price, qty, side


def window_ns(date: dt.date, start: dt.time | None, end: dt.time | None) -> tuple[int, int]:
    """[start, end) of a time-of-day window on ``date`` in epoch ns; None = open end. end 00:00 = midnight next day."""
    day0 = int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000
    lo = day0 if start is None else day0 + _time_ns(start)
    hi = day0 + NS_PER_DAY if end is None or end == dt.time(0) else day0 + _time_ns(end)
    if start is None and end is None:
        return -(2**62), 2**62
    return lo, hi


def parse_window(text: str, what: str = "--window") -> tuple[dt.time | None, dt.time | None]:
    """A UTC window "HH:MM-HH:MM" (the end may be 24:00 or 00:00, midnight) or "all" as (start, end); None = open
    end. The window lies within one UTC day: an empty or reversed one (``08:00-08:00``, ``19:00-07:00``) is an
    error, as is a time zone."""
    if text == "all":
        return None, None
    try:
        a, b = text.split("-")
        start = dt.time.fromisoformat(a)
        end = None if b in ("24:00", "00:00") else dt.time.fromisoformat(b)
        end = None if end == dt.time(0) else end
        if start.tzinfo is not None or (end is not None and end.tzinfo is not None):
            raise ValueError("a time zone")
    except (ValueError, AttributeError):
        raise InputError(f"bad {what} {text!r}: expected HH:MM-HH:MM or 'all'") from None
    if end is not None and end <= start:
        raise InputError(f"bad {what} {text!r}: the window is {'empty' if end == start else 'reversed'}; it must "
                         "end after it starts within one UTC day (HH:MM-HH:MM, end 24:00 = midnight, or 'all')")
    return start, end


def load_window_day(root: str | Path, instrument: str, date: dt.date, window: str) -> MarketDay:
    """:func:`load_day` cut to a window given as text ("07:00-19:00" or "all"); no snapshot in it is an error."""
    start, end = parse_window(window)
    day = load_day(root, instrument, date, start=start, end=end)
    if day.n_depth == 0:
        raise InputError(f"no depth snapshots for {instrument} on {date} in the window {window}")
    return day


def _time_ns(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000_000 + t.microsecond * 1000


def _check_sorted(ts: np.ndarray, path: Path) -> None:
    bad = np.flatnonzero(np.diff(ts) < 0)
    if len(bad):
        raise InputError("timestamps are not sorted (run `alpha-as data check --repair`)", path=path, row=int(bad[0]) + 1)


def load_day(root: str | Path, instrument: str, date: dt.date, *, start: dt.time | None = None,
             end: dt.time | None = None, levels: int | None = None, require_trades: bool = True) -> MarketDay:
    """Load one instrument-day from the store, optionally cut to the UTC window [start, end).

    Raises :class:`InputError` naming the file when a partition is missing, unreadable, lacks a column, has a
    non-numeric ``side``, timestamps in another unit than epoch ms (:func:`require_ms`) or unsorted
    timestamps. A missing trade file is an error unless ``require_trades`` is False.
    """
    depth_path = partition_path(root, DEPTH, instrument, date)
    trade_path = partition_path(root, TRADE, instrument, date)
    if not depth_path.is_file():
        raise InputError(f"no depth data for instrument {instrument!r} on {date}", path=depth_path)
    ts, bid_px, ask_px, bid_qty, ask_qty = read_depth_table(depth_path, levels)
    require_ms(ts, date, depth_path)
    _check_sorted(ts, depth_path)
    if trade_path.is_file():
        t_ts, t_px, t_qty, t_side = read_trade_table(trade_path)
        require_ms(t_ts, date, trade_path)
        _check_sorted(t_ts, trade_path)
    elif require_trades:
        raise InputError(f"no trade data for instrument {instrument!r} on {date}", path=trade_path)
    else:
        t_ts, t_px, t_qty, t_side = (np.empty(0, np.int64), np.empty(0), np.empty(0), None)
        trade_path = None
    has_side = t_side is not None
    if t_side is None:
        t_side = np.zeros(len(t_ts), dtype=np.int8)

    depth_ns = ts * NS_PER_MS
    trade_ns = t_ts * NS_PER_MS
    lo, hi = window_ns(date, start, end)
    d0, d1 = np.searchsorted(depth_ns, [lo, hi], side="left")
    t0, t1 = np.searchsorted(trade_ns, [lo, hi], side="left")

    def cut(a: np.ndarray, a0: int, a1: int) -> np.ndarray:
        return np.ascontiguousarray(a[a0:a1])

    return MarketDay(
        instrument=instrument, date=date,
        depth_ts=cut(depth_ns, d0, d1), bid_px=cut(bid_px, d0, d1), ask_px=cut(ask_px, d0, d1),
        bid_qty=cut(bid_qty, d0, d1), ask_qty=cut(ask_qty, d0, d1),
        trade_ts=cut(trade_ns, t0, t1), trade_px=cut(t_px, t0, t1), trade_qty=cut(t_qty, t0, t1),
        trade_side=cut(t_side, t0, t1), has_side=has_side, depth_path=depth_path, trade_path=trade_path,
    )
