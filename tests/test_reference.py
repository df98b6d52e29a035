"""Reference policies (random, constant) and their selection in a protocol (constant-train, constant-oracle)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from alpha_as.agents import reference as R
from alpha_as.agents.actions import N_ACTIONS, action_to_params
from alpha_as.cli import main
from alpha_as.data import store as st
from alpha_as.experiments.runner import TIMING_KEYS
from alpha_as.strategies.avellaneda_stoikov import ASParams
from tests.engine_days import assert_same_result

INSTR = "btcusdt_synth"
GENAS = ASParams(risk_aversion=0.3, window_tick=20, position_multiplier=9000.0, spread_multiplier=3.0)


@pytest.fixture(scope="module")
def full_store(tmp_path_factory) -> Path:
    """Two whole synthetic days (07:00-19:00), the paper's training and first test day."""
    root = tmp_path_factory.mktemp("ref") / "store"
    assert main(["data", "synth", "--out", str(root), "--start", "2020-12-08", "--end", "2020-12-09",
                 "--workers", "1"]) == 0
    return root


@pytest.fixture(scope="module")
def day(full_store):
    return st.load_window_day(full_store, INSTR, dt.date(2020, 12, 9), "07:00-19:00")


def same_result(a, b) -> None:
    assert_same_result(a.result, b.result)


def stable_metrics(folder: Path) -> dict:
    doc = json.loads((folder / "metrics.json").read_text())
    return {k: v for k, v in doc.items() if k not in TIMING_KEYS}


# ------------------------------------------------------------------------------------------- the policies


def test_the_module_does_not_load_torch():
    code = ("import sys\nfrom alpha_as.agents import reference\nfrom alpha_as.experiments import replicate, runner\n"
            "assert 'torch' not in sys.modules, 'torch loaded'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_base_parameters_are_the_agents():
    base = R.initial_params(GENAS)
    assert (base.risk_aversion, base.window_tick, base.skew) == (0.9, 25, 0.0)
    assert (base.position_multiplier, base.spread_multiplier) == (9000.0, 3.0)
    per = R.action_params(GENAS)
    assert len(per) == N_ACTIONS
    for a, p in enumerate(per):
        assert {"risk_aversion": p.risk_aversion, "skew": p.skew} == action_to_params(a)
        assert dataclasses.replace(p, risk_aversion=0.9, skew=0.0) == base


def test_random_is_seeded_reproducible_differs_across_seeds_and_takes_every_action(day):
    a, b, c = R.run_random(day, GENAS, 0), R.run_random(day, GENAS, 0), R.run_random(day, GENAS, 1)
    np.testing.assert_array_equal(a.actions, b.actions)
    same_result(a, b)
    assert not np.array_equal(a.actions, c.actions)
    assert not np.array_equal(a.result.fills["price"], c.result.fills["price"])
    counts = np.bincount(a.actions, minlength=N_ACTIONS)
    assert len(counts) == N_ACTIONS and counts.min() > 0  # ~8,600 decisions: every action is taken
    rng = R.random_rng(0)  # the documented stream: SeedSequence([seed, 7])
    np.testing.assert_array_equal(a.actions, [rng.integers(N_ACTIONS) for _ in range(len(a.actions))])
    assert np.all(np.diff(a.t) == 5_000_000_000) and a.t[0] == a.result.grid_ts[0]


@pytest.mark.parametrize("action", [0, 7, 19])
def test_constant_on_the_compiled_loop_equals_stepping_every_5s(day, tmp_path, action):
    compiled = R.run_constant(day, GENAS, action)
    stepped = R.run_stepped(day, GENAS, lambda _t: action)
    assert compiled.result.metrics.n_fills > 100
    same_result(compiled, stepped)
    np.testing.assert_array_equal(compiled.t, stepped.t)
    np.testing.assert_array_equal(compiled.actions, stepped.actions)
    R.write_day(compiled, tmp_path / "c", {"seed": 0})
    R.write_day(stepped, tmp_path / "s", {"seed": 0})
    for name in ("fills.parquet", "grid.parquet"):
        assert (tmp_path / "c" / name).read_bytes() == (tmp_path / "s" / name).read_bytes(), name
    assert stable_metrics(tmp_path / "c") == stable_metrics(tmp_path / "s")


def test_grid_records_the_action_taken_before_each_row(day, tmp_path):
    run = R.run_random(day, GENAS, 3)
    R.write_day(run, tmp_path, {"seed": 3})
    g = pq.read_table(tmp_path / "grid.parquet").to_pydict()
    assert g["action"][0] == -1 and (g["risk_aversion"][0], g["skew"][0]) == (0.9, 0.0)  # before the first decision
    assert g["action"][1:6] == list(run.actions[:5])
    for a, gamma, skew in zip(g["action"][1:200], g["risk_aversion"][1:200], g["skew"][1:200], strict=True):
        assert action_to_params(a) == {"risk_aversion": gamma, "skew": skew}


def test_selection_rules():
    assert R.select_action([0.0] * N_ACTIONS) == 0
    v = [-1.0] * N_ACTIONS
    v[4] = v[11] = 0.5
    assert R.select_action(v) == 4  # ties go to the lowest index
    v[2] = float("nan")
    assert R.select_action(v) == 4  # NaN never wins
    t = R.train_table(v)
    assert t["action"] == 4 and t["fitness"][11] == 0.5 and t["params"]["4"] == action_to_params(4)
    m = np.zeros((N_ACTIONS, 3))
    m[6] = [1.0, -1.0, 0.3]  # mean 0.1
    m[9] = [0.0, 0.0, 0.3]   # mean 0.1: tie, 6 wins
    m[1] = [2.0, -2.0, 0.2]  # mean 0.0667
    o = R.oracle_table(m, ["a", "b", "c"])
    assert o["action"] == 6 and o["mean"][9] == pytest.approx(0.1) and o["sessions"] == ["a", "b", "c"]
    with pytest.raises(ValueError):
        R.oracle_table(m[:, :2], ["a", "b", "c"])
    with pytest.raises(ValueError):
        R.check_action(20)


# --------------------------------------------------------------------------------------------- the CLI


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(("args", "needle"), [
    (["constant", "--action", "25"], "--action must be in 0..19, got 25"),
    (["constant"], "constant needs --action K"),
    (["as", "--action", "3"], "--action applies to constant only"),
    (["random"], "random needs --params"),
])
def test_cli_bad_policy_arguments_are_one_line(tmp_path, capsys, args, needle):
    rc, _, err = run_cli(capsys, "run", *args, "--data", str(tmp_path), "--instrument", INSTR, "--day", "2020-12-09",
                         "--out", str(tmp_path / "o"))
    assert rc == 2 and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "o").exists()


