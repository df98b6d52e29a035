"""Gen-AS: the GA's operators, its determinism, its outputs and the ``alpha-as tune`` command (issue #4)."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pandas as pd
import pytest

import alpha_as.engine  # noqa: F401 - first: importing alpha_as.strategies before the engine is circular
from alpha_as.cli import main
from alpha_as.errors import InputError
from alpha_as.strategies.avellaneda_stoikov import ASParams
from alpha_as.tuning import DEFAULT_GENES, GAConfig, tune
from alpha_as.tuning.genas import (
    blend,
    blend_weight,
    check_gene_table,
    init_genes,
    mutate_genes,
    mutation_sigma,
    param_value,
    parent_probabilities,
    sample_parents,
)

INSTR = "btcusdt_synth"
DAY = "2020-12-08"
G, P = 3, 6
LO = np.array([v[0] for v in DEFAULT_GENES.values()], dtype=float)
HI = np.array([v[1] for v in DEFAULT_GENES.values()], dtype=float)


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ga_store")
    assert main(["data", "synth", "--out", str(root), "--start", DAY, "--end", DAY, "--hours", "0.5",
                 "--workers", "1"]) == 0
    return root


def history(out) -> pd.DataFrame:
    return pd.read_parquet(out / "history.parquet")


@pytest.fixture(scope="module")
def runs(store_root, tmp_path_factory):
    """The authors' GA, 3 generations x 6, seed 7: twice in-process and once with 2 worker processes."""
    outs = {}
    for name, workers in (("a", 1), ("b", 1), ("w2", 2)):
        out = tmp_path_factory.mktemp(f"ga_{name}")
        tune(store_root, INSTR, DAY, out, GAConfig(generations=G, population=P, seed=7, workers=workers),
             progress=False)
        outs[name] = out
    return outs


# ------------------------------------------------------------------------------------------ operators

def test_mutation_sigma_schedule():
    assert [round(mutation_sigma(g), 2) for g in range(4)] == [1.81, 1.64, 1.48, 1.34]
    assert mutation_sigma(0) == pytest.approx(2 * math.exp(-0.1))
    assert mutation_sigma(1000) == 0.01  # the floor


def test_blend_weight_is_clipped_to_its_bounds():
    rng = np.random.default_rng(0)
    w = np.array([blend_weight(rng) for _ in range(20_000)])
    assert w.min() == 0.2 and w.max() == 0.8
    assert (w == 0.2).mean() == pytest.approx(0.2, abs=0.015)  # P(U < 0.2)
    assert (w == 0.8).mean() == pytest.approx(0.2, abs=0.015)  # P(U > 0.8)
    assert blend([0.0, 10.0], [1.0, 20.0], 0.25) == [0.75, 17.5]  # a·A + (1 − a)·B


def test_parents_are_drawn_with_fitness_weighted_probability():
    scores = [-1.0, 0.0, 1.0, 3.0]  # weights score + |min| = 0, 1, 2, 4
    assert parent_probabilities(scores) == pytest.approx([0, 1 / 7, 2 / 7, 4 / 7])
    rng = np.random.default_rng(42)
    draws = np.array([sample_parents(rng, scores, 1)[0] for _ in range(20_000)])
    freq = np.bincount(draws, minlength=4) / draws.size
    assert freq[0] == 0.0
    assert freq == pytest.approx([0, 1 / 7, 2 / 7, 4 / 7], abs=0.012)
    pairs = [sample_parents(rng, scores, 2) for _ in range(500)]
    assert all(a != b for a, b in pairs)  # the two parents of a crossover differ
    assert parent_probabilities([0.0, 0.0, 0.0]) == pytest.approx([1 / 3] * 3)  # all weights 0: uniform
    assert parent_probabilities([0.5, -math.inf]) == pytest.approx([1.0, 0.0])  # failed evaluations excluded


