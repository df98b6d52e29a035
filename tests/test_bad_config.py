"""Bad configuration values (issue #12): non-finite and out-of-range numbers, missing and truncated JSON files,
TOML messages naming the file, table and key. Each is one line on stderr, exit code 2 (or one InputError line)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from alpha_as.cli import main
from alpha_as.configs import NONFINITE_OK, from_dict, load_json_arg, read_json_file, replace_checked
from alpha_as.engine.config import EngineConfig
from alpha_as.errors import InputError
from alpha_as.strategies.avellaneda_stoikov import ASParams

INSTRUMENT = "btcusdt_synth"
DAY = "2020-12-09"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad_config") / "store"
    assert main(["data", "synth", "--out", str(root), "--start", DAY, "--end", DAY, "--hours", "0.2",
                 "--workers", "1"]) == 0
    return root


def one_error_line(capsys, argv: list[str]) -> str:
    """Run the CLI; assert exit code 2 and exactly one line on stderr; return that line."""
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's own errors (also one line, exit 2)
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err


def run_args(store: Path, tmp_path: Path, strategy: str, *extra: str) -> list[str]:
    return ["run", strategy, "--data", str(store), "--instrument", INSTRUMENT, "--day", DAY, "--out",
            str(tmp_path / "run"), *extra]


# ------------------------------------------------------------------------------ engine numbers (run options)

@pytest.mark.parametrize(("option", "value", "key"), [
    ("--latency-ms", "nan", "latency"),
    ("--latency-ms", "inf", "latency"),
    ("--latency-ms", "-1", "latency"),
    ("--latency-ms", "1e300", "latency"),
    ("--maker-fee", "nan", "maker"),
    ("--maker-fee", "inf", "maker"),
    ("--taker-fee", "-inf", "taker"),
])
def test_run_engine_option_not_finite_or_out_of_range(store, tmp_path, capsys, option, value, key):
    err = one_error_line(capsys, run_args(store, tmp_path, "foic", option, value))
    # EngineConfig names the key (latency_ms); an argparse type would name the option (--latency-ms)
    assert f"{key}_" in err or f"--{key}-" in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("field", "value"), [
    ("latency_ms", float("nan")), ("latency_ms", float("inf")), ("latency_ms", 1e300), ("maker_fee", float("nan")),
    ("taker_fee", float("inf")), ("maker_fee", 1.5), ("grid_seconds", float("nan")), ("grid_seconds", 1e300),
    ("tick", float("inf")), ("queue_power", 0.0), ("queue_power", float("nan")), ("mark_sigma_bound", -1.0),
    ("mark_sigma_bound", float("inf")),
])
def test_engine_config_direct_refuses_every_bad_number(field, value):
    with pytest.raises(InputError, match=f"engine: {field} must be finite"):
        EngineConfig(**{field: value})


def test_engine_config_defaults_and_golden_values_still_build():
    for kw in ({}, {"latency_ms": 0}, {"maker_fee": -0.0001, "taker_fee": 0.0004}, {"mark_sigma_bound": 0},
               {"grid_seconds": 1.0}, {"fill_model": "queue", "queue_power": 2.0}):
        EngineConfig(**kw)


# --------------------------------------------------------------------------------------------- --params

@pytest.mark.parametrize(("strategy", "params", "needle"), [
    ("as", '{"quantity": Infinity}', "--params: key 'quantity' must be a finite number, got inf"),
    ("as", '{"quantity": NaN}', "--params: key 'quantity' must be a finite number, got nan"),
    ("as", '{"risk_aversion": -Infinity}', "--params: key 'risk_aversion' must be a finite number, got -inf"),
    ("as", '  {"params": {"spread_multiplier": Infinity}}', "key 'spread_multiplier' must be a finite number"),
    ("as", '{"quantity": -1}', "--params: AS parameters: quantity must be > 0 and finite, got -1"),
    ("as", '{"k_default": -2}', "--params: AS parameters: k_default must be -1 (estimate) or > 0"),
    ("as", '{"position_multiplier": -5}', "--params: AS parameters: position_multiplier must be >= 0"),
    ("foic", '{"quantity": -1}', "--params: FOIC: quantity must be > 0 and finite, got -1"),
    ("liic", '{"inventory_limit": Infinity}', "--params: key 'inventory_limit' must be a finite number, got inf"),
    ("liic", '{"inventory_limit": 0}', "--params: LIIC: inventory_limit must be > 0 and finite, got 0"),
    ("fixed", '{"interval_s": 0}', "--params: fixed quoter: interval_s must be > 0 and finite, got 0"),
    ("fixed", '{"quantity": -0.5}', "--params: fixed quoter: quantity must be > 0 and finite, got -0.5"),
])
def test_run_params_not_finite_or_not_positive(store, tmp_path, capsys, strategy, params, needle):
    err = one_error_line(capsys, run_args(store, tmp_path, strategy, "--params", params))
    assert needle in err, err
    assert not (tmp_path / "run").exists()


def test_run_params_missing_file_is_file_not_found(store, tmp_path, capsys):
    err = one_error_line(capsys, run_args(store, tmp_path, "as", "--params", "/missing.json"))
    assert "--params: no such file '/missing.json'" in err, err
    err = one_error_line(capsys, run_args(store, tmp_path, "as", "--params", str(tmp_path)))
    assert f"--params: '{tmp_path}' is a folder, not a JSON file" in err, err


def test_run_params_truncated_best_json_names_the_file_and_the_remedy(store, tmp_path, capsys):
    best = tmp_path / "ga" / "best.json"
    best.parent.mkdir()
    best.write_text(json.dumps({"params": {"risk_aversion": 0.1, "k_default": 0.5}, "fitness": 0.1})[:30])
    err = one_error_line(capsys, run_args(store, tmp_path, "as", "--params", str(best)))
    assert f"{best}: the --params file is truncated or not valid JSON" in err, err
    assert "delete it and rerun the GA" in err and "alpha-as tune" in err, err


def test_load_json_arg_cases(tmp_path):
    assert load_json_arg(' {"a": 1}', "--x") == ({"a": 1}, "--x")
    f = tmp_path / "p.json"
    f.write_text('{"a": 2}')
    assert load_json_arg(str(f), "--x") == ({"a": 2}, str(f))
    with pytest.raises(InputError, match=r"^--x: no such file 'nope\.json'$"):
        load_json_arg("nope.json", "--x")
    with pytest.raises(InputError, match=r"^--x: not valid JSON"):
        load_json_arg("{nope", "--x")
    f.write_text("[1, 2]")
    with pytest.raises(InputError, match="must hold a JSON object, got list"):
        load_json_arg(str(f), "--x")


# ------------------------------------------------------------------------- the generic finite check

def test_from_dict_and_replace_checked_refuse_non_finite_floats():
    with pytest.raises(InputError, match=r"^src: key 'skew' must be a finite number, got nan$"):
        from_dict(ASParams, {"skew": float("nan")}, source="src")
    with pytest.raises(InputError, match=r"^step update: key 'risk_aversion' must be a finite number, got inf$"):
        replace_checked(ASParams(), {"risk_aversion": float("inf")}, source="step update")
    # a value check of __post_init__ is prefixed by the source
    with pytest.raises(InputError, match=r"^src: AS parameters: risk_aversion must be > 0"):
        replace_checked(ASParams(), {"risk_aversion": 0.0}, source="src")


def test_a_field_can_opt_out_of_the_finite_check():
    @dataclasses.dataclass(frozen=True)
    class Toy:
        cap: float = dataclasses.field(default=float("inf"), metadata={NONFINITE_OK: True})
        x: float | None = None

    assert from_dict(Toy, {"cap": float("inf")}, source="toy").cap == float("inf")
    with pytest.raises(InputError, match="key 'x' must be a finite number"):
        from_dict(Toy, {"x": float("-inf")}, source="toy")


# ------------------------------------------------------------------------------ truncated stage outputs

def test_truncated_best_json_reader(tmp_path):
    from alpha_as.tuning.genas import read_best_params

    best = tmp_path / "best.json"
    best.write_text('{"params": {"risk_aversion": 0.1, "window_tick": 2')
    with pytest.raises(InputError) as e:
        read_best_params(best)
    msg = str(e.value)
    assert msg.startswith(f"{best}: the Gen-AS output is truncated or not valid JSON (") and "\n" not in msg
    assert "delete it and rerun the GA" in msg and "alpha-as replicate" in msg
    with pytest.raises(InputError, match="no such file"):
        read_best_params(tmp_path / "none" / "best.json")
    best.write_text('{"params": {"quantity": Infinity}}')
    with pytest.raises(InputError, match=f"^{best}: params: key 'quantity' must be a finite number"):
        read_best_params(best)
    best.write_text('{"fitness": 1}')
    with pytest.raises(InputError, match="expected"):
        read_best_params(best)
    best.write_text('{"params": {"risk_aversion": 0.1, "window_tick": 7}}')
    assert read_best_params(best) == {"risk_aversion": 0.1, "window_tick": 7}


def test_truncated_features_json_reader(tmp_path):
    from alpha_as.agents.features_cli import read_features_file

    path = tmp_path / "features.json"
    path.write_text(json.dumps({"features": ["bid_price_0", "ask_price_0"], "seed": 0})[:25])
    with pytest.raises(InputError) as e:
        read_features_file(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: the feature-selection output is truncated or not valid JSON (")
    assert "delete it and rerun the feature selection" in msg and "alpha-as features" in msg and "\n" not in msg
    other = tmp_path / "selection.json"  # any name: the remedy is the feature selection's
    other.write_text('{"features": [')
    with pytest.raises(InputError, match="truncated or not valid JSON .*delete it and rerun the feature selection"):
        read_features_file(other)
    path.write_text(json.dumps({"features": ["bid_price_0", "nonsense"]}))
    with pytest.raises(InputError, match="unknown feature 'nonsense'"):
        read_features_file(path)
    path.write_text(json.dumps({"features": ["bid_price_0", "ask_price_0"]}))
    assert read_features_file(path) == ("bid_price_0", "ask_price_0")


def test_read_json_file_cases(tmp_path):
    f = tmp_path / "x.json"
    with pytest.raises(InputError, match=r"x\.json: no such file \(thing\)$"):
        read_json_file(f, "thing")
    f.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not a UTF-8 text file"):
        read_json_file(f, "thing")
    f.write_text("")
    with pytest.raises(InputError, match=r"thing is truncated or not valid JSON \(line 1 column 1: Expecting value\)$"):
        read_json_file(f, "thing")
    with pytest.raises(InputError, match="is a folder"):
        read_json_file(tmp_path, "thing")


# ---------------------------------------------------------------------------------- features options

@pytest.mark.parametrize(("option", "value", "needle"), [
    ("--horizon-s", "0", "--horizon-s must be > 0, got 0.0"),
    ("--horizon-s", "nan", "--horizon-s must be a finite number > 0"),
    ("--horizon-s", "inf", "--horizon-s must be a finite number > 0"),
    ("--max-rows", "5", "--max-rows must be >= 100, got 5"),
    ("--n-estimators", "0", "--n-estimators must be >= 1, got 0"),
    ("--max-depth", "-1", "--max-depth must be >= 1, got -1"),
    ("--seed", "-1", "--seed must be >= 0, got -1"),
])
def test_features_cli_options(store, tmp_path, capsys, option, value, needle):
    out = tmp_path / "f.json"
    err = one_error_line(capsys, ["features", "--data", str(store), "--instrument", INSTRUMENT, "--day", DAY,
                                  "--out", str(out), option, value])
    assert needle in err, err
    assert not out.exists()


def test_feature_option_check_speaks_toml_keys_with_a_source():
    from alpha_as.agents.features_cli import check_selection_options

    with pytest.raises(InputError, match=r"^x\.toml \[features\]: key 'horizon_s' must be > 0, got 0$"):
        check_selection_options(horizon_s=0, max_rows=1000, n_estimators=1, max_depth=12, source="x.toml [features]")
    with pytest.raises(InputError, match=r"^key 'max_rows' must be >= 100, got 5$"):
        check_selection_options(horizon_s=5.0, max_rows=5, n_estimators=1, max_depth=12, source="")


# --------------------------------------------------------------------------------------------- tune

@pytest.mark.parametrize(("extra", "needle"), [
    (["--base-params", '{"quantity": Infinity}'], "GA base_params: key 'quantity' must be a finite number, got inf"),
    (["--base-params", '{"quantity": -1}'], "GA base_params: AS parameters: quantity must be > 0"),
    (["--genes", '{"risk_aversion": [0.01, Infinity]}'], "risk_aversion must be [min, max] (two finite numbers)"),
    (["--genes", '{"position_multiplier": [-100, 100]}'], "position_multiplier must be >= 0 and finite, got -100.0"),
    (["--base-params", "/missing.json"], "--base-params: no such file '/missing.json'"),
    (["--generations", "0"], "tune --generations, --population, --workers, --window: GA config: generations must be "
                             ">= 1, got 0"),
])
def test_tune_bad_numbers(store, tmp_path, capsys, extra, needle):
    argv = ["tune", "--data", str(store), "--instrument", INSTRUMENT, "--day", DAY, "--out", str(tmp_path / "ga"),
            "--window", "all", "--generations", "1", "--population", "2", "--workers", "1", "--no-progress", *extra]
    err = one_error_line(capsys, argv)
    assert needle in err, err
    assert not (tmp_path / "ga" / "best.json").exists()


def test_tune_config_file_errors_name_the_file(store, tmp_path, capsys):
    cfg = tmp_path / "ga.json"
    cfg.write_text('{"sigma_decay": -0.1}')
    argv = ["tune", "--data", str(store), "--instrument", INSTRUMENT, "--day", DAY, "--out", str(tmp_path / "ga"),
            "--config", str(cfg), "--no-progress"]
    err = one_error_line(capsys, argv)
    assert f"{cfg}: GA config: sigma_decay must be >= 0 and finite, got -0.1" in err, err
    cfg.write_text('{"crossover_prob": NaN}')
    err = one_error_line(capsys, argv + ["--workers", "1"])
    assert f"{cfg} with --workers: key 'crossover_prob' must be a finite number, got nan" in err, err


def test_ga_config_bad_values():
    from alpha_as.tuning.genas import GAConfig

    for d, needle in [({"mutation_prob": 1.5}, "mutation_prob must be in [0, 1], got 1.5"),
                      ({"sigma0": float("inf")}, "key 'sigma0' must be a finite number"),
                      ({"engine": {"latency_ms": float("nan")}}, "GA config: key 'latency_ms' must be a finite number"),
                      ({"engine": {"maker_fee": 2.0}}, "GA config: engine: maker_fee must be finite and in (-1, 1)")]:
        with pytest.raises(InputError) as e:
            GAConfig.from_dict(d, source="g.toml [genas]")
        assert str(e.value).startswith("g.toml [genas]: ") and needle in str(e.value), str(e.value)


# ------------------------------------------------------------------------------ the GA summary line

def test_ga_summary_prints_the_parameters_the_engine_uses():
    import pyarrow as pa

    from alpha_as.tuning.genas import TuneResult, genes_to_params

    names, lo, hi = ["risk_aversion", "window_tick"], [0.01, 5], [0.9, 25]
    genes = [0.123456789, 5.22034]
    params = genes_to_params(genes, names, lo, hi, {})
    assert params.window_tick == 5  # rounded half up when the ASParams is built: the engine runs 5
    best = {"params": params.to_dict(), "genes": dict(zip(names, genes, strict=True)), "fitness": 0.5,
            "generation": 1, "index": 3, "generations": 2}
    text = TuneResult(best, pa.table({"id": [0]}), 1.0, 4, 1).summary()
    assert "window_tick=5 " in text and "5.22" not in text and "risk_aversion=0.123457" in text, text


# ------------------------------------------------------------------------------------ TOML tables

def write_protocol(tmp_path: Path, tables: str) -> Path:
    path = tmp_path / "x.toml"
    path.write_text(f'[protocol]\ndata = "data"\ninstrument = "x"\n\n{tables}\n')
    return path


@pytest.mark.parametrize(("tables", "needle"), [
    ("[engine]\nlatency_ms = nan", "[engine]: key 'latency_ms' must be a finite number, got nan"),
    ("[engine]\nmaker_fee = inf", "[engine]: key 'maker_fee' must be a finite number, got inf"),
    ("[engine]\nqueue_power = -1.0", "[engine]: engine: queue_power must be finite and > 0, got -1.0"),
    ("[genas]\ngenerations = 0", "[genas]: GA config: generations must be >= 1, got 0"),
    ("[genas]\ncrossover_prob = nan", "[genas]: key 'crossover_prob' must be a finite number, got nan"),
    ("[genas]\ngenes = { risk_aversion = [0.01, inf] }", "[genas]: gene table: risk_aversion must be [min, max]"),
    ("[genas]\nbase_params = { quantity = -1.0 }", "[genas]: GA base_params: AS parameters: quantity must be > 0"),
    ("[agents]\ndecision_seconds = inf", "[agents]: key 'decision_seconds' must be a finite number, got inf"),
    ("[agents]\ntarget_copy_hours = -1.0", "[agents]: Alpha-AS config: target_copy_hours must be > 0 and finite"),
    ("[agents]\ndqn = { lr = -1.0 }", "[agents]: DQN preset 'default': DQN config: lr must be > 0 and finite, got -1.0"),
    ("[agents]\ndqn = { max_fit_seconds = 0.0 }", "[agents]: DQN preset 'default': DQN config: max_fit_seconds"),
    ("[sound]\nz_clip = inf", "[sound]: key 'z_clip' must be a finite number, got inf"),
    ("[baselines.foic]\nquantity = inf", "[baselines.foic]: key 'quantity' must be a finite number, got inf"),
    ("[baselines]\ninventory_limit = -1.0", "[baselines]: FOIC: inventory_limit must be > 0 and finite, got -1.0"),
    ("[features]\nhorizon_s = 0", "[features]: key 'horizon_s' must be > 0, got 0"),
    ("[features]\nhorizon_s = nan", "[features]: key 'horizon_s' must be a finite number, got nan"),
    ("[features]\nmax_rows = 5", "[features]: key 'max_rows' must be >= 100, got 5"),
])
def test_protocol_value_errors_name_the_file_table_and_key(tmp_path, capsys, tables, needle):
    from alpha_as.experiments.protocol import load_protocol

    path = write_protocol(tmp_path, tables)
    with pytest.raises(InputError) as e:
        load_protocol(path)
    msg = str(e.value)
    assert msg.startswith(f"{path} [") and needle in msg and "\n" not in msg, msg
    err = one_error_line(capsys, ["replicate", "--config", str(path), "--no-progress"])
    assert needle in err


def test_experiment_value_errors_name_the_file_table_and_key(tmp_path):
    from alpha_as.experiments.config import load_config

    def bad(tables: str, needle: str) -> None:
        path = tmp_path / "e.toml"
        path.write_text(f'[experiment]\ndata = "data"\ninstrument = "x"\ndays = ["{DAY}"]\n\n{tables}\n')
        with pytest.raises(InputError) as e:
            load_config(path, check_data=False)
        assert str(e.value).startswith(f"{path} [") and needle in str(e.value), str(e.value)

    bad('[engine]\nlatency_ms = nan\n[models.a]\nkind = "foic"', "[engine]: key 'latency_ms' must be a finite number")
    bad('[models.a]\nkind = "as"\nparams = { quantity = inf }', "[models.a] params: key 'quantity' must be a finite")
    bad('[models.a]\nkind = "fixed"\nparams = { interval_s = -1.0 }', "fixed quoter: interval_s must be > 0")


# ----------------------------------------------------------------------------------- claim wording

def test_c3_with_no_agent_holding_fully_says_so(tmp_path):
    from alpha_as.report import claims as cl
    from alpha_as.report import load_results

    days = ["2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07"]
    # both agents: worse Max DD on 2 of 4 days, better P&L-to-MAP on 1 of those -> each "holds partly"
    dd = {"gen-as": [1, 1, 1, 1], "alpha-as-1": [2, 2, 0.5, 0.5], "alpha-as-2": [2, 2, 0.5, 0.5]}
    mp = {"gen-as": [0, 0, 0, 0], "alpha-as-1": [5, -5, 0, 0], "alpha-as-2": [-5, 5, 0, 0]}
    for model in dd:
        for j, day in enumerate(days):
            d = tmp_path / model / day / "seed=0"
            d.mkdir(parents=True)
            metrics = {"sharpe": 0.1, "sortino": 0.1, "max_drawdown": float(dd[model][j]),
                       "pnl_to_map": float(mp[model][j]), "final_total_pnl": 0.0, "n_fills": 10,
                       "mean_abs_position": 1.0}
            (d / "metrics.json").write_text(json.dumps({"metrics": metrics, "instrument": "test_inst"}))
    c3 = cl.claim_c3(load_results(tmp_path), samples=50, seed=0)
    assert [a["verdict"] for a in c3["agents"]] == ["holds partly", "holds partly"]
    assert c3["verdict"] == "holds partly (no agent fully; 2 of 2 partly)"  # not "holds partly (0 of 2)"
