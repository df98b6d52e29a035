"""The report's section on on-chain costs (issue #14 §3): for the runs made on a chain (``metrics.json`` with a
``chain`` block, :mod:`alpha_as.engine.chain`), how often each model acts and what its gas costs it.

Per model, means over its (day, seed) runs: order actions (placements, replacements and cancels: each one a
transaction), fills, gas paid, gas per fill, the final total P&L (net of gas) and that P&L with the gas added back
(what the same orders would have made at zero gas — the same orders: a strategy that knew about gas might act
differently).
"""

from __future__ import annotations

import json
import math

import numpy as np

from alpha_as.report.load import Results

COLUMNS = ("actions", "fills", "gas", "gas_per_fill", "pnl", "pnl_before_gas")


def rows(res: Results) -> list[dict]:
    """One row per model that has runs on a chain (the means of :data:`COLUMNS`, and the number of runs)."""
    out = []
    for m in res.models:
        vals: dict[str, list[float]] = {c: [] for c in COLUMNS}
        for d in res.dates:
            for path in res.runs.get((m.name, d), {}).values():
                doc = json.loads((path / "metrics.json").read_text())
                ch = doc.get("chain")
                if not ch:
                    continue
                pnl = float(doc["metrics"]["final_total_pnl"])
                fills = int(doc["metrics"]["n_fills"])
                vals["actions"].append(ch["actions"])
                vals["fills"].append(fills)
                vals["gas"].append(ch["gas"])
                vals["gas_per_fill"].append(ch["gas"] / fills if fills else math.nan)
                vals["pnl"].append(pnl)
                vals["pnl_before_gas"].append(pnl + ch["gas"])
        if vals["gas"]:
            out.append({"model": m.name, "label": m.label, "runs": len(vals["gas"]),
                        **{c: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
                           for c, v in vals.items()}})
    return out


def section_markdown(table: list[dict], cur: str) -> list[str]:
    """The markdown lines of the section from :func:`rows` (none when no run is on a chain); ``cur``: the quote currency."""
    if not table:
        return []
    lines = ["## On-chain costs", "",
             f"Runs on a chain (`[engine.chain]`): means per (day, seed) run. An action is one transaction (a "
             f"placement, a replacement or a cancel); gas and P&L in {cur}. The P&L is net of gas; "
             f"\"before gas\" adds the gas back (the same orders at zero gas).", "",
             "| model | runs | actions | fills | gas | gas per fill | final P&L | P&L before gas |",
             "|---|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['label']} | {r['runs']} | {r['actions']:.1f} | {r['fills']:.1f} | {r['gas']:.4f} | "
                     f"{r['gas_per_fill']:.5f} | {r['pnl']:.4f} | {r['pnl_before_gas']:.4f} |")
    return lines + [""]


def table_csv(table: list[dict]) -> str:
    """tables/chain.csv: the rows of :func:`rows`."""
    head = ["model", "runs", *COLUMNS]
    body = [",".join(str(r[k]) for k in head) for r in table]
    return "\n".join([",".join(head), *body]) + "\n"
