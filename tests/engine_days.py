"""Tiny hand-made days for engine tests."""

from __future__ import annotations

import datetime as dt

import numpy as np

from alpha_as.data.store import MarketDay

DATE = dt.date(2020, 12, 9)
T0 = int(dt.datetime(2020, 12, 9, 7, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000
MS = 1_000_000


def make_day(depth: list, trades: list, *, has_side: bool = True, levels: int = 2) -> MarketDay:
    """depth: [(ms, [(bid px, qty), ...], [(ask px, qty), ...])]; trades: [(ms, px, qty, side)], ms after 07:00."""
    n = len(depth)
    bid_px = np.full((n, levels), np.nan)
    bid_qty = np.full((n, levels), np.nan)
    ask_px = np.full((n, levels), np.nan)
    ask_qty = np.full((n, levels), np.nan)
    for i, (_, bids, asks) in enumerate(depth):
        for j, (p, q) in enumerate(bids):
            bid_px[i, j], bid_qty[i, j] = p, q
        for j, (p, q) in enumerate(asks):
            ask_px[i, j], ask_qty[i, j] = p, q
    t = np.array([T0 + int(r[0] * MS) for r in trades], dtype=np.int64)
    return MarketDay(
        instrument="test", date=DATE,
        depth_ts=np.array([T0 + int(r[0] * MS) for r in depth], dtype=np.int64),
        bid_px=bid_px, ask_px=ask_px, bid_qty=bid_qty, ask_qty=ask_qty,
        trade_ts=t, trade_px=np.array([r[1] for r in trades], dtype=np.float64),
        trade_qty=np.array([r[2] for r in trades], dtype=np.float64),
        trade_side=np.array([r[3] if has_side else 0 for r in trades], dtype=np.int8),
        has_side=has_side, depth_path=None, trade_path=None,
    )


def assert_same_result(ra, rb) -> None:
    """Two BacktestResults agree bit for bit: fills, grid, metrics and counters."""
    np.testing.assert_array_equal(ra.fill_ts, rb.fill_ts)
    for k in ra.fills:
        np.testing.assert_array_equal(ra.fills[k], rb.fills[k], err_msg=k)
    np.testing.assert_array_equal(ra.grid_ts, rb.grid_ts)
    for k in ra.grid:
        np.testing.assert_array_equal(ra.grid[k], rb.grid[k], err_msg=k)
    assert ra.metrics == rb.metrics and ra.counters == rb.counters
