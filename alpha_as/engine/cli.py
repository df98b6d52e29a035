"""``alpha-as run STRATEGY``: replay one day with one strategy and write its records and metrics.

``random`` and ``constant --action K`` are the agents' reference policies (``alpha_as.agents.reference``): AS on
Gen-AS's parameters (``--params``, required) with the agents' 20 actions, a uniformly random one every 5 s
(seeded by ``--seed``, default 0) or action K all day; their grid.parquet has the agents' action columns.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alpha_as.agents.actions import N_ACTIONS
from alpha_as.agents.config import MODEL_AGENTS
from alpha_as.configs import finite_float, from_dict, load_json_arg
from alpha_as.data import store
from alpha_as.data.validate import add_trust_argument, require_sessions
from alpha_as.engine.backtest import Backtest
from alpha_as.engine.config import FILL_MODELS, LOT_MATCHING, ChainConfig, EngineConfig
from alpha_as.engine.risk import RiskConfig
from alpha_as.errors import InputError
from alpha_as.strategies import registry
from alpha_as.strategies.avellaneda_stoikov import ASParams

STRATEGIES = {s.name: s.params_class for s in registry.STRATEGIES}
"""The registered strategies (:mod:`alpha_as.strategies.registry`) by name."""
AGENTS = tuple(MODEL_AGENTS)
DEFAULT_WINDOW = "07:00-19:00"
POLICIES = ("random", "constant")


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run", help="replay one day with one strategy",
        description="Replay one day of a store with one strategy; write fills.parquet, grid.parquet and "
        "metrics.json to --out and print one summary line.",
    )
    run.add_argument("strategy", choices=sorted(STRATEGIES) + list(POLICIES) + list(AGENTS) + ["ppo"],
                     help="as: Avellaneda-Stoikov; foic / liic: the non-AS baselines; fixed: two-sided quoter; "
                     "random / constant: the agents' 20 actions chosen at random every 5 s or one held all day "
                     "(--action), on Gen-AS's --params; "
                     "alpha-as-1 / alpha-as-2 (the paper's) or alpha-as-1-sound / alpha-as-2-sound (the repaired learner): a "
                     "trained agent (--model; the engine settings come from the model); ppo: a PPO agent (--model, from "
                     "`alpha-as train ppo`)")
    run.add_argument("--data", required=True, type=Path, help="store root (authors' layout)")
    run.add_argument("--instrument", required=True, help="instrument in the store")
    run.add_argument("--day", required=True, help="day, YYYY-MM-DD")
    run.add_argument("--out", required=True, type=Path, help="output folder")
    run.add_argument("--params", help="strategy parameters: a JSON file or an inline JSON object "
                     "(unknown keys are an error; defaults: the authors' AS parameters)")
    run.add_argument("--fill", choices=FILL_MODELS, default="paper", help="fill model (default paper)")
    run.add_argument("--latency-ms", type=finite_float, default=65.0, help="order-entry latency (default 65)")
    run.add_argument("--maker-fee", type=finite_float, default=0.0, help="maker fee rate, negative = rebate (default 0)")
    run.add_argument("--taker-fee", type=finite_float, default=0.0, help="taker fee rate (default 0)")
    run.add_argument("--lot-matching", choices=LOT_MATCHING, default="paper", help="realized P&L lot rule")
    run.add_argument("--chain", metavar="JSON",
                     help="trade on a chain (alpha_as.engine.chain): a JSON file or object of [engine.chain] settings "
                     "(block_seconds, network_delay_ms, slip_probability, slip_seed, gas_units_place, gas_units_cancel, "
                     "gas_price_gwei, native_price, fee_bps); blocks replace --latency-ms")
    run.add_argument("--risk", metavar="JSON",
                     help="the risk module (alpha_as.engine.risk): a JSON file or object of [risk] settings, e.g. "
                     "'{\"max_inventory\": 0.01, \"kill_loss\": 4.0}' (every check off unless set; for an agent, "
                     "replaces the risk settings of its model's engine)")
    run.add_argument("--window", default=None,
                     help="UTC time window of the day to replay, HH:MM-HH:MM, or 'all' (default 07:00-19:00; an agent "
                     "replays the window of its model)")
    run.add_argument("--trading-hours", choices=("window", "authors"), default="window",
                     help="window (default): AS, the baselines and the policies quote in --window unless --params "
                     "sets first_hour / last_hour; authors: in the params' hours (default 07-19 UTC)")
    run.add_argument("--map-over", choices=("fills", "grid"), default="fills",
                     help="mean |position| of P&L-to-MAP over fill rows (default, the authors') or the 5-s grid")
    run.add_argument("--seed", type=int, default=None,
                     help="recorded in metrics.json (the fill models are deterministic); random: seeds its actions "
                     "(default 0); for an agent, reseeds its exploration (default: continue the model's RNG)")
    run.add_argument("--action", type=int, metavar="K",
                     help=f"constant only: the action index 0..{N_ACTIONS - 1} (γ index x 5 + skew index) held all day")
    run.add_argument("--model", type=Path, help="Alpha-AS model folder written by `alpha-as train` (agents only)")
    run.add_argument("--learn", action=argparse.BooleanOptionalAction, default=True,
                     help="agents: keep learning and update the model (default, the paper's test protocol)")
    run.add_argument("--policy-state", type=Path, metavar="PATH",
                     help="risk aversion \"policy_gradient\": continue the learner saved by an earlier run (its --out "
                     "folder, or its policy_gradient.json); default: a fresh learner warm-started at the configured γ")
    add_trust_argument(run)
    run.set_defaults(func=_cmd_run)


def load_params(cls: type, text: str | None, window: str | None = None):
    """(strategy parameters, the online γ learner's config or None) from --params: a JSON file or object; a
    {"params": {...}} wrapper (a GA best.json, a metrics.json) is unwrapped. The risk aversion may be
    "policy_gradient" (:mod:`alpha_as.agents.policy_gradient`), with an optional "policy_gradient" table. With
    ``window``, parameters with trading hours that set neither first_hour nor last_hour quote in that UTC window
    (``--trading-hours window``)."""
    from alpha_as.agents.policy_gradient import split_policy_gradient
    from alpha_as.experiments.config import HOUR_KEYS, has_hours, with_window_hours

    raw, source = ({}, "--params") if text is None else load_json_arg(text, "--params")
    if "params" in raw and isinstance(raw["params"], dict):
        raw = raw["params"]
    raw, pg = split_policy_gradient(raw, source)
    params = from_dict(cls, raw, source=source)
    if pg is not None:
        from alpha_as.agents.policy_gradient import risk_field

        risk_field(params)  # AS or Hummingbot's AS only: one line otherwise
    if window is not None and has_hours(params) and not any(k in raw for k in HOUR_KEYS):
        params = with_window_hours(params, window, "--window")
    return params, pg


def load_risk(text: str | None) -> RiskConfig | None:
    """The risk config of ``--risk`` (a JSON file or object; None: no risk module)."""
    if text is None:
        return None
    raw, source = load_json_arg(text, "--risk")
    return RiskConfig.from_dict(raw, source=source)


def _cmd_run(args: argparse.Namespace) -> int:
    if args.window is not None:
        store.parse_window(args.window)  # up front: an empty or reversed window is one line naming --window
    if args.strategy in AGENTS:
        if args.model is None:
            raise InputError(f"{args.strategy} needs --model DIR (a folder written by `alpha-as train`)")
        if args.params is not None:
            raise InputError(f"--params does not apply to {args.strategy}: its AS parameters come from the model")
        if args.risk is not None:
            raise InputError(f"--risk does not apply to {args.strategy}: its engine settings come from the model (a "
                             "protocol's [risk] table reaches the agents it trains and tests)")
        from alpha_as.agents.cli import run_agent

        args.agent = args.strategy
        return run_agent(args)
    if args.strategy == "ppo":
        if args.params is not None:
            raise InputError("--params does not apply to ppo: its AS parameters come from the model")
        from alpha_as.agents.ppo_cli import run_ppo

        return run_ppo(args)
    if args.model is not None:
        raise InputError(f"--model applies to the agents (alpha-as-1, alpha-as-2 and their -sound variants) only, not {args.strategy}")
    if args.window is None:
        args.window = DEFAULT_WINDOW
    if args.strategy == "constant":
        if args.action is None:
            raise InputError(f"constant needs --action K (0..{N_ACTIONS - 1})")
        if not 0 <= args.action < N_ACTIONS:
            raise InputError(f"--action must be in 0..{N_ACTIONS - 1}, got {args.action}")
    elif args.action is not None:
        raise InputError(f"--action applies to constant only, not {args.strategy}")
    if args.strategy in POLICIES and args.params is None:
        raise InputError(f"{args.strategy} needs --params: Gen-AS's parameters (its best.json, or a JSON object)")
    day_date = store.parse_date(args.day)
    params, pg = load_params(ASParams if args.strategy in POLICIES else STRATEGIES[args.strategy], args.params,
                             args.window if args.trading_hours == "window" else None)
    if pg is not None and args.strategy in POLICIES:
        raise InputError(f"risk aversion \"policy_gradient\" applies to as and hummingbot-as, not {args.strategy}")
    if args.policy_state is not None and pg is None:
        raise InputError("--policy-state needs --params with risk_aversion (or risk_factor) \"policy_gradient\"")
    chain = None
    if args.chain is not None:
        raw, source = load_json_arg(args.chain, "--chain")
        chain = ChainConfig.from_dict(raw, source=source)
    config = EngineConfig(fill_model=args.fill, latency_ms=args.latency_ms, maker_fee=args.maker_fee,
                          taker_fee=args.taker_fee, lot_matching=args.lot_matching, chain=chain,
                          risk=load_risk(args.risk))
    require_sessions(args.data, args.instrument, [(day_date, args.window)], trust=args.trust_data)
    day = store.load_window_day(args.data, args.instrument, day_date, args.window)
    seed = args.seed if args.seed is not None else 0
    extra = {"seed": seed, "window": args.window, "data": str(args.data)}
    if args.strategy in POLICIES:
        from alpha_as.agents import reference

        if args.strategy == "random":
            run = reference.run_random(day, params, seed, engine=config, map_over=args.map_over)
        else:
            run = reference.run_constant(day, params, args.action, engine=config, map_over=args.map_over)
            extra["action"] = args.action
        result = run.result
        reference.write_day(run, args.out, extra={**extra, "kind": args.strategy})
    elif pg is not None:
        from alpha_as.agents import policy_gradient as PG

        state = PG.load_state(args.policy_state) if args.policy_state is not None else None
        run = PG.run_day(day, params, pg, seed=seed, state=state, engine=config, map_over=args.map_over)
        result = run.result
        PG.write_day(run, args.out, extra={**extra, "kind": f"{args.strategy} (policy_gradient)",
                                           "continued_from": None if args.policy_state is None
                                           else str(args.policy_state)})
    else:
        result = Backtest(day, params, config).run(map_over=args.map_over)
        result.write(args.out, extra=extra)
    print(f"{args.strategy} {args.instrument} {day_date}: {result.summary()}")
    return 0
