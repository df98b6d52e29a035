"""A two-sided quoter that joins the book (or sits ``offset_ticks`` behind it) and requotes on a timer.

Used as the simple strategy of the engine benchmark (the same rule runs in hftbacktest for the speed
comparison) and as a sanity check: prices change only every ``interval_s``; a side emptied by a fill is
restored at the held price at the next snapshot (``repost_filled_side``, default) or left empty until the
next requote (as the hftbacktest version of the rule in the benchmark does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from alpha_as.engine.state import O_WORK_PX, O_WORK_QTY, STRAT_T
from alpha_as.errors import InputError
from alpha_as.strategies.base import Q_OK

P_INTERVAL_NS = 0
P_QTY = 1
P_OFFSET_TICKS = 2
P_REPOST = 3
N_PARAMS = 4


@dataclass(frozen=True)
class FixedQuoterParams:
    interval_s: float = 5.0
    """Seconds between price updates."""
    quantity: float = 0.0001
    """Order size (BTC) on each side."""
    offset_ticks: int = 0
    """Ticks behind the best bid / ask (0 = join the best)."""
    repost_filled_side: bool = True
    """Re-post a side emptied by a fill at the next snapshot (True) or only at the next requote."""

    def __post_init__(self) -> None:
        checks = [  # a NaN fails every comparison
            ("interval_s", 0 < self.interval_s < math.inf, "> 0 and finite"),
            ("quantity", 0 < self.quantity < math.inf, "> 0 and finite"),
            ("offset_ticks", self.offset_ticks >= 0, ">= 0"),
        ]
        for key, ok, need in checks:
            if not ok:
                raise InputError(f"fixed quoter: {key} must be {need}, got {getattr(self, key)!r}")

    def to_array(self) -> np.ndarray:
        p = np.zeros(N_PARAMS)
        p[P_INTERVAL_NS] = self.interval_s * 1e9
        p[P_QTY] = self.quantity
        p[P_OFFSET_TICKS] = self.offset_ticks
        p[P_REPOST] = 1.0 if self.repost_filled_side else 0.0
        return p


@njit(cache=True)
def fixed_quotes(p, si, orders, t, bid0, ask0, tick):
    """(bid_px, bid_qty, ask_px, ask_qty): new prices every interval, else the held ones."""
    if si[STRAT_T] == 0 or t - si[STRAT_T] >= p[P_INTERVAL_NS]:
        si[STRAT_T] = t
        off = p[P_OFFSET_TICKS] * tick
        return bid0 - off, p[P_QTY], ask0 + off, p[P_QTY]
    if p[P_REPOST] == 1.0:
        return orders[0, O_WORK_PX], p[P_QTY], orders[1, O_WORK_PX], p[P_QTY]
    return orders[0, O_WORK_PX], orders[0, O_WORK_QTY], orders[1, O_WORK_PX], orders[1, O_WORK_QTY]


@njit(cache=True, inline="always")
def quote(p, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i):
    """The engine's entry point (:mod:`alpha_as.strategies.base`)."""
    bp, bq, ap, aq = fixed_quotes(p, si, orders, t, bid0, ask0, tick)
    return Q_OK, bp, bq, ap, aq
