"""What both baselines share: the quoted prices (a book level, clamped away from the mid), hours, validation.

**The price clamp** (``clamp``): the quoted bid and ask are the book's prices at ``level``, then

* ``"authors"`` (default; the authors' rule, CONFIRMED-CODE): bid = min(level bid, mid − tick), ask =
  max(level ask, mid + tick). With a one-tick spread mid − tick is half a tick *behind* the best bid (an
  off-grid price, e.g. 99.995 for a 100.00 / 100.01 book), so the bid never joins the touch there; with a
  spread of two ticks or more the clamp does not bind.
* ``"on_grid"`` (join the touch): the clamp is to the tick grid, half a tick from the mid: bid =
  min(level bid, floor((mid − tick/2) / tick) · tick), ask = max(level ask, ceil((mid + tick/2) / tick) ·
  tick) (with a 1e-6-tick tolerance against rounding). With a one-tick spread the bound is the best bid
  (best ask) itself, so level 0 quotes at the touch; on any uncrossed book on the grid the bound never binds
  (the best bid is at most mid − tick/2), and on a locked, crossed or off-grid book the quotes are the
  nearest grid prices at least half a tick from the mid: never inside mid ± tick/2, never off the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
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
P_CLAMP = 5
N_PARAMS = 6
CLAMP_MODES = ("authors", "on_grid")
"""``clamp`` values; the index is stored in the parameter vector."""
GRID_TOL = 1e-6
"""Tolerance, in ticks, of the on-grid clamp's floor / ceil (prices are binary floats)."""


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
    first_hour: int | float = 7
    """First UTC hour of quoting (fractional allowed: 11.5 = 11:30; a whole value is kept as an int, so the params
    dicts and the runs' config hashes of whole hours never change). ``alpha-as run`` / ``runs`` / ``replicate``
    set it from the session's window unless the params set it."""
    last_hour: int | float = 19
    """No quotes from this UTC hour on (fractional allowed)."""
    clamp: str = field(default="authors", metadata={"omit_default": True})
    """Price clamp: "authors" (mid ± tick) or "on_grid" (the tick grid, half a tick from the mid: joins the
    touch of a one-tick spread); see the module doc. Left out of :meth:`to_dict` (and so of the runs' config
    hashes) at its default, so results from before the option keep their identity."""

    def __post_init__(self) -> None:
        for name in ("first_hour", "last_hour"):  # a whole hour is an int: 11.0 -> 11
            if isinstance(getattr(self, name), float) and getattr(self, name).is_integer():
                object.__setattr__(self, name, int(getattr(self, name)))
        if not 0 <= self.level <= 19:
            raise InputError(f"{self.NAME}: level must be in 0..19")
        for key in ("quantity", "inventory_limit"):  # a NaN fails the comparison
            if not 0 < getattr(self, key) < math.inf:
                raise InputError(f"{self.NAME}: {key} must be > 0 and finite, got {getattr(self, key)!r}")
        if not 0 <= self.first_hour < self.last_hour <= 24:
            raise InputError(f"{self.NAME}: need 0 <= first_hour < last_hour <= 24, got {self.first_hour!r} and "
                             f"{self.last_hour!r}")
        if self.clamp not in CLAMP_MODES:
            raise InputError(f"{self.NAME}: clamp must be one of {', '.join(CLAMP_MODES)}, got {self.clamp!r}")

    def to_dict(self) -> dict:
        """The fields as a dict, without an ``omit_default`` field at its default (as ``canonical`` hashes them)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if not (f.metadata.get("omit_default") and getattr(self, f.name) == f.default)}

    def to_array(self) -> np.ndarray:
        p = np.zeros(N_PARAMS)
        p[P_LEVEL], p[P_QTY], p[P_LIMIT] = self.level, self.quantity, self.inventory_limit
        p[P_FIRST_HOUR], p[P_LAST_HOUR] = self.first_hour, self.last_hour
        p[P_CLAMP] = CLAMP_MODES.index(self.clamp)
        return p


@njit(cache=True)
def level_prices(p, bid_px, ask_px, i, tick):
    """(bid, ask): the book's prices at level ``level`` of snapshot i, clamped by the ``clamp`` rule (the
    module doc): mid ± tick (the authors') or the tick grid half a tick from the mid (on_grid).

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
    if p[P_CLAMP] == 0.0:
        return min(b, mid - tick), max(a, mid + tick)
    # on_grid: the book's own price unless it is above the bound (then the bound itself, a grid price)
    bid_cap = math.floor((mid - 0.5 * tick) / tick + GRID_TOL) * tick
    ask_cap = math.ceil((mid + 0.5 * tick) / tick - GRID_TOL) * tick
    if b > bid_cap + GRID_TOL * tick:
        b = bid_cap
    if a < ask_cap - GRID_TOL * tick:
        a = ask_cap
    return b, a


@njit(cache=True)
def inside_hours(p, t):
    tod = t % NS_PER_DAY
    return p[P_FIRST_HOUR] * NS_PER_HOUR <= tod < p[P_LAST_HOUR] * NS_PER_HOUR
