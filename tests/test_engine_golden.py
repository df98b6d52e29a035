"""Golden test of the replay engine (issue #3): a plain-Python reference of the paper fill model
(tests/reference_engine.py, written from the rules) gives the same fills and P&L as the compiled engine.

Days: (a) a 6-minute synthetic day with trade sides, (b) the same day without sides (aggressor inference),
(c) a hand-made 7-minute day around 19:00 UTC built to hit the rare paths (crossing snapshots, marketable
arrivals, partial fills, position flips, empty book sides, crossed books, shared timestamps, a minute
without snapshots, calm stretches where the ±10σ mark bound binds, events stamped exactly when requests
arrive, the end of AS trading hours), with and without sides; plus a scripted scenario whose fills are
worked out by hand, so the reference itself is checked. Also: the engine stopped and resumed at every
event, past its first fill buffer, and under other configurations (fees, latency, grid, mark bound).

Two disagreements this test found were fixed in the engine and are kept as regression tests at the end:
more than 16 requests in flight on one side, and the order of requests of both sides arriving together.

Fill times, sides, prices and quantities must be identical; P&L, position and cash agree to 1e-9 relative
(1e-10 USD absolute: the engine keeps running sums of the open lots, the reference recomputes them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import numpy as np
import pytest

from alpha_as.data.store import MarketDay
from alpha_as.data.synthetic import simulate
from alpha_as.engine import Backtest, EngineConfig
from alpha_as.strategies import ASParams, FixedQuoterParams
from tests.reference_engine import ReferenceResult, run_reference

DATE = dt.date(2020, 12, 9)
MS = 1_000_000
RTOL, ATOL = 1e-9, 1e-10
MIN_FILLS = 30

# With the authors' defaults AS quotes too wide to be filled in 6 minutes (0 fills), so the AS cases
# narrow the spread; the fixed-k case requotes at every snapshot (no k warm-up or skips).
STRATEGIES = {
    "fixed": FixedQuoterParams(),
    "fixed_offset20": FixedQuoterParams(offset_ticks=20),
    "as": ASParams(spread_multiplier=0.5),
    "as_fixed_k": ASParams(k_default=0.5, risk_aversion=0.1, spread_multiplier=0.05),
}


def utc_ns(h: int, m: int, s: float = 0.0) -> int:
    midnight = int(dt.datetime(DATE.year, DATE.month, DATE.day, tzinfo=dt.timezone.utc).timestamp())
    return (midnight * 1000 + round(((h * 60 + m) * 60 + s) * 1000)) * MS


def build_day(depth: list, trades: list, *, has_side: bool = True, levels: int = 5) -> MarketDay:
    """depth: [(t_ns, [(bid px, qty), ...], [(ask px, qty), ...])]; trades: [(t_ns, px, qty, side)]."""
    n = len(depth)
    mats = [np.full((n, levels), np.nan) for _ in range(4)]
    bid_px, bid_qty, ask_px, ask_qty = mats
    for i, (_, bids, asks) in enumerate(depth):
        for j, (p, q) in enumerate(bids):
            bid_px[i, j], bid_qty[i, j] = p, q
        for j, (p, q) in enumerate(asks):
            ask_px[i, j], ask_qty[i, j] = p, q
    return MarketDay(
        instrument="golden", date=DATE,
        depth_ts=np.array([r[0] for r in depth], dtype=np.int64),
        bid_px=bid_px, ask_px=ask_px, bid_qty=bid_qty, ask_qty=ask_qty,
        trade_ts=np.array([r[0] for r in trades], dtype=np.int64),
        trade_px=np.array([r[1] for r in trades], dtype=np.float64),
        trade_qty=np.array([r[2] for r in trades], dtype=np.float64),
        trade_side=np.array([r[3] if has_side else 0 for r in trades], dtype=np.int8),
        has_side=has_side, depth_path=None, trade_path=None,
    )


def without_sides(day: MarketDay) -> MarketDay:
    return dataclasses.replace(day, has_side=False, trade_side=np.zeros_like(day.trade_side))


# ------------------------------------------------------------------------------------------- days

def synthetic_day() -> MarketDay:
    ts, bpx, apx, bq, aq, t_ts, t_px, t_q, t_side = simulate(DATE, seed=1, hours=0.1)
    return MarketDay(
        instrument="btcusdt_synth", date=DATE, depth_ts=ts * MS, bid_px=bpx, ask_px=apx, bid_qty=bq,
        ask_qty=aq, trade_ts=t_ts * MS, trade_px=t_px, trade_qty=t_q, trade_side=t_side.astype(np.int8),
        has_side=True, depth_path=None, trade_path=None,
    )


def px(ticks: int) -> float:
    return round(ticks * 0.01, 2)


def tiny_day(until: tuple = (19, 0, 40)) -> MarketDay:
    """18:53:30-19:00:40 UTC; thin levels around the 0.0001 order size, a jumpy mid, irregular spacing."""
    rng = random.Random(20201209)
    sizes = [0.00002, 0.00003, 0.00005, 0.00008, 0.0001, 0.0002, 0.0005]
    trade_sizes = [0.00001, 0.00003, 0.00005, 0.0001, 0.0002, 0.001]
    start, end = utc_ns(18, 53, 30), utc_ns(*until)
    gap = (utc_ns(18, 53, 55), utc_ns(18, 55, 2))                  # clock minute 18:54 has no snapshot
    calm = [(utc_ns(18, 56, 30), utc_ns(18, 57, 5)), (utc_ns(18, 58, 40), utc_ns(18, 59, 10))]
    b, s = 1_850_000, 2                                             # best bid and spread, in ticks
    depth: list = []
    t = start
    while t < end:
        is_calm = any(lo <= t < hi for lo, hi in calm)
        if not is_calm:
            b += rng.choices([0, 1, -1, 2, -2, 5, -5, 25, -25], [30, 15, 15, 8, 8, 5, 5, 2, 2])[0]
            s = rng.choice([1, 1, 2, 2, 3, 4])
        bid_ticks = [b - k - rng.choice([0, k]) for k in range(5)]
        ask_ticks = [b + s + k + rng.choice([0, k]) for k in range(5)]
        bids = [(px(x), rng.choice(sizes)) for x in bid_ticks]
        asks = [(px(x), rng.choice(sizes)) for x in ask_ticks]
        if depth and rng.random() < 0.25:     # one side (or both) unchanged; the book may then be crossed
            keep = rng.choice([1, 2, 3])
            bids = depth[-1][1] if keep & 1 else bids
            asks = depth[-1][2] if keep & 2 else asks
        depth.append((t, bids, asks))
        if rng.random() > 0.03:                                     # a few snapshots share a timestamp
            t += rng.choice([5, 10, 20, 40, 65, 65, 130, 300, 800]) * MS
        if gap[0] <= t < gap[1]:
            t = gap[1]
    for first, side in ((150, 2), (420, 1), (900, 2), (1300, 1)):    # short stretches with an empty side
        for i in range(first, first + 3):
            t_i, bids, asks = depth[i]
            depth[i] = (t_i, [] if side == 1 else bids, [] if side == 2 else asks)

    trades = [(start - 500 * MS, px(b - 1), 0.0001, -1), (start - 100 * MS, px(b + 3), 0.0001, 1)]
    bid0 = ask0 = px(b)
    for (t0, bids, asks), (t1, _, _) in zip(depth, depth[1:], strict=False):
        if bids and asks:  # with an empty side, trade around the last full book
            bid0, ask0 = bids[0][0], asks[0][0]
        mid = 0.5 * (bid0 + ask0)
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            when = rng.choice([t0, t0 + 65 * MS, t1, rng.randint(t0, t1)])
            when = min(max(when, t0), t1)
            price = rng.choice([mid, mid, px(round(bid0 * 100) - 1), bid0, ask0, px(round(ask0 * 100) + 1),
                                px(round(bid0 * 100) - 20), px(round(ask0 * 100) + 22)])
            side = 1 if price > mid else -1 if price < mid else rng.choice([1, -1])
            if rng.random() < 0.1:
                side = -side                                          # data side against the inference
            trades.append((when, price, rng.choice(trade_sizes), side))
    trades.append((end + 100 * MS, px(b), 0.0001, -1))
    trades.sort(key=lambda r: r[0])
    return build_day(depth, trades)


T0 = utc_ns(7, 0)
HOLD = FixedQuoterParams(interval_s=3600, quantity=0.0001)   # the first snapshot's best prices, held


def scripted_day() -> MarketDay:
    """The hand-worked scenario of test_reference_on_a_scripted_day."""
    depth = [
        (T0, [(100.00, 0.00005), (99.99, 0.001)], [(100.02, 0.00003), (100.03, 0.001)]),
        (T0 + 30 * MS, [(99.97, 1.0), (99.96, 1.0)], [(99.99, 0.00004), (100.00, 0.00003)]),
        (T0 + 100 * MS, [(100.04, 0.00005), (100.03, 0.001)], [(100.05, 1.0), (100.06, 1.0)]),
        (T0 + 5000 * MS, [(100.01, 1.0), (100.00, 1.0)], [(100.05, 1.0), (100.06, 1.0)]),
    ]
    trades = [
        (T0 + 80 * MS, 99.98, 0.00001, -1),
        (T0 + 165 * MS, 100.00, 0.00001, -1),
        (T0 + 200 * MS, 99.90, 0.00002, -1),
    ]
    return build_day(depth, trades, levels=2)


@pytest.fixture(scope="module")
def days() -> dict[str, MarketDay]:
    synth, tiny = synthetic_day(), tiny_day()
    return {"synthetic": synth, "synthetic_no_side": without_sides(synth),
            "tiny": tiny, "tiny_no_side": without_sides(tiny)}


# ------------------------------------------------------------------------------------------- comparison

PNL = (("position", "position"), ("realized_pnl", "realized"), ("unrealized_pnl", "unrealized"),
       ("total_pnl", "total"), ("cash", "cash"))
GRID_PNL = (("position", "position"), ("cash", "cash"), ("realized_pnl", "realized"),
            ("unrealized_pnl", "unrealized"), ("total_pnl", "total"))


def assert_same(result, ref: ReferenceResult, label: str) -> None:
    f = result.fills
    eng = list(zip(result.fill_ts.tolist(), f["side"].astype(int).tolist(), f["price"].tolist(),
                   f["quantity"].tolist(), strict=True))
    want = [(r.t, r.side, r.price, r.quantity) for r in ref.fills]
    first = next((i for i, (a, b) in enumerate(zip(eng, want, strict=False)) if a != b), None)
    if first is None and len(eng) != len(want):
        first = min(len(eng), len(want))
    assert first is None, (f"{label}: fills differ from row {first} ({len(eng)} engine, {len(want)} reference)\n"
                           f"engine    {eng[max(first - 2, 0):first + 3]}\nreference {want[max(first - 2, 0):first + 3]}\n"
                           f"reference causes {[r.cause for r in ref.fills[max(first - 2, 0):first + 3]]}")
    for col, attr in PNL:
        np.testing.assert_allclose(f[col], [getattr(r, attr) for r in ref.fills], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{label}: fill column {col}")
    np.testing.assert_array_equal(f["taker"].astype(bool), [r.taker for r in ref.fills], err_msg=f"{label}: taker")
    np.testing.assert_array_equal(f["limit_price"], [r.limit for r in ref.fills], err_msg=f"{label}: limit")
    np.testing.assert_allclose(f["mark_price"], [r.mark for r in ref.fills], rtol=1e-12, err_msg=f"{label}: mark")

    g = result.grid
    assert result.grid_ts.tolist() == [r.t for r in ref.grid], f"{label}: grid times"
    for col, attr in GRID_PNL:
        np.testing.assert_allclose(g[col], [getattr(r, attr) for r in ref.grid], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{label}: grid column {col}")
    for col, attr in (("mid", "mid"), ("bid_quote", "bid_quote"), ("ask_quote", "ask_quote"), ("n_fills", "n_fills")):
        np.testing.assert_array_equal(g[col], [getattr(r, attr) for r in ref.grid], err_msg=f"{label}: grid {col}")


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("day", ["synthetic", "synthetic_no_side", "tiny", "tiny_no_side"])
def test_engine_matches_the_reference(days, day, strategy):
    params = STRATEGIES[strategy]
    result = Backtest(days[day], params).run()
    ref = run_reference(days[day], params)
    assert len(ref.fills) >= MIN_FILLS, f"{day}/{strategy}: only {len(ref.fills)} fills, the comparison is weak"
    assert_same(result, ref, f"{day}/{strategy}")


def test_tiny_day_exercises_the_rare_paths(days):
    """The hand-made day is only worth its name if it reaches the paths the synthetic day rarely does."""
    for day in ("tiny", "tiny_no_side"):
        fills = run_reference(days[day], STRATEGIES["fixed"]).fills
        causes = {r.cause for r in fills}
        assert causes == {"trade", "cross", "arrival"}, (day, causes)
        assert any(r.quantity < 0.0001 - 1e-12 for r in fills if r.cause == "cross"), day
        assert any(r.quantity < 0.0001 - 1e-12 for r in fills if r.cause == "arrival"), day
        assert any(r.quantity < 0.0001 - 1e-12 for r in fills if r.cause == "trade"), day
        pos = [0.0] + [r.position for r in fills]
        assert any(a * b < 0 for a, b in zip(pos, pos[1:], strict=False)), f"{day}: no position flip"
        assert any(r.mark_bounded for r in fills), f"{day}: the ±10σ mark bound never binds"
        assert any(r.position != 0 and np.isnan(r.mark) for r in fills), f"{day}: no fill against an empty side"


def test_reference_on_a_scripted_day():
    """Nine fills worked out by hand (T0 = 07:00 UTC, quotes 100.00 / 100.02 held, latency 65 ms).

    0 ms quote; 30 ms the book drops under our bid; 65 ms our bid arrives marketable: buys 4 @ 99.99 and
    3 @ 100.00 (units of 1e-5 BTC), the rest rests; 80 ms a seller fills 1 more at our 100.00; 100 ms a
    snapshot crosses our ask: sells 5 @ 100.04 and 5 @ 100.03 (long 8 -> short 2); 165 ms the requotes
    arrive (requests before the trade of 165 ms): the ask is marketable (sells 5 @ 100.04, 5 @ 100.03),
    then the trade buys 1 at our bid; 200 ms a seller through our bid buys 2 more.
    """
    e = 1e-5
    expected = [  # ms, side, price, qty, position, realized, unrealized, taker
        (65, 1, 99.99, 4 * e, 4 * e, 0.0, -0.8e-6, True),
        (65, 1, 100.00, 3 * e, 7 * e, 0.0, -1.7e-6, True),
        (80, 1, 100.00, 1 * e, 8 * e, 0.0, -2.0e-6, False),
        (100, -1, 100.04, 5 * e, 3 * e, 2.1e-6, 1.5e-6, False),
        (100, -1, 100.03, 5 * e, -2 * e, 3.3e-6, -0.4e-6, False),
        (165, -1, 100.04, 5 * e, -7 * e, 3.3e-6, -0.9e-6, True),
        (165, -1, 100.03, 5 * e, -12 * e, 3.3e-6, -1.9e-6, True),
        (165, 1, 100.00, 1 * e, -11 * e, 3.6e-6, -1.7e-6, False),
        (200, 1, 100.00, 2 * e, -9 * e, 4.2e-6, -1.3e-6, False),
    ]
    day = scripted_day()
    ref = run_reference(day, HOLD)
    got = [((r.t - T0) // MS, r.side, r.price, r.quantity, r.position, r.realized, r.unrealized, r.taker)
           for r in ref.fills]
    assert len(got) == len(expected)
    for g, x in zip(got, expected, strict=True):
        assert g[:3] == x[:3] and g[7] == x[7], (g, x)
        assert g[3:7] == pytest.approx(x[3:7], abs=1e-15), (g, x)
    [row] = ref.grid                              # 07:00:05, after the last snapshot
    assert (row.t, row.mid, row.bid_quote, row.ask_quote, row.n_fills) == (T0 + 5000 * MS, 0.5 * (100.01 + 100.05),
                                                                           100.00, 100.02, 9)
    assert (row.position, row.realized, row.unrealized) == pytest.approx((-9 * e, 4.2e-6, -1.3e-6), abs=1e-15)
    assert_same(Backtest(day, HOLD).run(), ref, "scripted")


# ------------------------------------------------------------------------------------------- more engine paths

@pytest.mark.parametrize("strategy", ["fixed", "as_fixed_k"])
def test_engine_stopped_and_resumed_at_every_event_time_matches(days, strategy):
    """SteppedBacktest's way of driving the loop: run_until each event time (and each arrival time)."""
    day, params = days["tiny"], STRATEGIES[strategy]
    bt = Backtest(day, params)
    stops = np.unique(np.concatenate([day.depth_ts, day.trade_ts, day.depth_ts + 65 * MS, day.trade_ts - 1]))
    for t in stops.tolist():
        bt.run_until(t)
    bt.run_until(np.iinfo(np.int64).max)
    assert_same(bt.result(), run_reference(day, params), f"tiny/{strategy} stepped")


