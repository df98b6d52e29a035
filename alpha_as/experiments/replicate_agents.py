"""The agents stage of ``alpha-as replicate`` (:mod:`alpha_as.experiments.replicate`): each Alpha-AS chain (a paper
agent or a -sound variant, one seed) trains on the training session and then plays the test sessions in order
with learning carried from session to session, in its own process, resuming from its checkpoints.

Where it writes: ``models/<model>/seed=<s>/`` (checkpoints; an unreadable one falls back to the previous one)
and ``runs/<model>/<session>/seed=<s>/`` (each session's folder, with a manifest of its files' sha256, committed
before the checkpoint that counts it, so a kill in between replays that session identically). A counted
session whose files changed, or a checkpoint made with another config, stops the stage with one line saying how
to redo the chain (:func:`check_agent`).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from alpha_as.atomic import MANIFEST, WriteError, check_outputs, hash_outputs
from alpha_as.engine.backtest import write_json_atomic
from alpha_as.errors import InputError
from alpha_as.experiments import runner
from alpha_as.experiments.protocol import Protocol
from alpha_as.experiments.replicate import genas_params, plain_json, runs_root, selected_features
from alpha_as.experiments.resources import cap_mmap_threshold, release_memory


def model_dir(p: Protocol, model: str, seed: int) -> Path:
    return p.out / "models" / model / f"seed={seed}"


def agent_spec(p: Protocol, model: str, seed: int) -> dict:
    """One agent chain (a paper agent or a -sound variant, one seed): its config and where it writes."""
    cfg = p.agent_config(model, seed, selected_features(p, seed))
    return {"agent": model, "seed": seed, "config": cfg.to_dict(),
            "genas": p.session_params(model, p.train, genas_params(p, seed)), "data": str(p.data),
            "instrument": p.instrument, "train": p.train.date.isoformat(),
            "test": [{**s.to_dict(), "hours": p.hours(model, s)} for s in p.test], "model": str(model_dir(p, model, seed)),
            "runs": str(runs_root(p) / model)}


def agent_progress(spec: dict) -> int:
    """Steps done (training iterations + test sessions) according to the model's checkpoint."""
    path = Path(spec["model"]) / "alpha_as.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    return int(doc.get("iterations_done", 0)) + len(doc.get("test_days", []))


def agent_job(spec: dict) -> dict:
    """Train one agent (resuming) and play the test sessions in order (resuming); runs in a worker process."""

    import pyarrow as pa
    import torch

    from alpha_as.agents import alpha_as as agents
    from alpha_as.agents.alpha_as import AlphaAS, AlphaASConfig, load_market_day, write_day
    from alpha_as.strategies.avellaneda_stoikov import ASParams

    torch.set_num_threads(1)
    pa.set_memory_pool(pa.system_memory_pool())  # hands freed buffers back to the OS: two of these run at once
    cap_mmap_threshold()  # the fits' large tensors in their own mappings, not a heap that only grows (1-3 % slower)
    folder = Path(spec["model"])
    if AlphaAS.exists(folder):
        model = AlphaAS.load(folder)
    else:
        model = AlphaAS(folder, AlphaASConfig.from_dict(spec["config"]), ASParams.from_dict(spec["genas"]))
    model.train(spec["data"], spec["instrument"], spec["train"])
    agents._DAY_CACHE.clear()  # the training day is not needed any more
    release_memory()
    runs = Path(spec["runs"])
    for k, s in enumerate(spec["test"]):
        key = f"{s['date']} {s['window']}"
        if k < len(model.test_days):
            if model.test_days[k] != key:
                raise InputError(f"{folder}: checkpoint has test session {model.test_days[k]!r} where the protocol "
                                 f"has {key!r}; rerun with --force")
            continue
        day = load_market_day(spec["data"], spec["instrument"], s["date"], s["window"])
        base = model.genas
        if s.get("hours"):  # trading_hours = "window": AS quotes in this session's window (not saved with the model)
            model.genas = dataclasses.replace(base, **s["hours"])
        try:
            run = model.test_day(day, learn=True, save=False, session=key)
        finally:
            model.genas = base
        final = runs / s["label"] / f"seed={spec['seed']}"
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f"{final.name}{runner.TMP_MARK}{spec['agent']}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            write_day(run, tmp, extra={"model": spec["agent"], "kind": spec["agent"], "seed": spec["seed"],
                                       "window": s["window"], "session": s["label"]})
            write_json_atomic({"format": runner.FORMAT, "job": {"model": spec["agent"], "seed": spec["seed"],
                                                                "session": key, "label": s["label"]},
                               "outputs": hash_outputs(tmp)}, tmp / MANIFEST)  # last, as the runner's manifests
        except WriteError as e:  # named by the final folder; the temp one goes with the next run's leftovers
            shutil.rmtree(tmp, ignore_errors=True)
            raise WriteError(e.errno, e.strerror, str(final / Path(e.filename or "").name)) from e
        runner.commit_folder(tmp, final)
        model.save()  # after the session's folder: a kill in between replays the session identically
        del day, run
        release_memory()
    return {"agent": spec["agent"], "seed": spec["seed"], "sessions": len(spec["test"])}