def test_initial_and_mutated_genes_stay_in_range_and_the_authors_init_hits_bounds():
    rng = np.random.default_rng(1)
    init = np.array([init_genes(rng, LO, HI) for _ in range(2000)])
    assert ((init >= LO) & (init <= HI)).all()
    on_bound = ((init == LO) | (init == HI)).mean()
    assert 0.3 < on_bound < 0.9  # N(0, 2)·range: many genes land on a bound (spec §4)
    uni = np.array([init_genes(rng, LO, HI, "uniform") for _ in range(500)])
    assert ((uni > LO) & (uni < HI)).all()
    parent = list(HI)  # every gene on its upper bound: the hardest case for "differs from the parent"
    for g in range(5):
        child = mutate_genes(rng, parent, LO, HI, mutation_sigma(g))
        assert child != parent and all(LO <= child) and all(child <= HI)


def test_integer_genes_round_half_up_into_their_range():
    assert param_value("window_tick", 24.5, 5, 25) == 25
    assert param_value("window_tick", 7.49, 5, 25) == 7
    assert param_value("window_tick", 5.3, 5.3, 9.7) == 6  # rounded into [ceil(min), floor(max)]
    assert param_value("risk_aversion", 0.123, 0.01, 0.9) == 0.123


@pytest.mark.parametrize(("genes", "message"), [
    ({"nope": [0, 1]}, "unknown gene 'nope'"),
    ({"skew_mode": [0, 1]}, "unknown gene 'skew_mode'"),
    ({"risk_aversion": [0.9, 0.1]}, "min < max"),
    ({"risk_aversion": [0.1]}, "[min, max]"),
    ({"window_tick": [5.2, 5.8]}, "holds no integer"),
    ({"risk_aversion": [-1.0, 0.5]}, "risk_aversion must be > 0"),
    ({}, "non-empty"),
])
def test_bad_gene_tables_are_input_errors(genes, message):
    with pytest.raises(InputError, match="gene table") as e:
        check_gene_table(genes)
    assert message in str(e.value)


# -------------------------------------------------------------------------------------------- GA runs

def test_same_seed_gives_the_same_history_whatever_the_workers(runs, store_root, tmp_path):
    a, b, w2 = (history(runs[k]).drop(columns="eval_seconds") for k in ("a", "b", "w2"))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, w2)
    other = tmp_path / "seed8"
    tune(store_root, INSTR, DAY, other, GAConfig(generations=1, population=P, seed=8, workers=1), progress=False)
    assert not np.array_equal(history(other).gene_risk_aversion, a.gene_risk_aversion[:P])


def test_cumulative_population_keeps_every_individual(runs):
    h = history(runs["a"])
    assert len(h) == G * P
    assert h.id.tolist() == list(range(G * P))
    assert h.generation.tolist() == [g for g in range(G) for _ in range(P)]
    assert set(h.operator[h.generation == 0]) == {"init"} and set(h.operator[h.generation > 0]) <= {"crossover", "mutation"}
    later = h[h.generation > 0]
    first_id = later.generation * P  # parents come from the cumulative population of earlier generations
    assert ((later.parent_a >= 0) & (later.parent_a < first_id)).all()
    cx = later[later.operator == "crossover"]
    assert ((cx.parent_b >= 0) & (cx.parent_b < cx.generation * P)).all()
    assert cx.blend_weight.between(0.2, 0.8).all()
    mut = later[later.operator == "mutation"]
    assert np.allclose(mut.mutation_sigma, [mutation_sigma(g - 1) for g in mut.generation])
    assert (h.fitness == h.sharpe).all() and (h.n_fills >= 0).all() and h.error.isna().all()


def test_genes_stay_in_their_ranges_and_integer_params_are_rounded(runs):
    h = history(runs["a"])
    for name, (lo, hi) in DEFAULT_GENES.items():
        assert h[f"gene_{name}"].between(lo, hi).all(), name
    assert h.param_window_tick.between(5, 25).all()
    assert (h.param_window_tick == np.floor(h.gene_window_tick + 0.5)).all()


