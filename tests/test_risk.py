"""The risk module (issue #15, alpha_as.engine.risk): one test per rule, modelled on nautilus_trader's risk-engine
tests (the throttler's 101st submit, HALTED and REDUCING, a notional at its cap and cap + ε), micro-scenarios on
hand-made days for the per-event rules (stale book, kill switch with flatten, TTL), a property test of the
inventory cap under latency races, and the config paths. With risk off, or on with every check off, the engine's
results are bit-identical."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from alpha_as.agents.features import DEFAULT_FEATURES
from alpha_as.cli import main
from alpha_as.engine import Backtest, EngineConfig, SteppedBacktest
from alpha_as.engine import risk as R
from alpha_as.engine import state as S
from alpha_as.engine.risk import RiskConfig
from alpha_as.errors import InputError
from alpha_as.experiments.config import canonical
from alpha_as.strategies import ASParams, FixedQuoterParams
from alpha_as.strategies.hummingbot_as import HummingbotASParams
from tests.engine_days import MS, T0, make_day
from tests.test_engine_properties import random_day

SEC = 1_000_000_000
HOLD = FixedQuoterParams(interval_s=3600, quantity=0.0001)
AS = ASParams(k_default=5.0, spread_multiplier=0.2, window_tick=5, quantity=0.0004)  # trades on the random days
HB = HummingbotASParams(order_levels=2, order_refresh_time=1.0, filled_order_delay=1.0, volatility_buffer_size=10,
                        trading_intensity_buffer_size=10)  # quotes within the short random days


def risk_state(cfg: RiskConfig, mid: float = 100.0, position: float = 0.0, levels: int = 1) -> S.State:
    """A fresh engine state with the risk slots, a mid seen and a position (the compiled checks' inputs)."""
    st = R.set_state(S.new_state(0, levels=levels), cfg, levels)
    st.sf[R.F_MID] = mid
    st.sf[S.POSITION] = position
    return st


def quote(st: S.State, side: int, px: float, qty: float, t: int, lv: int = 0) -> None:
    """The strategy asks for (px, qty) on ``side`` at ``t`` (risk_quote, as the loops call it; no latency)."""
    R.risk_quote_call(st.orders, st.si, st.sf, st.req_i, st.req_f, np.int64(0), np.int64(side), np.int64(lv),
                 float(px), float(qty), np.int64(t), 0.01)


def denied(st: S.State) -> dict[str, int]:
    return {k: v for k, v in R.summary(st)["denied"].items() if v}


def sent(st: S.State) -> int:
    return int(st.si[S.N_REQUESTS])


def fills(result):
    f = result.fills
    return [(int((t - T0) // MS), int(s), round(float(p), 6), round(float(q), 8))
            for t, s, p, q in zip(result.fill_ts, f["side"], f["price"], f["quantity"], strict=True)]


# ------------------------------------------------------------------------------- the request checks

def test_101_submits_in_one_window_100_pass_and_the_101st_is_denied():
    st = risk_state(RiskConfig(max_submits=100, submit_window_s=1.0))
    for k in range(101):  # a new price each time: each is a replacement (a submit)
        quote(st, 0, 99.00 - 0.01 * k, 0.001, T0)
    assert sent(st) == 100 and denied(st) == {"submit_rate": 1}
    assert st.orders[0, S.O_WORK_PX] == pytest.approx(99.00 - 0.01 * 99)  # the 100th is the working order
    quote(st, 0, 98.00, 0.001, T0 + SEC - 1)
    assert denied(st) == {"submit_rate": 2}  # still within the window of the first
    quote(st, 0, 98.00, 0.001, T0 + SEC)
    assert sent(st) == 101  # the first left the window
    st = risk_state(RiskConfig(max_cancels=1, submit_window_s=1.0))
    quote(st, 0, 99.0, 0.001, T0)
    quote(st, 0, 99.0, 0.0, T0)
    quote(st, 0, 99.0, 0.001, T0)
    quote(st, 0, 99.0, 0.0, T0)
    assert denied(st) == {"cancel_rate": 1} and sent(st) == 3


def test_a_throttled_strategy_in_a_replay_is_denied_past_the_limit():
    """The fixed quoter requotes at every 1-ms snapshot (new best prices each time): 3 submits per side a second."""
    day = make_day([(k, [(100.00 - 0.01 * k, 1)], [(100.10 + 0.01 * k, 1)]) for k in range(10)], [])
    q = FixedQuoterParams(interval_s=0.0005, quantity=0.0001)
    r = Backtest(day, q, EngineConfig(risk=RiskConfig(max_submits=6))).run()
    assert r.counters["order_requests"] == 6 and r.info["risk"]["denied"]["submit_rate"] == 14
    assert Backtest(day, q).run().counters["order_requests"] == 20


def test_halted_denies_a_submit_but_not_a_cancel():
    st = risk_state(RiskConfig())
    quote(st, 0, 99.0, 0.001, T0)
    st.si[S.TRADING_STATE] = R.HALTED
    quote(st, 0, 98.0, 0.001, T0 + 1)  # a replacement: a new order
    quote(st, 1, 101.0, 0.001, T0 + 1)
    assert denied(st) == {"halted": 2} and sent(st) == 1
    quote(st, 0, 0.0, 0.0, T0 + 2)  # the cancel passes
    assert sent(st) == 2 and st.orders[0, S.O_WORK_QTY] == 0.0
    # from the start of a replay: nothing reaches the venue, every quote is counted
    day = make_day([(0, [(100.00, 1)], [(100.10, 1)]), (1000, [(100.00, 1)], [(100.10, 1)])],
                   [(500, 99.00, 1.0, -1)])
    r = Backtest(day, HOLD, EngineConfig(risk=RiskConfig(trading_state="halted"))).run()
    assert r.counters["order_requests"] == 0 and r.metrics.n_fills == 0
    assert r.info["risk"]["denied"]["halted"] == 4 and r.info["risk"]["trading_state"] == "halted"


def test_reducing_denies_the_side_that_adds_exposure():
    st = risk_state(RiskConfig(trading_state="reducing"), position=0.002)
    quote(st, 0, 99.0, 0.001, T0)  # a buy when long adds
    assert denied(st) == {"reducing": 1} and sent(st) == 0
    quote(st, 1, 101.0, 0.003, T0)  # a sell larger than the position would flip it
    assert denied(st) == {"reducing": 2}
    quote(st, 1, 101.0, 0.002, T0)
    assert sent(st) == 1
    flat = risk_state(RiskConfig(trading_state="reducing"))
    quote(flat, 0, 99.0, 0.001, T0)
    quote(flat, 1, 101.0, 0.001, T0)
    assert denied(flat) == {"reducing": 2}
    short = risk_state(RiskConfig(trading_state="reducing"), position=-0.001)
    quote(short, 0, 99.0, 0.001, T0)
    quote(short, 1, 101.0, 0.001, T0)
    assert denied(short) == {"reducing": 1} and short.si[S.REQ_N + 0] == 1


@pytest.mark.parametrize("key, at, over", [
    ("max_notional_per_order", (100.0, 2.0), (100.0, 2.0 + 1e-9)),
    ("max_notional", (100.0, 2.0), (100.0, 2.0 + 1e-9)),
])
def test_a_notional_exactly_at_its_cap_passes_and_cap_plus_eps_is_denied(key, at, over):
    cfg = RiskConfig(**{key: 200.0})
    ok, bad = risk_state(cfg), risk_state(cfg)
    quote(ok, 0, at[0], at[1], T0)
    quote(bad, 0, over[0], over[1], T0)
    reason = "order_notional" if key == "max_notional_per_order" else "notional"
    assert sent(ok) == 1 and denied(ok) == {}
    assert sent(bad) == 0 and denied(bad) == {reason: 1}


def test_the_position_caps_count_the_position_and_open_same_side_orders_live_or_in_flight():
    cfg = RiskConfig(max_inventory=0.01)
    st = risk_state(cfg, position=0.008)
    quote(st, 0, 99.0, 0.002, T0)  # exactly at the cap
    assert sent(st) == 1
    quote(st, 0, 98.0, 0.001, T0)  # replacing it: the first is still in flight (it may fill before this arrives)
    assert denied(st) == {"inventory": 1}
    quote(st, 1, 101.0, 0.018, T0)  # a sell may take the position to -0.01
    assert sent(st) == 2
    eps = risk_state(cfg, position=0.008)
    quote(eps, 0, 99.0, 0.002 + 1e-9, T0)
    assert denied(eps) == {"inventory": 1}
    # the notional cap the same way, at the mid: long 1 at mid 100 with a 250 cap leaves room for 1.5
    st = risk_state(RiskConfig(max_notional=250.0), position=1.0)
    quote(st, 0, 99.0, 1.5, T0)
    quote(st, 1, 101.0, 3.5, T0)
    quote(st, 1, 102.0, 0.1, T0)  # the open 3.5 counts: -2.6 x 100 > 250
    assert sent(st) == 2 and denied(st) == {"notional": 1}


def test_min_spread_moves_a_quote_out_or_denies_it():
    st = risk_state(RiskConfig(min_spread_bps=2.0))  # 1 bp each side of the 100.00 mid: 99.99 / 100.01
    quote(st, 0, 100.00, 0.001, T0)
    quote(st, 1, 100.005, 0.001, T0)
    assert st.orders[0, S.O_WORK_PX] == pytest.approx(99.99) and st.orders[1, S.O_WORK_PX] == pytest.approx(100.01)
    assert R.summary(st)["actions"]["quotes_moved_out"] == 2 and sent(st) == 2
    quote(st, 0, 100.00, 0.001, T0 + 1)  # the same wish again moves to the same price: nothing sent
    assert sent(st) == 2
    deny = risk_state(RiskConfig(min_spread_bps=2.0, min_spread_action="deny"))
    quote(deny, 0, 100.00, 0.001, T0)
    quote(deny, 1, 100.01, 0.001, T0)
    assert denied(deny) == {"min_spread": 1} and sent(deny) == 1


def test_price_deviation_denies_a_far_order_and_cancels_a_resting_one_that_strays():
    st = risk_state(RiskConfig(max_price_deviation_bps=50.0))
    quote(st, 0, 99.49, 0.001, T0)
    quote(st, 1, 100.50, 0.001, T0)
    assert denied(st) == {"price_deviation": 1} and sent(st) == 1
    day = make_day([(0, [(100.00, 1)], [(100.10, 1)]), (1000, [(100.40, 1)], [(100.50, 1)]),
                    (2000, [(101.00, 1)], [(101.10, 1)])], [])
    far = FixedQuoterParams(interval_s=3600, quantity=0.0001, offset_ticks=100)  # 99.00 / 101.10, held
    r = Backtest(day, far, EngineConfig(risk=RiskConfig(order_price_deviation_bps=150.0))).run()
    # at 1 s (mid 100.45) the bid is 1.45 from it, within 150 bps; at 2 s (mid 101.05) 2.05: cancelled (and re-posted
    # at its held price by the fixed quoter); the ask, 0.05 from it, stays
    assert r.info["risk"]["actions"]["cancels_price_deviation"] == 1
    assert r.counters["order_requests"] == 4


def test_cancel_cooldown_between_cancels_of_a_side():
    st = risk_state(RiskConfig(cancel_cooldown_s=0.2))
    quote(st, 0, 99.00, 0.001, T0)  # a new order: no cancel
    quote(st, 0, 99.01, 0.001, T0 + 1)  # a replacement cancels the working order
    quote(st, 0, 99.02, 0.001, T0 + SEC // 10)
    quote(st, 0, 0.0, 0.0, T0 + SEC // 10)
    assert denied(st) == {"cooldown": 2} and sent(st) == 2
    quote(st, 1, 101.00, 0.001, T0 + SEC // 10)  # the other side has its own
    quote(st, 0, 0.0, 0.0, T0 + 1 + SEC // 5)
    assert sent(st) == 4 and st.orders[0, S.O_WORK_QTY] == 0.0


# ------------------------------------------------------------------------------- per-event rules, in replays

def test_a_stale_book_stops_quoting_and_cancels():
    """One snapshot at 0, then none until 10 s; trades at 3 s and 3.5 s. With stale_after_s 2 the event at 3 s finds
    the book 3 s old: pause, cancel both orders (live again only at the 10-s snapshot), so the seller at 3.5 s
    through our bid fills nothing; without the module it fills."""
    day = make_day([(0, [(100.00, 1)], [(100.10, 1)]), (10_000, [(100.00, 1)], [(100.10, 1)])],
                   [(3000, 100.05, 0.1, 1), (3500, 99.90, 1.0, -1)])
    cfg = EngineConfig(grid_seconds=60.0, risk=RiskConfig(stale_after_s=2.0))
    r = Backtest(day, HOLD, cfg).run()
    assert fills(r) == [] and fills(Backtest(day, HOLD, EngineConfig(grid_seconds=60.0)).run())
    a = r.info["risk"]["actions"]
    assert a["pauses"] == 1 and a["cancels_stale"] == 2
    assert r.counters["order_requests"] == 6  # 2 placed, 2 cancelled, 2 placed again on the fresh book at 10 s


def test_missing_mids_pause_after_the_limit_and_quoting_resumes_on_a_good_book():
    good, bad = ([(100.00, 1)], [(100.10, 1)]), ([(100.00, 1)], [])
    day = make_day([(0, *good), (1000, *bad), (2000, *bad), (3000, *good), (4000, *bad), (5000, *good)], [])
    r2 = Backtest(day, HOLD, EngineConfig(risk=RiskConfig(mid_none_limit=2))).run()
    r3 = Backtest(day, HOLD, EngineConfig(risk=RiskConfig(mid_none_limit=3))).run()
    assert r2.info["risk"]["actions"]["pauses"] == 1 and r3.info["risk"]["actions"]["pauses"] == 0
    # the engine cancels on an empty side anyway; the strategy quotes again at each good snapshot
    assert r2.counters["order_requests"] == r3.counters["order_requests"] == 10  # placed at 0, 3, 5 s; cancelled at 1, 4


def kill_day():
    """Long 1 at 100.00 (a seller through our bid at 0.5 s); the mid falls to 96.05 (P&L −3.95) then 94.05 (−5.95);
    the book's bids at 94.00 × 0.6 and 93.90 × 0.3 cannot take the whole position; a seller at 6 s through 100.00
    and a buyer at 6.5 s through 100.10 would fill a strategy still quoting."""
    b2 = [(94.00, 0.6), (93.90, 0.3)]
    return make_day([(0, [(100.00, 1)], [(100.10, 1)]), (1000, [(96.00, 1)], [(96.10, 1)]),
                     (2000, b2, [(94.10, 1)]), (3000, b2, [(94.10, 1)]), (4000, [(94.00, 1)], [(94.10, 1)]),
                     (5000, [(100.00, 1)], [(100.10, 1)])],
                    [(500, 99.90, 1.0, -1), (6000, 99.00, 1.0, -1), (6500, 101.00, 1.0, 1)])


def test_the_kill_switch_fires_at_the_threshold_cancels_flattens_and_trades_no_more():
    q = FixedQuoterParams(interval_s=4.0, quantity=1.0, repost_filled_side=False)  # requotes at 4 s
    cfg = EngineConfig(risk=RiskConfig(kill_loss=5.0, flatten=True, flat_retries=2, flat_retry_backoff_s=0.5))
    bt = Backtest(kill_day(), q, cfg)
    r = bt.run()
    k = r.info["risk"]["kill"]
    assert k["cause"] == "kill_loss" and k["time_ns"] == T0 + 2000 * MS and k["pnl"] == pytest.approx(-5.95)
    assert r.info["risk"]["trading_state"] == "halted"
    a = r.info["risk"]["actions"]
    assert a["cancels_kill"] == 1  # the ask; the bid had filled
    # flatten 1: sent at 3 s (the first event after the kill's cancel arrived), at the deepest bid 93.90; it takes
    # 0.6 at 94.00 and 0.3 at 93.90 on arrival, and the paper's unquoteSide cancels its rest; flatten 2 (at 4 s,
    # after the backoff) sells the 0.1 left
    assert fills(r) == [(500, 1, 100.0, 1.0), (3065, -1, 94.0, 0.6), (3065, -1, 93.9, 0.3), (4065, -1, 94.0, 0.1)]
    assert a["flatten_orders"] == 2 and bt.state.sf[S.POSITION] == 0.0
    assert r.info["risk"]["denied"]["halted"] > 0  # the strategy kept asking: nothing more reached the venue
    plain = Backtest(kill_day(), q, EngineConfig(risk=RiskConfig(kill_loss=6.0))).run()
    assert plain.info["risk"]["kill"] is None and len(fills(plain)) > 1  # it requotes at 4 s and trades on
    # without flatten: halted with the position; one attempt only: 0.1 left
    assert fills(Backtest(kill_day(), q, EngineConfig(risk=RiskConfig(kill_loss=5.0))).run()) == [(500, 1, 100.0, 1.0)]
    one = Backtest(kill_day(), q, EngineConfig(risk=RiskConfig(kill_loss=5.0, flatten=True, flat_retries=1)))
    one.run()
    assert one.state.sf[S.POSITION] == pytest.approx(0.1)


def test_kill_on_a_percentage_of_the_notional_limit_and_profit_take():
    q = FixedQuoterParams(interval_s=3600, quantity=1.0, repost_filled_side=False)
    r = Backtest(kill_day(), q, EngineConfig(risk=RiskConfig(kill_loss_pct=1.5, max_notional=200.0))).run()  # at −3
    assert r.info["risk"]["kill"]["cause"] == "kill_loss_pct" and r.info["risk"]["kill"]["time_ns"] == T0 + 1000 * MS
    up = make_day([(0, [(100.00, 1)], [(100.10, 1)]), (1000, [(103.00, 1)], [(103.10, 1)])], [(500, 99.90, 1.0, -1)])
    r = Backtest(up, q, EngineConfig(risk=RiskConfig(profit_take=2.0))).run()  # the 103.00 bids also take our ask
    assert r.info["risk"]["kill"]["cause"] == "profit_take" and r.info["risk"]["kill"]["pnl"] == pytest.approx(3.0)


def test_order_ttl_cancels_an_old_order():
    day = make_day([(0, [(100.00, 1)], [(100.10, 1)]), (500, [(100.00, 1)], [(100.10, 1)]),
                    (1500, [(100.00, 1)], [(100.10, 1)])], [])
    r = Backtest(day, HOLD, EngineConfig(risk=RiskConfig(order_ttl_s=1.0))).run()
    # placed at 0; at the 1.5-s event both are older than 1 s: cancelled, then re-posted by the strategy
    assert r.info["risk"]["actions"]["cancels_ttl"] == 2 and r.counters["order_requests"] == 6
    assert Backtest(day, HOLD).run().counters["order_requests"] == 2


# ------------------------------------------------------------------------------- off is off; the inventory property

@pytest.mark.parametrize("strategy", [AS, HB], ids=["paper", "general"])
def test_risk_off_and_a_risk_config_with_every_check_off_are_bit_identical(strategy):
    day = random_day(11, True)
    base = Backtest(day, strategy).run()
    on = Backtest(day, strategy, EngineConfig(risk=RiskConfig())).run()
    np.testing.assert_array_equal(base.fill_ts, on.fill_ts)
    for k in base.fills:
        np.testing.assert_array_equal(base.fills[k], on.fills[k])
    for k in base.grid:
        np.testing.assert_array_equal(base.grid[k], on.grid[k])
    assert base.counters == on.counters and "risk" not in base.info and on.info["risk"]["denied_total"] == 0
    assert "risk" not in EngineConfig().to_dict() and "risk" not in canonical(EngineConfig())


@settings(max_examples=60, deadline=None)
@given(seed=hst.integers(0, 10_000), cap=hst.sampled_from([0.0005, 0.001, 0.0025]),
       qty=hst.sampled_from([0.0001, 0.0004, 0.001]), latency=hst.sampled_from([0.0, 65.0, 400.0, 1500.0]),
       fill_model=hst.sampled_from(["paper", "queue"]), which=hst.sampled_from(["fixed", "as", "hb"]))
def test_with_max_inventory_the_position_never_exceeds_it(seed, cap, qty, latency, fill_model, which):
    strategy = {"fixed": FixedQuoterParams(interval_s=0.5, quantity=qty, offset_ticks=0),
                "as": dataclasses.replace(AS, quantity=qty),
                "hb": dataclasses.replace(HB, order_amount=qty)}[which]
    cfg = EngineConfig(fill_model=fill_model, latency_ms=latency, risk=RiskConfig(max_inventory=cap))
    r = Backtest(random_day(seed, True), strategy, cfg).run()
    assert np.all(np.abs(r.fills["position"]) <= cap * (1 + 1e-12) + 1e-15)
    assert np.all(np.abs(r.grid["position"]) <= cap * (1 + 1e-12) + 1e-15)


def test_the_trading_state_slot_is_readable_and_settable_from_an_agents_loop():
    env = SteppedBacktest(random_day(5, True), ASParams(k_default=0.5), EngineConfig(risk=RiskConfig()))
    env.reset()
    assert env.bt.state.si[S.TRADING_STATE] == R.ACTIVE
    env.step()
    env.bt.state.si[S.TRADING_STATE] = R.HALTED
    n = env.bt.state.si[S.N_REQUESTS]
    for _ in range(5):
        env.step()
    assert env.bt.state.si[S.N_REQUESTS] == n and env.result().info["risk"]["denied"]["halted"] > 0


# ------------------------------------------------------------------------------- configuration

def test_risk_config_errors_are_one_line_naming_the_key():
    for kw, key in [({"max_inventory": -1.0}, "max_inventory"), ({"trading_state": "open"}, "trading_state"),
                    ({"min_spread_action": "skip"}, "min_spread_action"), ({"order_ttl_s": -1.0}, "order_ttl_s"),
                    ({"max_submits": -1}, "max_submits"), ({"submit_window_s": 0.0}, "submit_window_s")]:
        with pytest.raises(InputError, match=f"risk: {key}") as e:
            RiskConfig(**kw)
        assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="kill_loss_pct is a percentage of max_notional"):
        RiskConfig(kill_loss_pct=5.0)
    with pytest.raises(InputError, match=r"risk.*unknown key\(s\) bogus"):
        EngineConfig.from_dict({"risk": {"bogus": 1}})
    with pytest.raises(InputError, match="key 'kill_loss' must be"):
        RiskConfig.from_dict({"kill_loss": "400"})
    cfg = EngineConfig.from_dict({"risk": {"max_inventory": 0.01}})
    assert EngineConfig(**cfg.to_dict()) == cfg  # a job's engine dict rebuilds the same config
    assert canonical(cfg)["risk"]["max_inventory"] == 0.01


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("risk") / "store"
    assert main(["data", "synth", "--out", str(root), "--start", "2020-12-09", "--end", "2020-12-09",
                 "--hours", "0.25", "--workers", "1"]) == 0
    return root


def test_cli_runs_and_report_take_the_risk_table(store, tmp_path, capsys):
    common = ["--data", str(store), "--instrument", "btcusdt_synth", "--day", "2020-12-09", "--window", "07:00-07:15"]
    risk = json.dumps({"max_inventory": 0.0002, "min_spread_bps": 2.0, "cancel_cooldown_s": 0.2})
    assert main(["run", "as", "--risk", risk, "--out", str(tmp_path / "r"), *common]) == 0
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["engine"]["risk"]["max_inventory"] == 0.0002 and m["risk"]["denied_total"] > 0
    capsys.readouterr()
    assert main(["run", "as", "--risk", '{"max_inventory": -1}', "--out", str(tmp_path / "bad"), *common]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "max_inventory must be a finite number > 0" in err
    cfg = tmp_path / "r.toml"
    head = (f'[experiment]\nname = "r"\ndata = "{store}"\ninstrument = "btcusdt_synth"\n'
            f'out = "{tmp_path / "out"}"\ndays = ["2020-12-09"]\nwindow = "07:00-07:15"\nworkers = 1\n')
    cfg.write_text(head + "[risk]\nmax_inventory = 0.0002\nkill_loss = 0.5\n[models.as]\nkind = \"as\"\n"
                   "[models.as-off]\nkind = \"as\"\nrisk = false\n")
    assert main(["runs", "--config", str(cfg)]) == 0
    job = tmp_path / "out" / "as" / "2020-12-09" / "seed=0"
    man = json.loads((job / "manifest.json").read_text())
    assert man["config"]["engine"]["risk"]["kill_loss"] == 0.5
    assert json.loads((job / "metrics.json").read_text())["risk"]["denied"]["inventory"] > 0
    off = json.loads((tmp_path / "out" / "as-off" / "2020-12-09" / "seed=0" / "manifest.json").read_text())
    assert "risk" not in off["config"]["engine"] and "risk" not in json.loads(
        (tmp_path / "out" / "as-off" / "2020-12-09" / "seed=0" / "metrics.json").read_text())
    assert main(["report", str(tmp_path / "out")]) == 0  # the report's section on what the module prevented
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Risk module" in report and "| as | 1 | 1 |" in report and "| as-off | 1 | 0 | — |" in report
    head_csv, *body = (tmp_path / "out" / "tables" / "risk.csv").read_text().splitlines()
    vals = {r.split(",")[0]: dict(zip(head_csv.split(","), r.split(","), strict=True)) for r in body}
    assert float(vals["as"]["denied_inventory"]) > 0 and vals["as-off"]["denied_total"] == "nan"
    summary = {r["model"]: r for r in csv.DictReader((tmp_path / "out" / "summary.csv").open())}
    for m in ("as", "as-off"):  # both models' outcomes, read beside each other
        assert float(vals[m]["pnl"]) == pytest.approx(float(summary[m]["final_total_pnl"]))
    both = tmp_path / "both.toml"
    both.write_text(head + '[engine.risk]\nkill_loss = 1.0\n[risk]\nkill_loss = 1.0\n[models.as]\nkind = "as"\n')
    capsys.readouterr()
    assert main(["runs", "--config", str(both)]) == 2
    assert "not both" in capsys.readouterr().err


def test_a_protocols_risk_table_reaches_its_strategies_and_agents(tmp_path):
    from alpha_as.experiments.protocol import load_protocol

    cfg = tmp_path / "p.toml"
    base = (f'[protocol]\ndata = "{tmp_path / "store"}"\ninstrument = "x"\nout = "{tmp_path / "out"}"\n'
            'window = "07:00-07:06"\nfi = "2020-12-08"\ntrain = "2020-12-08"\ntest = ["2020-12-09"]\n'
            'models = ["gen-as", "alpha-as-1"]\nworkers = 1\n')
    cfg.write_text(base)
    plain = load_protocol(cfg)
    assert plain.engine.risk is None and "risk" not in plain.identity()["engine"]
    cfg.write_text(base + "[risk]\nmax_inventory = 0.001\nkill_loss = 40.0\n")
    p = load_protocol(cfg)
    assert p.engine.risk == RiskConfig(max_inventory=0.001, kill_loss=40.0)
    assert p.identity()["engine"]["risk"]["kill_loss"] == 40.0
    cfg.write_text(base + "[risk]\nmax_inventory = 0\n")
    with pytest.raises(InputError, match=r"\[risk\].*max_inventory must be a finite number > 0"):
        load_protocol(cfg)
    cfg.write_text(base + "[risk]\nmax_inventory = 0.001\nkill_loss = 40.0\n")
    agent = load_protocol(cfg).agent_config("alpha-as-1", 0, list(DEFAULT_FEATURES))
    assert agent.engine_config().risk == RiskConfig(max_inventory=0.001, kill_loss=40.0)  # the agents train behind it
