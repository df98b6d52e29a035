"""State features (spec §6.2): values against a plain-Python reference, causality, private features, the
Normalizer and `alpha-as features` end to end."""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest

from alpha_as.agents.features import (
    DEFAULT_FEATURES,
    PRIVATE_FEATURES,
    STATE_FEATURES,
    Normalizer,
    all_market_features,
    fi_candidates,
    market_features,
    private_features,
)
from alpha_as.cli import main
from alpha_as.errors import InputError
from tests.engine_days import MS, T0, make_day

LEVELS = 3


def _random_lists(seed: int = 1, n_depth: int = 40, n_trades: int = 90, span_ms: int = 600_000):
    rng = np.random.default_rng(seed)
    depth = []
    for ms in np.sort(rng.choice(np.arange(0, span_ms, 500), n_depth, replace=False)):
        mid = 100 + rng.normal()
        half = rng.uniform(0.05, 0.5)
        bids = [(round(mid - half - 0.1 * j, 2), float(rng.integers(1, 9))) for j in range(LEVELS)]
        asks = [(round(mid + half + 0.1 * j, 2), float(rng.integers(1, 9))) for j in range(LEVELS)]
        depth.append((int(ms), bids, asks))
    tms = np.sort(rng.integers(0, span_ms, n_trades))
    tms = tms[(tms // 60_000) != 4]  # an empty minute: no candle
    trades = [(int(ms), float(100 + rng.normal()), float(rng.uniform(0.1, 2)), 1) for ms in tms]
    return depth, trades


def _reference(depth, trades, t_ms: float, name: str, h: int = 5, sample_std: bool = False) -> float:
    """Plain-Python value of one feature at time t (ms after T0)."""
    nan = float("nan")
    base, _, lag = name.rpartition("_")
    if name in ("ma", "std", "max", "min"):
        base, lag = name, 0
    lag = int(lag)
    if base in ("bid_price", "ask_price", "bid_qty", "ask_qty", "spread", "midprice", "imbalance", "microprice"):
        idx = [i for i, r in enumerate(depth) if r[0] <= t_ms]
        if len(idx) <= lag:
            return nan
        _, bids, asks = depth[idx[-1 - lag]]
        (b, bq), (a, aq) = bids[0], asks[0]
        mid = (a + b) / 2
        sb, sa = sum(q for _, q in bids[:5]), sum(q for _, q in asks[:5])
        return {"bid_price": abs(b - mid), "ask_price": abs(a - mid), "bid_qty": bq, "ask_qty": aq,
                "spread": a - b, "midprice": mid, "imbalance": (sb - sa) / (sb + sa),
                "microprice": abs((a * aq + b * bq) / (aq + bq) - mid)}[base]
    if base in ("last_close_price", "last_close_qty"):
        done = [r for r in trades if r[0] <= t_ms]
        if len(done) <= lag:
            return nan
        r = done[-1 - lag]
        return r[1] if base == "last_close_price" else r[2]
    by_min: dict[int, list] = {}
    for r in trades:
        by_min.setdefault(r[0] // 60_000, []).append(r[1])
    cs = []
    for m in sorted(by_min):
        if (m + 1) * 60_000 <= t_ms:
            p = by_min[m]
            cs.append({"high": max(p) / p[0] - 1, "low": min(p) / p[0] - 1, "close": p[-1] / p[0] - 1})
    if base in ("high", "low", "close"):
        return cs[-1 - lag][base] if len(cs) > lag else nan
    if len(cs) < h:
        return nan
    last = cs[-h:]
    closes = [c["close"] for c in last]
    if base == "ma":
        return sum(closes) / h
    if base == "std":
        return statistics.stdev(closes) if sample_std else statistics.pvariance(closes)
    if base == "max":
        return max(c["high"] for c in last)
    return min(c["low"] for c in last)


def _times(depth, trades, extra=()):
    ts = list(range(-1000, 640_000, 6_999)) + [r[0] for r in depth[::5]] + [r[0] for r in trades[::7]]
    ts += [m * 60_000 for m in range(11)] + list(extra)
    return sorted(set(ts))


@pytest.mark.parametrize("std_kind", ["java_variance", "sample_std"])
def test_market_features_match_reference(std_kind):
    depth, trades = _random_lists()
    day = make_day(depth, trades, levels=LEVELS)
    tms = _times(depth, trades)
    names = all_market_features()
    tab = market_features(day, np.array([T0 + t * MS for t in tms], dtype=np.int64), std_kind=std_kind)
    assert tab.names == names and tab.X.shape == (len(tms), len(names))
    ref = np.array([[_reference(depth, trades, t, n, sample_std=std_kind == "sample_std") for n in names]
                    for t in tms])
    np.testing.assert_allclose(tab.X, ref, rtol=1e-12, atol=1e-12, equal_nan=True)
    # spot checks of what the reference says: lags exist, early rows are NaN, indicators appear late
    assert np.isnan(tab.col("bid_price_9")[0]) and np.isfinite(tab.col("bid_price_9")[-1])
    assert np.isfinite(tab.col("std")[-1]) and np.isnan(tab.col("std")[0])


def test_handmade_values_and_authors_microprice():
    depth = [(0, [(99.0, 1.0), (98.0, 3.0)], [(101.0, 3.0), (102.0, 1.0)]),
             (1000, [(99.5, 2.0), (99.0, 2.0)], [(100.5, 6.0), (101.0, 2.0)])]
    trades = [(100, 100.0, 1.0, 1), (30_000, 102.0, 2.0, -1), (59_999, 101.0, 1.0, 1), (60_000, 50.0, 1.0, 1)]
    day = make_day(depth, trades, levels=2)
    names = ["microprice_0", "microprice_1", "imbalance_0", "spread_1", "midprice_0", "last_close_qty_1",
             "high_0", "low_0", "close_0", "bid_price_0"]
    X = market_features(day, np.array([T0 + 60_000 * MS], dtype=np.int64), names).X[0]
    # newest snapshot: bid 99.5x2, ask 100.5x6 → micro = (100.5·6 + 99.5·2)/8 = 100.25; mid 100 → 0.25
    # (the usual weighting would give 99.75, also 0.25 away: check the sign via a lopsided book below)
    assert X[0] == pytest.approx(0.25)
    assert X[1] == pytest.approx(abs((101 * 3 + 99 * 1) / 4 - 100))  # 0.5
    assert X[2] == pytest.approx((4 - 8) / 12)
    assert X[3] == pytest.approx(2.0) and X[4] == pytest.approx(100.0)
    assert X[5] == pytest.approx(1.0)  # trade at 60 000 ms is <= t, so lag 1 is the 59 999 trade
    assert X[6] == pytest.approx(102 / 100 - 1) and X[7] == pytest.approx(0.0) and X[8] == pytest.approx(0.01)
    assert X[9] == pytest.approx(0.5)
    # lopsided: authors' micro = (ask·askQty + bid·bidQty)/(askQty+bidQty) sits near the ask when askQty is big
    day2 = make_day([(0, [(99.0, 1.0)], [(101.0, 9.0)])], [], levels=1)
    t = np.array([T0], dtype=np.int64)
    assert market_features(day2, t, ["microprice_0"]).X[0, 0] == pytest.approx((101 * 9 + 99) / 10 - 100)


def test_causality_future_data_does_not_change_past_features():
    depth, trades = _random_lists(seed=3)
    cut = 333_333  # mid-minute
    past_d = [r for r in depth if r[0] <= cut]
    past_t = [r for r in trades if r[0] <= cut]
    full = make_day(depth, trades, levels=LEVELS)
    part = make_day(past_d, past_t, levels=LEVELS)
    times = np.array([T0 + t * MS for t in _times(depth, trades) if t <= cut], dtype=np.int64)
    a = market_features(part, times).X
    b = market_features(full, times).X
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a[-1]).sum() > 100


def test_private_features_from_fill_rows():
    fill_ts = np.array([T0 + 1000 * MS, T0 + 2000 * MS, T0 + 2000 * MS, T0 + 5000 * MS,
                        T0 + 6000 * MS, T0 + 7000 * MS, T0 + 9000 * MS], dtype=np.int64)
    pos = np.array([0.001, 0.002, 0.0015, 0.0, -0.001, -0.002, -0.0025])
    real = np.array([0.0, 0.0, 0.01, 0.03, 0.02, 0.02, 0.05])
    unreal = np.array([0.01, -0.02, -0.01, 0.0, 0.005, -0.004, 0.0])
    times = np.array([T0, T0 + 1000 * MS, T0 + 2500 * MS, T0 + 8000 * MS, T0 + 10_000 * MS], dtype=np.int64)
    X = private_features(fill_ts, pos, real, unreal, times)
    assert X.shape == (5, 10) and len(PRIVATE_FEATURES) == 10
    assert PRIVATE_FEATURES[0] == "inventory_4" and PRIVATE_FEATURES[4] == "inventory_0"
    for i, t in enumerate(times):
        inv, score = [0.0] * 5, [0.0] * 5  # horizon-5 buffers, oldest first, start at 0
        for k in range(len(fill_ts)):
            if fill_ts[k] <= t:
                inv = inv[1:] + [pos[k] / 0.0001]
                score = score[1:] + [(real[k] + min(unreal[k], 0.0)) / 0.0001]
        np.testing.assert_allclose(X[i], inv + score, atol=1e-9)
    assert X[0].tolist() == [0.0] * 10
    assert X[1, 4] == pytest.approx(10.0) and X[1, 9] == pytest.approx(0.0)


def test_default_features_22_all_computable():
    assert len(DEFAULT_FEATURES) == 22 and len(set(DEFAULT_FEATURES)) == 22
    assert len(STATE_FEATURES) == 32
    depth, trades = _random_lists(seed=5)
    day = make_day(depth, trades, levels=LEVELS)
    X = market_features(day, np.array([T0 + 620_000 * MS], dtype=np.int64), DEFAULT_FEATURES).X
    assert np.isfinite(X).all()


def test_candidates_and_unknown_names():
    c = fi_candidates()
    assert len(c) == 107 and "imbalance_0" not in c and "max" not in c and "min" not in c and "std" in c
    assert set(c) <= set(all_market_features()) and len(all_market_features()) == 80 + 20 + 15 + 4
    day = make_day([(0, [(99.0, 1.0)], [(101.0, 1.0)])], [], levels=1)
    t = np.array([T0], dtype=np.int64)
    for bad in ("foo_0", "bid_price_10", "high_5", "ma_1"):
        with pytest.raises(InputError):
            market_features(day, t, [bad])
    assert math.isnan(market_features(day, t, ["last_close_price_0"]).X[0, 0])


def test_normalizer_round_trip():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(5, 2, 200), np.full(200, 3.0), rng.normal(0, 1, 200)])
    X[:10, 2] = np.nan
    n = Normalizer.fit(X, ["a", "b", "c"])
    assert n.std[1] == 1.0 and n.mean[2] == pytest.approx(np.nanmean(X[:, 2]))
    n2 = Normalizer.from_dict(json.loads(json.dumps(n.to_dict())))
    np.testing.assert_array_equal(n.transform(X), n2.transform(X))
    Z = n.transform(X, nan=None)
    assert np.isnan(Z[:10, 2]).all() and abs(np.nanmean(Z[:, 0])) < 1e-12
    assert (n.transform(X)[:10, 2] == 0).all()
    with pytest.raises(InputError):
        Normalizer.from_dict({"names": ["a"], "mean": [0, 1], "std": [1]})


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fisynth")
    assert main(["data", "synth", "--out", str(root), "--start", "2020-12-07", "--end", "2020-12-07",
                 "--hours", "0.5", "--workers", "1"]) == 0
    return root