def test_cli_runs_the_policies(full_store, tmp_path, capsys):
    best = tmp_path / "best.json"
    best.write_text(json.dumps({"params": GENAS.to_dict(), "fitness": 0.1}))
    common = ["--data", str(full_store), "--instrument", INSTR, "--day", "2020-12-09", "--params", str(best),
              "--window", "07:00-09:00"]
    rc, out, _ = run_cli(capsys, "run", "constant", "--action", "12", "--out", str(tmp_path / "c"), *common)
    assert rc == 0 and out.startswith(f"constant {INSTR} 2020-12-09: fills ") and out.count("\n") == 1
    m = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert m["action"] == 12 and m["kind"] == "constant" and m["params"]["risk_aversion"] == 0.2
    assert set(pq.read_table(tmp_path / "c" / "grid.parquet").to_pydict()["action"]) == {-1, 12}
    for seed in ("4", "4", "5"):
        rc, out, _ = run_cli(capsys, "run", "random", "--seed", seed, "--out", str(tmp_path / f"r{seed}"), *common)
        assert rc == 0 and out.startswith(f"random {INSTR} 2020-12-09: fills ")
    day = st.load_window_day(full_store, INSTR, dt.date(2020, 12, 9), "07:00-09:00")
    assert m["metrics"] == R.run_constant(day, GENAS, 12).result.metrics.to_dict()
    actions = {s: pq.read_table(tmp_path / f"r{s}" / "grid.parquet").to_pydict()["action"] for s in ("4", "5")}
    assert actions["4"] != actions["5"]
    assert json.loads((tmp_path / "r4" / "metrics.json").read_text())["seed"] == 4


# ----------------------------------------------------------------------------------- in a protocol


def protocol(tmp: Path, data: Path, out: Path, seeds: str = "[0]") -> Path:
    text = f"""[protocol]
data = "{data}"
instrument = "{INSTR}"
out = "{out}"
window = "07:00-07:20"
train = "2020-12-08"
test = ["2020-12-09", "2020-12-09 08:00-08:20", "2020-12-09 09:00-09:20"]
models = ["gen-as", "random", "constant-train", "constant-oracle"]
seeds = {seeds}
workers = 1
"""
    path = tmp / f"p{len(seeds)}.toml"
    path.write_text(text)
    return path


def fake_genas(p, seed: int) -> None:
    """Gen-AS's best.json without running the GA (the references stage only reads it)."""
    from alpha_as.experiments.replicate import genas_dir

    params = dataclasses.replace(GENAS, spread_multiplier=3.0 + seed)
    genas_dir(p, seed).mkdir(parents=True, exist_ok=True)
    (genas_dir(p, seed) / "best.json").write_text(json.dumps({"params": params.to_dict()}))


