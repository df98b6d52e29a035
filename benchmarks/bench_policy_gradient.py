"""Benchmark of the online-γ learner's day (issue #16 §1): one paper-scale synthetic day (07:00-19:00 quoting,
8,639 epochs of 5 s) of AS and of Hummingbot's AS with ``risk_aversion = "policy_gradient"``, on the compiled loop
(:mod:`alpha_as.agents.policy_gradient_loop`) and on the Python loop, against the same strategy's plain replay with
a fixed γ. Prints figures; asserts nothing (tests/test_policy_gradient_loop.py checks the two loops agree).

Per model: the wall time of the whole day (``run_day``, learner and engine; compilation or cache load excluded by a
first run) as the median of ``--runs`` runs in one process.

    python benchmarks/bench_policy_gradient.py [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

MS = 1_000_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from alpha_as.agents import policy_gradient as PG
    from alpha_as.data import store
    from alpha_as.data.synthetic import simulate
    from alpha_as.engine import Backtest
    from alpha_as.strategies import ASParams
    from alpha_as.strategies.hummingbot_as import HummingbotASParams

    d = dt.date(2020, 12, 9)
    ts, bpx, apx, bq, aq, t_ts, t_px, t_q, t_side = simulate(d, seed=0)
    day = store.MarketDay("synth", d, ts * MS, bpx, apx, bq, aq, t_ts * MS, t_px, t_q, t_side, True, None, None)
    print(f"{d}: {day.n_depth:,} snapshots, {day.n_trades:,} trades; median of {args.runs} runs")
    cfg = PG.PolicyGradientConfig()
    for name, params in (("as", ASParams()), ("hummingbot-as", HummingbotASParams())):
        def fixed(params=params) -> None:
            Backtest(day, params).run()

        def learned(loop: str, params=params) -> None:
            PG.run_day(day, params, cfg, seed=0, loop=loop)

        row = {}
        for label, fn in (("fixed γ", fixed), ("compiled", lambda: learned("compiled")),
                          ("python", lambda: learned("python"))):
            fn()  # compile / load the cache
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            row[label] = statistics.median(times)
        epochs = len(PG.run_day(day, params, cfg, seed=0).t)
        print(f"{name:<14} fixed γ {row['fixed γ']:6.2f} s | learned γ, {epochs:,} epochs: compiled "
              f"{row['compiled']:6.2f} s, python {row['python']:6.2f} s ({row['python'] / row['compiled']:.1f}x); "
              f"the learner adds {row['compiled'] - row['fixed γ']:+.2f} s compiled, "
              f"{row['python'] - row['fixed γ']:+.2f} s on the Python loop")


if __name__ == "__main__":
    main()
