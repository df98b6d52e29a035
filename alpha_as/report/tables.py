"""The paper's tables: Tables 2-5 (one per indicator), Table 6 (share of days won) and a Table 8-like view
(Max DD against P&L-to-MAP), as markdown, CSV and LaTeX text.

Conventions of Tables 2-5 (spec §8): the best value of a row in bold; a value better than Gen-AS's on that
row in green (markdown: the marker ``⁺``); an Alpha-AS value second only to the other Alpha-AS model in
parentheses. Rows are the days, then Mean and Median (each model over its own days). Max DD is in the quote currency (USD unless the experiment says otherwise),
lower is better (the paper prints it negative). CSV files carry full float precision (``repr``) and no
summary rows.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alpha_as.report.load import HIGHER_IS_BETTER, INDICATORS, Results, indicator_label

PLUS = "⁺"
MISSING = "–"
PAPER_TABLE8 = {"agent": "Alpha-AS-1", "worse_max_dd_days": 16, "n_days": 30, "better_pnl_to_map": 13, "reversed": 1}
"""The paper's figures for Alpha-AS-1 vs Gen-AS (spec §8; the reversed-day count is paraphrased)."""
TABLE_NUMBERS = {"sharpe": 2, "sortino": 3, "max_drawdown": 4, "pnl_to_map": 5}


def fmt_num(x: float) -> str:
    """A compact number: 2 decimals from 10, 3 from 1, 4 from 0.01, 3 significant digits below; '–' for NaN."""
    if x is None or math.isnan(x):
        return MISSING
    a = abs(x)
    if a == 0.0:
        return "0"
    if a >= 10:
        s = f"{x:.2f}"
    elif a >= 1:
        s = f"{x:.3f}"
    elif a >= 0.01:
        s = f"{x:.4f}"
    else:
        s = f"{x:.3g}"
    return s


def fmt_float(x: float) -> str:
    """Full precision for CSV: ``repr(float)`` (round-trips exactly); '' for NaN."""
    return "" if math.isnan(x) else repr(float(x))


def csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def latex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        s = s.replace(a, b)
    return s


@dataclass(frozen=True)
class Mark:
    """The paper's markers for one cell."""

    bold: bool = False  # best value of the row
    plus: bool = False  # better than Gen-AS (green in the paper)
    paren: bool = False  # an Alpha-AS model second only to the other Alpha-AS model(s)


def row_marks(values: np.ndarray, roles: Sequence[str], higher_is_better: bool,
              reference: int | None) -> list[Mark]:
    """The markers of one table row (NaN = no value: no marker, and it is not compared)."""
    v = np.asarray(values, dtype=np.float64)
    o = v if higher_is_better else -v
    present = ~np.isnan(v)
    if not present.any():
        return [Mark() for _ in v]
    best = o[present].max()
    ref_ok = reference is not None and present[reference]
    marks = []
    for i in range(v.size):
        if not present[i]:
            marks.append(Mark())
            continue
        bold = bool(o[i] == best)
        plus = bool(ref_ok and i != reference and o[i] > o[reference])
        better = [k for k in range(v.size) if present[k] and o[k] > o[i]]
        paren = bool(roles[i] == "agent" and not bold and better and all(roles[k] == "agent" for k in better))
        marks.append(Mark(bold, plus, paren))
    return marks


def _md_cell(x: float, m: Mark) -> str:
    s = fmt_num(x)
    if math.isnan(x):
        return s
    if m.paren:
        s = f"({s})"
    if m.plus:
        s += PLUS
    return f"**{s}**" if m.bold else s


def _tex_cell(x: float, m: Mark) -> str:
    if math.isnan(x):
        return "--"
    s = fmt_num(x)
    if m.paren:
        s = f"({s})"
    if m.plus:
        s = rf"\textcolor{{OliveGreen}}{{{s}}}"
    return rf"\textbf{{{s}}}" if m.bold else s


def indicator_rows(res: Results, indicator: str) -> list[tuple[str, np.ndarray]]:
    """(row label, values per model) for each day, then Mean and Median (each model over its own days)."""
    v = res.day_values[indicator]
    rows = [(d, v[:, j]) for j, d in enumerate(res.dates)]
    with np.errstate(all="ignore"):
        has = (~np.isnan(v)).any(axis=1)
        mean = np.array([np.nanmean(r) if h else np.nan for r, h in zip(v, has, strict=True)])
        median = np.array([np.nanmedian(r) if h else np.nan for r, h in zip(v, has, strict=True)])
    return rows + [("Mean", mean), ("Median", median)]


def _marks_for(res: Results, indicator: str, values: np.ndarray) -> list[Mark]:
    ref = res.reference
    return row_marks(values, [m.role for m in res.models], HIGHER_IS_BETTER[indicator],
                     None if ref is None else res.index(ref.name))