def test_features_cli_end_to_end_deterministic(synth_root, tmp_path, capsys):
    docs = []
    for k in range(2):
        out = tmp_path / f"fi{k}.json"
        assert main(["features", "--data", str(synth_root), "--instrument", "btcusdt_synth", "--day",
                     "2020-12-07", "--out", str(out), "--window", "all", "--seed", "7"]) == 0
        docs.append(json.loads(out.read_text()))
    a, b = docs
    assert a == b
    assert a["features"] and set(a["features"]) <= set(fi_candidates()) and len(a["features"]) <= 36
    assert set(a["importances"]) == {"mdi", "mda", "sfi"} and len(a["importances"]["mdi"]) == 107
    assert a["day"] == "2020-12-07" and a["seed"] == 7 and a["label_horizon_s"] == 5.0
    assert a["n_rows"] > 500 and 0.2 < a["positive_fraction"] < 0.8
    out = tmp_path / "small.json"
    assert main(["features", "--data", str(synth_root), "--instrument", "btcusdt_synth", "--day",
                 "2020-12-07", "--out", str(out), "--window", "all", "--max-rows", "300"]) == 0
    assert json.loads(out.read_text())["n_rows"] <= 300


@pytest.mark.parametrize("extra", [
    ["--instrument", "nope"],
    ["--day", "2020-13-40"],
    ["--window", "7-19x"],
    ["--horizon-s", "0"],
    ["--max-rows", "5"],
    ["--day", "2020-12-08"],
])
def test_features_cli_bad_inputs(synth_root, tmp_path, capsys, extra):
    args = {"--data": str(synth_root), "--instrument": "btcusdt_synth", "--day": "2020-12-07",
            "--out": str(tmp_path / "x.json")}
    for k, v in zip(extra[::2], extra[1::2], strict=True):
        args[k] = v
    argv = ["features"] + [x for kv in args.items() for x in kv]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    assert not (tmp_path / "x.json").exists()
