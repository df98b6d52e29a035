"""Alpha-AS training protocol on the paper-scale synthetic training day, then one test day with learning.

    .venv/bin/python benchmarks/bench_alpha_as.py [--data data] [--instrument btcusdt_synth] [--workers 2]

Targets: training (iterations × runs day-runs + fits) ≤ 4 min on 2 cores; a test day ≤ 10 s. Prints the
figures and Alpha-AS-1's four metrics on the test day.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from alpha_as.agents.alpha_as import AlphaAS, AlphaASConfig, load_market_day, write_day
from alpha_as.strategies.avellaneda_stoikov import ASParams


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data")
    ap.add_argument("--instrument", default="btcusdt_synth")
    ap.add_argument("--train-day", default="2020-12-08")
    ap.add_argument("--test-day", default="2020-12-09")
    ap.add_argument("--genas", default="results/genas/best.json")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--agent", default="alpha-as-1")
    args = ap.parse_args()
    gp = Path(args.genas)
    genas = ASParams.from_dict(json.loads(gp.read_text())["params"]) if gp.is_file() else ASParams()
    print(f"Gen-AS params: {'from ' + str(gp) if gp.is_file() else 'ASParams defaults (no best.json)'}")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = AlphaASConfig(agent=args.agent, iterations=args.iterations, runs=args.runs, workers=args.workers)
        model = AlphaAS(Path(tmp) / "model", cfg, genas)
        t0 = time.perf_counter()
        model.train(args.data, args.instrument, args.train_day, log=lambda s: print(f"  {s}", flush=True))
        t_train = time.perf_counter() - t0
        fits = sum(h["fit_seconds"] for h in model.history)
        print(f"training: {args.iterations} iterations x {args.runs} runs = {args.iterations * args.runs} day-runs "
              f"+ {args.iterations} fits, {args.workers} workers: {t_train:.1f} s (fits {fits:.1f} s; target <= 240 s)")
        day = load_market_day(args.data, args.instrument, args.test_day, cfg.window)
        t0 = time.perf_counter()
        run = model.test_day(day, learn=True)
        t_test = time.perf_counter() - t0
        print(f"test day {args.test_day} with online learning: {t_test:.1f} s ({len(run.actions)} decisions, fit "
              f"{run.info.get('fit_seconds', 0):.1f} s, {run.target_copies} target copies; target <= 10 s)")
        write_day(run, Path(tmp) / "out")
        m = run.result.metrics
        print(f"{args.agent} {args.test_day}: Sharpe {m.sharpe:+.4f}  Sortino {m.sortino:+.4f}  "
              f"MaxDD {m.max_drawdown:.4f}  P&L-to-MAP {m.pnl_to_map:+.2f}  (fills {m.n_fills}, "
              f"final P&L {m.final_total_pnl:+.4f})")


if __name__ == "__main__":
    main()
