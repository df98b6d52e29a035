"""Benchmark of Gen-AS (issue #4): the paper's 10 × 45 = 450 evaluations on the paper-scale synthetic GA day
(2020-12-08, 07:00–19:00 UTC) with 2 worker processes. Target: <= 60 s wall. Prints figures; asserts nothing.

Reuses ``data/`` when it holds that day at full scale (12 h), else generates it into a temporary store.

    python benchmarks/bench_genas.py [--workers 2] [--algorithm authors]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENT = "btcusdt_synth"
GA_DAY = dt.date(2020, 12, 8)
TARGET_SECONDS = 60.0


def ga_day_store(tmp: Path) -> Path:
    """A store holding the full-scale synthetic GA day: ``data/`` if it has it, else a fresh one in ``tmp``."""
    from alpha_as.data import store

    data = ROOT / "data"
    try:
        day = store.load_day(data, INSTRUMENT, GA_DAY)
        if day.n_depth and (day.depth_ts[-1] - day.depth_ts[0]) / 3.6e12 >= 11.9:
            return data
    except Exception:  # noqa: BLE001 - absent or unreadable: generate it
        pass
    from alpha_as.data.synthetic import generate_market

    t0 = time.perf_counter()
    generate_market(tmp, instrument=INSTRUMENT, start=GA_DAY, end=GA_DAY, hours=12.0, seed=0, workers=1)
    print(f"generated the synthetic GA day into {tmp} in {time.perf_counter() - t0:.1f} s")
    return tmp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--algorithm", default="authors", choices=("authors", "mu_plus_lambda"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from alpha_as.data import store
    from alpha_as.tuning import GAConfig, tune

    with tempfile.TemporaryDirectory(prefix="bench_genas_") as tmp:
        tmp = Path(tmp)
        data = ga_day_store(tmp / "store")
        day = store.load_day(data, INSTRUMENT, GA_DAY, start=dt.time(7), end=dt.time(19))
        print(f"GA day {GA_DAY} ({data}): {day.n_depth:,} depth snapshots, {day.n_trades:,} trades "
              f"(07:00-19:00 UTC); cores {os.cpu_count()}, workers {args.workers}")
        cfg = GAConfig(generations=10, population=45, seed=args.seed, workers=args.workers,
                       algorithm=args.algorithm)
        t0 = time.perf_counter()
        result = tune(data, INSTRUMENT, str(GA_DAY), tmp / "out", cfg, progress=sys.stderr.isatty())
        wall = time.perf_counter() - t0

    h = result.history.to_pandas()
    b = result.best
    m = b["metrics"]
    evals = len(h)
    print(f"evaluations {evals} ({cfg.generations} generations x {cfg.population}), algorithm {cfg.algorithm}")
    print(f"wall {wall:.1f} s (target <= {TARGET_SECONDS:.0f} s: {'OK' if wall <= TARGET_SECONDS else 'MISSED'}); "
          f"{evals / wall:.1f} evaluations/s")
    print(f"per evaluation in a worker: median {h.eval_seconds.median() * 1e3:.0f} ms, "
          f"max {h.eval_seconds.max() * 1e3:.0f} ms; sum {h.eval_seconds.sum():.1f} s over {args.workers} workers "
          f"(the rest: worker start-up, day load, engine cache load, result transport)")
    print(f"best: generation {b['generation']} #{b['index']} ({b['operator']}): "
          + ", ".join(f"{k}={v:.6g}" for k, v in b["genes"].items())
          + f" -> params window_tick={b['params']['window_tick']}")
    print(f"best metrics: Sharpe {m['sharpe']:+.4f}  Sortino {m['sortino']:+.4f}  MaxDD {m['max_drawdown']:.4f}  "
          f"P&L-to-MAP {m['pnl_to_map']:+.2f}  fills {m['n_fills']}  final P&L {m['final_total_pnl']:+.4f}")
    per_gen = h.groupby("generation").fitness.agg(["max", "median"])
    print("fitness by generation (max / median): "
          + "  ".join(f"{g}: {r['max']:+.3f}/{r['median']:+.3f}" for g, r in per_gen.iterrows()))
    at_bound = [((h[f"gene_{n}"] == lo) | (h[f"gene_{n}"] == hi)).mean() for n, (lo, hi) in b["gene_table"].items()]
    print("share of genes on a bound of their range: "
          + ", ".join(f"{n} {s:.0%}" for n, s in zip(b["gene_table"], at_bound, strict=True)))

if __name__ == "__main__":
    main()
