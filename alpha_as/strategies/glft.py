"""GLFT (Guéant–Lehalle–Fernandez-Tapia) asymptotic quotes with hftbacktest's online calibration (spec §2).

Everything is in ticks, the inventory q in lots of ``order_qty`` (q = position_base / order_qty, unrounded)::

    c1 = ln(1 + ξΔ/k) / (ξΔ)                          (ξ = γ by default; ξ = 0: the limit c1 = 1/k)
    c2 = sqrt( γ/(2AΔk) · (1 + ξΔ/k)^(k/(ξΔ) + 1) )   (ξ = 0: sqrt(γ·e/(2AΔk)))
    half_spread = (c1 + Δ/2 · σ · c2) · spread_adj     skew = σ · c2 · skew_adj
    bid = min(rint(mid − half_spread − skew·q), best_bid)   ask = max(rint(mid + half_spread − skew·q), best_ask)

so a quote never crosses the book (nor improves it: the tutorial joins the best at most, post-only). No bid while
q ≥ max_position, no ask while q ≤ −max_position. ``grid_num`` > 0 is the grid variant (§2.3): interval
g = max(rint(half_spread), 1) ticks (or ``grid_interval_ticks``), bid floored and ask ceiled to multiples of g,
``grid_num`` orders per side spaced by g, same gates. The tutorial's skew adjustment is ``skew_adj = 0.05``.

Calibration (§2.2; :mod:`alpha_as.strategies.glft_calibration`): every ``step_ms`` the deepest trade distance
from the step's starting mid, per side; over the last ``window_s`` the count, for each depth δ_j = j + ½ tick
(j = 0 … fit_points − 1, a whole-tick grid — not the tutorial's half-tick index), of steps whose deepest trade
was strictly beyond δ_j; λ_j = count / window_s; log λ = log A − k·δ by least squares over the leading
δ_j with λ_j > 0; σ = population std of the step mid changes (ticks) × sqrt(1000/step_ms). Refit every
``recalibrate_s`` once the window is full; no quotes (Q_WARMUP) before.

Hooks the engine calls (all compiled; ``p`` = :meth:`GLFTParams.to_array`, ``ss`` = :func:`init_state`):
``on_trade`` for every public trade, ``on_step`` at every step boundary (every step_ms, also when nothing
happened), then ``quotes`` (after ``on_step``, or at any snapshot in between).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from alpha_as.configs import from_dict
from alpha_as.errors import InputError
from alpha_as.strategies.base import Q_K_INVALID, Q_NONFINITE, Q_OK, Q_WARMUP
from alpha_as.strategies.glft_calibration import (
    ARRIVAL_SIDES,
    MAX_WINDOW_STEPS,
    N_HEADER,
    N_PARAMS,
    P_ARRIVAL,
    P_DELTA,
    P_FIT_POINTS,
    P_GAMMA,
    P_GRID_INTERVAL,
    P_GRID_NUM,
    P_MAX_POS,
    P_QTY,
    P_RECAL_S,
    P_RECAL_STEPS,
    P_SKEW_ADJ,
    P_SPREAD_ADJ,
    P_STEP_MS,
    P_WINDOW_S,
    P_WINDOW_STEPS,
    P_XI,
    S_A,
    S_C1,
    S_C2,
    S_COEF_A,
    S_COEF_K,
    S_COEF_SIGMA,
    S_GRID_INTERVAL,
    S_HALF_SPREAD,
    S_K,
    S_N_REC,
    S_RESERVATION,
    S_SIGMA,
    S_SKEW,
    check_state,
    fit_A_k,
    fit_log_linear,
    init_state,
    intensity_curve,
    on_step,
    on_trade,
    recalibrate,
    state_size,
)

__all__ = [
    "GLFTParams", "glft_coefficients", "half_spread_skew", "quote_levels", "quotes", "n_levels", "new_quotes_out",
    "on_trade", "on_step", "init_state", "state_size", "recalibrate", "fit_A_k", "fit_log_linear",
    "intensity_curve", "O_BID_PX", "O_BID_QTY", "O_ASK_PX", "O_ASK_QTY", "N_HEADER",
]

GENES: dict[str, list[float]] = {
    "gamma": [0.005, 0.5], "skew_adj": [0.05, 1.0], "spread_adj": [0.5, 2.0], "max_position": [2.0, 40.0],
}
"""Default gene table of ``alpha-as tune --strategy glft`` (INFERRED: around the tutorial's γ 0.05, its skew_adj
0.05 up to the plain formula's 1, spreads half to twice the formula's, a position cap of 2 to 40 lots)."""

# columns of the quotes ``out`` array (one row per level; a quantity of 0 = no order on that side and level)
O_BID_PX = 0
O_BID_QTY = 1
O_ASK_PX = 2
O_ASK_QTY = 3

GATE_EPS = 1e-9
"""Lots of slack in the max_position gates, so that e.g. 0.002 BTC / 0.0001 BTC (= 20.000000000000004) is 20."""


def _whole(x: float) -> int | None:
    """``x`` as an int when it is a whole number (to 1e-9), else None."""
    r = round(x)
    return int(r) if abs(x - r) <= 1e-9 * max(1.0, abs(x)) else None


@dataclass(frozen=True)
class GLFTParams:
    """Parameters of the GLFT market maker. Defaults: the hftbacktest tutorial's, except ``skew_adj`` (1: the model's
    own skew; the tutorial's grid example uses 0.05, "the raw skew is far too strong")."""

    gamma: float = 0.05
    """γ, the risk aversion (per tick, as the rest of the formulas)."""
    xi: float | None = None
    """ξ, the penalty of the asymptotic approximation; None: ξ = γ (the risk-averse case); 0: the ξ → 0 limit."""
    delta: float = 1.0
    """Δ, the order size in lots (1 lot = ``order_qty``)."""
    skew_adj: float = 1.0
    """Multiplies the skew (the tutorial's adj2; e.g. 0.05)."""
    spread_adj: float = 1.0
    """Multiplies the half-spread (the tutorial's adj1, 1 there)."""
    order_qty: float = 0.0001
    """Order size in base units (BTC), one lot; q = position / order_qty."""
    max_position: float = 20.0
    """In lots: no bid while q >= max_position, no ask while q <= -max_position."""
    step_ms: int = 100
    """Calibration step (and the tutorial's requote interval), ms."""
    window_s: float = 600.0
    """Calibration window, s; a whole number of steps."""
    fit_points: int = 70
    """Depths δ_j = j + 1/2 tick (j < fit_points) of the shallow fit of log λ on δ."""
    recalibrate_s: float = 5.0
    """Refit of A, k, σ every this many s once the window is full; a whole number of steps."""
    arrival_sides: str = "either"
    """"either" (the tutorial): a step counts at δ when a trade on either side reached beyond δ (one deepest
    depth per step); "mean": the mean of the per-side counts (the model's one-sided intensity)."""
    grid_num: int = 0
    """0: one quote per side; n > 0: the grid variant (§2.3), n orders per side."""
    grid_interval_ticks: int = 0
    """Grid variant's interval: 0 = max(rint(half_spread), 1) ticks (§2.3); n > 0 = a fixed n ticks."""

    def __post_init__(self) -> None:
        for name in ("gamma", "delta", "skew_adj", "spread_adj", "order_qty", "max_position", "window_s",
                     "recalibrate_s"):  # configs.from_dict refuses NaN/inf too, but direct construction must
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise InputError(f"GLFT parameters: {name} must be a finite number, got {v!r}")
        for name in ("step_ms", "fit_points", "grid_num", "grid_interval_ticks"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InputError(f"GLFT parameters: {name} must be an integer, got {v!r}")
        xi_ok = self.xi is None or (not isinstance(self.xi, bool) and isinstance(self.xi, int | float)
                                    and 0 <= self.xi < math.inf)
        w = _whole(self.window_s * 1000.0 / self.step_ms) if self.step_ms >= 1 else None
        r = _whole(self.recalibrate_s * 1000.0 / self.step_ms) if self.step_ms >= 1 else None
        checks = [
            ("gamma", self.gamma > 0, "> 0"),
            ("xi", xi_ok, "None (ξ = γ) or a finite number >= 0"),
            ("delta", self.delta > 0, "> 0"),
            ("skew_adj", self.skew_adj >= 0, ">= 0"),
            ("spread_adj", self.spread_adj > 0, "> 0"),
            ("order_qty", self.order_qty > 0, "> 0"),
            ("max_position", self.max_position > 0, "> 0 (lots)"),
            ("step_ms", 1 <= self.step_ms <= 3_600_000, "in 1..3600000"),
            ("window_s", self.window_s > 0 and w is not None and 2 <= w <= MAX_WINDOW_STEPS,
             f"> 0 and a whole number of steps of step_ms, 2..{MAX_WINDOW_STEPS} steps"),
            ("fit_points", 3 <= self.fit_points <= 100_000, "in 3..100000"),
            ("recalibrate_s", self.recalibrate_s > 0 and r is not None and r >= 1,
             "> 0 and a whole number of steps of step_ms"),
            ("arrival_sides", self.arrival_sides in ARRIVAL_SIDES, f"one of {ARRIVAL_SIDES}"),
            ("grid_num", 0 <= self.grid_num <= 1000, "in 0..1000"),
            ("grid_interval_ticks", self.grid_interval_ticks >= 0, ">= 0"),
        ]
        for key, ok, need in checks:
            if not ok:
                raise InputError(f"GLFT parameters: {key} must be {need}, got {getattr(self, key)!r}")

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "GLFT parameters") -> GLFTParams:
        """Build from a dict (a JSON/TOML table, a GA's individual); unknown keys and wrong types are errors."""
        return from_dict(cls, d, source=source)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def window_steps(self) -> int:
        return round(self.window_s * 1000.0 / self.step_ms)

    @property
    def n_levels(self) -> int:
        """Rows of the quotes ``out`` array: grid_num, or 1 for plain quotes."""
        return max(self.grid_num, 1)

    # what the engine needs beyond the parameter vector (alpha_as.engine.backtest.StrategyLayout)
    def order_levels_per_side(self) -> int:
        return self.n_levels

    def strategy_clock_ns(self) -> int:
        """hftbacktest's ``elapse(step_ms)`` loop: calibrate and quote every step."""
        return int(self.step_ms) * 1_000_000

    def initial_state(self) -> np.ndarray:
        return init_state(self.to_array())

    def grid_columns(self) -> tuple[tuple[str, int], ...]:
        """Extra grid.parquet columns: γ, the fitted A (per s) and k (per tick), σ (ticks/√s), half-spread and skew
        (ticks; skew per lot) and the reservation price."""
        return (("gamma", -P_GAMMA - 1), ("A", S_A), ("k", S_K), ("sigma", S_SIGMA), ("half_spread_ticks", S_HALF_SPREAD),
                ("skew_ticks", S_SKEW), ("reservation_price", S_RESERVATION))

    def to_array(self) -> np.ndarray:
        p = np.zeros(N_PARAMS)
        p[P_GAMMA] = self.gamma
        p[P_XI] = math.nan if self.xi is None else self.xi
        p[P_DELTA] = self.delta
        p[P_SKEW_ADJ] = self.skew_adj
        p[P_SPREAD_ADJ] = self.spread_adj
        p[P_QTY] = self.order_qty
        p[P_MAX_POS] = self.max_position
        p[P_STEP_MS] = self.step_ms
        p[P_WINDOW_S] = self.window_s
        p[P_FIT_POINTS] = self.fit_points
        p[P_RECAL_S] = self.recalibrate_s
        p[P_ARRIVAL] = ARRIVAL_SIDES.index(self.arrival_sides)
        p[P_GRID_NUM] = self.grid_num
        p[P_GRID_INTERVAL] = self.grid_interval_ticks
        p[P_WINDOW_STEPS] = self.window_steps
        p[P_RECAL_STEPS] = round(self.recalibrate_s * 1000.0 / self.step_ms)
        return p


