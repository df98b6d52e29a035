"""alpha-as vs hftbacktest: the same market stream, the same quoting rule, replay wall time only.

    python benchmarks/hftbacktest_compare.py data/bench/stream_5m.npz

What is compared (one process, data already in memory, compilation excluded on both sides):

* the stream: the benchmark npz (5-level snapshots + trades with aggressor side). For hftbacktest it is
  converted once (timed apart) into its event array: the first snapshot as full levels, then per snapshot
  only the levels that changed (new absolute size; a price that left the 5 visible levels gets size 0),
  trades with their aggressor flag; every row EXCH_EVENT|LOCAL_EVENT with exch_ts = local_ts = our
  timestamp, sorted stably so that at equal timestamps trades come first, then deletions, then updates;
* the rule: every 5 s of market time, cancel our orders and post 0.0001 BTC at the best bid and at the
  best ask (alpha-as: ``FixedQuoterParams(interval_s=5.0, repost_filled_side=False)``, queue fill model,
  acting at snapshots, a filled side left empty until the next requote;
  hftbacktest: an ``@njit`` loop on ``elapse(5 s)``, GTX post-only limit orders, skipping a requote when no
  market data arrived since the last one, i.e. in the 12 h gaps between the stream's days);
* hftbacktest setup: ROIVectorMarketDepthBacktest (ROI = the stream's price range ± 1 %), linear asset,
  tick 0.01, lot 1e-6, risk-averse queue model, partial-fill exchange, constant order latency 65 ms entry /
  0 response, zero fees. Its strategy JIT cannot be cached, so the same function first runs on the first
  50k rows to compile. ``--depth hashmap`` uses HashMapMarketDepthBacktest instead: same fills, but about
  6x slower on this stream (half the snapshots share no price with the previous one, and the hash map
  looks for the new best price tick by tick), so the default is the faster, conservative choice;
* alpha-as: ``Backtest(day, <that quoter>, EngineConfig(fill_model="queue"))`` run once to compile / load the
  cache, then fresh ones timed by ``bt.wall`` (the replay only);
* timing: ``time.perf_counter`` around hftbacktest's strategy call (its backtest built beforehand) and
  alpha-as's ``bt.wall``; each engine runs ``--repeat`` (3) fresh times, the median is reported.

The work is the same but the fills are not: hftbacktest's risk-averse queue advances only on trades at
our price, ours also on size decreases (power-probability split); alpha-as sends a request only when a
price changes and lets a marketable request take, hftbacktest cancels and re-posts every 5 s and rejects a
crossing post-only order. The last line is ``ratio_vs_hftbacktest=<x>`` =
hftbacktest wall / alpha-as wall.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import bench_engine
import hftbacktest
import numpy as np
from hftbacktest import GTX, LIMIT, BacktestAsset, HashMapMarketDepthBacktest, ROIVectorMarketDepthBacktest
from hftbacktest.binding import ROIVectorMarketDepthBacktest as HbtBacktest  # the jitclass, for type hints
from hftbacktest.types import (
    BUY_EVENT,
    DEPTH_EVENT,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
    event_dtype,
)
from numba import njit

from alpha_as.data.store import MarketDay
from alpha_as.engine import Backtest, EngineConfig
from alpha_as.strategies import FixedQuoterParams

TICK = 0.01
LOT = 1e-6
QTY = 0.0001
INTERVAL_NS = 5_000_000_000
LATENCY_NS = 65_000_000
WARMUP_ROWS = 50_000
BOTH = EXCH_EVENT | LOCAL_EVENT
Rows = tuple[np.ndarray, np.ndarray, np.ndarray, int]  # ts, px, qty, flags


def _side_diff(ts: np.ndarray, px: np.ndarray, qty: np.ndarray, flag: int) -> tuple[Rows, Rows]:
    """(deletions, updates) of one book side between consecutive snapshots."""
    ticks = np.rint(px / TICK).astype(np.int64)
    prev_t, new_t = ticks[:-1], ticks[1:]
    same = new_t[:, :, None] == prev_t[:, None, :]  # [snapshot, new level, previous level]
    old_q = np.where(same, qty[:-1, None, :], 0.0).sum(axis=2)
    upd = ~same.any(axis=2) | (old_q != qty[1:])
    gone = ~same.any(axis=1)
    ts2 = np.broadcast_to(ts[1:, None], new_t.shape)
    return ((ts2[gone], px[:-1][gone], np.zeros(int(gone.sum())), flag),
            (ts2[upd], px[1:][upd], qty[1:][upd], flag))


def to_events(day: MarketDay) -> np.ndarray:
    """The stream as hftbacktest's event array (see the module docstring for the layout and the order)."""
    buy, sell = DEPTH_EVENT | BOTH | BUY_EVENT, DEPTH_EVENT | BOTH | SELL_EVENT
    t0 = day.depth_ts[:1].repeat(day.levels)
    first = [(t0, day.bid_px[0], day.bid_qty[0], buy), (t0, day.ask_px[0], day.ask_qty[0], sell)]
    bid_del, bid_upd = _side_diff(day.depth_ts, day.bid_px, day.bid_qty, buy)
    ask_del, ask_upd = _side_diff(day.depth_ts, day.ask_px, day.ask_qty, sell)
    trade_ev = np.where(day.trade_side > 0, TRADE_EVENT | BOTH | BUY_EVENT, TRADE_EVENT | BOTH | SELL_EVENT)
    parts = [(day.trade_ts, day.trade_px, day.trade_qty, trade_ev), *first, bid_del, ask_del, bid_upd, ask_upd]
    ts = np.concatenate([p[0] for p in parts])
    order = np.argsort(ts, kind="stable")  # at equal time: trades, deletions, updates (concatenation order)
    ev = np.empty(len(ts), event_dtype)
    ev["ev"] = np.concatenate([np.broadcast_to(np.uint64(p[3]), len(p[0])) for p in parts])[order]
    ev["exch_ts"] = ev["local_ts"] = ts[order]
    ev["px"] = np.concatenate([p[1] for p in parts])[order]
    ev["qty"] = np.concatenate([p[2] for p in parts])[order]
    ev["order_id"] = ev["ival"] = 0
    ev["fval"] = 0.0
    return ev


