"""Hummingbot's ``avellaneda_market_making`` (hummingbot @ 2bfaccc4; spec §1), compiled, as one strategy module.

Per tick (every ``tick_seconds``, spec §1.1) and in Hummingbot's order::

    σ      = sqrt(Σ (p_i − p_{i−1})² / N) over the last volatility_buffer_size mids  (σ = 0: half the book spread)
    α, κ   = fit of λ(d) = α·exp(−κ·d) to the volume per distance |trade − mid| of the newest
             trading_intensity_buffer_size ticks with trades               (hummingbot_estimators; no quote before
             both buffers are full: Q_WARMUP)
    q      = (base − q_target) / inventory_base,  inventory_base = (base·mid + quote)/mid,
             q_target = inventory_base · inventory_target_base_pct/100
    T_frac = 1 (infinite) | (end − now)/(end − start) (daily_between_times, from_date_to_date)
    r      = mid − q·γ·σ·T_frac;   δ = γ·σ·T_frac + (2/γ)·ln(1 + γ/κ)          ("risk_factor normalization", 2022)
    ask    = max(r + δ/2, mid·(1 + min_spread/200));  bid = min(r − δ/2, mid·(1 − min_spread/200))
    levels i = 0..order_levels−1: bid − i·step, ask + i·step, step = (δ/2)·level_distances/100, floored to the tick
    sizes  = order_amount; q > 0: buys × exp(−η·q); q < 0: sells × exp(η·q)
    order_optimization_enabled: no bid above best_bid + 1 tick, no ask below best_ask − 1 tick
    add_transaction_costs: buy × (1 − fee), sell × (1 + fee), floored to the tick again
    budget: buys limited by the quote balance, sells by the base balance (Hummingbot's budget constraint)

Guard (§1.5): γ, κ > 0, α ≠ 0, σ ≠ 0, inventory_base > 0, bid and ask > 0; else no proposal (orders kept).

Timers (§1.7), Hummingbot's ``_create_timestamp`` / ``_cancel_timestamp``: orders older than ``max_order_age`` are
cancelled first (also outside the window); a proposal is computed once ``create_ts ≤ now``; the live orders are
kept (Q_HOLD, timers pushed by ``order_refresh_time``) when every price is within ``order_refresh_tolerance_pct``
of the proposal's (same number of orders per side), else cancelled; new orders are placed only when none is live
and ``create_ts < now`` (strictly, so a refresh that cancels leaves one tick without orders, as in Hummingbot);
placing them sets create_ts = cancel_ts = now + order_refresh_time. A complete fill sets create_ts = now +
``filled_order_delay`` (the other orders stay live until then).

Prices: both sides floored to the tick (Hummingbot's ``quantize_order_price`` in ExchangePyBase: ``price //
quantum``). Sizes are not quantized (no lot size here). **Never crossing**: a bid is capped at best_ask − tick
and an ask floored at best_bid + tick, as post-only (LIMIT_MAKER) orders must be — Hummingbot would send such an
order and have it rejected; this only binds with a one-tick spread (order optimization's best_bid + tick is then
the ask; a flooring ask just above the mid is then the bid).

Balances (§1.3): base = starting_base + position_base (the engine's position), quote = starting_quote + the quote
flow of our fills (``on_fill``). Default starting balances (−1, "auto"): at the first tick, a portfolio worth
``auto_balance_orders`` (20) order amounts at the first mid, ``inventory_target_base_pct`` of it in base — so q
starts at the target (0) and one fill of order_amount moves q by 1/20.

Hooks the engine calls (all ``@njit(cache=True)``; ``p`` = :meth:`HummingbotASParams.to_array`, ``ss`` =
:func:`init_state` (one per run, length :func:`state_size`), ``out`` = ``np.zeros(out_size(p))``):

* ``on_trade(p, ss, t_ns, price, qty)`` for every public trade, in time order;
* ``on_tick(p, ss, t_ns, mid)`` every ``tick_seconds`` with the sampled mid (the engine keeps the clock; the first
  call sets the state's time origin and resolves auto balances), then
* ``quotes(p, ss, t_ns, mid, position_base, best_bid, best_ask, tick, out) -> status`` at the same tick:
  Q_OK: cancel every live order, place ``out`` (per level i: out[4i:4i+4] = bid px, bid size, ask px, ask size;
  size 0 = no order); Q_HOLD: keep the live orders as they are; Q_CANCEL: cancel every live order, place
  nothing; Q_WARMUP: no orders (buffers filling); Q_OUTSIDE_HOURS: outside the execution window, cancel
  everything (Hummingbot waits for its cancel timer, at most order_refresh_time — not copied);
* ``on_fill(p, ss, t_ns, side, level, price, qty, fee)`` for every fill of one of our orders (side 0 = our bid,
  1 = our ask; ``fee`` in quote, > 0 paid): the quote balance, the order's remaining size; a complete fill
  starts ``filled_order_delay``. Returns True when the order is completely filled. (A fill of an order this
  module already counts as cancelled moves the balance only.)

Status codes (:mod:`alpha_as.strategies.base`): Q_OK, Q_WARMUP, Q_OUTSIDE_HOURS, Q_HOLD (keep the live orders:
timers, tolerance, filled_order_delay, or no valid proposal), Q_CANCEL (cancel every live order, place nothing:
refresh or max_order_age with the create timer not yet passed). In the engine
(:mod:`alpha_as.strategies.hummingbot_engine`) Q_OK becomes Q_LEVELS.
Diagnostics in ``ss`` after ``quotes`` (index constants in :mod:`~alpha_as.strategies.hummingbot_estimators`):
S_RESERVATION, S_SPREAD, S_OPT_BID, S_OPT_ASK (unquantized), S_Q, S_TFRAC, S_VOL_USED; α, κ, σ in S_ALPHA,
S_KAPPA, S_SIGMA; counters S_N_FITS, S_N_FIT_FAIL, S_N_CREATED, S_DROP_NO_MID, S_DROP_FULL.

Not reproduced: hanging orders (``hanging_orders_enabled``), ``order_override``, the legacy
``parameters_based_on_spread`` mode; Hummingbot's reuse of stale optimal prices when the guard fails (no proposal
instead); daily windows are in UTC (Hummingbot: the machine's local time) and may not wrap past midnight
(nor do Hummingbot's: start ≤ now < end).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from alpha_as.configs import from_dict
from alpha_as.errors import InputError
from alpha_as.strategies.base import Q_CANCEL, Q_HOLD, Q_OK, Q_OUTSIDE_HOURS, Q_WARMUP
from alpha_as.strategies.hummingbot_estimators import (
    MODE_DAILY,
    MODE_INFINITE,
    N_PARAMS,
    NS_PER_DAY,
    NS_PER_S,
    P_ADD_COSTS,
    P_AMOUNT,
    P_AUTO_ORDERS,
    P_BASE0,
    P_BUDGET,
    P_END_NS,
    P_ETA,
    P_FEE,
    P_FILL_DELAY_NS,
    P_GAMMA,
    P_LEVEL_DIST,
    P_LEVELS,
    P_MAX_AGE_NS,
    P_MAX_DIST,
    P_MIN_SPREAD,
    P_MODE,
    P_OPTIMIZE,
    P_QUOTE0,
    P_REC_PER_TICK,
    P_REFRESH_NS,
    P_START_NS,
    P_TARGET_PCT,
    P_TI_N,
    P_TICK_NS,
    P_TOLERANCE,
    P_VOL_N,
    S_ALPHA,
    S_BASE0,
    S_CANCEL_TS,
    S_CASH,
    S_CREATE_TS,
    S_KAPPA,
    S_LEVELS,
    S_N_CREATED,
    S_N_LIVE,
    S_OFF_ORD,
    S_OPT_ASK,
    S_OPT_BID,
    S_ORDERS_T,
    S_Q,
    S_QUOTE0,
    S_RESERVATION,
    S_SIGMA,
    S_SPREAD,
    S_TFRAC,
    S_VOL_USED,
    fit_intensity,
    init_state,
    intensity_buffer,
    intensity_ready,
    on_tick,
    on_trade,
    rel_ns,
    state_size,
    volatility,
    volatility_ready,
)

__all__ = [
    "HummingbotASParams", "Q_OK", "Q_WARMUP", "Q_OUTSIDE_HOURS", "Q_HOLD", "Q_CANCEL",
    "state_size", "init_state", "out_size", "on_tick", "on_trade", "on_fill", "quotes", "fit_intensity",
    "reservation_and_spread", "inventory_q", "time_left_fraction", "volatility", "intensity_buffer", "intensity",
]

GENES: dict[str, list[float]] = {
    "risk_factor": [0.05, 5.0], "order_refresh_time": [1.0, 60.0],
    "order_amount_shape_factor": [0.0, 1.0], "min_spread": [0.0, 0.05],
}
"""Default gene table of ``alpha-as tune --strategy hummingbot-as`` (INFERRED: Hummingbot tunes nothing; γ around
its default 1, the refresh around its 30 s, η and min_spread (% of mid) from off to a few ticks of BTC)."""

EXECUTION_TIMEFRAMES = ("infinite", "from_date_to_date", "daily_between_times")
TICK_EPS = 1e-9
"""Tolerance of the tick arithmetic, in ticks (100.33/0.01 = 10032.999999999998 floors to 10033)."""


def _parse_time_of_day(text: str, key: str) -> int:
    try:
        t = dt.time.fromisoformat(text)
    except (TypeError, ValueError):
        raise InputError(f"hummingbot-as parameters: {key} must be a UTC time HH:MM:SS, got {text!r}") from None
    if t.tzinfo is not None:
        raise InputError(f"hummingbot-as parameters: {key} is in UTC, without a time zone, got {text!r}")
    return ((t.hour * 60 + t.minute) * 60 + t.second) * NS_PER_S + t.microsecond * 1000


def _parse_datetime(text: str, key: str) -> int:
    try:
        t = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InputError(f"hummingbot-as parameters: {key} must be a UTC date and time YYYY-MM-DD HH:MM:SS, "
                         f"got {text!r}") from None
    t = t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t.astimezone(dt.timezone.utc)
    delta = t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


@dataclass(frozen=True)
class HummingbotASParams:
    """Parameters of Hummingbot's avellaneda_market_making (names and defaults of its config map, spec §1.9)."""

    order_amount: float = 0.0001
    """Size of every order (base units; Hummingbot has no default: the AS strategy's 0.0001 BTC here)."""
    risk_factor: float = 1.0
    """γ (> 0), a fraction of σ since the 2022 "risk_factor normalization"."""
    order_amount_shape_factor: float = 0.0
    """η in [0, 1]: sizes against the inventory target shrink by exp(−η·|q|)."""
    min_spread: float = 0.0
    """Minimum total spread, in % of the mid (≥ 0)."""
    order_refresh_time: float = 30.0
    """Seconds between refresh cycles (> 0; Hummingbot asks for it, 30 is its strategy's default)."""
    max_order_age: float = 1800.0
    """Orders older than this (s) are cancelled (> 0)."""
    order_refresh_tolerance_pct: float = 0.0
    """Live orders within this % of the new prices are kept ([−10, 10]; negative: always refresh)."""
    filled_order_delay: float = 60.0
    """Seconds without new orders after a complete fill (> 0)."""
    inventory_target_base_pct: float = 50.0
    """Target share of the portfolio value in base, % ([0, 100])."""
    volatility_buffer_size: int = 200
    """Mids (one per tick) in the σ buffer ([1, 10000])."""
    trading_intensity_buffer_size: int = 200
    """Ticks with trades in the α, κ buffer ([1, 10000])."""
    order_levels: int = 1
    """Orders per side ([1, 100]; Hummingbot: 1 in single-level mode, ≥ 2 in multi-level mode)."""
    level_distances: float = 0.0
    """Distance between levels, in % of the optimal half-spread (≥ 0)."""
    order_optimization_enabled: bool = True
    """Never quote more than one tick inside the best bid / ask."""
    add_transaction_costs: bool = False
    """Move buys down by the fee and sells up by it."""
    maker_fee_pct: float = 0.0
    """Fee (%) used by add_transaction_costs and by the budget of buys ([−1, 10])."""
    budget_constraint: bool = True
    """Limit buys to the quote balance and sells to the base balance (Hummingbot always does; False for an
    engine that allows short positions)."""
    execution_timeframe: str = "infinite"
    """"infinite" (T_frac = 1), "daily_between_times" or "from_date_to_date"."""
    start_time: str = ""
    """UTC start of the window: "HH:MM:SS" (daily_between_times) or "YYYY-MM-DD HH:MM:SS" (from_date_to_date)."""
    end_time: str = ""
    """UTC end of the window (same formats), after start_time."""
    tick_seconds: float = 1.0
    """How often the strategy samples the mid and runs (Hummingbot's clock tick, s; > 0)."""
    starting_base: float = -1.0
    """Base balance at the start (≥ 0), or −1 (auto, with starting_quote −1: see auto_balance_orders)."""
    starting_quote: float = -1.0
    """Quote balance at the start (≥ 0), or −1 (auto)."""
    auto_balance_orders: float = 20.0
    """Auto balances: a portfolio worth this many order amounts at the first mid, split at the target (> 0)."""
    intensity_records_per_tick: int = 64
    """Capacity of the α, κ buffer: (tick, distance) records per tick on average ([1, 100000])."""
    intensity_max_distances: int = 4096
    """Capacity of the α, κ buffer: distinct distances ([2, 1000000])."""

    def __post_init__(self) -> None:
        checks = [  # (key, ok, need): a NaN fails every comparison
            ("order_amount", 0 < self.order_amount < math.inf, "> 0 and finite"),
            ("risk_factor", 0 < self.risk_factor < math.inf, "> 0 and finite"),
            ("order_amount_shape_factor", 0 <= self.order_amount_shape_factor <= 1, "in [0, 1]"),
            ("min_spread", 0 <= self.min_spread < math.inf, ">= 0 and finite (% of the mid)"),
            ("order_refresh_time", 0 < self.order_refresh_time < math.inf, "> 0 and finite (s)"),
            ("max_order_age", 0 < self.max_order_age < math.inf, "> 0 and finite (s)"),
            ("order_refresh_tolerance_pct", -10 <= self.order_refresh_tolerance_pct <= 10, "in [-10, 10]"),
            ("filled_order_delay", 0 < self.filled_order_delay < math.inf, "> 0 and finite (s)"),
            ("inventory_target_base_pct", 0 <= self.inventory_target_base_pct <= 100, "in [0, 100]"),
            ("volatility_buffer_size", 1 <= self.volatility_buffer_size <= 10_000, "in 1..10000"),
            ("trading_intensity_buffer_size", 1 <= self.trading_intensity_buffer_size <= 10_000, "in 1..10000"),
            ("order_levels", 1 <= self.order_levels <= 100, "in 1..100"),
            ("level_distances", 0 <= self.level_distances < math.inf, ">= 0 and finite (% of the half-spread)"),
            ("maker_fee_pct", -1 <= self.maker_fee_pct <= 10, "in [-1, 10]"),
            ("execution_timeframe", self.execution_timeframe in EXECUTION_TIMEFRAMES,
             f"one of {', '.join(EXECUTION_TIMEFRAMES)}"),
            ("tick_seconds", 0.001 <= self.tick_seconds <= 3600, "in [0.001, 3600] (s)"),
            ("starting_base", self.starting_base == -1 or 0 <= self.starting_base < math.inf,
             "-1 (auto) or >= 0 and finite"),
            ("starting_quote", self.starting_quote == -1 or 0 <= self.starting_quote < math.inf,
             "-1 (auto) or >= 0 and finite"),
            ("auto_balance_orders", 0 < self.auto_balance_orders < math.inf, "> 0 and finite"),
            ("intensity_records_per_tick", 1 <= self.intensity_records_per_tick <= 100_000, "in 1..100000"),
            ("intensity_max_distances", 2 <= self.intensity_max_distances <= 1_000_000, "in 2..1000000"),
        ]
        for key, ok, need in checks:
            if not ok:
                raise InputError(f"hummingbot-as parameters: {key} must be {need}, got {getattr(self, key)!r}")
        if (self.starting_base == -1) != (self.starting_quote == -1):
            raise InputError("hummingbot-as parameters: starting_base and starting_quote are both -1 (auto) or "
                             f"both given, got {self.starting_base!r} and {self.starting_quote!r}")
        if self.starting_base == 0 and self.starting_quote == 0:
            raise InputError("hummingbot-as parameters: starting_base and starting_quote cannot both be 0 "
                             "(no inventory: Hummingbot never quotes)")
        self._window()  # validates start_time / end_time

    def _window(self) -> tuple[int, int, int]:
        """(mode, start, end): ns after 00:00 UTC (daily) or epoch ns (from_date_to_date); 0, 0 when infinite."""
        mode = EXECUTION_TIMEFRAMES.index(self.execution_timeframe)
        if mode == MODE_INFINITE:
            for key in ("start_time", "end_time"):
                if getattr(self, key):
                    raise InputError(f"hummingbot-as parameters: {key} is only used with execution_timeframe "
                                     f"daily_between_times or from_date_to_date, got {getattr(self, key)!r}")
            return mode, 0, 0
        parse = _parse_time_of_day if mode == MODE_DAILY else _parse_datetime
        start = parse(self.start_time, "start_time")
        end = parse(self.end_time, "end_time")
        if not start < end:
            raise InputError(f"hummingbot-as parameters: end_time must be after start_time, got "
                             f"{self.start_time!r} and {self.end_time!r}")
        return mode, start, end

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "hummingbot-as parameters") -> HummingbotASParams:
        """Build from a dict (JSON, TOML, a GA's individual); unknown keys and wrong types are errors."""
        return from_dict(cls, d, source=source)

    def to_dict(self) -> dict:
        return asdict(self)

    # what the engine needs beyond the parameter vector (alpha_as.engine.backtest.StrategyLayout)
    def order_levels_per_side(self) -> int:
        return self.order_levels

    def strategy_clock_ns(self) -> int:
        """Hummingbot's tick: the strategy samples the mid and quotes every ``tick_seconds``."""
        return round(self.tick_seconds * NS_PER_S)

    def initial_state(self) -> np.ndarray:
        return init_state(self.to_array())

    def grid_columns(self) -> tuple[tuple[str, int], ...]:
        """Extra grid.parquet columns: γ, the fitted α and κ, σ (price), reservation price, total spread, q."""
        return (("gamma", -P_GAMMA - 1), ("alpha", S_ALPHA), ("kappa", S_KAPPA), ("sigma", S_SIGMA),
                ("reservation_price", S_RESERVATION), ("spread", S_SPREAD), ("q", S_Q))

    def to_array(self) -> np.ndarray:
        mode, start, end = self._window()
        p = np.zeros(N_PARAMS)
        p[P_GAMMA] = self.risk_factor
        p[P_ETA] = self.order_amount_shape_factor
        p[P_MIN_SPREAD] = self.min_spread
        p[P_REFRESH_NS] = round(self.order_refresh_time * NS_PER_S)
        p[P_MAX_AGE_NS] = round(self.max_order_age * NS_PER_S)
        p[P_TOLERANCE] = self.order_refresh_tolerance_pct / 100.0
        p[P_FILL_DELAY_NS] = round(self.filled_order_delay * NS_PER_S)
        p[P_TARGET_PCT] = self.inventory_target_base_pct
        p[P_VOL_N] = self.volatility_buffer_size
        p[P_TI_N] = self.trading_intensity_buffer_size
        p[P_LEVELS] = self.order_levels
        p[P_LEVEL_DIST] = self.level_distances
        p[P_OPTIMIZE] = 1.0 if self.order_optimization_enabled else 0.0
        p[P_ADD_COSTS] = 1.0 if self.add_transaction_costs else 0.0
        p[P_FEE] = self.maker_fee_pct / 100.0
        p[P_MODE] = mode
        p[P_START_NS] = start
        p[P_END_NS] = end
        p[P_TICK_NS] = round(self.tick_seconds * NS_PER_S)
        p[P_BASE0] = self.starting_base
        p[P_QUOTE0] = self.starting_quote
        p[P_AUTO_ORDERS] = self.auto_balance_orders
        p[P_AMOUNT] = self.order_amount
        p[P_BUDGET] = 1.0 if self.budget_constraint else 0.0
        p[P_REC_PER_TICK] = self.intensity_records_per_tick
        p[P_MAX_DIST] = self.intensity_max_distances
        return p


