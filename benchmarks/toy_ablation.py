"""The sound learner's options one at a time, on the toy markets with known answers (alpha_as.agents.toys).

For the full sound preset, the paper's preset, and the sound preset with one option put back to the paper's,
prints: the share of held-out greedy steps on the best action (one-regime toy), the share on the regime's best
action and the P&L against the best constant action (switching toy), and Q/MC correlation after training.
These are the "measured effect" figures of docs/replication-notes.md.

    python benchmarks/toy_ablation.py [--agent alpha-as-1] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

import numpy as np

from alpha_as.agents.alpha_as import AlphaAS
from alpha_as.agents.config import SOUND, AlphaASConfig
from alpha_as.agents.toys import (
    TOY_FEATURES,
    TOY_INSTRUMENT,
    TOY_PARAMS,
    constant_pnls,
    play_greedy,
    regime_best_actions,
    write_toy_days,
)

TRAIN = dt.date(2021, 1, 4)
HELD_OUT = [dt.date(2021, 1, 5), dt.date(2021, 1, 6)]

VARIANTS: dict[str, dict] = {
    "sound": dict(SOUND),
    "paper": {},
    "sound, tanh output (Xavier init)": {**SOUND, "output_activation": "tanh", "out_init_scale": 1.0},
    "sound, protocol target copies": {**SOUND, "target_update": "copy"},
    "sound, 1 Bellman iteration (10 epochs)": {**SOUND, "bellman_iterations": 1, "epochs": 10},
    "sound, rewards in USD unscaled": {**SOUND, "reward_unit": "usd", "reward_scaling": "none"},
    "sound, MSE + SGD-Nesterov (paper's)": {**SOUND, "loss": "mse", "optimizer": "nesterov", "lr": 0.01},
    "sound, paper inputs": {**SOUND, "inputs": "paper"},
    "sound, no z clip": {**SOUND, "z_clip": None},
    "sound, day end continues": {**SOUND, "day_end": "continue"},
}
DQN_KEYS = ("output_activation", "out_init_scale", "target_update", "bellman_iterations", "loss", "optimizer", "lr")


def config(agent: str, over: dict, seed: int) -> AlphaASConfig:
    over = dict(over)
    dqn = {k: over.pop(k) for k in DQN_KEYS if k in over}
    return AlphaASConfig(agent=agent, iterations=8, runs=2, features=TOY_FEATURES, window="all", seed=seed, dqn=dqn,
                         **over)


def evaluate(root: Path, store: Path, cfg: AlphaASConfig, switching: bool) -> tuple[float, float, float]:
    m = AlphaAS(root, cfg, TOY_PARAMS)
    m.train(store, TOY_INSTRUMENT, TRAIN.isoformat())
    match, edge = [], []
    for d in HELD_OUT:
        day, run = play_greedy(m, store, d)
        match.append(float(np.mean(run.actions == regime_best_actions(day, run.t))))
        edge.append(run.result.metrics.final_total_pnl - float(constant_pnls(day).max()))
    corr = m.diagnostics["checks"][-1]["q_mc_corr"]
    return float(np.mean(match)), float(np.mean(edge)), float("nan") if corr is None else float(corr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agent", default="alpha-as-1", choices=("alpha-as-1", "alpha-as-2"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_toy_days(tmp / "one", [TRAIN, *HELD_OUT], minutes=20)
        write_toy_days(tmp / "switching", [TRAIN, *HELD_OUT], minutes=20, switch_seconds=60)
        print(f"{args.agent}, seeds {args.seeds}: mean over seeds and 2 held-out toy days")
        print(f"{'variant':<40} {'one: best action':>16} {'switching: regime-best':>22} "
              f"{'P&L - best const':>16} {'Q/MC corr':>10}")
        for name, over in VARIANTS.items():
            rows = []
            for seed in args.seeds:
                one = evaluate(tmp / f"m1-{len(rows)}-{name}", tmp / "one", config(args.agent, over, seed), False)
                sw = evaluate(tmp / f"m2-{len(rows)}-{name}", tmp / "switching", config(args.agent, over, seed), True)
                rows.append((one[0], sw[0], sw[1], one[2]))
            a = np.array(rows)
            print(f"{name:<40} {100 * a[:, 0].mean():>15.0f}% {100 * a[:, 1].mean():>21.0f}% "
                  f"{a[:, 2].mean():>+16.4f} {np.nanmean(a[:, 3]):>+10.2f}", flush=True)


if __name__ == "__main__":
    main()
