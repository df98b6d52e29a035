"""``alpha-as data microstructure``: hand-made days with known answers, the real Binance spot sample, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest

from alpha_as.cli import main
from alpha_as.data import store
from alpha_as.data.microstructure import format_table, headline, measure, measure_days, tick_rule_side
from alpha_as.data.store import MarketDay

DAY = dt.date(2021, 2, 1)
T0 = int(dt.datetime(2021, 2, 1, 7, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000
NS = 1_000_000_000


def make_day(depth_s, bid, ask, trade_s=(), px=(), qty=(), side=None, date=DAY, t0=T0) -> MarketDay:
    """A one-level MarketDay; times in seconds after ``t0``; ``side=None`` = a tape without side."""
    d_ts = t0 + np.round(np.asarray(depth_s, float) * NS).astype(np.int64)
    n = len(d_ts)
    bid = np.broadcast_to(np.asarray(bid, float), (n,)).reshape(n, 1).copy()
    ask = np.broadcast_to(np.asarray(ask, float), (n,)).reshape(n, 1).copy()
    t_ts = t0 + np.round(np.asarray(trade_s, float) * NS).astype(np.int64)
    sd = np.zeros(len(t_ts), np.int8) if side is None else np.asarray(side, np.int8)
    return MarketDay("x", date, d_ts, bid, ask, np.ones((n, 1)), np.ones((n, 1)), t_ts,
                     np.asarray(px, float), np.asarray(qty, float), sd, side is not None, None, None)


def test_flat_mid():
    """A mid that never moves: no change in any 1-s interval, sd 0, VR undefined, impact 0."""
    n = 600
    rng = np.random.default_rng(1)
    sides = rng.choice([-1, 1], size=300)
    t = np.arange(300) * 2.0 + 0.5
    day = make_day(np.arange(n), 100.0, 100.02, t, np.where(sides > 0, 100.02, 100.0), np.full(300, 0.1), sides)
    r = measure_days([day], engine=None)
    h = headline(r)
    assert h["zero_change_share_1s"] == 1.0
    assert h["mid_change_sd_bps_1"] == 0.0 and h["mid_change_sd_bps_60"] == 0.0
    assert math.isnan(h["vr_5_1"]) and r["vr_5_1"]["value"] is None
    assert h["impact_bps_5"] == 0.0
    assert h["spread_median_ticks"] == pytest.approx(2.0) and h["spread_one_tick_share"] == 0.0
    # the maker earns half the spread at every horizon: 0.01 / 100.01 in bps, 1 tick
    assert h["realized_spread_bps_30"] == pytest.approx(0.01 / 100.01 * 1e4)
    assert h["realized_spread_ticks_1"] == pytest.approx(1.0)
    assert h["prints_per_s"] == pytest.approx(300 / 599)
    assert r["meta"]["segments"] == 1 and r["meta"]["ci"]["blocks"] == 9  # 599 s in blocks of >= 60 s
    lo, hi = r["prints_per_s"]["lo"], r["prints_per_s"]["hi"]
    assert lo <= h["prints_per_s"] <= hi
    assert "n/a" in format_table([r])


def test_orders_walking_and_sign_acf():
    """Order grouping (same timestamp and side, consecutive), walking share, sign ACF of prints and orders."""
    trade_s = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    px = [100.01, 100.02, 100.0, 100.0, 100.01, 100.0]
    qty = [1.0, 2.0, 1.0, 1.0, 1.0, 1.0]
    side = [1, 1, -1, -1, 1, -1]
    day = make_day(np.arange(10), 100.0, 100.01, trade_s, px, qty, side)
    r = measure_days([day], engine=None)
    h = headline(r)
    assert r["meta"]["orders"] == 4 and r["meta"]["prints"] == 6
    assert h["walking_order_share"] == pytest.approx(0.25)
    assert h["walking_volume_share"] == pytest.approx(3 / 7)
    assert h["sign_acf_orders_1"] == pytest.approx(-1.0)    # + - + -
    assert h["sign_acf_prints_1"] == pytest.approx(-0.2)    # + + - - + -: products +1 -1 +1 -1 -1
    assert r["sign_acf_prints"]["10"]["value"] is None
    assert h["order_size_quantiles_p50"] == 1.0 and h["order_size_quantiles_p90"] == 3.0
    assert h["print_size_quantiles_p99"] == 2.0
    assert h["orders_per_s"] == pytest.approx(4 / 9)


def test_impact_sign_and_mid_before():
    """A buy lifts the mid, a sell drops it: both positive impact; mid(t-) is strictly before the order
    (the snapshot at the order's own timestamp already shows the move)."""
    depth_s = np.arange(0, 200.0)
    mid = np.where(depth_s >= 10, 101.0, 100.0)
    mid = np.where(depth_s >= 100, 100.0, mid)
    day = make_day(depth_s, mid - 0.005, mid + 0.005, [10.0, 100.0], [100.005, 100.995], [1.0, 1.0], [1, -1])
    r = measure_days([day], engine=None)
    up, down = 1.0 / 100.0 * 1e4, 1.0 / 101.0 * 1e4
    for h in ("1", "5", "30", "60"):
        assert r["impact_bps"][h]["value"] == pytest.approx((up + down) / 2)
        assert r["impact_bps"][h]["n"] == 2
    assert r["impact_ratio_1_30"]["value"] == pytest.approx(1.0)
    # the maker sold at 100.005 and the mid went to 101: a loss
    assert r["realized_spread_bps"]["5"]["value"] < 0


def test_tick_rule():
    px = [100.0, 100.01, 100.02, 100.01, 100.01]
    day = make_day(np.arange(10), 99.99, 100.03, [1, 2, 3, 4, 5], px, np.ones(5), [1, 1, 1, -1, 1])
    h = headline(measure_days([day], engine=None))
    assert h["tick_rule_accuracy"] == 1.0
    assert h["zero_tick_share"] == pytest.approx(0.25)
    assert tick_rule_side(np.array([100, 100, 101, 101, 100, 100.0])).tolist() == [0, 0, 1, 1, -1, -1]
    no_side = make_day(np.arange(10), 99.99, 100.03, [1, 2, 3, 4, 5], px, np.ones(5), None)
    r = measure_days([no_side], engine=None)
    assert r["tick_rule_accuracy"]["value"] is None and r["meta"]["side_source"] == "tick rule"
    assert r["sign_acf_prints"]["1"]["n"] == 3  # the first print has no inferred side


def test_gap_between_days_is_not_crossed():
    """Two 07:00-07:10 days: two segments; no 60-s horizon from the last minute of day 1 into day 2."""
    d2 = DAY + dt.timedelta(days=1)
    a = make_day(np.arange(600), 100.0, 100.01, [590.0], [100.01], [1.0], [1])
    b = make_day(np.arange(600), 200.0, 200.01, [10.0], [200.01], [1.0], [1], date=d2, t0=T0 + 86_400 * NS)
    r = measure_days([b, a], engine=None)
    assert r["meta"]["segments"] == 2 and r["meta"]["dates"] == [str(DAY), str(d2)]
    assert r["impact_bps"]["60"]["n"] == 1 and r["impact_bps"]["5"]["n"] == 2
    assert r["impact_bps"]["60"]["value"] == 0.0
    assert r["meta"]["hours"] == pytest.approx(2 * 599 / 3600)


# ------------------------------------------------------------------ the real Binance spot sample


@pytest.fixture(scope="module")
def spot_store(shared_data, tmp_path_factory):
    from alpha_as.data.importers import run_import

    out = tmp_path_factory.mktemp("spot")
    src = [shared_data / "hftbacktest_binance_examples" / "spot" / f"btcusdt_2024080{d}.gz" for d in (8, 9)]
    run_import("binance", src, out, "spot", levels=5, interval_ms=1000)
    return out


def test_real_spot(spot_store):
    r = measure(spot_store)
    h = headline(r)
    assert r["meta"]["dates"] == ["2024-08-08", "2024-08-09"] and r["meta"]["segments"] == 1
    assert 0.3 <= h["zero_change_share_1s"] <= 0.7
    assert h["tick_rule_accuracy"] >= 0.9
    assert h["touch_quoter_markout_bps_5"] < 0
    assert r["touch_quoter_fills"]["value"] > 100
    assert h["spread_median_ticks"] == pytest.approx(1.0)
    assert 0.0003 < h["print_size_quantiles_p50"] < 0.002
    assert 1.0 < h["vr_5_1"] < 1.6
    assert h["walking_markout_ratio"] > 1.5
    lo, hi = r["touch_quoter_markout_bps"]["5"]["lo"], r["touch_quoter_markout_bps"]["5"]["hi"]
    assert lo < h["touch_quoter_markout_bps_5"] < hi


# ------------------------------------------------------------------ CLI


def _tiny_store(root, instrument="a", mid=100.0, date=DAY):
    ts = T0 // 1_000_000 + 1000 * np.arange(300, dtype=np.int64)
    rng = np.random.default_rng(0)
    m = mid + 0.01 * np.cumsum(rng.choice([-1, 0, 1], size=300))
    bid, ask = (m - 0.005)[:, None], (m + 0.005)[:, None]
    store.write_depth(root, instrument, date, ts, bid, ask, np.ones((300, 1)), np.ones((300, 1)))
    t_ts = ts[::3] + 500
    side = rng.choice([-1, 1], size=len(t_ts))
    store.write_trades(root, instrument, date, t_ts, np.where(side > 0, ask[::3, 0], bid[::3, 0]),
                       np.full(len(t_ts), 0.01), side)


def test_cli_compare(tmp_path, capsys):
    _tiny_store(tmp_path / "s1")
    _tiny_store(tmp_path / "s2", "b", 200.0)
    _tiny_store(tmp_path / "s2", "c", 300.0)
    rc = main(["data", "microstructure", str(tmp_path / "s1"), "--no-engine",
               "--compare", f"{tmp_path / 's2'}:b", f"{tmp_path / 's2'}:c"])
    out = capsys.readouterr().out
    assert rc == 0
    assert f"[1] {tmp_path / 's1'}:a: 2021-02-01" in out and f"[2] {tmp_path / 's2'}:b" in out
    assert f"[3] {tmp_path / 's2'}:c" in out
    row = next(line for line in out.splitlines() if "taker orders / s" in line)
    assert row.count("[") == 3  # three cells, each with an interval
    rc = main(["data", "microstructure", str(tmp_path / "s1"), "--json", "--window", "07:00-07:02",
               "--compare", f"{tmp_path / 's2'}:b"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(doc["stores"]) == 2
    assert doc["stores"][0]["meta"]["hours"] == pytest.approx(119 / 3600)
    assert doc["stores"][0]["touch_quoter_fills"]["value"] is not None


@pytest.mark.parametrize("args, words", [
    (["--instrument", "zz"], "instrument 'zz' is not in the store"),
    (["--start", "2021-13-01"], "bad date"),
    (["--start", "2022-01-01"], "no days of"),
    (["--window", "25:00-26:00"], "bad --window"),
    (["--compare", "{root}:nope"], "instrument 'nope'"),
    (["--compare", "{root}-missing"], "store root not found"),
])
def test_cli_errors(tmp_path, capsys, args, words):
    root = tmp_path / "s"
    _tiny_store(root)
    rc = main(["data", "microstructure", str(root), "--no-engine", *[a.format(root=root) for a in args]])
    err = capsys.readouterr().err
    assert rc == 2
    assert words in err and err.count("\n") == 1


def test_cli_several_instruments(tmp_path, capsys):
    _tiny_store(tmp_path, "a")
    _tiny_store(tmp_path, "b")
    assert main(["data", "microstructure", str(tmp_path), "--no-engine"]) == 2
    assert "several instruments (a, b)" in capsys.readouterr().err
