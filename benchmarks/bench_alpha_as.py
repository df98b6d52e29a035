"""Alpha-AS training protocol on the paper-scale synthetic training day, then one test day with learning, on the
compiled decision loop and on the Python one (issue #16 §1).

    .venv/bin/python benchmarks/bench_alpha_as.py [--data data] [--instrument btcusdt_synth] [--workers 2]
        [--agent alpha-as-1] [--loops compiled,python]

Targets (2 cores): training (iterations × runs day-runs + fits) ≤ 30 s; a test day with online learning ≤ 0.5 s
(the decisions; the end-of-day fit is torch's and printed apart). Prints, per loop, the training time (and its
fits'), the test day's time (and its fit's) and the agent's four metrics on the test day; the two loops' results
are identical (tests/test_decision_loop.py), which the last line checks on the test day's P&L and actions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from alpha_as.agents.alpha_as import AlphaAS, AlphaASConfig, load_market_day, write_day
from alpha_as.strategies.avellaneda_stoikov import ASParams


def bench(args, genas: ASParams, loop: str, tmp: Path) -> dict:
    cfg = AlphaASConfig(agent=args.agent, iterations=args.iterations, runs=args.runs, workers=args.workers,
                        decision_loop=loop)
    model = AlphaAS(tmp / f"model-{loop}", cfg, genas)
    t0 = time.perf_counter()
    model.train(args.data, args.instrument, args.train_day, log=lambda s: print(f"  {s}", flush=True))
    t_train = time.perf_counter() - t0
    fits = sum(h["fit_seconds"] for h in model.history)
    print(f"[{loop}] training: {args.iterations} iterations x {args.runs} runs = {args.iterations * args.runs} "
          f"day-runs + {args.iterations} fits, {args.workers} workers: {t_train:.1f} s (fits {fits:.1f} s, day-runs "
          f"and the rest {t_train - fits:.1f} s; target <= 30 s)", flush=True)
    day = load_market_day(args.data, args.instrument, args.test_day, cfg.window)
    t0 = time.perf_counter()
    run = model.test_day(day, learn=True)
    t_test = time.perf_counter() - t0
    fit = run.info.get("fit_seconds", 0.0)
    day_s = run.info["loop_seconds"]
    print(f"[{loop}] test day {args.test_day} with online learning: {t_test:.2f} s = the day's decisions "
          f"{day_s:.2f} s on the {run.info['decision_loop']} loop (target <= 0.5 s) + end-of-day fit {fit:.2f} s + "
          f"diagnostics and checkpoint {t_test - fit - day_s:.2f} s ({len(run.actions)} decisions, "
          f"{run.target_copies} target copies)", flush=True)
    write_day(run, tmp / f"out-{loop}")
    m = run.result.metrics
    print(f"[{loop}] {args.agent} {args.test_day}: Sharpe {m.sharpe:+.4f}  Sortino {m.sortino:+.4f}  "
          f"MaxDD {m.max_drawdown:.4f}  P&L-to-MAP {m.pnl_to_map:+.2f}  (fills {m.n_fills}, "
          f"final P&L {m.final_total_pnl:+.4f})", flush=True)
    return {"train": t_train, "fits": fits, "test": t_test, "test_fit": fit, "day": day_s, "pnl": m.final_total_pnl,
            "actions": run.actions}


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
    ap.add_argument("--loops", default="compiled,python", help="decision loops to measure, comma-separated")
    args = ap.parse_args()
    gp = Path(args.genas)
    genas = ASParams.from_dict(json.loads(gp.read_text())["params"]) if gp.is_file() else ASParams()
    print(f"Gen-AS params: {'from ' + str(gp) if gp.is_file() else 'ASParams defaults (no best.json)'}")
    with tempfile.TemporaryDirectory() as tmp:
        out = {loop: bench(args, genas, loop, Path(tmp)) for loop in args.loops.split(",")}
    if len(out) == 2:
        a, b = out.values()
        same = a["pnl"] == b["pnl"] and np.array_equal(a["actions"], b["actions"])
        print(f"compiled vs python: training {a['train']:.1f} s vs {b['train']:.1f} s (without fits "
              f"{a['train'] - a['fits']:.1f} s vs {b['train'] - b['fits']:.1f} s), the test day's decisions "
              f"{a['day']:.2f} s vs {b['day']:.2f} s (whole test day {a['test']:.2f} s vs {b['test']:.2f} s); "
              f"same actions and P&L: {same}")


if __name__ == "__main__":
    main()
