"""Per-day market-data statistics and the comparison with the paper's data volume (spec §12).

:func:`day_stats` is pure and vectorised (numpy only) so other modules can reuse it, e.g. the synthetic
market measuring its own calibration. A day of ~900k trades and ~86k snapshots takes a few milliseconds.

Definitions (level 0 and the trade tape only):

* ticks per 5 s: counts of events (depth snapshots + trades) in 5-s bins aligned to the epoch (as
  ``resample("5s")``), from the bin of the day's first event to the bin of its last event, empty bins
  included (counted, not allocated, when the span has far more bins than events: memory is O(events)). ``std`` has ddof=1; ``skew`` is the bias-corrected sample skewness G1, the same value as
  ``scipy.stats.skew(counts, bias=False)``. Undefined values (too few bins, zero variance) are None.
* spread: ``askPrice0 - bidPrice0`` per snapshot where both prices are present.
* mid: ``(bidPrice0 + askPrice0) / 2``; open/close are the first/last snapshot's mid.
* gaps: intervals > 60 s between consecutive depth snapshots; the longest interval in seconds.
* duplicates: rows whose timestamp equals the previous row's (legal, only counted).

:func:`paper_comparison` puts a day beside its row of spec §12: events in [07:00, 19:00) UTC of the date.
When the data ends before 19:00 (e.g. a synthetic market generated with ``--hours 2``) the paper's counts
are scaled by ``covered_hours / 12`` with ``covered_hours`` = (last event - 07:00) rounded up to the
minute, capped at 12. Ticks per 5 s is a rate: ours is window events / (covered_hours * 720 bins), the
paper's figure is used unscaled (it is its total ticks / 8640).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from alpha_as.data import paper
from alpha_as.data.store import MarketDay

NS_PER_S = 1_000_000_000
BIN_NS = 5 * NS_PER_S
GAP_NS = 60 * NS_PER_S
BINS_PER_HOUR = 720
DENSE_BINS = 1_000_000
"""5-s bins are counted densely up to max(this, 4 x events); beyond, only the non-empty ones (memory ~ events)."""


def _f(x: float | np.floating | None) -> float | None:
    """A plain float for JSON, None for NaN/inf/None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    t = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=ns // 1000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def moments(counts: np.ndarray, zeros: int = 0) -> tuple[float | None, float | None, float | None]:
    """Mean, sample std (ddof=1) and bias-corrected skewness (= scipy.stats.skew(bias=False)) of ``counts``
    followed by ``zeros`` zero counts (so sparse bins need not be materialised)."""
    n = len(counts) + zeros
    if n == 0:
        return None, None, None
    x = np.asarray(counts, dtype=np.float64)
    mean = float(x.sum()) / n
    if n < 2:
        return mean, None, None
    d = x - mean
    m2 = (float(np.dot(d, d)) + zeros * mean * mean) / n
    std = math.sqrt(m2 * n / (n - 1))
    if n < 3 or m2 <= 1e-14 * max(mean * mean, 1.0):
        return mean, std, None
    m3 = (float(np.dot(d * d, d)) - zeros * mean**3) / n
    g1 = m3 / m2**1.5
    return mean, std, g1 * math.sqrt(n * (n - 1)) / (n - 2)


def _dups(ts: np.ndarray) -> int:
    return int(np.count_nonzero(ts[1:] == ts[:-1])) if len(ts) > 1 else 0