def table_title(indicator: str, currency: str = "USD") -> str:
    return f"Table {TABLE_NUMBERS[indicator]}: {indicator_label(indicator, currency)}"


def legend(res: Results, indicator: str) -> str:
    ref = res.reference
    better = "lower" if not HIGHER_IS_BETTER[indicator] else "higher"
    parts = [f"{better.capitalize()} is better", "**bold**: best value of the row"]
    if ref is not None:
        parts.append(f"{PLUS}: better than {ref.label} on that row (green in the paper)")
    if len(res.agents) >= 2:
        parts.append("(x): an Alpha-AS model second only to the other Alpha-AS model")
    parts.append(f"{MISSING}: no run")
    parts.append("Mean and Median are over each model's own days")
    return "; ".join(parts) + "."


def markdown_indicator_table(res: Results, indicator: str) -> str:
    """Tables 2-5 in markdown (days, then bold Mean and Median rows)."""
    head = "| Date | " + " | ".join(md_escape(m.label) for m in res.models) + " |"
    sep = "|---|" + "---:|" * len(res.models)
    lines = [head, sep]
    for label, vals in indicator_rows(res, indicator):
        cells = [_md_cell(float(x), mk) for x, mk in zip(vals, _marks_for(res, indicator, vals), strict=True)]
        name = f"**{label}**" if label in ("Mean", "Median") else label
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def latex_indicator_table(res: Results, indicator: str) -> str:
    """Tables 2-5 as a booktabs LaTeX tabular (best in \\textbf, better than Gen-AS in OliveGreen)."""
    out = [f"% {table_title(indicator, res.currency)}", r"% needs \usepackage[dvipsnames]{xcolor}, booktabs",
           r"\begin{tabular}{l" + "r" * len(res.models) + "}", r"\toprule",
           "Date & " + " & ".join(latex_escape(m.label) for m in res.models) + r" \\", r"\midrule"]
    for label, vals in indicator_rows(res, indicator):
        if label == "Mean":
            out.append(r"\midrule")
        cells = [_tex_cell(float(x), mk) for x, mk in zip(vals, _marks_for(res, indicator, vals), strict=True)]
        out.append(f"{label} & " + " & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(out) + "\n"


def indicator_csv(res: Results, indicator: str) -> str:
    """``date`` then one column per model (folder names), one row per day, full precision, no summaries."""
    v = res.day_values[indicator]
    rows = [[d] + [fmt_float(float(x)) for x in v[:, j]] for j, d in enumerate(res.dates)]
    return csv_text(["date"] + res.names, rows)


# ------------------------------------------------------------------------------------------------ Table 6

@dataclass(frozen=True)
class Table6Cell:
    indicator: str
    model: str  # an agent's name, or "combined"
    days_won: int
    n_days: int

    @property
    def percent(self) -> float:
        return 100.0 * self.days_won / self.n_days if self.n_days else math.nan


def group_models(res: Results) -> list[str]:
    """The models the agents are compared with in Table 6: the baselines and the reference (Gen-AS)."""
    return [m.name for m in res.models if m.role in ("baseline", "reference")]


def table6(res: Results) -> list[Table6Cell]:
    """Per indicator: for each agent, the days on which it is strictly better than every baseline and Gen-AS
    (over the days on which it and all of them have runs); "combined": the days on which at least one agent
    is (over the days on which all of them and at least one agent have runs)."""
    group = [res.index(n) for n in group_models(res)]
    agents = [res.index(m.name) for m in res.agents]
    cells: list[Table6Cell] = []
    if not group or not agents:
        return cells
    for ind in INDICATORS:
        v = res.day_values[ind]
        o = v if HIGHER_IS_BETTER[ind] else -v
        g_ok = ~np.isnan(v[group]).any(axis=0)
        g_best = np.where(g_ok, np.nanmax(np.where(g_ok, o[group], 0.0), axis=0), np.nan)
        any_won = np.zeros(len(res.dates), dtype=bool)
        any_present = np.zeros(len(res.dates), dtype=bool)
        for a in agents:
            ok = g_ok & ~np.isnan(v[a])
            won = ok & (np.where(ok, o[a], -np.inf) > np.where(ok, g_best, np.inf))
            any_won |= won
            any_present |= ok
            cells.append(Table6Cell(ind, res.names[a], int(won.sum()), int(ok.sum())))
        cells.append(Table6Cell(ind, "combined", int(any_won.sum()), int(any_present.sum())))
    return cells


def table6_markdown(res: Results, cells: list[Table6Cell]) -> str:
    agents = [m.name for m in res.agents]
    cols = agents + ["combined"]
    lines = ["| Indicator | " + " | ".join(md_escape(res.label(c)) if c != "combined" else "Combined"
                                           for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for ind in INDICATORS:
        by = {c.model: c for c in cells if c.indicator == ind}
        txt = [f"{by[c].percent:.1f} % ({by[c].days_won}/{by[c].n_days})" if by[c].n_days else MISSING for c in cols]
        lines.append(f"| {res.indicator_label(ind)} | " + " | ".join(txt) + " |")
    return "\n".join(lines) + "\n"


def table6_csv(cells: list[Table6Cell]) -> str:
    return csv_text(["indicator", "model", "days_won", "n_days", "percent"],
                    [[c.indicator, c.model, c.days_won, c.n_days, fmt_float(c.percent)] for c in cells])


# ------------------------------------------------------------------------------------------------ Table 8

@dataclass(frozen=True)
class Table8Agent:
    """Max DD against P&L-to-MAP for one agent vs the reference, over the days both have."""

    agent: str
    reference: str
    dates: list[str]  # common days
    dd_agent: np.ndarray
    dd_ref: np.ndarray
    map_agent: np.ndarray
    map_ref: np.ndarray

    @property
    def worse_dd(self) -> np.ndarray:
        return self.dd_agent > self.dd_ref

    @property
    def better_map(self) -> np.ndarray:
        return self.map_agent > self.map_ref

    @property
    def reversed(self) -> np.ndarray:
        """Better (smaller) Max DD but worse P&L-to-MAP."""
        return (self.dd_agent < self.dd_ref) & (self.map_agent < self.map_ref)

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def k(self) -> int:
        return int(self.worse_dd.sum())

    @property
    def m(self) -> int:
        return int((self.worse_dd & self.better_map).sum())

    @property
    def n_reversed(self) -> int:
        return int(self.reversed.sum())

    def day_list(self, mask: np.ndarray) -> list[str]:
        return [d for d, f in zip(self.dates, mask, strict=True) if f]


def table8(res: Results) -> list[Table8Agent]:
    """One entry per agent (empty without a reference)."""
    ref = res.reference
    if ref is None:
        return []
    r = res.index(ref.name)
    dd, mp = res.day_values["max_drawdown"], res.day_values["pnl_to_map"]
    out = []
    for ag in res.agents:
        a = res.index(ag.name)
        days = np.flatnonzero(~np.isnan(dd[a]) & ~np.isnan(dd[r]) & ~np.isnan(mp[a]) & ~np.isnan(mp[r]))
        out.append(Table8Agent(ag.name, ref.name, [res.dates[j] for j in days], dd[a, days], dd[r, days],
                               mp[a, days], mp[r, days]))
    return out


def table8_markdown(res: Results, entries: list[Table8Agent]) -> str:
    parts = []
    for i, t in enumerate(entries):
        a, g = res.label(t.agent), res.label(t.reference)
        paper = i == 0
        k_p = f" (paper: {PAPER_TABLE8['worse_max_dd_days']} of {PAPER_TABLE8['n_days']})" if paper else ""
        m_p = f" (paper: {PAPER_TABLE8['better_pnl_to_map']})" if paper else ""
        r_p = f" (paper: {PAPER_TABLE8['reversed']}, paraphrased)" if paper else ""
        parts.append(f"**{a} vs {g}**: worse (larger) Max DD on **{t.k} of {t.n_days}** days{k_p}; of those, "
                     f"better P&L-to-MAP on **{t.m}**{m_p}. Reversed (better Max DD but worse P&L-to-MAP): "
                     f"**{t.n_reversed}** day(s){r_p}.\n")
        if t.k:
            parts.append(f"| Date | Max DD {md_escape(a)} | Max DD {md_escape(g)} | P&L-to-MAP {md_escape(a)} "
                         f"| P&L-to-MAP {md_escape(g)} | Better P&L-to-MAP |")
            parts.append("|---|---:|---:|---:|---:|:---:|")
            for j in np.flatnonzero(t.worse_dd):
                parts.append(f"| {t.dates[j]} | {fmt_num(t.dd_agent[j])} | {fmt_num(t.dd_ref[j])} | "
                             f"{fmt_num(t.map_agent[j])} | {fmt_num(t.map_ref[j])} | "
                             f"{'yes' if t.better_map[j] else 'no'} |")
            parts.append("")
        if t.n_reversed:
            parts.append(f"Reversed days: {', '.join(t.day_list(t.reversed))}.\n")
    return "\n".join(parts)


def table8_csv(entries: list[Table8Agent]) -> str:
    rows = []
    for t in entries:
        for j, d in enumerate(t.dates):
            rows.append([t.agent, d, fmt_float(t.dd_agent[j]), fmt_float(t.dd_ref[j]), fmt_float(t.map_agent[j]),
                         fmt_float(t.map_ref[j]), int(t.worse_dd[j]), int(t.better_map[j]), int(t.reversed[j])])
    return csv_text(["agent", "date", "max_drawdown_agent", "max_drawdown_reference", "pnl_to_map_agent",
                     "pnl_to_map_reference", "worse_max_drawdown", "better_pnl_to_map", "reversed"], rows)
