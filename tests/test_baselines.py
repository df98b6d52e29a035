"""The two non-AS baselines: prices from a book level, and their inventory rules, on micro-scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from alpha_as.engine import Backtest
from baselines import FOICParams, LIICParams
from baselines.fixed_offset import foic_quotes
from baselines.linear_inventory import liic_quotes
from tests.engine_days import T0, make_day

BOOK = make_day([(0, [(100.00, 1), (99.90, 1)], [(100.10, 1), (100.20, 1)])], [])
H13 = T0 + 6 * 3_600_000_000_000  # 13:00 UTC


def quotes(fn, params, position, t=H13, day=BOOK):
    return fn(params.to_array(), day.bid_px, day.ask_px, 0, position, t, 0.01)


def test_foic_joins_the_best_or_a_deeper_level_with_the_mid_clamp():
    assert quotes(foic_quotes, FOICParams(), 0.0) == (100.00, 0.0001, 100.10, 0.0001)
    assert quotes(foic_quotes, FOICParams(level=1), 0.0) == (99.90, 0.0001, 100.20, 0.0001)
    tight = make_day([(0, [(100.00, 1)], [(100.01, 1)])], [])
    bid, _, ask, _ = quotes(foic_quotes, FOICParams(), 0.0, day=tight)
    assert bid == pytest.approx(99.995) and ask == pytest.approx(100.015)  # mid -/+ tick


@pytest.mark.parametrize(("position", "bid_qty", "ask_qty"), [
    (0.0, 0.0001, 0.0001), (0.001, 0.0001, 0.0001), (0.0011, 0.0, 0.0001), (-0.0011, 0.0001, 0.0),
])
def test_foic_stops_the_side_that_passed_the_limit(position, bid_qty, ask_qty):
    _, bq, _, aq = quotes(foic_quotes, FOICParams(inventory_limit=0.001), position)
    assert (bq, aq) == (bid_qty, ask_qty)


@pytest.mark.parametrize(("position", "bid_qty", "ask_qty"), [
    (0.0, 0.0001, 0.0001),
    (0.0003, 0.0001 - 0.0003 * 0.1, 0.0001),   # long: the bid shrinks by |pos| x q / limit
    (-0.0005, 0.0001, 0.00005),                # short: the ask shrinks
    (0.001, 0.0, 0.0001),                      # at the limit: no bid
    (-0.002, 0.0001, 0.0),                     # beyond it: no ask
])
def test_liic_size_shrinks_linearly_to_zero_at_the_limit(position, bid_qty, ask_qty):
    _, bq, _, aq = quotes(liic_quotes, LIICParams(inventory_limit=0.001), position)
    assert bq == pytest.approx(bid_qty, abs=1e-15) and aq == pytest.approx(ask_qty, abs=1e-15)


def test_baselines_quote_only_inside_their_hours():
    for fn, p in ((foic_quotes, FOICParams()), (liic_quotes, LIICParams())):
        assert quotes(fn, p, 0.0, t=T0 - 1)[1] == 0.0 and quotes(fn, p, 0.0, t=T0 + 12 * 3_600_000_000_000)[3] == 0.0


def test_foic_in_the_engine_stops_buying_past_the_limit():
    # sellers keep hitting the bid: the position grows to just past the limit, then the bid is withdrawn
    depth = [(t, [(100.00, 1)], [(100.10, 1)]) for t in range(0, 20_000, 500)]
    trades = [(t + 100, 100.00, 0.00006, -1) for t in range(0, 20_000, 500)]
    r = Backtest(make_day(depth, trades), FOICParams(inventory_limit=0.0003)).run()
    pos = r.fills["position"]
    assert 0.0003 < pos.max() <= 0.0003 + 0.0001 + 1e-12  # one order past the limit at most, then no bid
    assert np.isnan(r.grid["bid_quote"][-1])  # no bid quoted at the end


def test_liic_in_the_engine_never_passes_the_limit():
    depth = [(t, [(100.00, 1)], [(100.10, 1)]) for t in range(0, 30_000, 500)]
    trades = [(t + 100, 100.00, 1.0, -1) for t in range(0, 30_000, 500)]
    r = Backtest(make_day(depth, trades), LIICParams(inventory_limit=0.0005)).run()
    assert r.fills["position"].max() <= 0.0005 + 1e-12
    assert r.fills["position"][-1] > 0.0004
