"""``alpha-as replicate``: the paper's whole protocol, stage by stage, resumable, then the report.

Stages and where each writes (under the protocol's ``out``)::

    data       the store (synthetic days generated when missing and allowed)
    features   features/seed=<s>/features.json         random-forest selection on the FI session
    genas      genas/seed=<s>/best.json, history.parquet   the GA on the training session
    baselines  runs/<foic|liic|gen-as>/<session>/seed=<s>/ the non-agent models on the test sessions
    references runs/<random|constant-train|constant-oracle>/<session>/seed=<s>/   the reference policies
               references/seed=<s>/constant_train.json, references/constant_oracle.json   their selections
    agents     models/<model>/seed=<s>/ (checkpoints)      Alpha-AS training (paper agents and -sound variants),
               runs/<model>/<session>/seed=<s>/            then the test sessions in order, with learning
                                                           carried from session to session
    report     report.md, claims.json, tables/, plots/

**References** (``alpha_as.agents.reference``; AS on the seed's Gen-AS parameters with the agents' 20 actions and
5-s clock): ``random`` = a uniform action every decision, seeded by the seed. ``constant-train`` = the constant
action with the highest GA fitness (per-fill Sharpe of realized P&L) on the training session, ties to the
lowest index — the 20 fitness values and the choice in ``references/seed=<s>/constant_train.json``.
``constant-oracle`` = the constant action with the highest mean Sharpe over the test sessions (hindsight), ties
to the lowest index — ``references/constant_oracle.json`` holds, per seed, the 20 × sessions Sharpe matrix,
the means and the choice. The selection runs keep only metrics.json and manifest.json (under
``references/train/`` and ``references/test/``); the chosen actions are then run again with every output into
``runs/constant-train`` and ``runs/constant-oracle``. A constant run is deterministic (it takes no seed), but
each seed has its own Gen-AS parameters (the GA is seeded), so the constant runs are made per seed; seed 0's
are those of a one-seed protocol.

Every stage skips what a previous run finished: a stage's output files are written atomically, the runs'
folders are committed by rename, the agents resume from their checkpoints (a session's folder is committed
before the checkpoint that counts it, so a kill in between replays that session from the previous
checkpoint, deterministically). ``protocol.json`` records what the results depend on; rerunning with a
changed protocol is refused (``--force`` starts over). ``timings.json`` holds each stage's wall time and the
peak memory.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from alpha_as.agents.actions import N_ACTIONS
from alpha_as.atomic import write_text_atomic
from alpha_as.data import paper, store
from alpha_as.engine.backtest import write_json_atomic
from alpha_as.errors import InputError
from alpha_as.experiments import runner
from alpha_as.experiments.config import canonical
from alpha_as.experiments.protocol import LABELS, ROLES, Protocol, Session
from alpha_as.experiments.resources import PeakRSS, release_memory

STAGES = ("data", "features", "genas", "baselines", "references", "agents", "report")
SYNTH_INSTRUMENT = "btcusdt_synth"


@dataclass
class Replication:
    """What a run did: stage timings (s), their status, and the peak memory."""

    out: Path
    seconds: dict[str, float] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    peak_process_rss_mb: float = 0.0
    total_seconds: float = 0.0
    earlier: dict[str, float] = field(default_factory=dict)
    """Stage times of earlier runs (from the previous timings.json), for the stages this run skips."""

    def table(self) -> str:
        rows = [f"{'stage':<10} {'status':<9} {'seconds':>8}  {'when it ran':>11}"]
        for s in self.seconds:
            ran = self.seconds[s] if self.status[s] == "ran" else self.earlier.get(s)
            rows.append(f"{s:<10} {self.status[s]:<9} {self.seconds[s]:>8.1f}  {'' if ran is None else f'{ran:.1f}':>11}")
        rows.append(f"{'total':<10} {'':<9} {self.total_seconds:>8.1f}")
        rows.append(f"peak RSS: {self.peak_rss_mb:.0f} MB (all processes), {self.peak_process_rss_mb:.0f} MB (largest)")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        """timings.json; ``last_ran_seconds`` keeps the time of the run that did a stage that this run skipped."""
        stages = {}
        for s in self.seconds:
            ran = self.seconds[s] if self.status[s] == "ran" else self.earlier.get(s)
            stages[s] = {"seconds": round(self.seconds[s], 3), "status": self.status[s],
                         "last_ran_seconds": None if ran is None else round(ran, 3)}
        return {"stages": stages,
                "total_seconds": round(self.total_seconds, 3), "peak_rss_mb": round(self.peak_rss_mb, 1),
                "peak_process_rss_mb": round(self.peak_process_rss_mb, 1)}


# ---------------------------------------------------------------------------------------------- stages


def stage_data(p: Protocol, echo: Callable[[str], None], progress: bool = True) -> str:
    """Make sure the store holds every session's day; generate missing synthetic days when allowed (with the
    protocol's market variant, under its instrument). A synthetic store made by another generator version or
    with other settings is regenerated (see :func:`alpha_as.data.synthetic.generate_market`), never mixed."""
    days = sorted({s.date for s in p.sessions()})
    missing = [d for d in days if not all(store.partition_path(p.data, k, p.instrument, d).is_file()
                                          for k in (store.DEPTH, store.TRADE))]
    if not p.synthetic:
        if not missing:
            return "skipped"
        d = missing[0]
        kind = store.DEPTH if not store.partition_path(p.data, store.DEPTH, p.instrument, d).is_file() else store.TRADE
        raise InputError(f"day {d} is not in the store: {store.partition_path(p.data, kind, p.instrument, d)} is "
                         f"missing (import your data with `alpha-as data import`, or set synthetic = true)")
    off = [d for d in days if d not in {pd.date for pd in paper.PAPER_DAYS}]
    if off:
        raise InputError(f"{p.path}: the synthetic market only has the paper's days; {off[0]} is not one")
    from alpha_as.data.synthetic import generate_market

    rep = generate_market(p.data, instrument=p.instrument, start=days[0], end=days[-1], workers=p.workers,
                          progress=progress, options=p.synth)  # p.instrument names the variant
    if all(d.skipped for d in rep.days):
        return "skipped"
    echo(rep.summary())
    return "ran"


def features_file(p: Protocol, seed: int) -> Path:
    return p.out / "features" / f"seed={seed}" / "features.json"


def stage_features(p: Protocol, echo: Callable[[str], None]) -> str:
    from alpha_as.agents.features_cli import run_selection

    if not p.features.enabled or not p.agents_run:
        return "skipped"
    status = "skipped"
    for seed in p.seeds:
        path = features_file(p, seed)
        if path.is_file():
            continue
        f = p.features
        # in a child process: the forest's memory (and scikit-learn's) is returned when it ends
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=runner._worker_init,
                                 initargs=(os.getpid(),)) as pool:
            doc = pool.submit(run_selection, p.data, p.instrument, p.fi.date.isoformat(), horizon_s=f.horizon_s,
                              seed=seed, window=p.fi.window, max_rows=f.max_rows, n_estimators=f.n_estimators,
                              max_depth=f.max_depth).result()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(json.loads(json.dumps(doc)), path)
        echo(f"seed {seed}: {len(doc['features'])} features selected on {p.fi.label}: {', '.join(doc['features'])}")
        status = "ran"
    return status


def selected_features(p: Protocol, seed: int) -> list[str]:
    from alpha_as.agents.features import DEFAULT_FEATURES

    if not p.features.enabled:
        return list(DEFAULT_FEATURES)
    return list(json.loads(features_file(p, seed).read_text())["features"])


def genas_dir(p: Protocol, seed: int) -> Path:
    return p.out / "genas" / f"seed={seed}"


def stage_genas(p: Protocol, echo: Callable[[str], None], progress: bool = True) -> str:
    from alpha_as.tuning.genas import tune

    if "gen-as" not in p.models:
        return "skipped"
    status = "skipped"
    for seed in p.seeds:
        out = genas_dir(p, seed)
        if (out / "best.json").is_file():
            continue
        res = tune(p.data, p.instrument, p.train.date.isoformat(), out, p.ga_config(seed), force=True,
                   progress=progress)
        echo(f"seed {seed}: {res.summary()}")
        status = "ran"
    return status


def genas_params(p: Protocol, seed: int) -> dict:
    return json.loads((genas_dir(p, seed) / "best.json").read_text())["params"]


def runs_root(p: Protocol) -> Path:
    return p.out / "runs"


class SessionFiles:
    """A session's data files and their hashes, each file hashed once per stage."""

    def __init__(self, p: Protocol) -> None:
        self.p = p
        self._cache: dict[object, tuple[dict, dict]] = {}

    def __call__(self, s: Session) -> tuple[dict, dict]:
        if s.date not in self._cache:
            files = {k: store.partition_path(self.p.data, k, self.p.instrument, s.date) for k in (store.DEPTH, store.TRADE)}
            self._cache[s.date] = ({k: str(f) for k, f in files.items()},
                                   {k: runner.sha256_file(f) for k, f in files.items()})
        return self._cache[s.date]


