"""``alpha-as train MODEL``, ``alpha-as run-agent MODEL`` (spec §6.6) and ``alpha-as diagnose MODEL_DIR``.

MODEL is ``alpha-as-1`` / ``alpha-as-2`` (the paper's) or ``alpha-as-1-sound`` / ``alpha-as-2-sound`` (the
repaired learner on the same networks, ``agents.config.SOUND``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from alpha_as.agents.config import MODEL_AGENTS, TIMINGS, AlphaASConfig, model_agent
from alpha_as.atomic import check_out_dir
from alpha_as.configs import finite_float, from_dict
from alpha_as.data import store
from alpha_as.data.validate import add_trust_argument, require_sessions
from alpha_as.errors import InputError
from alpha_as.jsonsafe import plain
from alpha_as.strategies.avellaneda_stoikov import ASParams


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    tr = sub.add_parser(
        "train", help="train an Alpha-AS agent on the training day (10 iterations x 5 runs, resumable)",
        description="Alpha-AS training protocol: iterations x runs of the training day with eps = 1 - i/iterations, "
        "memories merged and the network fitted after each iteration; checkpoints in --out after every "
        "iteration (rerunning the same command resumes).",
    )
    tr.add_argument("agent", choices=[*sorted(MODEL_AGENTS), "ppo"],
                    help="alpha-as-1: feed-forward DQN; alpha-as-2: LSTM DQN; -sound: the repaired learner (not the "
                    "paper's); ppo: stable-baselines3's PPO, actions (gamma, skew) or (bid depth, ask depth, size), "
                    "one env per --day")
    tr.add_argument("--data", required=True, type=Path, help="store root")
    tr.add_argument("--instrument", required=True)
    tr.add_argument("--day", "--days", dest="day", required=True,
                    help="training day, YYYY-MM-DD (ppo: one or more, comma-separated; --days is the same)")
    tr.add_argument("--genas", required=True, type=Path, help="Gen-AS output folder holding best.json")
    tr.add_argument("--out", required=True, type=Path, help="model folder (created; resumed if it holds a model)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--iterations", type=_positive, default=10)
    tr.add_argument("--runs", type=_positive, default=5)
    tr.add_argument("--workers", type=_positive, default=1, help="worker processes per iteration (default 1)")
    tr.add_argument("--preset", choices=("default", "notebook"), help="DQN hyper-parameters of the paper's models "
                    "(default: default); the -sound models have their own")
    tr.add_argument("--epochs", type=_positive, help="override the preset's max epochs per fit")
    tr.add_argument("--features", type=Path, help="JSON from `alpha-as features` ({\"features\": [...]}); "
                    "default: the paper's 22 market features")
    tr.add_argument("--window", default="07:00-19:00", help="UTC window of the day (default 07:00-19:00)")
    tr.add_argument("--q-target", choices=("double", "authors"), default="double",
                    help="textbook double-DQN targets (default) or the authors' blended tabular rule")
    tr.add_argument("--timing", choices=TIMINGS, default="grid",
                    help="decisions every 5 s on a clock grid (default) or the authors' (>= 6 s, then the next snapshot)")
    tr.add_argument("--timesteps", type=_positive, help="ppo: environment steps of training (default 100000)")
    tr.add_argument("--chain", metavar="JSON", help="ppo: train on a chain (a JSON file or object of [engine.chain] "
                    "settings, alpha_as.engine.chain): the reward is then net of gas")
    tr.add_argument("--ppo-config", metavar="JSON", help="ppo: a JSON file or object of PPOConfig fields "
                    "(reward, inventory_penalty, n_steps, learning_rate, net_arch, checkpoint_every, ...)")
    add_trust_argument(tr)
    tr.set_defaults(func=_cmd_train)

    ra = sub.add_parser(
        "run-agent", help="run a trained Alpha-AS agent on one day (test protocol, learning by default)",
        description="Replay one day with a trained Alpha-AS model (eps = 0.2); write fills.parquet, grid.parquet "
        "(with action, risk_aversion, skew) and metrics.json to --out. With --learn (default) the model in "
        "--model is updated and checkpointed.",
    )
    ra.add_argument("agent", choices=sorted(MODEL_AGENTS))
    ra.add_argument("--model", required=True, type=Path, help="model folder written by alpha-as train")
    ra.add_argument("--data", required=True, type=Path)
    ra.add_argument("--instrument", required=True)
    ra.add_argument("--day", required=True, help="YYYY-MM-DD")
    ra.add_argument("--out", required=True, type=Path)
    ra.add_argument("--learn", action=argparse.BooleanOptionalAction, default=True,
                    help="keep learning and update the model (default) or only act")
    ra.add_argument("--seed", type=int, help="reseed the agent's exploration RNG (default: continue the model's)")
    add_trust_argument(ra)
    ra.set_defaults(func=run_agent)

    dg = sub.add_parser(
        "diagnose", help="does a trained agent learn? Q vs returns, greedy actions, saturation, input drift",
        description="Print a trained model's learning diagnostics (its fits, Q vs Monte-Carlo returns after "
        "training and on each test day, greedy-action entropy, input drift), then play --day frozen (no "
        "learning, the model is not changed) and measure the same figures on it.",
    )
    dg.add_argument("model", type=Path, help="model folder (alpha-as train, or models/<agent>/seed=<s>/ of replicate)")
    dg.add_argument("--data", required=True, type=Path, help="store root")
    dg.add_argument("--instrument", required=True)
    dg.add_argument("--day", required=True, help="YYYY-MM-DD")
    dg.add_argument("--epsilon", type=finite_float, default=0.0, help="exploration while playing the day (default 0: greedy)")
    dg.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    add_trust_argument(dg)
    dg.set_defaults(func=_cmd_diagnose)


def read_features(path: Path) -> tuple[str, ...]:
    """The feature names of a feature-selection output (``alpha-as features``); one line if it is unreadable."""
    from alpha_as.agents.features_cli import read_features_file

    return read_features_file(path)


def read_genas(folder: Path) -> ASParams:
    """The AS parameters of a Gen-AS output folder's best.json; one line if it is missing or truncated."""
    from alpha_as.tuning.genas import read_best_params

    path = folder / "best.json"
    return from_dict(ASParams, read_best_params(path, strategy="as"), source=str(path))


