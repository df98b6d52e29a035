"""Property tests of the engine on random days: accounting identity, limit prices, and causes of fills."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alpha_as.data.store import MarketDay
from alpha_as.data.synthetic import simulate
from alpha_as.engine import Backtest, EngineConfig, SteppedBacktest
from alpha_as.strategies import ASParams, FixedQuoterParams

MS = 1_000_000


def random_day(seed: int, has_side: bool) -> MarketDay:
    ts, bpx, apx, bq, aq, t_ts, t_px, t_q, t_side = simulate(dt.date(2020, 12, 10), seed=seed, hours=0.03)
    return MarketDay("rand", dt.date(2020, 12, 10), ts * MS, bpx, apx, bq, aq, t_ts * MS, t_px, t_q,
                     t_side if has_side else np.zeros_like(t_side), has_side, None, None)


strategies = st.one_of(
    st.builds(FixedQuoterParams, interval_s=st.sampled_from([0.5, 1.0, 5.0]), quantity=st.sampled_from([0.0001, 0.3]),
              offset_ticks=st.integers(0, 300), repost_filled_side=st.booleans()),
    st.builds(ASParams, risk_aversion=st.sampled_from([0.01, 0.1, 0.9]), k_default=st.sampled_from([-1.0, 0.3, 5.0]),
              spread_multiplier=st.sampled_from([0.2, 1.0, 5.0]), window_tick=st.sampled_from([5, 25]),
              skew=st.sampled_from([-0.05, 0.0, 0.05]), skew_mode=st.sampled_from(["authors", "spread"]),
              quantity=st.sampled_from([0.0001, 0.5])),
)
configs = st.builds(EngineConfig, fill_model=st.sampled_from(["paper", "queue"]),
                    latency_ms=st.sampled_from([0.0, 65.0, 400.0]), maker_fee=st.sampled_from([0.0, -0.0001, 0.001]),
                    taker_fee=st.sampled_from([0.0, 0.002]), lot_matching=st.sampled_from(["paper", "fifo"]))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), has_side=st.booleans(), strategy=strategies, config=configs)
def test_engine_invariants(seed, has_side, strategy, config):
    day = random_day(seed, has_side)
    r = Backtest(day, strategy, config).run()
    f = r.fills
    n = len(r.fill_ts)
    if n == 0:
        return
    scale = 1e-9 * max(1.0, float(np.abs(f["cash"]).max()))
    # accounting identity: cash + position x mark = total P&L at every fill row
    pos = f["position"]
    marked = f["cash"] + np.where(pos != 0, pos * np.nan_to_num(f["mark_price"]), 0.0)
    np.testing.assert_allclose(marked, f["total_pnl"], atol=scale)
    np.testing.assert_allclose(f["realized_pnl"] + f["unrealized_pnl"], f["total_pnl"], atol=scale)
    assert np.isfinite(f["mark_price"][pos != 0]).all()
    # the position is the running sum of the fills
    np.testing.assert_allclose(np.cumsum(f["side"] * f["quantity"]), pos, atol=1e-9)
    # never a price worse than the limit
    buy = f["side"] > 0
    assert (f["price"][buy] <= f["limit_price"][buy] + 1e-9).all()
    assert (f["price"][~buy] >= f["limit_price"][~buy] - 1e-9).all()
    assert (f["quantity"] > 0).all()
    # every fill has a cause: a trade, a snapshot that crosses, or an order arriving marketable
    maker = f["taker"] == 0
    causes_maker = np.union1d(day.trade_ts, day.depth_ts)
    assert np.isin(r.fill_ts[maker], causes_maker).all()
    latency = int(round(config.latency_ms * MS))
    assert np.isin(r.fill_ts[~maker], day.depth_ts + latency).all()
    # fees follow the rates
    rate = np.where(maker, config.maker_fee, config.taker_fee)
    np.testing.assert_allclose(f["fee"], rate * f["price"] * f["quantity"], atol=1e-15)
    # grid rows obey the same identity
    g = r.grid
    np.testing.assert_allclose(g["realized_pnl"] + g["unrealized_pnl"], g["total_pnl"], atol=scale)


def test_stepped_backtest_equals_a_plain_run_when_nothing_changes():
    day = random_day(3, True)
    plain = Backtest(day, ASParams(k_default=0.5)).run()
    env = SteppedBacktest(day, ASParams(k_default=0.5))
    env.reset()
    rewards = []
    done = False
    while not done:
        _, reward, done, _ = env.step()
        rewards.append(reward)
    stepped = env.result()
    np.testing.assert_array_equal(stepped.fill_ts, plain.fill_ts)
    np.testing.assert_array_equal(stepped.fills["price"], plain.fills["price"])
    assert len(rewards) >= 10


def test_stepped_backtest_applies_parameter_updates_from_the_next_snapshot():
    day = random_day(4, True)
    base = ASParams(k_default=0.5, risk_aversion=0.9)
    a = SteppedBacktest(day, base)
    a.reset()
    b = SteppedBacktest(day, base)
    b.reset()
    for i in range(6):
        a.step()
        b.step({"skew": 0.05} if i == 2 else None)
    ra, rb = a.result(), b.result()
    # identical up to the decision time of the change, different after
    t_change = a.bt.first_grid + 3 * a.bt.grid_ns
    before_a = ra.fill_ts[ra.fill_ts <= t_change]
    before_b = rb.fill_ts[rb.fill_ts <= t_change]
    np.testing.assert_array_equal(before_a, before_b)
    assert dataclasses.replace(base, skew=0.05) == b.bt.strategy
    assert not np.array_equal(ra.grid["bid_quote"], rb.grid["bid_quote"])


def test_stepped_backtest_reset_takes_another_day():
    env = SteppedBacktest(random_day(5, True), ASParams(k_default=0.5))
    first = env.reset()
    other = random_day(6, True)
    second = env.reset(other)
    assert env.day is other and second["t"] >= first["t"]
    assert env.bt.state.si[0] > 0  # replayed some of the new day's snapshots