def make_job(p: Protocol, files: SessionFiles, model: str, kind: str, params: dict, s: Session, seed: int,
             folder: Path, *, action: int | None = None, keep: str = "all") -> runner.Job:
    """A runner job of the protocol (engine, instrument, P&L-to-MAP rule of the protocol; the session's window)."""
    config = runner.job_config(kind, params, canonical(p.engine), p.instrument, s.window, p.map_over,
                               s.date.isoformat(), seed, action=action, decision_seconds=p.decision_seconds)
    paths, hashes = files(s)
    return runner.Job(model, config, runner.hash_config(config), str(p.data), paths, hashes, str(folder), keep)


def baseline_jobs(p: Protocol) -> list[runner.Job]:
    """One runner job per (baseline or Gen-AS, test session, seed); Gen-AS takes the seed's GA parameters."""
    files = SessionFiles(p)
    jobs = []
    for s in p.test:
        for model in p.models:
            if ROLES[model] not in ("baseline", "reference"):
                continue
            for seed in p.seeds:
                params = genas_params(p, seed) if model == "gen-as" else canonical(p.baselines[model])
                jobs.append(make_job(p, files, model, model, params, s, seed,
                                     runs_root(p) / model / s.label / f"seed={seed}"))
    return jobs


def run_jobs(p: Protocol, jobs: list[runner.Job], desc: str, progress: bool) -> bool:
    """Run the unfinished jobs on the local pool (leftover temp folders of killed runs removed first); raise if any
    failed; True when something ran."""
    from tqdm import tqdm

    for root in {Path(j.folder).parents[2] for j in jobs}:
        if root.is_dir():
            runner.remove_leftovers(root)  # folders of runs in flight when a run was killed
    todo = [j for j in jobs if runner.job_state(j)[0] != "done"]
    if not todo:
        return False
    failed: list[str] = []
    with tqdm(total=len(todo), unit="run", desc=desc, file=sys.stderr, disable=not progress) as bar:

        def done(job: runner.Job, ok: bool, res: dict | str) -> None:
            if not ok:
                failed.append(f"{job.model} {job.folder}: {res}")
            bar.update(1)

        runner.execute_local(todo, p.workers, done)
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed, first: {failed[0]}")
    return True


