"""LOBSTER (lobsterdata.com) message + orderbook files -> depth snapshots and trades.

Input. Each SRC is a zip holding ``TICKER_YYYY-MM-DD_START_END_message_N.csv`` and
``TICKER_YYYY-MM-DD_START_END_orderbook_N.csv`` (other members, e.g. the ReadMe, are ignored), or one of the two
csv files themselves (give both, in any order; the kind is told by ``_message_`` / ``_orderbook_`` in the name).
Several zips or pairs of one ticker are allowed, one trading day each. The files have no header:

* message: ``time, type, order_id, size, price, direction`` -- time in seconds after midnight (decimals up to
  ns), type 1 submit / 2 partial cancel / 3 delete / 4 visible execution / 5 hidden execution / 6 cross trade /
  7 trading halt, size in shares, price in USD*1e4, direction 1 buy / -1 sell limit order;
* orderbook: N levels of ``askP, askS, bidP, bidS`` per row; row i is the book *after* message i. Empty levels
  carry the dummy prices -9999999999 (bid) / 9999999999 (ask) with size 0.

Time. LOBSTER times are wall-clock seconds after midnight in New York (the exchange's local time); the date
comes from the file name. They are converted to UTC with ``zoneinfo`` America/New_York, using the UTC offset
of that date (taken at local noon; DST switches happen at 02:00 on Sundays, outside any session), e.g. 09:30
EDT = 13:30 UTC. Event times are rounded *up* to whole epoch ms, so a record stamped T only reflects events
at or before T (no look-ahead).

Depth. ``interval_ms > 0``: one snapshot per grid time g (multiples of ``interval_ms`` since the epoch) from the
first message to the last message: the book row of the last message with time <= g. The book is not
extended to the session end named in the file (END, ms after midnight): nothing says it stayed unchanged after
the last message (a file of 49 s of messages would otherwise give 6.5 h of a frozen book); when the messages
stop more than 60 s before END the notes say so. ``interval_ms == 0``: the book after the last message of each
ms, wherever its top ``levels`` levels changed. ``min(levels, N)`` levels are read; when ``levels`` exceeds the
file's N the extra levels are written as NaN (padded, with a note) rather than refused -- the store's reader
sees the real depth, and ``load_day(levels=...)`` refuses more levels than the file holds. Dummy prices and
their sizes become NaN; prices are divided by 1e4 (USD), sizes are shares. Snapshots whose bid or ask side is
empty, or whose best bid >= best ask (crossed or locked), are skipped and counted in the notes.

Trades. Executions: type 4 (visible) and 5 (hidden), plus type 6 (cross trades, e.g. the opening/closing
auction). Price (USD) and size (shares) are the message's. ``direction`` is the side of the *resting* limit
order that was executed, so the aggressor is the opposite: direction -1 (a sell order hit) -> +1 buyer-
initiated; direction 1 -> -1 seller-initiated. For hidden executions (type 5) the direction still gives the
hidden order's side, so the same rule applies. A cross has no aggressor: side 0 (unknown). Halt messages
(type 7; their orderbook row repeats the previous book) are skipped and counted; snapshots during a halt show
the frozen book.

Errors. :class:`InputError` naming the file (``zip:member`` inside a zip) and the 1-based data row where known:
a zip without a message or orderbook file, an unpaired file, a bad column count, unparsable numbers, a
row-count mismatch between the two files, times going backwards, unknown message types.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from alpha_as.data.importers import ImportResult
from alpha_as.errors import InputError

TIMEZONE = "America/New_York"
DUMMY_PRICE = 9_999_999_999
PRICE_SCALE = 1e4
MESSAGE_COLUMNS = ("time", "type", "order_id", "size", "price", "direction")
TRADE_TYPES = (4, 5, 6)
HALT = 7

_DATE = re.compile(r"(?:^|_)(\d{4}-\d{2}-\d{2})(?:_|$)")
_WINDOW = re.compile(r"_(\d+)_(\d+)_(?:message|orderbook)_")
_NLEVELS = re.compile(r"_orderbook_(\d+)\.csv$", re.IGNORECASE)


@dataclass
class _Csv:
    """One message or orderbook csv: a plain file or a zip member."""

    label: str
    name: str
    kind: str
    path: Path
    member: str | None = None

    def read(self) -> bytes:
        try:
            if self.member is None:
                return self.path.read_bytes()
            with zipfile.ZipFile(self.path) as zf:
                return zf.read(self.member)
        except (OSError, zipfile.BadZipFile) as e:
            raise InputError(f"cannot read ({e})", path=self.label) from e


def _kind(name: str) -> str | None:
    low = name.lower()
    if not low.endswith(".csv"):
        return None
    return "message" if "_message_" in low else "orderbook" if "_orderbook_" in low else None


def _collect(sources: list[Path]) -> list[tuple[_Csv, _Csv]]:
    """Find the message/orderbook files among ``sources`` and pair them."""
    files: list[_Csv] = []
    for src in sources:
        src = Path(src)
        if zipfile.is_zipfile(src):
            with zipfile.ZipFile(src) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
            found = []
            for n in names:
                base = PurePosixPath(n).name
                if kind := _kind(base):
                    files.append(_Csv(f"{src}:{n}", base, kind, src, n))
                    found.append(kind)
            missing = [k for k in ("message", "orderbook") if k not in found]
            if missing:
                raise InputError(f"zip holds no LOBSTER {' or '.join(missing)} file "
                                 f"({', '.join(f'*_{k}_N.csv' for k in missing)})", path=src)
        elif src.suffix.lower() == ".zip":
            raise InputError("not a readable zip file", path=src)
        elif kind := _kind(src.name):
            files.append(_Csv(str(src), src.name, kind, src))
        else:
            raise InputError("not a LOBSTER file: expected a zip, or a csv whose name contains "
                             "_message_ or _orderbook_", path=src)
    msgs = [f for f in files if f.kind == "message"]
    obs = [f for f in files if f.kind == "orderbook"]
    if len(msgs) == 1 and len(obs) == 1:
        return [(msgs[0], obs[0])]
    by_name: dict[str, _Csv] = {}
    for f in obs:
        if f.name in by_name:
            raise InputError(f"orderbook file given twice (also {by_name[f.name].label})", path=f.label)
        by_name[f.name] = f
    pairs = []
    for m in msgs:
        key = re.sub("_message_", "_orderbook_", m.name, flags=re.IGNORECASE)
        ob = by_name.pop(key, None)
        if ob is None:
            raise InputError(f"no matching orderbook file {key!r} among the sources", path=m.label)
        pairs.append((m, ob))
    for ob in by_name.values():
        raise InputError("no matching message file among the sources", path=ob.label)
    return pairs


# --------------------------------------------------------------------------------------------- csv parsing


def _bad_row(data: bytes, ncols: int, float_cols: tuple[int, ...]) -> tuple[int, str] | None:
    """Slow scan for the first malformed row (only run once the fast reader has failed)."""
    row = 0
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        row += 1
        fields = line.split(",")
        if len(fields) != ncols:
            return row, f"bad column count: expected {ncols}, got {len(fields)}"
        for j, text in enumerate(fields):
            try:
                v = float(text) if j in float_cols else int(text)
            except ValueError:
                return row, f"unparsable number {text.strip()!r} in column {j + 1}"
            if j in float_cols and not np.isfinite(v):
                return row, f"unparsable number {text.strip()!r} in column {j + 1}"
    return None


def _read_matrix(src: _Csv, expect_cols: int | None, float_cols: tuple[int, ...] = ()) -> list[np.ndarray]:
    """Read a headerless numeric csv into one numpy array per column (int64, float64 for ``float_cols``)."""
    data = src.read()
    first = next((ln for ln in data.splitlines() if ln.strip()), None)
    if first is None:
        raise InputError("empty file", path=src.label)
    ncols = first.count(b",") + 1
    if expect_cols is not None and ncols != expect_cols:
        what = ", ".join(MESSAGE_COLUMNS) if src.kind == "message" else "askP, askS, bidP, bidS per level"
        raise InputError(f"bad column count: expected {expect_cols} ({what}), got {ncols}", path=src.label, row=1)
    types = {f"f{j}": pa.float64() if j in float_cols else pa.int64() for j in range(ncols)}
    try:
        table = pacsv.read_csv(pa.BufferReader(data), read_options=pacsv.ReadOptions(autogenerate_column_names=True),
                               convert_options=pacsv.ConvertOptions(column_types=types))
        cols = [table.column(j) for j in range(ncols)]
        ok = all(c.null_count == 0 for c in cols)
        out = [c.to_numpy() for c in cols] if ok else []
        ok = ok and all(np.isfinite(out[j]).all() for j in float_cols)
    except pa.ArrowInvalid as e:
        ok, err = False, str(e).splitlines()[0]
    else:
        err = "empty or non-finite value"
    if not ok:
        bad = _bad_row(data, ncols, float_cols)
        if bad is None:
            raise InputError(f"unparsable csv ({err})", path=src.label)
        raise InputError(bad[1], path=src.label, row=bad[0])
    return out


def _name_info(m: _Csv, ob: _Csv) -> tuple[dt.date, int | None, int | None]:
    """(date, session end in ms after midnight or None, levels named in the orderbook file or None)."""
    dates = []
    for f in (m, ob):
        hit = _DATE.search(f.name)
        if hit is None:
            raise InputError("no date in the file name (expected TICKER_YYYY-MM-DD_...)", path=f.label)
        try:
            dates.append(dt.date.fromisoformat(hit.group(1)))
        except ValueError as e:
            raise InputError(f"bad date {hit.group(1)!r} in the file name", path=f.label) from e
    if dates[0] != dates[1]:
        raise InputError(f"message file is for {dates[0]} but orderbook file {ob.label} is for {dates[1]}",
                         path=m.label)
    window = _WINDOW.search(m.name)
    nlv = _NLEVELS.search(ob.name)
    return dates[0], int(window.group(2)) if window else None, int(nlv.group(1)) if nlv else None


def _midnight_ns(date: dt.date) -> tuple[int, dt.timedelta]:
    """Epoch ns of New York midnight (wall clock) on ``date``, and the UTC offset used."""
    try:
        tz = ZoneInfo(TIMEZONE)
    except ZoneInfoNotFoundError as e:  # pragma: no cover - depends on the machine
        raise InputError(f"time zone {TIMEZONE} not found: install the 'tzdata' package") from e
    offset = dt.datetime(date.year, date.month, date.day, 12, tzinfo=tz).utcoffset()
    assert offset is not None
    days = (date - dt.date(1970, 1, 1)).days
    return days * 86_400 * 10**9 - int(offset.total_seconds()) * 10**9, offset


# --------------------------------------------------------------------------------------------- one day


def _read_day(m: _Csv, ob: _Csv, levels: int, interval_ms: int) -> ImportResult:
    date, end_ms, name_levels = _name_info(m, ob)
    ticker = m.name.split("_")[0]
    tag = f"{ticker} {date}"
    t, typ, _oid, size, price, direction = _read_matrix(m, len(MESSAGE_COLUMNS), float_cols=(0,))
    book = _read_matrix(ob, None if name_levels is None else 4 * name_levels)
    ncols = len(book)
    if ncols % 4:
        raise InputError(f"bad column count: expected 4 per level (askP, askS, bidP, bidS), got {ncols}",
                         path=ob.label, row=1)
    if len(book[0]) != len(t):
        raise InputError(f"row-count mismatch: {len(book[0]):,} orderbook rows but {len(t):,} messages in "
                         f"{m.label}", path=ob.label)
    n_file = ncols // 4
    lv = min(levels, n_file)

    # times: NY seconds after midnight -> epoch ns -> epoch ms rounded up
    if (t < 0).any():
        raise InputError(f"negative time {t[t < 0][0]}", path=m.label, row=int(np.flatnonzero(t < 0)[0]) + 1)
    back = np.flatnonzero(np.diff(t) < 0)
    if len(back):
        raise InputError(f"time goes backwards ({t[back[0]]} -> {t[back[0] + 1]})", path=m.label,
                         row=int(back[0]) + 2)
    unknown = np.flatnonzero((typ < 1) | (typ > 7))
    if len(unknown):
        raise InputError(f"unknown message type {typ[unknown[0]]} (expected 1-7)", path=m.label,
                         row=int(unknown[0]) + 1)
    base_ns, offset = _midnight_ns(date)
    ev_ns = base_ns + np.rint(t * 1e9).astype(np.int64)
    ev_ms = -(-ev_ns // 1_000_000)
    notes = []

    # depth: choose the orderbook rows to snapshot
    last_ms = int(ev_ms[-1])
    short_ms = None if end_ms is None else base_ns // 1_000_000 + end_ms - last_ms
    if short_ms is not None and short_ms > 60_000:
        stop = dt.timedelta(milliseconds=last_ms - base_ns // 1_000_000)
        notes.append(f"{tag}: the messages stop at {_clock(stop)}, {short_ms / 1000:,.0f} s before the session "
                     f"end {_clock(dt.timedelta(milliseconds=end_ms))} named in the file (New York time): the book "
                     "is not extended past the last message")
    if interval_ms > 0:
        g0 = -(-int(ev_ms[0]) // interval_ms) * interval_ms
        ts = np.arange(g0, last_ms + 1, interval_ms, dtype=np.int64)
        idx = np.searchsorted(ev_ms, ts, side="right") - 1
    else:
        idx = np.flatnonzero(np.r_[ev_ms[1:] != ev_ms[:-1], True])
        top = np.column_stack(book[: 4 * lv])[idx]
        idx = idx[np.r_[True, (top[1:] != top[:-1]).any(axis=1)]]
        ts = ev_ms[idx]
    k = len(idx)
    mats = [np.full((k, levels), np.nan) for _ in range(4)]
    bid_px, ask_px, bid_qty, ask_qty = mats
    zero_size = 0
    for i in range(lv):
        for px_col, qty_col, px_m, qty_m, sign in ((4 * i, 4 * i + 1, ask_px, ask_qty, 1),
                                                    (4 * i + 2, 4 * i + 3, bid_px, bid_qty, -1)):
            p = book[px_col][idx]
            q = book[qty_col][idx]
            dummy = sign * p >= DUMMY_PRICE
            empty = dummy | (q <= 0)
            zero_size += int((empty & ~dummy).sum())
            px_m[:, i] = np.where(empty, np.nan, p / PRICE_SCALE)
            qty_m[:, i] = np.where(empty, np.nan, q.astype(np.float64))
    one_side = np.isnan(bid_px[:, 0]) | np.isnan(ask_px[:, 0])
    crossed = ~one_side & (bid_px[:, 0] >= ask_px[:, 0])
    keep = ~(one_side | crossed)
    if not keep.all():
        ts = ts[keep]
        mats = [np.ascontiguousarray(a[keep]) for a in mats]
        notes.append(f"{tag}: skipped {int(one_side.sum()):,} snapshots with an empty side and "
                     f"{int(crossed.sum()):,} crossed/locked ones")
    if zero_size:
        notes.append(f"{tag}: {zero_size:,} levels with size <= 0 at a real price treated as empty")
    if lv < levels:
        extra = f"level {levels} is" if levels == n_file + 1 else f"levels {n_file + 1}-{levels} are"
        notes.append(f"{tag}: the orderbook file has {n_file} level(s); {extra} NaN")

    # trades
    is_trade = np.isin(typ, TRADE_TYPES)
    lit = (typ == 4) | (typ == 5)
    bad_dir = np.flatnonzero(lit & (direction != 1) & (direction != -1))
    if len(bad_dir):
        raise InputError(f"direction must be 1 or -1 for an execution, got {direction[bad_dir[0]]}",
                         path=m.label, row=int(bad_dir[0]) + 1)
    side = np.where(typ == 6, 0, -direction)[is_trade].astype(np.int8)
    counts = [int((typ == c).sum()) for c in (4, 5, 6, HALT)]
    notes.append(f"{tag}: {len(t):,} messages; times are New York local (UTC{_fmt_offset(offset)}), stored as "
                 f"UTC; trades: {counts[0]:,} visible + {counts[1]:,} hidden executions"
                 + (f" + {counts[2]:,} cross trades (side 0, no aggressor)" if counts[2] else ""))
    if counts[3]:
        notes.append(f"{tag}: skipped {counts[3]:,} trading-halt messages (type 7); the book is frozen during a halt")
    cause = ""
    if not len(ts):
        cause = (f"{m.label}: the messages span no {interval_ms} ms grid time" if k == 0 else
                 f"{m.label}: every sampled book had an empty side or a crossed top")
    result = ImportResult(
        empty_cause=cause, depth_ts=np.ascontiguousarray(ts, dtype=np.int64), bid_px=mats[0], ask_px=mats[1],
        bid_qty=mats[2], ask_qty=mats[3],
        trade_ts=np.ascontiguousarray(ev_ms[is_trade]), trade_px=price[is_trade] / PRICE_SCALE,
        trade_qty=size[is_trade].astype(np.float64), trade_side=side, notes=notes,
    )
    return result


def _clock(t: dt.timedelta) -> str:
    """``HH:MM:SS`` of a time after midnight."""
    s = int(t.total_seconds())
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _fmt_offset(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def read(sources: list[Path], *, levels: int, interval_ms: int) -> ImportResult:
    """Read LOBSTER zips or message/orderbook csv pairs into snapshots and trades (see the module docstring)."""
    if not 1 <= levels <= 20:
        raise InputError(f"levels must be 1..20, got {levels}")
    if interval_ms < 0:
        raise InputError(f"interval_ms must be >= 0, got {interval_ms}")
    pairs = _collect([Path(s) for s in sources])
    days: dict[dt.date, _Csv] = {}
    for m, ob in pairs:
        date = _name_info(m, ob)[0]
        if date in days:
            raise InputError(f"two files for {date} (also {days[date].label})", path=m.label)
        days[date] = m
    tickers = {m.name.split("_")[0] for m, _ in pairs}
    if len(tickers) > 1:
        raise InputError(f"one instrument per import, got tickers {', '.join(sorted(tickers))}")
    parts = [_read_day(m, ob, levels, interval_ms) for m, ob in sorted(pairs, key=lambda p: _name_info(*p)[0])]
    if len(parts) == 1:
        return parts[0]

    def cat(name: str) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate([getattr(p, name) for p in parts]))

    return ImportResult(
        depth_ts=cat("depth_ts"), bid_px=cat("bid_px"), ask_px=cat("ask_px"), bid_qty=cat("bid_qty"),
        ask_qty=cat("ask_qty"), trade_ts=cat("trade_ts"), trade_px=cat("trade_px"), trade_qty=cat("trade_qty"),
        trade_side=cat("trade_side"), notes=[n for p in parts for n in p.notes],
        empty_cause="; ".join(p.empty_cause for p in parts if p.empty_cause),
    )
