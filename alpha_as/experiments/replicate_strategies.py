"""The strategy models of ``alpha-as replicate`` (issue #13 §4, beyond the paper): Hummingbot's AS and GLFT
(:mod:`alpha_as.strategies.registry`) beside the paper's models, with default parameters (``hummingbot-as``,
``glft``: the registry's params class with ``[strategies.<name>]``) and GA-tuned (``hummingbot-as-tuned``,
``glft-tuned``). Where they write (under the protocol's ``out``)::

    genas-<strategy>/seed=<s>/   best.json, history.parquet, config.json, manifest.json: the GA of a -tuned
                                 model on the training session (the genas stage, after Gen-AS's GA)
    runs/<model>/<session>/seed=<s>/   every strategy model on every test session and seed (the baselines stage,
                                 in the pool of the baselines and Gen-AS)

A strategy's GA is :meth:`~alpha_as.experiments.protocol.Protocol.strategy_ga_config` (``[genas]``'s settings,
``strategy = <name>``, the registry's gene table, ``[strategies.<name>]`` as base params); its folder is verified on
resume as Gen-AS's is (:func:`~alpha_as.experiments.replicate.stage_item_state`: the recorded config and the sha256
of its files), so a changed setting or file redoes that seed's GA. Gen-AS's own GA (``genas/seed=<s>/``) is not
touched. The strategies have no trading hours (:meth:`Protocol.hours` is ``{}`` for them): their params are
passed as they are, and the session's window limits the replay. Their runs are deterministic; they are made per
seed like the baselines' (a -tuned model's parameters differ per seed, its GA being seeded).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alpha_as.experiments import runner
from alpha_as.experiments.config import KINDS, canonical
from alpha_as.experiments.protocol import STRATEGIES, STRATEGY_MODELS, Protocol, Session
from alpha_as.experiments.replicate import (
    SessionFiles,
    _rerun,
    ga_item_config,
    make_job,
    run_ga_item,
    runs_root,
)

STRATEGY_GENAS_DIRS = tuple(f"genas-{s}" for s in STRATEGIES)
"""The GA folders of the strategies under the out folder (removed by ``--force``)."""


def strategy_genas_dir(p: Protocol, strategy: str, seed: int) -> Path:
    """``<out>/genas-<strategy>/seed=<seed>``."""
    return p.out / f"genas-{strategy}" / f"seed={seed}"


def strategy_genas_config(p: Protocol, strategy: str, seed: int) -> dict:
    """What a strategy's GA result depends on (not the number of workers), recorded in its manifest."""
    return ga_item_config(p, p.strategy_ga_config(strategy, seed))


def stage_strategy_genas(p: Protocol, echo: Callable[[str], None], progress: bool = True) -> str:
    """The GA of every -tuned strategy and seed that is not finished (or whose folder changed); "ran" or
    "skipped"."""
    status = "skipped"
    for strategy in p.tuned_strategies:
        for seed in p.seeds:
            if run_ga_item(p, strategy_genas_dir(p, strategy, seed), p.strategy_ga_config(strategy, seed),
                           f"{strategy} seed {seed}", echo, progress):
                status = "ran"
    return status


def tuned_params(p: Protocol, strategy: str, seed: int) -> dict:
    """The params of a -tuned model: its GA's best.json (one line naming the file when it is missing or bad)."""
    from alpha_as.tuning.genas import read_best_params

    return read_best_params(strategy_genas_dir(p, strategy, seed) / "best.json", remedy=_rerun("genas"),
                            strategy=strategy)


def strategy_model_params(p: Protocol, model: str, seed: int) -> dict:
    """The canonical params a strategy model runs with on ``seed``: the GA's best for a -tuned model, else the
    registry's defaults with ``[strategies.<name>]``."""
    strategy = STRATEGY_MODELS[model]
    if model.endswith("-tuned"):
        return canonical(KINDS[strategy](**tuned_params(p, strategy, seed)))
    return p.strategy_params(strategy)


def strategy_job(p: Protocol, files: SessionFiles, model: str, s: Session, seed: int,
                 params: dict) -> runner.Job:
    """The runner job of a strategy model on session ``s`` (in :func:`~alpha_as.experiments.replicate.baseline_jobs`):
    kind = its registered strategy, ``params`` as given (no trading hours)."""
    return make_job(p, files, model, STRATEGY_MODELS[model], params, s, seed,
                    runs_root(p) / model / s.label / f"seed={seed}")
