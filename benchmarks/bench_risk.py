"""Benchmark of the risk module (issue #15 §4): engine events/s with every check enabled vs. the module off. Prints
figures; asserts nothing.

The stream of benchmarks/bench_engine.py (seven paper-scale synthetic days back to back, ~5.6 M events), replayed
with AS requoting at every snapshot (the paper loop) and with Hummingbot's AS (the general loop), each with no risk
config and with every check of :class:`alpha_as.engine.risk.RiskConfig` on (the two-sided quoter of bench_engine.py
too, the cheapest strategy: the checks weigh most there). The limits are set wide enough that none of them stops the
strategy (no kill, no cap reached; the stale-book pause does act across the overnight gaps between the stream's
days, so the fills differ a little), and the ratio is the cost of the checks themselves. Runs alternate (off, on, off, on, ...) in one process after compilation; the figure
is the median of ``--runs`` replays each; the last line is ``risk_ratio=<x>`` (the worse of the two loops; target
>= 0.90).

    python benchmarks/bench_risk.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import build_stream, load_stream  # noqa: E402

EVERY_CHECK = {
    "mid_none_limit": 3, "stale_after_s": 60.0, "kill_loss": 1e9, "kill_loss_pct": 100.0, "profit_take": 1e9,
    "flatten": True, "min_spread_bps": 1e-6, "max_price_deviation_bps": 5000.0, "order_price_deviation_bps": 5000.0,
    "max_notional_per_order": 1e9, "max_notional": 1e9, "max_inventory": 1e6, "max_submits": 100_000,
    "max_cancels": 100_000, "submit_window_s": 1.0, "cancel_cooldown_s": 1e-6, "order_ttl_s": 86_400.0,
}
"""Every check on, with limits no run of the benchmark reaches."""


def replay(day, strategy, config) -> tuple[float, int, dict | None]:
    from alpha_as.engine import Backtest

    bt = Backtest(day, strategy, config)
    r = bt.run()
    return bt.wall, r.metrics.n_fills, r.info.get("risk")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--loops", default="paper,general", help="paper, general or both (default)")
    args = ap.parse_args()
    from alpha_as.engine import EngineConfig
    from alpha_as.engine.risk import RiskConfig
    from alpha_as.strategies import ASParams, FixedQuoterParams
    from alpha_as.strategies.hummingbot_as import HummingbotASParams

    build_stream()
    day = load_stream()
    events = day.n_depth + day.n_trades
    off, on = EngineConfig(), EngineConfig(risk=RiskConfig(**EVERY_CHECK))
    ratios = []
    cases = {"paper": [("AS, paper loop", ASParams(), off, on),
                       ("two-sided quoter requoting every 5 s, queue model, paper loop",
                        FixedQuoterParams(interval_s=5.0, repost_filled_side=False),
                        EngineConfig(fill_model="queue"), EngineConfig(fill_model="queue", risk=on.risk))],
             "general": [("Hummingbot AS, general loop", HummingbotASParams(), off, on)]}
    for label, strategy, off, on in [c for loop in args.loops.split(",") for c in cases[loop]]:
        replay(day, strategy, off)  # compile / load the cache
        replay(day, strategy, on)
        t_off, t_on = [], []
        for _ in range(args.runs):
            w, f_off, _ = replay(day, strategy, off)
            t_off.append(w)
            w, f_on, risk = replay(day, strategy, on)
            t_on.append(w)
        m_off, m_on = statistics.median(t_off), statistics.median(t_on)
        ratio = m_off / m_on
        ratios.append(ratio)
        print(f"{label}: {events:,} events; module off {events / m_off / 1e6:.2f} M events/s ({m_off:.3f} s, "
              f"{f_off:,} fills), every check on {events / m_on / 1e6:.2f} M events/s ({m_on:.3f} s, {f_on:,} fills, "
              f"{risk['denied_total']:,} denied); median of {args.runs}; on/off {ratio:.3f}")
    print(f"risk_ratio={min(ratios):.3f} (target >= 0.90)")


if __name__ == "__main__":
    main()