def _cmd_train(args: argparse.Namespace) -> int:
    if args.agent == "ppo":
        from alpha_as.agents.ppo_cli import train_ppo

        return train_ppo(args)
    if args.timesteps is not None or args.ppo_config is not None or args.chain is not None:
        raise InputError(f"--timesteps, --ppo-config and --chain apply to ppo, not {args.agent}")
    # torch is loaded by the commands that need it, not when the CLI starts
    from alpha_as.agents.alpha_as import AlphaAS

    date = store.parse_date(args.day)
    store.parse_window(args.window)
    require_sessions(args.data, args.instrument, [(date, args.window)], trust=args.trust_data)
    genas = read_genas(args.genas)
    check_out_dir(args.out)
    kw = {"features": read_features(args.features)} if args.features else {}
    agent, over = model_agent(args.agent)
    if over and args.preset is not None:
        raise InputError(f"--preset applies to the paper's models, not {args.agent} (which uses preset 'sound')")
    kw.update({"preset": args.preset or "default", "q_target": args.q_target, **over})
    cfg = AlphaASConfig(agent=agent, epochs=args.epochs, iterations=args.iterations, runs=args.runs,
                        workers=args.workers, seed=args.seed, window=args.window, timing=args.timing, **kw)
    if AlphaAS.exists(args.out):
        model = AlphaAS.load(args.out)
        if model.config.to_dict() != {**cfg.to_dict(), "workers": model.config.workers}:
            raise InputError(f"{args.out} holds a model with another config; use a new --out")
        model.config = cfg  # only the worker count may differ
        print(f"resuming {args.out} after {model.iterations_done} of {cfg.iterations} iterations")
    else:
        model = AlphaAS(args.out, cfg, genas)
    model.train(args.data, args.instrument, args.day, log=print)
    print(f"{args.agent} trained on {args.instrument} {args.day}: {model.iterations_done} iterations, "
          f"memory {len(model.agent.memory)} rows -> {args.out}")
    return 0