# ---- pure formulas ---------------------------------------------------------------------------------------------

@njit(cache=True)
def out_size(p):
    """Length of the ``out`` array of :func:`quotes`: 4 per level (bid px, bid size, ask px, ask size)."""
    return 4 * int(p[P_LEVELS])


@njit(cache=True)
def time_left_fraction(p, t_ns):
    """(inside the execution window, T_frac): 1 in infinite mode; (end − now)/(end − start) inside a window."""
    mode = int(p[P_MODE])
    if mode == MODE_INFINITE:
        return True, 1.0
    t = np.int64(t_ns)
    now = t % NS_PER_DAY if mode == MODE_DAILY else t
    start = np.int64(p[P_START_NS])
    end = np.int64(p[P_END_NS])
    if not (start <= now < end):
        return False, 0.0
    return True, float(end - now) / float(end - start)


@njit(cache=True)
def inventory_q(base, quote, mid, target_pct):
    """(q, inventory_base): q = (base − q_target)/inventory_base (spec §1.3); q = NaN when inventory_base ≤ 0."""
    inv = (base * mid + quote) / mid
    if not inv > 0.0:
        return math.nan, inv
    target = inv * target_pct / 100.0
    return (base - target) / inv, inv


@njit(cache=True)
def reservation_and_spread(gamma, sigma, kappa, q, tfrac, mid, min_spread_pct):
    """(r, δ, ask, bid) of spec §1.5, unquantized: r = mid − q·γ·σ·T, δ = γ·σ·T + (2/γ)·ln(1 + γ/κ), and the
    min-spread clamp ask ≥ mid + min_abs/2, bid ≤ mid − min_abs/2 (min_abs = mid·min_spread/100)."""
    r = mid - q * gamma * sigma * tfrac
    delta = gamma * sigma * tfrac + 2.0 * math.log(1.0 + gamma / kappa) / gamma
    min_abs = mid / 100.0 * min_spread_pct
    ask = max(r + 0.5 * delta, mid + 0.5 * min_abs)
    bid = min(r - 0.5 * delta, mid - 0.5 * min_abs)
    return r, delta, ask, bid


