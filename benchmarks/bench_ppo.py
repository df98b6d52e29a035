"""Benchmark of the PPO agent's environment (issue #14 §2): AlphaASEnv steps per second on one paper-scale
synthetic day (continuous (γ, skew) actions drawn at random, the replay and the 32 observation features of each
5-s step included), and PPO's training throughput (environment steps per second, updates included) on the same
day. Prints figures; asserts nothing.

    python benchmarks/bench_ppo.py [--steps 4096]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np

MS = 1_000_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4096, help="PPO training steps to time (default 4096)")
    args = ap.parse_args()
    from alpha_as.agents import ppo
    from alpha_as.data import store
    from alpha_as.data.synthetic import simulate
    from alpha_as.strategies import ASParams

    d = dt.date(2020, 12, 9)
    ts, bpx, apx, bq, aq, t_ts, t_px, t_q, t_side = simulate(d, seed=0)
    day = store.MarketDay("synth", d, ts * MS, bpx, apx, bq, aq, t_ts * MS, t_px, t_q, t_side, True, None, None)
    env = ppo.make_env(day, ASParams(), ppo.PPOConfig())
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    env.step(np.zeros(2, np.float32))  # compile / load the engine cache
    env.reset(seed=0)
    n, t0, done = 0, time.perf_counter(), False
    while not done:
        _, _, term, trunc, _ = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
        n += 1
        done = term or trunc
    wall = time.perf_counter() - t0
    print(f"AlphaASEnv on {d} (a 12-h day): {n} steps in {wall:.2f} s = {n / wall:,.0f} env steps/s")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cfg = ppo.PPOConfig(total_timesteps=args.steps, checkpoint_every=0)
        t0 = time.perf_counter()
        ppo.train([day], ASParams(), cfg, tmp, progress=False)
        wall = time.perf_counter() - t0
    print(f"PPO training ({cfg.n_steps}-step rollouts, {cfg.n_epochs} epochs, net {cfg.net_arch}): {args.steps} "
          f"steps in {wall:.2f} s = {args.steps / wall:,.0f} steps/s")


if __name__ == "__main__":
    main()
