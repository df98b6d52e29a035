"""Run an experiment's (model, day, seed) jobs: atomic outputs, manifests, resume, local and Ray executors.

**Outputs.** Job (model, day, seed) writes ``<out>/<model>/<YYYY-MM-DD>/seed=<n>/``: ``fills.parquet``,
``grid.parquet``, ``metrics.json`` (the engine's :meth:`BacktestResult.write`; the reference policies
"random" and "constant" add the agents' action columns to the grid, ``alpha_as.agents.reference``) and
``manifest.json``, written last. A job with ``keep = "metrics"`` (the protocol's selection runs) writes only
``metrics.json`` and ``manifest.json``. The job writes all of them into a sibling temp folder ``seed=<n>.tmp-<uuid>`` and renames it
onto the final name at the end (a directory rename onto a path that does not exist is atomic on POSIX), so a
final folder is always complete: a ``kill -9`` loses at most the jobs in flight, whose temp folders the
next run removes at its start. Replacing an outdated final folder moves it aside first (to another
``.tmp-`` name), then renames the new one in.

**Manifest** = the completion record: ``config_hash`` (sha256 of the job's canonical JSON: model kind, its
full parameters, the engine config, instrument, window, P&L-to-MAP rule, day and seed — not the model's
name or any path; the policies add ``decision_seconds`` and, for "constant", ``action``), ``data_hashes`` (sha256 of the day's depth and trade files; each file hashed once per
run), ``package_version``, ``started``/``finished`` (UTC), ``wall_seconds``, the day's ``metrics`` and
``outputs`` (sha256 of every other file of the folder, hashed in the temp folder before the commit).

**Resume.** A rerun skips a job whose manifest exists and whose config hash, data hashes and output hashes
match; one whose manifest does not match (parameters, engine or data changed, an output edited, truncated or
deleted since it was written) is rerun and the run says why (``rerunning 1 job(s) of model foic: metrics.json
changed since it was written``). A manifest written before the output hashes were recorded still counts as
done when its files are there (finished results are not redone for the upgrade). A new package version alone
does not rerun anything (``--force`` reruns every job).

**Executors** (:mod:`alpha_as.experiments.executors`, shared with ``alpha-as replicate`` and the GA). ``local``: a
``ProcessPoolExecutor`` of ``workers`` processes (spawned, so they share no
file descriptors or threads with the runner; each loads the engine's numba cache once and then serves many
jobs; each exits when the runner dies); results are taken as they complete. With one worker (or one job)
the jobs run in the runner's own process. ``ray``: connects to ``ray_address`` when given (the package
and the data must be reachable at the same absolute paths on every node, e.g. a shared file system), else
starts a local instance with ``workers`` CPUs; each job is a task running the same job function. Ray is
imported only then (extra ``[cluster]``).

**Failures.** A job that raises writes nothing final; it is reported as ``FAILED <model> <day> seed=<n>:
<error>`` as it happens and listed at the end; the other jobs go on. A failed write (full disk, file size
limit, read-only folder) stops the run instead: every other job would fail the same way; the CLI prints one
line naming the file, and the finished jobs are kept. The output folder is checked up front
(:func:`alpha_as.atomic.check_out_dir`). A run holds a lock on ``<out>`` so two runs never write the same
folder; the holder writes its command and pid into the lock file, and a refused run names them.

**Summary.** After the jobs, ``<out>/summary.csv`` (atomic) has one row per finished job of the
experiment, read from the manifests (so it is complete when jobs were skipped), sorted by model, date and
seed; a per-model mean table is printed. ``<out>/experiment.json`` gives ``alpha-as report`` the experiment's
name, instrument, store and quote currency (the unit of P&L and Max DD in the report).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import json
import os
import shutil
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from alpha_as import __version__
from alpha_as.atomic import (
    WriteError,
    check_out_dir,
    check_outputs,
    hash_outputs,
    is_write_error,
    sha256_file,
    write_text_atomic,
)
from alpha_as.data import store
from alpha_as.errors import InputError
from alpha_as.experiments import executors
from alpha_as.experiments.config import KINDS, POLICY_DECISION_SECONDS, POLICY_KINDS, Experiment, canonical

FORMAT = 1
"""Version of the job definition hashed into config_hash; bump it when a job's meaning changes."""
TMP_MARK = ".tmp-"
TIMING_KEYS = ("wall_seconds", "jit_or_cache_load_seconds")
"""Fields of metrics.json that vary between identical runs."""
OUTPUTS = {"all": ("fills.parquet", "grid.parquet", "metrics.json"), "metrics": ("metrics.json",)}
"""The files a job writes besides its manifest, by ``Job.keep``."""
LOCK_FILE = ".runs.lock"
SUMMARY_COLUMNS = ("model", "date", "seed", "n_fills", "final_total_pnl", "sharpe", "sortino", "max_drawdown",
                   "pnl_to_map")


