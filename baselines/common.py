"""What both baselines share: the quoted prices (a book level, clamped to mid ± tick), hours, validation."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from alpha_as.errors import InputError

NS_PER_HOUR = 3_600_000_000_000
NS_PER_DAY = 24 * NS_PER_HOUR

# parameter vector layout shared by both baselines
P_LEVEL = 0
P_QTY = 1
P_LIMIT = 2
P_FIRST_HOUR = 3
P_LAST_HOUR = 4
N_PARAMS = 5


@dataclass(frozen=True)
class BaselineParams:
    """Parameters both baselines take; each baseline's module says what ``inventory_limit`` does."""

    NAME: ClassVar[str] = "baseline"
    level: int = 0
    """Book level whose prices are quoted (0 = the best bid / ask)."""
    quantity: float = 0.0001
    """Order size (BTC) on each side (when flat)."""
    inventory_limit: float = 0.001
    """Position (BTC) at which the side that would grow |position| stops quoting."""
    first_hour: int = 7
    """First UTC hour of quoting."""
    last_hour: int = 19
    """No quotes from this UTC hour on."""

    def __post_init__(self) -> None:
        if not 0 <= self.level <= 19:
            raise InputError(f"{self.NAME}: level must be in 0..19")
        if self.quantity <= 0 or self.inventory_limit <= 0:
            raise InputError(f"{self.NAME}: quantity and inventory_limit must be > 0")
        if not 0 <= self.first_hour < self.last_hour <= 24:
            raise InputError(f"{self.NAME}: need 0 <= first_hour < last_hour <= 24")

    def to_dict(self) -> dict:
        return asdict(self)

    def to_array(self) -> np.ndarray:
        p = np.zeros(N_PARAMS)
        p[P_LEVEL], p[P_QTY], p[P_LIMIT] = self.level, self.quantity, self.inventory_limit
        p[P_FIRST_HOUR], p[P_LAST_HOUR] = self.first_hour, self.last_hour
        return p


@njit(cache=True)
def level_prices(p, bid_px, ask_px, i, tick):
    """(bid, ask): the book's prices at level ``level`` of snapshot i, clamped to mid ± tick.

    A level the snapshot does not have (a thin book) falls back to the deepest visible one.
    """
    lv = int(p[P_LEVEL])
    b = bid_px[i, 0]
    a = ask_px[i, 0]
    for j in range(1, min(lv + 1, bid_px.shape[1])):
        if math.isfinite(bid_px[i, j]):
            b = bid_px[i, j]
        if math.isfinite(ask_px[i, j]):
            a = ask_px[i, j]
    mid = 0.5 * (bid_px[i, 0] + ask_px[i, 0])
    return min(b, mid - tick), max(a, mid + tick)


@njit(cache=True)
def inside_hours(p, t):
    tod = t % NS_PER_DAY
    return p[P_FIRST_HOUR] * NS_PER_HOUR <= tod < p[P_LAST_HOUR] * NS_PER_HOUR