def test_engine_matches_past_its_initial_fill_buffer():
    """A longer hand-made day with more fills than the engine's first fill buffer (4096 rows)."""
    day = tiny_day(until=(19, 12, 0))
    ref = run_reference(day, STRATEGIES["fixed"])
    assert len(ref.fills) > 4096
    assert_same(Backtest(day, STRATEGIES["fixed"]).run(), ref, "long tiny/fixed")


CONFIGS = {
    "fees": EngineConfig(maker_fee=-0.0001, taker_fee=0.0004),
    "latency_0": EngineConfig(latency_ms=0),
    "latency_1ms": EngineConfig(latency_ms=1),
    "grid_1s": EngineConfig(grid_seconds=1.0),
    "no_mark_bound": EngineConfig(mark_sigma_bound=0),
    "tight_mark_bound": EngineConfig(mark_sigma_bound=2, mark_window=5),
}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("strategy", ["fixed", "as"])
def test_engine_matches_the_reference_under_other_configs(days, config, strategy):
    day, params, cfg = days["tiny_no_side"], STRATEGIES[strategy], CONFIGS[config]
    ref = run_reference(day, params, cfg)
    assert len(ref.fills) >= MIN_FILLS
    assert_same(Backtest(day, params, cfg).run(), ref, f"tiny_no_side/{strategy}/{config}")