@njit(cache=True)
def _floor_tick(x, tick):
    if tick <= 0.0:
        return x
    return math.floor(x / tick + TICK_EPS) * tick


@njit(cache=True, inline="always")
def _ord(ss, side, level, levels):
    return int(ss[S_OFF_ORD]) + 2 * (side * levels + level)


@njit(cache=True)
def _clear_live(ss):
    off = int(ss[S_OFF_ORD])
    for j in range(4 * int(ss[S_LEVELS])):
        ss[off + j] = 0.0
    ss[S_N_LIVE] = 0.0


@njit(cache=True)
def _set_timers(p, ss, now):
    next_cycle = now + p[P_REFRESH_NS]
    if ss[S_CREATE_TS] <= now:
        ss[S_CREATE_TS] = next_cycle
    if ss[S_CANCEL_TS] <= now:
        ss[S_CANCEL_TS] = min(ss[S_CREATE_TS], next_cycle)


@njit(cache=True)
def _side_within_tolerance(p, ss, out, side, levels):
    """Hummingbot's c_is_within_tolerance for one side: same number of orders, and sorted price by sorted price
    |proposal − current|/current ≤ tolerance."""
    cur = np.empty(levels)
    new = np.empty(levels)
    nc = 0
    nn = 0
    for i in range(levels):
        j = _ord(ss, side, i, levels)
        if ss[j + 1] > 0.0:
            cur[nc] = ss[j]
            nc += 1
        if out[4 * i + 2 * side + 1] > 0.0:
            new[nn] = out[4 * i + 2 * side]
            nn += 1
    if nc != nn:
        return False
    cs = np.sort(cur[:nc])
    ns = np.sort(new[:nn])
    for i in range(nc):
        if abs(ns[i] - cs[i]) / cs[i] > p[P_TOLERANCE]:
            return False
    return True


