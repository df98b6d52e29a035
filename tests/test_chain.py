"""On-chain costs (issue #14 §3): one micro-scenario per rule — a requote and a cancel cost their gas, an order sent
mid-block rests only from the next block, a slipped block, nonce order, the fee tier — and the config paths."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from alpha_as.cli import main
from alpha_as.engine import Backtest, EngineConfig
from alpha_as.engine import state as S
from alpha_as.engine.chain import block_arrival, unit_bits
from alpha_as.engine.config import ChainConfig
from alpha_as.errors import InputError
from alpha_as.strategies import FixedQuoterParams
from tests.engine_days import MS, T0, make_day

HOLD = FixedQuoterParams(interval_s=3600, quantity=0.0001)  # quotes the first snapshot's best prices, then holds
# 100,000 gas at 1 gwei and 1,000 USD the native token: 0.1 USD a placement; 50,000: 0.05 a cancel
CHAIN = ChainConfig(block_seconds=2.0, gas_units_place=100_000, gas_units_cancel=50_000, gas_price_gwei=1.0,
                    native_price=1000.0)


def fills(result):
    f = result.fills
    return [(int((t - T0) // MS), int(s), round(float(p), 6), round(float(q), 8))
            for t, s, p, q in zip(result.fill_ts, f["side"], f["price"], f["quantity"], strict=True)]


def test_the_gas_of_a_place_is_the_units_times_the_gas_price_times_the_native_price():
    assert CHAIN.gas_cost(CHAIN.gas_units_place) == pytest.approx(0.1)
    assert ChainConfig().gas_cost(ChainConfig().gas_units_place) == pytest.approx(150_000 * 0.05e-9 * 3000)


def test_each_placement_and_cancel_costs_its_gas_in_the_realized_pnl():
    """Two placements at 0; a seller fills 0.00004 of our bid at 2.5 s, so the paper's unquoteSide cancels the
    rest (a cancel); the next snapshot (3 s) re-places the bid. Gas: 3 × 0.1 + 0.05 = 0.35."""
    day = make_day([(0, [(100.00, 1)], [(100.10, 1)]), (3000, [(100.00, 1)], [(100.10, 1)])],
                   [(2500, 100.00, 0.00004, -1)])
    q = FixedQuoterParams(interval_s=3600, quantity=0.0001)
    bt, bt_plain = Backtest(day, q, EngineConfig(chain=CHAIN)), Backtest(day, q)
    r, plain = bt.run(), bt_plain.run()
    assert fills(r) == [(2500, 1, 100.00, 0.00004)]
    assert r.info["chain"]["actions"] == 4 and r.counters["order_requests"] == 4
    assert r.info["chain"]["gas"] == pytest.approx(0.35)
    # the fill row holds the gas of the two placements sent before it; the realized P&L is net of it
    assert r.fills["gas"][0] == pytest.approx(0.2)
    assert r.fills["realized_pnl"][0] == pytest.approx(plain.fills["realized_pnl"][0] - 0.2)
    assert bt.state.sf[S.REALIZED] == pytest.approx(bt_plain.state.sf[S.REALIZED] - 0.35)  # settled at the end
    assert bt.state.sf[S.CASH] == pytest.approx(bt_plain.state.sf[S.CASH] - 0.35)
    assert r.info["chain"]["gas_per_fill"] == pytest.approx(0.35)
    assert r.info["chain"]["gas_per_action"] == pytest.approx(0.35 / 4)
    assert "gas" not in plain.fills and "chain" not in plain.info  # an exchange run is as before


def test_an_order_sent_mid_block_rests_only_from_the_next_block():
    """Sent at 0.5 s (the first snapshot) with 2-s blocks: live at 2.0 s. A seller through our bid at 1.9 s does
    not fill; one at 2.0 s does (a request goes first at equal times). Without a chain it is live at 0.565 s."""
    day = make_day([(500, [(100.00, 1)], [(100.10, 1)])], [(1900, 99.90, 1.0, -1), (2000, 99.90, 1.0, -1)])
    assert fills(Backtest(day, HOLD, EngineConfig(chain=CHAIN)).run()) == [(2000, 1, 100.00, 0.0001)]
    assert fills(Backtest(day, HOLD).run()) == [(1900, 1, 100.00, 0.0001)]
    # a network delay of 1.6 s pushes it past the 2-s boundary: live at 4.0 s
    slow = ChainConfig(**{**CHAIN.to_dict(), "network_delay_ms": 1600.0})
    day2 = make_day([(500, [(100.00, 1)], [(100.10, 1)])], [(3900, 99.90, 1.0, -1), (4000, 99.90, 1.0, -1)])
    assert fills(Backtest(day2, HOLD, EngineConfig(chain=slow)).run()) == [(4000, 1, 100.00, 0.0001)]


def test_a_slipped_request_goes_live_one_block_later_and_slips_are_seeded():
    day = make_day([(500, [(100.00, 1)], [(100.10, 1)])], [(3900, 99.90, 1.0, -1), (4000, 99.90, 1.0, -1)])
    always = ChainConfig(**{**CHAIN.to_dict(), "slip_probability": 1 - 2 ** -50})
    r = Backtest(day, HOLD, EngineConfig(chain=always)).run()
    assert fills(r) == [(4000, 1, 100.00, 0.0001)] and r.info["chain"]["slipped_blocks"] == 2
    # the draws: uniform, seeded by (slip_seed, request number)
    u = np.array([unit_bits(7, k) for k in range(20_000)]) / 2.0 ** 53
    assert abs(u.mean() - 0.5) < 0.01 and abs((u < 0.3).mean() - 0.3) < 0.01
    assert unit_bits(7, 3) == unit_bits(7, 3) != unit_bits(8, 3)


def test_a_request_never_goes_live_before_an_earlier_one_of_its_side():
    si = np.zeros(S.NSI, dtype=np.int64)
    si[S.CH_BLOCK_NS] = 2_000_000_000
    assert block_arrival(si, 500_000_000, -1, 1.0) == 2_000_000_000
    assert block_arrival(si, 2_000_000_000, -1, 1.0) == 2_000_000_000  # on a boundary: that block
    assert block_arrival(si, 500_000_000, 4_000_000_000, 0.0) == 4_000_000_000  # behind a slipped one
    assert si[S.CH_PLACES] == 2 and si[S.CH_CANCELS] == 1


def test_the_fee_tier_sets_maker_and_taker_fees():
    day = make_day([(0, [(100.00, 1)], [(100.10, 1)])], [(2000, 99.90, 1.0, -1)])
    r = Backtest(day, HOLD, EngineConfig(chain=ChainConfig(**{**CHAIN.to_dict(), "fee_bps": 30.0}))).run()
    assert r.fills["fee"][0] == pytest.approx(0.003 * 100.00 * 0.0001)
    with pytest.raises(InputError, match="fee_bps sets both fees"):
        EngineConfig(maker_fee=0.001, chain=ChainConfig(fee_bps=5.0))


def test_config_round_trip_and_the_exchange_config_dict_is_unchanged():
    assert "chain" not in EngineConfig().to_dict()
    cfg = EngineConfig.from_dict({"latency_ms": 10.0, "chain": {"block_seconds": 12.0}})
    assert cfg.chain == ChainConfig(block_seconds=12.0)
    assert EngineConfig(**cfg.to_dict()) == cfg  # a job's engine dict (the runner) rebuilds the same config
    with pytest.raises(InputError, match=r"chain.*unknown key\(s\) gas"):
        EngineConfig.from_dict({"chain": {"gas": 1}})
    with pytest.raises(InputError, match="slip_probability must be finite and in"):
        ChainConfig(slip_probability=1.0)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("chain") / "store"
    assert main(["data", "synth", "--out", str(root), "--start", "2020-12-09", "--end", "2020-12-09",
                 "--hours", "0.25", "--workers", "1"]) == 0
    return root


def test_cli_and_runs_take_the_chain(store, tmp_path, capsys):
    common = ["--data", str(store), "--instrument", "btcusdt_synth", "--day", "2020-12-09", "--window", "07:00-07:15"]
    chain = json.dumps({"block_seconds": 2.0, "gas_price_gwei": 0.05})
    assert main(["run", "as", "--chain", chain, "--out", str(tmp_path / "c"), *common]) == 0
    m = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert m["engine"]["chain"]["block_seconds"] == 2.0 and m["chain"]["gas"] > 0 and m["chain"]["actions"] > 0
    assert "gas" in pq.read_schema(tmp_path / "c" / "fills.parquet").names
    capsys.readouterr()
    assert main(["run", "as", "--chain", '{"block_seconds": -1}', "--out", str(tmp_path / "bad"), *common]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "block_seconds must be finite" in err
    cfg = tmp_path / "r.toml"
    cfg.write_text(f'[experiment]\nname = "r"\ndata = "{store}"\ninstrument = "btcusdt_synth"\n'
                   f'out = "{tmp_path / "out"}"\ndays = ["2020-12-09"]\nwindow = "07:00-07:15"\nworkers = 1\n'
                   '[engine.chain]\nblock_seconds = 12.0\n[models.as]\nkind = "as"\n')
    assert main(["runs", "--config", str(cfg)]) == 0
    man = json.loads((tmp_path / "out" / "as" / "2020-12-09" / "seed=0" / "manifest.json").read_text())
    assert man["config"]["engine"]["chain"]["block_seconds"] == 12.0
    assert json.loads((tmp_path / "out" / "as" / "2020-12-09" / "seed=0" / "metrics.json").read_text())["chain"]
    assert main(["report", str(tmp_path / "out")]) == 0  # the report's section on what the chain cost
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## On-chain costs" in report and "| as | 1 |" in report
    head, row = (tmp_path / "out" / "tables" / "chain.csv").read_text().splitlines()
    vals = dict(zip(head.split(","), row.split(","), strict=True))
    assert float(vals["pnl_before_gas"]) == pytest.approx(float(vals["pnl"]) + float(vals["gas"]))
    assert float(vals["actions"]) > 0 and float(vals["gas"]) > 0

