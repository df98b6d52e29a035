"""Benchmark of the replay engine (issue #3). Prints figures; asserts nothing.

* a fixed synthetic stream of >= 5 M events (seven paper-scale synthetic days back to back, seed 0),
  replayed with (a) a two-sided quoter requoting every 5 s and (b) AS requoting at every snapshot;
  events/s = median of 3 fresh processes, compilation (or cache load) excluded, load time shown apart;
* one AS day of the paper-scale synthetic market (2020-12-09 and the busiest day, 2021-01-04), after
  compilation: target <= 50 ms;
* with the optional ``[bench]`` extra, hftbacktest on the same stream and rule (benchmarks/hftbacktest_compare.py),
  ending with ``ratio_vs_hftbacktest=<x>`` (target >= 2.0).

    python benchmarks/bench_engine.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STREAM = ROOT / "data" / "bench" / "stream_5m.npz"
STREAM_DAYS = [dt.date(2021, 1, d) for d in (2, 3, 4, 5, 6, 7, 8)]
MS = 1_000_000


def build_stream(path: Path = STREAM) -> Path:
    """Seven synthetic paper days (12 h each), concatenated: ~5.6 M events. Cached under data/bench/."""
    if path.is_file():
        return path
    from alpha_as.data.synthetic import simulate

    parts = [simulate(d, seed=0, hours=12.0) for d in STREAM_DAYS]
    cat = [np.concatenate([p[i] for p in parts]) for i in range(9)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, depth_ts=cat[0] * MS, bid_px=cat[1], ask_px=cat[2], bid_qty=cat[3], ask_qty=cat[4],
             trade_ts=cat[5] * MS, trade_px=cat[6], trade_qty=cat[7], trade_side=cat[8])
    tmp.replace(path)
    return path


def load_stream(path: Path = STREAM):
    from alpha_as.data.store import MarketDay

    z = np.load(path)
    return MarketDay("bench", STREAM_DAYS[0], z["depth_ts"], z["bid_px"], z["ask_px"], z["bid_qty"], z["ask_qty"],
                     z["trade_ts"], z["trade_px"], z["trade_qty"], z["trade_side"], True, None, None)


def worker(which: str) -> None:
    """One fresh process: load, compile/load the cache, replay; print one JSON line."""
    t0 = time.perf_counter()
    day = load_stream()
    load = time.perf_counter() - t0
    from alpha_as.engine import Backtest, EngineConfig
    from alpha_as.strategies import ASParams, FixedQuoterParams

    if which == "fixed":
        strat, cfg = FixedQuoterParams(interval_s=5.0, repost_filled_side=False), EngineConfig(fill_model="queue")
    else:
        strat, cfg = ASParams(), EngineConfig()
    bt = Backtest(day, strat, cfg)
    res = bt.run()
    events = day.n_depth + day.n_trades
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"which": which, "events": events, "load_s": load, "jit_s": bt.jit_seconds,
                      "replay_s": bt.wall, "fills": res.metrics.n_fills, "rss_mb": rss}))


def fresh(which: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", which], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def per_day_as() -> None:
    from alpha_as.data import store
    from alpha_as.data.synthetic import simulate
    from alpha_as.engine import Backtest
    from alpha_as.strategies import ASParams

    for d in (dt.date(2020, 12, 9), dt.date(2021, 1, 4)):
        ts, bpx, apx, bq, aq, t_ts, t_px, t_q, t_side = simulate(d, seed=0)
        day = store.MarketDay("synth", d, ts * MS, bpx, apx, bq, aq, t_ts * MS, t_px, t_q, t_side, True, None, None)
        Backtest(day, ASParams()).run()  # compile / load the cache
        times = []
        for _ in range(5):
            bt = Backtest(day, ASParams())
            r = bt.run()
            times.append(bt.wall)
        print(f"AS on one paper-scale synthetic day {d} ({day.n_depth + day.n_trades:,} events, "
              f"{r.metrics.n_fills} fills): {1000 * min(times):.1f} ms best, {1000 * statistics.median(times):.1f} ms "
              f"median of 5 (target <= 50 ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", choices=("fixed", "as"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    t0 = time.perf_counter()
    build_stream()
    print(f"stream: {STREAM.relative_to(ROOT)} ready in {time.perf_counter() - t0:.1f} s")
    fresh("as")  # make sure the on-disk cache exists before timing anything
    for which, label in (("fixed", "(a) two-sided quoter, requote every 5 s, queue model"),
                         ("as", "(b) AS requoting at every snapshot, paper model")):
        runs = [fresh(which) for _ in range(args.runs)]
        ev = runs[0]["events"]
        med = statistics.median(r["replay_s"] for r in runs)
        print(f"{label}: {ev:,} events, {runs[0]['fills']:,} fills; replay {med:.3f} s median of {args.runs} fresh "
              f"processes = {ev / med / 1e6:.1f} M events/s; load {statistics.median(r['load_s'] for r in runs):.2f} s, "
              f"cache load {statistics.median(r['jit_s'] for r in runs):.2f} s (excluded); "
              f"peak RSS {max(r['rss_mb'] for r in runs):.0f} MB")
    per_day_as()
    try:
        import hftbacktest  # noqa: F401
    except ImportError:
        print("hftbacktest not installed (pip install '.[bench]'): no ratio_vs_hftbacktest")
        return
    subprocess.run([sys.executable, str(Path(__file__).with_name("hftbacktest_compare.py")), str(STREAM)], check=True)


if __name__ == "__main__":
    main()