# ------------------------------------------------------------------------------------------------ formulas

@njit(cache=True)
def glft_coefficients(gamma, xi, delta, A, k):
    """(c1, c2) of §2.1; ξ NaN means ξ = γ; ξ = 0 the limit (1/k, sqrt(γe/(2AΔk))). NaN when A or k is unusable."""
    if math.isnan(xi):
        xi = gamma
    if not (A > 0.0 and k > 0.0 and math.isfinite(A) and math.isfinite(k)):
        return math.nan, math.nan
    if xi == 0.0:
        return 1.0 / k, math.sqrt(gamma * math.e / (2.0 * A * delta * k))
    xd = xi * delta
    c1 = math.log1p(xd / k) / xd
    c2 = math.sqrt(gamma / (2.0 * A * delta * k) * (1.0 + xd / k) ** (k / xd + 1.0))
    return c1, c2


@njit(cache=True)
def half_spread_skew(p, A, k, sigma):
    """(c1, c2, half_spread, skew) in ticks (skew per lot), with spread_adj and skew_adj applied."""
    c1, c2 = glft_coefficients(p[P_GAMMA], p[P_XI], p[P_DELTA], A, k)
    half_spread = (c1 + 0.5 * p[P_DELTA] * sigma * c2) * p[P_SPREAD_ADJ]
    skew = sigma * c2 * p[P_SKEW_ADJ]
    return c1, c2, half_spread, skew