@njit
def quote_loop(hbt: HbtBacktest, interval_ns: int, qty: float) -> int:
    """Every ``interval_ns`` with new market data: cancel our orders, post at the best bid and best ask."""
    order_id = 0
    n_quotes = 0
    last_feed = -1
    while hbt.elapse(interval_ns) == 0:
        feed = hbt.feed_latency(0)
        if feed is None:
            continue
        feed_ts, _ = feed
        if feed_ts == last_feed:  # no market data since the last requote (the gaps between days)
            continue
        last_feed = feed_ts
        hbt.clear_inactive_orders(0)
        values = hbt.orders(0).values()
        while values.has_next():
            order = values.get()
            if order.cancellable:
                hbt.cancel(0, order.order_id, False)
        depth = hbt.depth(0)
        bid, ask = depth.best_bid, depth.best_ask
        if np.isfinite(bid) and np.isfinite(ask):
            order_id += 1
            hbt.submit_buy_order(0, order_id, bid, qty, GTX, LIMIT, False)
            order_id += 1
            hbt.submit_sell_order(0, order_id, ask, qty, GTX, LIMIT, False)
            n_quotes += 1
    return n_quotes


def build_backtest(events: np.ndarray, roi: tuple[float, float], depth: str = "roivec") -> HbtBacktest:
    """hftbacktest over ``events`` (zero-copy: the array must outlive the backtest)."""
    asset = (BacktestAsset().data(events).linear_asset(1.0).constant_order_latency(LATENCY_NS, 0)
             .risk_adverse_queue_model().partial_fill_exchange().trading_value_fee_model(0.0, 0.0)
             .tick_size(TICK).lot_size(LOT))
    if depth == "hashmap":
        return HashMapMarketDepthBacktest([asset])
    return ROIVectorMarketDepthBacktest([asset.roi_lb(roi[0]).roi_ub(roi[1])])


def price_range(day: MarketDay, margin: float = 0.01) -> tuple[float, float]:
    """ROI bounds: every price of the stream, widened by ``margin`` and rounded to the tick."""
    lo = min(day.bid_px.min(), day.trade_px.min()) * (1 - margin)
    hi = max(day.ask_px.max(), day.trade_px.max()) * (1 + margin)
    return round(lo / TICK) * TICK, round(hi / TICK) * TICK


