"""``alpha-as replicate``: the paper's whole protocol, stage by stage, resumable, then the report.

Stages and where each writes (under the protocol's ``out``)::

    data       the store (synthetic days generated when missing and allowed)
    features   features/seed=<s>/features.json         random-forest selection on the FI session
    genas      genas/seed=<s>/best.json, history.parquet   the GA on the training session
               genas-<strategy>/seed=<s>/                  the GA of a -tuned strategy model (after Gen-AS's;
                                                           :mod:`alpha_as.experiments.replicate_strategies`)
    baselines  runs/<foic|liic|gen-as>/<session>/seed=<s>/ the non-agent models on the test sessions, with the
               runs/<hummingbot-as|glft[-tuned]>/...       strategy models (Hummingbot's AS, GLFT)
    references runs/<random|constant-train|constant-oracle>/<session>/seed=<s>/   the reference policies
               references/seed=<s>/constant_train.json, references/constant_oracle.json   their selections
    agents     models/<model>/seed=<s>/ (checkpoints)      Alpha-AS training (paper agents and -sound variants;
                                                           :mod:`alpha_as.experiments.replicate_agents`),
               runs/<model>/<session>/seed=<s>/            then the test sessions in order, with learning
                                                           carried from session to session; then ``ppo``'s
                                                           training and test sessions (:mod:`.replicate_ppo`)
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

**Verified resumes.** What a stage skips is checked first: a run folder by its manifest's config, data and
output hashes (:func:`runner.job_state`: a changed or missing file reruns the run, and the stage says why);
``features/seed=<s>/`` and ``genas/seed=<s>/`` by their manifest.json (written after features.json / best.json:
the config they were made with and the sha256 of their files; a change reruns that seed's selection or GA; a
file written before these manifests counts when it is readable, an unreadable one is redone); an agent chain by
its checkpoint's config and each counted test session's folder (manifest hashes): a changed or missing session
stops with one line saying how to redo the chain (delete its model folder: it retrains and replays, the same
results), since a session cannot be redone alone. An unreadable agent checkpoint falls back to the previous
one (:meth:`alpha_as.agents.alpha_as.AlphaAS.load`). The selection tables under references/ are rewritten from
the verified selection runs on every run.

**Executors** (``[protocol] executor``, ``--executor``; :mod:`alpha_as.experiments.executors`): ``local`` runs the
GA's evaluations, the run jobs, the agent chains and PPO's trainings on process pools of ``workers`` processes;
``ray`` runs them as Ray tasks on the cluster at ``ray_address`` (else a local instance of ``workers`` CPUs,
started once for every stage of the run). Either way the same folders, manifests and resume, and the same
results byte for byte (the executor is not part of ``protocol.json``'s identity). The feature selection and the
synthetic market's generation run on this machine.

**The lock first.** The out folder is checked (:func:`alpha_as.atomic.check_out_dir`) and locked before
anything in it is read or deleted, so ``--force`` on a folder another run is using stops with one line naming
that run's command and pid and touches nothing. An unreadable protocol.json (truncated) is refused as such, not
as another protocol; ``--force`` then rewrites it and keeps the results, each checked as above.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from alpha_as.agents.actions import N_ACTIONS
from alpha_as.atomic import (
    MANIFEST,
    check_out_dir,
    check_outputs,
    hash_outputs,
    write_text_atomic,
)
from alpha_as.data import paper, store
from alpha_as.engine.backtest import write_json_atomic
from alpha_as.errors import InputError
from alpha_as.experiments import executors, runner
from alpha_as.experiments.config import canonical
from alpha_as.experiments.protocol import LABELS, ROLES, STRATEGY_MODELS, Protocol, Session
from alpha_as.experiments.resources import PeakRSS, release_memory

if TYPE_CHECKING:
    from alpha_as.tuning.genas import GAConfig

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
    peak_pss_mb: float = 0.0
    """The peak of the processes' summed proportional set sizes (the libraries they share counted once)."""
    stage_memory: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per stage that ran: its (RSS sum, PSS sum) peaks in MB."""
    total_seconds: float = 0.0
    earlier: dict[str, float] = field(default_factory=dict)
    """Stage times of earlier runs (from the previous timings.json), for the stages this run skips."""

    def table(self) -> str:
        rows = [f"{'stage':<10} {'status':<9} {'seconds':>8}  {'when it ran':>11}  {'RSS MB':>7} {'PSS MB':>7}"]
        for s in self.seconds:
            ran = self.seconds[s] if self.status[s] == "ran" else self.earlier.get(s)
            rss, pss = self.stage_memory.get(s, (0.0, 0.0))
            rows.append(f"{s:<10} {self.status[s]:<9} {self.seconds[s]:>8.1f}  {'' if ran is None else f'{ran:.1f}':>11}"
                        f"  {rss:>7.0f} {pss:>7.0f}")
        rows.append(f"{'total':<10} {'':<9} {self.total_seconds:>8.1f}")
        rows.append(f"peak RSS: {self.peak_rss_mb:.0f} MB (all processes), {self.peak_process_rss_mb:.0f} MB (largest); "
                    f"peak PSS: {self.peak_pss_mb:.0f} MB (all processes, shared pages counted once)")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        """timings.json; ``last_ran_seconds`` keeps the time of the run that did a stage that this run skipped."""
        stages = {}
        for s in self.seconds:
            ran = self.seconds[s] if self.status[s] == "ran" else self.earlier.get(s)
            rss, pss = self.stage_memory.get(s, (0.0, 0.0))
            stages[s] = {"seconds": round(self.seconds[s], 3), "status": self.status[s],
                         "last_ran_seconds": None if ran is None else round(ran, 3),
                         "peak_rss_mb": round(rss, 1), "peak_pss_mb": round(pss, 1)}
        return {"stages": stages,
                "total_seconds": round(self.total_seconds, 3), "peak_rss_mb": round(self.peak_rss_mb, 1),
                "peak_process_rss_mb": round(self.peak_process_rss_mb, 1), "peak_pss_mb": round(self.peak_pss_mb, 1)}


# ---------------------------------------------------------------------------------------------- stages


def stage_data(p: Protocol, echo: Callable[[str], None], progress: bool = True, trust_data: bool = False) -> str:
    """Make sure the store holds every session's day; generate missing synthetic days when allowed (with the
    protocol's market variant, under its instrument). A synthetic store made by another generator version or
    with other settings is regenerated (see :func:`alpha_as.data.synthetic.generate_market`), never mixed.

    Then every session (FI, training, test) is validated as ``alpha-as data check`` would
    (:func:`alpha_as.data.validate.require_sessions`; verdicts cached in ``<out>/data_check.json``), so a bad
    day or a session without data stops the run here, before the features or the GA spend any time."""
    days = sorted({s.date for s in p.sessions()})
    missing = [d for d in days if not all(store.partition_path(p.data, k, p.instrument, d).is_file()
                                          for k in (store.DEPTH, store.TRADE))]
    status = "skipped"
    if not p.synthetic:
        if missing:
            d = missing[0]
            kind = store.DEPTH if not store.partition_path(p.data, store.DEPTH, p.instrument, d).is_file() else store.TRADE
            raise InputError(f"day {d} is not in the store: {store.partition_path(p.data, kind, p.instrument, d)} is "
                             f"missing (import your data with `alpha-as data import`, or set synthetic = true)")
    else:
        off = [d for d in days if d not in {pd.date for pd in paper.PAPER_DAYS}]
        if off:
            raise InputError(f"{p.path}: the synthetic market only has the paper's days; {off[0]} is not one")
        from alpha_as.data.synthetic import generate_market

        rep = generate_market(p.data, instrument=p.instrument, start=days[0], end=days[-1], workers=p.workers,
                              progress=progress, options=p.synth)  # p.instrument names the variant
        if not all(d.skipped for d in rep.days):
            echo(rep.summary())
            status = "ran"
    from alpha_as.data import validate

    sessions = [(s.date, s.window) for s in p.sessions()]
    validate.require_sessions(p.data, p.instrument, sessions, trust=trust_data,
                              cache_file=validate.out_cache(p.out), echo=echo)
    return status


def features_file(p: Protocol, seed: int) -> Path:
    return p.out / "features" / f"seed={seed}" / "features.json"


def plain_json(doc: dict) -> dict:
    """``doc`` as it reads back from JSON (tuples as lists ...), for comparing a recorded config."""
    return json.loads(json.dumps(doc, default=str))


def stage_item_state(folder: Path, main: str, config: dict) -> str:
    """Whether a stage's output folder (``features/seed=<s>/``, ``genas/seed=<s>/``) is finished: "" when its
    ``main`` file is there and the folder's manifest.json (written after it) records the same ``config`` and the
    hashes of its files as they are; "new" without the main file; else why it is redone. A main file without a
    manifest (written before manifests were recorded, or a kill between the two) counts when it is readable."""
    path = folder / main
    if not path.is_file():
        return "new"
    m = runner.read_manifest(folder)
    if m is None:
        try:
            ok = isinstance(json.loads(path.read_text()), dict)
        except (OSError, ValueError):
            ok = False
        return "" if ok else f"{main} is unreadable (truncated?)"
    if m.get("config") != plain_json(config):
        return "config changed"
    return check_outputs(folder, m.get("outputs") or {main: ""})


def write_stage_manifest(folder: Path, config: dict) -> None:
    """The folder's manifest.json, written after its files: their sha256 and the config they were made with."""
    write_json_atomic({"config": plain_json(config), "outputs": hash_outputs(folder)}, folder / MANIFEST)


