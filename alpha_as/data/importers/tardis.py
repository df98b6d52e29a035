"""Tardis.dev CSV downloads (``incremental_book_L2`` and ``trades``, optionally gzipped) -> snapshots and trades.

Each file's kind is detected from its header (gzip is detected by its magic bytes, not its name):

* ``incremental_book_L2``: ``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount``.
  ``timestamp`` (exchange time) and ``local_timestamp`` are epoch µs; ``is_snapshot`` is ``true``/``false``;
  ``side`` is ``bid``/``ask``; ``amount`` is the level's new absolute size (0 removes the level).
* ``trades``: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount`` with ``side`` the aggressor:
  ``buy`` -> +1, ``sell`` -> -1, ``unknown`` -> 0.

Rules applied:

* SOURCES may mix both kinds in any order; the book files are replayed in the order given (they must be in time
  order among themselves: a book file whose first ``local_timestamp`` is before the previous book file's last
  one is refused). Trades from all trade files are merged and stably sorted by timestamp.
* Units. Tardis writes epoch µs. Each file's unit is told by its first timestamp's magnitude (1e8-1e11 s,
  1e11-1e14 ms, 1e14-1e17 µs, 1e17-1e20 ns, i.e. dates between 1973 and 5138); a file in s, ms or ns is
  converted (to µs, then floored to ms) and named in the notes; a value fitting no unit is refused.
* Times are the exchange ``timestamp`` floored to ms. Tardis orders rows by ``local_timestamp``, so the exchange
  time can step back a little: the book time is clamped so that it never goes backwards (counted in the notes).
* Tardis snapshot semantics: a block of ``is_snapshot=true`` rows that follows non-snapshot rows (or opens the
  stream) clears the book, which the block then rebuilds. All rows of one block are stamped with the block's
  first timestamp, so a half-built book is never sampled. Non-snapshot rows before the first snapshot block are
  dropped (the book is unknown then) and counted.
* All rows of one ms are applied before the book is sampled. ``interval_ms > 0``: the book as of every grid time
  (multiples of the interval since the epoch) from the first snapshot block on; ``interval_ms == 0``: one
  snapshot per ms at which the book changed. Snapshots with an empty side or a crossed top are skipped and
  counted (:class:`SnapshotSampler`). Trades stamped before the first snapshot block are dropped and counted.
* One instrument per import: rows of several ``exchange``/``symbol`` pairs are refused, naming them.
* Refused with an :class:`InputError` naming the file and row (its line number; the header is line 1): an
  unrecognised header or a missing column, a row with the wrong number of fields, an unparsable number, a
  non-positive price, a negative amount, a bad ``is_snapshot`` value, an unknown side.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections import Counter
from pathlib import Path

import numpy as np

from alpha_as.data.book import ASK, BID, L2Book, SnapshotSampler
from alpha_as.data.importers import ImportResult
from alpha_as.data.plausibility import utc_text
from alpha_as.errors import InputError

BOOK_COLUMNS = ("exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount")
TRADE_COLUMNS = ("exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount")
_BOOK_SIDES = {"bid": BID, "ask": ASK}
_TRADE_SIDES = {"buy": 1, "sell": -1, "unknown": 0}
_SNAPSHOT = {"true": True, "false": False}
_UNITS = ((1e8, "s", 1_000_000, 1), (1e11, "ms", 1000, 1), (1e14, "µs", 1, 1), (1e17, "ns", 1, 1000))
"""(lowest magnitude, unit, multiplier, divisor to µs), by magnitude; 1e20 and beyond fit no unit."""


def _open_csv(path: Path):
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
        if magic == b"\x1f\x8b":
            return gzip.open(path, "rt", encoding="utf-8", newline="")
        return open(path, encoding="utf-8", newline="")
    except OSError as e:
        raise InputError(f"cannot open ({e})", path=path) from e


class _Rows:
    """Iterate a Tardis CSV's rows as ``(line number, column -> value getter)``; checks header and width."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = _open_csv(path)
        self.reader = csv.reader(self.fh)
        try:
            header = next(self.reader, None)
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
            self.fh.close()
            raise InputError(f"unreadable file ({e})", path=path, row=1) from e
        if not header:
            self.fh.close()
            raise InputError("empty file: expected a Tardis CSV header", path=path)
        names = [h.strip().lstrip("\ufeff") for h in header]
        if "is_snapshot" in names:
            self.kind, wanted = "book", BOOK_COLUMNS
        elif "id" in names:
            self.kind, wanted = "trades", TRADE_COLUMNS
        else:
            self.fh.close()
            raise InputError(f"unrecognised header {','.join(names)[:200]!r}: expected Tardis incremental_book_L2 "
                             f"({','.join(BOOK_COLUMNS)}) or trades ({','.join(TRADE_COLUMNS)})", path=path, row=1)
        missing = [c for c in wanted if c not in names]
        if missing:
            self.fh.close()
            raise InputError(f"missing column(s) {', '.join(missing)} in the {self.kind} header", path=path, row=1)
        self.width = len(names)
        self.index = {c: names.index(c) for c in wanted}
        self.unit: str | None = None  # told by the first timestamp read (see the module docstring)
        self._mul, self._div = 1, 1

    def __iter__(self):
        line = 1
        try:
            with self.fh:
                for row in self.reader:
                    line = self.reader.line_num
                    if not row:
                        continue
                    if len(row) != self.width:
                        raise InputError(f"expected {self.width} fields, got {len(row)}", path=self.path, row=line)
                    yield line, row
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
            raise InputError(f"unreadable or truncated file ({e})", path=self.path, row=line + 1) from e

    def micros(self, row: list[str], col: str, line: int) -> int:
        """The epoch time in column ``col`` in µs, converted from the file's unit."""
        try:
            v = int(row[self.index[col]])
        except ValueError:
            raise InputError(f"unparsable {col} {row[self.index[col]][:40]!r}", path=self.path, row=line) from None
        if self.unit is None:
            fits = [u for u in _UNITS if u[0] <= v < 1e20]
            if not fits:
                raise InputError(f"{col} {v} is not an epoch time in µs (Tardis's unit), nor in s, ms or ns",
                                 path=self.path, row=line)
            _, self.unit, self._mul, self._div = fits[-1]
        return v * self._mul // self._div

    def number(self, row: list[str], col: str, line: int, *, positive: bool) -> float:
        text = row[self.index[col]]
        try:
            v = float(text)
        except ValueError:
            raise InputError(f"unparsable {col} {text[:40]!r}", path=self.path, row=line) from None
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            raise InputError(f"bad {col} {text[:40]!r}: must be a finite number "
                             f"{'> 0' if positive else '>= 0'}", path=self.path, row=line)
        return v

    def lookup(self, row: list[str], col: str, table: dict, line: int):
        text = row[self.index[col]]
        value = table.get(text.strip().lower())
        if value is None:
            raise InputError(f"unknown {col} {text[:40]!r}: expected one of {', '.join(table)}",
                             path=self.path, row=line)
        return value


