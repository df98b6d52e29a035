"""A price-level (L2) order book and a snapshot sampler, shared by the importers.

Importers replay an exchange's book updates into :class:`L2Book` and let :class:`SnapshotSampler` emit
N-level snapshots either on a fixed time grid (``interval_ms > 0``: the book as of every event with
timestamp <= the grid time) or after every book change (``interval_ms == 0``). The book is a pair of
dicts with a cached top-N that survives changes behind the N-th level, so sampling after every change
costs O(levels in the book) only when the top actually moved.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

BID = 1
ASK = -1


class L2Book:
    """Aggregated price levels per side: price -> size. Sizes <= ``eps`` delete the level."""

    def __init__(self, eps: float = 1e-12) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.eps = eps
        self._top: tuple | None = None
        self._top_levels = 0
        self._version = 0

    # -- updates
    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self._changed()

    def set_level(self, side: int, price: float, qty: float) -> None:
        """Set the absolute size of a level (0 deletes it), as Binance/Tardis L2 diffs do."""
        levels = self.bids if side == BID else self.asks
        if qty <= self.eps:
            if levels.pop(price, None) is not None:
                self._changed(side, price)
        elif levels.get(price) != qty:
            levels[price] = qty
            self._changed(side, price)

    def add(self, side: int, price: float, delta: float) -> None:
        """Add ``delta`` (may be negative) to a level, as an L3 order event does to its price level."""
        levels = self.bids if side == BID else self.asks
        new = levels.get(price, 0.0) + delta
        if new <= self.eps:
            levels.pop(price, None)
        else:
            levels[price] = new
        self._changed(side, price)

    def _changed(self, side: int = 0, price: float = math.nan) -> None:
        """Record a change; keep the cached top-N when the change lies wholly behind the N-th level."""
        self._version += 1
        if self._top is None or side == 0:
            self._top = None
            return
        prices = self._top[0] if side == BID else self._top[2]
        if len(prices) < self._top_levels:
            self._top = None
        elif (side == BID and price >= prices[-1]) or (side == ASK and price <= prices[-1]):
            self._top = None

    @property
    def version(self) -> int:
        """Increases on every change; lets callers see whether anything happened."""
        return self._version

    # -- queries
    def best_bid(self) -> float:
        return max(self.bids) if self.bids else math.nan

    def best_ask(self) -> float:
        return min(self.asks) if self.asks else math.nan

    def is_crossed(self) -> bool:
        return bool(self.bids) and bool(self.asks) and self.best_bid() >= self.best_ask()

    def top(self, levels: int) -> tuple[list[float], list[float], list[float], list[float]]:
        """The best ``levels`` levels: (bid prices desc, bid sizes, ask prices asc, ask sizes); shorter if thin."""
        if self._top is None or self._top_levels != levels:
            bp = heapq.nlargest(levels, self.bids)
            ap = heapq.nsmallest(levels, self.asks)
            self._top = (bp, [self.bids[p] for p in bp], ap, [self.asks[p] for p in ap])
            self._top_levels = levels
        return self._top


@dataclass
class SnapshotSampler:
    """Collects N-level snapshots of an :class:`L2Book` into arrays in the store's depth schema.

    Grid mode (``interval_ms > 0``): call :meth:`advance` with each event's timestamp *before* applying the
    event; it emits a snapshot for every grid time ``g`` (multiples of ``interval_ms`` since the epoch)
    with ``last_ts <= g < ts``, i.e. the book as of all events stamped at or before ``g``. Change mode
    (``interval_ms == 0``): call :meth:`on_change` after applying the events of one timestamp.

    Snapshots with an empty side or a crossed top are not emitted; they are counted in ``skipped_empty``
    and ``skipped_crossed`` so importers can report them.
    """

    levels: int
    interval_ms: int
    ts: list[int] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    skipped_empty: int = 0
    skipped_crossed: int = 0
    _next_grid: int | None = None
    _last_version: int = -1

    def __post_init__(self) -> None:
        if not 1 <= self.levels <= 20:
            raise ValueError("levels must be 1..20")
        if self.interval_ms < 0:
            raise ValueError("interval_ms must be >= 0")

    def start(self, ts_ms: int) -> None:
        """Start the grid at the first grid time at or after ``ts_ms`` (e.g. when the book becomes valid)."""
        if self.interval_ms > 0:
            iv = self.interval_ms
            self._next_grid = -(-ts_ms // iv) * iv

    def advance(self, ts_ms: int, book: L2Book) -> None:
        """Emit grid snapshots for every grid time strictly before ``ts_ms`` (grid mode only)."""
        if self.interval_ms <= 0 or self._next_grid is None:
            return
        while self._next_grid < ts_ms:
            self._emit(self._next_grid, book)
            self._next_grid += self.interval_ms

    def on_change(self, ts_ms: int, book: L2Book) -> None:
        """Emit a snapshot if the book changed since the last one (change mode only)."""
        if self.interval_ms != 0 or book.version == self._last_version:
            return
        self._last_version = book.version
        self._emit(ts_ms, book)

    def _emit(self, ts_ms: int, book: L2Book) -> None:
        bp, bq, ap, aq = book.top(self.levels)
        if not bp or not ap:
            self.skipped_empty += 1
            return
        if bp[0] >= ap[0]:
            self.skipped_crossed += 1
            return
        self.ts.append(ts_ms)
        self.rows.append((bp, bq, ap, aq))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(ts_ms, bid_px, ask_px, bid_qty, ask_qty)``; missing deep levels are NaN."""
        n, lv = len(self.ts), self.levels
        mats = [np.full((n, lv), np.nan) for _ in range(4)]
        bid_px, ask_px, bid_qty, ask_qty = mats
        for i, (bp, bq, ap, aq) in enumerate(self.rows):
            bid_px[i, : len(bp)] = bp
            bid_qty[i, : len(bq)] = bq
            ask_px[i, : len(ap)] = ap
            ask_qty[i, : len(aq)] = aq
        return np.asarray(self.ts, dtype=np.int64), bid_px, ask_px, bid_qty, ask_qty
