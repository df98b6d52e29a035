"""The paper-style report (alpha_as.report) on small constructed result folders with known answers."""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from alpha_as.errors import InputError
from alpha_as.report import build, build_report, load_results, stats, tables
from alpha_as.report import claims as cl
from alpha_as.report.cli import register

DAYS = ["2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07", "2021-01-08", "2021-01-09"]
MODELS = {"foic": ("FOIC", "baseline"), "liic": ("LIIC", "baseline"), "gen-as": ("Gen-AS", "reference"),
          "alpha-as-1": ("Alpha-AS-1", "agent"), "alpha-as-2": ("Alpha-AS-2", "agent")}
SEED_OFFSET = {0: 0.02, 1: -0.02}  # alpha-as-1 has two seeds: value ± offset
MISSING = ("liic", 3)  # LIIC has no run on day 3


# ------------------------------------------------------------------------------------------------ helpers

def write_run(root: Path, model: str, date: str, seed: int, metrics: dict, *, grid: bool = True,
              agent: bool = False) -> Path:
    d = root / model / date / f"seed={seed}"
    d.mkdir(parents=True)
    full = {"n_fills": 10, "final_total_pnl": 0.0, "mean_abs_position": 1.0, **metrics}
    (d / "metrics.json").write_text(json.dumps({"metrics": full, "instrument": "test_inst"}))
    if grid:
        t0 = np.datetime64(date, "ns").astype(np.int64) + 7 * 3_600_000_000_000
        ts = t0 + np.arange(6, dtype=np.int64) * 1_800_000_000_000  # 07:00 .. 09:30 every 30 min
        z = np.zeros(6)
        cols = {"timestamp": pa.array(ts), "position": pa.array(np.array([0, 1, 2, 1, 0, -1.0])), "cash": z,
                "realized_pnl": z, "unrealized_pnl": z, "total_pnl": np.linspace(0, metrics["final_total_pnl"], 6),
                "mid": z + 100, "bid_quote": z + 99, "ask_quote": z + 101, "n_fills": np.arange(6.0)}
        if agent:
            cols["action"] = pa.array(np.array([-1, 0, 4, 19, 19, 7], dtype=np.int16))
            cols["risk_aversion"] = np.array([0.9, 0.01, 0.01, 0.9, 0.9, 0.1])
            cols["skew"] = np.array([0.0, -0.1, 0.1, 0.1, 0.1, 0.0])
        pq.write_table(pa.table(cols), d / "grid.parquet")
    return d


def sharpe_val(model: str, j: int) -> float:
    if model == "alpha-as-2" and j == 0:
        return 0.4
    if model == "foic" and j == 1:
        return 0.5
    return {"foic": 0.1, "liic": 0.2, "gen-as": 0.3, "alpha-as-1": 0.5, "alpha-as-2": 0.25}[model] + 0.01 * j


def map_val(model: str, j: int) -> float:
    if model == "alpha-as-1" and j == 5:
        return 100.0
    if model == "alpha-as-2" and j == 5:
        return 1000.0
    return 1000.0 * sharpe_val(model, j)


def dd_val(model: str, j: int) -> float:
    return {"foic": 5.0 + j, "liic": 6.0 + j, "gen-as": 1.0 + 0.1 * j, "alpha-as-1": 0.5 + 0.1 * j,
            "alpha-as-2": 0.8 + 0.1 * j}[model]


def seed_metrics(model: str, j: int, seed: int) -> dict:
    off = SEED_OFFSET[seed] if model == "alpha-as-1" else 0.0
    return {"sharpe": sharpe_val(model, j) + off, "sortino": 2 * sharpe_val(model, j) + 2 * off,
            "max_drawdown": dd_val(model, j) + 2.5 * off, "pnl_to_map": map_val(model, j) + 1000 * off,
            "final_total_pnl": map_val(model, j) / 1000}


def seeds_of(model: str) -> list[int]:
    return [0, 1] if model == "alpha-as-1" else [0]


