"""The report's section on the risk module (issue #15, :mod:`alpha_as.engine.risk`): what it denied and did, and the
P&L and drawdowns beside the models run without it.

For the runs with a ``risk`` block in ``metrics.json`` (a ``[risk]`` table), per model, means over its (day, seed)
runs: the requests denied (all, and per reason), the module's own actions (its cancels: stale book, kill, TTL,
orders that strayed, flatten rests; the flatten orders; quotes moved out to the min spread; pauses) and the runs
killed. Every model of the results (with the module or not: ``risk = false`` in a runs file keeps a model out of
it) gets its mean and worst final P&L and its mean and worst maximum drawdown, so a model with the module can be
read beside the same model without it.
"""

from __future__ import annotations

import json
import math

import numpy as np

from alpha_as.engine.risk import REASONS
from alpha_as.report.load import Results

ACTIONS = ("cancels", "flatten_orders", "quotes_moved_out", "pauses")
OUTCOMES = ("pnl", "worst_pnl", "max_drawdown", "worst_max_drawdown")
COLUMNS = ("risk_runs", "denied_total", *(f"denied_{r}" for r in REASONS), *ACTIONS, "kills", *OUTCOMES)


def rows(res: Results) -> list[dict]:
    """One row per model with runs (:data:`COLUMNS`); none at all when no run has the risk module."""
    out, any_risk = [], False
    for m in res.models:
        pnl, dd, counts = [], [], []
        for d in res.dates:
            for path in res.runs.get((m.name, d), {}).values():
                doc = json.loads((path / "metrics.json").read_text())
                pnl.append(float(doc["metrics"]["final_total_pnl"]))
                dd.append(float(doc["metrics"]["max_drawdown"]))
                if doc.get("risk"):
                    counts.append(_counts(doc["risk"]))
        if not pnl:
            continue
        any_risk = any_risk or bool(counts)
        row = {"model": m.name, "label": m.label, "runs": len(pnl), "risk_runs": len(counts),
               "pnl": float(np.mean(pnl)), "worst_pnl": float(np.min(pnl)), "max_drawdown": float(np.mean(dd)),
               "worst_max_drawdown": float(np.max(dd))}
        for c in COLUMNS[1:-len(OUTCOMES)]:
            row[c] = float(np.mean([x[c] for x in counts])) if counts else math.nan
        out.append(row)
    return out if any_risk else []


def _counts(r: dict) -> dict:
    a = r["actions"]
    return {"denied_total": r["denied_total"], **{f"denied_{k}": r["denied"].get(k, 0) for k in REASONS},
            "cancels": sum(v for k, v in a.items() if k.startswith("cancels_")),
            "flatten_orders": a["flatten_orders"], "quotes_moved_out": a["quotes_moved_out"], "pauses": a["pauses"],
            "kills": 1 if r.get("kill") else 0}


def _top(r: dict, n: int = 3) -> str:
    got = sorted(((r[f"denied_{k}"], k) for k in REASONS if r[f"denied_{k}"] > 0), reverse=True)[:n]
    return ", ".join(f"{k} {v:,.1f}" for v, k in got) or "none"


def section_markdown(table: list[dict], cur: str) -> list[str]:
    """The markdown lines of the section from :func:`rows` (none when no run has the risk module); ``cur``: the quote
    currency."""
    if not table:
        return []
    lines = ["## Risk module", "",
             f"Runs with the risk module (`[risk]`, alpha_as.engine.risk) beside those without it: means per (day, "
             f"seed) run. Denied: the strategy's requests the module did not send (the main reasons); cancels: the "
             f"module's own (stale book, kill, TTL, orders that strayed, flatten rests); killed: runs the kill switch "
             f"halted. P&L and drawdowns in {cur}; worst: over the runs.", "",
             "| model | runs | with the module | denied | main reasons | cancels | flatten orders | killed | "
             "final P&L | worst P&L | max DD | worst max DD |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        on = r["risk_runs"] > 0
        counts = (f"{r['denied_total']:,.1f} | {_top(r)} | {r['cancels']:,.1f} | {r['flatten_orders']:.1f} | "
                  f"{r['kills'] * r['risk_runs']:.0f}") if on else "— | — | — | — | —"
        lines.append(f"| {r['label']} | {r['runs']} | {r['risk_runs']} | {counts} | {r['pnl']:.4f} | "
                     f"{r['worst_pnl']:.4f} | {r['max_drawdown']:.4f} | {r['worst_max_drawdown']:.4f} |")
    return lines + ["", "File: [tables/risk.csv](tables/risk.csv) (every reason and action).", ""]


def table_csv(table: list[dict]) -> str:
    """tables/risk.csv: the rows of :func:`rows`."""
    head = ["model", "runs", *COLUMNS]
    body = [",".join(str(r[k]) for k in head) for r in table]
    return "\n".join([",".join(head), *body]) + "\n"