# ------------------------------------------------------------------------- disagreements found, then fixed

def test_more_than_16_requests_in_flight_on_one_side():
    """Snapshots 1 ms apart, the best bid up one tick each, re-priced every snapshot: 40 bid requests are in
    flight at once. By the rules each replaces the live bid 65 ms after it was sent, so at 100 ms the bid
    sent at 35 ms (100.35) is live and the seller at 100.30 fills it. (The engine once kept only 16 requests
    in flight per side and dropped the others, so nothing filled.)"""
    depth = [(T0 + i * MS, [(round(100.00 + 0.01 * i, 2), 1.0)], [(101.00, 1.0)]) for i in range(40)]
    day = build_day(depth, [(T0 + 100 * MS, 100.30, 1.0, -1)], levels=1)
    params = FixedQuoterParams(interval_s=1e-4)
    ref = run_reference(day, params)
    assert [(r.t, r.side, r.price, r.quantity) for r in ref.fills] == [(T0 + 100 * MS, 1, 100.35, 0.0001)]
    assert_same(Backtest(day, params).run(), ref, "requests in flight")


def test_requests_arriving_together_keep_their_send_order_across_sides():
    """Two snapshots stamped 10 ms make AS send bid1, ask1, then bid2, ask2 (all arriving at 75 ms); the
    snapshot of 40 ms is crossed, so each of them is marketable on arrival. Sent order: buy, sell, buy,
    sell. (The engine once booked buy, buy, sell, sell: it took every bid-side request first.)"""
    depth = [
        (T0, [(100.00, 1.0)], [(100.10, 1.0)]),
        (T0 + 10 * MS, [(100.00, 1.0)], [(100.10, 1.0)]),   # bid1 100.04, ask1 100.06
        (T0 + 10 * MS, [(100.02, 1.0)], [(100.10, 1.0)]),   # bid2 100.05, ask2 100.07
        (T0 + 40 * MS, [(100.50, 1.0)], [(99.50, 1.0)]),    # crossed
    ]
    day = build_day(depth, [], levels=1)
    params = ASParams(window_tick=2, k_default=1e9, risk_aversion=0.01, spread_multiplier=1.0)
    ref = run_reference(day, params)
    assert [(r.t - T0, r.side, round(r.limit, 2)) for r in ref.fills[:4]] == [
        (75 * MS, 1, 100.04), (75 * MS, -1, 100.06), (75 * MS, 1, 100.05), (75 * MS, -1, 100.07)]
    assert_same(Backtest(day, params).run(), ref, "simultaneous arrivals")
