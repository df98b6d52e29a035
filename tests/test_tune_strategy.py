"""``alpha-as tune --strategy NAME``: the GA tunes any registered strategy with a gene table (or given genes)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import alpha_as.engine  # noqa: F401 - first: importing alpha_as.strategies before the engine is circular
from alpha_as.cli import build_parser, main
from alpha_as.errors import InputError
from alpha_as.strategies import avellaneda_stoikov, registry
from alpha_as.tuning import DEFAULT_GENES, GAConfig, default_genes, read_best_params, tune
from alpha_as.tuning.cli import config_from_args
from baselines.fixed_offset import FOICParams

INSTR = "btcusdt_synth"
DAY = "2020-12-08"
G, P = 2, 4
FOIC_GENES = {"level": [0, 3], "inventory_limit": [0.0002, 0.002]}


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune_store")
    assert main(["data", "synth", "--out", str(root), "--start", DAY, "--end", DAY, "--hours", "0.5",
                 "--workers", "1"]) == 0
    return root


@pytest.fixture(scope="module")
def foic_run(store_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("tune_foic")
    cfg = GAConfig(strategy="foic", genes=FOIC_GENES, generations=G, population=P, seed=5, workers=1)
    return out, tune(store_root, INSTR, DAY, out, cfg, progress=False)


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


# ------------------------------------------------------------------------------------------ the config

def test_as_is_the_default_and_its_gene_table_lives_with_the_strategy():
    assert DEFAULT_GENES is avellaneda_stoikov.GENES  # an alias: the old imports keep working
    assert default_genes("as") == avellaneda_stoikov.GENES
    cfg = GAConfig()
    assert cfg.strategy == "as" and cfg.genes == avellaneda_stoikov.GENES
    assert cfg.genes is not avellaneda_stoikov.GENES  # a copy: a config never changes the table
    assert GAConfig.from_dict({"strategy": "as"}) == cfg == GAConfig(strategy="as")
    assert "strategy" not in cfg.to_dict()  # AS's config dict (the replicate stage's hash) is as before
    foic = GAConfig(strategy="foic", genes=FOIC_GENES)
    assert foic.to_dict()["strategy"] == "foic" and GAConfig.from_dict(foic.to_dict()) == foic


def test_a_strategy_without_a_gene_table_needs_genes():
    bare = [n for n in registry.names() if not registry.by_name(n).genes and n != "as"]  # AS: DEFAULT_GENES
    if not bare:
        pytest.skip("every registered strategy has a gene table")
    with pytest.raises(InputError) as e:
        GAConfig.from_dict({"strategy": bare[0]}, source="g.json")
    msg = one_line(e)
    assert msg.startswith("g.json: ") and repr(bare[0]) in msg and "gene table" in msg, msg


@pytest.mark.parametrize(("value", "needle"), [
    ("nope", "key 'strategy': unknown strategy 'nope'; known: as,"),
    (3, "key 'strategy' must be str"),
])
def test_an_unknown_strategy_is_one_line_naming_the_key(value, needle):
    with pytest.raises(InputError) as e:
        GAConfig.from_dict({"strategy": value}, source="g.json")
    msg = one_line(e)
    assert msg.startswith("g.json: ") and needle in msg, msg


@pytest.mark.parametrize(("strategy", "genes", "needle"), [
    ("foic", {"clamp": [0, 1]}, "FOICParams.clamp is a str field, and only int or float fields can be genes"),
    ("fixed", {"repost_filled_side": [0, 1]}, "FixedQuoterParams.repost_filled_side is a bool field"),
    ("foic", {"risk_aversion": [0.1, 0.5]}, "unknown gene 'risk_aversion'; allowed: level, quantity"),
    ("foic", {"level": [0.2, 0.8]}, "integer gene level range [0.2, 0.8] holds no integer"),
    ("foic", {"level": [0, 30]}, "level must be in 0..19"),
])
def test_bad_genes_of_another_strategy_are_one_line(strategy, genes, needle):
    with pytest.raises(InputError) as e:
        GAConfig(strategy=strategy, genes=genes)
    msg = one_line(e)
    assert "gene table" in msg and needle in msg, msg


def test_base_params_are_the_strategys():
    assert GAConfig(strategy="foic", genes=FOIC_GENES, base_params={"clamp": "on_grid"}).base_params
    with pytest.raises(InputError, match="GA base_params: unknown key"):
        GAConfig(strategy="foic", genes=FOIC_GENES, base_params={"minutes_change_k": 10})


# --------------------------------------------------------------------------------------------- a GA run

def test_tuning_foic_writes_its_params(foic_run):
    out, res = foic_run
    best = json.loads((out / "best.json").read_text())
    assert best["strategy"] == "foic" and res.best["strategy"] == "foic"
    params = FOICParams(**best["params"])
    assert best["params"] == params.to_dict()  # a full FOIC params dict
    assert params.level == min(max(math.floor(best["genes"]["level"] + 0.5), 0), 3)  # rounded half up, in range
    assert best["gene_table"] == FOIC_GENES and best["gene_table_inferred"] is False
    config = json.loads((out / "config.json").read_text())
    assert config["strategy"] == "foic" and config["config"]["strategy"] == "foic"
    h = pd.read_parquet(out / "history.parquet")
    assert len(h) == G * P and h.error.isna().all()
    assert h.param_level.between(0, 3).all() and "param_inventory_limit" not in h  # only int genes get a column
    assert best["fitness"] == h.fitness.max()
    assert "[foic] best fitness" in res.summary()


def test_read_best_params_validates_with_the_files_strategy(foic_run, tmp_path):
    out, _ = foic_run
    path = out / "best.json"
    params = read_best_params(path)
    assert params == json.loads(path.read_text())["params"]
    assert read_best_params(path, strategy="foic") == params
    with pytest.raises(InputError) as e:
        read_best_params(path, strategy="as")
    msg = one_line(e)
    assert msg.startswith(f"{path}: ") and "'foic'" in msg and "'as'" in msg, msg
    # a file written before the option has no strategy: AS
    old = tmp_path / "best.json"
    old.write_text(json.dumps({"params": {"risk_aversion": 0.1, "window_tick": 7}}))
    assert read_best_params(old) == read_best_params(old, strategy="as") == {"risk_aversion": 0.1, "window_tick": 7}
    with pytest.raises(InputError, match="tuned strategy 'as', not 'foic'"):
        read_best_params(old, strategy="foic")
    # AS params in a FOIC file are refused by FOIC's class
    old.write_text(json.dumps({"strategy": "foic", "params": {"risk_aversion": 0.1}}))
    with pytest.raises(InputError, match=r"params: unknown key\(s\) risk_aversion"):
        read_best_params(old)
    old.write_text(json.dumps({"strategy": "nope", "params": {}}))
    with pytest.raises(InputError, match="key 'strategy': unknown strategy 'nope'"):
        read_best_params(old)


def test_best_json_replays_with_run(foic_run, store_root, tmp_path):
    out, res = foic_run
    run_out = tmp_path / "run"
    assert main(["run", "foic", "--data", str(store_root), "--instrument", INSTR, "--day", DAY,
                 "--out", str(run_out), "--params", str(out / "best.json")]) == 0
    replay = json.loads((run_out / "metrics.json").read_text())["metrics"]
    assert replay["sharpe"] == pytest.approx(res.best["fitness"], rel=1e-12, abs=1e-15)


# -------------------------------------------------------------------------------------------------- CLI

def tune_args(store_root, out, *extra):
    return ["tune", "--data", str(store_root), "--instrument", INSTR, "--day", DAY, "--out", str(out),
            "--generations", "1", "--population", "2", "--workers", "1", "--no-progress", *extra]


def test_cli_strategy_flag_tunes_that_strategy(store_root, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(tune_args(store_root, out, "--strategy", "foic", "--genes", json.dumps(FOIC_GENES))) == 0
    assert "Gen-AS [foic] best fitness" in capsys.readouterr().out
    best = json.loads((out / "best.json").read_text())
    assert best["strategy"] == "foic" and set(best["params"]) == set(FOICParams().to_dict())


def test_cli_strategy_reaches_the_config_and_overrides_the_file(tmp_path):
    parser = build_parser()
    cfg_file = tmp_path / "ga.json"
    cfg_file.write_text(json.dumps({"strategy": "foic", "genes": FOIC_GENES}))
    base = ["tune", "--data", "d", "--instrument", "x", "--day", DAY, "--out", str(tmp_path / "o")]
    cfg = config_from_args(parser.parse_args([*base, "--config", str(cfg_file)]))
    assert cfg.strategy == "foic" and cfg.genes == FOIC_GENES
    cfg = config_from_args(parser.parse_args([*base, "--config", str(cfg_file), "--strategy", "as",
                                              "--genes", '{"risk_aversion": [0.1, 0.5]}']))
    assert cfg.strategy == "as" and cfg.genes == {"risk_aversion": [0.1, 0.5]}
    cfg = config_from_args(parser.parse_args([*base, "--config", str(cfg_file), "--window", "07:00-07:30"]))
    assert cfg.base_params == {"first_hour": 7, "last_hour": 7.5}  # FOIC quotes in the GA day's window too
    assert config_from_args(parser.parse_args([*base, "--strategy", "as"])) == GAConfig()


@pytest.mark.parametrize(("extra", "message"), [
    (["--strategy", "nope"], "invalid choice: 'nope'"),
    (["--strategy", "foic", "--genes", '{"clamp": [0, 1]}'], "FOICParams.clamp is a str field"),
])
def test_cli_bad_strategy_input_is_one_line_and_exit_2(store_root, tmp_path, capsys, extra, message):
    try:
        code = main(tune_args(store_root, tmp_path / "bad", *extra))
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
