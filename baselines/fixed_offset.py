"""Fixed offset with inventory constraints (FOIC; the authors' ConstantSpreadAlgorithm, spec §5).

At every snapshot: bid = the book's bid at ``level`` (0 = join the best), ask = the book's ask at ``level``,
then ask = max(ask, mid + tick), bid = min(bid, mid − tick); ``quantity`` on each side. Inventory
constraint: while position > ``inventory_limit`` the bid is not quoted, while position < −limit the ask.

INFERRED defaults: level 0 (the authors' Python default; Java's is 1) and a limit of 0.001 BTC (10 × the
order size, the LIIC default) — the authors' Python default of 5 BTC never binds at 0.0001 BTC orders, and
the paper's values were not found. Quotes only from first_hour to last_hour UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from numba import njit

from alpha_as.engine.state import POSITION
from alpha_as.strategies.base import Q_OK
from baselines.common import P_LIMIT, P_QTY, BaselineParams, inside_hours, level_prices


@dataclass(frozen=True)
class FOICParams(BaselineParams):
    """FOIC: a side stops quoting once the position passes ``inventory_limit`` in its direction."""

    NAME: ClassVar[str] = "FOIC"


@njit(cache=True)
def foic_quotes(p, bid_px, ask_px, i, position, t, tick):
    """(bid_px, bid_qty, ask_px, ask_qty) at snapshot i."""
    if not inside_hours(p, t):
        return 0.0, 0.0, 0.0, 0.0
    bid, ask = level_prices(p, bid_px, ask_px, i, tick)
    bq = p[P_QTY] if position <= p[P_LIMIT] else 0.0
    aq = p[P_QTY] if position >= -p[P_LIMIT] else 0.0
    return bid, bq, ask, aq


@njit(cache=True, inline="always")
def quote(p, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i):
    """The engine's entry point (:mod:`alpha_as.strategies.base`)."""
    bp, bq, ap, aq = foic_quotes(p, bid_px, ask_px, i, sf[POSITION], t, tick)
    return Q_OK, bp, bq, ap, aq