def features_config(p: Protocol, seed: int) -> dict:
    f = p.features
    return {"data": str(p.data), "instrument": p.instrument, "session": p.fi.to_dict(), "seed": seed,
            "horizon_s": f.horizon_s, "max_rows": f.max_rows, "n_estimators": f.n_estimators, "max_depth": f.max_depth}


def _selection_job(item: tuple) -> dict:
    """One seed's feature selection (in a worker process: the forest's memory is returned when the pool ends)."""
    from alpha_as.agents.features_cli import run_selection

    data, instrument, day, window, seed, f = item
    return run_selection(data, instrument, day, horizon_s=f.horizon_s, seed=seed, window=window, max_rows=f.max_rows,
                         n_estimators=f.n_estimators, max_depth=f.max_depth)


def stage_features(p: Protocol, echo: Callable[[str], None]) -> str:
    """The seeds' feature selections, in parallel on the protocol's executor (each forest is single-threaded)."""
    if not p.features.enabled or not p.agents_run:
        return "skipped"
    todo = []
    for seed in p.seeds:
        path = features_file(p, seed)
        why = stage_item_state(path.parent, path.name, features_config(p, seed))
        if not why:
            continue
        if why != "new":
            echo(f"seed {seed}: redoing the feature selection: {why}")
        (path.parent / MANIFEST).unlink(missing_ok=True)
        todo.append((p.data, p.instrument, p.fi.date.isoformat(), p.fi.window, seed, p.features))
    if not todo:
        return "skipped"

    def done(item: tuple, doc: dict) -> None:
        seed = item[4]
        path = features_file(p, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(json.loads(json.dumps(doc)), path)
        write_stage_manifest(path.parent, features_config(p, seed))
        echo(f"seed {seed}: {len(doc['features'])} features selected on {p.fi.label}: {', '.join(doc['features'])}")

    p.executor_of().run(_selection_job, todo, done, inline=False)  # never in this process (see _selection_job)
    return "ran"


def selected_features(p: Protocol, seed: int) -> list[str]:
    from alpha_as.agents.features import DEFAULT_FEATURES

    if not p.features.enabled:
        return list(DEFAULT_FEATURES)
    from alpha_as.agents.features_cli import read_features_file

    return list(read_features_file(features_file(p, seed), remedy=_rerun("features")))


def _rerun(stage: str) -> str:
    return f"rerun `alpha-as replicate` (its {stage} stage redoes a missing or changed file)"


def genas_dir(p: Protocol, seed: int) -> Path:
    return p.out / "genas" / f"seed={seed}"


def stage_genas(p: Protocol, echo: Callable[[str], None], progress: bool = True) -> str:
    """Gen-AS's GA per seed, then the GA of each -tuned strategy model
    (:func:`alpha_as.experiments.replicate_strategies.stage_strategy_genas`)."""
    from alpha_as.experiments.replicate_strategies import stage_strategy_genas

    status = "skipped"
    for seed in p.seeds if "gen-as" in p.models else ():
        if run_ga_item(p, genas_dir(p, seed), p.ga_config(seed), f"seed {seed}", echo, progress):
            status = "ran"
    return "ran" if stage_strategy_genas(p, echo, progress) == "ran" else status


def ga_item_config(p: Protocol, ga: GAConfig) -> dict:
    """What a GA's result depends on (not the number of workers), recorded in its folder's manifest."""
    return {"data": str(p.data), "instrument": p.instrument, "session": p.train.to_dict(),
            "ga": {k: v for k, v in ga.to_dict().items() if k != "workers"}}


def run_ga_item(p: Protocol, out: Path, ga: GAConfig, label: str, echo: Callable[[str], None],
                progress: bool) -> bool:
    """Run the GA ``ga`` on the training session into ``out`` unless it is finished and unchanged (verified by its
    manifest); True when it ran. ``label`` prefixes the lines it prints ("seed 0")."""
    from alpha_as.tuning.genas import tune

    config = ga_item_config(p, ga)
    why = stage_item_state(out, "best.json", config)
    if not why:
        return False
    if why != "new":
        echo(f"{label}: redoing the GA: {why}")
    (out / MANIFEST).unlink(missing_ok=True)
    res = tune(p.data, p.instrument, p.train.date.isoformat(), out, ga, force=True, progress=progress,
               executor=p.executor_of())
    write_stage_manifest(out, config)
    echo(f"{label}: {res.summary()}")
    return True


def genas_config(p: Protocol, seed: int) -> dict:
    """What Gen-AS's GA result depends on (not the number of workers)."""
    return ga_item_config(p, p.ga_config(seed))


def genas_params(p: Protocol, seed: int) -> dict:
    from alpha_as.tuning.genas import read_best_params

    return read_best_params(genas_dir(p, seed) / "best.json", remedy=_rerun("genas"), strategy="as")


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
             folder: Path, *, action: int | None = None, keep: str = "all",
             policy_gradient: dict | None = None) -> runner.Job:
    """A runner job of the protocol (engine, instrument, P&L-to-MAP rule of the protocol; the session's window and,
    with ``trading_hours = "window"``, its trading hours: :meth:`Protocol.session_params`)."""
    params = p.session_params(kind, s, params)
    config = runner.job_config(kind, params, canonical(p.engine), p.instrument, s.window, p.map_over,
                               s.date.isoformat(), seed, action=action, decision_seconds=p.decision_seconds,
                               policy_gradient=policy_gradient)
    paths, hashes = files(s)
    return runner.Job(model, config, runner.hash_config(config), str(p.data), paths, hashes, str(folder), keep)


