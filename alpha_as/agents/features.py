"""State features of the Alpha-AS agents and the random-forest feature selection (spec §6.2).

Market features (names as the authors', ``_0`` = newest sample, ``_k`` = k samples ago):

* depth-based, one sample per depth snapshot, lags 0..9: ``bid_price`` = |bestBid − mid|,
  ``ask_price`` = |bestAsk − mid|, ``bid_qty``, ``ask_qty`` (level 0), ``spread`` = bestAsk − bestBid,
  ``midprice`` (raw), ``imbalance`` = (Σ5 bidQty − Σ5 askQty)/(Σ5 bidQty + Σ5 askQty) and
  ``microprice`` = |micro − mid| with the authors' weighting micro = (ask·askQty + bid·bidQty)/(askQty + bidQty)
  (spec §9 #7: kept although it is the reverse of the usual micro-price);
* trade-based, one sample per trade, lags 0..9: ``last_close_price`` (raw price), ``last_close_qty``;
* 1-minute time candles of trades, lags 0..H−1 (H = ``horizon_candles``, default 5): ``high`` = high/open−1,
  ``low`` = low/open−1, ``close`` = close/open−1, and over the last H candles ``ma`` (mean of close),
  ``std`` (see below), ``max`` (max of high), ``min`` (min of low).

``std`` follows the Java code by default: ``MatrixRoundUtils.stdValue`` returns the *population variance*
Σ(x−μ)²/n although it is called std (spec §9 #8). ``std_kind="sample_std"`` gives the pandas rolling sample std
the authors' feature-importance notebook used. ``std`` is not in the 22-feature state, so this rarely matters.

Every feature at decision time ``t`` uses only data stamped ``<= t``: depth features come from the last
snapshot ``<= t``, trade features from the last trade ``<= t`` and candles from minutes that have ended by ``t``.
Values are NaN until there is enough history. INFERRED choices (documented in the report):

* a candle is "complete" once its UTC minute has ended (``t >= minute end``); minutes without trades make no
  candle (the Java candles are built from ticks);
* ``ma``/``std``/``max``/``min`` are computed over the same *relative* candle values (close/open−1, ...);
* ``imbalance`` sums the first min(5, levels) levels, ignoring empty (NaN) levels;
* the Java rounding (market 7, candle 3, private 3 decimals) is available as :func:`round_features` but not
  applied by default — the agents z-score the inputs with :class:`Normalizer` (spec §9 #9: no clipping).

Private features (10, not part of the selection): ``inventory_4..inventory_0`` = net position / 0.0001 and
``score_4..score_0`` = asymmetric dampened P&L (realized + min(unrealized, 0)) / 0.0001, pushed at each own fill;
the buffers start at 0.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np

from alpha_as.data.store import MarketDay
from alpha_as.errors import InputError

DEPTH_BASES = ("bid_price", "ask_price", "bid_qty", "ask_qty", "spread", "midprice", "imbalance", "microprice")
TRADE_BASES = ("last_close_price", "last_close_qty")
CANDLE_BASES = ("high", "low", "close")
CANDLE_INDICATORS = ("ma", "std", "max", "min")
PRICE_LEVEL_BASES = ("midprice", "last_close_price")
"""Features that are raw price levels (non-stationary; ``inputs = "stationary"`` turns them into bps of the mid)."""
DISTANCE_BASES = ("bid_price", "ask_price", "spread", "microprice")
"""Features that are distances to the mid in USD (``inputs = "stationary"``: bps of the mid, log-compressed)."""
SIZE_BASES = ("bid_qty", "ask_qty", "last_close_qty")
"""Features that are sizes (heavy-tailed; ``inputs = "stationary"``: log(1 + size))."""
DEPTH_HORIZON = 10
TRADE_HORIZON = 10
CANDLE_HORIZON = 5
IMBALANCE_LEVELS = 5
PRIVATE_HORIZON = 5
PRIVATE_SCALE = 0.0001
CANDLE_NS = 60 * 1_000_000_000
STD_KINDS = ("java_variance", "sample_std")

PRIVATE_FEATURES = tuple([f"inventory_{k}" for k in range(PRIVATE_HORIZON - 1, -1, -1)]
                         + [f"score_{k}" for k in range(PRIVATE_HORIZON - 1, -1, -1)])

# The 22 market features configured for the DQN (`most_significant_state_columns`, spec §6.2 / §9 #17).
# high_4 needs a candle horizon >= 5: the authors' notebook set horizonCandlesState=2 (so high_4 silently did not
# exist there); we use the default horizon 5 so that all 22 exist.
DEFAULT_FEATURES = (
    "ask_price_0", "ask_price_4", "ask_price_8", "ask_qty_0", "ask_qty_1", "ask_qty_2", "ask_qty_3",
    "bid_price_0", "bid_price_4", "bid_price_8", "bid_qty_0", "bid_qty_1", "bid_qty_2",
    "high_4", "last_close_price_4", "low_0", "microprice_0", "microprice_8", "midprice_8",
    "spread_0", "spread_4", "spread_8",
)
STATE_FEATURES = DEFAULT_FEATURES + PRIVATE_FEATURES  # the 32 DQN inputs

_LAGGED = re.compile(r"^([a-z_]+?)_(\d+)$")


def all_market_features(horizon_candles: int = CANDLE_HORIZON) -> list[str]:
    """Every market feature name: depth 8×10, trade 2×10, candles 3×H, 4 indicators."""
    names = [f"{b}_{k}" for b in DEPTH_BASES for k in range(DEPTH_HORIZON)]
    names += [f"{b}_{k}" for b in TRADE_BASES for k in range(TRADE_HORIZON)]
    names += [f"{b}_{k}" for b in CANDLE_BASES for k in range(horizon_candles)]
    return names + list(CANDLE_INDICATORS)


def fi_candidates(horizon_candles: int = CANDLE_HORIZON) -> list[str]:
    """The 107 columns the authors' feature-importance notebook actually fed to the random forest.

    7 depth features × 10 lags (imbalance computed but not lagged, so absent) + 2 trade × 10 + 3 candle × H
    + ma, std = 70 + 20 + 15 + 2 = 107; ``max`` and ``min`` (the spec's 109 − 107) were dropped by the
    notebook's ``df.columns[:-7]`` slicing bug, reproduced here.
    """
    depth = [b for b in DEPTH_BASES if b != "imbalance"]
    names = [f"{b}_{k}" for b in depth for k in range(DEPTH_HORIZON)]
    names += [f"{b}_{k}" for b in TRADE_BASES for k in range(TRADE_HORIZON)]
    names += [f"{b}_{k}" for b in CANDLE_BASES for k in range(horizon_candles)]
    return names + ["ma", "std"]


def parse_feature(name: str, horizon_candles: int = CANDLE_HORIZON) -> tuple[str, int]:
    """``"bid_price_3"`` → ("bid_price", 3); indicators → (name, 0). InputError for unknown names or lags."""
    if name in CANDLE_INDICATORS:
        return name, 0
    m = _LAGGED.match(name)
    if m:
        base, lag = m.group(1), int(m.group(2))
        limit = {**dict.fromkeys(DEPTH_BASES, DEPTH_HORIZON), **dict.fromkeys(TRADE_BASES, TRADE_HORIZON),
                 **dict.fromkeys(CANDLE_BASES, horizon_candles)}.get(base)
        if limit is not None:
            if lag < limit:
                return base, lag
            raise InputError(f"feature {name!r}: lag {lag} needs a horizon > {lag} (horizon is {limit})")
    raise InputError(f"unknown feature {name!r}: expected e.g. bid_price_0, last_close_qty_3, high_4, ma")


@dataclass
class FeatureTable:
    """Feature values at decision times: ``X[i, j]`` = feature ``names[j]`` at ``times[i]`` (NaN: no history)."""

    names: list[str]
    times: np.ndarray
    X: np.ndarray

    def col(self, name: str) -> np.ndarray:
        return self.X[:, self.names.index(name)]

    def __iter__(self):  # allows ``names, X = market_features(...)``
        return iter((self.names, self.X))


# --------------------------------------------------------------------------------------------- per-event series


def depth_series(day: MarketDay) -> dict[str, np.ndarray]:
    """The 8 depth features at every snapshot (length n_depth)."""
    bid, ask = day.bid_px[:, 0], day.ask_px[:, 0]
    bq, aq = day.bid_qty[:, 0], day.ask_qty[:, 0]
    mid = (bid + ask) * 0.5
    nl = min(IMBALANCE_LEVELS, day.levels)
    sb = np.nansum(day.bid_qty[:, :nl], axis=1)
    sa = np.nansum(day.ask_qty[:, :nl], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        imb = np.where(sb + sa > 0, (sb - sa) / (sb + sa), np.nan)
        micro = (ask * aq + bid * bq) / (aq + bq)  # the authors' weighting (spec §9 #7)
    return {"bid_price": np.abs(bid - mid), "ask_price": np.abs(ask - mid), "bid_qty": bq.copy(),
            "ask_qty": aq.copy(), "spread": ask - bid, "midprice": mid, "imbalance": imb,
            "microprice": np.abs(micro - mid)}


def candles(trade_ts: np.ndarray, trade_px: np.ndarray) -> dict[str, np.ndarray]:
    """1-minute candles of the trades (minutes with trades only): end (int64 ns) and relative high/low/close."""
    if len(trade_ts) == 0:
        e = np.empty(0)
        return {"end": np.empty(0, np.int64), "high": e, "low": e, "close": e}
    minute = trade_ts // CANDLE_NS
    starts = np.flatnonzero(np.r_[True, minute[1:] != minute[:-1]])
    ends = np.r_[starts[1:], len(trade_ts)] - 1
    op = trade_px[starts]
    return {"end": (minute[starts] + 1) * CANDLE_NS,
            "high": np.maximum.reduceat(trade_px, starts) / op - 1.0,
            "low": np.minimum.reduceat(trade_px, starts) / op - 1.0,
            "close": trade_px[ends] / op - 1.0}


def _rolling(x: np.ndarray, h: int, fn) -> np.ndarray:
    """fn over windows of the last h values ending at each index; NaN for the first h−1."""
    out = np.full(len(x), np.nan)
    if len(x) >= h:
        out[h - 1:] = fn(np.lib.stride_tricks.sliding_window_view(x, h), axis=1)
    return out


def candle_indicators(c: dict[str, np.ndarray], h: int, std_kind: str = "java_variance") -> dict[str, np.ndarray]:
    """ma, std, max, min over the last ``h`` candles, one value per candle."""
    if std_kind not in STD_KINDS:
        raise InputError(f"bad std kind {std_kind!r}: expected one of {', '.join(STD_KINDS)}")
    if std_kind == "java_variance":
        std = _rolling(c["close"], h, lambda w, axis: np.var(w, axis=axis, ddof=0))
    elif h > 1:
        std = _rolling(c["close"], h, lambda w, axis: np.std(w, axis=axis, ddof=1))
    else:
        std = np.full(len(c["close"]), np.nan)
    return {"ma": _rolling(c["close"], h, np.mean), "std": std,
            "max": _rolling(c["high"], h, np.max), "min": _rolling(c["low"], h, np.min)}


def _take_lagged(series: np.ndarray, idx: np.ndarray, lag: int) -> np.ndarray:
    j = idx - lag
    out = np.full(len(idx), np.nan)
    ok = j >= 0
    out[ok] = series[j[ok]]
    return out


# --------------------------------------------------------------------------------------------- public API


def market_features(day: MarketDay, times: np.ndarray, names=None, *, horizon_candles: int = CANDLE_HORIZON,
                    std_kind: str = "java_variance") -> FeatureTable:
    """Market features at decision ``times`` (int64 ns), vectorised over the day; ``names`` default: all."""
    if horizon_candles < 1:
        raise InputError(f"horizon_candles must be >= 1, got {horizon_candles}")
    names = list(all_market_features(horizon_candles) if names is None else names)
    parsed = [parse_feature(n, horizon_candles) for n in names]
    times = np.asarray(times, dtype=np.int64)
    X = np.full((len(times), len(names)), np.nan)
    bases = {b for b, _ in parsed}
    if bases & set(DEPTH_BASES):
        ds = depth_series(day)
        di = np.searchsorted(day.depth_ts, times, side="right") - 1
    if bases & set(TRADE_BASES):
        ts = {"last_close_price": day.trade_px, "last_close_qty": day.trade_qty}
        ti = np.searchsorted(day.trade_ts, times, side="right") - 1
    if bases & (set(CANDLE_BASES) | set(CANDLE_INDICATORS)):
        cs = candles(day.trade_ts, day.trade_px)
        cs.update(candle_indicators(cs, horizon_candles, std_kind))
        ci = np.searchsorted(cs["end"], times, side="right") - 1  # candles whose minute ended by t
    for j, (base, lag) in enumerate(parsed):
        if base in DEPTH_BASES:
            X[:, j] = _take_lagged(ds[base], di, lag)
        elif base in TRADE_BASES:
            X[:, j] = _take_lagged(ts[base], ti, lag)
        else:
            X[:, j] = _take_lagged(cs[base], ci, lag)
    return FeatureTable(names, times, X)


def asymmetric_dampened(realized: np.ndarray, unrealized: np.ndarray) -> np.ndarray:
    """realized + min(unrealized, 0) (Spooner et al.; the authors' ScoreUtils)."""
    return np.asarray(realized, float) + np.minimum(np.asarray(unrealized, float), 0.0)


def private_features(fill_ts, fill_position, fill_realized, fill_unrealized, times) -> np.ndarray:
    """The 10 private features (order :data:`PRIVATE_FEATURES`) at ``times`` from fill rows stamped <= t.

    Each fill pushes (position/0.0001, asymmetric dampened P&L/0.0001) into two horizon-5 buffers that start at 0.
    """
    fill_ts = np.asarray(fill_ts, dtype=np.int64)
    if len(fill_ts) > 1 and np.any(np.diff(fill_ts) < 0):
        raise InputError("fill timestamps are not sorted")
    inv = np.asarray(fill_position, float) / PRIVATE_SCALE
    score = asymmetric_dampened(fill_realized, fill_unrealized) / PRIVATE_SCALE
    last = np.searchsorted(fill_ts, np.asarray(times, dtype=np.int64), side="right") - 1
    out = np.zeros((len(last), 2 * PRIVATE_HORIZON))
    for col, k in enumerate(range(PRIVATE_HORIZON - 1, -1, -1)):
        j = last - k
        ok = j >= 0
        out[ok, col] = inv[j[ok]]
        out[ok, PRIVATE_HORIZON + col] = score[j[ok]]
    return out


def round_features(names, X: np.ndarray) -> np.ndarray:
    """The Java rounding: private 3 decimals, candle 3, other market features 7."""
    out = np.array(X, dtype=float, copy=True)
    for j, n in enumerate(names):
        base = n.rsplit("_", 1)[0] if n not in CANDLE_INDICATORS else n
        d = 3 if (n in PRIVATE_FEATURES or base in CANDLE_BASES or n in CANDLE_INDICATORS) else 7
        out[:, j] = np.round(out[:, j], d)
    return out


@dataclass
class Normalizer:
    """Z-score normalisation fitted on training data (NaN ignored, zero or undefined std → 1)."""

    names: list[str]
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, names) -> Normalizer:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(names):
            raise InputError(f"Normalizer.fit: X has shape {X.shape}, expected (n, {len(names)})")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(X, axis=0) if len(X) else np.zeros(X.shape[1])
            std = np.nanstd(X, axis=0) if len(X) else np.ones(X.shape[1])
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        return cls(list(names), mean, std)

    def transform(self, X: np.ndarray, nan: float | None = 0.0) -> np.ndarray:
        """(X − mean)/std; NaN (missing history) becomes ``nan`` (0 = the mean) unless ``nan`` is None."""
        Z = (np.asarray(X, dtype=float) - self.mean) / self.std
        return Z if nan is None else np.where(np.isnan(Z), nan, Z)

    def to_dict(self) -> dict:
        return {"names": list(self.names), "mean": [float(v) for v in self.mean],
                "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        try:
            names, mean, std = list(d["names"]), np.asarray(d["mean"], float), np.asarray(d["std"], float)
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"bad normalizer: {e}") from e
        if not len(names) == len(mean) == len(std):
            raise InputError("bad normalizer: names, mean and std differ in length")
        return cls(names, mean, std)

