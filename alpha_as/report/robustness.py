"""The robustness table of a sensitivity run (``alpha-as replicate-sensitivity``): each claim's verdict in each
market variant.

Input: the variants in order, each with its results folder; each folder's ``claims.json`` (written by the
report, :mod:`alpha_as.report.claims` and :mod:`alpha_as.report.beyond`). Output, in the sensitivity's out
folder: ``robustness.md`` and ``robustness.json`` (deterministic text, written atomically).

One row per claim (C1, C2, C3, C2b: every claim id that any variant's claims.json has, in the order they
first appear), one column per variant. A cell is the claim's verdict in that variant and its key figure:

* C1, C2, C2b (comparisons): "k of n hold, s significant" — s counts the comparisons significant at 5 %
  after Holm's correction (C1 and C2: one-sided Mann-Whitney; C2b: one-sided Wilcoxon signed-rank, as in
  each report);
* C3 (drawdowns): per agent, the days with a worse Max DD than Gen-AS and, of those, the days with a better
  P&L-to-MAP.

A variant without claims.json (not run yet, or stopped early) has "not run" cells. The last column says
whether the claim's verdict class (holds / holds partly / does not hold / not tested) is the same in every
variant that has one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alpha_as.atomic import write_text_atomic
from alpha_as.errors import InputError
from alpha_as.jsonsafe import plain
from alpha_as.report.tables import md_escape

NOT_RUN = "not run"


@dataclass(frozen=True)
class VariantInfo:
    """A variant as the table shows it."""

    name: str
    out: Path
    """Its results folder (holds claims.json once its report ran)."""
    description: str = ""
    changes: dict = field(default_factory=dict)
    """What it changes in the base protocol (tables of keys), as written in the sensitivity file."""
    instrument: str = ""


def verdict_class(verdict: str) -> str:
    """"holds partly (2 of 6)" → "holds partly"; "not tested (missing: ...)" → "not tested"."""
    return verdict.split(" (")[0].strip()


def key_figure(claim: dict[str, Any], labels: dict[str, str]) -> str:
    """The claim's key figure (see the module doc); "" when it was not tested."""
    if claim.get("n_comparisons"):
        return (f"{claim.get('n_holds', 0)} of {claim['n_comparisons']} hold, "
                f"{claim.get('n_significant', 0)} significant")
    if claim.get("id") == "C3" and claim.get("agents"):
        return "; ".join(f"{labels.get(a['agent'], a['agent'])}: worse Max DD {a['worse_max_dd_days']}/{a['n_days']} d, "
                         f"better P&L-to-MAP on {a['better_pnl_to_map_of_those']}" for a in claim["agents"])
    return ""


def read_claims(out: Path) -> dict[str, Any] | None:
    """A variant's claims.json, or None when it has none; a malformed file is an InputError naming it."""
    path = out / "claims.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except ValueError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise InputError(f"{path}: expected an object with a 'claims' list")
    return doc


def robustness_doc(name: str, base: str, variants: list[VariantInfo]) -> dict[str, Any]:
    """robustness.json: the variants and, per claim, each variant's cell and whether the verdicts agree."""
    docs = {v.name: read_claims(v.out) for v in variants}
    order: list[str] = []
    statements: dict[str, str] = {}
    for doc in docs.values():
        for c in (doc or {}).get("claims", []):
            if c["id"] not in statements:
                order.append(c["id"])
                statements[c["id"]] = c.get("statement", "")
    rows = []
    for cid in order:
        cells: dict[str, Any] = {}
        for v in variants:
            doc = docs[v.name]
            claim = next((c for c in (doc or {}).get("claims", []) if c["id"] == cid), None)
            if claim is None:
                cells[v.name] = None
                continue
            labels = {m["name"]: m.get("label", m["name"]) for m in doc.get("models", [])}
            verdict = str(claim.get("verdict", ""))
            cells[v.name] = {"verdict": verdict, "class": verdict_class(verdict), "figure": key_figure(claim, labels),
                             "n_days": doc.get("n_days"), "n_seeds": doc.get("n_seeds")}
        classes = {c["class"] for c in cells.values() if c is not None}
        rows.append({"id": cid, "statement": statements[cid], "cells": cells,
                     "same_verdict": len(classes) == 1 and all(c is not None for c in cells.values())})
    return plain({
        "sensitivity": name, "base": base,
        "variants": [{"name": v.name, "description": v.description, "changes": v.changes, "instrument": v.instrument,
                      "out": str(v.out), "has_claims": docs[v.name] is not None} for v in variants],
        "claims": rows,
    })