@njit(cache=True)
def _proposal(p, ss, mid, base, quote, tfrac, best_bid, best_ask, tick, out):
    """Fill ``out`` with Hummingbot's proposal (spec §1.5–§1.6); False when the guard fails (no proposal)."""
    levels = int(p[P_LEVELS])
    for j in range(4 * levels):
        out[j] = 0.0
    q, inv = inventory_q(base, quote, mid, p[P_TARGET_PCT])
    ss[S_Q] = q
    ss[S_TFRAC] = tfrac
    if not math.isfinite(q):
        return False
    gamma = p[P_GAMMA]
    alpha = ss[S_ALPHA]
    kappa = ss[S_KAPPA]
    vol = ss[S_SIGMA]
    if vol == 0.0:  # Hummingbot's get_volatility: half the book spread while the mid has not moved
        vol = 0.5 * (best_ask - best_bid)
    ss[S_VOL_USED] = vol
    if not (gamma > 0.0 and kappa > 0.0 and alpha != 0.0 and vol != 0.0 and math.isfinite(vol)
            and math.isfinite(alpha) and math.isfinite(kappa)):
        return False
    r, delta, ask, bid = reservation_and_spread(gamma, vol, kappa, q, tfrac, mid, p[P_MIN_SPREAD])
    ss[S_RESERVATION] = r
    ss[S_SPREAD] = delta
    ss[S_OPT_BID] = bid
    ss[S_OPT_ASK] = ask
    if not (bid > 0.0 and ask > 0.0 and math.isfinite(bid) and math.isfinite(ask)):
        return False
    step = 0.5 * delta / 100.0 * p[P_LEVEL_DIST]
    size = p[P_AMOUNT]
    buy_size = size * math.exp(-p[P_ETA] * q) if q > 0.0 else size
    sell_size = size * math.exp(p[P_ETA] * q) if q < 0.0 else size
    has_tick = tick > 0.0 and math.isfinite(tick)
    above_bid = (math.ceil(best_bid / tick - TICK_EPS) + 1.0) * tick if has_tick else math.inf
    below_ask = (math.floor(best_ask / tick + TICK_EPS) - 1.0) * tick if has_tick else -math.inf
    fee = p[P_FEE]
    for i in range(levels):
        bp = _floor_tick(bid - i * step, tick)
        ap = _floor_tick(ask + i * step, tick)
        if p[P_OPTIMIZE] != 0.0 and has_tick:
            if bp > above_bid:
                bp = above_bid
            if ap < below_ask:
                ap = below_ask
        if p[P_ADD_COSTS] != 0.0:
            bp = _floor_tick(bp * (1.0 - fee), tick)
            ap = _floor_tick(ap * (1.0 + fee), tick)
        if has_tick:  # post-only: never cross the book
            bp = min(bp, best_ask - tick)
            ap = max(ap, best_bid + tick)
        out[4 * i] = bp
        out[4 * i + 1] = buy_size if bp > 0.0 else 0.0
        out[4 * i + 2] = ap
        out[4 * i + 3] = sell_size if ap > 0.0 else 0.0
    if p[P_BUDGET] != 0.0:
        quote_left = quote
        base_left = base
        for i in range(levels):
            if out[4 * i + 1] > 0.0:
                unit = out[4 * i] * (1.0 + fee)
                cost = out[4 * i + 1] * unit
                if quote_left < cost:
                    out[4 * i + 1] = max(quote_left / unit, 0.0)
                    quote_left = 0.0
                else:
                    quote_left -= cost
        for i in range(levels):
            if out[4 * i + 3] > 0.0:
                if base_left < out[4 * i + 3]:
                    out[4 * i + 3] = max(base_left, 0.0)
                    base_left = 0.0
                else:
                    base_left -= out[4 * i + 3]
    return True


