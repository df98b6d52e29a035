"""Assemble the paper-style report of a results folder: ``report.md``, ``claims.json``, ``tables/`` and
``plots/`` (all written atomically; the text outputs are byte-identical for the same inputs).

The paper's tables (2-6 and 8), the Kruskal-Wallis / Mann-Whitney tables and claims C1-C3 are computed on
:func:`~alpha_as.report.load.paper_view` (the paper's models only), so they do not change when the folder
also holds the models beyond the paper; the "Beyond the paper" section (:mod:`alpha_as.report.beyond`: the
MtM indicators of every model, claim C2b, the distance to the oracle) and "Does the agent learn?"
(:mod:`alpha_as.report.learning`) cover every model.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alpha_as import atomic
from alpha_as.report import beyond, chain, plots, risk, stats, tables
from alpha_as.report import claims as cl
from alpha_as.report import learning as lrn
from alpha_as.report.claims import fmt_p
from alpha_as.report.load import (
    AGENT_ROLES,
    BEYOND_INDICATORS,
    INDICATORS,
    Results,
    load_results,
    paper_view,
)
from alpha_as.report.tables import fmt_float, fmt_num, md_escape

Progress = Callable[[str], None]
ROLE_TEXT = {"baseline": "non-AS baseline", "reference": "Gen-AS reference", "agent": "Alpha-AS agent",
             "other": "other", "variant": "repaired learner (beyond the paper)",
             "policy": "reference policy (beyond the paper)", "oracle": "oracle: best constant action in hindsight "
             "(not a competitor)", "strategy": "market-making strategy (beyond the paper)"}


@dataclass
class ReportResult:
    """What :func:`build` wrote."""

    report: Path
    claims_json: Path
    files: list[Path] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)


def write_text_atomic(text: str, path: Path) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic.write_text_atomic(text, path)


def _progress_fn(progress: bool | Progress) -> Progress:
    if callable(progress):
        return progress
    if progress:
        return lambda msg: print(f"report: {msg}", file=sys.stderr, flush=True)
    return lambda msg: None


def _setup_md(res: Results) -> list[str]:
    exp = res.experiment
    title = f"# Alpha-AS replication report: {exp.name}" if exp.name else "# Alpha-AS replication report"
    out = [title, ""]
    if exp.data_note:
        out += [exp.data_note, ""]
    elif not exp.from_file:
        out += ["_No experiment.json: models, roles and labels are inferred from the folder names._", ""]
    out += ["## Setup", ""]
    inst = exp.instrument or ", ".join(res.instruments)
    if inst:
        out.append(f"- Instrument: {inst}")
    if exp.data:
        out.append(f"- Data: {exp.data}")
    out.append(f"- Days: {len(res.dates)} ({res.dates[0]} to {res.dates[-1]})")
    out.append(f"- Seeds: {len(res.seeds)} ({', '.join(str(s) for s in res.seeds)}); per-day values are the mean "
               "over the seeds of that model and day")
    out += [f"- {n}" for n in exp.notes]
    out += [f"- Max DD is in {res.currency}, lower is better; the paper prints it negative.", ""]
    out += ["| Model | Folder | Role | Days | Seeds |", "|---|---|---|---:|---:|"]
    for i, m in enumerate(res.models):
        n_days = int((~np.isnan(res.day_values["sharpe"][i])).sum())
        out.append(f"| {md_escape(res.label(m.name))} | `{m.name}` | {ROLE_TEXT[m.role]} | {n_days} | "
                   f"{res.n_seeds(m.name)} |")
    out.append("")
    if res.missing_models:
        out += ["Named in experiment.json but without runs (absent from the tables): "
                + ", ".join(f"{m.label} (`{m.name}`)" for m in res.missing_models) + ".", ""]
    if res.missing_dates:
        out += ["Days named in experiment.json without any run: " + ", ".join(res.missing_dates) + ".", ""]
    if res.reference is None:
        out += ["No Gen-AS reference model (role `reference`): no ⁺ markers, Table 8 and claims C1-C3 not "
                "tested.", ""]
    return out


def _tables_md(res: Results) -> list[str]:
    out = ["## Per-day indicators (Tables 2-5)", ""]
    for ind in INDICATORS:
        out += [f"### {tables.table_title(ind, res.currency)}", "", tables.markdown_indicator_table(res, ind).rstrip("\n"), "",
                tables.legend(res, ind), "",
                f"Files: [tables/{ind}.csv](tables/{ind}.csv), [tables/{ind}.tex](tables/{ind}.tex).", ""]
    return out


def _table6_md(res: Results, cells: list[tables.Table6Cell]) -> list[str]:
    out = ["## Table 6: share of days the Alpha-AS models beat the baselines and Gen-AS", ""]
    group = tables.group_models(res)
    if not cells:
        missing = "agent models" if not res.agents else "baseline or Gen-AS models"
        return out + [f"Not computed: no {missing}.", ""]
    names = ", ".join(res.label(n) for n in group)
    out += [f"Percentage of days on which a model is strictly better than every one of {names} (over the days on "
            "which it and all of them have runs). Combined: days on which at least one Alpha-AS model is "
            "(paper: the Alpha-AS models against the group of baselines and Gen-AS). Models with role 'other' "
            + ("or 'strategy' " if res.by_role("strategy") else "") + "are not in the group.", "",
            tables.table6_markdown(res, cells).rstrip("\n"), "", "File: [tables/table6.csv](tables/table6.csv).", ""]
    return out


def _table8_md(res: Results, entries: list[tables.Table8Agent]) -> list[str]:
    out = ["## Table 8: Max DD against P&L-to-MAP, Alpha-AS vs Gen-AS", ""]
    if not entries:
        return out + ["Not computed: needs an agent and the Gen-AS reference.", ""]
    out += ["Days on which the agent has a worse (larger) Max DD than Gen-AS, and of those the days on which it "
            "has a better P&L-to-MAP; reversed: better Max DD but worse P&L-to-MAP. The paper's figures are "
            "for Alpha-AS-1 (the first agent).", "", tables.table8_markdown(res, entries).rstrip("\n"), "",
            "File: [tables/table8.csv](tables/table8.csv).", ""]
    return out


def _stats_md(kw: list[stats.KruskalRow], mw: list[stats.MannWhitneyRow], res: Results) -> list[str]:
    out = ["## Significance tests", "", "### Kruskal-Wallis", "",
           "H test across all models per indicator (`scipy.stats.kruskal`), each model on all its per-day values.",
           "", "| Indicator | Models | Values | H | p |", "|---|---:|---:|---:|---:|"]
    for r in kw:
        out.append(f"| {res.indicator_label(r.indicator)} | {r.n_models} | {r.n_values} | {fmt_num(r.h)} | {fmt_p(r.p)} |")
    n_pairs = len(res.models) * (len(res.models) - 1) // 2
    out += ["", "### Post-hoc Mann-Whitney U", "",
            "Two-sided Mann-Whitney U tests (`scipy.stats.mannwhitneyu`) for every pair of models, on the days "
            f"both have; p-values corrected with the Holm-Bonferroni method across the {n_pairs} pairs of each "
            "indicator (* = adjusted p < 0.05).", "",
            "| Indicator | Model A | Model B | Days | U | p | p (Holm) |", "|---|---|---|---:|---:|---:|---:|"]
    if not mw:
        out[-2:] = ["No pairs: fewer than two models."]
    for r in mw:
        sig = " *" if r.p_holm == r.p_holm and r.p_holm < cl.ALPHA else ""
        out.append(f"| {res.indicator_label(r.indicator)} | {md_escape(res.label(r.model_a))} | "
                   f"{md_escape(res.label(r.model_b))} | {r.n_days} | {r.u:g} | {fmt_p(r.p)} | {fmt_p(r.p_holm)}{sig} |")
    out += ["", "Files: [tables/kruskal_wallis.csv](tables/kruskal_wallis.csv), "
            "[tables/mann_whitney.csv](tables/mann_whitney.csv).", ""]
    return out


def _write_tables(res: Results, out: Path, cells: list[tables.Table6Cell], entries: list[tables.Table8Agent],
                  kw: list[stats.KruskalRow], mw: list[stats.MannWhitneyRow]) -> list[Path]:
    tdir = out / "tables"
    files: list[Path] = []
    if not res.models:
        return files
    for ind in INDICATORS:
        files.append(write_text_atomic(tables.indicator_csv(res, ind), tdir / f"{ind}.csv"))
        files.append(write_text_atomic(tables.latex_indicator_table(res, ind), tdir / f"{ind}.tex"))
    files.append(write_text_atomic(tables.table6_csv(cells), tdir / "table6.csv"))
    files.append(write_text_atomic(tables.table8_csv(entries), tdir / "table8.csv"))
    files.append(write_text_atomic(tables.csv_text(
        ["indicator", "n_models", "n_values", "H", "p"],
        [[r.indicator, r.n_models, r.n_values, fmt_float(r.h), fmt_float(r.p)] for r in kw]), tdir / "kruskal_wallis.csv"))
    files.append(write_text_atomic(tables.csv_text(
        ["indicator", "model_a", "model_b", "n_days", "U", "p", "p_holm"],
        [[r.indicator, r.model_a, r.model_b, r.n_days, fmt_float(r.u), fmt_float(r.p), fmt_float(r.p_holm)]
         for r in mw]), tdir / "mann_whitney.csv"))
    return files


def _paper_md(paper: Results, cells: list[tables.Table6Cell], entries: list[tables.Table8Agent],
              kw: list[stats.KruskalRow], mw: list[stats.MannWhitneyRow]) -> list[str]:
    if not paper.models:
        return ["## The paper's tables", "", "No runs of the paper's models (roles baseline, reference, agent): "
                "Tables 2-6 and 8 and the significance tests are not computed.", ""]
    return _tables_md(paper) + _table6_md(paper, cells) + _table8_md(paper, entries) + _stats_md(kw, mw, paper)


def build(results_dir: str | Path, out: str | Path | None = None, *,
          progress: bool | Progress = False, quote_currency: str | None = None) -> ReportResult:
    """Read ``results_dir`` and write the report into ``out`` (default: ``results_dir``).

    ``progress``: a callable receiving one-line messages, True for messages on stderr, False for silence.
    ``quote_currency`` labels P&L and Max DD (default: experiment.json's, else USD).
    Raises InputError on bad input (a bad diagnostics.json is only reported in the text).
    """
    say = _progress_fn(progress)
    say(f"reading {results_dir}")
    res = load_results(results_dir)
    if quote_currency is not None:
        res = dataclasses.replace(res, experiment=dataclasses.replace(res.experiment, quote_currency=quote_currency))
    paper = paper_view(res)
    dest = Path(out) if out is not None else res.root
    dest.mkdir(parents=True, exist_ok=True)
    say(f"{len(res.models)} models ({len(paper.models)} of the paper), {len(res.dates)} days, "
        f"{len(res.seeds)} seed(s); tables and tests")
    cells, entries = tables.table6(paper), tables.table8(paper)
    kw = stats.kruskal_table(paper) if paper.models else []
    mw = stats.mann_whitney_table(paper)
    files = _write_tables(paper, dest, cells, entries, kw, mw)
    for ind in BEYOND_INDICATORS:
        files.append(write_text_atomic(beyond.table_csv(res, ind), dest / "tables" / f"beyond_{ind}.csv"))
    chain_rows, risk_rows = chain.rows(res), risk.rows(res)  # each reads every run's metrics.json: once
    if chain_rows:
        files.append(write_text_atomic(chain.table_csv(chain_rows), dest / "tables" / "chain.csv"))
    if risk_rows:
        files.append(write_text_atomic(risk.table_csv(risk_rows), dest / "tables" / "risk.csv"))
    say("claims (bootstrap)")
    boot = {"samples": res.experiment.bootstrap_samples, "seed": res.experiment.bootstrap_seed}
    paper_claims = cl.all_claims(paper)
    c2b = beyond.claim_c2b(res, **boot)
    claims = paper_claims + [c2b]
    learning = lrn.collect(res)
    extra = {"kruskal_wallis": [vars(r) for r in kw], "mann_whitney": [vars(r) for r in mw],
             "learning": lrn.json_rows(learning)}
    claims_path = write_text_atomic(cl.claims_json(res, claims, extra), dest / "claims.json")
    say("plots")
    figs, notes = plots.make_plots(paper, dest) if paper.models else ([], [])
    more = [m for m in res.models if m.role in AGENT_ROLES and m.name not in paper.names]
    more_figs, more_notes = plots.action_plots(res, more, dest)
    gamma_figs, gamma_notes = plots.gamma_plots(res, dest)
    figs, notes = figs + more_figs + gamma_figs, notes + more_notes + gamma_notes
    learning_plot = "plots/learning.png" if lrn.plot_learning(learning, dest / "plots" / "learning.png") else None
    files += [dest / p for _, p in figs] + ([dest / learning_plot] if learning_plot else [])

    md = _setup_md(res) + _paper_md(paper, cells, entries, kw, mw)
    md += ["## Claims", "", cl.claims_markdown(paper, paper_claims).rstrip("\n"), "",
           "File: [claims.json](claims.json).", ""]
    md += beyond.section_markdown(res, c2b) + lrn.section_markdown(res, learning, learning_plot)
    md += chain.section_markdown(chain_rows, res.currency) + risk.section_markdown(risk_rows, res.currency)
    md += ["## Plots", ""]
    for caption, rel in figs:
        md += [f"**{caption}**", "", f"![{caption}]({rel})", ""]
    if any(c.role in AGENT_ROLES for c in res.models):
        md += ["Action shares count the 5-s grid rows (time share), from the first action of each day.", ""]
    md += [n + "\n" for n in notes]
    report = write_text_atomic("\n".join(md).rstrip("\n") + "\n", dest / "report.md")
    say(f"wrote {report}")
    return ReportResult(report=report, claims_json=claims_path, files=[report, claims_path] + files, claims=claims)


def build_report(results_dir: str | Path, out: str | Path | None = None, *,
                 progress: bool | Progress = False) -> Path:
    """Build the report of ``results_dir`` (into ``out``, default ``results_dir``); returns report.md's path."""
    return build(results_dir, out, progress=progress).report