def run_hftbacktest(events: np.ndarray, roi: tuple[float, float], depth: str = "roivec", repeat: int = 1) -> dict:
    """Compile on the first rows, then time ``repeat`` fresh full replays; the median wall is reported."""
    warm = build_backtest(np.ascontiguousarray(events[:WARMUP_ROWS]), roi, depth)
    t0 = time.perf_counter()
    quote_loop(warm, INTERVAL_NS, QTY)
    jit = time.perf_counter() - t0
    warm.close()
    walls = []
    for _ in range(repeat):
        hbt = build_backtest(events, roi, depth)
        t0 = time.perf_counter()
        n_quotes = quote_loop(hbt, INTERVAL_NS, QTY)
        walls.append(time.perf_counter() - t0)
        sv = hbt.state_values(0)
        out = {"quotes": n_quotes, "fills": int(sv.num_trades), "volume": float(sv.trading_volume),
               "position": float(sv.position)}
        hbt.close()
    return {"wall": statistics.median(walls), "walls": walls, "jit": jit, **out}


def run_alpha_as(day: MarketDay, repeat: int = 1) -> dict:
    """Compile / load the cache with one run, then time ``repeat`` fresh runs' replay (``bt.wall``)."""
    strat, cfg = FixedQuoterParams(interval_s=5.0, repost_filled_side=False), EngineConfig(fill_model="queue")
    first = Backtest(day, strat, cfg)
    first.run()
    walls = []
    for _ in range(repeat):
        bt = Backtest(day, strat, cfg)
        res = bt.run()
        walls.append(bt.wall)
    return {"wall": statistics.median(walls), "walls": walls, "jit": first.jit_seconds,
            "fills": res.metrics.n_fills, "requests": res.counters["order_requests"],
            "volume": res.info["volume"], "position": res.info["final_position"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stream", nargs="?", default=str(bench_engine.STREAM), help="benchmark stream npz")
    ap.add_argument("--depth", choices=("roivec", "hashmap"), default="roivec", help="hftbacktest market depth")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per engine (median reported)")
    args = ap.parse_args()
    day = bench_engine.load_stream(args.stream)
    n = day.n_depth + day.n_trades
    t0 = time.perf_counter()
    events = to_events(day)
    conv = time.perf_counter() - t0
    print(f"stream: {n:,} events ({day.n_depth:,} snapshots + {day.n_trades:,} trades) -> {len(events):,} "
          f"hftbacktest rows; conversion {conv:.2f} s (in neither wall)")
    roi = price_range(day)
    h = run_hftbacktest(events, roi, args.depth, args.repeat)
    a = run_alpha_as(day, args.repeat)
    runs = f"median of {args.repeat} fresh runs"
    print(f"hftbacktest {hftbacktest.__version__} ({args.depth} depth, ROI {roi[0]:.2f}-{roi[1]:.2f}; risk-averse "
          f"queue, partial fills, 65 ms entry latency, GTX limits, {h['quotes']:,} requotes)")
    print(f"  wall {h['wall']:.3f} s {runs} ({', '.join(f'{w:.3f}' for w in h['walls'])}) = "
          f"{n / h['wall'] / 1e6:.2f} M events/s ({len(events) / h['wall'] / 1e6:.2f} M rows/s); JIT {h['jit']:.1f} s "
          f"excluded; {h['fills']:,} fills, volume {h['volume']:.4f} BTC, final position {h['position']:+.4f}")
    print(f"alpha-as (queue fill model, {a['requests']:,} order requests)")
    print(f"  wall {a['wall']:.3f} s {runs} ({', '.join(f'{w:.3f}' for w in a['walls'])}) = "
          f"{n / a['wall'] / 1e6:.2f} M events/s; compile/cache load {a['jit']:.1f} s excluded; "
          f"{a['fills']:,} fills, volume {a['volume']:.4f} BTC, final position {a['position']:+.4f}")
    print("fills differ by design: hftbacktest's risk-averse queue advances only on trades at our price, ours also "
          "on size decreases (power-probability split); a marketable alpha-as request takes, a crossing GTX is rejected")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB (both engines and the converted stream, one process)")
    print(f"ratio_vs_hftbacktest={h['wall'] / a['wall']:.2f}")


if __name__ == "__main__":
    main()
