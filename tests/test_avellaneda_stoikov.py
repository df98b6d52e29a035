"""The AS quote formulas (spec §3) against hand computation; parameter validation; the `run` CLI."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from alpha_as.cli import main
from alpha_as.engine import state as S
from alpha_as.errors import InputError
from alpha_as.strategies import ASParams
from alpha_as.strategies.avellaneda_stoikov import (
    Q_K_INVALID,
    Q_OK,
    Q_OUTSIDE_HOURS,
    Q_WARMUP,
    as_quotes,
    time_left,
)

DAY0 = int(dt.datetime(2020, 12, 9, tzinfo=dt.timezone.utc).timestamp()) * 10**9
H = 3_600 * 10**9


def estimator_state(mids, bid_counts=(40.0, 50.0), ask_counts=(50.0, 45.0)):
    si = np.zeros(S.NSI, dtype=np.int64)
    buf = np.zeros(S.MID_CAP)
    buf[: len(mids)] = mids
    si[S.N_MIDS] = len(mids)
    si[S.MID_HEAD] = len(mids)
    kq = np.zeros((3, S.KQ_CAP))
    kq[0, :2] = bid_counts
    kq[1, :2] = ask_counts
    si[S.KQ_N] = 2
    si[S.KQ_HEAD] = 2
    return si, buf, kq


def expected(p: ASParams, mids, position, tt, bid0, ask0, k_bid, k_ask, tick=0.01):
    mid = (bid0 + ask0) / 2
    var = np.var(mids[-p.window_tick:], ddof=1)
    g = p.risk_aversion
    r = mid - position * p.position_multiplier * g * var * tt
    db = (0.5 * g * var * tt + math.log(1 + g / k_bid) / g) * p.spread_multiplier
    da = (0.5 * g * var * tt + math.log(1 + g / k_ask) / g) * p.spread_multiplier
    if p.skew_mode == "authors":
        ask = math.floor((r + da) * (1 + p.skew) / tick + 0.5) * tick
        bid = math.floor((r - db) * (1 + p.skew) / tick + 0.5) * tick
    else:
        rs = r + p.skew * (db + da) / 2
        ask = math.floor((rs + da) / tick + 0.5) * tick
        bid = math.floor((rs - db) / tick + 0.5) * tick
    return min(bid, mid - tick), max(ask, mid + tick)


MIDS = 19_000 + np.cumsum(np.random.default_rng(0).normal(0, 2.0, 40))


@pytest.mark.parametrize("params", [
    ASParams(),
    ASParams(risk_aversion=0.01, spread_multiplier=1.0),
    ASParams(risk_aversion=0.9, window_tick=10, skew_mode="spread", skew=0.1),
    ASParams(skew=-0.05),
    ASParams(skew=0.05),
])
def test_quotes_match_the_formulas(params):
    si, buf, kq = estimator_state(MIDS)
    t = DAY0 + 13 * H  # T - t = (19 - 13) / 12 = 0.5
    bid0, ask0 = MIDS[-1] - 0.005, MIDS[-1] + 0.005
    status, bp, bq, ap, aq = as_quotes(params.to_array(), si, buf, kq, 0.0003, t, bid0, ask0, 0.01)
    assert status == Q_OK and bq == aq == params.quantity
    k_bid = 50 / ((50 - 40) / 40)   # 200
    k_ask = 45 / ((45 - 50) / 50)   # -450 (negative k is allowed)
    eb, ea = expected(params, MIDS, 0.0003, 0.5, bid0, ask0, k_bid, k_ask)
    assert bp == pytest.approx(eb, abs=1e-9) and ap == pytest.approx(ea, abs=1e-9)
    assert bp < ap


def test_authors_skew_turns_into_one_sided_quoting():
    si, buf, kq = estimator_state(MIDS)
    t = DAY0 + 13 * H
    mid = MIDS[-1]
    _, bp, _, ap, _ = as_quotes(ASParams(skew=0.05).to_array(), si, buf, kq, 0.0, t, mid - 0.005, mid + 0.005, 0.01)
    assert bp == pytest.approx(mid - 0.01)  # the bid is clamped to mid - tick (aggressive)
    assert ap > mid * 1.04                  # the ask sits ~5 % above the market
    _, bp, _, ap, _ = as_quotes(ASParams(skew=-0.1).to_array(), si, buf, kq, 0.0, t, mid - 0.005, mid + 0.005, 0.01)
    assert ap == pytest.approx(mid + 0.01) and bp < mid * 0.91


def test_half_tick_clamp_kept_by_default_and_rounded_outward_on_request():
    si, buf, kq = estimator_state(np.full(30, 100.005))
    t = DAY0 + 13 * H
    p = ASParams(skew=0.05)
    _, bp, _, _, _ = as_quotes(p.to_array(), si, buf, kq, 0.0, t, 100.0, 100.01, 0.01)
    assert bp == pytest.approx(99.995)  # mid - tick on a one-tick spread: a half-tick price
    p = ASParams(skew=0.05, half_tick="outward")
    _, bp, _, _, _ = as_quotes(p.to_array(), si, buf, kq, 0.0, t, 100.0, 100.01, 0.01)
    assert bp == pytest.approx(99.99)


def test_skips_warmup_invalid_k_and_outside_hours():
    p = ASParams().to_array()
    si, buf, kq = estimator_state(MIDS[:10])  # fewer than window_tick (25) mids
    assert as_quotes(p, si, buf, kq, 0.0, DAY0 + 13 * H, 1.0, 1.01, 0.01)[0] == Q_WARMUP
    si, buf, kq = estimator_state(MIDS, bid_counts=(50.0, 50.0))  # no change in the counts: k infinite
    assert as_quotes(p, si, buf, kq, 0.0, DAY0 + 13 * H, 1.0, 1.01, 0.01)[0] == Q_K_INVALID
    si, buf, kq = estimator_state(MIDS, bid_counts=(0.0, 50.0))  # division by a zero count
    assert as_quotes(p, si, buf, kq, 0.0, DAY0 + 13 * H, 1.0, 1.01, 0.01)[0] == Q_K_INVALID
    si, buf, kq = estimator_state(MIDS)
    assert as_quotes(p, si, buf, kq, 0.0, DAY0 + 19 * H, 1.0, 1.01, 0.01)[0] == Q_OUTSIDE_HOURS
    assert as_quotes(p, si, buf, kq, 0.0, DAY0 + 6 * H, 1.0, 1.01, 0.01)[0] == Q_OUTSIDE_HOURS
    # a fixed k needs no counts
    si, buf, kq = estimator_state(MIDS, bid_counts=(50.0, 50.0))
    m = MIDS[-1]
    assert as_quotes(ASParams(k_default=0.3).to_array(), si, buf, kq, 0.0, DAY0 + 13 * H, m, m + 0.01, 0.01)[0] == Q_OK


def test_time_left_linear_and_authors_hhmm():
    lin = ASParams().to_array()
    hhmm = ASParams(tt_mode="hhmm").to_array()
    t = DAY0 + 7 * H + 30 * 60 * 10**9  # 07:30
    assert time_left(lin, t) == (pytest.approx(11.5 / 12), True)
    assert time_left(hhmm, t) == (pytest.approx((1900 - 730) / 1200), True)  # 0.975
    assert time_left(lin, DAY0 + 19 * H)[1] is False


def test_parameter_validation_names_the_problem():
    with pytest.raises(InputError, match="risk_aversion"):
        ASParams(risk_aversion=0)
    with pytest.raises(InputError, match="skew_mode"):
        ASParams(skew_mode="sideways")
    with pytest.raises(InputError, match=r"unknown key\(s\) gamma"):
        ASParams.from_dict({"gamma": 0.5})


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    assert main(["data", "synth", "--out", str(root), "--start", "2020-12-09", "--end", "2020-12-09",
                 "--hours", "0.5", "--workers", "1"]) == 0
    return root


def test_run_cli_writes_records_and_metrics(small_store, tmp_path, capsys):
    out = tmp_path / "run"
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"params": {"risk_aversion": 0.1, "k_default": 0.5, "spread_multiplier": 1.0}}))
    assert main(["run", "as", "--data", str(small_store), "--instrument", "btcusdt_synth", "--day", "2020-12-09",
                 "--params", str(params), "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    for word in ("fills", "final P&L", "Sharpe", "Sortino", "MaxDD", "P&L-to-MAP", "wall"):
        assert word in line
    fills = pq.read_table(out / "fills.parquet")
    for col in ("timestamp", "side", "price", "quantity", "position", "realized_pnl", "unrealized_pnl", "total_pnl"):
        assert col in fills.column_names
    assert fills.num_rows > 10 and fills.schema.field("timestamp").type == "int64"
    grid = pq.read_table(out / "grid.parquet")
    ts = grid.column("timestamp").to_numpy()
    assert (np.diff(ts) == 5 * 10**9).all()
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["metrics"]["n_fills"] == fills.num_rows
    assert doc["params"]["risk_aversion"] == 0.1 and doc["engine"]["fill_model"] == "paper"


@pytest.mark.parametrize("argv,needle", [
    (["--params", '{"gamma": 1}'], "unknown key(s) gamma"),
    (["--params", "{not json"], "not valid JSON"),
    (["--day", "2020-12-10"], "no depth file for instrument"),
    (["--window", "7-19"], "bad --window"),
    (["--instrument", "nope"], "no depth file for instrument"),
])
def test_run_cli_bad_input_is_one_line_exit_2(small_store, tmp_path, capsys, argv, needle):
    base = {"--data": str(small_store), "--instrument": "btcusdt_synth", "--day": "2020-12-09",
            "--out": str(tmp_path / "o")}
    for k, v in zip(argv[::2], argv[1::2], strict=True):
        base[k] = v
    args = ["run", "as"] + [x for kv in base.items() for x in kv]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