@pytest.fixture(scope="module")
def references(full_store, tmp_path_factory):
    from alpha_as.experiments.protocol import load_protocol
    from alpha_as.experiments.replicate import stage_references

    tmp = tmp_path_factory.mktemp("protocol")
    runs = {}
    for seeds in ("[0]", "[0, 1]"):
        p = load_protocol(protocol(tmp, full_store, tmp / f"out{len(seeds)}", seeds))
        for s in p.seeds:
            fake_genas(p, s)
        lines: list[str] = []
        assert stage_references(p, lines.append, progress=False) == "ran"
        runs[len(p.seeds)] = (p, lines)
    return runs


def test_constant_train_picks_the_best_ga_fitness_on_the_training_session(references):
    p, lines = references[1]
    doc = json.loads((p.out / "references" / "seed=0" / "constant_train.json").read_text())
    day = st.load_window_day(p.data, INSTR, p.train.date, p.train.window)
    genas = ASParams(**p.session_params("constant-train", p.train, json.loads(
        (p.out / "genas" / "seed=0" / "best.json").read_text())["params"]))  # quoting in the session's window
    assert (genas.first_hour, genas.last_hour) == (7, 7 + 20 / 60)
    for a in (0, 9, 19):  # the GA's fitness: the day's per-fill Sharpe of realized P&L
        assert doc["fitness"][a] == R.run_constant(day, genas, a).result.metrics.sharpe
    assert doc["action"] == int(np.argmax(doc["fitness"])) and doc["session"] == p.train.label
    assert f"constant-train: action {doc['action']} (seed 0)" in lines
    for s in p.test:
        m = json.loads((p.out / "runs" / "constant-train" / s.label / "seed=0" / "metrics.json").read_text())
        assert m["action"] == doc["action"] and m["kind"] == "constant" and m["window"] == s.window
        assert (p.out / "runs" / "constant-train" / s.label / "seed=0" / "grid.parquet").is_file()


def test_constant_oracle_picks_the_best_mean_sharpe_over_the_test_sessions(references):
    p, _ = references[1]
    doc = json.loads((p.out / "references" / "constant_oracle.json").read_text())["seeds"]["0"]
    sharpe = np.array(doc["sharpe"])
    assert sharpe.shape == (N_ACTIONS, len(p.test)) and doc["sessions"] == [s.label for s in p.test]
    assert doc["mean"] == [float(x) for x in sharpe.mean(axis=1)] and doc["action"] == int(np.argmax(doc["mean"]))
    for k, s in enumerate(p.test):
        m = json.loads((p.out / "runs" / "constant-oracle" / s.label / "seed=0" / "metrics.json").read_text())
        assert m["action"] == doc["action"] and m["metrics"]["sharpe"] == sharpe[doc["action"], k]
    # the selection runs keep their metrics only
    sel = p.out / "references" / "test"
    assert len(list(sel.glob("*/*/seed=0/metrics.json"))) == N_ACTIONS * len(p.test)
    assert not list((p.out / "references").rglob("*.parquet"))


def test_random_runs_per_seed_and_seed_0_equals_a_one_seed_protocol(references):
    one, two = references[1][0], references[2][0]
    s = one.test[0].label
    for model in ("random", "constant-train", "constant-oracle"):
        a, b = one.out / "runs" / model / s / "seed=0", two.out / "runs" / model / s / "seed=0"
        for name in ("fills.parquet", "grid.parquet"):
            assert (a / name).read_bytes() == (b / name).read_bytes(), (model, name)
        assert stable_metrics(a) == stable_metrics(b)
    t1 = json.loads((one.out / "references" / "constant_oracle.json").read_text())["seeds"]
    t2 = json.loads((two.out / "references" / "constant_oracle.json").read_text())["seeds"]
    assert t2["0"] == t1["0"] and set(t2) == {"0", "1"} and t2["1"]["sharpe"] != t2["0"]["sharpe"]
    g0, g1 = (pq.read_table(two.out / "runs" / "random" / s / f"seed={k}" / "grid.parquet").to_pydict()["action"]
              for k in (0, 1))
    assert g0 != g1


def test_a_rerun_skips_the_finished_references(references):
    from alpha_as.experiments.replicate import stage_references

    p, _ = references[1]
    files = sorted(q for q in (p.out / "references").rglob("*.json")) + sorted((p.out / "runs").rglob("*"))
    before = {q: q.stat().st_mtime_ns for q in files}
    assert stage_references(p, lambda _s: None, progress=False) == "skipped"
    assert {q: q.stat().st_mtime_ns for q in files} == before


def test_force_deletes_the_references_too(full_store, tmp_path):
    from alpha_as.experiments.protocol import load_protocol
    from alpha_as.experiments.replicate import check_identity

    p = load_protocol(protocol(tmp_path, full_store, tmp_path / "out"))
    check_identity(p, force=False)
    (p.out / "references" / "seed=0").mkdir(parents=True)
    (p.out / "references" / "constant_oracle.json").write_text("{}")
    check_identity(p, force=True)
    assert not (p.out / "references").exists() and (p.out / "protocol.json").is_file()