@dataclass(frozen=True)
class Job:
    """One backtest: a model on a day with a seed. Plain data, so it pickles to any worker."""

    model: str
    config: dict
    """The canonical job definition (kind, params, engine, instrument, window, map_over, date, seed)."""
    config_hash: str
    """sha256 of ``config`` as canonical JSON."""
    data: str
    data_files: dict
    data_hashes: dict
    folder: str
    """Absolute final output folder."""
    keep: str = "all"
    """"all": fills.parquet, grid.parquet, metrics.json, manifest.json; "metrics": metrics.json and manifest.json
    only (not part of the config hash: the same run, fewer files)."""

    @property
    def date(self) -> str:
        return self.config["date"]

    @property
    def seed(self) -> int:
        return self.config["seed"]

    @property
    def session(self) -> str:
        """The session's label (its folder): the date, or ``2016-03-03_1100-1130`` for a day in its own window."""
        return Path(self.folder).parent.name

    @property
    def label(self) -> str:
        return f"{self.model} {self.session} seed={self.seed}"


def hash_config(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def ppo_hashes(folder: Path) -> dict:
    """sha256 of a PPO model folder's policy and normaliser."""
    return {name: sha256_file(folder / name) for name in ("model.zip", "vecnormalize.pkl")}


def job_folder(out: Path, model: str, date: dt.date | str, seed: int) -> Path:
    """``<out>/<model>/<day, or the session's label>/seed=<n>``."""
    return out / model / (date if isinstance(date, str) else date.isoformat()) / f"seed={seed}"


def job_config(kind: str, params: dict, engine: dict, instrument: str, window: str, map_over: str, date: str,
               seed: int, *, action: int | None = None, decision_seconds: float = POLICY_DECISION_SECONDS,
               policy_gradient: dict | None = None) -> dict:
    """The canonical job definition that is hashed; the policies add their decision period (and "constant" its
    action), a model with γ learned online its learner's settings, so the other kinds' hashes are those of earlier
    versions."""
    config = {"format": FORMAT, "kind": kind, "params": params, "engine": engine, "instrument": instrument,
              "window": window, "map_over": map_over, "date": date, "seed": seed}
    if kind in POLICY_KINDS:
        config["decision_seconds"] = float(decision_seconds)
        if kind == "constant":
            config["action"] = int(action)
    if policy_gradient is not None:
        config["policy_gradient"] = policy_gradient
    return config


def plan_jobs(exp: Experiment) -> list[Job]:
    """Every job of the experiment, day by day (so a worker's consecutive jobs tend to share a day). Each data
    file is hashed once."""
    engine = canonical(exp.engine)
    no_risk = canonical(dataclasses.replace(exp.engine, risk=None))  # a model with risk = false
    ppo_files = {name: ppo_hashes(m.ppo_model) for name, m in exp.models.items() if m.ppo_model is not None}
    jobs = []
    hashed: dict[dt.date, tuple[dict, dict]] = {}
    for s in exp.sessions:
        if s.date not in hashed:
            files = {k: store.partition_path(exp.data, k, exp.instrument, s.date) for k in (store.DEPTH, store.TRADE)}
            hashed[s.date] = ({k: str(p) for k, p in files.items()}, {k: sha256_file(p) for k, p in files.items()})
        paths, hashes = hashed[s.date]
        for name, model in exp.models.items():
            params = exp.job_params(name, s)  # the session window's trading hours when the model follows them
            for seed in exp.seeds:
                pg = None if model.policy_gradient is None else canonical(model.policy_gradient)
                config = job_config(model.kind, params, engine if model.risk else no_risk, exp.instrument, s.window,
                                    exp.map_over, s.date.isoformat(), seed, action=model.action, policy_gradient=pg)
                if model.ppo_model is not None:  # the agent, and the sha256 of its files (a retrained one reruns)
                    config["ppo_model"] = str(model.ppo_model)
                    config["ppo_model_sha256"] = ppo_files[name]
                jobs.append(Job(name, config, hash_config(config), str(exp.data), paths, hashes,
                                str(job_folder(exp.out, name, s.label, seed))))
    return jobs


def read_manifest(folder: str | Path) -> dict | None:
    try:
        doc = json.loads((Path(folder) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def job_state(job: Job) -> tuple[str, str, dict | None]:
    """("done", "", manifest) when the job's final folder holds a matching manifest, else ("new" | "stale",
    reason, None)."""
    if not Path(job.folder).exists():
        return "new", "", None
    m = read_manifest(job.folder)
    if m is None:
        return "stale", "no readable manifest", None
    if m.get("config_hash") != job.config_hash:
        return "stale", "config changed", None
    if m.get("data_hashes") != job.data_hashes:
        return "stale", "data changed", None
    outputs = m.get("outputs")
    if isinstance(outputs, dict):  # every output as it was written
        reason = check_outputs(job.folder, outputs)
    else:  # a manifest written before the outputs' hashes were recorded: done when its files are there
        reason = next((f"{n} is missing" for n in OUTPUTS[job.keep] if not (Path(job.folder) / n).is_file()), "")
    if reason:
        return "stale", reason, None
    return "done", "", m


# ------------------------------------------------------------------------------------------------ the job


@functools.lru_cache(maxsize=2)
def _load_day(data: str, instrument: str, date: str, window: str, hashes: tuple):
    """The day, kept for the worker's next job (keyed on the files' hashes, so changed data is reloaded)."""
    return store.load_window_day(data, instrument, dt.date.fromisoformat(date), window)


def commit_folder(tmp: Path, final: Path) -> None:
    """Rename the finished temp folder onto the final name; an outdated final folder is moved aside first."""
    if final.exists():
        old = final.with_name(f"{final.name}{TMP_MARK}old-{uuid.uuid4().hex}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def run_job(job: Job) -> dict:
    """Run one job and commit its folder; return its manifest. Raises on any failure (nothing final written).

    ``job.seed`` is recorded; the compiled strategies and the constant policy are deterministic and take no seed;
    the random policy draws its actions from it, and a model with γ learned online its learner's draws.
    """
    from alpha_as.engine.backtest import Backtest, write_json_atomic
    from alpha_as.engine.config import EngineConfig

    started, t0, c = utc_now(), time.perf_counter(), job.config
    params = KINDS[c["kind"]](**c["params"])
    day = _load_day(job.data, c["instrument"], job.date, c["window"], tuple(sorted(job.data_hashes.items())))
    if day.n_depth == 0:
        raise InputError(f"no depth snapshots for {c['instrument']} on {job.date} in the window {c['window']}")
    engine = EngineConfig(**c["engine"])
    extra = {"model": job.model, "kind": c["kind"], "seed": job.seed, "window": c["window"],
             "map_over": c["map_over"], "config_hash": job.config_hash}
    if c["kind"] in POLICY_KINDS:
        from alpha_as.agents import reference

        kw = {"engine": engine, "decision_seconds": c["decision_seconds"], "map_over": c["map_over"]}
        if c["kind"] == "random":
            run = reference.run_random(day, params, job.seed, **kw)
        else:
            run = reference.run_constant(day, params, c["action"], **kw)
            extra["action"] = c["action"]
        result = run.result

        def write(folder: Path) -> None:
            reference.write_day(run, folder, extra)
    elif c["kind"] == "ppo":
        from alpha_as.agents import ppo

        if ppo_hashes(Path(c["ppo_model"])) != c["ppo_model_sha256"]:
            raise InputError(f"PPO model {c['ppo_model']} changed since the jobs were planned; run again")
        agent = ppo.load(c["ppo_model"])
        result, actions, rewards = ppo.run_day(agent, day, engine, base=params)  # the job's (session's) base
        extra["ppo"] = ppo.day_summary(agent, actions, rewards)

        def write(folder: Path) -> None:
            result.write(folder, extra)
    elif c.get("policy_gradient") is not None:  # γ learned online: a fresh learner per (day, seed), seeded
        from alpha_as.agents import policy_gradient as PG

        pg_run = PG.run_day(day, params, PG.PolicyGradientConfig(**c["policy_gradient"]), seed=job.seed,
                            engine=engine, map_over=c["map_over"])
        result = pg_run.result

        def write(folder: Path) -> None:
            PG.write_day(pg_run, folder, extra)
    else:
        result = Backtest(day, params, engine).run(map_over=c["map_over"])

        def write(folder: Path) -> None:
            result.write(folder, extra)
    final = Path(job.folder)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}{TMP_MARK}{uuid.uuid4().hex}")
    try:
        if job.keep == "metrics":
            tmp.mkdir()
            write_json_atomic({"metrics": result.metrics.to_dict(), "counters": result.counters, **result.info,
                               **extra}, tmp / "metrics.json")
        else:
            write(tmp)
        manifest = {
            "format": FORMAT,
            "job": {"model": job.model, "kind": c["kind"], "date": job.date, "seed": job.seed,
                    "instrument": c["instrument"]},
            "config_hash": job.config_hash, "config": job.config,
            "data_hashes": job.data_hashes, "data_files": job.data_files,
            "package_version": __version__, "started": started, "finished": utc_now(),
            "wall_seconds": time.perf_counter() - t0, "metrics": result.metrics.to_dict(),
            "outputs": hash_outputs(tmp),  # sha256 of every file above: a resume checks them
        }
        write_json_atomic(manifest, tmp / "manifest.json")  # last: the folder is complete
        commit_folder(tmp, final)
    except WriteError as e:  # name the file by the job's final folder, not the temp one that is removed below
        name = Path(e.filename or "").name
        raise WriteError(e.errno, e.strerror, str(final / name) if name else str(final)) from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def error_line(e: BaseException) -> str:
    """One line: the exception's type and first message line, and where it came from unless it is bad input."""
    msg = (str(e).strip().splitlines() or [""])[0]
    line = f"{type(e).__name__}: {msg}" if msg else type(e).__name__
    frames = traceback.extract_tb(e.__traceback__)
    if frames and not isinstance(e, InputError):
        f = frames[-1]
        line += f" (at {Path(f.filename).name}:{f.lineno})"
    return line


def run_job_safe(job: Job) -> tuple[bool, dict | str]:
    """(True, manifest) or (False, error line): what the executors run, so no exception crosses processes but a
    failed write (full disk, file size limit, read-only folder: :func:`alpha_as.atomic.is_write_error`), which
    every other job would meet too: it stops the run."""
    try:
        return True, run_job(job)
    except Exception as e:
        if is_write_error(e):
            raise
        return False, error_line(e)


# ------------------------------------------------------------------------------------------- executors

Done = Callable[[Job, bool, "dict | str"], None]

_worker_init = executors.worker_init  # the pool workers' setup (kept for the modules that spawn their own pool)


def execute(jobs: list[Job], executor: executors.Executor, done: Done) -> None:
    """Run the jobs on ``executor`` (:mod:`alpha_as.experiments.executors`), ``done(job, ok, manifest | error line)``
    as each finishes; a worker that died (or a Ray task lost with its node) fails its job, not the run."""
    prefix = "ray task failed" if executor.kind == "ray" else "worker failed"
    executor.run(run_job_safe, jobs, lambda job, res: done(job, *res),
                 on_error=lambda job, e: done(job, False, f"{prefix}: {error_line(e)}"))


def execute_local(jobs: list[Job], workers: int, done: Done) -> None:
    execute(jobs, executors.Executor("local", workers), done)


def execute_ray(jobs: list[Job], workers: int, address: str | None, done: Done) -> None:
    execute(jobs, executors.Executor("ray", workers, address), done)


# ------------------------------------------------------------------------------------------- the run


@dataclass
class RunReport:
    """What a run did."""

    jobs: int = 0
    skipped: int = 0
    ran: int = 0
    failed: list[tuple[Job, str]] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    summary: Path | None = None
    wall_seconds: float = 0.0


def lock_holder(path: Path) -> str:
    """"'alpha-as replicate' (pid 1234)" as the holder of the lock file wrote it, "" when it wrote nothing."""
    try:
        doc = json.loads(path.read_text())
        return f"'{doc['command']}' (pid {int(doc['pid'])})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


@contextlib.contextmanager
def locked(out: Path, command: str = "alpha-as runs"):
    """Hold an exclusive lock on ``<out>/.runs.lock`` (the kernel releases it when the process dies); the holder
    writes its ``command`` and pid into the file, which the refusal of a second run names."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = out / LOCK_FILE
    with open(path, "a+") as f:  # not "w": that would erase the holder's line before the lock is tried
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = lock_holder(path) or f"'{command}'"  # a holder that wrote nothing (an older version)
            raise InputError(f"another {holder} is writing to {out} (lock {path})") from None
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"command": command, "pid": os.getpid()}) + "\n")
        f.flush()
        yield


def remove_leftovers(out: Path) -> int:
    """Delete the temp folders of jobs that were in flight when a run died; return how many."""
    n = 0
    for p in out.glob(f"*/*/seed=*{TMP_MARK}*"):
        shutil.rmtree(p, ignore_errors=True)
        n += 1
    return n


def summary_rows(jobs: Iterable[Job], known: dict[str, dict] | None = None) -> list[dict]:
    """One row per finished job; ``known`` = {folder: manifest} of the jobs this run found done or ran (not
    checked again)."""
    rows = []
    for job in jobs:
        manifest = (known or {}).get(job.folder)
        if manifest is None:
            state, _, manifest = job_state(job)
            if state != "done":
                continue
        if manifest is not None:
            m = manifest["metrics"]
            rows.append({"model": job.model, "date": job.session, "seed": job.seed,
                         **{k: m[k] for k in SUMMARY_COLUMNS[3:]}})
    return sorted(rows, key=lambda r: (r["model"], r["date"], r["seed"]))


def write_summary(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(buf.getvalue(), path)


def run_experiment(exp: Experiment, *, force: bool = False, echo: Callable[[str], None] = print,
                   progress: bool = True, trust_data: bool = False) -> RunReport:
    """Run every unfinished job of ``exp``, write the summary and return a :class:`RunReport`.

    The days of the jobs to run are validated first (:func:`alpha_as.data.validate.require_sessions`, verdicts
    cached in ``<out>/data_check.json``): a day with an error, or a suspect one unless ``trust_data``, stops
    the run before any job starts."""
    from alpha_as.progress import progress_bar

    t0 = time.perf_counter()
    check_out_dir(exp.out, "output folder")
    report = RunReport()
    with locked(exp.out):
        n_left = remove_leftovers(exp.out)
        if n_left:
            echo(f"removed {n_left} unfinished job folder(s) left by an interrupted run")
        jobs = plan_jobs(exp)
        report.jobs = len(jobs)
        todo, why, known = [], {}, {}
        for job in jobs:
            state, reason, manifest = job_state(job)
            if force and state == "done":
                state, reason = "stale", "--force"
            if state == "done":
                report.skipped += 1
                known[job.folder] = manifest
                continue
            todo.append(job)
            if state == "stale":
                why.setdefault((job.model, reason), []).append(job)
        n_models, n_days, n_seeds = len(exp.models), len(exp.sessions), len(exp.seeds)
        echo(f"{exp.name}: {len(jobs)} jobs ({n_models} model(s) x {n_days} day(s) x {n_seeds} seed(s)) -> {exp.out}")
        if report.skipped:
            echo(f"skipped {report.skipped} finished job(s)")
        for (model, reason), js in why.items():
            echo(f"rerunning {len(js)} job(s) of model {model}: {reason}")
        if todo:
            from alpha_as.data import validate

            sessions = sorted({(dt.date.fromisoformat(j.date), j.config["window"]) for j in todo})
            validate.require_sessions(exp.data, exp.instrument, sessions, trust=trust_data,
                                      cache_file=validate.out_cache(exp.out), echo=echo)
            import alpha_as.engine  # noqa: F401  (checks the engine's compiled cache once, before any worker)

            executor = executors.Executor(exp.executor, exp.workers, exp.ray_address)
            where = executor.describe(len(todo))
            echo(f"running {len(todo)} job(s) on the {exp.executor} executor {where}")
            bar = progress_bar(len(todo), exp.name, "job", enabled=progress)

            def done(job: Job, ok: bool, res: dict | str) -> None:
                if ok:
                    report.ran += 1
                    known[job.folder] = json.loads(json.dumps(res, default=str))  # as it reads back from disk
                else:
                    report.failed.append((job, str(res)))
                    bar.write(f"FAILED {job.label}: {res}", file=sys.stdout)
                bar.update(1)

            try:
                execute(todo, executor, done)
            finally:
                bar.close()
        report.rows = summary_rows(jobs, known)
        report.summary = exp.out / "summary.csv"
        write_summary(report.rows, report.summary)
        # what `alpha-as report` on this folder needs beyond the runs (models and days are read from the folders)
        write_text_atomic(json.dumps({"name": exp.name, "instrument": exp.instrument, "data": str(exp.data),
                                      "quote_currency": exp.quote_currency}, indent=1) + "\n",
                          exp.out / "experiment.json")
    report.wall_seconds = time.perf_counter() - t0
    return report
