"""``alpha-as train ppo`` and ``alpha-as run ppo`` (:mod:`alpha_as.agents.ppo`)."""

from __future__ import annotations

import argparse
import dataclasses
import json

from alpha_as.atomic import check_out_dir, write_text_atomic
from alpha_as.configs import load_json_arg
from alpha_as.data import store
from alpha_as.data.validate import require_sessions
from alpha_as.errors import InputError


def _config(args: argparse.Namespace):
    from alpha_as.agents.ppo import PPOConfig

    raw, source = ({}, "--ppo-config") if args.ppo_config is None else load_json_arg(args.ppo_config, "--ppo-config")
    raw = {**raw, "seed": args.seed}
    if args.timesteps is not None:
        raw["total_timesteps"] = args.timesteps
    return PPOConfig.from_dict(raw, source=source)


def train_ppo(args: argparse.Namespace) -> int:
    """Train PPO on the days of ``--day`` (comma-separated), one env each, on Gen-AS's parameters."""
    from alpha_as.agents import ppo
    from alpha_as.agents.cli import read_genas

    dates = [store.parse_date(d.strip()) for d in args.day.split(",") if d.strip()]
    if not dates:
        raise InputError("--day: give one or more training days, YYYY-MM-DD[,YYYY-MM-DD...]")
    store.parse_window(args.window)
    config = _config(args)
    require_sessions(args.data, args.instrument, [(d, args.window) for d in dates], trust=args.trust_data)
    base = read_genas(args.genas)
    out = check_out_dir(args.out)
    engine = None
    if args.chain is not None:
        from alpha_as.engine.config import ChainConfig, EngineConfig

        raw, source = load_json_arg(args.chain, "--chain")
        engine = EngineConfig(chain=ChainConfig.from_dict(raw, source=source))
    days = [store.load_window_day(args.data, args.instrument, d, args.window) for d in dates]
    ppo.train(days, base, config, out, engine=engine, progress=True)
    rewards = [e["reward"] for e in json.loads((out / "curve.json").read_text())["episodes"]]
    n = len(dates)  # the first and the last episode of each training day
    trend = f", episode reward {sum(rewards[:n]) / n:.4f} -> {sum(rewards[-n:]) / n:.4f}" if len(rewards) >= n else ""
    print(f"ppo trained on {args.instrument} {', '.join(map(str, dates))}: {config.total_timesteps} steps, "
          f"{len(rewards)} episodes{trend} -> {out}")
    return 0


def run_ppo(args: argparse.Namespace) -> int:
    """Play one day with a trained PPO agent (deterministic actions); the records of ``alpha-as run``."""
    from alpha_as.agents import ppo

    if args.model is None:
        raise InputError("ppo needs --model DIR (a folder written by `alpha-as train ppo`)")
    agent = ppo.load(args.model)
    date = store.parse_date(args.day)
    window = args.window or "07:00-19:00"
    require_sessions(args.data, args.instrument, [(date, window)], trust=args.trust_data)
    out = check_out_dir(args.out)
    day = store.load_window_day(args.data, args.instrument, date, window)
    engine = None
    if getattr(args, "risk", None) is not None:  # the risk module on the model's engine (alpha_as.engine.risk)
        from alpha_as.engine.cli import load_risk

        engine = dataclasses.replace(agent.engine, risk=load_risk(args.risk))
    result, actions, rewards = ppo.run_day(agent, day, engine)
    result.write(out, extra={"kind": "ppo", "model": str(args.model), "window": window, "data": str(args.data),
                             "ppo": ppo.day_summary(agent, actions, rewards)})
    write_text_atomic(json.dumps(ppo.day_actions(agent, actions, rewards)), out / "actions.json")
    print(f"ppo {args.instrument} {date}: {result.summary()}")
    return 0
