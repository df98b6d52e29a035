"""One micro-scenario per engine rule: paper fills, latency, side inference, crossing, marketable orders,
unquote-after-fill, fees, the queue model, lot matching and the unrealized mark."""

from __future__ import annotations

import numpy as np
import pytest

from alpha_as.engine import Backtest, EngineConfig
from alpha_as.engine import state as S
from alpha_as.engine.accounting import unwind_price
from alpha_as.strategies import FixedQuoterParams
from tests.engine_days import MS, T0, make_day

HOLD = FixedQuoterParams(interval_s=3600, quantity=0.0001)  # quotes the first snapshot's best prices, then holds


def fills(result):
    f = result.fills
    return [(int((t - T0) // MS), int(s), round(float(p), 6), round(float(q), 8))
            for t, s, p, q in zip(result.fill_ts, f["side"], f["price"], f["quantity"], strict=True)]


def test_trade_at_or_through_the_limit_fills_min_remaining_trade_qty_after_latency():
    day = make_day(
        [(0, [(100.00, 1)], [(100.10, 1)])],
        [(50, 100.10, 0.5, +1),      # before the order reaches the exchange (65 ms): nothing
         (65, 100.10, 0.00004, +1),  # the request arrives first at equal times: partial fill at our limit
         (80, 100.30, 1.0, -1),      # a seller above our ask: wrong side, nothing
         (100, 100.20, 1.0, +1),     # a buyer through our ask: the rest, at our limit price
         (110, 100.05, 1.0, -1),     # a seller above our bid: nothing
         (120, 99.90, 1.0, -1),      # a seller through our bid: fills it
         (140, 100.00, 1.0, -1)],    # the bid is gone: nothing until the next snapshot requotes
    )
    r = Backtest(day, HOLD).run()
    assert fills(r) == [(65, -1, 100.10, 0.00004), (100, -1, 100.10, 0.00006), (120, 1, 100.00, 0.0001)]
    assert (r.fills["taker"] == 0).all() and list(r.fills["limit_price"]) == [100.10, 100.10, 100.00]


def test_filled_side_is_requoted_at_the_next_snapshot_and_live_after_the_latency():
    day = make_day(
        [(0, [(100.00, 1)], [(100.10, 1)]), (1000, [(100.00, 1)], [(100.10, 1)])],
        [(100, 100.10, 1.0, +1), (1050, 100.10, 1.0, +1), (1065, 100.10, 1.0, +1)],
    )
    assert fills(Backtest(day, HOLD).run()) == [(100, -1, 100.10, 0.0001), (1065, -1, 100.10, 0.0001)]


def test_zero_latency_order_is_live_for_trades_at_the_snapshot_time():
    day = make_day([(0, [(100.00, 1)], [(100.10, 1)])], [(0, 100.10, 1.0, +1), (1, 100.10, 1.0, +1)])
    # trades stamped with the snapshot come before it (the snapshot shows the book after them)
    assert fills(Backtest(day, HOLD, EngineConfig(latency_ms=0)).run()) == [(1, -1, 100.10, 0.0001)]


def test_inferred_side_uses_the_mid_of_the_book_including_our_orders():
    depth = [(0, [(100.50, 1)], [(101.00, 1)]),   # we quote 100.50 / 101.00
             (200, [(99.00, 1)], [(101.00, 1)])]  # the book's bid drops; our bid stays (book mid 100.00)
    # trade at 100.40: against the book's mid (100.00) a buyer; against the mid with our bid (100.75) a seller
    day = make_day(depth, [(300, 100.40, 1.0, 0)], has_side=False)
    assert fills(Backtest(day, HOLD).run()) == [(300, 1, 100.50, 0.0001)]


def test_inferred_trade_at_the_mid_fills_nothing():
    day = make_day([(0, [(100.00, 1)], [(100.20, 1)])], [(100, 100.10, 1.0, 0), (200, 100.20, 1.0, 0)],
                   has_side=False)
    assert fills(Backtest(day, HOLD).run()) == [(200, -1, 100.20, 0.0001)]


def test_side_column_overrides_inference_when_present():
    day = make_day([(0, [(100.00, 1)], [(100.20, 1)])], [(100, 100.00, 1.0, +1)])
    assert fills(Backtest(day, HOLD).run()) == []  # a buyer at 100.00 never fills our bid


def test_snapshot_strictly_crossing_a_resting_order_fills_it_level_by_level_at_better_prices():
    day = make_day(
        [(0, [(100.00, 1)], [(100.10, 1)]),
         (200, [(99.90, 1)], [(99.95, 0.00003), (99.99, 1.0)]),
         (400, [(99.90, 1)], [(100.00, 1)])],  # touching our price is not crossing (but the bid is gone anyway)
        [],
    )
    r = Backtest(day, HOLD).run()
    got = fills(r)
    assert got[:2] == [(200, 1, 99.95, 0.00003), (200, 1, 99.99, 0.00007)]
    assert list(r.fills["taker"][:2]) == [0, 0]
    # the quoter then requotes its held 100.00 bid, which arrives marketable (>=) and trades as taker
    assert got[2:] == [(265, 1, 99.95, 0.00003), (265, 1, 99.99, 0.00007), (465, 1, 100.00, 0.0001)]
    assert list(r.fills["taker"][2:]) == [1, 1, 1]


def test_touching_snapshot_does_not_fill():
    day = make_day([(0, [(100.00, 1)], [(100.10, 1)]), (200, [(99.90, 1)], [(100.00, 1)])], [])
    assert fills(Backtest(day, HOLD).run()) == []


def test_marketable_order_on_arrival_fills_at_the_book_levels_as_taker_with_taker_fee():
    day = make_day(
        [(0, [(100.00, 1)], [(100.10, 1)]),
         (30, [(100.20, 0.00004), (100.15, 1.0)], [(100.30, 1)])],  # the book moves before our ask arrives
        [],
    )
    cfg = EngineConfig(maker_fee=0.001, taker_fee=0.002)
    r = Backtest(day, HOLD, cfg).run()
    assert fills(r) == [(65, -1, 100.20, 0.00004), (65, -1, 100.15, 0.00006)]
    assert (r.fills["taker"] == 1).all()
    fees = 0.002 * (100.20 * 0.00004 + 100.15 * 0.00006)
    assert r.fills["fee"].sum() == pytest.approx(fees)
    assert r.fills["cash"][-1] == pytest.approx(100.20 * 0.00004 + 100.15 * 0.00006 - fees)
    assert r.fills["realized_pnl"][-1] == pytest.approx(-fees)


def test_maker_fee_and_rebate():
    day = make_day([(0, [(100.00, 1)], [(100.10, 1)])], [(100, 100.10, 1.0, +1)])
    rebate = Backtest(day, HOLD, EngineConfig(maker_fee=-0.0001)).run()
    assert rebate.fills["fee"][0] == pytest.approx(-0.0001 * 100.10 * 0.0001)
    assert rebate.fills["cash"][0] == pytest.approx(100.10 * 0.0001 + 0.0001 * 100.10 * 0.0001)


def _lots_day():
    return make_day(
        [(0, [(100.00, 1)], [(100.50, 1)]), (1000, [(100.40, 1)], [(100.50, 1)]),
         (2000, [(100.40, 1)], [(100.50, 1)])],
        [(100, 100.00, 1, -1), (1100, 100.40, 1, -1), (2100, 100.50, 1, +1)],  # buy 100.00, buy 100.40, sell 100.50
    )


@pytest.mark.parametrize(("rule", "realized", "unrealized"), [
    ("paper", (100.50 - 100.40) * 0.0001, (100.40 - 100.00) * 0.0001),  # closing a long: highest buy first
    ("fifo", (100.50 - 100.00) * 0.0001, (100.40 - 100.40) * 0.0001),
])
def test_lot_matching_rules(rule, realized, unrealized):
    quoter = FixedQuoterParams(interval_s=1, quantity=0.0001)
    r = Backtest(_lots_day(), quoter, EngineConfig(lot_matching=rule)).run()
    assert fills(r) == [(100, 1, 100.00, 0.0001), (1100, 1, 100.40, 0.0001), (2100, -1, 100.50, 0.0001)]
    assert r.fills["realized_pnl"][-1] == pytest.approx(realized)
    assert r.fills["unrealized_pnl"][-1] == pytest.approx(unrealized, abs=1e-15)
    assert r.fills["total_pnl"][-1] == pytest.approx(0.5 * 0.0001 + 0.0 * 0.0001 + 0.0)
    assert r.fills["position"][-1] == pytest.approx(0.0001)


def test_position_flip_closes_then_opens():
    q = FixedQuoterParams(interval_s=3600, quantity=0.0003)
    day = make_day([(0, [(100.00, 1)], [(100.10, 1)])],
                   [(100, 100.00, 0.0001, -1), (200, 100.10, 1.0, +1)])
    r = Backtest(day, q).run()
    assert fills(r) == [(100, 1, 100.00, 0.0001), (200, -1, 100.10, 0.0003)]
    assert r.fills["position"][-1] == pytest.approx(-0.0002)
    assert r.fills["realized_pnl"][-1] == pytest.approx(0.10 * 0.0001)
    # short 0.0002 opened at 100.10, marked at the ask 100.10: no unrealized
    assert r.fills["unrealized_pnl"][-1] == pytest.approx(0.0)


def test_queue_model_advances_on_trades_at_the_price_and_fills_the_excess():
    q = FixedQuoterParams(interval_s=3600, quantity=0.5)
    day = make_day([(0, [(100.00, 1.0)], [(100.10, 2.0)])],
                   [(100, 100.10, 1.5, +1),   # queue ahead 2.0 -> 0.5
                    (150, 100.10, 0.7, +1),   # 0.2 beyond the queue fills us
                    (180, 100.10, 0.1, +1),   # queue empty: fills 0.1 more (cancel of the rest in flight)
                    (300, 100.10, 1.0, +1)])  # the cancel arrived at 215: nothing
    r = Backtest(day, q, EngineConfig(fill_model="queue")).run()
    assert fills(r) == [(150, -1, 100.10, 0.2), (180, -1, 100.10, 0.1)]


def test_queue_model_trade_through_fills_and_paper_model_ignores_the_queue():
    q = FixedQuoterParams(interval_s=3600, quantity=0.5)
    day = make_day([(0, [(100.00, 1.0)], [(100.10, 2.0)])], [(100, 100.20, 0.3, +1)])
    assert fills(Backtest(day, q, EngineConfig(fill_model="queue")).run()) == [(100, -1, 100.10, 0.3)]
    day = make_day([(0, [(100.00, 1.0)], [(100.10, 2.0)])], [(100, 100.10, 0.3, +1)])
    assert fills(Backtest(day, q, EngineConfig(fill_model="paper")).run()) == [(100, -1, 100.10, 0.3)]
    assert fills(Backtest(day, q, EngineConfig(fill_model="queue")).run()) == []


def test_queue_model_power_probability_split_of_size_decreases():
    q = FixedQuoterParams(interval_s=3600, quantity=0.1)
    depth = [(0, [(100.00, 1.0)], [(100.50, 1.0)]),
             (500, [(100.00, 0.6)], [(100.50, 1.0)]),   # all ahead of us: front 1.0 -> 0.6
             (600, [(100.00, 2.0)], [(100.50, 1.0)]),   # others join behind: front stays 0.6
             (700, [(100.00, 1.5)], [(100.50, 1.0)])]   # front 0.6, back 1.4, decrease 0.5
    prob = 1.4**2 / (1.4**2 + 0.6**2)
    front = 0.6 - (1 - prob) * 0.5
    day = make_day(depth, [(800, 100.00, 0.6, -1)])
    r = Backtest(day, q, EngineConfig(fill_model="queue", queue_power=2.0)).run()
    assert len(r.fill_ts) == 1 and r.fills["quantity"][0] == pytest.approx(min(0.1, 0.6 - front))
    assert r.fills["quantity"][0] == pytest.approx(0.6 - front)


def test_queue_model_trades_already_seen_are_not_counted_twice_at_the_snapshot():
    q = FixedQuoterParams(interval_s=3600, quantity=0.1)
    depth = [(0, [(100.00, 1.0)], [(100.50, 1.0)]),
             (500, [(100.00, 0.7)], [(100.50, 1.0)])]  # the 0.3 decrease is the trade below
    day = make_day(depth, [(400, 100.00, 0.3, -1), (600, 100.00, 0.69, -1), (700, 100.00, 0.05, -1)])
    r = Backtest(day, q, EngineConfig(fill_model="queue")).run()
    # queue 1.0 -> 0.7 after the trade; the snapshot's 0.3 decrease is that trade: still 0.7; 0.69 leaves 0.01
    assert fills(r) == [(700, 1, 100.00, 0.04)]


def test_unwind_price_walks_the_levels_and_uses_the_deepest_price_beyond_them():
    day = make_day([(0, [(100.00, 1.0), (99.00, 1.0)], [(101.00, 1.0), (102.00, 1.0)])], [])
    bt = Backtest(day, None, EngineConfig(mark_sigma_bound=0))
    bt.run()
    st = bt.state
    assert st.si[S.BOOK] == 0
    assert unwind_price(st, day.bid_px, day.bid_qty, day.ask_px, day.ask_qty, bt.cf, 1.5) == pytest.approx(
        (100.0 * 1.0 + 99.0 * 0.5) / 1.5)
    assert unwind_price(st, day.bid_px, day.bid_qty, day.ask_px, day.ask_qty, bt.cf, -3.0) == pytest.approx(
        (101.0 + 102.0 + 102.0) / 3.0)


def test_grid_rows_every_5_seconds_with_the_state():
    depth = [(t, [(100.00, 1)], [(100.10, 1)]) for t in range(0, 12_000, 1000)]
    day = make_day(depth, [(100, 100.10, 1.0, +1)])
    r = Backtest(day, HOLD).run()
    assert list((r.grid_ts - T0) // MS) == [5000, 10000]
    assert r.grid["position"][0] == pytest.approx(-0.0001)
    assert np.isnan(r.grid["ask_quote"]).sum() == 0  # requoted after the fill


def test_quoter_can_leave_a_filled_side_empty_until_its_next_requote():
    depth = [(t, [(100.00, 1)], [(100.10, 1)]) for t in range(0, 7000, 1000)]
    trades = [(100, 100.10, 1.0, +1), (1100, 100.10, 1.0, +1), (5100, 100.10, 1.0, +1)]
    q = FixedQuoterParams(interval_s=5.0, repost_filled_side=False)
    # filled at 100 ms; no repost at 1 s; requoted at 5 s, live at 5.065 s
    assert fills(Backtest(make_day(depth, trades), q).run()) == [(100, -1, 100.10, 0.0001), (5100, -1, 100.10, 0.0001)]
    q = FixedQuoterParams(interval_s=5.0)
    assert [f[0] for f in fills(Backtest(make_day(depth, trades), q).run())] == [100, 1100, 5100]


def test_stepped_reward_is_the_change_of_the_asymmetric_dampened_pnl():
    from alpha_as.engine import SteppedBacktest
    from alpha_as.strategies import ASParams

    # AS with a fixed k quotes from the 3rd snapshot; a buyer lifts our ask, then the market rises:
    # realized stays 0, unrealized turns negative (short into a rising market) and counts fully
    depth = [(t, [(100.00 + 0.01 * (t // 1000), 5)], [(100.01 + 0.01 * (t // 1000), 5)]) for t in range(0, 15000, 500)]
    day = make_day(depth, [(2000, 200.0, 1.0, +1)])
    env = SteppedBacktest(day, ASParams(k_default=1e9, window_tick=3, spread_multiplier=0.01), decision_seconds=5)
    obs0 = env.reset()  # the first decision time is 07:00:05: the fill at 2 s is already in
    obs, r1, _, _ = env.step()
    obs2, r2, _, _ = env.step()
    assert obs0["position"] < 0 and obs["realized_pnl"] == 0.0 and obs0["unrealized_pnl"] < 0
    assert r1 == pytest.approx(min(obs["unrealized_pnl"], 0.0) - min(obs0["unrealized_pnl"], 0.0))
    assert r2 == pytest.approx(min(obs2["unrealized_pnl"], 0.0) - min(obs["unrealized_pnl"], 0.0))
    assert r1 < 0 and r2 < 0
