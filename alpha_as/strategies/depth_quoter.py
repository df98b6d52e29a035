"""A quoter at given depths from the mid: the strategy behind the PPO spread agent's (bid depth, ask depth, size)
action (issue #14 §2; mbt_gym's action, spec §4).

At every snapshot in the trading hours it quotes

    bid = floor(mid · (1 − bid_depth_bps / 10⁴) / tick) · tick,   ask = ceil(mid · (1 + ask_depth_bps / 10⁴) / tick) · tick

each at least one tick from the mid (so a depth of 0 joins the mid's nearest tick on each side, never crossing it),
``quantity`` on each side. It holds no state and reads nothing but the snapshot's best prices: an agent sets the
three numbers every decision (``alpha_as.env.AlphaASEnv(action_space="depth")``), and the replay applies them
from the next snapshot on. Outside ``first_hour``–``last_hour`` UTC it quotes nothing (as AS does).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from alpha_as.configs import from_dict
from alpha_as.errors import InputError
from alpha_as.strategies.base import Q_OK, Q_OUTSIDE_HOURS

NS_PER_HOUR = 3_600_000_000_000
NS_PER_DAY = 24 * NS_PER_HOUR
P_BID_DEPTH = 0
P_ASK_DEPTH = 1
P_QTY = 2
P_FIRST_HOUR = 3
P_LAST_HOUR = 4
N_PARAMS = 5


@dataclass(frozen=True)
class DepthQuoterParams:
    """Parameters of the depth quoter (defaults: 5 bps each side, the AS default order size, 07-19 UTC)."""

    bid_depth_bps: float = 5.0
    """Distance of the bid below the mid, in basis points of the mid."""
    ask_depth_bps: float = 5.0
    """Distance of the ask above the mid, in basis points of the mid."""
    quantity: float = 0.0001
    """Order size (base currency) on each side; 0 quotes nothing on either side."""
    first_hour: int | float = 7
    """Quote from this hour (UTC)."""
    last_hour: int | float = 19
    """Quote until this hour (UTC)."""

    def __post_init__(self) -> None:
        checks = [  # a NaN fails every comparison
            ("bid_depth_bps", 0 <= self.bid_depth_bps < 10_000, "in [0, 10000)"),
            ("ask_depth_bps", 0 <= self.ask_depth_bps < math.inf, ">= 0 and finite"),
            ("quantity", 0 <= self.quantity < math.inf, ">= 0 and finite"),
        ]
        for key, ok, need in checks:
            if not ok:
                raise InputError(f"depth quoter: {key} must be {need}, got {getattr(self, key)!r}")
        if not 0 <= self.first_hour < self.last_hour <= 24:
            raise InputError(f"depth quoter: need 0 <= first_hour < last_hour <= 24, got {self.first_hour!r} "
                             f"and {self.last_hour!r}")

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "depth quoter params") -> DepthQuoterParams:
        """Build from a dict; unknown keys and wrong types are errors."""
        return from_dict(cls, d, source=source)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_array(self) -> np.ndarray:
        p = np.zeros(N_PARAMS)
        p[P_BID_DEPTH] = self.bid_depth_bps
        p[P_ASK_DEPTH] = self.ask_depth_bps
        p[P_QTY] = self.quantity
        p[P_FIRST_HOUR] = self.first_hour
        p[P_LAST_HOUR] = self.last_hour
        return p


@njit(cache=True)
def depth_quotes(p, t, bid0, ask0, tick):
    """(status, bid_px, bid_qty, ask_px, ask_qty) at the snapshot of time ``t`` with best prices bid0 / ask0."""
    tod = t % NS_PER_DAY
    if not (p[P_FIRST_HOUR] * NS_PER_HOUR <= tod < p[P_LAST_HOUR] * NS_PER_HOUR):
        return Q_OUTSIDE_HOURS, 0.0, 0.0, 0.0, 0.0
    mid = 0.5 * (bid0 + ask0)
    bid = math.floor(mid * (1.0 - p[P_BID_DEPTH] * 1e-4) / tick + 1e-9) * tick
    ask = math.ceil(mid * (1.0 + p[P_ASK_DEPTH] * 1e-4) / tick - 1e-9) * tick
    bid = min(bid, math.ceil(mid / tick - 1e-9) * tick - tick)  # at least one tick below the mid
    ask = max(ask, math.floor(mid / tick + 1e-9) * tick + tick)
    return Q_OK, bid, p[P_QTY], ask, p[P_QTY]


@njit(cache=True, inline="always")
def quote(p, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i):
    """The engine's entry point (:mod:`alpha_as.strategies.base`)."""
    return depth_quotes(p, t, bid0, ask0, tick)
