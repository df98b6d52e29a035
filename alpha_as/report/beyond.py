"""Beyond the paper: the risk-honest per-day indicators of every model, claim C2b and the distance to the oracle.

* **Tables** (one per indicator of :data:`~alpha_as.report.load.BEYOND_INDICATORS`): the daily marked-to-market
  P&L, the MtM Sharpe and Sortino of the 5-s changes of the grid total P&L, the MtM Max DD, the mean |inventory|
  and the fills per day, for every model of the folder (the oracle labelled "(oracle)"), with the paper
  tables' Mean and Median rows; ``tables/beyond_<indicator>.csv`` holds ``date`` and one column per model.
* **C2b** "each agent beats ``random`` and ``constant-train``": every model with role agent or variant against
  every model with role policy (never the oracle), on the paper's per-fill Sharpe, the MtM Sharpe and the MtM
  P&L. A comparison holds when the Holm-adjusted one-sided Wilcoxon signed-rank p (over all C2b comparisons)
  is below 0.05 and the mean per-day difference is positive; the claim and each agent combine them.
* **The oracle** (role oracle, the best constant action in hindsight): how far each agent is from it on the
  Sharpe ratio and the MtM P&L. It is a yardstick, not a competitor: no verdict.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from alpha_as.report import stats
from alpha_as.report.claims import (
    ALPHA,
    LEVEL,
    combine,
    compare,
    comparisons_md,
    holm_fill,
    paired_tests_text,
)
from alpha_as.report.load import (
    AGENT_ROLES,
    BEYOND_HIGHER_IS_BETTER,
    BEYOND_INDICATORS,
    HIGHER_IS_BETTER,
    ORACLE_MARK,
    ModelInfo,
    Results,
)
from alpha_as.report.tables import MISSING, fmt_num, indicator_csv, indicator_rows, md_escape

C2B_TEXT = "Each agent beats `random` and `constant-train`"
C2B_INDICATORS = ("sharpe", "mtm_sharpe", "mtm_pnl")
ORACLE_INDICATORS = ("sharpe", "mtm_pnl")
POLICY_NONE = "random and constant-train"
AGENTS_NONE = "Alpha-AS models"
NO_DAYS = "not tested (no common days with this indicator)"
"""The verdict of a C2b comparison without common days (e.g. a metrics.json older than the MtM indicators);
such comparisons are left out of the claim's and the agents' counts."""


# ------------------------------------------------------------------------------------------------ tables

def fmt_value(indicator: str, x: float) -> str:
    """A table cell: fills per day as a whole number, everything else as :func:`~alpha_as.report.tables.fmt_num`."""
    if indicator == "n_fills" and not math.isnan(x):
        return f"{x:.0f}"
    return fmt_num(x)


def best_mask(res: Results, indicator: str, values: np.ndarray) -> np.ndarray:
    """The cells in bold: the best value of the row among the non-oracle models (none for a descriptive
    indicator, e.g. fills per day)."""
    hib = BEYOND_HIGHER_IS_BETTER.get(indicator, HIGHER_IS_BETTER.get(indicator))
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.size, dtype=bool)
    if hib is None:
        return out
    ok = ~np.isnan(v) & np.array([m.role != "oracle" for m in res.models], dtype=bool)
    if not ok.any():
        return out
    o = v if hib else -v
    return ok & (o == o[ok].max())


def markdown_table(res: Results, indicator: str) -> str:
    """One indicator for every model: the days, then bold Mean and Median rows (each model over its own days)."""
    lines = ["| Date | " + " | ".join(md_escape(res.label(m.name)) for m in res.models) + " |",
             "|---|" + "---:|" * len(res.models)]
    for label, vals in indicator_rows(res, indicator):
        bold = best_mask(res, indicator, vals)
        cells = [f"**{fmt_value(indicator, float(x))}**" if b else fmt_value(indicator, float(x))
                 for x, b in zip(vals, bold, strict=True)]
        name = f"**{label}**" if label in ("Mean", "Median") else label
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def table_csv(res: Results, indicator: str) -> str:
    """``tables/beyond_<indicator>.csv``: ``date`` then one column per model (folder names), one row per day,
    full precision, no summaries."""
    return indicator_csv(res, indicator)


def legend(indicator: str) -> str:
    hib = BEYOND_HIGHER_IS_BETTER[indicator]
    parts = ["descriptive (no better or worse)" if hib is None else f"{'higher' if hib else 'lower'} is better"]
    if hib is not None:
        parts.append("**bold**: best value of the row among the competitors (the oracle is left out)")
    parts += [f"{MISSING}: no run, or a metrics.json written before this indicator existed",
              "Mean and Median are over each model's own days"]
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


# ------------------------------------------------------------------------------------------------ C2b

def agent_models(res: Results) -> list[ModelInfo]:
    """The subjects of C2b: every model with role agent or variant, in column order."""
    return [m for m in res.models if m.role in AGENT_ROLES]


def _missing_c2b(res: Results, subjects: list[ModelInfo], objects: list[ModelInfo]) -> list[str]:
    out: list[str] = []
    if not subjects:
        out += [m.label for m in res.missing_models if m.role in AGENT_ROLES] or [AGENTS_NONE]
    if not objects:
        out += [m.label for m in res.missing_models if m.role == "policy"] or [POLICY_NONE]
    return out


def oracle_rows(res: Results) -> list[dict[str, Any]]:
    """Per agent (agent or variant), oracle and indicator of :data:`ORACLE_INDICATORS`: the means over the
    days both have and the mean per-day difference, positive = the agent better (usually negative: how far the
    agent is from the best constant action in hindsight). No verdict: the oracle is not a competitor."""
    rows = []
    for ag in agent_models(res):
        for orc in res.by_role("oracle"):
            for ind in ORACLE_INDICATORS:
                days = stats.common_days(res, ind, ag.name, orc.name)
                a = res.day_values[ind][res.index(ag.name), days]
                b = res.day_values[ind][res.index(orc.name), days]
                sign = 1.0 if HIGHER_IS_BETTER[ind] else -1.0
                n = int(days.size)
                base = orc.label.replace(ORACLE_MARK, "").strip() or orc.name
                rows.append({
                    "agent": ag.name, "oracle": orc.name, "indicator": ind, "n_days": n,
                    "label": f"vs {base} (oracle, not a competitor)",
                    "mean_agent": float(a.mean()) if n else math.nan,
                    "mean_oracle": float(b.mean()) if n else math.nan,
                    "mean_diff": float((sign * (a - b)).mean()) if n else math.nan,
                    "pct_days_better": 100.0 * float((sign * (a - b) > 0).sum()) / n if n else math.nan,
                })
    return rows


def claim_c2b(res: Results, *, samples: int, seed: int) -> dict[str, Any]:
    """C2b on the whole folder (see the module docstring); its dict has the C1/C2 comparison fields, the
    per-agent verdicts (``agents``) and the oracle rows (``oracle``)."""
    subjects, objects = agent_models(res), res.by_role("policy")
    missing = _missing_c2b(res, subjects, objects)
    claim: dict[str, Any] = {"id": "C2b", "statement": C2B_TEXT, "missing": missing, "comparisons": [],
                             "agents": [], "oracle": oracle_rows(res), "beyond_paper": True,
                             "rule": "holds when the Holm-adjusted one-sided Wilcoxon p < 0.05 and the mean "
                                     "per-day difference > 0"}
    if not subjects or not objects:
        claim["verdict"] = f"not tested (missing: {', '.join(missing)})"
        return claim
    comps = [compare(res, ind, s.name, o.name, samples=samples, seed=seed)
             for ind in C2B_INDICATORS for s in subjects for o in objects]
    holm_fill(comps)
    for c in comps:
        q, diff = c["p_wilcoxon_holm"], c["mean_diff"]
        ok = not math.isnan(q) and q < ALPHA and not math.isnan(diff) and diff > 0
        c["verdict"] = NO_DAYS if c["n_days"] == 0 else ("holds" if ok else "does not hold")
    tested = [c for c in comps if c["n_days"] > 0]
    claim["comparisons"] = comps
    claim["n_comparisons"] = len(tested)
    claim["n_untested"] = len(comps) - len(tested)
    claim["n_holds"] = sum(c["verdict"] == "holds" for c in tested)
    claim["n_significant"] = sum(not math.isnan(c["p_wilcoxon_holm"]) and c["p_wilcoxon_holm"] < ALPHA
                                 for c in tested)
    claim["verdict"] = combine([c["verdict"] == "holds" for c in tested]) if tested else NO_DAYS
    for s in subjects:
        mine = [c["verdict"] == "holds" for c in tested if c["model"] == s.name]
        claim["agents"].append({"agent": s.name, "n_comparisons": len(mine), "n_holds": sum(mine),
                                "verdict": combine(mine) if mine else NO_DAYS})
    return claim


# ------------------------------------------------------------------------------------------------ markdown

def _oracle_md(res: Results, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    out = ["**Distance to the oracle** (the best constant action in hindsight over the test sessions: a "
           "yardstick, not a competitor, and no verdict). Mean diff = agent − oracle per day (positive = the "
           "agent better).", "",
           "| Agent | vs | Indicator | Mean agent | Mean oracle | Mean diff | Days better |",
           "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        pct = MISSING if math.isnan(r["pct_days_better"]) else f"{r['pct_days_better']:.1f} %"
        out.append(f"| {md_escape(res.label(r['agent']))} | {md_escape(r['label'])} | "
                   f"{res.indicator_label(r['indicator'])} | {fmt_num(r['mean_agent'])} | "
                   f"{fmt_num(r['mean_oracle'])} | {fmt_num(r['mean_diff'])} | {pct} ({r['n_days']} d) |")
    return out + [""]


def c2b_markdown(res: Results, claim: dict[str, Any]) -> list[str]:
    """The C2b subsection (verdict, comparisons, per-agent verdicts, the distance to the oracle)."""
    exp = res.experiment
    out = [f"### C2b: {claim['statement']}", "", f"**Verdict: {claim['verdict']}**", "",
           "Not a claim of the paper. Subjects: every agent (the paper's Alpha-AS models and the repaired "
           "variants); objects: the reference policies (`random`, `constant-train`), never the oracle. "
           "Indicators: the paper's per-fill Sharpe, the MtM Sharpe (5 s) and the daily MtM P&L. A comparison "
           "holds when the one-sided Wilcoxon signed-rank p on the per-day differences, Holm-corrected over "
           f"all C2b comparisons, is below {ALPHA:g} and the mean difference is positive. "
           + paired_tests_text(exp.bootstrap_samples, exp.bootstrap_seed)
           + " The p (one-sided) / p (Holm) columns are the Mann-Whitney tests of C1/C2 and Mean diff's CI the "
           f"hierarchical bootstrap ({LEVEL * 100:g} %), for comparison.", ""]
    if claim["comparisons"]:
        untested = (f" ({claim['n_untested']} not tested: no common days, e.g. a metrics.json written before "
                    "the MtM indicators existed)") if claim["n_untested"] else ""
        out += [f"{claim['n_holds']} of {claim['n_comparisons']} comparisons hold{untested}.", "",
                comparisons_md(res, claim["comparisons"]).rstrip("\n"), ""]
        out += [f"- {md_escape(res.label(a['agent']))}: **{a['verdict']}** ({a['n_holds']} of {a['n_comparisons']} "
                "comparisons)" for a in claim["agents"]] + [""]
    return out + _oracle_md(res, claim["oracle"])


def section_markdown(res: Results, claim: dict[str, Any]) -> list[str]:
    """The "Beyond the paper" section: the per-indicator tables of every model, then C2b and the oracle."""
    out = ["## Beyond the paper", "",
           "Risk-honest indicators of every model, from the 5-s grid (total P&L = realized + unrealized, marked "
           "by unwinding the position into the book): the daily marked-to-market P&L, the Sharpe and Sortino "
           "ratios of its 5-s changes (the paper's definitions on a regular clock, so comparable whatever the "
           "fill counts), its max drawdown from 0 at the session start, the mean |inventory| and the fills per "
           "day. Models beyond the paper: the repaired learners (role variant), reference policies a "
           "practitioner could run (role policy: `random`, `constant-train`) and the best constant action in "
           "hindsight (role oracle, labelled (oracle), never a competitor). The paper's tables, tests and "
           "claims C1-C3 above use the paper's models only"
           + (" (the market-making strategies, role strategy, are columns of those tables and tests beside the "
              "baselines, never subjects of the claims)" if res.by_role("strategy") else "") + ".", ""]
    for ind in BEYOND_INDICATORS:
        out += [f"### {res.indicator_label(ind)}", "", markdown_table(res, ind).rstrip("\n"), "", legend(ind), "",
                f"File: [tables/beyond_{ind}.csv](tables/beyond_{ind}.csv).", ""]
    out += c2b_markdown(res, claim)
    return out