def baseline_jobs(p: Protocol) -> list[runner.Job]:
    """One runner job per (baseline, Gen-AS or strategy model, test session, seed); Gen-AS takes the seed's GA
    parameters, a strategy model its own (:mod:`alpha_as.experiments.replicate_strategies`)."""
    from alpha_as.experiments.replicate_strategies import strategy_job, strategy_model_params

    files = SessionFiles(p)
    strategy = {(m, seed): strategy_model_params(p, m, seed) for m in p.strategies_run for seed in p.seeds}
    jobs = []
    for s in p.test:
        for model in p.models:
            if model == "gen-as-pg":  # Gen-AS's GA parameters as the warm start, γ learned online
                jobs += [make_job(p, files, model, "gen-as", genas_params(p, seed), s, seed,
                                  runs_root(p) / model / s.label / f"seed={seed}",
                                  policy_gradient=p.policy_gradient_config()) for seed in p.seeds]
                continue
            if model in STRATEGY_MODELS:
                jobs += [strategy_job(p, files, model, s, seed, strategy[model, seed]) for seed in p.seeds]
            if ROLES[model] not in ("baseline", "reference"):
                continue
            for seed in p.seeds:
                params = genas_params(p, seed) if model == "gen-as" else canonical(p.baselines[model])
                jobs.append(make_job(p, files, model, model, params, s, seed,
                                     runs_root(p) / model / s.label / f"seed={seed}"))
    return jobs