@njit(cache=True)
def n_levels(p):
    """Rows the quotes ``out`` array needs."""
    return max(int(p[P_GRID_NUM]), 1)


def new_quotes_out(p_array: np.ndarray) -> np.ndarray:
    """A zeroed (n_levels, 4) array for :func:`quotes` (columns O_BID_PX, O_BID_QTY, O_ASK_PX, O_ASK_QTY)."""
    return np.zeros((n_levels(p_array), 4))


@njit(cache=True)
def quote_levels(p, half_spread, skew, mid, q, best_bid, best_ask, tick, out):
    """Fill ``out`` (rows = levels) from a half-spread and skew in ticks; returns (status, grid interval in ticks).

    Stateless core of :func:`quotes`: mid/best prices in price units, q in lots. Rows beyond the levels and the
    gated sides are zero. Q_NONFINITE when the book or the formulas give no usable price.
    """
    out[:, :] = 0.0
    if not (tick > 0.0 and math.isfinite(mid) and math.isfinite(best_bid) and math.isfinite(best_ask)
            and 0.0 < best_bid < best_ask):
        return Q_NONFINITE, math.nan
    if not (math.isfinite(half_spread) and math.isfinite(skew) and math.isfinite(q)):
        return Q_NONFINITE, math.nan
    mid_t = mid / tick
    bb_t = math.floor(best_bid / tick + 0.5)
    ba_t = math.floor(best_ask / tick + 0.5)
    bid_t = min(np.rint(mid_t - half_spread - skew * q), bb_t)
    ask_t = max(np.rint(mid_t + half_spread - skew * q), ba_t)
    grid_num = int(p[P_GRID_NUM])
    levels = 1
    g = 1.0
    if grid_num > 0:
        levels = grid_num
        g = p[P_GRID_INTERVAL] if p[P_GRID_INTERVAL] > 0.0 else max(np.rint(half_spread), 1.0)
        bid_t = math.floor(bid_t / g) * g
        ask_t = math.ceil(ask_t / g) * g
    levels = min(levels, out.shape[0])
    qty = p[P_QTY]
    can_bid = q < p[P_MAX_POS] - GATE_EPS
    can_ask = q > -p[P_MAX_POS] + GATE_EPS
    for i in range(levels):
        b = bid_t - i * g
        if can_bid and b > 0.0:
            out[i, O_BID_PX] = b * tick
            out[i, O_BID_QTY] = qty
        if can_ask:
            out[i, O_ASK_PX] = (ask_t + i * g) * tick
            out[i, O_ASK_QTY] = qty
    return Q_OK, g