class _Instrument:
    """Refuses a second exchange/symbol pair."""

    def __init__(self) -> None:
        self.key: tuple[str, str] | None = None

    def check(self, rows: _Rows, row: list[str], line: int) -> None:
        key = (row[rows.index["exchange"]], row[rows.index["symbol"]])
        if key == self.key:
            return
        if self.key is not None:
            raise InputError(f"several instruments in one import ({' '.join(self.key)}, {' '.join(key)}): import "
                             "one symbol at a time", path=rows.path, row=line)
        self.key = key


def _replay_book(files: list[_Rows], inst: _Instrument, levels: int, interval_ms: int, n: Counter) -> tuple:
    book = L2Book()
    sampler = SnapshotSampler(levels, interval_ms)
    last_ts = -(2**62)
    first_ts: int | None = None  # time of the first snapshot block: the book is valid from then on
    in_block = False
    block_ts = 0
    dirty = False
    prev_local: tuple[int, Path] | None = None
    for rows in files:
        first_local: int | None = None
        local = 0
        for line, row in rows:
            inst.check(rows, row, line)
            ts = rows.micros(row, "timestamp", line) // 1000
            local = rows.micros(row, "local_timestamp", line)
            if first_local is None:
                first_local = local
                if prev_local is not None and local < prev_local[0]:
                    raise InputError(f"book files are not in time order: this file starts before {prev_local[1].name} "
                                     "ends; pass the incremental_book_L2 files in time order", path=rows.path, row=line)
            is_snap = rows.lookup(row, "is_snapshot", _SNAPSHOT, line)
            side = rows.lookup(row, "side", _BOOK_SIDES, line)
            price = rows.number(row, "price", line, positive=True)
            amount = rows.number(row, "amount", line, positive=False)
            if is_snap and in_block:
                ts = block_ts
            elif ts < last_ts:
                n["clamped"] += 1
                ts = last_ts
            if ts > last_ts:  # a new ms: offer the finished one to the sampler, emit grid points before ts
                if dirty:
                    sampler.on_change(last_ts, book)
                    dirty = False
                if first_ts is not None:
                    sampler.advance(ts, book)
                last_ts = ts
            if is_snap and not in_block:
                in_block, block_ts = True, ts
                book.clear()
                n["snapshot_blocks"] += 1
                if first_ts is None:
                    first_ts = ts
                    sampler.start(ts)
            elif not is_snap:
                in_block = False
                if first_ts is None:
                    n["before_snapshot"] += 1
                    continue
            book.set_level(side, price, amount)
            dirty = True
            n["book_rows"] += 1
        if first_local is not None:
            prev_local = (local, rows.path)
    if dirty:
        sampler.on_change(last_ts, book)
    if first_ts is None:
        raise InputError("no is_snapshot=true rows in the incremental_book_L2 data: the book is never initialised",
                         path=files[0].path)
    return sampler, first_ts, last_ts