# ---- hooks -----------------------------------------------------------------------------------------------------

@njit(cache=True)
def quotes(p, ss, t_ns, mid, position_base, best_bid, best_ask, tick, out):
    """What to do with our orders at this tick (after ``on_tick``); see the module docstring for the statuses."""
    levels = int(p[P_LEVELS])
    for j in range(4 * levels):
        out[j] = 0.0
    if not (volatility_ready(ss) and intensity_ready(p, ss)):
        return Q_WARMUP
    now = rel_ns(ss, t_ns)
    cancelled = False
    if ss[S_N_LIVE] > 0.0 and now - ss[S_ORDERS_T] > p[P_MAX_AGE_NS]:
        _clear_live(ss)
        cancelled = True
    inside, tfrac = time_left_fraction(p, t_ns)
    if not inside:
        _clear_live(ss)
        ss[S_TFRAC] = 0.0
        return Q_OUTSIDE_HOURS
    base = ss[S_BASE0] + position_base
    quote = ss[S_QUOTE0] + ss[S_CASH]
    proposal = False
    if ss[S_CREATE_TS] <= now:
        proposal = _proposal(p, ss, mid, base, quote, tfrac, best_bid, best_ask, tick, out)
        if proposal and ss[S_CANCEL_TS] <= now and ss[S_N_LIVE] > 0.0:
            if _side_within_tolerance(p, ss, out, 0, levels) and _side_within_tolerance(p, ss, out, 1, levels):
                _set_timers(p, ss, now)
                for j in range(4 * levels):
                    out[j] = 0.0
                return Q_HOLD
            _clear_live(ss)
            cancelled = True
    n_new = 0
    if proposal:
        for i in range(levels):
            if out[4 * i + 1] > 0.0:
                n_new += 1
            if out[4 * i + 3] > 0.0:
                n_new += 1
    if proposal and n_new > 0 and ss[S_CREATE_TS] < now and ss[S_N_LIVE] == 0.0:
        for i in range(levels):
            for side in range(2):
                j = _ord(ss, side, i, levels)
                ss[j] = out[4 * i + 2 * side]
                ss[j + 1] = out[4 * i + 2 * side + 1]
        ss[S_N_LIVE] = n_new
        ss[S_ORDERS_T] = now
        ss[S_N_CREATED] += 1.0
        _set_timers(p, ss, now)
        return Q_OK
    for j in range(4 * levels):
        out[j] = 0.0
    return Q_CANCEL if cancelled else Q_HOLD


