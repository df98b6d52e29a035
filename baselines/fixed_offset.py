"""Fixed offset with inventory constraints (FOIC; the authors' ConstantSpreadAlgorithm, spec §5).

At every snapshot: bid = the book's bid at ``level`` (0 = join the best), ask = the book's ask at ``level``,
then ask = max(ask, mid + tick), bid = min(bid, mid − tick); ``quantity`` on each side. Inventory
constraint: while position > ``inventory_limit`` the bid is not quoted, while position < −limit the ask.

INFERRED defaults: level 0 (the authors' Python default; Java's is 1) and a limit of 0.001 BTC (10 × the
order size, the LIIC default) — the authors' Python default of 5 BTC never binds at 0.0001 BTC orders, and
the paper's values were not found. Quotes only from first_hour to last_hour UTC.
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


@dataclass(frozen=True)
class FOICParams:
    level: int = 0
    """Book level whose prices are quoted (0 = the best bid / ask)."""
    quantity: float = 0.0001
    """Order size (BTC) on each side."""
    inventory_limit: float = 0.001
    """A side stops quoting once the position passes this (BTC) in its direction."""
    first_hour: int = 7
    """First UTC hour of quoting."""
    last_hour: int = 19
    """No quotes from this UTC hour on."""

    def __post_init__(self) -> None:
        validate("FOIC", self.level, self.quantity, self.inventory_limit, self.first_hour, self.last_hour)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_array(self) -> np.ndarray:
        p = np.zeros(N_PARAMS)
        p[P_LEVEL], p[P_QTY], p[P_LIMIT] = self.level, self.quantity, self.inventory_limit
        p[P_FIRST_HOUR], p[P_LAST_HOUR] = self.first_hour, self.last_hour
        return p


@njit(cache=True)
def foic_quotes(p, bid_px, ask_px, i, position, t, tick):
    """(bid_px, bid_qty, ask_px, ask_qty) at snapshot i."""
    if not inside_hours(p, t):
        return 0.0, 0.0, 0.0, 0.0
    bid, ask = level_prices(p, bid_px, ask_px, i, tick)
    bq = p[P_QTY] if position <= p[P_LIMIT] else 0.0
    aq = p[P_QTY] if position >= -p[P_LIMIT] else 0.0
    return bid, bq, ask, aq