def day_stats(day: MarketDay) -> dict:
    """Statistics of one instrument-day (see the module docstring). Pure; JSON-ready (None = undefined)."""
    dts = np.asarray(day.depth_ts, dtype=np.int64)
    tts = np.asarray(day.trade_ts, dtype=np.int64)
    n_d, n_t = len(dts), len(tts)
    ends = [a for a in (dts, tts) if len(a)]
    first = min(int(a.min()) for a in ends) if ends else None
    last = max(int(a.max()) for a in ends) if ends else None

    ticks = {"mean": None, "std": None, "skew": None, "bins": 0, "depth_mean": None, "trades_mean": None}
    if first is not None:
        b0 = first // BIN_NS
        nb = last // BIN_NS - b0 + 1
        if nb <= max(4 * (n_d + n_t), DENSE_BINS):
            cd = np.bincount(dts // BIN_NS - b0, minlength=nb) if n_d else np.zeros(nb, np.int64)
            ct = np.bincount(tts // BIN_NS - b0, minlength=nb) if n_t else np.zeros(nb, np.int64)
            mean, std, skew = moments(cd + ct)
        else:  # a span far longer than the events (wrong units, stray rows): count the non-empty bins only
            _, counts = np.unique(np.concatenate([dts, tts]) // BIN_NS, return_counts=True)
            mean, std, skew = moments(counts, zeros=nb - len(counts))
        ticks = {"mean": mean, "std": std, "skew": skew, "bins": int(nb),
                 "depth_mean": n_d / nb, "trades_mean": n_t / nb}

    spread = {"median": None, "mean": None}
    mid = {"open": None, "close": None, "min": None, "max": None}
    if n_d:
        b = day.bid_px[:, 0]
        a = day.ask_px[:, 0]
        ok = np.isfinite(b) & np.isfinite(a)
        if ok.any():
            s = a[ok] - b[ok]
            m = (a[ok] + b[ok]) * 0.5
            spread = {"median": _f(np.median(s)), "mean": _f(s.mean())}
            mid = {"open": _f(m[0]), "close": _f(m[-1]), "min": _f(m.min()), "max": _f(m.max())}

    gaps, longest = 0, None
    if n_d > 1:
        d = np.diff(dts)
        gaps = int(np.count_nonzero(d > GAP_NS))
        longest = float(d.max()) / NS_PER_S

    side = np.asarray(day.trade_side)
    n_buy = int(np.count_nonzero(side == 1)) if day.has_side else 0
    n_sell = int(np.count_nonzero(side == -1)) if day.has_side else 0
    return {
        "depth_snapshots": n_d,
        "trades": n_t,
        "depth_duplicate_ts": _dups(dts),
        "trade_duplicate_ts": _dups(tts),
        "levels": int(day.bid_px.shape[1]) if day.bid_px.ndim == 2 else 0,
        "first_event": _iso(first),
        "last_event": _iso(last),
        "span_hours": None if first is None else (last - first) / (3600 * NS_PER_S),
        "ticks_per_5s": ticks,
        "spread": spread,
        "mid": mid,
        "gaps_over_60s": gaps,
        "longest_gap_s": longest,
        "has_side": bool(day.has_side),
        "buy_fraction": n_buy / (n_buy + n_sell) if n_buy + n_sell else None,
        "unknown_side_trades": (n_t - n_buy - n_sell) if day.has_side else None,
    }


def _rel(ours: float, ref: float) -> float | None:
    return (ours - ref) / ref if ref else None


def _depth_share(date: dt.date, hours: float) -> float:
    """Share of the paper's 12-h snapshot count expected in the first ``hours`` of the window.

    Proportional to time, except on 2020-12-21, whose snapshots all lie outside the 14:00-17:59 UTC gap.
    """
    window_h = paper.WINDOW_END_HOUR - paper.WINDOW_START_HOUR
    if date != dt.date(2020, 12, 21):
        return hours / window_h
    g0 = paper.DEPTH_GAP_2020_12_21[0].hour - paper.WINDOW_START_HOUR
    g1 = paper.DEPTH_GAP_2020_12_21[1].hour - paper.WINDOW_START_HOUR
    live = hours - max(0.0, min(hours, g1) - g0)
    return live / (window_h - (g1 - g0))


def paper_comparison(day: MarketDay) -> dict | None:
    """The day's counts in [07:00, 19:00) UTC beside spec §12 (scaled for short data), or None if not a paper day.

    Returns ``{"covered_hours", "scale", "depth_snapshots": {"ours", "paper", "rel_err"}, "trades": {...},
    "ticks_per_5s": {...}}``; with no event at or after 07:00 the figures are None and ``covered_hours`` 0.
    """
    ref = paper.paper_day(day.date)
    if ref is None:
        return None
    day0 = int(dt.datetime(day.date.year, day.date.month, day.date.day, tzinfo=dt.timezone.utc).timestamp())
    lo = (day0 + paper.WINDOW_START_HOUR * 3600) * NS_PER_S
    hi = (day0 + paper.WINDOW_END_HOUR * 3600) * NS_PER_S
    window_h = paper.WINDOW_END_HOUR - paper.WINDOW_START_HOUR
    dts = np.asarray(day.depth_ts, dtype=np.int64)
    tts = np.asarray(day.trade_ts, dtype=np.int64)
    n_d = int(np.count_nonzero((dts >= lo) & (dts < hi)))
    n_t = int(np.count_nonzero((tts >= lo) & (tts < hi)))
    last = max([int(a.max()) for a in (dts, tts) if len(a)], default=None)
    out: dict = {"window": f"{paper.WINDOW_START_HOUR:02d}:00-{paper.WINDOW_END_HOUR:02d}:00 UTC",
                 "covered_hours": 0.0, "scale": 0.0}
    if last is None or last < lo or n_d + n_t == 0:
        for k in ("depth_snapshots", "trades", "ticks_per_5s"):
            out[k] = {"ours": None, "paper": None, "rel_err": None}
        return out
    minutes = min(max(1, -(-(last - lo) // (60 * NS_PER_S))), window_h * 60)
    hours = minutes / 60
    scale = hours / window_h
    t5 = (n_d + n_t) / (hours * BINS_PER_HOUR)
    p_d, p_t = ref.depth_snapshots * _depth_share(day.date, hours), ref.trades * scale
    out.update({
        "covered_hours": hours,
        "scale": scale,
        "depth_snapshots": {"ours": n_d, "paper": p_d, "rel_err": _rel(n_d, p_d)},
        "trades": {"ours": n_t, "paper": p_t, "rel_err": _rel(n_t, p_t)},
        "ticks_per_5s": {"ours": t5, "paper": ref.ticks_per_5s, "rel_err": _rel(t5, ref.ticks_per_5s)},
    })
    return out