@njit(cache=True)
def on_fill(p, ss, t_ns, side, level, price, qty, fee):
    """One of our orders (side 0 bid / 1 ask, level) filled ``qty`` at ``price``, paying ``fee`` (quote). Updates the
    quote balance and the order's remaining size; a complete fill starts filled_order_delay. True when complete."""
    if side == 0:
        ss[S_CASH] -= price * qty + fee
    else:
        ss[S_CASH] += price * qty - fee
    levels = int(p[P_LEVELS])
    if not (0 <= level < levels and (side == 0 or side == 1)):
        return False
    j = _ord(ss, side, level, levels)
    if ss[j + 1] <= 0.0:
        return False
    ss[j + 1] -= qty
    if ss[j + 1] > 1e-9 * p[P_AMOUNT]:
        return False
    ss[j + 1] = 0.0
    ss[S_N_LIVE] = max(ss[S_N_LIVE] - 1.0, 0.0)
    now = rel_ns(ss, t_ns)
    ss[S_CREATE_TS] = now + p[P_FILL_DELAY_NS]
    ss[S_CANCEL_TS] = min(ss[S_CANCEL_TS], ss[S_CREATE_TS])
    return True


def intensity(ss) -> tuple[float, float]:
    """The fitted (α, κ) held in ``ss``."""
    return float(ss[S_ALPHA]), float(ss[S_KAPPA])

