"""``alpha-as tune``: Gen-AS — tune the AS parameters (or another registered strategy's, ``--strategy``) on one day
with a genetic algorithm (spec §4)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from alpha_as.atomic import check_out_dir
from alpha_as.configs import load_json_arg
from alpha_as.data.store import parse_date
from alpha_as.data.validate import add_trust_argument, require_sessions
from alpha_as.strategies import registry
from alpha_as.tuning.genas import ALGORITHMS, INITS, GAConfig, tune


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune", help="Gen-AS: tune AS parameters with a genetic algorithm",
        description="Tune the Avellaneda-Stoikov parameters on one day with the paper's genetic algorithm "
        "(10 generations x 45 individuals, fitness = Sharpe of the per-fill realized P&L). Writes "
        "history.parquet (every individual), best.json (use with `alpha-as run as --params`) and config.json "
        "to --out. The default gene ranges are INFERRED (spec §9 #13). A killed run keeps its completed "
        "generations in history.parquet but cannot be resumed. --strategy tunes another registered strategy (its "
        "best.json: `alpha-as run NAME --params`).",
    )
    p.add_argument("--data", required=True, type=Path, help="store root (authors' layout)")
    p.add_argument("--instrument", required=True, help="instrument in the store")
    p.add_argument("--day", required=True, help="the GA day, YYYY-MM-DD (paper: 2020-12-08)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--strategy", choices=registry.names(),
                   help="the registered strategy tuned (default as); one without a default gene table needs --genes")
    p.add_argument("--generations", type=int, help="generations, the first included (default 10)")
    p.add_argument("--population", type=int, help="individuals per generation (default 45)")
    p.add_argument("--seed", type=int, help="random seed; the same seed gives the same history (default 0)")
    p.add_argument("--workers", type=int, help="evaluation processes (default: number of cores; 1 = in-process)")
    p.add_argument("--algorithm", choices=ALGORITHMS,
                   help="authors: cumulative population (default); mu_plus_lambda: DEAP's eaMuPlusLambda")
    p.add_argument("--init", choices=INITS,
                   help="initial genes: authors' max*U + N(0,2)*range clipped (default), or uniform")
    p.add_argument("--genes", help='gene table, inline JSON or a file: {"risk_aversion": [0.01, 0.9], ...} '
                   "(names: numeric parameters of the strategy; default: the strategy's table, for AS gamma, "
                   "window_tick, spread_multiplier, position_multiplier with the INFERRED ranges of spec §9 #13)")
    p.add_argument("--base-params", help="fixed parameters of the strategy (inline JSON or a file), default its "
                   "defaults (AS: the authors')")
    p.add_argument("--window", help="UTC window of the day, HH:MM-HH:MM or 'all' (default 07:00-19:00)")
    p.add_argument("--config", help="a JSON file of GA settings (GAConfig fields); flags given override it")
    p.add_argument("--force", action="store_true", help="overwrite a finished run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_trust_argument(p)
    p.set_defaults(func=_cmd_tune)


def config_from_args(args: argparse.Namespace) -> GAConfig:
    d = load_json_arg(args.config, "--config", file_only=True)[0] if args.config else {}
    flags = []
    for key in ("strategy", "generations", "population", "seed", "workers", "algorithm", "init", "window"):
        if getattr(args, key) is not None:
            d[key] = getattr(args, key)
            flags.append(f"--{key}")
    if args.genes is not None:
        d["genes"] = load_json_arg(args.genes, "--genes")[0]
        flags.append("--genes")
    if args.base_params is not None:
        d["base_params"] = load_json_arg(args.base_params, "--base-params")[0]
        flags.append("--base-params")
    # errors name the --config file and the options given over it (GAConfig's own messages name the key)
    if args.config:
        source = f"{args.config} with {', '.join(flags)}" if flags else args.config
    else:
        source = f"tune {', '.join(flags)}" if flags else "tune"
    cfg = GAConfig.from_dict(d, source=source)
    defaults = default_hours(cfg.strategy)
    if "window" in d and not {"first_hour", "last_hour"} & set(cfg.base_params) and defaults is not None:
        from alpha_as.experiments.config import window_hours

        hours = dict(zip(("first_hour", "last_hour"), window_hours(cfg.window), strict=True))
        if hours != defaults:  # the strategy quotes in the GA day's window (AS's defaults: 7-19)
            cfg = GAConfig.from_dict({**d, "base_params": {**cfg.base_params, **hours}}, source=source)
    return cfg


def default_hours(strategy: str) -> dict | None:
    """The default ``{"first_hour", "last_hour"}`` of the strategy's parameters; None when it has no trading hours
    (AS and the baselines have them)."""
    fields = {f.name: f.default for f in dataclasses.fields(registry.by_name(strategy).params_class)}
    return {k: fields[k] for k in ("first_hour", "last_hour")} if {"first_hour", "last_hour"} <= set(fields) else None


def _cmd_tune(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    require_sessions(args.data, args.instrument, [(parse_date(args.day), cfg.window)], trust=args.trust_data)
    check_out_dir(args.out)  # before the GA: a file, a path under a file or a read-only folder is one line
    result = tune(args.data, args.instrument, args.day, args.out, cfg, force=args.force,
                  progress=not args.no_progress)
    print(result.summary())
    print(f"wrote {args.out / 'history.parquet'}, {args.out / 'best.json'}, {args.out / 'config.json'}")
    return 0
