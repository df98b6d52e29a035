"""Avellaneda–Stoikov quoting exactly as the paper's authors run it (spec §3), compiled into the engine loop.

At every depth snapshot::

    mid  = (bestBid + bestAsk) / 2
    σ²   = sample variance (n − 1) of the last ``window_tick`` mids      (no quote until that many exist)
    q    = (inventory − target_position) × position_multiplier
    T−t  = linear from first_hour to last_hour UTC (default), or the authors' HHMM arithmetic
    r    = mid − q γ σ² (T−t)
    k    = Aldridge estimator per side from per-minute book-change counts (``minutes_change_k`` apart),
           or ``k_default`` when it is not −1; no quote while k is 0 or not finite
    δ    = [½ γ σ² (T−t) + (1/γ) ln(1 + γ/k)] × spread_multiplier          (per side)
    skew_mode "authors": ask = round((r + δ_ask)(1 + skew)), bid = round((r − δ_bid)(1 + skew))
    skew_mode "spread":  r' = r + skew × (δ_bid + δ_ask)/2; ask = round(r' + δ_ask), bid = round(r' − δ_bid)
    then ask = max(ask, mid + tick), bid = min(bid, mid − tick)           (CONTROL_NOT_CROSS_MIDPRICE)

With the authors' skew any non-zero skew moves *both* prices by ±5–10 % of the price level; the clamp then
pulls the side that crossed the mid back to mid ± tick, so the agent quotes one side aggressively and the
other far away — in effect one-sided quoting (spec §3, §9 #6). ``skew_mode = "spread"`` is the
conventional reading: the reservation price moves by a fraction of the half-spread.

The clamp is applied after rounding, so with a one-tick spread mid ± tick is a half-tick price
(spec §9 #23); ``half_tick = "keep"`` (default, the authors') keeps it, ``"outward"`` rounds it away
from the mid.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from alpha_as.configs import from_dict
from alpha_as.engine.estimators import aldridge_k, mid_variance
from alpha_as.engine.state import POSITION
from alpha_as.errors import InputError
from alpha_as.strategies.base import Q_K_INVALID, Q_NONFINITE, Q_OK, Q_OUTSIDE_HOURS, Q_WARMUP  # noqa: F401

# parameter vector layout
P_GAMMA = 0
P_WINDOW = 1
P_POSITION_MULT = 2
P_SPREAD_MULT = 3
P_MINUTES_K = 4
P_K_DEFAULT = 5
P_QTY = 6
P_SKEW = 7
P_SKEW_MODE = 8
P_TT_MODE = 9
P_FIRST_HOUR = 10
P_LAST_HOUR = 11
P_HALF_TICK = 12
P_TARGET = 13
N_PARAMS = 14

SKEW_MODES = ("authors", "spread")
TT_MODES = ("linear", "hhmm")
HALF_TICK_MODES = ("keep", "outward")
NS_PER_HOUR = 3_600_000_000_000
NS_PER_DAY = 24 * NS_PER_HOUR

GENES: dict[str, list[float]] = {
    "risk_aversion": [0.01, 0.9], "window_tick": [5, 25],
    "spread_multiplier": [0.75, 5.0], "position_multiplier": [8000, 12500],
}
"""Gen-AS's default gene table {ASParams field: [min, max]} (``alpha-as tune``). INFERRED (spec §9 #13): the paper
does not give the genes or their ranges; these are the authors' later code's ranges."""


@dataclass(frozen=True)
class ASParams:
    """Parameters of the AS strategy. Defaults: the authors' DEFAULT_PARAMETERS (spec §3 table)."""

    risk_aversion: float = 0.68
    """γ, the risk aversion."""
    window_tick: int = 25
    """Number of snapshot mids in the variance window."""
    position_multiplier: float = 335.35
    """q = inventory (BTC) × position_multiplier."""
    spread_multiplier: float = 5.0
    """Multiplies both half-spreads."""
    minutes_change_k: int = 1
    """m of the Aldridge k estimator (minutes between the compared counts)."""
    k_default: float = -1.0
    """Fixed k; −1 estimates k from book changes."""
    quantity: float = 0.0001
    """Order size (BTC) on each side."""
    skew: float = 0.0
    """Skew of the quotes (Alpha-AS's second action)."""
    skew_mode: str = "authors"
    """"authors": both prices × (1 + skew), then the mid ± tick clamp; "spread": r += skew × half-spread."""
    tt_mode: str = "linear"
    """T − t: "linear" from first_hour to last_hour, or the authors' "hhmm" arithmetic."""
    first_hour: int | float = 7
    """Start of the trading window (UTC hour, fractional allowed: 11.5 = 11:30); no quotes before. A whole value is
    kept as an int (11.0 -> 11), so the params dicts (and the runs' config hashes) of whole hours never change.
    ``alpha-as run`` / ``runs`` / ``replicate`` set it from the session's window unless the params set it."""
    last_hour: int | float = 19
    """End of the trading window (UTC hour, fractional allowed); no quotes from then on."""
    half_tick: str = "keep"
    """After the clamp: "keep" half-tick prices (authors) or round them "outward" to the tick."""
    target_position: float = 0.0
    """Inventory the strategy steers to (BTC)."""

    def __post_init__(self) -> None:
        for name in ("first_hour", "last_hour"):  # a whole hour is an int: 11.0 -> 11
            if isinstance(getattr(self, name), float) and getattr(self, name).is_integer():
                object.__setattr__(self, name, int(getattr(self, name)))
        checks = [
            (0 < self.risk_aversion < math.inf, f"risk_aversion must be > 0 and finite, got {self.risk_aversion!r}"),
            (2 <= self.window_tick <= 1000, f"window_tick must be in 2..1000, got {self.window_tick!r}"),
            (0 <= self.position_multiplier < math.inf,
             f"position_multiplier must be >= 0 and finite, got {self.position_multiplier!r}"),
            (0 < self.spread_multiplier < math.inf,
             f"spread_multiplier must be > 0 and finite, got {self.spread_multiplier!r}"),
            (1 <= self.minutes_change_k <= 100, f"minutes_change_k must be in 1..100, got {self.minutes_change_k!r}"),
            (self.k_default == -1 or 0 < self.k_default < math.inf,
             f"k_default must be -1 (estimate) or > 0 and finite, got {self.k_default!r}"),
            (0 < self.quantity < math.inf, f"quantity must be > 0 and finite, got {self.quantity!r}"),
            (-1 < self.skew < 1, f"skew must be in (-1, 1), got {self.skew!r}"),
            (math.isfinite(self.target_position), f"target_position must be a finite number, got {self.target_position!r}"),
            (self.skew_mode in SKEW_MODES, f"skew_mode must be one of {SKEW_MODES}"),
            (self.tt_mode in TT_MODES, f"tt_mode must be one of {TT_MODES}"),
            (self.half_tick in HALF_TICK_MODES, f"half_tick must be one of {HALF_TICK_MODES}"),
            (0 <= self.first_hour < self.last_hour <= 24,
             f"need 0 <= first_hour < last_hour <= 24, got {self.first_hour!r} and {self.last_hour!r}"),
            (self.tt_mode != "hhmm" or (float(self.first_hour).is_integer() and float(self.last_hour).is_integer()),
             f"tt_mode 'hhmm' (the authors' HHMM arithmetic) needs whole first_hour and last_hour, got "
             f"{self.first_hour!r} and {self.last_hour!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(f"AS parameters: {msg}")

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "AS parameters") -> ASParams:
        """Build from a dict (a JSON file, a GA's best individual); unknown keys and wrong types are errors."""
        return from_dict(cls, d, source=source)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_array(self) -> np.ndarray:
        p = np.zeros(N_PARAMS)
        p[P_GAMMA] = self.risk_aversion
        p[P_WINDOW] = self.window_tick
        p[P_POSITION_MULT] = self.position_multiplier
        p[P_SPREAD_MULT] = self.spread_multiplier
        p[P_MINUTES_K] = self.minutes_change_k
        p[P_K_DEFAULT] = self.k_default
        p[P_QTY] = self.quantity
        p[P_SKEW] = self.skew
        p[P_SKEW_MODE] = SKEW_MODES.index(self.skew_mode)
        p[P_TT_MODE] = TT_MODES.index(self.tt_mode)
        p[P_FIRST_HOUR] = self.first_hour
        p[P_LAST_HOUR] = self.last_hour
        p[P_HALF_TICK] = HALF_TICK_MODES.index(self.half_tick)
        p[P_TARGET] = self.target_position
        return p


@njit(cache=True)
def round_tick(x, tick):
    """Round half up to the tick (the authors' round2 with tick 0.01)."""
    return math.floor(x / tick + 0.5) * tick


@njit(cache=True)
def time_left(p, t):
    """T − t in [0, 1] and whether t is inside the trading window."""
    tod = t % NS_PER_DAY
    first = p[P_FIRST_HOUR] * NS_PER_HOUR
    last = p[P_LAST_HOUR] * NS_PER_HOUR
    inside = first <= tod < last
    if p[P_TT_MODE] == 0:
        tt = (last - tod) / (last - first)
    else:
        hh = tod // NS_PER_HOUR
        mm = (tod % NS_PER_HOUR) // 60_000_000_000
        tt = max(p[P_LAST_HOUR] * 100 - (hh * 100 + mm), 0.0) / ((p[P_LAST_HOUR] - p[P_FIRST_HOUR]) * 100)
    return min(max(tt, 0.0), 1.0), inside


@njit(cache=True)
def as_quotes(p, si, mids, kq, position, t, bid0, ask0, tick):
    """The AS quotes at time t: (status, bid_px, bid_qty, ask_px, ask_qty)."""
    tt, inside = time_left(p, t)
    if not inside:
        return Q_OUTSIDE_HOURS, 0.0, 0.0, 0.0, 0.0
    mid = 0.5 * (bid0 + ask0)
    var = mid_variance(si, mids, int(p[P_WINDOW]))
    if not math.isfinite(var):
        return Q_WARMUP, 0.0, 0.0, 0.0, 0.0
    gamma = p[P_GAMMA]
    q = (position - p[P_TARGET]) * p[P_POSITION_MULT]
    r = mid - q * gamma * var * tt
    if p[P_K_DEFAULT] != -1.0:
        k_bid = p[P_K_DEFAULT]
        k_ask = p[P_K_DEFAULT]
    else:
        m = int(p[P_MINUTES_K])
        k_bid = aldridge_k(si, kq, 0, m)
        k_ask = aldridge_k(si, kq, 1, m)
    if not (math.isfinite(k_bid) and math.isfinite(k_ask)) or k_bid == 0.0 or k_ask == 0.0:
        return Q_K_INVALID, 0.0, 0.0, 0.0, 0.0
    base = 0.5 * gamma * var * tt
    arg_b = 1.0 + gamma / k_bid
    arg_a = 1.0 + gamma / k_ask
    if arg_b <= 0.0 or arg_a <= 0.0:
        return Q_NONFINITE, 0.0, 0.0, 0.0, 0.0
    d_bid = (base + math.log(arg_b) / gamma) * p[P_SPREAD_MULT]
    d_ask = (base + math.log(arg_a) / gamma) * p[P_SPREAD_MULT]
    skew = p[P_SKEW]
    if p[P_SKEW_MODE] == 0:
        ask = round_tick((r + d_ask) * (1.0 + skew), tick)
        bid = round_tick((r - d_bid) * (1.0 + skew), tick)
    else:
        rs = r + skew * 0.5 * (d_bid + d_ask)
        ask = round_tick(rs + d_ask, tick)
        bid = round_tick(rs - d_bid, tick)
    ask = max(ask, mid + tick)
    bid = min(bid, mid - tick)
    if p[P_HALF_TICK] == 1:
        ask = math.ceil(ask / tick - 1e-9) * tick
        bid = math.floor(bid / tick + 1e-9) * tick
    if not (math.isfinite(ask) and math.isfinite(bid)) or bid <= 0.0:
        return Q_NONFINITE, 0.0, 0.0, 0.0, 0.0
    qty = p[P_QTY]
    return Q_OK, bid, qty, ask, qty


@njit(cache=True, inline="always")
def quote(p, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i):
    """The engine's entry point (:mod:`alpha_as.strategies.base`): :func:`as_quotes` on the engine's state."""
    return as_quotes(p, si, mids, kq, sf[POSITION], t, bid0, ask0, tick)