def run_jobs(p: Protocol, jobs: list[runner.Job], desc: str, progress: bool,
             echo: Callable[[str], None] | None = None) -> bool:
    """Run the unfinished jobs on the protocol's executor (leftover temp folders of killed runs removed first); say why a
    finished run is redone (its config, data or outputs changed: :func:`runner.job_state`); raise one line if any
    failed; True when something ran."""
    from alpha_as.progress import progress_bar

    for root in {Path(j.folder).parents[2] for j in jobs}:
        if root.is_dir():
            runner.remove_leftovers(root)  # folders of runs in flight when a run was killed
    todo, why = [], {}
    for j in jobs:
        state, reason, _ = runner.job_state(j)
        if state != "done":
            todo.append(j)
            if state == "stale":
                why.setdefault((j.model, reason), []).append(j)
    for (model, reason), js in why.items():
        (echo or print)(f"rerunning {len(js)} run(s) of {model}: {reason}")
    if not todo:
        return False
    failed: list[str] = []
    with progress_bar(len(todo), desc, "run", enabled=progress) as bar:

        def done(job: runner.Job, ok: bool, res: dict | str) -> None:
            if not ok:
                failed.append(f"{job.model} {job.folder}: {res}")
            bar.update(1)

        runner.execute(todo, p.executor_of(), done)
    if failed:
        raise InputError(f"{len(failed)} run(s) failed, first: {failed[0]} (the finished runs are kept; rerun to "
                         "retry the others)")
    return True


