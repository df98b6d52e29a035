"""Integration: the real samples and the synthetic market import and pass `alpha-as data check`."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from alpha_as.cli import main
from alpha_as.data import store

SAMPLES = {
    "binance": ["hftbacktest_binance_examples/spot/btcusdt_20240808.gz",
                "hftbacktest_binance_examples/spot/btcusdt_20240809.gz"],
    "bitstamp": ["bitstamp_btcusd_20150501_obanalytics/2015-05-01.log.bz2"],
    "lobster": ["lobster_samples_20120621/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"],
}


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_real_sample_imports_and_passes_check(fmt, shared_data, tmp_path, capsys):
    srcs = [str(shared_data / s) for s in SAMPLES[fmt]]
    assert main(["data", "import", fmt, *srcs, "--out", str(tmp_path), "--instrument", f"s_{fmt}"]) == 0
    capsys.readouterr()
    assert main(["data", "check", str(tmp_path), "--json"]) == 0
    days = json.loads(capsys.readouterr().out)
    assert days and all(not [p for p in d["problems"] if p["severity"] == "error"] for d in days)
    assert all(d["stats"]["depth_snapshots"] > 0 and d["stats"]["trades"] > 0 for d in days)
    for d in days:  # and each day loads for the engine, with the aggressor side the importer set
        day = store.load_day(tmp_path, f"s_{fmt}", dt.date.fromisoformat(d["date"]))
        assert day.has_side and day.levels == 5 and np.isin(day.trade_side, (-1, 0, 1)).all()
        assert (day.trade_side != 0).mean() > 0.9 and (day.bid_px[:, 0] < day.ask_px[:, 0]).all()


def test_synthetic_market_passes_check_and_compares_to_the_paper(tmp_path, capsys):
    assert main(["data", "synth", "--out", str(tmp_path), "--start", "2020-12-20", "--end", "2020-12-22",
                 "--hours", "0.5", "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["data", "check", str(tmp_path), "--start", "2020-12-20", "--end", "2020-12-22",
                 "--compare-paper", "--json"]) == 0
    days = json.loads(capsys.readouterr().out)
    assert [d["date"] for d in days] == ["2020-12-20", "2020-12-21", "2020-12-22"]
    for d in days:
        cmp = d["paper"]
        assert abs(cmp["depth_snapshots"]["rel_err"]) < 0.10
        assert abs(cmp["trades"]["rel_err"]) < 0.10