def test_best_json_params_load_and_replay_to_the_same_sharpe(runs, store_root, tmp_path):
    out = runs["a"]
    best = json.loads((out / "best.json").read_text())
    params = ASParams.from_dict(best["params"])
    h = history(out)
    assert best["fitness"] == h.fitness.max() and best["fitness"] == best["metrics"]["sharpe"]
    assert params.window_tick == round(best["genes"]["window_tick"] + 1e-9) or params.window_tick == int(
        math.floor(best["genes"]["window_tick"] + 0.5))
    assert best["gene_table"] == {k: list(v) for k, v in DEFAULT_GENES.items()}
    assert {best["seed"], best["day"], best["instrument"], best["algorithm"]} == {7, DAY, INSTR, "authors"}
    assert (out / "config.json").is_file()
    run_out = tmp_path / "run"
    assert main(["run", "as", "--data", str(store_root), "--instrument", INSTR, "--day", DAY,
                 "--out", str(run_out), "--params", str(out / "best.json")]) == 0
    replay = json.loads((run_out / "metrics.json").read_text())["metrics"]
    assert replay["sharpe"] == pytest.approx(best["fitness"], rel=1e-12, abs=1e-15)


def test_mu_plus_lambda_records_every_evaluation(store_root, tmp_path):
    state = random.getstate()
    cfg = GAConfig(generations=G, population=P, seed=3, workers=1, algorithm="mu_plus_lambda", init="uniform")
    r1 = tune(store_root, INSTR, DAY, tmp_path / "m1", cfg, progress=False)
    assert random.getstate() == state  # the global RNG DEAP uses is restored
    h = history(tmp_path / "m1")
    assert len(h) == r1.evaluations == G * P
    assert h.generation.tolist() == [g for g in range(G) for _ in range(P)]
    assert set(h.operator[h.generation > 0]) <= {"crossover", "mutation"}
    assert (h.parent_a[h.generation > 0] < h.generation[h.generation > 0] * P).all()
    tune(store_root, INSTR, DAY, tmp_path / "m2", cfg, progress=False)
    pd.testing.assert_frame_equal(h.drop(columns="eval_seconds"),
                                  history(tmp_path / "m2").drop(columns="eval_seconds"))
    assert json.loads((tmp_path / "m1" / "best.json").read_text())["fitness"] == h.fitness.max()


# ------------------------------------------------------------------------------------------------ CLI

def tune_args(store_root, out, *extra):
    return ["tune", "--data", str(store_root), "--instrument", INSTR, "--day", DAY, "--out", str(out),
            "--generations", "1", "--population", "2", "--workers", "1", "--no-progress", *extra]


def test_cli_tune_writes_outputs_and_refuses_to_overwrite_a_finished_run(store_root, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(tune_args(store_root, out, "--genes", '{"risk_aversion": [0.1, 0.5], "window_tick": [5, 10]}')) == 0
    assert "best fitness" in capsys.readouterr().out
    best = json.loads((out / "best.json").read_text())
    assert set(best["genes"]) == {"risk_aversion", "window_tick"} and best["params"]["spread_multiplier"] == 5.0
    assert main(tune_args(store_root, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err
    assert main(tune_args(store_root, out, "--force")) == 0


@pytest.mark.parametrize(("extra", "message"), [
    (["--day", "2020-12-09"], "no depth file for instrument"),
    (["--generations", "0"], "generations must be >= 1"),
    (["--population", "0"], "population must be >= 1"),
    (["--genes", '{"gamma": [0.1, 0.5]}'], "unknown gene 'gamma'"),
    (["--genes", '{"risk_aversion": [0.5, 0.1]}'], "min < max"),
    (["--genes", "{not json"], "not valid JSON"),
    (["--base-params", '{"risk_aversionn": 1}'], "unknown key"),
    (["--window", "7-19h"], "bad --window"),
    (["--algorithm", "nsga2"], "invalid choice"),
])
def test_cli_bad_input_is_one_line_and_exit_2(store_root, tmp_path, capsys, extra, message):
    args = tune_args(store_root, tmp_path / "bad", *extra)
    try:
        code = main(args)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_cli_tune_progress_off_a_terminal_is_one_line_per_evaluation(store_root, tmp_path, capsys):
    args = [a for a in tune_args(store_root, tmp_path / "p") if a != "--no-progress"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [x for x in err.splitlines() if x.startswith("Gen-AS: ")]
    assert [x.split(",")[0] for x in lines] == ["Gen-AS: 1/2 eval (50%)", "Gen-AS: 2/2 eval (100%)"], err
