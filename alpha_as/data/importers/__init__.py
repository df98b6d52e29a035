"""Importers: real exchange captures -> the canonical store (authors' parquet layout).

Each importer module exposes ``read(sources, *, levels, interval_ms) -> ImportResult``. ``run_import``
splits the result into UTC days and writes one depth and one trade partition per day. Importers never
fix data silently: every dropped or inferred item is counted in ``ImportResult.notes``. When the import fails
after the reader ran (no depth snapshot at all, timestamps out of range), the :class:`ImportFailed` error
carries those notes so the CLI prints them before its one error line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alpha_as.data import store
from alpha_as.errors import InputError

FORMATS: dict[str, str] = {
    "binance": "Binance raw websocket capture (`<local_ts> <json>`: REST snapshot + diff depth + trades)",
    "bitstamp": "Bitstamp ob-analytics capture (L3 order events + order_book snapshots + trades)",
    "lobster": "LOBSTER message + orderbook files (zip or csv)",
    "tardis": "Tardis.dev CSV (incremental_book_L2 and trades)",
}


@dataclass
class ImportResult:
    """What an importer produced: snapshots and trades (epoch ms, sorted), and notes for the user."""

    depth_ts: np.ndarray
    bid_px: np.ndarray
    ask_px: np.ndarray
    bid_qty: np.ndarray
    ask_qty: np.ndarray
    trade_ts: np.ndarray
    trade_px: np.ndarray
    trade_qty: np.ndarray
    trade_side: np.ndarray | None
    """int8 +1 buyer-initiated / -1 seller-initiated / 0 unknown; None when the source has no side."""
    notes: list[str] = field(default_factory=list)
    empty_cause: str = ""
    """Why there are no depth snapshots, when the importer knows (e.g. every sampled book was crossed)."""


class ImportFailed(InputError):
    """An import that failed after the reader ran; ``notes`` are the reader's notes (why rows were skipped)."""

    def __init__(self, message: str, notes: list[str], *, path: str | Path | None = None) -> None:
        super().__init__(message, path=path)
        self.notes = list(notes)


@dataclass
class DayWritten:
    date: object
    depth_rows: int
    trade_rows: int
    depth_path: Path
    trade_path: Path


def get_reader(fmt: str) -> Callable[..., ImportResult]:
    """The ``read`` function of an importer, by format name."""
    if fmt not in FORMATS:
        raise InputError(f"unknown import format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    module = importlib.import_module(f"alpha_as.data.importers.{fmt}")
    return module.read


def write_result(result: ImportResult, out: str | Path, instrument: str, *,
                 sources: list[Path] | None = None) -> list[DayWritten]:
    """Write an :class:`ImportResult` to the store, one partition pair per UTC day of the depth data.

    Raises :class:`ImportFailed` (naming ``sources``, with the result's notes) when there is no depth snapshot
    or a timestamp is out of the epoch-ms range.
    """
    where = ", ".join(map(str, sources)) if sources else None
    if len(result.depth_ts) == 0:
        cause = result.empty_cause or "every book the importer sampled was skipped or none was sampled; see the notes"
        raise ImportFailed(f"the source produced no depth snapshots: {cause}", result.notes, path=where)
    try:
        t_days = dict(store.utc_date_slices(result.trade_ts, source=where))
        depth_days = {d for d, _ in store.utc_date_slices(result.depth_ts, source=where)}
    except InputError as e:
        raise ImportFailed(str(e), result.notes) from None
    written = []
    orphan = sum(sl.stop - sl.start for d, sl in t_days.items() if d not in depth_days)
    if orphan:
        result.notes.append(f"{orphan} trade(s) on UTC days without depth snapshots were not written "
                            "(a day in the store needs both files)")
    for date, sl in store.utc_date_slices(result.depth_ts):
        dpath = store.write_depth(out, instrument, date, result.depth_ts[sl], result.bid_px[sl],
                                  result.ask_px[sl], result.bid_qty[sl], result.ask_qty[sl])
        tsl = t_days.get(date, slice(0, 0))
        side = None if result.trade_side is None else result.trade_side[tsl]
        tpath = store.write_trades(out, instrument, date, result.trade_ts[tsl], result.trade_px[tsl],
                                   result.trade_qty[tsl], side)
        written.append(DayWritten(date, sl.stop - sl.start, tsl.stop - tsl.start, dpath, tpath))
    return written


def run_import(fmt: str, sources: list[str | Path], out: str | Path, instrument: str, *,
               levels: int = store.DEFAULT_LEVELS, interval_ms: int = 1000) -> tuple[ImportResult, list[DayWritten]]:
    """Import ``sources`` of format ``fmt`` into the store at ``out`` under ``instrument``."""
    if not 1 <= levels <= store.MAX_LEVELS:
        raise InputError(f"--levels must be 1..{store.MAX_LEVELS}, got {levels}")
    if interval_ms < 0:
        raise InputError(f"--interval-ms must be >= 0, got {interval_ms}")
    paths = [Path(s) for s in sources]
    for p in paths:
        if not p.exists():
            raise InputError("file not found", path=p)
    reader = get_reader(fmt)
    result = reader(paths, levels=levels, interval_ms=interval_ms)
    return result, write_result(result, out, instrument, sources=paths)