def stage_baselines(p: Protocol, echo: Callable[[str], None], progress: bool) -> str:
    desc = "baselines + Gen-AS" + (" + strategies" if p.strategies_run else "")
    return "ran" if run_jobs(p, baseline_jobs(p), desc, progress, echo) else "skipped"


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
    ran = run_jobs(p, first, "references: random + selection", progress, echo)
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
    ran = run_jobs(p, final, "references: chosen constants", progress, echo) or ran
    return "ran" if ran else "skipped"


def experiment_doc(p: Protocol) -> dict:
    """experiment.json: what the report needs to know."""
    return {"name": p.name, "instrument": p.instrument, "data": str(p.data), "data_note": p.data_note, "notes": list(p.notes),
            "models": {m: {"label": LABELS[m], "role": ROLES[m]} for m in p.models},
            "dates": [s.label for s in p.test], "seeds": list(p.seeds),
            "sessions": {"fi": p.fi.to_dict(), "train": p.train.to_dict(), "test": [s.to_dict() for s in p.test]},
            "quick": p.quick, "bootstrap": {"samples": 2000, "seed": p.seeds[0]},
            "quote_currency": getattr(p, "quote_currency", "USD")}


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


def check_identity(p: Protocol, force: bool, echo: Callable[[str], None] = print) -> None:
    """Refuse to mix results of a different protocol; ``force`` removes the earlier outputs. Called with the
    folder's lock held, so a folder that another run is using is never touched.

    An unreadable protocol.json (truncated, not JSON) cannot say which protocol the results belong to; it is
    refused, and ``force`` then rewrites it for this protocol and keeps the results, each of which is checked
    against its own record on the way (a run's config hash, the feature selection's and the GA's recorded
    config, an agent checkpoint's config): whatever differs is redone or stops with one line."""
    path = p.out / "protocol.json"
    ours = {"identity": p.identity(), "hash": p.identity_hash()}
    if path.is_file():
        try:
            doc = json.loads(path.read_text())
            theirs = doc["hash"] if isinstance(doc, dict) and isinstance(doc.get("hash"), str) else None
        except (OSError, ValueError):
            theirs = None
        if theirs is None:
            if not force:
                raise InputError(f"{path} is unreadable (truncated?), so it cannot tell which protocol made the results "
                                 f"in {p.out}; rerun with --force to rewrite it for this protocol and keep the results "
                                 "(each is checked against its own recorded config and redone if it differs), or use "
                                 "another --out")
            echo(f"{path} was unreadable: rewritten for this protocol; the results in {p.out} are kept and checked "
                 "against their own recorded configs")
            write_json_atomic(ours, path)
            return
        if theirs != ours["hash"]:
            if not force:
                raise InputError(f"{p.out} holds results of a different protocol ({path}); use another --out, or "
                                 f"--force to delete them and start over")
        elif not force:
            return
    if force and p.out.exists():
        from alpha_as.experiments.replicate_strategies import STRATEGY_GENAS_DIRS

        for name in ("features", "genas", *STRATEGY_GENAS_DIRS, "runs", "references", "models", "tables", "plots",
                     "report.md", "claims.json", "experiment.json", "timings.json", "protocol.json"):
            q = p.out / name
            if q.is_dir():
                shutil.rmtree(q)
            elif q.exists():
                q.unlink()
    p.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(ours, path)


