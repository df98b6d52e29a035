"""The engine's strategy hooks (issue #13): a strategy clock, per-strategy state, on_trade for every trade, on_fill
for every fill, several order levels per side, partly filled orders kept live, Q_HOLD / Q_CANCEL / Q_LEVELS, and
the strategy's extra grid columns — exercised through the two strategies that use them, Hummingbot's AS and GLFT."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from alpha_as.data.store import MarketDay
from alpha_as.data.synthetic import simulate
from alpha_as.engine import Backtest, EngineConfig
from alpha_as.engine import state as S
from alpha_as.engine.config import C_CLOCK_NS, C_LEVELS
from alpha_as.strategies import glft_calibration as G
from alpha_as.strategies import hummingbot_estimators as E
from alpha_as.strategies.glft import GLFTParams
from alpha_as.strategies.hummingbot_as import HummingbotASParams
from alpha_as.strategies.registry import by_name
from tests.engine_days import T0, make_day

MS = 1_000_000
S_NS = 1_000_000_000


@pytest.fixture(scope="module")
def hour_day() -> MarketDay:
    ts, bpx, apx, bq, aq, t_ts, t_px, t_q, t_side = simulate(dt.date(2020, 12, 10), seed=3, hours=1.0)
    return MarketDay("rand", dt.date(2020, 12, 10), ts * MS, bpx, apx, bq, aq, t_ts * MS, t_px, t_q, t_side, True,
                     None, None)


def hb_params(**kw) -> HummingbotASParams:
    return HummingbotASParams(**{"volatility_buffer_size": 30, "trading_intensity_buffer_size": 30,
                                 "order_refresh_time": 5.0, "filled_order_delay": 2.0, **kw})


def glft_params(**kw) -> GLFTParams:
    return GLFTParams(**{"window_s": 60.0, "recalibrate_s": 5.0, "gamma": 0.05, **kw})


def clock_events(day: MarketDay, period_ns: int) -> int:
    """Clock times k·period after the data's first event, up to the last, with a snapshot at or before them."""
    first = min(day.depth_ts[0], day.trade_ts[0])
    last = max(day.depth_ts[-1], day.trade_ts[-1])
    t = np.arange((first // period_ns + 1) * period_ns, last + 1, period_ns)
    return int(np.count_nonzero(t >= day.depth_ts[0]))


def test_registry_entries_declare_their_hooks():
    hb, gl = by_name("hummingbot-as"), by_name("glft")
    assert hb.on_trade and hb.on_fill and hb.keep_after_fill
    assert gl.on_trade and not gl.on_fill and gl.keep_after_fill
    assert not by_name("as").keep_after_fill and not by_name("as").on_trade
    assert set(hb.gene_table) <= set(HummingbotASParams.__dataclass_fields__)
    assert set(gl.gene_table) <= set(GLFTParams.__dataclass_fields__)


def test_hummingbot_sees_every_trade_every_tick_and_every_fill(hour_day):
    bt = Backtest(hour_day, hb_params())
    r = bt.run()
    ss = bt.state.ss
    # every public trade reached on_trade (recorded, or dropped for a reason it counts)
    assert ss[E.S_N_TRADES] + ss[E.S_DROP_NO_MID] + ss[E.S_DROP_FULL] == hour_day.n_trades
    assert ss[E.S_N_TRADES] > 0.9 * hour_day.n_trades
    # one on_tick per second of the clock, none skipped
    assert ss[E.S_N_TICKS] == clock_events(hour_day, S_NS)
    # on_fill saw every fill: its quote balance is the engine's cash (no fees)
    assert r.metrics.n_fills > 20
    assert ss[E.S_CASH] == pytest.approx(bt.state.sf[S.CASH], abs=1e-9)
    # the strategy quotes on its clock, not at snapshots: evaluations = ticks after the warm-up
    c = r.counters
    assert c["quote_updates"] + c["holds"] + c["skipped_warmup"] <= ss[E.S_N_TICKS]
    assert c["holds"] > c["quote_updates"] > 0
    # its diagnostics are grid columns
    for col in ("gamma", "alpha", "kappa", "sigma", "reservation_price", "spread", "q"):
        assert col in r.grid and len(r.grid[col]) == len(r.grid_ts)
    assert np.all(r.grid["gamma"] == 1.0)
    late = r.grid["kappa"][len(r.grid_ts) // 2:]
    assert np.all(np.isfinite(late)) and np.all(late >= 0) and np.mean(late > 0) > 0.5  # κ = 0: the bound


def test_glft_steps_every_100ms_and_sees_every_trade(hour_day):
    bt = Backtest(hour_day, glft_params())
    r = bt.run()
    ss = bt.state.ss
    assert ss[G.S_N_STEPS] == clock_events(hour_day, 100 * MS)
    assert ss[G.S_N_TRADES] + ss[G.S_N_SKIPPED] == hour_day.n_trades
    assert r.counters["skipped_warmup"] == 600  # a 60 s window of 100 ms steps fills before the first quote
    assert r.metrics.n_fills > 20
    for col in ("A", "k", "sigma", "half_spread_ticks", "skew_ticks", "reservation_price"):
        assert col in r.grid
    hs = r.grid["half_spread_ticks"][len(r.grid_ts) // 2:]
    assert np.all(np.isfinite(hs)) and np.all(hs > 0)


def test_several_levels_rest_at_once_and_a_trade_fills_them_in_order(hour_day):
    p = glft_params(grid_num=4, grid_interval_ticks=20)
    bt = Backtest(hour_day, p)
    assert bt.state.orders.shape[0] == 8
    bt.run_until(int(hour_day.depth_ts[0]) + 1800 * S_NS)
    bids = bt.state.orders[0::2]
    live = bids[bids[:, S.O_QTY] > 0]
    assert len(live) >= 3
    assert np.all(np.diff(live[:, S.O_PX]) < 0)  # level 0 the best, each deeper one 20 ticks lower
    assert np.allclose(np.diff(live[:, S.O_PX]), -0.2)
    r = bt.run()
    f = r.fills
    # a trade's quantity is shared among our levels: fills at one time and side never exceed that time's trades
    d = hour_day
    snapshot_times = set(d.depth_ts.tolist())
    multi = 0
    for t in np.unique(r.fill_ts):
        for side in (0, 1):
            m = (r.fill_ts == t) & (f["side"] == (1 if side == 0 else -1)) & (f["taker"] == 0)
            if not m.any():
                continue
            aggressor = -1 if side == 0 else 1
            traded = d.trade_qty[(d.trade_ts == t) & (d.trade_side == aggressor)].sum()
            if t in snapshot_times or traded == 0:
                continue  # a crossing snapshot's fills (or an arrival's): not a trade's
            if len(np.unique(f["limit_price"][m])) > 1:
                multi += 1
                assert f["quantity"][m].sum() <= traded + 1e-12
    assert multi > 0  # some trades went through several of our levels


def test_partly_filled_orders_stay_live_for_keep_after_fill_strategies():
    # a hand-made day: a book alternating by one tick every second, trades at 1, 3 and 6 ticks from the mid with
    # volumes falling with distance (so κ > 0); small trades at our prices fill Hummingbot's orders piece by piece.
    books = (([(99.99, 5.0)], [(100.01, 5.0)]), ([(100.00, 5.0)], [(100.02, 5.0)]))
    depth = [(ms, *books[(ms // 1000) % 2]) for ms in range(0, 40_000, 500)]
    trades = []
    for s in range(1, 30):  # intensity: trades at several distances every second (both sides)
        for j, (dpx, q) in enumerate(((0.01, 4e-5), (0.03, 2e-5), (0.06, 1e-5))):
            trades.append((s * 1000 + 100 + 10 * j, 100.0 + dpx, q, 1))
            trades.append((s * 1000 + 150 + 10 * j, 100.0 - dpx, q, -1))
    day = make_day(depth, trades)
    p = hb_params(volatility_buffer_size=3, trading_intensity_buffer_size=3, order_amount=0.001,
                  order_refresh_time=100.0, min_spread=0.0, order_optimization_enabled=False)
    bt = Backtest(day, p, EngineConfig(latency_ms=0.0, tick=0.01))
    bt.run_until(T0 + 10_000 * MS)
    r = bt.result()
    f = r.fills
    # the 0.06-away trades reached our orders many times; every fill hit the same live order, never re-sent
    assert r.metrics.n_fills >= 4
    assert r.counters["order_requests"] == 2  # one placement per side, no cancel after a fill
    for side in (0, 1):
        o = bt.state.orders[side]
        m = f["side"] == (1 if side == 0 else -1)  # fills: +1 we bought (our bid), -1 we sold
        assert m.any() and np.all(f["limit_price"][m] == o[S.O_PX])
        assert o[S.O_QTY] == pytest.approx(0.001 - f["quantity"][m].sum())
        assert 0 < o[S.O_QTY] < 0.001
    assert bt.state.ss[E.S_N_LIVE] == 2  # Hummingbot's book-keeping agrees: both orders live
    assert bt.state.ss[E.S_CASH] == pytest.approx(bt.state.sf[S.CASH])


def test_paper_strategies_keep_one_level_and_no_clock(hour_day):
    from alpha_as.strategies import ASParams

    bt = Backtest(hour_day, ASParams())
    assert bt.state.orders.shape[0] == 2
    assert bt.ci[C_CLOCK_NS] == 0 and bt.ci[C_LEVELS] == 1  # AS quotes at every snapshot, one level
    r = bt.run()
    assert r.counters["holds"] == 0
    assert list(r.grid)[-1] == "n_fills"  # no extra grid columns