def stage_baselines(p: Protocol, echo: Callable[[str], None], progress: bool) -> str:
    return "ran" if run_jobs(p, baseline_jobs(p), "baselines + Gen-AS", progress) else "skipped"


# ---------------------------------------------------------------------------------------- references


def references_dir(p: Protocol) -> Path:
    return p.out / "references"


def selection_jobs(p: Protocol, files: SessionFiles) -> tuple[dict, dict]:
    """The constant policies' selection runs (metrics only): {seed: [job per action]} on the training session,
    {seed: [[job per test session] per action]} on the test sessions; empty when the model is not run."""
    refs, root = p.references_run, references_dir(p)
    train: dict[int, list[runner.Job]] = {}
    test: dict[int, list[list[runner.Job]]] = {}
    for seed in p.seeds:
        params = genas_params(p, seed)
        if "constant-train" in refs:
            train[seed] = [make_job(p, files, f"constant-{a:02d}", "constant", params, p.train, seed,
                                    root / "train" / f"constant-{a:02d}" / p.train.label / f"seed={seed}",
                                    action=a, keep="metrics") for a in range(N_ACTIONS)]
        if "constant-oracle" in refs:
            test[seed] = [[make_job(p, files, f"constant-{a:02d}", "constant", params, s, seed,
                                    root / "test" / f"constant-{a:02d}" / s.label / f"seed={seed}",
                                    action=a, keep="metrics") for s in p.test] for a in range(N_ACTIONS)]
    return train, test


def _sharpe(job: runner.Job) -> float:
    state, _, manifest = runner.job_state(job)
    if state != "done":
        raise RuntimeError(f"selection run {job.folder} did not finish")
    return float(manifest["metrics"]["sharpe"])


def _write_if_changed(doc: dict, path: Path) -> None:
    """Write a selection table atomically unless it already holds ``doc`` (a rerun leaves it untouched)."""
    text = json.dumps(doc, indent=1) + "\n"
    if path.is_file() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(text, path)


