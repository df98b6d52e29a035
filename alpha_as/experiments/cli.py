"""``alpha-as runs --config experiments/X.toml``: run an experiment's (model, day, seed) jobs.

Exit codes: 0 when every job is finished, 1 when any job failed (each is reported with its error; the
others still run), 2 for bad input (the config, the store, the arguments: one line on stderr).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alpha_as.data.validate import add_trust_argument
from alpha_as.experiments.config import EXECUTORS, load_config

MEAN_COLUMNS = ("n_fills", "final_total_pnl", "sharpe", "sortino", "max_drawdown", "pnl_to_map")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "runs", help="run an experiment: models x days x seeds (resumable)",
        description="Run every (model, day, seed) job of an experiment file, skipping the jobs a previous run "
        "finished with the same configuration and data. Each job writes <out>/<model>/<session>/seed=<n>/ "
        "(fills.parquet, grid.parquet, metrics.json, manifest.json; <session> is the day, or e.g. "
        "2016-03-03_1100-1130 for a day in its own window); the run writes <out>/summary.csv. "
        "Relative paths in the file resolve against the current directory.",
    )
    p.add_argument("--config", required=True, type=Path, help="experiment file (TOML), e.g. experiments/demo.toml")
    p.add_argument("--out", type=Path, help="output folder (overrides [experiment] out)")
    p.add_argument("--executor", choices=EXECUTORS, help="overrides [experiment] executor")
    p.add_argument("--workers", type=int, help="overrides [experiment] workers (0 = number of cores)")
    p.add_argument("--ray-address", help="Ray cluster to connect to (overrides [experiment] ray_address)")
    p.add_argument("--force", action="store_true", help="rerun every job, finished or not")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_trust_argument(p)
    p.set_defaults(func=_cmd_runs)


def _cmd_runs(args: argparse.Namespace) -> int:
    from alpha_as.errors import InputError
    from alpha_as.experiments.config import default_workers
    from alpha_as.experiments.runner import run_experiment

    if args.workers is not None and args.workers < 0:
        raise InputError("--workers must be >= 0 (0 = number of cores)")
    exp = load_config(args.config).with_overrides(
        out=args.out, executor=args.executor, ray_address=args.ray_address,
        workers=None if args.workers is None else (args.workers or default_workers()))
    report = run_experiment(exp, force=args.force, progress=not args.no_progress, trust_data=args.trust_data)
    print(f"done in {report.wall_seconds:.1f} s: {report.ran} ran, {report.skipped} skipped, "
          f"{len(report.failed)} failed; summary of {len(report.rows)} finished job(s): {report.summary}")
    if report.rows:
        print(mean_table(report.rows))
    if report.failed:
        print(f"{len(report.failed)} job(s) failed (rerun the same command to retry them):")
        for job, err in report.failed:
            print(f"  {job.label}: {err}")
        return 1
    return 0


def mean_table(rows: list[dict]) -> str:
    """Per-model means of the summary's indicators, as a text table."""
    cols = MEAN_COLUMNS
    heads = ("fills", "final P&L", "Sharpe", "Sortino", "Max DD", "P&L-to-MAP")
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["model"], []).append(r)
    width = max([5] + [len(m) for m in by])
    lines = [f"{'model':<{width}}  {'jobs':>4}  " + "  ".join(f"{h:>11}" for h in heads)]
    for model, rs in by.items():
        means = [sum(float(r[c]) for r in rs) / len(rs) for c in cols]
        lines.append(f"{model:<{width}}  {len(rs):>4}  {means[0]:>11.1f}  " + "  ".join(f"{v:>11.4f}" for v in means[1:]))
    return "\n".join(lines)