def make_main(root: Path, *, runs_subdir: bool = True, experiment: bool = True) -> Path:
    base = root / "runs" if runs_subdir else root
    for model in MODELS:
        for j, day in enumerate(DAYS):
            if (model, j) == MISSING:
                continue
            for s in seeds_of(model):
                write_run(base, model, day, s, seed_metrics(model, j, s), agent=model.startswith("alpha"))
    if experiment:
        exp = {"name": "unit", "instrument": "test_inst", "data": "constructed",
               "data_note": "Constructed numbers with known answers.",
               "models": {m: {"label": lab, "role": role} for m, (lab, role) in MODELS.items()},
               "bootstrap": {"samples": 300, "seed": 7}}
        (root / "experiment.json").write_text(json.dumps(exp))
    return root


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The constructed results folder and a report built from it (into a separate folder)."""
    root = make_main(tmp_path_factory.mktemp("res"))
    out = tmp_path_factory.mktemp("out")
    build_report(root, out)
    return root, out


# ------------------------------------------------------------------------------------------------ tables

def test_csv_columns_and_exact_seed_means(built: tuple[Path, Path]) -> None:
    _, out = built
    for ind in ("sharpe", "sortino", "max_drawdown", "pnl_to_map"):
        rows = read_csv(out / "tables" / f"{ind}.csv")
        assert list(rows[0]) == ["date", *MODELS]
        assert [r["date"] for r in rows] == DAYS  # no Mean/Median rows
        for j, r in enumerate(rows):
            for model in MODELS:
                if (model, j) == MISSING:
                    assert r[model] == ""
                    continue
                want = float(np.mean([seed_metrics(model, j, s)[ind] for s in seeds_of(model)]))
                assert float(r[model]) == want  # repr-exact round trip


def test_markdown_markers_and_summary_rows(built: tuple[Path, Path]) -> None:
    root, _ = built
    res = load_results(root)
    md = tables.markdown_indicator_table(res, "sharpe").splitlines()
    assert md[0] == "| Date | FOIC | LIIC | Gen-AS | Alpha-AS-1 | Alpha-AS-2 |"
    # day 0: Alpha-AS-1 best (bold, better than Gen-AS); Alpha-AS-2 second only to Alpha-AS-1 → parentheses
    assert md[2] == "| 2021-01-04 | 0.1000 | 0.2000 | 0.3000 | **0.5000⁺** | (0.4000)⁺ |"
    # day 1: FOIC better than Gen-AS (⁺), Alpha-AS-2 not second → no parentheses
    assert md[3] == "| 2021-01-05 | 0.5000⁺ | 0.2100 | 0.3100 | **0.5100⁺** | 0.2600 |"
    assert md[5].split(" | ")[2] == "–"  # LIIC missing on day 3
    assert md[-2] == "| **Mean** | 0.1900 | 0.2240 | 0.3250 | **0.5250⁺** | 0.3000 |"
    assert md[-1] == "| **Median** | 0.1350 | 0.2200 | 0.3250 | **0.5250⁺** | 0.2850 |"
    dd = tables.markdown_indicator_table(res, "max_drawdown").splitlines()
    assert dd[2] == "| 2021-01-04 | 5.000 | 6.000 | 1.000 | **0.5000⁺** | (0.8000)⁺ |"  # lower is better
    tex = tables.latex_indicator_table(res, "sharpe")
    assert r"\usepackage[dvipsnames]{xcolor}, booktabs" in tex and r"\toprule" in tex
    assert r"\textbf{\textcolor{OliveGreen}{0.5000}}" in tex and r"\textcolor{OliveGreen}{(0.4000)}" in tex
    assert "Mean &" in tex and "Median &" in tex


def test_row_marks_ties_and_missing() -> None:
    roles = ["baseline", "reference", "agent", "agent"]
    m = tables.row_marks(np.array([1.0, 2.0, 3.0, 3.0]), roles, True, 1)
    assert [x.bold for x in m] == [False, False, True, True] and not any(x.paren for x in m)
    m = tables.row_marks(np.array([np.nan, 2.0, 1.0, 3.0]), roles, True, 1)
    assert m[0] == tables.Mark() and m[3].bold and m[3].plus and not m[2].paren  # Gen-AS beats agent 2


def test_fmt_num() -> None:
    assert tables.fmt_num(-0.08712) == "-0.0871"
    assert tables.fmt_num(-1442.8571) == "-1442.86"
    assert tables.fmt_num(0.0) == "0" and tables.fmt_num(math.nan) == "–"
    assert tables.fmt_num(0.0012345) == "0.00123"


def test_table6_and_table8(built: tuple[Path, Path]) -> None:
    _, out = built
    t6 = {(r["indicator"], r["model"]): (int(r["days_won"]), int(r["n_days"])) for r in read_csv(out / "tables/table6.csv")}
    # day 3 is left out (LIIC has no run), so 5 days
    assert t6[("sharpe", "alpha-as-1")] == (5, 5) and t6[("sharpe", "alpha-as-2")] == (1, 5)
    assert t6[("max_drawdown", "alpha-as-2")] == (5, 5)
    assert t6[("pnl_to_map", "alpha-as-1")] == (4, 5) and t6[("pnl_to_map", "alpha-as-2")] == (2, 5)
    assert t6[("pnl_to_map", "combined")] == (5, 5)
    t8 = read_csv(out / "tables/table8.csv")
    a1 = [r for r in t8 if r["agent"] == "alpha-as-1"]
    a2 = [r for r in t8 if r["agent"] == "alpha-as-2"]
    assert len(a1) == 6 and sum(int(r["worse_max_drawdown"]) for r in a1) == 0
    assert [r["date"] for r in a1 if r["reversed"] == "1"] == [DAYS[5]]
    assert sum(int(r["reversed"]) for r in a2) == 4


def test_table8_counts_constructed(tmp_path: Path) -> None:
    res = load_results(make_c3(tmp_path))
    t = {e.agent: e for e in tables.table8(res)}
    assert (t["alpha-as-1"].k, t["alpha-as-1"].m, t["alpha-as-1"].n_reversed) == (3, 2, 1)
    assert t["alpha-as-1"].day_list(t["alpha-as-1"].worse_dd) == DAYS[:3]
    assert (t["alpha-as-2"].k, t["alpha-as-2"].m) == (2, 1)
    md = tables.table8_markdown(res, tables.table8(res))
    assert "**3 of 4** days (paper: 16 of 30)" in md and "(paper: 13)" in md


# ------------------------------------------------------------------------------------------------ stats

def test_holm_hand_example() -> None:
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(stats.holm([0.5, 0.6]), [1.0, 1.0])
    got = stats.holm([0.02, math.nan, 0.01])
    assert math.isnan(got[1]) and got[0] == pytest.approx(0.02) and got[2] == pytest.approx(0.02)
    assert stats.holm([]).size == 0


def test_kruskal_and_mann_whitney_equal_scipy(built: tuple[Path, Path]) -> None:
    root, out = built
    res = load_results(root)
    v = res.day_values["sharpe"]
    kw = {r["indicator"]: r for r in read_csv(out / "tables/kruskal_wallis.csv")}
    want = sps.kruskal(*[row[~np.isnan(row)] for row in v])
    assert float(kw["sharpe"]["H"]) == pytest.approx(want.statistic, rel=1e-12)
    assert float(kw["sharpe"]["p"]) == pytest.approx(want.pvalue, rel=1e-12)
    mw = [r for r in read_csv(out / "tables/mann_whitney.csv") if r["indicator"] == "sharpe"]
    assert len(mw) == 10
    row = next(r for r in mw if (r["model_a"], r["model_b"]) == ("foic", "liic"))
    common = [j for j in range(6) if j != 3]
    w = sps.mannwhitneyu(v[0, common], v[1, common], alternative="two-sided")
    assert int(row["n_days"]) == 5 and float(row["p"]) == pytest.approx(w.pvalue, rel=1e-12)
    np.testing.assert_allclose([float(r["p_holm"]) for r in mw], stats.holm([float(r["p"]) for r in mw]))


def test_bootstrap_deterministic_and_contains_estimate() -> None:
    rng = np.random.default_rng(1)
    a = [rng.normal(1.0, 1.0, size=2) for _ in range(12)]
    b = [rng.normal(0.0, 1.0, size=1) for _ in range(12)]
    ci1 = stats.mean_diff_ci(a, b, higher_is_better=True, samples=400, seed=5)
    ci2 = stats.mean_diff_ci(a, b, higher_is_better=True, samples=400, seed=5)
    assert ci1 == ci2
    point = float(np.mean([x.mean() - y.mean() for x, y in zip(a, b, strict=True)]))
    assert ci1[0] <= point <= ci1[1]
    lo, hi = stats.mean_diff_ci(a, b, higher_is_better=False, samples=400, seed=5)
    assert (lo, hi) == pytest.approx((-ci1[1], -ci1[0]))
    draws = stats.hierarchical_draws([[np.array([1.0, 3.0])], [np.array([5.0])]], 200, np.random.default_rng(0))
    assert set(np.unique(draws[0])) == {1.0, 3.0} and set(np.unique(draws[1])) == {5.0}


# ------------------------------------------------------------------------------------------------ claims

def make_c3(root: Path) -> Path:
    """Three agents vs Gen-AS over 4 days: k=3 m=2 (holds), k=2 m=1 (partly), k=0 (does not hold)."""
    dd = {"gen-as": [1, 1, 1, 1], "alpha-as-1": [2, 2, 2, 0.5], "alpha-as-2": [2, 2, 0.5, 0.5],
          "alpha-as-3": [0.5] * 4}
    mp = {"gen-as": [0, 0, 0, 1], "alpha-as-1": [5, 5, -5, 0], "alpha-as-2": [-5, 5, 0, 0], "alpha-as-3": [0] * 4}
    for model in dd:
        for j in range(4):
            write_run(root, model, DAYS[j], 0, {"sharpe": 0.1, "sortino": 0.1, "max_drawdown": float(dd[model][j]),
                                                "pnl_to_map": float(mp[model][j]), "final_total_pnl": 0.0},
                      grid=False)
    return root


def test_claim_verdicts(built: tuple[Path, Path]) -> None:
    _, out = built
    doc = json.loads((out / "claims.json").read_text())
    c = {x["id"]: x for x in doc["claims"]}
    assert c["C1"]["verdict"] == "holds" and c["C1"]["n_comparisons"] == 8
    assert c["C2"]["verdict"] == "holds partly (3 of 6)"
    assert [x["verdict"] for x in c["C2"]["comparisons"] if x["model"] == "alpha-as-1"] == ["holds"] * 3
    assert c["C3"]["verdict"] == "does not hold"
    assert doc["n_days"] == 6 and doc["n_seeds"] == 2 and doc["bootstrap"]["samples"] == 300
    for comp in c["C1"]["comparisons"] + c["C2"]["comparisons"]:
        lo, hi = comp["ci95"]
        assert lo <= comp["mean_diff"] <= hi
    # one-sided p equals scipy's, Holm over the 8 comparisons of C1
    res = load_results(built[0])
    g, f = res.index("gen-as"), res.index("foic")
    dd = res.day_values["max_drawdown"]
    comp = next(x for x in c["C1"]["comparisons"] if x["indicator"] == "max_drawdown" and x["versus"] == "foic")
    assert comp["p_one_sided"] == pytest.approx(sps.mannwhitneyu(dd[g], dd[f], alternative="less").pvalue)
    np.testing.assert_allclose([x["p_holm"] for x in c["C1"]["comparisons"]],
                               stats.holm([x["p_one_sided"] for x in c["C1"]["comparisons"]]))


def test_claim_c3_per_agent(tmp_path: Path) -> None:
    res = load_results(make_c3(tmp_path))
    c3 = cl.claim_c3(res, samples=200, seed=0)
    per = {a["agent"]: a for a in c3["agents"]}
    assert per["alpha-as-1"]["verdict"] == "holds" and per["alpha-as-1"]["worse_max_dd_days"] == 3
    assert per["alpha-as-2"]["verdict"] == "holds partly" and per["alpha-as-3"]["verdict"] == "does not hold"
    assert c3["verdict"] == "holds partly (1 of 3)"
    lo, hi = per["alpha-as-1"]["share_ci95"]
    assert lo <= 0.75 <= hi
    c1 = cl.claim_c1(res, samples=50, seed=0)
    assert c1["verdict"] == "not tested (missing: baselines)"


def test_combine() -> None:
    assert cl.combine([True, True]) == "holds"
    assert cl.combine([True, False, False]) == "holds partly (1 of 3)"
    assert cl.combine([False]) == "does not hold"


# ------------------------------------------------------------------------------------------------ build

def test_report_sections_and_plots(built: tuple[Path, Path]) -> None:
    _, out = built
    md = (out / "report.md").read_text()
    heads = [ln for ln in md.splitlines() if ln.startswith("#")]
    assert heads[0] == "# Alpha-AS replication report: unit"
    for h in ("## Setup", "### Table 2: Sharpe ratio", "### Table 5: P&L-to-MAP", "## Table 6: share of days the "
              "Alpha-AS models beat the baselines and Gen-AS", "## Significance tests", "## Claims", "## Plots"):
        assert h in heads
    assert "Constructed numbers with known answers." in md
    assert "Max DD is in USD, lower is better; the paper prints it negative." in md
    assert "Holm-Bonferroni" in md and "day-to-day variation only" not in md  # two seeds
    for name in ("equity", "inventory", "boxplots", "actions_alpha-as-1", "actions_alpha-as-2"):
        png = out / "plots" / f"{name}.png"
        assert png.stat().st_size > 1000 and f"(plots/{name}.png)" in md
    assert not list(out.rglob("*.tmp"))


def test_outputs_byte_identical_across_builds(built: tuple[Path, Path], tmp_path: Path) -> None:
    root, out = built
    msgs: list[str] = []
    build_report(root, tmp_path, progress=msgs.append)
    assert msgs
    for rel in ["report.md", "claims.json"] + [f"tables/{p.name}" for p in (out / "tables").iterdir()]:
        assert (out / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_top_level_layout_and_ignored_folders(tmp_path: Path) -> None:
    root = make_main(tmp_path, runs_subdir=False, experiment=False)
    (root / "tables").mkdir()
    (root / "summary.csv").write_text("x\n")
    tmp_run = root / "foic" / DAYS[0] / "seed=3.tmp-abc"
    tmp_run.mkdir()
    (tmp_run / "metrics.json").write_text("{broken")
    res = load_results(root)
    assert res.names == ["alpha-as-1", "alpha-as-2", "foic", "gen-as", "liic"]  # inferred: sorted names
    assert [m.role for m in res.models] == ["agent", "agent", "baseline", "reference", "baseline"]
    assert res.dates == DAYS and res.seeds == [0, 1]
    assert res.experiment.bootstrap_samples == 2000 and res.experiment.bootstrap_seed == 0


def test_cli_handler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_c3(tmp_path / "res")  # no grids: only the box plots are drawn, quick
    parser = argparse.ArgumentParser(prog="alpha-as")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", str(root), "--out", str(tmp_path / "out")])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert f"wrote {tmp_path / 'out' / 'report.md'}" in text and "C3: holds partly (1 of 3)" in text
    assert (tmp_path / "out" / "claims.json").is_file() and (tmp_path / "out" / "tables" / "sharpe.csv").is_file()


def test_missing_declared_model_is_reported(tmp_path: Path) -> None:
    root = make_c3(tmp_path)
    (root / "experiment.json").write_text(json.dumps({"models": {"gen-as": {"role": "reference"},
                                                                 "foic": {"label": "FOIC"}}}))
    res = load_results(root)
    assert [m.name for m in res.missing_models] == ["foic"] and "foic" not in res.names
    assert cl.claim_c1(res, samples=10, seed=0)["verdict"] == "not tested (missing: FOIC)"


def test_experiment_dates_and_seeds_restrict(tmp_path: Path) -> None:
    root = make_main(tmp_path)
    exp = json.loads((root / "experiment.json").read_text())
    exp.update(dates=[DAYS[1], DAYS[0], "2022-01-03"], seeds=[1])
    (root / "experiment.json").write_text(json.dumps(exp))
    res = load_results(root)
    assert res.dates == DAYS[:2] and res.missing_dates == ["2022-01-03"] and res.seeds == [1]
    assert res.names == ["alpha-as-1"]  # the only model with a seed=1 run
    assert res.day_values["sharpe"][0, 0] == seed_metrics("alpha-as-1", 0, 1)["sharpe"]
    assert [m.name for m in res.missing_models] == ["foic", "liic", "gen-as", "alpha-as-2"]


def test_session_labels_as_day_folders(tmp_path: Path) -> None:
    m = {"sharpe": 0.1, "sortino": 0.1, "max_drawdown": 1.0, "pnl_to_map": 1.0, "final_total_pnl": 0.0}
    for label in ("2015-05-01_0400-0600", "2015-05-01_1200-1400"):
        write_run(tmp_path / "runs", "gen-as", label, 0, m, grid=False)
    (tmp_path / "runs" / "gen-as" / "not-a-day").mkdir()
    assert load_results(tmp_path).dates == ["2015-05-01_0400-0600", "2015-05-01_1200-1400"]


# ------------------------------------------------------------------------------------------------ bad input

def test_bad_inputs_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match="nope"):
        load_results(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no run folders") as e:
        load_results(empty)
    assert str(empty) in str(e.value)
    bad = tmp_path / "bad"
    run = write_run(bad, "gen-as", DAYS[0], 0, {"sharpe": 0.1, "sortino": 0.1, "max_drawdown": 1.0,
                                                "pnl_to_map": 1.0, "final_total_pnl": 0.0}, grid=False)
    doc = json.loads((run / "metrics.json").read_text())
    del doc["metrics"]["sharpe"]
    (run / "metrics.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="sharpe") as e:
        build(bad, tmp_path / "o")
    assert str(run / "metrics.json") in str(e.value)
    (run / "metrics.json").write_text("{not json")
    with pytest.raises(InputError, match="metrics.json"):
        load_results(bad)
    (run / "metrics.json").write_text(json.dumps(doc | {"metrics": {**doc["metrics"], "sharpe": 1.0}}))
    (bad / "experiment.json").write_text(json.dumps({"models": {"gen-as": {"role": "boss"}}}))
    with pytest.raises(InputError, match="experiment.json") as e:
        load_results(bad)
    assert str(bad / "experiment.json") in str(e.value)


def test_quote_currency_labels_pnl_and_max_dd(tmp_path: Path) -> None:
    """Issue #12: the report names the instrument's quote currency (experiment.json or --quote-currency), not USD."""
    root = make_main(tmp_path / "res")
    exp = json.loads((root / "experiment.json").read_text())
    (root / "experiment.json").write_text(json.dumps({**exp, "quote_currency": "EUR"}))
    out = tmp_path / "eur"
    build_report(root, out)
    md = (out / "report.md").read_text()
    assert "Max DD (EUR)" in md and "Max DD is in EUR" in md and "MtM Max DD (EUR)" in md
    assert "USD" not in md
    assert "Max DD (EUR)" in (out / "tables" / "max_drawdown.tex").read_text()
    from alpha_as.cli import main

    assert main(["report", str(root), "--out", str(tmp_path / "cny"), "--quote-currency", "CNY"]) == 0
    assert "Max DD (CNY)" in (tmp_path / "cny" / "report.md").read_text()
