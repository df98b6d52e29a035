"""``alpha-as report``: the paper-style report of a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="paper-style report (tables, tests, claims, plots) of a results folder",
        description="Read the runs of RESULTS_DIR (runs/<model>/<date>/seed=<n>/ or <model>/<date>/seed=<n>/, "
        "with an optional experiment.json) and write report.md, claims.json, tables/ (CSV and LaTeX of "
        "Tables 2-6 and an 8-like table, Kruskal-Wallis and Holm-corrected Mann-Whitney tests, computed on the "
        "paper's models only; beyond_<indicator>.csv: the marked-to-market indicators of every model) and "
        "plots/ into RESULTS_DIR or --out, with claims C1-C3, claim C2b (each agent beats the reference policies "
        "random and constant-train), the distance to the constant-action oracle and the agents' learning "
        "diagnostics (models/<model>/seed=<s>/diagnostics.json). The outputs are deterministic: the same runs "
        "give byte-identical files.",
    )
    p.add_argument("results_dir", type=Path, metavar="RESULTS_DIR", help="the results folder")
    p.add_argument("--out", type=Path, help="output folder (default: RESULTS_DIR)")
    p.add_argument("--progress", action="store_true", help="progress messages on stderr")
    p.add_argument("--quote-currency", metavar="CCY",
                   help="unit of P&L and Max DD in the tables and plots (default: experiment.json's, else USD)")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from alpha_as.atomic import check_out_dir
    from alpha_as.report.build import build

    if args.out is not None:
        check_out_dir(args.out)
    result = build(args.results_dir, args.out, progress=args.progress, quote_currency=args.quote_currency)
    print(f"wrote {result.report}")
    print(f"wrote {result.claims_json}")
    for c in result.claims:
        print(f"{c['id']}: {c['verdict']} - {c['statement']}")
    return 0