def stage_references(p: Protocol, echo: Callable[[str], None], progress: bool) -> str:
    """Random on the test sessions and the constants' selection runs (one pool), the selection tables, then the
    chosen constants on the test sessions."""
    from alpha_as.agents.reference import oracle_table, train_table

    refs = p.references_run
    if not refs:
        return "skipped"
    files = SessionFiles(p)
    train, test = selection_jobs(p, files)
    first = [j for seed in p.seeds for j in train.get(seed, [])]
    for i, s in enumerate(p.test):  # session by session, so that a worker's consecutive jobs share a day
        for seed in p.seeds:
            if "random" in refs:
                first.append(make_job(p, files, "random", "random", genas_params(p, seed), s, seed,
                                      runs_root(p) / "random" / s.label / f"seed={seed}"))
            first.extend(row[i] for row in test.get(seed, []))
    ran = run_jobs(p, first, "references: random + selection", progress)
    chosen: dict[str, dict[int, int]] = {"constant-train": {}, "constant-oracle": {}}
    oracle_doc: dict = {"seeds": {}}
    for seed in p.seeds:
        if seed in train:
            doc = train_table([_sharpe(j) for j in train[seed]])
            _write_if_changed({"seed": seed, "session": p.train.label, **doc},
                              references_dir(p) / f"seed={seed}" / "constant_train.json")
            chosen["constant-train"][seed] = doc["action"]
        if seed in test:
            doc = oracle_table([[_sharpe(j) for j in row] for row in test[seed]], [s.label for s in p.test])
            oracle_doc["seeds"][str(seed)] = doc
            chosen["constant-oracle"][seed] = doc["action"]
    if test:
        _write_if_changed(oracle_doc, references_dir(p) / "constant_oracle.json")
    for model, by_seed in chosen.items():
        if by_seed:
            echo(f"{model}: action " + ", ".join(f"{a} (seed {s})" for s, a in by_seed.items()))
    final = [make_job(p, files, model, "constant", genas_params(p, seed), s, seed,
                      runs_root(p) / model / s.label / f"seed={seed}", action=a)
             for s in p.test for model, by_seed in chosen.items() for seed, a in by_seed.items()]
    ran = run_jobs(p, final, "references: chosen constants", progress) or ran
    return "ran" if ran else "skipped"


def model_dir(p: Protocol, model: str, seed: int) -> Path:
    return p.out / "models" / model / f"seed={seed}"


def agent_spec(p: Protocol, model: str, seed: int) -> dict:
    """One agent chain (a paper agent or a -sound variant, one seed): its config and where it writes."""
    cfg = p.agent_config(model, seed, selected_features(p, seed))
    return {"agent": model, "seed": seed, "config": cfg.to_dict(), "genas": genas_params(p, seed), "data": str(p.data),
            "instrument": p.instrument, "train": p.train.date.isoformat(),
            "test": [s.to_dict() for s in p.test], "model": str(model_dir(p, model, seed)),
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
        run = model.test_day(day, learn=True, save=False, session=key)
        final = runs / s["label"] / f"seed={spec['seed']}"
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f"{final.name}{runner.TMP_MARK}{spec['agent']}")
        shutil.rmtree(tmp, ignore_errors=True)
        write_day(run, tmp, extra={"model": spec["agent"], "kind": spec["agent"], "seed": spec["seed"],
                                   "window": s["window"], "session": s["label"]})
        runner.commit_folder(tmp, final)
        model.save()  # after the session's folder: a kill in between replays the session identically
        del day, run
        release_memory()
    return {"agent": spec["agent"], "seed": spec["seed"], "sessions": len(spec["test"])}


def stage_agents(p: Protocol, echo: Callable[[str], None], progress: bool) -> str:
    from tqdm import tqdm

    specs = [agent_spec(p, a, s) for a in p.agents_run for s in p.seeds]
    # longest chains first (LSTM before feed-forward, sound before paper): the pool then finishes sooner; each chain
    # is independent of the others, so the order changes no result
    specs.sort(key=lambda s: (s["config"]["agent"] != "alpha-as-2", s["config"]["preset"] != "sound"))
    if not specs:
        return "skipped"
    total = sum(int(s["config"]["iterations"]) + len(p.test) for s in specs)
    before = sum(agent_progress(s) for s in specs)
    if before == total:
        return "skipped"
    workers = max(1, min(p.workers, len(specs)))
    iters = sorted({int(s["config"]["iterations"]) for s in specs})
    echo(f"training and testing {len(specs)} agent model(s) ({', '.join(p.agents_run)} x {len(p.seeds)} seed(s)) "
         f"with {workers} process(es): {'/'.join(map(str, iters))} training iterations + {len(p.test)} test "
         "sessions each")
    with tqdm(total=total, initial=before, unit="step", desc="Alpha-AS train + test", file=sys.stderr,
              disable=not progress) as bar, \
            ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=runner._worker_init,
                                initargs=(os.getpid(),)) as pool:  # workers exit if we are killed
        futures = {pool.submit(agent_job, s): s for s in specs}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            n = sum(agent_progress(s) for s in specs)
            if n != bar.n:
                bar.update(n - bar.n)
            for f in finished:
                f.result()  # re-raises a worker's error
    return "ran"


