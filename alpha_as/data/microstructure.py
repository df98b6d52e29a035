"""Market-microstructure statistics of a store (``alpha-as data microstructure``), each with a 95 % interval.

:func:`measure` reads days of one instrument from a store; :func:`measure_days` does the same on
:class:`~alpha_as.data.store.MarketDay` objects in memory; :func:`headline` flattens a result to scalars;
:func:`format_table` prints results side by side. Everything is vectorised numpy (no loop over prints).

Pooling and gaps: the days are concatenated in time order and cut into *segments* wherever two consecutive
mid observations are more than 60 s apart (e.g. between two 07:00-19:00 days; contiguous days are one
segment). Counts are summed over segments and per-event samples concatenated; no horizon, lag or grid step
crosses a segment end, so a sample whose horizon ends past its segment's last snapshot is dropped.

Definitions (``tick`` default 0.01 USD; mid = (bidPrice0 + askPrice0) / 2 of the snapshots; mid(t) = the last
snapshot at or before t; a store without depth uses the last trade price as the mid):

* prints: the trade rows; an *order* = consecutive prints with the same timestamp and side. Walking order: its
  prints have more than one distinct price. Side: the data's, or for a store without side the tick rule
  (sign of the price change vs the previous print, the last nonzero sign carried forward).
* mid changes over h s: on a regular 1-s grid in each segment, ``(mid(g+h) - mid(g)) / mid(g)`` in bps,
  overlapping; sd with ddof 0; VR(5/1) = var5 / (5 var1), VR(60/5) = var60 / (12 var5). The grid's phase
  is half a second from the snapshots' mean phase within the second (a circular mean), so 1-s snapshots
  with a jitter are each sampled once (a grid on the snapshot times would see one twice, a false no-change).
* sign ACF at lag k: ``(mean(s_i s_i+k) - mean(s)^2) / var(s)`` over pairs in one segment, zero signs dropped.
* impact at h (per order, t = its timestamp, mid(t-) = the last snapshot strictly before t):
  ``side * (mid(t+h) - mid(t-)) / mid(t-)`` bps. Realized spread of a touch maker (the counterparty):
  ``-side * (mid(t+h) - vwap) / mid(t-)`` bps, and ``/ tick`` in ticks. Size thirds are by rank of the size.
* tick rule: prints with a known side and a nonzero price change vs the previous print; share whose side
  equals the sign of the change. Zero-tick share: prints with the previous print's price.
* touch quoter: the engine (``EngineConfig``, default fill model "paper", 65 ms latency) running
  ``FixedQuoterParams(interval_s=0.001, offset_ticks=0, quantity=0.0001)`` (joins the touch, requoted at
  every snapshot); markout per maker fill at h: ``side * (mid(t+h) - p) / p`` bps.

Intervals: a block bootstrap over time (blocks of at least max(60 s, span / 20): each segment is cut into
equal blocks; 1000 resamples of the blocks with replacement, seeded; percentile intervals). Every statistic
of a store is computed on the same resamples. Fewer than 4 blocks: no interval. Quantiles' intervals are
read off each resample's CDF on the distinct values (at most 2048 of them).

The result: ``{"meta": {...}, STAT: ENTRY, ...}`` where ENTRY is ``{"value", "lo", "hi", "n"}`` (None when not
measurable; n = samples used) or a dict of such entries by sub-key. The keys (stable; :func:`headline`
flattens a nested one as ``STAT_SUB``, e.g. ``impact_bps_5``):

* ``spread``: {median_ticks, mean_ticks, median_bps, mean_bps, one_tick_share} (per snapshot)
* ``prints_per_s``, ``orders_per_s``; ``print_size_quantiles``, ``order_size_quantiles``: {p50, p90, p99} (BTC)
* ``walking_order_share``, ``walking_volume_share``
* ``mid_change_sd_bps``: {1, 5, 60}; ``vr_5_1``, ``vr_60_5``, ``zero_change_share_1s``
* ``sign_acf_prints``, ``sign_acf_orders``: {1, 10, 100}
* ``impact_bps``: {1, 5, 30, 60}; ``impact_ratio_1_30`` (orders valid at 30 s)
* ``realized_spread_bps``, ``realized_spread_ticks``: {1, 5, 30, 60}; ``realized_spread_over_sd5``
* ``impact_walking_bps_5``, ``impact_touch_bps_5``, ``walking_markout_ratio`` (walking / touch)
* ``impact_large_bps_5``, ``impact_small_bps_5``, ``size_toxicity_ratio`` (largest third / smallest third)
* ``tick_rule_accuracy``, ``zero_tick_share``
* ``touch_quoter_markout_bps``: {1, 5, 30, 60}; ``touch_quoter_fills`` (maker fills)

``meta``: label, root, instrument, dates, window, hours, segments, snapshots, prints, orders, mid_source
("depth" or "trade"), side_source ("data", "tick rule" or "mixed"), tick, engine, taker_fills, ci
{method, block_seconds, blocks, resamples}, notes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np

from alpha_as.data import store
from alpha_as.data.microstructure_report import format_table
from alpha_as.data.store import MarketDay
from alpha_as.engine.config import EngineConfig
from alpha_as.errors import InputError

__all__ = ["measure", "measure_days", "headline", "format_table", "parse_store_spec", "resolve",
           "tick_rule_side", "DEFAULT_ENGINE"]

NS = 1_000_000_000
GAP_S = 60
MIN_BLOCK_S = 60
TARGET_BLOCKS = 20
MIN_CI_BLOCKS = 4
RESAMPLES = 1000
HORIZONS = (1, 5, 30, 60)
SD_HORIZONS = (1, 5, 60)
ACF_LAGS = (1, 10, 100)
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
MAX_GRID = 2048
DEFAULT_ENGINE = EngineConfig(fill_model="paper", latency_ms=65.0)
QUOTER = {"interval_s": 0.001, "offset_ticks": 0, "quantity": 0.0001}


# --------------------------------------------------------------------------------------------- bootstrap


class _Boot:
    """Blocks over time and the resample weights: every sum is returned as a vector, [0] = the sample's,
    [1:] = the resamples'."""

    def __init__(self, seg_start: np.ndarray, seg_end: np.ndarray, resamples: int, seed: int) -> None:
        span = (seg_end - seg_start).astype(np.float64)
        self.block_ns = max(MIN_BLOCK_S * NS, span.sum() / TARGET_BLOCKS)
        per_seg = np.maximum(1, np.floor(span / self.block_ns)).astype(np.int64)
        seg_of = np.repeat(np.arange(len(span)), per_seg)
        k = np.arange(len(seg_of)) - np.repeat(np.cumsum(per_seg) - per_seg, per_seg)
        length = span[seg_of] / per_seg[seg_of]
        self.starts = seg_start[seg_of] + np.floor(k * length).astype(np.int64)
        self.seconds = length / NS
        self.nb = len(self.starts)
        self.ok = self.nb >= MIN_CI_BLOCKS
        rng = np.random.default_rng(seed)
        w = rng.multinomial(self.nb, np.full(self.nb, 1.0 / self.nb), size=resamples if self.ok else 0)
        self.w = np.vstack([np.ones((1, self.nb)), w.astype(np.float64)])

    def ids(self, t: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.starts, t, side="right") - 1, 0, max(self.nb - 1, 0))

    def sum(self, ids: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        return self.w @ np.bincount(ids, weights=x, minlength=self.nb).astype(np.float64)

    def quantiles(self, ids: np.ndarray, x: np.ndarray, qs: dict[str, float]) -> dict[str, np.ndarray]:
        """Quantiles (inverse CDF) of ``x`` in the sample and in each resample."""
        if len(x) == 0:
            return {k: np.full(len(self.w), np.nan) for k in qs}
        grid = np.unique(x)
        if len(grid) > MAX_GRID:
            grid = np.unique(np.quantile(x, np.linspace(0.0, 1.0, MAX_GRID), method="inverted_cdf"))
        g = len(grid)
        b = np.minimum(np.searchsorted(grid, x, side="left"), g - 1)
        cdf = np.cumsum(np.bincount(ids * g + b, minlength=self.nb * g).reshape(self.nb, g), axis=1)
        cdf = self.w @ cdf.astype(np.float64)
        out = {}
        for k, q in qs.items():
            vec = grid[np.argmax(cdf >= q * cdf[:, -1:] - 1e-9, axis=1)]
            vec[0] = np.quantile(x, q, method="inverted_cdf")
            out[k] = vec
        return out

    def res(self, vec: np.ndarray | float, n: int) -> dict:
        vec = np.atleast_1d(np.asarray(vec, dtype=np.float64))
        value = _num(vec[0]) if n > 0 else None
        lo = hi = None
        if value is not None and self.ok and len(vec) > 1:
            rep = vec[1:][np.isfinite(vec[1:])]
            if len(rep) >= 0.9 * (len(vec) - 1):
                lo, hi = (float(v) for v in np.percentile(rep, [2.5, 97.5]))
        return {"value": value, "lo": lo, "hi": hi, "n": int(n)}


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _na() -> dict:
    return {"value": None, "lo": None, "hi": None, "n": 0}


# --------------------------------------------------------------------------------------------- the tape


def tick_rule_side(price: np.ndarray) -> np.ndarray:
    """Trade signs by the tick rule: sign of the change vs the previous print, the last nonzero carried
    forward (0 before the first change)."""
    sgn = np.zeros(len(price), dtype=np.int8)
    if len(price) > 1:
        sgn[1:] = np.sign(np.diff(price))
    idx = np.maximum.accumulate(np.where(sgn != 0, np.arange(len(price)), 0))
    return sgn[idx] if len(price) else sgn


@dataclasses.dataclass
class _Tape:
    has_depth: bool
    src_ts: np.ndarray     # times of the mid observations (snapshots, or prints without depth)
    mid: np.ndarray
    src_seg: np.ndarray
    spread: np.ndarray     # absolute spread per snapshot (empty without depth)
    spread_ts: np.ndarray
    seg_start: np.ndarray
    seg_end: np.ndarray
    ts: np.ndarray         # prints inside a segment
    px: np.ndarray
    qty: np.ndarray
    side: np.ndarray
    known: np.ndarray      # side from the data (not inferred)
    seg: np.ndarray
    side_source: str


def _pool(days: list[MarketDay]) -> _Tape:
    days = sorted(days, key=lambda d: d.date)
    d_ts = np.concatenate([d.depth_ts for d in days]).astype(np.int64)
    bid = np.concatenate([d.bid_px[:, 0] if d.n_depth else np.empty(0) for d in days])
    ask = np.concatenate([d.ask_px[:, 0] if d.n_depth else np.empty(0) for d in days])
    t_ts = np.concatenate([d.trade_ts for d in days]).astype(np.int64)
    px = np.concatenate([d.trade_px for d in days]).astype(np.float64)
    qty = np.concatenate([d.trade_qty for d in days]).astype(np.float64)
    side = np.concatenate([d.trade_side.astype(np.int8) if d.has_side else tick_rule_side(d.trade_px)
                           for d in days]).astype(np.int8)
    known = np.concatenate([(d.trade_side != 0) if d.has_side else np.zeros(d.n_trades, bool) for d in days])
    with_side = [d.has_side for d in days if d.n_trades]
    side_source = "data" if all(with_side) else "tick rule" if not any(with_side) else "mixed"
    good = np.isfinite(px) & np.isfinite(qty) & (qty > 0)
    t_ts, px, qty, side, known = t_ts[good], px[good], qty[good], side[good], known[good]
    valid = np.isfinite(bid) & np.isfinite(ask)
    has_depth = bool(valid.any())
    if has_depth:
        src_ts, mid = d_ts[valid], (bid[valid] + ask[valid]) * 0.5
        spread, spread_ts = ask[valid] - bid[valid], src_ts
    else:
        src_ts, mid = t_ts, px
        spread, spread_ts = np.empty(0), np.empty(0, np.int64)
    if len(src_ts) == 0:
        raise InputError("no depth snapshots or trades to measure")
    brk = np.flatnonzero(np.diff(src_ts) > GAP_S * NS) + 1
    first = np.concatenate([[0], brk])
    last = np.concatenate([brk - 1, [len(src_ts) - 1]])
    seg_start, seg_end = src_ts[first], src_ts[last]
    src_seg = np.repeat(np.arange(len(first)), last - first + 1)
    k = np.searchsorted(seg_start, t_ts, side="right") - 1
    inside = (k >= 0) & (t_ts <= seg_end[np.maximum(k, 0)])
    return _Tape(has_depth, src_ts, mid, src_seg, spread, spread_ts, seg_start, seg_end, t_ts[inside],
                 px[inside], qty[inside], side[inside], known[inside], k[inside], side_source)


# --------------------------------------------------------------------------------------------- statistics


def _acf(boot: _Boot, t: np.ndarray, s: np.ndarray, seg: np.ndarray) -> dict:
    keep = s != 0
    t, s, seg = t[keep], s[keep].astype(np.float64), seg[keep]
    ids = boot.ids(t)
    n, s1, s2 = boot.sum(ids), boot.sum(ids, s), boot.sum(ids, s * s)
    m = s1 / n
    var = s2 / n - m * m
    out = {}
    for lag in ACF_LAGS:
        if len(s) <= lag:
            out[str(lag)] = _na()
            continue
        ok = seg[:-lag] == seg[lag:]
        pid = ids[:-lag][ok]
        p = boot.sum(pid, (s[:-lag] * s[lag:])[ok])
        npairs = boot.sum(pid)
        out[str(lag)] = boot.res((p / npairs - m * m) / var, int(ok.sum()))
    return out


def _mean(boot: _Boot, t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, int]:
    ids = boot.ids(t)
    return boot.sum(ids, x) / boot.sum(ids), len(x)


def _mid_after(tape: _Tape, t: np.ndarray, seg: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """mid(t + h) and whether t + h is inside the segment ``seg``."""
    th = t + int(round(h * NS))
    ok = th <= tape.seg_end[seg]
    idx = np.searchsorted(tape.src_ts, th, side="right") - 1
    return tape.mid[np.maximum(idx, 0)], ok


def _spread_stats(tape: _Tape, boot: _Boot, tick: float) -> dict:
    keys = ("median_ticks", "mean_ticks", "median_bps", "mean_bps", "one_tick_share")
    if not tape.has_depth:
        return {k: _na() for k in keys}
    ids = boot.ids(tape.spread_ts)
    ticks = tape.spread / tick
    bps = tape.spread / tape.mid * 1e4
    n = boot.sum(ids)
    nn = len(ticks)
    med_t = boot.quantiles(ids, ticks, {"m": 0.5})["m"]
    med_b = boot.quantiles(ids, bps, {"m": 0.5})["m"]
    return {"median_ticks": boot.res(med_t, nn), "mean_ticks": boot.res(boot.sum(ids, ticks) / n, nn),
            "median_bps": boot.res(med_b, nn), "mean_bps": boot.res(boot.sum(ids, bps) / n, nn),
            "one_tick_share": boot.res(boot.sum(ids, (np.rint(ticks) <= 1).astype(float)) / n, nn)}


def _grid_stats(tape: _Tape, boot: _Boot) -> tuple[dict, dict]:
    """Mid changes on the 1-s grid: the entries, and the 5-s variance vector (for the realized spread)."""
    ang = (tape.src_ts % NS) * (2 * np.pi / NS)
    phase = int((np.arctan2(np.sin(ang).mean(), np.cos(ang).mean()) / (2 * np.pi) + 0.5) % 1.0 * NS)
    g0 = tape.seg_start + (phase - tape.seg_start) % NS
    per = np.where(g0 <= tape.seg_end, (tape.seg_end - g0) // NS + 1, 0)
    gseg = np.repeat(np.arange(len(per)), per)
    j = np.arange(len(gseg)) - np.repeat(np.cumsum(per) - per, per)
    g = g0[gseg] + j * NS
    m = tape.mid[np.searchsorted(tape.src_ts, g, side="right") - 1]
    ids_all = boot.ids(g)
    var, out, sd = {}, {}, {}
    zero = None
    for h in SD_HORIZONS:
        i = np.flatnonzero(gseg[h:] == gseg[:-h]) if h < len(g) else np.empty(0, np.int64)
        x = (m[i + h] - m[i]) / m[i] * 1e4
        ids = ids_all[i]
        n = boot.sum(ids)
        mean = boot.sum(ids, x) / n
        var[h] = boot.sum(ids, x * x) / n - mean * mean
        sd[str(h)] = boot.res(np.sqrt(np.maximum(var[h], 0.0)), len(x))
        if h == 1:
            zero = boot.res(boot.sum(ids, (x == 0).astype(float)) / n, len(x))
    out["mid_change_sd_bps"] = sd
    n1, n5 = sd["1"]["n"], sd["5"]["n"]
    out["vr_5_1"] = boot.res(var[5] / (5 * var[1]), min(n1, n5))
    out["vr_60_5"] = boot.res(var[60] / (12 * var[5]), min(n5, sd["60"]["n"]))
    out["zero_change_share_1s"] = zero
    return out, var[5]


def _trade_stats(tape: _Tape, boot: _Boot, tick: float, var5: np.ndarray) -> dict:
    out: dict = {}
    ts, px, qty, side, seg = tape.ts, tape.px, tape.qty, tape.side, tape.seg
    n_pr = len(ts)
    seconds = boot.w @ boot.seconds
    pid = boot.ids(ts)
    out["prints_per_s"] = boot.res(boot.sum(pid) / seconds, n_pr)
    new = np.ones(n_pr, bool)
    new[1:] = (ts[1:] != ts[:-1]) | (side[1:] != side[:-1]) | (seg[1:] != seg[:-1])
    st = np.flatnonzero(new)
    o_ts, o_side, o_seg = ts[st], side[st], seg[st]
    if n_pr:
        o_qty = np.add.reduceat(qty, st)
        vwap = np.add.reduceat(px * qty, st) / o_qty
        pmin, pmax = np.minimum.reduceat(px, st), np.maximum.reduceat(px, st)
    else:
        o_qty = vwap = pmin = pmax = np.empty(0)
    walking = (pmax - pmin) > 1e-9 * np.abs(pmax)
    n_or = len(st)
    oid = boot.ids(o_ts)
    out["orders_per_s"] = boot.res(boot.sum(oid) / seconds, n_or)
    out["print_size_quantiles"] = {k: boot.res(v, n_pr) for k, v in boot.quantiles(pid, qty, QUANTILES).items()}
    out["order_size_quantiles"] = {k: boot.res(v, n_or) for k, v in boot.quantiles(oid, o_qty, QUANTILES).items()}
    out["walking_order_share"] = boot.res(boot.sum(oid, walking.astype(float)) / boot.sum(oid), n_or)
    out["walking_volume_share"] = boot.res(boot.sum(oid, o_qty * walking) / boot.sum(oid, o_qty), n_or)
    out["sign_acf_prints"] = _acf(boot, ts, side, seg)
    out["sign_acf_orders"] = _acf(boot, o_ts, o_side, o_seg)

    # impact and realized spread per order
    pre = np.searchsorted(tape.src_ts, o_ts, side="left") - 1
    ok_pre = (pre >= 0) & (tape.src_seg[np.maximum(pre, 0)] == o_seg) & (o_side != 0)
    m_pre = tape.mid[np.maximum(pre, 0)]
    imp, rs, valid = {}, {}, {}
    out["impact_bps"], out["realized_spread_bps"], out["realized_spread_ticks"] = {}, {}, {}
    for h in HORIZONS:
        m_h, ok = _mid_after(tape, o_ts, o_seg, h)
        valid[h] = ok & ok_pre
        imp[h] = o_side * (m_h - m_pre) / m_pre * 1e4
        rs[h] = -o_side * (m_h - vwap) / m_pre * 1e4
        v = valid[h]
        out["impact_bps"][str(h)] = boot.res(*_mean(boot, o_ts[v], imp[h][v]))
        out["realized_spread_bps"][str(h)] = boot.res(*_mean(boot, o_ts[v], rs[h][v]))
        out["realized_spread_ticks"][str(h)] = boot.res(*_mean(boot, o_ts[v], (rs[h] * m_pre / 1e4 / tick)[v]))
    v30 = valid[30]
    ids30 = oid[v30]
    ratio = boot.sum(ids30, imp[1][v30]) / boot.sum(ids30, imp[30][v30])
    out["impact_ratio_1_30"] = boot.res(ratio, int(v30.sum()))
    v5 = valid[5]
    rs5, n5 = _mean(boot, o_ts[v5], rs[5][v5])
    out["realized_spread_over_sd5"] = boot.res(rs5 / np.sqrt(np.maximum(var5, 0.0)), n5)
    for name, mask in (("walking", v5 & walking), ("touch", v5 & ~walking)):
        out[f"impact_{name}_bps_5"] = boot.res(*_mean(boot, o_ts[mask], imp[5][mask]))
    w_mean, n_w = _mean(boot, o_ts[v5 & walking], imp[5][v5 & walking])
    t_mean, n_t = _mean(boot, o_ts[v5 & ~walking], imp[5][v5 & ~walking])
    out["walking_markout_ratio"] = boot.res(w_mean / t_mean, min(n_w, n_t))
    i5 = np.flatnonzero(v5)
    rank = np.empty(len(i5), np.int64)
    rank[np.argsort(o_qty[i5], kind="stable")] = np.arange(len(i5))
    third = len(i5) // 3
    small, large = i5[rank < third], i5[rank >= len(i5) - third]
    s_mean, _ = _mean(boot, o_ts[small], imp[5][small])
    l_mean, _ = _mean(boot, o_ts[large], imp[5][large])
    out["impact_large_bps_5"] = boot.res(l_mean, len(large))
    out["impact_small_bps_5"] = boot.res(s_mean, len(small))
    out["size_toxicity_ratio"] = boot.res(l_mean / s_mean, len(small))

    # tick rule
    prev_ok = np.zeros(n_pr, bool)
    prev_ok[1:] = seg[1:] == seg[:-1]
    dp = np.zeros(n_pr)
    dp[1:] = px[1:] - px[:-1]
    i = np.flatnonzero(prev_ok)
    out["zero_tick_share"] = boot.res(*_mean(boot, ts[i], (dp[i] == 0).astype(float)))
    if tape.known.any():
        i = np.flatnonzero(prev_ok & tape.known & (dp != 0))
        out["tick_rule_accuracy"] = boot.res(*_mean(boot, ts[i], (side[i] == np.sign(dp[i])).astype(float)))
    else:
        out["tick_rule_accuracy"] = _na()
    return out


def _quoter_stats(days: list[MarketDay], tape: _Tape, boot: _Boot,
                  engine: EngineConfig | None) -> tuple[dict, int]:
    na = {"touch_quoter_markout_bps": {str(h): _na() for h in HORIZONS}, "touch_quoter_fills": _na()}
    if engine is None or not tape.has_depth:
        return na, 0
    from alpha_as.engine.backtest import Backtest
    from alpha_as.strategies.fixed_quoter import FixedQuoterParams

    f_ts, f_side, f_px, n_taker = [], [], [], 0
    for day in days:
        if day.n_depth == 0:
            continue
        r = Backtest(day, FixedQuoterParams(**QUOTER), engine).run()
        maker = r.fills["taker"] == 0
        n_taker += int((~maker).sum())
        f_ts.append(r.fill_ts[maker])
        f_side.append(r.fills["side"][maker])
        f_px.append(r.fills["price"][maker])
    if not f_ts:
        return na, 0
    t, side, p = np.concatenate(f_ts).astype(np.int64), np.concatenate(f_side), np.concatenate(f_px)
    k = np.searchsorted(tape.seg_start, t, side="right") - 1
    inside = (k >= 0) & (t <= tape.seg_end[np.maximum(k, 0)])
    t, side, p, k = t[inside], side[inside], p[inside], k[inside]
    out = {}
    for h in HORIZONS:
        m_h, ok = _mid_after(tape, t, k, h)
        out[str(h)] = boot.res(*_mean(boot, t[ok], (side * (m_h - p) / p * 1e4)[ok]))
    fills = {"value": float(len(t)), "lo": None, "hi": None, "n": len(t)}
    return {"touch_quoter_markout_bps": out, "touch_quoter_fills": fills}, n_taker


def measure_days(days: list[MarketDay], *, tick: float = 0.01, engine: EngineConfig | None = DEFAULT_ENGINE,
                 resamples: int = RESAMPLES, seed: int = 0, meta: dict | None = None) -> dict:
    """The statistics of days of one instrument (see the module docstring); ``engine=None`` skips the
    touch quoter."""
    if tick <= 0:
        raise InputError(f"--tick must be > 0, got {tick}")
    days = [d for d in days if d.n_depth or d.n_trades]
    if not days:
        raise InputError("no depth snapshots or trades to measure")
    tape = _pool(days)
    boot = _Boot(tape.seg_start, tape.seg_end, resamples, seed)
    with np.errstate(all="ignore"):
        stats = {"spread": _spread_stats(tape, boot, tick)}
        grid, var5 = _grid_stats(tape, boot)
        trade = _trade_stats(tape, boot, tick, var5)
        quoter, n_taker = _quoter_stats(days, tape, boot, engine)
    stats.update(trade)
    stats.update(grid)
    stats.update(quoter)
    notes = []
    if not tape.has_depth:
        notes.append("approximation: trade-price mid (no depth); depth-based statistics n/a")
    if tape.side_source != "data":
        notes.append(f"trade side: {tape.side_source} (no side column); tick-rule accuracy n/a; an order is "
                     "prints with one timestamp and inferred side (a tape with de-duplicated timestamps "
                     "has one order per print)")
    dates = sorted({d.date for d in days})
    info = {
        "label": None, "root": None, "instrument": days[0].instrument, "dates": [str(d) for d in dates],
        "window": None, "hours": float((tape.seg_end - tape.seg_start).sum() / NS / 3600),
        "segments": len(tape.seg_start), "snapshots": int(len(tape.spread_ts)), "prints": int(len(tape.ts)),
        "orders": stats["orders_per_s"]["n"], "mid_source": "depth" if tape.has_depth else "trade",
        "side_source": tape.side_source, "tick": tick,
        "engine": None if engine is None or not tape.has_depth else {**engine.to_dict(), "quoter": QUOTER},
        "taker_fills": n_taker,
        "ci": {"method": "block bootstrap (percentile)", "block_seconds": float(boot.seconds.mean()),
               "blocks": boot.nb, "resamples": resamples if boot.ok else 0},
        "notes": notes,
    }
    info.update(meta or {})
    return {"meta": info, **stats}


# --------------------------------------------------------------------------------------------- stores


def _load_trades_day(root: Path, instrument: str, date: dt.date, start, end) -> MarketDay:
    path = store.partition_path(root, store.TRADE, instrument, date)
    ts, px, qty, side = store.read_trade_table(path)
    ns = ts * store.NS_PER_MS
    if len(ns) and np.any(np.diff(ns) < 0):
        raise InputError("timestamps are not sorted (run `alpha-as data check --repair`)", path=path)
    lo, hi = store.window_ns(date, start, end)
    a, b = np.searchsorted(ns, [lo, hi], side="left")
    empty = np.empty((0, 1))
    return MarketDay(instrument, date, np.empty(0, np.int64), empty, empty, empty, empty, ns[a:b], px[a:b],
                     qty[a:b], (side[a:b] if side is not None else np.zeros(b - a, np.int8)), side is not None,
                     None, path)


def resolve(root: str | Path, instrument: str | None = None, start: dt.date | None = None,
            end: dt.date | None = None) -> tuple[str, list[dt.date], bool]:
    """(instrument, dates, has_depth) of a store: the only instrument unless named, its dates in [start, end]."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("store root not found (or not a folder)", path=root)
    found = sorted(set(store.list_instruments(root, store.DEPTH)) | set(store.list_instruments(root, store.TRADE)))
    if not found:
        raise InputError("no market data in the store (expected type=depth|trade/instrument=I/date=YYYYMMDD/"
                         "data.parquet)", path=root)
    if instrument is None:
        if len(found) > 1:
            raise InputError(f"the store has several instruments ({', '.join(found)}): choose one with "
                             "--instrument or ROOT:INSTRUMENT", path=root)
        instrument = found[0]
    elif instrument not in found:
        raise InputError(f"instrument {instrument!r} is not in the store (it has {', '.join(found)})", path=root)
    if start and end and end < start:
        raise InputError(f"--end {end} is before --start {start}")
    depth_dates = store.list_dates(root, instrument, store.DEPTH)
    all_dates = depth_dates or store.list_dates(root, instrument, store.TRADE)
    dates = [d for d in all_dates if (start is None or d >= start) and (end is None or d <= end)]
    if not dates:
        raise InputError(f"no days of {instrument!r} in {start or '...'}..{end or '...'} (it has "
                         f"{all_dates[0]}..{all_dates[-1]})", path=root)
    return instrument, dates, bool(depth_dates)


def measure(root: str | Path, instrument: str | None = None, dates: list[dt.date] | None = None,
            window: str | None = None, tick: float = 0.01, engine: EngineConfig | None = DEFAULT_ENGINE,
            *, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Measure a store's instrument (default: its only one) over ``dates`` (default: all) and the UTC
    ``window`` "HH:MM-HH:MM" of each day (default: whole days)."""
    root = Path(root)
    instrument, all_dates, has_depth = resolve(root, instrument)
    if dates is None:
        dates = all_dates
    missing = sorted(set(dates) - set(all_dates))
    if missing:
        raise InputError(f"no data for {instrument!r} on {missing[0]}", path=root)
    start, end = store.parse_window(window) if window else (None, None)
    days = []
    for d in sorted(dates):
        if has_depth:
            days.append(store.load_day(root, instrument, d, start=start, end=end, require_trades=False))
        else:
            days.append(_load_trades_day(root, instrument, d, start, end))
    if not any(d.n_depth or d.n_trades for d in days):
        raise InputError(f"no data for {instrument!r} in the window {window}", path=root)
    meta = {"root": str(root), "window": window, "label": f"{root}:{instrument}"}
    return measure_days(days, tick=tick, engine=engine, resamples=resamples, seed=seed, meta=meta)


def parse_store_spec(text: str) -> tuple[Path, str | None]:
    """ROOT or ROOT:INSTRUMENT (a path that exists as written is a root even if it holds a colon)."""
    if ":" in text and not Path(text).exists():
        root, inst = text.rsplit(":", 1)
        return Path(root), inst or None
    return Path(text), None


def headline(result: dict) -> dict[str, float]:
    """The scalar values by name (nested entries as ``STAT_SUB``), NaN when not measurable."""
    out = {}
    for key, entry in result.items():
        if key == "meta":
            continue
        items = [(key, entry)] if "value" in entry else [(f"{key}_{s}", e) for s, e in entry.items()]
        for name, e in items:
            out[name] = math.nan if e["value"] is None else float(e["value"])
    return out
