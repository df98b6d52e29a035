"""A strategy defined outside the package, registered through ``ALPHA_AS_STRATEGIES`` (tests/test_registry.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from alpha_as.configs import from_dict
from alpha_as.errors import InputError
from alpha_as.strategies.base import Q_OK
from alpha_as.strategies.registry import Strategy


@dataclass(frozen=True)
class ToyParams:
    """Quote ``ticks`` ticks behind the touch on both sides, ``quantity`` each."""

    ticks: float = 2.0
    quantity: float = 0.001

    def __post_init__(self) -> None:
        if not (self.ticks >= 0 and self.quantity > 0):
            raise InputError("toy: need ticks >= 0 and quantity > 0")

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "toy parameters") -> ToyParams:
        return from_dict(cls, d, source=source)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_array(self) -> np.ndarray:
        return np.array([self.ticks, self.quantity])


@njit(cache=True, inline="always")
def quote(p, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i):
    return Q_OK, bid0 - p[0] * tick, p[1], ask0 + p[0] * tick, p[1]


STRATEGY = Strategy("toy", "tests.toy_strategy:ToyParams", "tests.toy_strategy:quote")
