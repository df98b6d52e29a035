"""The depth quoter (the PPO spread agent's strategy, issue #14 §2) and the env's (bid depth, ask depth, size)
action: quote prices, hours, validation, the env against the strategy run on its own."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from alpha_as.data.store import MarketDay
from alpha_as.data.synthetic import simulate
from alpha_as.engine import Backtest
from alpha_as.env import AlphaASEnv
from alpha_as.errors import InputError
from alpha_as.strategies import ASParams
from alpha_as.strategies.base import Q_OK, Q_OUTSIDE_HOURS
from alpha_as.strategies.depth_quoter import DepthQuoterParams, depth_quotes

MS = 1_000_000
T8 = int(dt.datetime(2021, 1, 4, 8, tzinfo=dt.timezone.utc).timestamp() * 1e9)  # 08:00 UTC, in the default hours


@pytest.fixture(scope="module")
def day() -> MarketDay:
    date = dt.date(2020, 12, 10)
    ts, bpx, apx, bq, aq, t_ts, t_px, t_q, t_side = simulate(date, seed=0, hours=0.1)
    return MarketDay("syn", date, ts * MS, bpx, apx, bq, aq, t_ts * MS, t_px, t_q, t_side, True, None, None)


def test_quotes_are_the_depths_from_the_mid_rounded_away_from_it():
    p = DepthQuoterParams(bid_depth_bps=10.0, ask_depth_bps=25.0, quantity=0.002).to_array()
    status, bp, bq, ap, aq = depth_quotes(p, T8, 99.99, 100.01, 0.01)  # mid 100.00
    assert status == Q_OK and (bq, aq) == (0.002, 0.002)
    assert bp == pytest.approx(99.90, abs=1e-9) and ap == pytest.approx(100.25, abs=1e-9)
    _, bp, _, ap, _ = depth_quotes(DepthQuoterParams(3.3, 3.3).to_array(), T8, 99.99, 100.01, 0.01)
    assert bp == pytest.approx(99.96, abs=1e-9) and ap == pytest.approx(100.04, abs=1e-9)  # 99.967 down, 100.033 up


def test_depth_zero_stays_one_tick_off_the_mid_and_never_crosses():
    p = DepthQuoterParams(0.0, 0.0).to_array()
    _, bp, _, ap, _ = depth_quotes(p, T8, 99.98, 100.02, 0.01)  # mid on a tick: one tick either side
    assert (round(bp, 2), round(ap, 2)) == (99.99, 100.01)
    _, bp, _, ap, _ = depth_quotes(p, T8, 99.99, 100.00, 0.01)  # one-tick spread, mid 99.995: join the best
    assert (round(bp, 2), round(ap, 2)) == (99.99, 100.00)


def test_outside_the_trading_hours_nothing_is_quoted():
    p = DepthQuoterParams(first_hour=9, last_hour=10.5).to_array()
    assert depth_quotes(p, T8, 99.99, 100.01, 0.01)[0] == Q_OUTSIDE_HOURS
    assert depth_quotes(p, T8 + 3_600_000_000_000, 99.99, 100.01, 0.01)[0] == Q_OK  # 09:00
    assert depth_quotes(p, T8 + 9_000_000_000_000, 99.99, 100.01, 0.01)[0] == Q_OUTSIDE_HOURS  # 10:30


@pytest.mark.parametrize("bad, key", [({"bid_depth_bps": -1.0}, "bid_depth_bps"),
                                      ({"ask_depth_bps": float("nan")}, "ask_depth_bps"),
                                      ({"quantity": float("inf")}, "quantity"),
                                      ({"first_hour": 20}, "first_hour")])
def test_bad_parameters_are_one_line_naming_the_key(bad, key):
    with pytest.raises(InputError, match=key):
        DepthQuoterParams(**bad)
    with pytest.raises(InputError, match="unknown"):
        DepthQuoterParams.from_dict({"depth": 1.0})


def test_env_depth_action_space_and_api(day):
    base = ASParams(quantity=0.001, first_hour=0, last_hour=24)
    env = AlphaASEnv(day, base_params=base, action_space="depth", max_depth_bps=8.0, size_range=(0.5, 3.0))
    np.testing.assert_allclose(env.action_space.low, [0.0, 0.0, 0.0005], rtol=1e-6)
    np.testing.assert_allclose(env.action_space.high, [8.0, 8.0, 0.003], rtol=1e-6)
    assert env.initial_params == DepthQuoterParams(4.0, 4.0, 0.001, 0, 24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([20.0, -1.0, 0.002], dtype=np.float32))  # clipped to the box
    assert (info["bid_depth_bps"], info["ask_depth_bps"]) == (8.0, 0.0)
    assert info["quantity"] == pytest.approx(0.002) and "risk_aversion" not in info
    with pytest.raises(ValueError, match="3 finite numbers"):
        env.step([1.0, 1.0])
    with pytest.raises(ValueError, match="max_depth_bps"):
        AlphaASEnv(day, action_space="depth", max_depth_bps=0.0)


def test_a_constant_depth_episode_equals_the_depth_quoter_run_alone(day):
    """The action (D/2, D/2, Q) is the env's initial quote: the episode is then the strategy's own replay."""
    base = ASParams(quantity=0.001, first_hour=0, last_hour=24)
    env = AlphaASEnv(day, base_params=base, action_space="depth", max_depth_bps=3.0, reward="total")
    env.reset(seed=0)
    done, total = False, 0.0
    while not done:
        _, r, done, _, _ = env.step(np.array([1.5, 1.5, 0.001]))
        total += r
    got = env.result()
    ref = Backtest(day, DepthQuoterParams(1.5, 1.5, 0.001, 0, 24), env.backtest.config)
    ref.run_until(env.backtest.last_event + 1)
    want = ref.result()
    assert len(want.fill_ts) > 20
    np.testing.assert_array_equal(got.fill_ts, want.fill_ts)
    for col in ("price", "quantity", "side", "position", "realized_pnl"):
        np.testing.assert_array_equal(got.fills[col], want.fills[col])
    assert got.metrics.final_total_pnl == want.metrics.final_total_pnl
    assert total != 0.0  # the rewards (the total P&L's change from the first decision on) saw it trade