@njit(cache=True)
def quotes(p, ss, t_ns, mid, position_base, best_bid, best_ask, tick, out):
    """The GLFT quotes now: fills ``out`` (see :func:`quote_levels`) and returns the status.

    Q_WARMUP until the calibration window is full; Q_K_INVALID when the fitted A, k or σ are unusable (not
    finite, A or k <= 0, σ < 0); Q_NONFINITE when the book is missing or a price is not finite; else Q_OK.
    Records c1, c2, half-spread, skew (ticks), the reservation price (price) and the grid interval in ``ss``.
    """
    out[:, :] = 0.0
    check_state(p, ss)
    if ss[S_N_REC] < p[P_WINDOW_STEPS]:
        return Q_WARMUP
    A = ss[S_A]
    k = ss[S_K]
    sigma = ss[S_SIGMA]
    if not (math.isfinite(A) and math.isfinite(k) and math.isfinite(sigma) and A > 0.0 and k > 0.0
            and sigma >= 0.0):
        return Q_K_INVALID
    if A != ss[S_COEF_A] or k != ss[S_COEF_K] or sigma != ss[S_COEF_SIGMA]:  # a recalibration since the last step
        c1, c2, hs, skew = half_spread_skew(p, A, k, sigma)
        ss[S_C1] = c1
        ss[S_C2] = c2
        ss[S_HALF_SPREAD] = hs
        ss[S_SKEW] = skew
        ss[S_COEF_A] = A
        ss[S_COEF_K] = k
        ss[S_COEF_SIGMA] = sigma
    hs = ss[S_HALF_SPREAD]
    skew = ss[S_SKEW]
    q = position_base / p[P_QTY]
    ss[S_RESERVATION] = mid - skew * q * tick
    status, g = quote_levels(p, hs, skew, mid, q, best_bid, best_ask, tick, out)
    ss[S_GRID_INTERVAL] = g
    return status
