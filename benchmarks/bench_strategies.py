"""Benchmark of the strategies beyond the paper (issue #13): one paper-scale synthetic day of Hummingbot's AS and
of GLFT (defaults, and their multi-level variants) against AS on the same day. Prints figures; asserts nothing.

Per day and strategy: the replay's wall time (compilation or cache load excluded) as the median of 5 runs in one
process, and its ratio to AS's median on the same day (issue #13's target: <= 2x).

    python benchmarks/bench_strategies.py [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics

MS = 1_000_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from alpha_as.data import store
    from alpha_as.data.synthetic import simulate
    from alpha_as.engine import Backtest
    from alpha_as.strategies import ASParams
    from alpha_as.strategies.glft import GLFTParams
    from alpha_as.strategies.hummingbot_as import HummingbotASParams

    models = [("as", ASParams()), ("hummingbot-as", HummingbotASParams()),
              ("hummingbot-as 3 levels", HummingbotASParams(order_levels=3, level_distances=50.0)),
              ("glft", GLFTParams()), ("glft grid of 5", GLFTParams(grid_num=5))]
    for d in (dt.date(2020, 12, 9), dt.date(2021, 1, 4)):
        ts, bpx, apx, bq, aq, t_ts, t_px, t_q, t_side = simulate(d, seed=0)
        day = store.MarketDay("synth", d, ts * MS, bpx, apx, bq, aq, t_ts * MS, t_px, t_q, t_side, True, None, None)
        print(f"{d}: {day.n_depth:,} snapshots, {day.n_trades:,} trades")
        base = None
        for name, params in models:
            Backtest(day, params).run()  # compile / load the cache
            times = []
            for _ in range(args.runs):
                bt = Backtest(day, params)
                r = bt.run()
                times.append(bt.wall)
            med = statistics.median(times)
            base = med if base is None else base
            print(f"  {name:<24} {1000 * med:8.1f} ms median of {args.runs}  ({med / base:5.2f}x AS)  "
                  f"{r.metrics.n_fills:6d} fills  {r.counters['order_requests']:7d} requests")


if __name__ == "__main__":
    main()
