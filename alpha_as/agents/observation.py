"""The agents' state vector at a decision time: selected market features + the 10 private features.

Market features are computed once per day for every decision time of the grid (vectorised, causal:
only data stamped <= t); the private features come from the fill rows the engine has recorded so far.
Both the Alpha-AS runtime and the gymnasium environment build their observations here.

``inputs = "stationary"`` (the sound learner's option; the paper's are ``"paper"``), so that a January day looks
like a December one to the network and heavy tails do not put the z-scores in the hundreds:

* price levels (``midprice_k``, ``last_close_price_k``) → bps of the current mid, then ``slog``;
* distances to the mid (``bid_price``, ``ask_price``, ``spread``, ``microprice``) → bps of the current mid, then
  ``slog``; sizes (``bid_qty``, ``ask_qty``, ``last_close_qty``) → log(1 + size);
* inventory → ``slog`` of the position in order sizes; scores → ``slog`` of the per-fill changes of the
  asymmetric dampened P&L in bps of the order's notional (quantity × fill price), instead of its cumulative level;
* imbalance and the candle features (already relative and bounded) unchanged;

where slog(x) = sign(x)·log(1 + |x|).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alpha_as.agents.features import (
    DEFAULT_FEATURES,
    DISTANCE_BASES,
    PRICE_LEVEL_BASES,
    PRIVATE_FEATURES,
    PRIVATE_HORIZON,
    PRIVATE_SCALE,
    SIZE_BASES,
    Normalizer,
    asymmetric_dampened,
    market_features,
    parse_feature,
)
from alpha_as.data.store import MarketDay
from alpha_as.engine import state as S
from alpha_as.engine.backtest import Backtest


def decision_times(first_grid: int, last_event: int, grid_ns: int) -> np.ndarray:
    """The decision grid of a day: ``first_grid``, + ``grid_ns``, ... up to the last event (ns)."""
    if last_event < first_grid:
        return np.array([first_grid], dtype=np.int64)
    return np.arange(first_grid, last_event + 1, grid_ns, dtype=np.int64)


def private_now(bt: Backtest) -> np.ndarray:
    """The 10 private features after the fills the engine has recorded so far (all stamped <= now): the
    per-step fast path of :func:`~alpha_as.agents.features.private_features` (same values, tested)."""
    st = bt.state
    n = int(st.si[S.N_FILLS])
    k = min(n, PRIVATE_HORIZON)
    out = np.zeros(2 * PRIVATE_HORIZON)
    if k:
        rows = st.fill_f[n - k : n]
        out[PRIVATE_HORIZON - k : PRIVATE_HORIZON] = rows[:, S.F_POSITION] / PRIVATE_SCALE
        out[2 * PRIVATE_HORIZON - k :] = asymmetric_dampened(rows[:, S.F_REALIZED], rows[:, S.F_UNREALIZED]) / PRIVATE_SCALE
    return out


def slog(x: np.ndarray) -> np.ndarray:
    """sign(x)·log(1 + |x|): monotone, ≈ x near 0, logarithmic in the tails."""
    return np.sign(x) * np.log1p(np.abs(x))


def private_stationary(bt: Backtest, quantity: float) -> np.ndarray:
    """The 10 private features, ``inputs = "stationary"``: slog of the inventory in order sizes, and slog of the
    last 5 per-fill changes of the dampened P&L in bps of quantity × fill price (0 before 5 fills). Compiled
    (:func:`alpha_as.agents.private.stationary_private`, shared with the compiled decision loop)."""
    from alpha_as.agents.private import private_stationary_of

    return private_stationary_of(bt.state.fill_f, int(bt.state.si[S.N_FILLS]), quantity)


def stationary_market(day: MarketDay, times: np.ndarray, names: Sequence[str], X: np.ndarray) -> np.ndarray:
    """The market features ``X`` (columns ``names`` at ``times``) as ``inputs = "stationary"`` has them."""
    X = X.copy()
    bases = [parse_feature(n)[0] for n in names]
    mid = None
    if any(b in PRICE_LEVEL_BASES or b in DISTANCE_BASES for b in bases):
        mid = market_features(day, times, ["midprice_0"]).X[:, 0]
    with np.errstate(all="ignore"):
        for j, b in enumerate(bases):
            if b in PRICE_LEVEL_BASES:
                X[:, j] = slog((X[:, j] / mid - 1.0) * 1e4)
            elif b in DISTANCE_BASES:
                X[:, j] = slog(X[:, j] / mid * 1e4)
            elif b in SIZE_BASES:
                X[:, j] = np.log1p(np.maximum(X[:, j], 0.0))
    return X


class Observer:
    """Builds state vectors for one day. ``names`` = market features (default: the paper's 22)."""

    def __init__(self, day: MarketDay, times: np.ndarray, names: Sequence[str] = DEFAULT_FEATURES,
                 normalizer: Normalizer | None = None, *, inputs: str = "paper", quantity: float = PRIVATE_SCALE) -> None:
        if inputs not in ("paper", "stationary"):
            raise ValueError(f"inputs must be 'paper' or 'stationary', got {inputs!r}")
        self.day = day
        self.market_names = list(names)
        self.names = self.market_names + list(PRIVATE_FEATURES)
        self.times = np.asarray(times, dtype=np.int64)
        table = market_features(day, self.times, self.market_names)
        self.market = np.ascontiguousarray(table.X, dtype=np.float64)
        self.normalizer = normalizer
        self.inputs, self.quantity = inputs, quantity
        if inputs == "stationary":
            self.market = stationary_market(day, self.times, self.market_names, self.market)

    @property
    def n_inputs(self) -> int:
        return len(self.names)

    def raw(self, bt: Backtest, t: int) -> np.ndarray:
        """The un-normalised state at decision time ``t`` (must be one of ``times``); NaN = no history yet."""
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        market = self.market[i] if i >= 0 else np.full(len(self.market_names), np.nan)
        if self.inputs == "stationary":
            return np.concatenate([market, private_stationary(bt, self.quantity)])
        return np.concatenate([market, private_now(bt)])

    def __call__(self, bt: Backtest, t: int) -> np.ndarray:
        """The state at ``t``, z-scored with the normaliser when one is set (missing history → 0)."""
        x = self.raw(bt, t)
        if self.normalizer is None:
            return np.nan_to_num(x, nan=0.0)
        return self.normalizer.transform(x[None, :])[0]
