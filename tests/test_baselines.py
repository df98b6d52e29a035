"""The two non-AS baselines: prices from a book level, and their inventory rules, on micro-scenarios."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alpha_as.cli import main
from alpha_as.engine import Backtest
from alpha_as.errors import InputError
from alpha_as.experiments.config import canonical, load_config
from baselines import FOICParams, LIICParams
from baselines.common import N_PARAMS
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


ONE_TICK = make_day([(0, [(30000.00, 1), (29999.95, 1)], [(30000.01, 1), (30000.06, 1)])], [])


@pytest.mark.parametrize("fn", [foic_quotes, liic_quotes])
def test_one_tick_spread_on_grid_joins_the_touch_and_the_authors_rule_is_half_a_tick_behind(fn):
    cls = FOICParams if fn is foic_quotes else LIICParams
    bid, _, ask, _ = quotes(fn, cls(clamp="on_grid"), 0.0, day=ONE_TICK)
    assert (bid, ask) == (30000.00, 30000.01)  # exactly the book's prices
    bid, _, ask, _ = quotes(fn, cls(), 0.0, day=ONE_TICK)
    assert bid == pytest.approx(29999.995) and ask == pytest.approx(30000.015)  # mid -/+ tick: off the grid
    assert quotes(fn, cls(clamp="on_grid", level=1), 0.0, day=ONE_TICK)[::2] == (29999.95, 30000.06)


@pytest.mark.parametrize(("bids", "asks", "want"), [
    ([100.00], [100.02], (100.00, 100.02)),    # two ticks: the touch (no clamp binds)
    ([100.00], [100.05], (100.00, 100.05)),    # wider: the touch
    ([100.01], [100.01], (100.00, 100.02)),    # locked: the grid prices around the mid
    ([100.03], [100.00], (100.01, 100.02)),    # crossed (mid 100.015): a tick either side of the grid's midpoint
    ([100.004], [100.012], (100.00, 100.02)),  # off the grid: the grid, at least half a tick from the mid
])
def test_on_grid_never_quotes_inside_half_a_tick_or_off_the_grid(bids, asks, want):
    day = make_day([(0, [(bids[0], 1)], [(asks[0], 1)])], [])
    bid, _, ask, _ = quotes(foic_quotes, FOICParams(clamp="on_grid"), 0.0, day=day)
    assert bid == pytest.approx(want[0], abs=1e-9) and ask == pytest.approx(want[1], abs=1e-9)
    mid = 0.5 * (bids[0] + asks[0])
    assert bid <= mid - 0.005 + 1e-9 and ask >= mid + 0.005 - 1e-9
    assert abs(bid / 0.01 - round(bid / 0.01)) < 1e-6 and abs(ask / 0.01 - round(ask / 0.01)) < 1e-6


def test_clamp_option_in_the_vector_the_config_files_and_the_run_command(tmp_path, capsys):
    assert FOICParams().to_array().shape == (N_PARAMS,) and N_PARAMS == 6
    assert FOICParams().to_array()[5] == 0.0 and LIICParams(clamp="on_grid").to_array()[5] == 1.0
    # the default stays out of the dict and the config hash (earlier results keep their identity)
    assert "clamp" not in FOICParams().to_dict() and "clamp" not in canonical(LIICParams())
    assert canonical(LIICParams(clamp="on_grid"))["clamp"] == "on_grid"
    cfg = tmp_path / "e.toml"
    cfg.write_text('[experiment]\ndata = "d"\ninstrument = "x"\ndays = ["2020-12-09"]\n'
                   '[models.f]\nkind = "foic"\nparams = { clamp = "on_grid" }\n')
    assert load_config(cfg, check_data=False).models["f"].params.clamp == "on_grid"
    cfg.write_text(cfg.read_text().replace('"on_grid"', '"inside"'))
    with pytest.raises(InputError) as e:
        load_config(cfg, check_data=False)
    msg = str(e.value)
    assert "[models.f] params" in msg and "clamp must be one of authors, on_grid, got 'inside'" in msg
    assert "\n" not in msg
    rc = main(["run", "liic", "--data", str(tmp_path), "--instrument", "x", "--day", "2020-12-09",
               "--out", str(tmp_path / "o"), "--params", json.dumps({"clamp": 3})])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "key 'clamp' must be str" in err
    rc = main(["run", "liic", "--data", str(tmp_path), "--instrument", "x", "--day", "2020-12-09",
               "--out", str(tmp_path / "o"), "--params", '{"clamp": "grid"}'])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "LIIC: clamp must be one of authors, on_grid" in err


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