def changes_text(changes: dict) -> str:
    """A variant's changes to the base protocol, one line (``none`` for the base as is)."""
    if not changes:
        return "none"
    parts = []
    for table, keys in changes.items():
        if isinstance(keys, dict):
            inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in keys.items())
            parts.append(f"`{table}: {inner}`")
        else:
            parts.append(f"`{table} = {json.dumps(keys)}`")
    return "; ".join(parts)


def _link(v: dict[str, Any], root: Path) -> str:
    try:
        rel = Path(v["out"]).relative_to(root)
    except ValueError:
        return f"`{v['out']}`"
    return f"[{rel}/report.md]({rel}/report.md)"


def robustness_markdown(doc: dict[str, Any], root: Path) -> str:
    """robustness.md: the variants, then the robustness table."""
    variants = doc["variants"]
    out = [f"# Robustness of the claims: {doc['sensitivity']}", "",
           f"Each variant is the protocol {doc['base']} with the changes below, run as its own replication "
           "(its own results folder and report); the table gives each claim's verdict in each variant with its key "
           "figure. The variants are not the paper's experiment either: they show which findings hang on one "
           "modelling choice.", "",
           "| Variant | Changes | Instrument | Report |", "|---|---|---|---|"]
    for v in variants:
        what = md_escape(changes_text(v["changes"]) + (f" — {v['description']}" if v["description"] else ""))
        report = _link(v, root) if v["has_claims"] else NOT_RUN
        out.append(f"| {md_escape(v['name'])} | {what} | {v['instrument']} | {report} |")
    out += ["", "## Robustness table", ""]
    if not doc["claims"]:
        return "\n".join(out + ["No variant has a claims.json yet: run the variants first.", ""])
    out += ["| Claim | " + " | ".join(md_escape(v["name"]) for v in variants) + " | Same verdict everywhere |",
            "|---|" + "---|" * len(variants) + "---|"]
    for row in doc["claims"]:
        cells = []
        for v in variants:
            c = row["cells"][v["name"]]
            if c is None:
                cells.append(NOT_RUN)
            else:
                cells.append(md_escape(f"**{c['verdict']}**" + (f"; {c['figure']}" if c["figure"] else "")))
        same = "yes" if row["same_verdict"] else "no"
        out.append(f"| {row['id']}: {md_escape(row['statement'])} | " + " | ".join(cells) + f" | {same} |")
    out += ["", "Figures: C1, C2, C2b — comparisons that hold (better on both the mean and the median for C1/C2; "
            "Holm-adjusted one-sided Wilcoxon p < 0.05 and a positive mean difference for C2b) and those "
            "significant at 5 % after Holm's correction (C1/C2: one-sided Mann-Whitney; C2b: Wilcoxon). C3 — per "
            "agent, the test days with a worse Max DD than Gen-AS and, of those, the days with a better "
            "P&L-to-MAP. \"Same verdict everywhere\" compares the verdict classes (holds, holds partly, does not "
            "hold, not tested) over the variants; a variant not run makes it \"no\". Each variant's report.md has "
            "the comparisons in full.", ""]
    return "\n".join(out)


def write_robustness(out: Path, name: str, base: str, variants: list[VariantInfo]) -> tuple[Path, Path]:
    """Write ``out/robustness.md`` and ``out/robustness.json``; returns their paths."""
    doc = robustness_doc(name, base, variants)
    out.mkdir(parents=True, exist_ok=True)
    js = write_text_atomic(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                           out / "robustness.json")
    md = write_text_atomic(robustness_markdown(doc, out), out / "robustness.md")
    return md, js
