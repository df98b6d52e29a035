"""Linear in inventory with inventory constraints (LIIC; the authors' LinearConstantSpreadAlgorithm, spec §5).

Prices as FOIC (a book level, clamped to mid ± tick). The size of the side that would grow |position|
shrinks linearly with the position: long → bid size = quantity − |position| × quantity / limit; short →
ask size likewise; the other side keeps ``quantity``. At |position| >= limit that side is not quoted (the
authors' engine rejects a size <= 0; INFERRED). Default limit 0.001 BTC = 10 × the order size (the
authors' default). Quotes only from first_hour to last_hour UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from numba import njit

from alpha_as.engine.state import POSITION
from alpha_as.strategies.base import Q_OK
from baselines.common import P_LIMIT, P_QTY, BaselineParams, inside_hours, level_prices

MIN_SIZE = 1e-12


@dataclass(frozen=True)
class LIICParams(BaselineParams):
    """LIIC: the side that would grow |position| shrinks linearly to size 0 at ``inventory_limit``."""

    NAME: ClassVar[str] = "LIIC"


@njit(cache=True)
def liic_quotes(p, bid_px, ask_px, i, position, t, tick):
    """(bid_px, bid_qty, ask_px, ask_qty) at snapshot i."""
    if not inside_hours(p, t):
        return 0.0, 0.0, 0.0, 0.0
    bid, ask = level_prices(p, bid_px, ask_px, i, tick)
    q = p[P_QTY]
    shrink = abs(position) * q / p[P_LIMIT]
    bq = q - shrink if position > 0 else q
    aq = q - shrink if position < 0 else q
    if bq <= MIN_SIZE:
        bq = 0.0
    if aq <= MIN_SIZE:
        aq = 0.0
    return bid, bq, ask, aq


@njit(cache=True, inline="always")
def quote(p, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i):
    """The engine's entry point (:mod:`alpha_as.strategies.base`)."""
    bp, bq, ap, aq = liic_quotes(p, bid_px, ask_px, i, sf[POSITION], t, tick)
    return Q_OK, bp, bq, ap, aq
