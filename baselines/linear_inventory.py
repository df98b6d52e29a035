"""Linear in inventory with inventory constraints (LIIC; the authors' LinearConstantSpreadAlgorithm, spec §5).

Prices as FOIC (a book level, clamped to mid ± tick). The size of the side that would grow |position|
shrinks linearly with the position: long → bid size = quantity − |position| × quantity / limit; short →
ask size likewise; the other side keeps ``quantity``. At |position| >= limit that side is not quoted (the
authors' engine rejects a size <= 0; INFERRED). Default limit 0.001 BTC = 10 × the order size (the
authors' default). Quotes only from first_hour to last_hour UTC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from baselines.common import (
    N_PARAMS,
    P_FIRST_HOUR,
    P_LAST_HOUR,
    P_LEVEL,
    P_LIMIT,
    P_QTY,
    inside_hours,
    level_prices,
    validate,
)

MIN_SIZE = 1e-12


@dataclass(frozen=True)
class LIICParams:
    level: int = 0
    """Book level whose prices are quoted (0 = the best bid / ask)."""
    quantity: float = 0.0001
    """Order size (BTC) when flat."""
    inventory_limit: float = 0.001
    """|position| (BTC) at which the side that would grow it reaches size 0."""
    first_hour: int = 7
    """First UTC hour of quoting."""
    last_hour: int = 19
    """No quotes from this UTC hour on."""

    def __post_init__(self) -> None:
        validate("LIIC", self.level, self.quantity, self.inventory_limit, self.first_hour, self.last_hour)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_array(self) -> np.ndarray:
        p = np.zeros(N_PARAMS)
        p[P_LEVEL], p[P_QTY], p[P_LIMIT] = self.level, self.quantity, self.inventory_limit
        p[P_FIRST_HOUR], p[P_LAST_HOUR] = self.first_hour, self.last_hour
        return p


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