def run_agent(args: argparse.Namespace) -> int:
    """Run a trained agent on one day (``alpha-as run-agent`` and ``alpha-as run alpha-as-1|2``)."""
    from alpha_as.agents.alpha_as import AlphaAS, load_market_day, write_day

    date = store.parse_date(args.day)
    if not AlphaAS.exists(args.model):
        raise InputError(f"no Alpha-AS model in {args.model} (expected alpha_as.json)")
    model = AlphaAS.load(args.model)
    agent, over = model_agent(args.agent)
    if model.config.agent != agent or (model.config.preset == "sound") != bool(over):
        raise InputError(f"{args.model} holds a {model_name(model.config)} model, not {args.agent}")
    window = getattr(args, "window", None)
    if window is not None and window != model.config.window:
        raise InputError(f"--window {window}: {args.agent} replays the window its model was trained in "
                         f"({model.config.window}); leave --window out")
    require_sessions(args.data, args.instrument, [(date, model.config.window)], trust=getattr(args, "trust_data", False))
    check_out_dir(args.out)
    day = load_market_day(args.data, args.instrument, date, model.config.window)
    run = model.test_day(day, learn=args.learn, seed=args.seed)
    extra = {"seed": args.seed, "window": model.config.window, "data": str(args.data), "agent": args.agent,
             "model": str(args.model), "learn": args.learn, "target_copies": run.target_copies,
             "memory_rows": len(model.agent.memory)}
    write_day(run, args.out, extra)
    print(f"{args.agent} {args.instrument} {date}: {run.result.summary()}")
    return 0


def model_name(cfg: AlphaASConfig) -> str:
    """The model name of a config: the agent, with ``-sound`` for the repaired learner."""
    return f"{cfg.agent}-sound" if cfg.preset == "sound" else cfg.agent


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from alpha_as.agents import diagnostics as diag
    from alpha_as.agents.alpha_as import AlphaAS, LearnerOptions, load_market_day, run_day
    from alpha_as.agents.features import PRIVATE_FEATURES

    if not 0.0 <= args.epsilon <= 1.0:
        raise InputError(f"--epsilon must be in [0, 1], got {args.epsilon}")
    date = store.parse_date(args.day)
    if not AlphaAS.exists(args.model):
        raise InputError(f"no Alpha-AS model in {args.model} (expected alpha_as.json)")
    model = AlphaAS.load(args.model)
    if model.normalizer is None:
        raise InputError(f"{args.model}: the model is not trained yet (no normaliser)")
    cfg = model.config
    require_sessions(args.data, args.instrument, [(date, cfg.window)], trust=args.trust_data)
    day = load_market_day(args.data, args.instrument, date, cfg.window)
    run, _ = run_day(model.agent, day, model.genas, cfg.features, model.normalizer, args.epsilon, learn=False,
                     decision_seconds=cfg.decision_seconds, engine=cfg.engine_config(), timing=cfg.timing,
                     map_over=cfg.map_over, options=LearnerOptions.of(cfg, model.reward_scale),
                     decision_loop=cfg.decision_loop)
    names = list(cfg.features) + list(PRIVATE_FEATURES)
    played = plain(diag.day_diagnostics(model.agent, run, names, f"{date} (frozen, eps {args.epsilon:g})"))
    played["target_online_gap"] = plain(model.agent.target_online_gap(run.states))
    m = run.result.metrics
    played["metrics"] = plain(m.to_dict())
    doc = {**model.diagnostics_doc(), "played": played}
    if args.json:
        print(json.dumps(doc, indent=1))
        return 0
    print(f"{model_name(cfg)} seed {cfg.seed} ({args.model}): {model.iterations_done} training iterations, "
          f"{len(model.test_days)} test sessions, memory {len(model.agent.memory)} rows, output {model.agent.cfg.output_activation}")
    for line in diag.summary_lines(model.diagnostics_doc()):
        print("  " + line)
    check = played.pop("check")
    print(f"played {played['session']}: {run.result.summary()}")
    for line in diag.summary_lines({"days": [played], "checks": [{**check, "phase": "played", "session": str(date)}]}):
        print("  " + line)
    gap = played["target_online_gap"]
    print(f"  target-online gap on the day's states: {'n/a' if gap is None else f'{gap:.4g}'}")
    return 0