def replicate(p: Protocol, *, force: bool = False, progress: bool = True,
              echo: Callable[[str], None] = print, until: str | None = None, trust_data: bool = False) -> Replication:
    """Run (or resume) every stage; ``until`` stops after that stage; ``trust_data`` replays days that
    ``data check`` marks suspect (errors still stop the data stage)."""
    if until is not None and until not in STAGES:
        raise InputError(f"unknown stage {until!r}; stages: {', '.join(STAGES)}")
    t_start = time.perf_counter()
    check_out_dir(p.out, "output folder")
    with runner.locked(p.out, "alpha-as replicate"), PeakRSS() as mem, executors.keep_ray():  # the lock first
        # (--force deletes); a Ray instance started by a stage serves the later ones too
        check_identity(p, force, echo)
        rep = Replication(p.out, earlier=earlier_timings(p.out / "timings.json"))
        echo(f"{p.name}{' (quick)' if p.quick else ''}: {p.instrument} from {p.data}; FI {p.fi.label}, "
             f"train {p.train.label}, {len(p.test)} test session(s), models {', '.join(p.models)}, "
             f"seeds {', '.join(map(str, p.seeds))} -> {p.out}")
        for stage in STAGES:
            t0 = time.perf_counter()
            mem.mark()  # this stage's memory window starts
            echo(f"== {stage}")
            if stage == "data":
                status = stage_data(p, echo, progress, trust_data)
            elif stage == "features":
                status = stage_features(p, echo)
            elif stage == "genas":
                status = stage_genas(p, echo, progress)
            elif stage == "baselines":
                status = stage_baselines(p, echo, progress)
            elif stage == "references":
                status = stage_references(p, echo, progress)
            elif stage == "agents":
                from alpha_as.experiments.replicate_agents import stage_agents
                from alpha_as.experiments.replicate_ppo import stage_ppo

                status = stage_agents(p, echo, progress)
                status = "ran" if stage_ppo(p, echo, progress) == "ran" else status
            else:
                status = stage_report(p, echo)
            rep.seconds[stage], rep.status[stage] = time.perf_counter() - t0, status
            rep.stage_memory[stage] = mem.mark()
            release_memory()  # what a stage freed in this process goes back before the next starts
            rep.total_seconds = time.perf_counter() - t_start
            rep.peak_rss_mb, rep.peak_process_rss_mb = mem.peak_total_mb, mem.peak_process_mb
            rep.peak_pss_mb = mem.peak_pss_mb
            write_json_atomic(rep.to_dict(), p.out / "timings.json")
            if stage == until:
                break
    return rep
