"""Benchmark of the market-data layer: synthetic market generation and its calibration.

Prints figures; asserts nothing (speed targets live here, not in timed tests).
Target (issue #2): all 32 default days <= 60 s on 2 cores. ``alpha-as data microstructure`` on one
paper-scale (12-h) synthetic day, engine run included: <= 10 s (median of 3 runs, each a fresh process).

    python benchmarks/bench_data.py [--workers N] [--keep DIR] [--microstructure-only [--ms-store ROOT:INSTRUMENT]]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from alpha_as.data import paper, store
from alpha_as.data.stats import day_stats, paper_comparison
from alpha_as.data.synthetic import generate_market


def _warm_numba_cache() -> float:
    """Compile (or load from the on-disk cache) the kernels in a throwaway process; returns seconds."""
    t0 = time.perf_counter()
    code = ("import datetime as dt; from alpha_as.data.synthetic import simulate; "
            "simulate(dt.date(2020, 12, 9), hours=0.01)")
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def bench_microstructure(spec: str | None = None, runs: int = 3) -> float:
    """Median wall time of `alpha-as data microstructure` (a fresh process each run) on one 12-h day: the
    first day of ``spec`` (ROOT:INSTRUMENT) or a synthetic day generated into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        if spec:
            root, instrument = spec.rsplit(":", 1)
            day = store.list_dates(root, instrument)[0]
        else:
            root, instrument, day = tmp, "btcusdt_synth", paper.PAPER_DAYS[2].date
            generate_market(root, instrument=instrument, start=day, end=day, workers=1)
        cmd = [sys.executable, "-m", "alpha_as", "data", "microstructure", str(root), "--instrument", instrument,
               "--start", str(day), "--end", str(day)]
        subprocess.run(cmd, check=True, capture_output=True)  # warm the numba caches
        walls = []
        for _ in range(runs):
            t0 = time.perf_counter()
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
        head = next(line for line in done.stdout.splitlines() if line.startswith("[1]"))
        wall = float(np.median(walls))
        print(f"data microstructure, one day: {head}")
        print(f"data microstructure wall (fresh process, engine included): median of {runs} {wall:.1f} s "
              f"(runs {', '.join(f'{w:.1f}' for w in walls)}; target <= 10 s)")
        return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", type=Path, help="write the market here instead of a temporary folder")
    ap.add_argument("--microstructure-only", action="store_true", help="only time `data microstructure`")
    ap.add_argument("--ms-store", metavar="ROOT:INSTRUMENT",
                    help="time `data microstructure` on this store's first day (default: a new synthetic day)")
    args = ap.parse_args()
    if args.microstructure_only:
        bench_microstructure(args.ms_store)
        return

    warm = _warm_numba_cache()
    print(f"numba kernels ready (compile or cache load, fresh process): {warm:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        t0 = time.perf_counter()
        rep = generate_market(root, workers=args.workers, force=True)
        wall = time.perf_counter() - t0
        n_trades = sum(d.trades for d in rep.days)
        n_snap = sum(d.snapshots for d in rep.days)
        print(f"synthetic market: {len(rep.days)} days x 12 h, {n_snap:,} snapshots, {n_trades:,} trades, "
              f"{args.workers} worker(s): {wall:.1f} s wall (target <= 60 s)"
              f" -> {(n_snap + n_trades) / wall / 1e6:.2f} M events/s")

        errs = {"depth_snapshots": [], "trades": [], "ticks_per_5s": []}
        t5_std, t5_skew, spr_med, spr_mean = [], [], [], []
        t_load = time.perf_counter()
        for d in paper.PAPER_DAYS:
            day = store.load_day(root, "btcusdt_synth", d.date)
            cmp = paper_comparison(day)
            for k in errs:
                errs[k].append(abs(cmp[k]["rel_err"]))
            s = day_stats(day)
            t5_std.append(s["ticks_per_5s"]["std"])
            t5_skew.append(s["ticks_per_5s"]["skew"])
            spr_med.append(s["spread"]["median"])
            spr_mean.append(s["spread"]["mean"])
        load = time.perf_counter() - t_load
        print(f"load_day + stats of 32 days: {load:.1f} s")
        for k, v in errs.items():
            v = np.asarray(v)
            print(f"calibration {k:16s}: max |err| {v.max():6.2%}  mean |err| {v.mean():6.2%}  "
                  f"{(v <= 0.10).sum()}/{len(v)} days within ±10 % of spec §12")
        print(f"ticks per 5 s std {min(t5_std):.1f}-{max(t5_std):.1f} (paper 21-67), "
              f"skew {min(t5_skew):.2f}-{max(t5_skew):.2f} (paper 1.0-4.4)")
        print(f"spread median {np.median(spr_med):.2f} USD, mean of daily means {np.mean(spr_mean):.2f} USD "
              f"(paper: median 0.01, mean ~0.37)")
    bench_microstructure(args.ms_store)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: main {rss:.0f} MB, largest worker {kids:.0f} MB")


if __name__ == "__main__":
    main()
