"""The ``ppo`` model of ``alpha-as replicate`` (issue #14 §2, beyond the paper): PPO (:mod:`alpha_as.agents.ppo`)
trained per seed on the training session, on that seed's Gen-AS parameters in the session's trading hours, with
``[ppo]``'s settings; then played with its deterministic actions on every test session (no learning at test time,
unlike the Alpha-AS agents). Part of the agents stage, after the Alpha-AS chains. Where it writes::

    models/ppo/seed=<s>/            model.zip, vecnormalize.pkl, config.json, curve.json, monitor/, checkpoints/,
                                    manifest.json (the training config and the sha256 of every file, written last)
    runs/ppo/<session>/seed=<s>/    each test session, a runner job whose config holds the sha256 of the policy
                                    and its normaliser (a retrained agent replays its sessions)

A seed's training is verified on resume as the GA's is (:func:`~alpha_as.experiments.replicate.stage_item_state`):
a changed setting, Gen-AS result or file retrains it from scratch (seeded: the same model). Trainings run in
worker processes, one per seed (at most ``workers`` at once), each on one torch thread.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

from alpha_as.experiments import runner
from alpha_as.experiments.config import canonical
from alpha_as.experiments.protocol import Protocol
from alpha_as.experiments.replicate import (
    SessionFiles,
    genas_params,
    make_job,
    run_jobs,
    runs_root,
    stage_item_state,
    write_stage_manifest,
)

MODEL = "ppo"


def ppo_dir(p: Protocol, seed: int) -> Path:
    """``<out>/models/ppo/seed=<seed>``."""
    return p.out / "models" / MODEL / f"seed={seed}"


def ppo_train_config(p: Protocol, seed: int) -> dict:
    """What a seed's trained agent depends on, recorded in its manifest."""
    return {"data": str(p.data), "instrument": p.instrument, "session": p.train.to_dict(),
            "base_params": p.session_params(MODEL, p.train, genas_params(p, seed)), "engine": canonical(p.engine),
            "ppo": p.ppo_config(seed).to_dict()}


def train_job(spec: dict) -> None:
    """Train one seed's agent into ``spec["out"]`` (in a worker process)."""
    from alpha_as.agents import ppo
    from alpha_as.data import store
    from alpha_as.engine.config import EngineConfig
    from alpha_as.strategies.avellaneda_stoikov import ASParams

    c = spec["config"]
    day = store.load_window_day(c["data"], c["instrument"], store.parse_date(c["session"]["date"]),
                                c["session"]["window"])
    ppo.train([day], ASParams(**c["base_params"]), ppo.PPOConfig.from_dict(c["ppo"]), spec["out"],
              engine=EngineConfig(**c["engine"]), progress=False)


def stage_ppo_train(p: Protocol, echo: Callable[[str], None]) -> str:
    """Train every seed whose agent is missing or changed; "ran" or "skipped"."""
    todo = []
    for seed in p.seeds:
        folder, config = ppo_dir(p, seed), ppo_train_config(p, seed)
        why = stage_item_state(folder, "model.zip", config)
        if not why:
            continue
        if why != "new":
            echo(f"ppo seed {seed}: retraining: {why}")
        shutil.rmtree(folder, ignore_errors=True)  # checkpoints and monitor files of the earlier training
        todo.append({"seed": seed, "out": str(folder), "config": config})
    if not todo:
        return "skipped"
    steps = p.ppo_config(0).total_timesteps
    echo(f"training ppo on {p.train.label}: {len(todo)} seed(s) x {steps:,} steps")
    ex = p.executor_of()
    if ex.kind == "local":  # in worker processes, one per seed at most
        ex = dataclasses.replace(ex, workers=max(1, min(p.workers, len(todo))))
    # each seed's manifest as its training finishes (the folder was emptied above)
    ex.run(train_job, todo, lambda spec, _: write_stage_manifest(Path(spec["out"]), spec["config"]), inline=False)
    return "ran"


def ppo_jobs(p: Protocol) -> list[runner.Job]:
    """One runner job per (test session, seed): kind ``ppo`` on the session's Gen-AS parameters, with the agent's
    folder and the sha256 of its policy and normaliser in the hashed config."""
    files = SessionFiles(p)
    hashes = {seed: runner.ppo_hashes(ppo_dir(p, seed)) for seed in p.seeds}  # each model's files hashed once
    jobs = []
    for s in p.test:
        for seed in p.seeds:
            job = make_job(p, files, MODEL, MODEL, genas_params(p, seed), s, seed,
                           runs_root(p) / MODEL / s.label / f"seed={seed}")
            config = {**job.config, "ppo_model": str(ppo_dir(p, seed)), "ppo_model_sha256": hashes[seed]}
            jobs.append(dataclasses.replace(job, config=config, config_hash=runner.hash_config(config)))
    return jobs


def stage_ppo(p: Protocol, echo: Callable[[str], None], progress: bool) -> str:
    """Train (what is not trained) and play the test sessions (what is not played); "ran" or "skipped"."""
    if MODEL not in p.models:
        return "skipped"
    trained = stage_ppo_train(p, echo)
    played = run_jobs(p, ppo_jobs(p), "PPO test sessions", progress, echo)
    return "ran" if trained == "ran" or played else "skipped"
