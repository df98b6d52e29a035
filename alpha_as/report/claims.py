"""The paper's headline claims (spec §8), tested on the results.

* **C1** Gen-AS beats both non-AS baselines on all four indicators.
* **C2** Both Alpha-AS models beat Gen-AS on Sharpe, Sortino and P&L-to-MAP.
* **C3** Alpha-AS takes heavier drawdowns on some days (paper: Alpha-AS-1 has a worse Max DD than Gen-AS
  on 16 of 30 days, and a better P&L-to-MAP on 13 of those).

A C1/C2 comparison "holds" when the model is better than the other on both the mean and the median of the
per-day values (over the days both have); the claim holds if every comparison does, "holds partly (k of
n)" if some do, and "does not hold" if none does. Each comparison also has a one-sided Mann-Whitney p
(alternative: the model is better), Holm-adjusted over the comparisons of the claim, and a hierarchical
bootstrap 95 % CI of the mean per-day difference, oriented so that positive = the model is better.

Beyond the paper, each comparison also carries paired tests on the per-day differences (the verdicts do
not use them): ``p_wilcoxon`` (one-sided Wilcoxon signed-rank, alternative: the model is better),
``p_wilcoxon_holm`` (Holm over the claim's comparisons), ``block_ci95`` (moving-block bootstrap CI of the
mean difference) and ``note`` (set when a Sharpe or Sortino comparison has both means negative).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from alpha_as.jsonsafe import plain
from alpha_as.report import stats
from alpha_as.report.load import HIGHER_IS_BETTER, INDICATORS, ModelInfo, Results
from alpha_as.report.tables import PAPER_TABLE8, fmt_num, md_escape, table8

ALPHA = 0.05
LEVEL = 0.95
C1_TEXT = "Gen-AS beats both non-AS baselines on all four indicators"
C2_TEXT = "Both Alpha-AS models beat Gen-AS on Sharpe, Sortino and P&L-to-MAP"
C3_TEXT = ("Alpha-AS takes heavier drawdowns on some days (paper: Alpha-AS-1 worse Max DD than Gen-AS on 16/30 "
           "days, better P&L-to-MAP on 13 of those)")
C2_INDICATORS = ("sharpe", "sortino", "pnl_to_map")
RATIO_INDICATORS = ("sharpe", "sortino", "mtm_sharpe", "mtm_sortino")
BOTH_NEGATIVE_NOTE = ("both negative: the 'better' one loses less per unit of risk; taking more variance raises "
                      "a negative ratio")


def combine(holds: list[bool]) -> str:
    """'holds' if all hold, 'does not hold' if none does, else 'holds partly (k of n)'."""
    k, n = sum(holds), len(holds)
    if n and k == n:
        return "holds"
    if k == 0:
        return "does not hold"
    return f"holds partly ({k} of {n})"


def compare(res: Results, indicator: str, model: str, versus: str, *, samples: int, seed: int) -> dict[str, Any]:
    """One comparison "``model`` is better than ``versus`` on ``indicator``" over the days both have."""
    hib = HIGHER_IS_BETTER[indicator]
    days = stats.common_days(res, indicator, model, versus)
    i, j = res.index(model), res.index(versus)
    a, b = res.day_values[indicator][i, days], res.day_values[indicator][j, days]
    n = int(days.size)
    sign = 1.0 if hib else -1.0
    if n:
        mean_a, mean_b = float(a.mean()), float(b.mean())
        med_a, med_b = float(np.median(a)), float(np.median(b))
        pct = 100.0 * float((sign * (a - b) > 0).sum()) / n
        diff = float((sign * (a - b)).mean())
    else:
        mean_a = mean_b = med_a = med_b = pct = diff = math.nan
    _, p = stats.mann_whitney(a, b, "greater" if hib else "less")
    sv = res.seed_values[indicator]
    lo, hi = stats.mean_diff_ci([sv[i][d] for d in days], [sv[j][d] for d in days], higher_is_better=hib,
                                samples=samples, seed=seed, level=LEVEL)
    better_mean = n > 0 and sign * (mean_a - mean_b) > 0
    better_median = n > 0 and sign * (med_a - med_b) > 0
    d = sign * (a - b)  # per-day differences in day order, positive = the model better
    both_negative = indicator in RATIO_INDICATORS and n > 0 and mean_a < 0 and mean_b < 0
    return {
        "indicator": indicator, "model": model, "versus": versus, "n_days": n,
        "mean_model": mean_a, "mean_versus": mean_b, "median_model": med_a, "median_versus": med_b,
        "better_mean": bool(better_mean), "better_median": bool(better_median),
        "pct_days_better": pct, "p_one_sided": p, "mean_diff": diff, "ci95": [lo, hi],
        "verdict": "holds" if better_mean and better_median else "does not hold",
        "p_wilcoxon": stats.wilcoxon_greater(d),
        "block_ci95": list(stats.block_bootstrap_ci(d, samples=samples, seed=seed, level=LEVEL)),
        "note": BOTH_NEGATIVE_NOTE if both_negative else None,
    }


def holm_fill(comps: list[dict[str, Any]]) -> None:
    """Add ``p_holm`` / ``significant_5pct`` (Mann-Whitney) and ``p_wilcoxon_holm`` to each comparison, Holm
    over ``comps``."""
    adj = stats.holm([c["p_one_sided"] for c in comps])
    for c, q in zip(comps, adj, strict=True):
        c["p_holm"] = float(q)
        c["significant_5pct"] = bool(not math.isnan(q) and q < ALPHA)
    for c, q in zip(comps, stats.holm([c["p_wilcoxon"] for c in comps]), strict=True):
        c["p_wilcoxon_holm"] = float(q)


def _missing(res: Results, role: str, none_label: str) -> list[str]:
    declared = [m.label for m in res.missing_models if m.role == role]
    if not res.by_role(role) and not declared:
        declared = [none_label]
    return declared


def _pair_claim(cid: str, text: str, res: Results, subjects: list[ModelInfo], objects: list[ModelInfo],
                indicators: tuple[str, ...], missing: list[str], *, samples: int, seed: int) -> dict[str, Any]:
    """Every subject vs every object on every indicator (subject better = the comparison holds)."""
    claim: dict[str, Any] = {"id": cid, "statement": text, "missing": missing, "comparisons": []}
    if not subjects or not objects:
        claim["verdict"] = f"not tested (missing: {', '.join(missing)})"
        return claim
    comps = []
    for ind in indicators:
        for s in subjects:
            for o in objects:
                comps.append(compare(res, ind, s.name, o.name, samples=samples, seed=seed))
    holm_fill(comps)
    claim["comparisons"] = comps
    claim["n_comparisons"] = len(comps)
    claim["n_holds"] = sum(c["verdict"] == "holds" for c in comps)
    claim["n_significant"] = sum(c["significant_5pct"] for c in comps)
    claim["verdict"] = combine([c["verdict"] == "holds" for c in comps])
    return claim


def claim_c1(res: Results, *, samples: int, seed: int) -> dict[str, Any]:
    ref = res.reference
    missing = (_missing(res, "reference", "Gen-AS") if ref is None else []) + _missing(res, "baseline", "baselines")
    return _pair_claim("C1", C1_TEXT, res, [ref] if ref else [], res.by_role("baseline"), INDICATORS, missing,
                       samples=samples, seed=seed)


def claim_c2(res: Results, *, samples: int, seed: int) -> dict[str, Any]:
    ref = res.reference
    missing = _missing(res, "agent", "Alpha-AS models") + (_missing(res, "reference", "Gen-AS") if ref is None else [])
    return _pair_claim("C2", C2_TEXT, res, res.agents, [ref] if ref else [], C2_INDICATORS, missing,
                       samples=samples, seed=seed)


def claim_c3(res: Results, *, samples: int, seed: int) -> dict[str, Any]:
    ref = res.reference
    missing = _missing(res, "agent", "Alpha-AS models") + (_missing(res, "reference", "Gen-AS") if ref is None else [])
    claim: dict[str, Any] = {"id": "C3", "statement": C3_TEXT, "missing": missing, "agents": [],
                             "paper": dict(PAPER_TABLE8)}
    if ref is None or not res.agents:
        claim["verdict"] = f"not tested (missing: {', '.join(missing)})"
        return claim
    r = res.index(ref.name)
    sv = res.seed_values["max_drawdown"]
    per = []
    for t in table8(res):
        a = res.index(t.agent)
        days = [res.dates.index(d) for d in t.dates]
        k, m, n = t.k, t.m, t.n_days
        lo, hi = stats.share_ci([sv[a][d] for d in days], [sv[r][d] for d in days], samples=samples, seed=seed,
                                level=LEVEL)
        verdict = "does not hold" if k == 0 else ("holds" if m > k / 2 else "holds partly")
        dd = res.day_values["max_drawdown"]
        diff = dd[a, days] - dd[r, days]  # per-day Max DD differences in day order, positive = the agent's worse
        per.append({
            "p_wilcoxon_worse_dd": stats.wilcoxon_greater(diff),
            "block_ci95_dd_diff": list(stats.block_bootstrap_ci(diff, samples=samples, seed=seed, level=LEVEL)),
            "mean_dd_diff": float(diff.mean()) if len(diff) else math.nan,
            "agent": t.agent, "versus": t.reference, "n_days": n, "worse_max_dd_days": k,
            "better_pnl_to_map_of_those": m, "reversed_days": t.n_reversed,
            "share_worse_max_dd": k / n if n else math.nan, "share_ci95": [lo, hi],
            "dates_worse_max_dd": t.day_list(t.worse_dd),
            "dates_worse_max_dd_better_pnl_to_map": t.day_list(t.worse_dd & t.better_map),
            "dates_reversed": t.day_list(t.reversed), "verdict": verdict,
        })
    for p, q in zip(per, stats.holm([p["p_wilcoxon_worse_dd"] for p in per]), strict=True):
        p["p_wilcoxon_worse_dd_holm"] = float(q)
    claim["agents"] = per
    holds = [p["verdict"] == "holds" for p in per]
    partly = sum(p["verdict"] == "holds partly" for p in per)
    if all(p["worse_max_dd_days"] == 0 for p in per):
        claim["verdict"] = "does not hold"
    elif all(holds):
        claim["verdict"] = "holds"
    elif not any(holds):  # no agent holds fully: not "holds partly (0 of n)", which reads as a contradiction
        claim["verdict"] = f"holds partly (no agent fully; {partly} of {len(per)} partly)"
    else:
        claim["verdict"] = f"holds partly ({sum(holds)} of {len(holds)})"
    return claim


def all_claims(res: Results) -> list[dict[str, Any]]:
    """C1, C2 and C3 with the experiment's bootstrap settings."""
    kw = {"samples": res.experiment.bootstrap_samples, "seed": res.experiment.bootstrap_seed}
    return [claim_c1(res, **kw), claim_c2(res, **kw), claim_c3(res, **kw)]


