"""The built-in synthetic BTC market: determinism, calibration to spec §12, book consistency, CLI."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy import stats

from alpha_as.cli import main
from alpha_as.data import paper, store
from alpha_as.data.synthetic import generate_market, simulate
from alpha_as.data.synthetic.calibration import plan_day

DAY = dt.date(2020, 12, 9)


@pytest.fixture(scope="module")
def day_2h():
    return simulate(DAY, seed=3, hours=2.0)


def test_same_seed_same_day_and_other_seed_differs():
    a = simulate(DAY, seed=1, hours=0.2)
    b = simulate(DAY, seed=1, hours=0.2)
    c = simulate(DAY, seed=2, hours=0.2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert len(a[5]) != len(c[5]) or not np.array_equal(a[6], c[6])


def test_counts_within_ten_percent_of_paper_scaled_to_window(day_2h):
    ts, *_rest = day_2h
    t_ts = day_2h[5]
    row = paper.paper_day(DAY)
    assert abs(len(ts) / (row.depth_snapshots * 2 / 12) - 1) < 0.10
    assert abs(len(t_ts) / (row.trades * 2 / 12) - 1) < 0.10


def test_ticks_per_5s_positively_skewed_and_long_tailed(day_2h):
    ts, t_ts = day_2h[0], day_2h[5]
    events = np.concatenate([ts, t_ts])
    counts = np.bincount((events - events.min()) // 5000)
    assert 33 * 0.8 < counts.mean() < 110 * 1.2
    assert counts.std(ddof=1) > 3 * np.sqrt(counts.mean())  # far more dispersed than Poisson
    assert stats.skew(counts) > 0.8
    assert np.percentile(counts, 99.5) > 2.5 * counts.mean()


def test_book_is_a_valid_sorted_5_level_book(day_2h):
    ts, bpx, apx, bq, aq = day_2h[:5]
    assert bpx.shape == (len(ts), 5)
    assert (np.diff(ts) > 0).all()
    assert (bpx[:, 0] < apx[:, 0]).all()
    assert (np.diff(bpx, axis=1) < 0).all() and (np.diff(apx, axis=1) > 0).all()
    assert (bq > 0).all() and (aq > 0).all()
    ticks = np.round(np.concatenate([bpx.ravel(), apx.ravel()]) * 100)
    np.testing.assert_allclose(ticks / 100, np.concatenate([bpx.ravel(), apx.ravel()]), atol=1e-9)


def test_spread_mostly_one_tick_with_a_long_tail(day_2h):
    bpx, apx = day_2h[1], day_2h[2]
    spread = apx[:, 0] - bpx[:, 0]
    assert np.median(spread) == pytest.approx(0.01)
    assert 0.03 < spread.mean() < 1.5
    assert spread.max() > 1.0


def test_trades_walk_the_book_and_are_consistent_with_it(day_2h):
    ts, bpx, apx = day_2h[0], day_2h[1], day_2h[2]
    t_ts, t_px, t_q, t_side = day_2h[5:]
    assert set(np.unique(t_side)) == {-1, 1}
    assert (t_q > 0).all() and (np.diff(t_ts) >= 0).all()
    mid = (bpx[:, 0] + apx[:, 0]) / 2
    i = np.searchsorted(ts, t_ts, side="right") - 1
    ok = i >= 0
    dev = (t_px[ok] - mid[i[ok]]) * t_side[ok]
    # buyer-initiated prints tend to sit above the last snapshot's mid, seller-initiated below
    assert (dev > 0).mean() > 0.55
    # order flow is informative: the mid moves the trade's way over the next 5 s (adverse selection)
    j = np.searchsorted(ts, t_ts + 5000, side="right") - 1
    ok5 = ok & (j < len(ts))
    move = mid[j[ok5]] - mid[i[ok5]]
    assert move[t_side[ok5] > 0].mean() > 0.2 and move[t_side[ok5] < 0].mean() < -0.2
    # and some reach several dollars from the last mid (the price moves between snapshots)
    assert np.percentile(np.abs(dev), 99) > 3.0
    # one market order walking several levels prints several prices in the same millisecond
    same_ms = (np.diff(t_ts) == 0) & (np.diff(t_px) != 0) & (t_side[1:] == t_side[:-1])
    assert same_ms.sum() > 100
    # heavy-tailed sizes
    assert t_q.max() > 20 * np.median(t_q)


def test_price_path_follows_the_daily_closes():
    plan = plan_day(dt.date(2020, 12, 17), seed=0, hours=12)
    prev, close = 21310.0, 22800.0
    start = (prev + (close - prev) * 7 / 24) / 0.01
    end = (prev + (close - prev) * 19 / 24) / 0.01
    assert plan.fair[0] == pytest.approx(start)
    assert plan.fair[-1] == pytest.approx(end)


def test_paper_calendar_special_days_gap_and_double_snapshots():
    gap_day = plan_day(dt.date(2020, 12, 21), hours=12)
    ms_of_day = gap_day.snapshot_ms % 86_400_000
    in_gap = (ms_of_day >= 14 * 3_600_000) & (ms_of_day < 18 * 3_600_000)
    assert not in_gap.any()
    assert abs(len(gap_day.snapshot_ms) / 26_200 - 1) < 0.10
    double = plan_day(dt.date(2021, 1, 8), hours=12)
    assert abs(len(double.snapshot_ms) / 86_326 - 1) < 0.10


def test_generate_market_is_idempotent_and_loads(tmp_path):
    rep = generate_market(tmp_path, start=dt.date(2020, 12, 30), end=dt.date(2021, 1, 1), hours=0.1,
                          seed=5, workers=1)
    assert [d.date for d in rep.days] == [dt.date(2020, 12, 30), dt.date(2021, 1, 1)]  # no 31 Dec
    path = store.partition_path(tmp_path, "depth", "btcusdt_synth", dt.date(2020, 12, 30))
    mtime = path.stat().st_mtime_ns
    again = generate_market(tmp_path, start=dt.date(2020, 12, 30), end=dt.date(2021, 1, 1), hours=0.1,
                            seed=5, workers=1)
    assert all(d.skipped for d in again.days)
    assert path.stat().st_mtime_ns == mtime
    day = store.load_day(tmp_path, "btcusdt_synth", dt.date(2021, 1, 1))
    assert day.has_side and day.n_depth > 300 and day.n_trades > 1000
    assert day.depth_ts[0] >= store.window_ns(day.date, dt.time(7), None)[0]


def test_cli_synth_two_workers_and_bad_arguments(tmp_path, capsys):
    assert main(["data", "synth", "--out", str(tmp_path), "--start", "2020-12-07", "--end", "2020-12-08",
                 "--hours", "0.05", "--workers", "2"]) == 0
    assert store.list_dates(tmp_path, "btcusdt_synth") == [dt.date(2020, 12, 7), dt.date(2020, 12, 8)]
    capsys.readouterr()
    assert main(["data", "synth", "--out", str(tmp_path), "--hours", "13"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--hours" in err[0]
    assert main(["data", "synth", "--out", str(tmp_path), "--start", "2019-01-01", "--end", "2019-01-02"]) == 2
    assert main(["data", "synth", "--out", str(tmp_path), "--start", "2020-13-01"]) == 2


def test_files_are_byte_identical_whatever_the_worker_count(tmp_path):
    kw = dict(start=dt.date(2021, 1, 2), end=dt.date(2021, 1, 3), hours=0.05, seed=11)
    generate_market(tmp_path / "a", workers=1, **kw)
    generate_market(tmp_path / "b", workers=2, **kw)
    for kind in (store.DEPTH, store.TRADE):
        for d in (dt.date(2021, 1, 2), dt.date(2021, 1, 3)):
            pa_ = store.partition_path(tmp_path / "a", kind, "btcusdt_synth", d).read_bytes()
            pb_ = store.partition_path(tmp_path / "b", kind, "btcusdt_synth", d).read_bytes()
            assert pa_ == pb_


def test_days_of_another_generator_version_or_settings_are_regenerated(tmp_path):
    kw = dict(start=dt.date(2021, 1, 2), end=dt.date(2021, 1, 2), hours=0.05, workers=1)
    generate_market(tmp_path, seed=1, **kw)
    stamp = tmp_path / "type=depth" / "instrument=btcusdt_synth" / "synthetic.json"
    assert stamp.is_file()
    path = store.partition_path(tmp_path, "depth", "btcusdt_synth", dt.date(2021, 1, 2))
    first = path.read_bytes()
    assert all(d.skipped for d in generate_market(tmp_path, seed=1, **kw).days)
    # another seed: the day is regenerated, not silently kept
    rep = generate_market(tmp_path, seed=2, **kw)
    assert rep.regenerated and not any(d.skipped for d in rep.days) and path.read_bytes() != first
    # a store from before the stamp (generator 1) is regenerated too
    stamp.unlink()
    rep = generate_market(tmp_path, seed=2, **kw)
    assert rep.regenerated and "regenerated" in rep.summary()