def agent_checkpoint_doc(folder: Path) -> dict | None:
    """The model's state file (alpha_as.json, or the previous one when it is unreadable), None without one."""
    from alpha_as.agents.alpha_as import STATE_FILE

    for name in (STATE_FILE, f"{STATE_FILE}.prev"):
        try:
            doc = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict):
            return doc
    return None


def check_agent(spec: dict) -> None:
    """An agent chain's finished part as its checkpoint counts it: the checkpoint's config and Gen-AS parameters
    are the protocol's, and each counted test session's folder is there with its files as written (manifest
    hashes; a folder written before the hashes were recorded: its files are there). Else one line saying how to
    redo it: a session cannot be redone alone, since the agent learns from one session to the next."""
    from alpha_as.agents.config import AlphaASConfig
    from alpha_as.strategies.avellaneda_stoikov import ASParams

    folder = Path(spec["model"])
    doc = agent_checkpoint_doc(folder)
    if doc is None:
        return  # nothing finished (or nothing readable: loading the model says so)
    redo = f"delete {folder} to retrain {spec['agent']} (seed {spec['seed']}) and replay its test sessions"
    try:
        same = (plain_json(AlphaASConfig.from_dict(doc["config"]).to_dict()) == plain_json(spec["config"])
                and plain_json(ASParams.from_dict(doc["genas"]).to_dict())
                == plain_json(ASParams.from_dict(spec["genas"]).to_dict()))
    except (InputError, KeyError, TypeError, ValueError):
        same = False
    if not same:
        raise InputError(f"{folder}: the checkpoint was made with another agent config or other Gen-AS parameters "
                         f"than this protocol's; {redo}")
    for s in spec["test"][:len(doc.get("test_days") or [])]:
        final = Path(spec["runs"]) / s["label"] / f"seed={spec['seed']}"
        m = runner.read_manifest(final)
        if not final.is_dir():
            why = "is missing"
        elif m is not None and isinstance(m.get("outputs"), dict):
            why = check_outputs(final, m["outputs"])
        else:  # written before the hashes were recorded
            why = next((f"{n} is missing" for n in runner.OUTPUTS["all"] if not (final / n).is_file()), "")
        if why:
            raise InputError(f"{final}: {why}; an agent's test session cannot be redone alone (the agent learns from "
                             f"one session to the next): restore it, or {redo} (the same results)")


def stage_agents(p: Protocol, echo: Callable[[str], None], progress: bool) -> str:
    from alpha_as.progress import progress_bar

    specs = [agent_spec(p, a, s) for a in p.agents_run for s in p.seeds]
    for spec in specs:
        check_agent(spec)
    # longest chains first (LSTM before feed-forward, sound before paper): the pool then finishes sooner; each chain
    # is independent of the others, so the order changes no result
    specs.sort(key=lambda s: (s["config"]["agent"] != "alpha-as-2", s["config"]["preset"] != "sound"))
    if not specs:
        return "skipped"
    total = sum(int(s["config"]["iterations"]) + len(p.test) for s in specs)
    before = sum(agent_progress(s) for s in specs)
    if before == total:
        return "skipped"
    ex = p.executor_of()
    if ex.kind == "local":  # one process per chain at most; never this one (its memory is returned when it ends)
        ex = dataclasses.replace(ex, workers=max(1, min(p.workers, len(specs))))
    iters = sorted({int(s["config"]["iterations"]) for s in specs})
    echo(f"training and testing {len(specs)} agent model(s) ({', '.join(p.agents_run)} x {len(p.seeds)} seed(s)) "
         f"on the {ex.kind} executor {ex.describe(inline=False)}: {'/'.join(map(str, iters))} training iterations + "
         f"{len(p.test)} test sessions each")
    with progress_bar(total, "Alpha-AS train + test", "step", initial=before, enabled=progress) as bar:

        def tick() -> None:  # progress read from the chains' checkpoints
            n = sum(agent_progress(s) for s in specs)
            if n != bar.n:
                bar.update(n - bar.n)

        ex.run(agent_job, specs, lambda spec, res: None, tick=tick, inline=False)  # a chain's error stops the stage
    return "ran"