def read(sources: list[Path], *, levels: int = 5, interval_ms: int = 1000) -> ImportResult:
    """Replay Tardis ``incremental_book_L2`` files and collect ``trades`` files (one instrument)."""
    if not sources:
        raise InputError("no source files given")
    opened = [_Rows(Path(p)) for p in sources]
    book_files = [r for r in opened if r.kind == "book"]
    trade_files = [r for r in opened if r.kind == "trades"]
    if not book_files:
        for r in opened:
            r.fh.close()
        raise InputError("no incremental_book_L2 file among the sources: the store needs depth data", path=sources[0])
    n: Counter[str] = Counter()
    inst = _Instrument()
    try:
        sampler, first_ts, last_book_ts = _replay_book(book_files, inst, levels, interval_ms, n)
        t_ts: list[int] = []
        t_px: list[float] = []
        t_qty: list[float] = []
        t_side: list[int] = []
        for rows in trade_files:
            for line, row in rows:
                inst.check(rows, row, line)
                t_ts.append(rows.micros(row, "timestamp", line) // 1000)
                t_side.append(rows.lookup(row, "side", _TRADE_SIDES, line))
                t_px.append(rows.number(row, "price", line, positive=True))
                t_qty.append(rows.number(row, "amount", line, positive=False))
    finally:
        for r in opened:
            r.fh.close()

    depth_ts, bid_px, ask_px, bid_qty, ask_qty = sampler.arrays()
    ts = np.asarray(t_ts, dtype=np.int64)
    keep = np.flatnonzero(ts >= first_ts)
    order = keep[np.argsort(ts[keep], kind="stable")]
    side = np.asarray(t_side, dtype=np.int8)[order]
    inst_name = " ".join(inst.key) if inst.key else "?"
    notes = [
        f"tardis {inst_name}: {len(book_files)} incremental_book_L2 file(s), {n['book_rows']:,} book rows applied, "
        f"{n['snapshot_blocks']} snapshot block(s) (each clears the book)",
        f"{len(depth_ts):,} snapshots at " + (f"{interval_ms} ms" if interval_ms else "every book change")
        + f" from the first snapshot block ({sampler.skipped_empty} empty, {sampler.skipped_crossed} crossed skipped)",
        f"{len(order):,} trades kept from {len(trade_files)} trades file(s), {len(ts) - len(order):,} dropped before "
        f"the first snapshot block; {int((side == 0).sum()):,} with unknown side",
    ]
    if n["before_snapshot"]:
        notes.append(f"{n['before_snapshot']:,} book rows before the first snapshot block dropped")
    if n["clamped"]:
        notes.append(f"{n['clamped']:,} book rows had an exchange timestamp earlier than the previous row; "
                     "stamped with the previous time")
    if not trade_files:
        notes.append("no trades file among the sources: the trade partitions are empty")
    for r in opened:
        if r.unit not in (None, "µs"):
            notes.append(f"{r.path}: timestamps are epoch {r.unit}, not µs as Tardis writes them: converted")
    cause = ""
    if not len(depth_ts):
        skipped = sampler.skipped_empty + sampler.skipped_crossed
        if skipped:
            cause = (f"all {skipped:,} sampled books had an empty side ({sampler.skipped_empty:,}) or a crossed top "
                     f"({sampler.skipped_crossed:,})")
        else:
            cause = (f"the book rows from the first snapshot block ({utc_text(first_ts)}) to the last "
                     f"({utc_text(last_book_ts)} UTC) span no {interval_ms} ms grid time: give more data or "
                     "--interval-ms 0")
    return ImportResult(
        depth_ts=depth_ts, bid_px=bid_px, ask_px=ask_px, bid_qty=bid_qty, ask_qty=ask_qty,
        trade_ts=ts[order], trade_px=np.asarray(t_px, dtype=np.float64)[order],
        trade_qty=np.asarray(t_qty, dtype=np.float64)[order], trade_side=side, notes=notes, empty_cause=cause,
    )