def claims_json(res: Results, claims: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> str:
    """The deterministic text of claims.json (sorted keys, no timestamps)."""
    doc = {
        "experiment": res.experiment.name,
        "n_days": len(res.dates), "dates": res.dates, "n_seeds": len(res.seeds), "seeds": res.seeds,
        "models": [{"name": m.name, "label": m.label, "role": m.role,
                    "n_days": int((~np.isnan(res.day_values["sharpe"][i])).sum()), "n_seeds": res.n_seeds(m.name)}
                   for i, m in enumerate(res.models)],
        "missing_models": [m.name for m in res.missing_models],
        "bootstrap": {"samples": res.experiment.bootstrap_samples, "seed": res.experiment.bootstrap_seed,
                      "level": LEVEL, "hierarchical": len(res.seeds) > 1},
        "alpha": ALPHA, "correction": "holm",
        "claims": claims,
    }
    doc.update(extra or {})
    return json.dumps(plain(doc), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------------------------- markdown

def fmt_p(x: float) -> str:
    """A p-value: 3 significant digits, scientific below 1e-4, '–' for NaN."""
    if x is None or math.isnan(x):
        return "–"
    return f"{x:.3g}" if x >= 1e-4 else f"{x:.1e}"


def _pct(x: float) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:.1f} %"


def verdict_text(c: dict[str, Any]) -> str:
    """A comparison's verdict, with its note (both ratios negative) when it has one."""
    return f"{c['verdict']}; {c['note']}" if c.get("note") else c["verdict"]


def comparisons_md(res: Results, comps: list[dict[str, Any]]) -> str:
    """The markdown table of a claim's comparisons (Mann-Whitney, bootstrap, and the paired tests)."""
    lines = ["| Indicator | Model | vs | Mean | Median | Days better | p (one-sided) | p (Holm) | "
             "Mean diff [95 % CI] | Wilcoxon p (Holm) | Block CI | Verdict |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for c in comps:
        sig = " *" if c["significant_5pct"] else ""
        lo, hi = c["ci95"]
        blo, bhi = c["block_ci95"]
        lines.append(
            f"| {res.indicator_label(c['indicator'])} | {md_escape(res.label(c['model']))} | "
            f"{md_escape(res.label(c['versus']))} | {fmt_num(c['mean_model'])} / {fmt_num(c['mean_versus'])} | "
            f"{fmt_num(c['median_model'])} / {fmt_num(c['median_versus'])} | "
            f"{_pct(c['pct_days_better'])} ({c['n_days']} d) | {fmt_p(c['p_one_sided'])} | {fmt_p(c['p_holm'])}{sig} | "
            f"{fmt_num(c['mean_diff'])} [{fmt_num(lo)}, {fmt_num(hi)}] | "
            f"{fmt_p(c['p_wilcoxon'])} ({fmt_p(c['p_wilcoxon_holm'])}) | [{fmt_num(blo)}, {fmt_num(bhi)}] | "
            f"{md_escape(verdict_text(c))} |")
    return "\n".join(lines) + "\n"


def paired_tests_text(exp_samples: int, exp_seed: int) -> str:
    """The sentence that explains the Wilcoxon and block-bootstrap columns."""
    return ("Wilcoxon p: one-sided Wilcoxon signed-rank test on the per-day differences (alternative: the model "
            "is better; zero differences dropped; – with fewer than 2 non-zero differences), Holm-corrected over "
            "the claim's comparisons in parentheses. Block CI: moving-block bootstrap "
            f"{LEVEL * 100:g} % CI of the mean per-day difference (blocks of round(n^(1/3)) consecutive days, "
            f"{exp_samples} replicates, seed {exp_seed}), which keeps the dependence between neighbouring days.")


def claims_markdown(res: Results, claims: list[dict[str, Any]]) -> str:
    """The Claims section body (one subsection per claim)."""
    exp = res.experiment
    one_seed = len(res.seeds) <= 1
    out = [
        "A C1/C2 comparison holds when the model is better on both the mean and the median of the per-day "
        "values (days both models have). p: one-sided Mann-Whitney U (alternative: the model is better), "
        f"Holm-Bonferroni corrected over the comparisons of the claim; * = significant at {ALPHA * 100:g} % after "
        "correction. Mean diff: mean per-day difference, positive = the model is better (for Max DD: the "
        f"other's minus the model's), with a {LEVEL * 100:g} % percentile bootstrap CI ({exp.bootstrap_samples} "
        f"replicates, seed {exp.bootstrap_seed}; days resampled with replacement, and one seed per model "
        "drawn at random for each drawn day).",
        "",
        paired_tests_text(exp.bootstrap_samples, exp.bootstrap_seed) + " These paired tests go beyond the "
        "paper and do not change the verdicts.",
        "",
    ]
    if one_seed:
        out += ["With one seed per run, the bootstrap CIs reflect day-to-day variation only.", ""]
    for c in claims:
        out += [f"### {c['id']}: {c['statement']}", "", f"**Verdict: {c['verdict']}**", ""]
        if c["missing"] and not c["verdict"].startswith("not tested"):
            out += [f"Missing (not tested): {', '.join(c['missing'])}.", ""]
        if c["id"] in ("C1", "C2") and c["comparisons"]:
            out += [f"{c['n_holds']} of {c['n_comparisons']} comparisons hold; {c['n_significant']} are "
                    f"significant at {ALPHA * 100:g} % after Holm's correction.", "", comparisons_md(res, c["comparisons"])]
        if c["id"] == "C3" and c["agents"]:
            out += ["| Agent | vs | Worse Max DD | Share [95 % CI] | Of those, better P&L-to-MAP | Reversed | "
                    "Mean Max DD diff [block CI] | Wilcoxon p, worse (Holm) | Verdict |",
                    "|---|---|---:|---:|---:|---:|---:|---:|---|"]
            for p in c["agents"]:
                lo, hi = p["share_ci95"]
                blo, bhi = p["block_ci95_dd_diff"]
                out.append(f"| {md_escape(res.label(p['agent']))} | {md_escape(res.label(p['versus']))} | "
                           f"{p['worse_max_dd_days']}/{p['n_days']} | {fmt_num(p['share_worse_max_dd'])} "
                           f"[{fmt_num(lo)}, {fmt_num(hi)}] | {p['better_pnl_to_map_of_those']} | "
                           f"{p['reversed_days']} | {fmt_num(p['mean_dd_diff'])} [{fmt_num(blo)}, {fmt_num(bhi)}] | "
                           f"{fmt_p(p['p_wilcoxon_worse_dd'])} ({fmt_p(p['p_wilcoxon_worse_dd_holm'])}) | "
                           f"{p['verdict']} |")
            pp = c["paper"]
            out += ["", f"Paper ({pp['agent']} vs Gen-AS): worse Max DD on {pp['worse_max_dd_days']}/{pp['n_days']} "
                    f"days, better P&L-to-MAP on {pp['better_pnl_to_map']} of those, reversed on "
                    f"{pp['reversed']} day (paraphrased). An agent's verdict: holds if k ≥ 1 and more than half "
                    "of those days have a better P&L-to-MAP, holds partly if k ≥ 1 otherwise, does not hold if "
                    "k = 0; the claim holds if every agent holds, holds partly if some agent holds or holds partly "
                    "(with how many hold fully), and does not hold if no agent has a worse Max DD on any day. Paired (beside the paper's counts): one-sided Wilcoxon "
                    "signed-rank that the agent's per-day Max DD exceeds Gen-AS's, Holm over the agents; "
                    "moving-block bootstrap 95 % CI of the "
                    f"mean per-day Max DD difference ({res.currency}, positive = the agent's worse).", ""]
    return "\n".join(out)
