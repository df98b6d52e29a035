"""The report beyond the paper: new roles, the paper's outputs unchanged by the new models, the MtM tables,
the paired tests (Wilcoxon, moving-block bootstrap), claim C2b, the oracle rows and the learning section."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from alpha_as.errors import InputError
from alpha_as.report import beyond, build_report, load_results, stats
from alpha_as.report import claims as cl
from alpha_as.report import learning as lrn
from alpha_as.report.load import EXTRA_METRICS, infer_role, load_experiment, paper_view
from tests.test_report import DAYS, MODELS, make_main, read_csv, write_run

NEW_MODELS = {"random": ("Random", "policy"), "constant-train": ("Constant (train)", "policy"),
              "constant-oracle": ("Constant oracle", "oracle"), "alpha-as-1-sound": ("Alpha-AS-1 sound", "variant"),
              "alpha-as-2-sound": ("Alpha-AS-2 sound", "variant")}
NEW_FIELDS = {"p_wilcoxon", "p_wilcoxon_holm", "block_ci95", "note"}
PAPER_FILES = [f"{ind}.{ext}" for ind in ("sharpe", "sortino", "max_drawdown", "pnl_to_map") for ext in ("csv", "tex")]
PAPER_FILES += ["table6.csv", "table8.csv", "kruskal_wallis.csv", "mann_whitney.csv"]


def new_metrics(model: str, j: int) -> dict[str, float]:
    k = list(NEW_MODELS).index(model)
    return {"sharpe": 0.05 * k - 0.1 + 0.003 * j, "sortino": 0.1 * k + 0.002 * j, "max_drawdown": 1.0 + k + 0.1 * j,
            "pnl_to_map": 10.0 * k - 5 + j, "final_total_pnl": 0.1 * k, "mtm_pnl": k - 2.0 + 0.5 * j,
            "mtm_sharpe": 0.01 * k - 0.02, "mtm_sortino": 0.02 * k, "mtm_max_drawdown": 2.0 + k,
            "mean_abs_inventory": 0.001 * (k + 1), "n_fills": 100.0 * (k + 1)}


def paper_claims(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """C1-C3 without the fields added beyond the paper."""
    out = []
    for c in doc["claims"]:
        if c["id"] in ("C1", "C2", "C3"):
            c = dict(c)
            c["comparisons"] = [{k: v for k, v in x.items() if k not in NEW_FIELDS} for x in c.get("comparisons", [])]
            out.append(c)
    return out


# ------------------------------------------------------------------------------------------------ roles

def test_infer_role_new_models() -> None:
    assert infer_role("random") == infer_role("constant-train") == "policy"
    assert infer_role("constant-oracle") == infer_role("constant-oracle-test") == "oracle"
    assert infer_role("alpha-as-1-sound") == infer_role("alpha-as-2-sound") == "variant"
    assert infer_role("alpha-as-1") == "agent" and infer_role("gen-as") == "reference"
    assert infer_role("constant") == "other"


def test_experiment_accepts_new_roles(tmp_path: Path) -> None:
    p = tmp_path / "experiment.json"
    p.write_text(json.dumps({"models": {m: {"label": lab, "role": r} for m, (lab, r) in NEW_MODELS.items()}}))
    assert [m.role for m in load_experiment(p).models] == ["policy", "policy", "oracle", "variant", "variant"]
    p.write_text(json.dumps({"models": {"random": {"role": "boss"}}}))
    with pytest.raises(InputError, match="variant, policy, oracle"):
        load_experiment(p)


# ------------------------------------------------------------------------------------ paper outputs unchanged

def make_full(root: Path) -> Path:
    """The paper's folder of test_report plus the new models: an extra day for random, an extra seed for
    alpha-as-1-sound (neither may leak into the paper's tables), experiment.json declaring all ten models
    with the new ones interleaved."""
    make_main(root)
    for model in NEW_MODELS:
        days = DAYS + ["2021-01-10"] if model == "random" else DAYS
        for j, day in enumerate(days):
            for s in ([0, 5] if model == "alpha-as-1-sound" else [0]):
                write_run(root / "runs", model, day, s, new_metrics(model, j), grid=model == "alpha-as-1-sound",
                          agent=True)
    exp = json.loads((root / "experiment.json").read_text())
    names = list(MODELS)
    order = ["random"] + names[:3] + ["alpha-as-1-sound", "constant-oracle"] + names[3:] + ["constant-train",
                                                                                              "alpha-as-2-sound"]
    allm = {**MODELS, **NEW_MODELS}
    exp["models"] = {m: {"label": allm[m][0], "role": allm[m][1]} for m in order}
    (root / "experiment.json").write_text(json.dumps(exp))
    return root


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    """(paper-only folder, its report, full folder, its report)."""
    a, b = tmp_path_factory.mktemp("paper"), tmp_path_factory.mktemp("full")
    make_main(a)
    make_full(b)
    oa, ob = tmp_path_factory.mktemp("out_paper"), tmp_path_factory.mktemp("out_full")
    build_report(a, oa)
    build_report(b, ob)
    return a, oa, b, ob


def test_paper_tables_and_claims_identical_with_new_models(pair: tuple[Path, Path, Path, Path]) -> None:
    _, oa, _, ob = pair
    for name in PAPER_FILES:
        assert (oa / "tables" / name).read_bytes() == (ob / "tables" / name).read_bytes(), name
    ca, cb = json.loads((oa / "claims.json").read_text()), json.loads((ob / "claims.json").read_text())
    assert paper_claims(ca) == paper_claims(cb) and len(paper_claims(ca)) == 3
    # the report's paper sections (tables, tests, claims C1-C3) are the same text
    ma, mb = (o.joinpath("report.md").read_text() for o in (oa, ob))

    def part(md: str) -> str:
        return md[md.index("## Per-day indicators"):md.index("## Beyond the paper")]

    assert part(ma) == part(mb)
    assert "Random" not in part(mb) and "2021-01-10" not in part(mb)
    assert [c["id"] for c in cb["claims"]] == ["C1", "C2", "C3", "C2b"]


def test_paper_view_subset(pair: tuple[Path, Path, Path, Path]) -> None:
    _, _, b, _ = pair
    res = load_results(b)
    assert len(res.names) == 10 and res.dates[-1] == "2021-01-10" and res.seeds == [0, 1, 5]
    pv = paper_view(res)
    assert pv.names == list(MODELS) and pv.dates == DAYS and pv.seeds == [0, 1]
    assert pv.day_values["sharpe"].shape == (5, 6)
    np.testing.assert_array_equal(pv.day_values["sharpe"], load_results(pair[0]).day_values["sharpe"])
    assert res.label("constant-oracle") == "Constant oracle (oracle)" and res.label("random") == "Random"


def test_extra_metrics_read_and_nan_when_absent(pair: tuple[Path, Path, Path, Path]) -> None:
    _, _, b, ob = pair
    res = load_results(b)
    assert {"mtm_pnl", "mtm_sharpe", "mtm_sortino", "mtm_max_drawdown", "mean_abs_inventory"} <= set(EXTRA_METRICS)
    r, s = res.index("random"), res.index("alpha-as-1-sound")
    assert res.day_values["mtm_pnl"][r, 2] == new_metrics("random", 2)["mtm_pnl"] == -1.0  # -2 + 0.5 * 2
    assert res.day_values["n_fills"][s, 0] == 400.0
    assert math.isnan(res.day_values["mtm_pnl"][res.index("gen-as"), 0])  # test_report's metrics.json lack it
    rows = read_csv(ob / "tables/beyond_mtm_pnl.csv")
    assert list(rows[0]) == ["date"] + res.names and len(rows) == 7
    assert rows[2]["random"] == "-1.0" and rows[2]["gen-as"] == "" and rows[6]["foic"] == ""


def test_beyond_section_text(pair: tuple[Path, Path, Path, Path]) -> None:
    _, _, _, ob = pair
    md = (ob / "report.md").read_text()
    for h in ("## Beyond the paper", "### Daily MtM P&L (USD)", "### MtM Sharpe (5 s)", "### MtM Sortino (5 s)",
              "### MtM Max DD (USD)", "### Mean |inventory|", "### Fills per day",
              "### C2b: Each agent beats `random` and `constant-train`", "## Does the agent learn?"):
        assert h in md.splitlines(), h
    assert "| Constant oracle (oracle) |" in md  # setup table
    assert "Constant oracle (oracle)" in md.split("### Daily MtM P&L (USD)")[1].splitlines()[2]
    assert "(oracle, not a competitor)" in md
    assert "No diagnostics found" in md
    assert "(plots/actions_alpha-as-1-sound.png)" in md and (ob / "plots/actions_alpha-as-1-sound.png").is_file()


def test_beyond_table_bold_skips_the_oracle(pair: tuple[Path, Path, Path, Path]) -> None:
    res = load_results(pair[2])
    md = beyond.markdown_table(res, "mtm_pnl").splitlines()
    head = [c.strip() for c in md[0].strip("|").split("|")]
    day0 = [c.strip() for c in md[2].strip("|").split("|")]
    cell = dict(zip(head, day0, strict=True))
    # day 0 mtm_pnl = k - 2: the oracle (k=2) has 0, alpha-as-2-sound (k=4) 2.000 is the best competitor
    assert cell["Alpha-AS-2 sound"] == "**2.000**" and cell["Constant oracle (oracle)"] == "0"
    fills = beyond.markdown_table(res, "n_fills").splitlines()
    assert "**" not in fills[2] and "| 500 |" in fills[2]  # descriptive: no bold; whole numbers


def test_outputs_deterministic(pair: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    _, _, b, ob = pair
    build_report(b, tmp_path)
    for rel in ["report.md", "claims.json"] + [f"tables/{p.name}" for p in (ob / "tables").iterdir()]:
        assert (ob / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


# ------------------------------------------------------------------------------------------------ stats

def test_wilcoxon_greater_hand_computed() -> None:
    # all 4 differences positive: only 1 of the 2^4 sign patterns has W+ = 10 -> p = 1/16
    assert stats.wilcoxon_greater(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(1 / 16)
    # ranks 1..5, W+ = 1+3+4+5 = 13; W+ >= 13 <=> the negative ranks sum to <= 2: {}, {1}, {2} -> 3/32
    assert stats.wilcoxon_greater(np.array([1.0, -2.0, 3.0, 4.0, 5.0])) == pytest.approx(3 / 32)
    assert stats.wilcoxon_greater(np.array([0.0, 0.0, 1.0, 2.0, 3.0, 4.0])) == pytest.approx(1 / 16)  # zeros dropped
    assert stats.wilcoxon_greater(np.array([-1.0, -2.0, -3.0, -4.5])) == 1.0
    assert math.isnan(stats.wilcoxon_greater(np.array([0.0, 0.0, 1.0])))  # one non-zero difference
    assert math.isnan(stats.wilcoxon_greater(np.array([np.nan, 2.0])))


def test_block_length() -> None:
    assert [stats.block_length(n) for n in (0, 1, 2, 4, 8, 27, 30, 64)] == [1, 1, 1, 2, 2, 3, 3, 4]


def test_block_bootstrap_equals_a_hand_rolled_loop() -> None:
    d = np.array([3.0, -1.0, 4.0, 1.0, -5.0])
    n, length, samples, seed = 5, 2, 40, 11
    starts = np.random.default_rng(seed).integers(0, n - length + 1, size=(samples, 3))
    means = []
    for row in starts:
        series: list[float] = []
        for s in row:
            series += list(d[s:s + length])
        means.append(sum(series[:n]) / n)
    want = tuple(np.percentile(means, [2.5, 97.5]))
    got = stats.block_bootstrap_ci(d, samples=samples, seed=seed, length=length)
    assert got == pytest.approx(want, rel=1e-12)
    idx = stats.block_indices(n, length, samples, np.random.default_rng(seed))
    assert idx.shape == (samples, n) and (idx[:, 1] == idx[:, 0] + 1).all() and (idx[:, 3] == idx[:, 2] + 1).all()
    # default length for 5 days: round(5^(1/3)) = round(1.71) = 2
    assert stats.block_bootstrap_ci(d, samples=samples, seed=seed) == got


def test_block_bootstrap_length_one_is_the_day_bootstrap() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=9), rng.normal(size=9)
    got = stats.block_bootstrap_ci(a - b, samples=500, seed=4, length=1)
    want = stats.mean_diff_ci([np.array([x]) for x in a], [np.array([x]) for x in b], higher_is_better=True,
                              samples=500, seed=4)
    assert got == want
    assert stats.block_bootstrap_ci(np.array([]), samples=10, seed=0) == (pytest.approx(math.nan, nan_ok=True),) * 2


def test_c1_c2_paired_fields(pair: tuple[Path, Path, Path, Path]) -> None:
    a, oa, _, _ = pair
    res = load_results(a)
    doc = json.loads((oa / "claims.json").read_text())
    c1 = next(c for c in doc["claims"] if c["id"] == "C1")
    comp = next(x for x in c1["comparisons"] if x["indicator"] == "max_drawdown" and x["versus"] == "liic")
    days = stats.common_days(res, "max_drawdown", "gen-as", "liic")
    v = res.day_values["max_drawdown"]
    d = v[res.index("liic"), days] - v[res.index("gen-as"), days]  # lower is better: positive = Gen-AS better
    assert comp["p_wilcoxon"] == pytest.approx(sps.wilcoxon(d, alternative="greater").pvalue)
    assert comp["p_wilcoxon"] == pytest.approx(1 / 32)  # 5 common days, all better
    assert comp["block_ci95"] == pytest.approx(list(stats.block_bootstrap_ci(d, samples=300, seed=7)))
    np.testing.assert_allclose([x["p_wilcoxon_holm"] for x in c1["comparisons"]],
                               stats.holm([x["p_wilcoxon"] for x in c1["comparisons"]]))
    assert all(x["note"] is None for x in c1["comparisons"])  # positive Sharpe and Sortino means



def test_c3_paired_fields(pair: tuple[Path, Path, Path, Path]) -> None:
    a, oa, _, _ = pair
    res = load_results(a)
    doc = json.loads((oa / "claims.json").read_text())
    c3 = next(c for c in doc["claims"] if c["id"] == "C3")
    v = res.day_values["max_drawdown"]
    for p in c3["agents"]:
        days = [res.dates.index(d) for d in res.dates if not np.isnan(v[res.index(p["agent"]), res.dates.index(d)])
                and not np.isnan(v[res.index("gen-as"), res.dates.index(d)])]
        d = v[res.index(p["agent"]), days] - v[res.index("gen-as"), days]  # positive = the agent's worse
        assert p["mean_dd_diff"] == pytest.approx(d.mean())
        want = sps.wilcoxon(d, alternative="greater").pvalue if np.count_nonzero(d) >= 2 else None
        assert p["p_wilcoxon_worse_dd"] == (pytest.approx(want) if want is not None else None)
        assert p["block_ci95_dd_diff"] == pytest.approx(list(stats.block_bootstrap_ci(d, samples=300, seed=7)))
    ps = [p["p_wilcoxon_worse_dd"] for p in c3["agents"]]
    if all(x is not None for x in ps):
        np.testing.assert_allclose([p["p_wilcoxon_worse_dd_holm"] for p in c3["agents"]], stats.holm(ps))
    assert "Wilcoxon p, worse (Holm)" in (oa / "report.md").read_text()



# ------------------------------------------------------------------------------------------------ C2b

N10 = [f"2021-02-{d:02d}" for d in range(1, 11)]
C2B_BASE = {  # sharpe, mtm_sharpe, mtm_pnl, sortino; value = base + slope * j
    "random": (-0.2, -0.02, -5.0, 0.1), "constant-train": (-0.1, -0.01, -2.0, 0.1),
    "alpha-as-1": (0.3, -0.05, -10.0, -0.2), "alpha-as-1-sound": (0.4, 0.03, 4.0, 0.3),
    "constant-oracle": (0.6, 0.05, 8.0, 0.5), "gen-as": (0.0, 0.0, 0.0, -0.4),
}
SLOPE = {"random": 0.001, "constant-train": 0.002, "alpha-as-1": 0.0035, "alpha-as-1-sound": 0.005,
         "constant-oracle": 0.0, "gen-as": 0.0001}


def c2b_value(model: str, k: int, j: int) -> float:
    return C2B_BASE[model][k] + SLOPE[model] * j


def make_c2b(root: Path, models: tuple[str, ...] = tuple(C2B_BASE)) -> Path:
    for model in models:
        for j, day in enumerate(N10):
            m = {"sharpe": c2b_value(model, 0, j), "mtm_sharpe": c2b_value(model, 1, j),
                 "mtm_pnl": c2b_value(model, 2, j), "sortino": c2b_value(model, 3, j), "max_drawdown": 1.0,
                 "pnl_to_map": 1.0, "final_total_pnl": 0.0}
            write_run(root / "runs", model, day, 0, m, grid=False)
    return root


def test_claim_c2b_hand_computed(tmp_path: Path) -> None:
    res = load_results(make_c2b(tmp_path))
    c = beyond.claim_c2b(res, samples=200, seed=3)
    assert c["n_comparisons"] == 12 and {x["versus"] for x in c["comparisons"]} == {"random", "constant-train"}
    assert {x["model"] for x in c["comparisons"]} == {"alpha-as-1", "alpha-as-1-sound"}  # never the oracle
    assert c["verdict"] == "holds partly (8 of 12)"
    per = {a["agent"]: a["verdict"] for a in c["agents"]}
    assert per == {"alpha-as-1": "holds partly (2 of 6)", "alpha-as-1-sound": "holds"}
    by = {(x["indicator"], x["model"], x["versus"]): x for x in c["comparisons"]}
    x = by[("mtm_pnl", "alpha-as-1-sound", "random")]
    # 10 days all better: exact p = 1/1024; Holm over 12: the 8 smallest (all 1/1024) -> 12/1024
    assert x["p_wilcoxon"] == pytest.approx(1 / 1024) and x["p_wilcoxon_holm"] == pytest.approx(12 / 1024)
    assert x["mean_diff"] == pytest.approx(9.0 + 0.004 * 4.5) and x["pct_days_better"] == 100.0
    assert x["mean_model"] == pytest.approx(4.0 + 0.005 * 4.5) and x["verdict"] == "holds"
    lo, hi = x["block_ci95"]
    assert 9.0 <= lo <= x["mean_diff"] <= hi <= 9.036 and len(x["ci95"]) == 2
    y = by[("mtm_sharpe", "alpha-as-1", "random")]
    assert y["p_wilcoxon"] == 1.0 and y["p_wilcoxon_holm"] == 1.0 and y["verdict"] == "does not hold"
    assert y["note"] == cl.BOTH_NEGATIVE_NOTE  # means -0.03425 and -0.0155
    assert by[("sharpe", "alpha-as-1", "random")]["note"] is None
    orc = {(r["agent"], r["indicator"]): r for r in c["oracle"]}
    assert orc[("alpha-as-1", "sharpe")]["mean_diff"] == pytest.approx(-0.3 + 0.0035 * 4.5)
    assert orc[("alpha-as-1", "mtm_pnl")]["mean_diff"] == pytest.approx(-18.0 + 0.0035 * 4.5)
    assert orc[("alpha-as-1", "mtm_pnl")]["label"] == "vs constant-oracle (oracle, not a competitor)"
    assert "verdict" not in orc[("alpha-as-1", "sharpe")]


def test_c2b_not_tested_and_notes_in_report(tmp_path: Path) -> None:
    res = load_results(make_c2b(tmp_path / "a", ("alpha-as-1", "gen-as", "constant-oracle")))
    c = beyond.claim_c2b(res, samples=10, seed=0)
    assert c["verdict"] == "not tested (missing: random and constant-train)" and c["oracle"]
    res = load_results(make_c2b(tmp_path / "b", ("random", "gen-as")))
    assert beyond.claim_c2b(res, samples=10, seed=0)["verdict"] == "not tested (missing: Alpha-AS models)"
    # C2 on Sortino: Alpha-AS-1 (mean -0.2 + 0.0035 * 4.5 = -0.18425) vs Gen-AS (-0.39955): both negative -> note, in the report too
    out = tmp_path / "out"
    build_report(make_c2b(tmp_path / "c"), out)
    doc = json.loads((out / "claims.json").read_text())
    c2 = next(x for x in doc["claims"] if x["id"] == "C2")
    sortino = next(x for x in c2["comparisons"] if x["indicator"] == "sortino")
    assert sortino["note"] == cl.BOTH_NEGATIVE_NOTE and sortino["verdict"] == "holds"
    md = (out / "report.md").read_text()
    assert f"holds; {cl.BOTH_NEGATIVE_NOTE} |" in md  # in the verdict cell of C2's table
    assert "- alpha-as-1: **holds partly (2 of 6)** (2 of 6 comparisons)" in md


# ------------------------------------------------------------------------------------------------ learning

def diag_doc() -> dict[str, Any]:
    day = {"steps": 100, "greedy_shares": [0.05] * 20, "taken_entropy_bits": 4.0, "greedy_top_action": 3,
           "max_abs_z_by_feature": {}}
    return {
        "format": 1, "model": "alpha-as-1", "agent": "alpha-as-1", "seed": 0, "output_activation": "linear",
        "fits": [{"phase": "train", "index": 0, "session": None, "best_val_rmse": 0.5, "target_online_gap": 0.2},
                 {"phase": "train", "index": 1, "session": None, "best_val_rmse": 0.4, "target_online_gap": 0.4},
                 {"phase": "test", "index": 0, "session": N10[0], "best_val_rmse": 0.3, "target_online_gap": 0.0}],
        "checks": [{"phase": "train", "q_mc_corr": 0.1, "q_mc_bias": 0.5},
                   {"phase": "train", "q_mc_corr": 0.2, "q_mc_bias": 0.25},
                   {"phase": "test", "session": N10[0], "q_mc_corr": 0.6, "q_mc_bias": -0.1},
                   {"phase": "test", "session": N10[1], "q_mc_corr": None, "q_mc_bias": 0.3}],
        "days": [{**day, "session": N10[0], "date": N10[0], "greedy_entropy_bits": 4.0, "greedy_top_share": 0.1,
                  "saturated_share": None, "max_abs_z": 3.0, "max_abs_z_feature": "spread"},
                 {**day, "session": N10[1], "date": N10[1], "greedy_entropy_bits": 1.0, "greedy_top_share": 0.7,
                  "saturated_share": None, "max_abs_z": 40.0, "max_abs_z_feature": "volume_3"}],
    }


def test_learning_rows_hand_computed(tmp_path: Path) -> None:
    root = make_c2b(tmp_path / "res", ("alpha-as-1", "alpha-as-1-sound", "gen-as"))
    shutil.copytree(root / "runs" / "alpha-as-1", root / "runs" / "alpha-as-2-sound")  # no diagnostics
    good = root / "models" / "alpha-as-1" / "seed=0"
    good.mkdir(parents=True)
    (good / "diagnostics.json").write_text(json.dumps(diag_doc()))
    bad = root / "models" / "alpha-as-1-sound" / "seed=0"
    bad.mkdir(parents=True)
    (bad / "diagnostics.json").write_text("{broken")
    (root / "models" / "alpha-as-1-sound" / "seed=1").mkdir()
    (root / "models" / "alpha-as-1-sound" / "seed=1" / "diagnostics.json").write_text(json.dumps({"format": 2}))
    res = load_results(root)
    lr = lrn.collect(res)
    assert lr.n_agents == 3 and len(lr.rows) == 1
    assert lr.problems[0].startswith("models/alpha-as-1-sound/seed=0/diagnostics.json: unreadable (JSONDecodeError")
    assert lr.problems[1] == "models/alpha-as-1-sound/seed=1/diagnostics.json: unreadable (format 2, expected 1)"
    r = lr.rows[0]
    assert (r["q_mc_corr_train"], r["q_mc_bias_train"]) == (0.2, 0.25)  # the last train check
    assert r["q_mc_corr_test"] == 0.6 and r["q_mc_bias_test"] == pytest.approx(0.1)  # null skipped; (−0.1+0.3)/2
    assert r["greedy_entropy_bits"] == 2.5 and r["greedy_top_share"] == pytest.approx(0.4)
    assert math.isnan(r["saturated_share"])  # linear output
    assert (r["max_abs_z"], r["max_abs_z_feature"], r["max_abs_z_session"]) == (40.0, "volume_3", N10[1])
    assert r["target_online_gap_train"] == pytest.approx(0.3) and r["target_online_gap_test"] == 0.0
    assert r["last_val_rmse"] == 0.3 and r["n_fits"] == 3 and r["n_test_days"] == 2

    out = tmp_path / "out"
    build_report(root, out)
    doc = json.loads((out / "claims.json").read_text())
    assert doc["learning"][0]["saturated_share"] is None and doc["learning"][0]["max_abs_z"] == 40.0
    assert list(doc["learning"][0]) == sorted(lrn.ROW_KEYS)  # sort_keys
    md = (out / "report.md").read_text()
    assert "- models/alpha-as-1-sound/seed=0/diagnostics.json: unreadable (JSONDecodeError" in md
    assert "| alpha-as-1 | 0 | linear | 0.2000 / 0.6000 | 0.2500 / 0.1000 | 2.500 | 40.0 % | – | " \
           f"40.00 (volume_3, {N10[1]}) | 0.3000 / 0 | 0.3000 |" in md
    assert "![learning](plots/learning.png)" in md and (out / "plots/learning.png").stat().st_size > 1000


def test_learning_none_found_and_bad_structure(tmp_path: Path) -> None:
    res = load_results(make_c2b(tmp_path / "res", ("alpha-as-1", "gen-as")))
    lr = lrn.collect(res)
    assert lr.rows == [] and lr.problems == []
    assert "No diagnostics found (models/<model>/seed=<s>/diagnostics.json)." in lrn.section_markdown(res, lr, None)
    p = tmp_path / "d.json"
    for doc, why in (([1], "not a JSON object"), ({"format": 1, "days": {"a": 1}}, "'days' is not a list"),
                     ({"format": 1, "fits": [1]}, "'fits' is not a list")):
        p.write_text(json.dumps(doc))
        with pytest.raises(lrn.Unreadable, match=why):
            lrn.read_diagnostics(p)
    p.write_text(json.dumps({"format": 1}))  # empty lists: a row of NaN, no crash
    row, series = lrn.summarise(lrn.read_diagnostics(p), "m", 0)
    assert math.isnan(row["q_mc_corr_train"]) and row["max_abs_z_feature"] == "" and series.sessions == []
    assert not lrn.plot_learning(lrn.Learning(series=[series]), tmp_path / "x.png")


def test_c2b_comparisons_without_days_are_not_counted(pair: tuple[Path, Path, Path, Path]) -> None:
    _, _, _, ob = pair
    c = next(x for x in json.loads((ob / "claims.json").read_text())["claims"] if x["id"] == "C2b")
    # 4 agents x 2 policies x 3 indicators; the paper's agents' metrics.json (test_report) lack the MtM keys
    assert len(c["comparisons"]) == 24 and c["n_untested"] == 8 and c["n_comparisons"] == 16
    old = [x for x in c["comparisons"] if x["model"] == "alpha-as-1" and x["indicator"] == "mtm_pnl"]
    assert [x["verdict"] for x in old] == [beyond.NO_DAYS] * 2 and old[0]["p_wilcoxon"] is None
    # 6 days: the smallest exact one-sided p is 1/64, times 16 (Holm) > 0.05, so nothing holds
    assert c["verdict"] == "does not hold" and c["n_holds"] == 0
    assert {a["agent"]: a["n_comparisons"] for a in c["agents"]} == {
        "alpha-as-1-sound": 6, "alpha-as-1": 2, "alpha-as-2": 2, "alpha-as-2-sound": 6}