def experiment_doc(p: Protocol) -> dict:
    """experiment.json: what the report needs to know."""
    return {"name": p.name, "instrument": p.instrument, "data": str(p.data), "data_note": p.data_note, "notes": list(p.notes),
            "models": {m: {"label": LABELS[m], "role": ROLES[m]} for m in p.models},
            "dates": [s.label for s in p.test], "seeds": list(p.seeds),
            "sessions": {"fi": p.fi.to_dict(), "train": p.train.to_dict(), "test": [s.to_dict() for s in p.test]},
            "quick": p.quick, "bootstrap": {"samples": 2000, "seed": p.seeds[0]}}


def stage_report(p: Protocol, echo: Callable[[str], None]) -> str:
    from alpha_as.report.build import build_report

    write_json_atomic(experiment_doc(p), p.out / "experiment.json")
    path = build_report(p.out)
    echo(f"wrote {path}")
    return "ran"


# ---------------------------------------------------------------------------------------------- driver


def earlier_timings(path: Path) -> dict[str, float]:
    try:
        stages = json.loads(path.read_text())["stages"]
        return {k: float(v["last_ran_seconds"]) for k, v in stages.items() if v.get("last_ran_seconds") is not None}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def check_identity(p: Protocol, force: bool) -> None:
    """Refuse to mix results of a different protocol; ``force`` removes the earlier outputs."""
    path = p.out / "protocol.json"
    ours = {"identity": p.identity(), "hash": p.identity_hash()}
    if path.is_file():
        try:
            theirs = json.loads(path.read_text()).get("hash")
        except ValueError:
            theirs = None
        if theirs != ours["hash"]:
            if not force:
                raise InputError(f"{p.out} holds results of a different protocol ({path}); use another --out, or "
                                 f"--force to delete them and start over")
        elif not force:
            return
    if force and p.out.exists():
        for name in ("features", "genas", "runs", "references", "models", "tables", "plots", "report.md", "claims.json",
                     "experiment.json", "timings.json", "protocol.json"):
            q = p.out / name
            if q.is_dir():
                shutil.rmtree(q)
            elif q.exists():
                q.unlink()
    p.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(ours, path)


def replicate(p: Protocol, *, force: bool = False, progress: bool = True,
              echo: Callable[[str], None] = print, until: str | None = None) -> Replication:
    """Run (or resume) every stage; ``until`` stops after that stage."""
    if until is not None and until not in STAGES:
        raise InputError(f"unknown stage {until!r}; stages: {', '.join(STAGES)}")
    t_start = time.perf_counter()
    check_identity(p, force)
    rep = Replication(p.out, earlier=earlier_timings(p.out / "timings.json"))
    with runner.locked(p.out), PeakRSS() as mem:
        echo(f"{p.name}{' (quick)' if p.quick else ''}: {p.instrument} from {p.data}; FI {p.fi.label}, "
             f"train {p.train.label}, {len(p.test)} test session(s), models {', '.join(p.models)}, "
             f"seeds {', '.join(map(str, p.seeds))} -> {p.out}")
        for stage in STAGES:
            t0 = time.perf_counter()
            echo(f"== {stage}")
            if stage == "data":
                status = stage_data(p, echo, progress)
            elif stage == "features":
                status = stage_features(p, echo)
            elif stage == "genas":
                status = stage_genas(p, echo, progress)
            elif stage == "baselines":
                status = stage_baselines(p, echo, progress)
            elif stage == "references":
                status = stage_references(p, echo, progress)
            elif stage == "agents":
                status = stage_agents(p, echo, progress)
            else:
                status = stage_report(p, echo)
            rep.seconds[stage], rep.status[stage] = time.perf_counter() - t0, status
            rep.total_seconds = time.perf_counter() - t_start
            rep.peak_rss_mb, rep.peak_process_rss_mb = mem.peak_total_mb, mem.peak_process_mb
            write_json_atomic(rep.to_dict(), p.out / "timings.json")
            if stage == until:
                break
    return rep
