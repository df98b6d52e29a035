"""Alpha-AS runtime: a double-DQN agent sets AS's γ and skew every 5 s; training and test protocols (spec §6).

* :func:`run_day` drives one day on :class:`SteppedBacktest`: at each decision time the state (22 market + 10
  private features, z-scored) goes to ``DQNAgent.act``; the action's (γ, skew) is applied to AS from the next
  snapshot on; the reward is the step's change of realized + min(unrealized, 0) (the engine's
  "asymmetric_dampened" reward). The other AS parameters come from Gen-AS's best.json, with the authors'
  override before the first action (γ = 0.9, window_tick = 25, ``actions.INITIAL_PARAMS``).
* :class:`AlphaAS` holds the agent, the normaliser and the protocol position in a model folder and checkpoints
  after every training iteration and every test day, so a killed run resumes and ends identical.

Training (spec §6.6): iterations i = 0..I−1, each R runs of the training day with ε = 1 − i/I, each run with
the current weights and its own seed (worker processes with ``workers > 1``), returning its replay memory;
the agent's memory and the runs' memories are merged (``dqn.merge_memories``), the prediction network is fitted
and copied to the target network. Test: ε = 0.2 and learning continues (transitions are remembered, the
prediction network is refitted at the end of each day, the target copied every 8 h of market time).

Normaliser (INFERRED): a z-score :class:`Normalizer` fitted on the raw states of the FIRST training iteration
(its actions are uniformly random — ε = 1 and no fitted network — so no state is needed to act), applied to
that iteration's memories before merging and to every later state; missing history (NaN) → 0. Saved with the
model. Alpha-AS-1 = DQN variant "ff", Alpha-AS-2 = "lstm" (INFERRED, spec §6.5/§9 #15: the authors' later code).

The repaired learner's options (``AlphaASConfig``: ``inputs``, ``z_clip``, ``day_end``, ``reward_unit``; the
``-sound`` models) act here: :class:`LearnerOptions` carries them into :func:`run_day`. Every played day also
keeps its states, so that :mod:`alpha_as.agents.diagnostics` can measure the network on them; the model folder
gets ``diagnostics.json`` with every checkpoint.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from alpha_as.agents import diagnostics as diag
from alpha_as.agents import reference
from alpha_as.agents.config import AlphaASConfig
from alpha_as.agents.dqn import DQNAgent, ReplayMemory, merge_memories
from alpha_as.agents.features import PRIVATE_FEATURES, Normalizer
from alpha_as.agents.observation import Observer, decision_times
from alpha_as.atomic import sha256_file, write_bytes_atomic, write_text_atomic
from alpha_as.data import store
from alpha_as.data.store import MarketDay
from alpha_as.engine.backtest import BacktestResult, SteppedBacktest, write_json_atomic
from alpha_as.engine.config import EngineConfig
from alpha_as.errors import InputError
from alpha_as.jsonsafe import plain
from alpha_as.strategies.avellaneda_stoikov import ASParams

STATE_FILE = "alpha_as.json"
PREV_STATE_FILE = STATE_FILE + ".prev"
"""The previous checkpoint's state file (its agent file: ``agent-N.pt.prev``), the fallback of an unusable latest."""
DIAGNOSTICS_FILE = "diagnostics.json"
HOUR_NS = 3_600_000_000_000
AUTHORS_WAIT_NS = 6_000_000_000
"""The authors compute the reward once (int)((t − t0)/1000) > 5, i.e. >= 6 s after the action (spec §6.4)."""


initial_params = reference.initial_params
"""Gen-AS's parameters with the authors' override before the first action (γ 0.9, window 25, skew 0)."""


def _warn(message: str) -> None:
    sys.stderr.write(f"alpha-as: warning: {message}\n")


def load_market_day(data: str | Path, instrument: str, date: dt.date | str, window: str) -> MarketDay:
    date = store.parse_date(date) if isinstance(date, str) else date
    return store.load_window_day(data, instrument, date, window)


# ---- one day ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnerOptions:
    """How states and rewards are built (``AlphaASConfig`` fields of the same names; defaults: the paper's)."""

    inputs: str = "paper"
    z_clip: float | None = None
    day_end: str = "continue"
    reward_unit: str = "usd"
    reward_scale: float = 1.0
    """Stored reward = shaped reward / reward_scale (``reward_scaling = "std"``: fitted on training iteration 0)."""

    @classmethod
    def of(cls, cfg: AlphaASConfig, reward_scale: float = 1.0) -> LearnerOptions:
        return cls(cfg.inputs, cfg.z_clip, cfg.day_end, cfg.reward_unit, reward_scale)


PAPER_OPTIONS = LearnerOptions()


@dataclass
class DayRun:
    """What :func:`run_day` did: the engine's result and one row per step (decision time, action, reward, done
    flag, the state the agent saw) and the day's largest |z| per input before clipping (None without a
    normaliser)."""

    result: BacktestResult
    t: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    target_copies: int = 0
    info: dict = field(default_factory=dict)
    dones: np.ndarray | None = None
    states: np.ndarray | None = None
    max_abs_z: np.ndarray | None = None


def _finite(x: np.ndarray) -> np.ndarray:
    """np.nan_to_num(x, nan=0.0), skipped (it is slow) when x is all finite."""
    return x if np.isfinite(x).all() else np.nan_to_num(x, nan=0.0)


def authors_schedule(depth_ts: np.ndarray, start: int, wait_ns: int = AUTHORS_WAIT_NS) -> tuple[np.ndarray, np.ndarray]:
    """The authors' decision timing (spec §6.4): (action times, reward times), both snapshot times.

    An action at snapshot t_k; its reward at the first snapshot r_k with r_k − t_k >= 6 s; the next action at
    the snapshot after r_k. Computed from the day's snapshot times alone (it does not depend on the agent).
    """
    acts, rews = [], []
    i = int(np.searchsorted(depth_ts, start, side="left"))
    n = len(depth_ts)
    while i < n:
        j = int(np.searchsorted(depth_ts, depth_ts[i] + wait_ns, side="left"))
        if j >= n:
            break
        acts.append(depth_ts[i])
        rews.append(depth_ts[j])
        i = j + 1
    return np.array(acts, dtype=np.int64), np.array(rews, dtype=np.int64)


def _first_mid(day: MarketDay) -> float:
    mids = 0.5 * (day.bid_px[:, 0] + day.ask_px[:, 0])
    ok = np.isfinite(mids)
    return float(mids[ok][0]) if ok.any() else 1.0


def run_day(agent: DQNAgent, day: MarketDay, genas: ASParams, features, normalizer: Normalizer | None,
            epsilon: float, *, learn: bool, decision_seconds: float = 5.0, engine: EngineConfig | None = None,
            copy_every_ns: int | None = None, since_copy_ns: int = 0, timing: str = "grid",
            map_over: str = "fills", options: LearnerOptions = PAPER_OPTIONS,
            decision_loop: str = "compiled") -> tuple[DayRun, int]:
    """Play one day; with ``learn`` every transition is remembered and, when ``copy_every_ns`` is set, the
    target is copied every that much market time (``since_copy_ns`` carried in and returned).

    ``decision_loop = "compiled"`` runs the day in :mod:`alpha_as.agents.decision_loop` (bit-identical) when it
    covers the configuration (:func:`~alpha_as.agents.decision_loop.fallback_reason`), else the Python loop
    below, the reference (``"python"``).

    ``options`` (the paper's by default): ``reward_unit = "bps"`` divides each step's reward by quantity × the
    mid at the step's start (×1e4); ``day_end = "terminal"`` marks the day's last transition terminal, and
    ``"terminal_unwind"`` also adds max(unrealized, 0) to its reward, so that a day's rewards sum to realized +
    unrealized P&L with the inventory unwound at the book (the dampened measure never credits a gain the
    inventory holds, and the next day starts flat in the memory's eyes)."""
    opt = options
    t_start = time.perf_counter()
    if decision_loop == "compiled":
        from alpha_as.agents import decision_loop as dl

        if dl.fallback_reason(agent, timing, opt.inputs, opt.day_end) is None:
            run, since = dl.run_day(agent, day, genas, features, normalizer, epsilon, learn=learn,
                                    decision_seconds=decision_seconds, engine=engine, copy_every_ns=copy_every_ns,
                                    since_copy_ns=since_copy_ns, map_over=map_over, options=opt)
            run.info.update(decision_loop="compiled", loop_seconds=time.perf_counter() - t_start)
            return run, since
    elif decision_loop != "python":
        raise ValueError(f"decision_loop must be 'compiled' or 'python', got {decision_loop!r}")
    sb = SteppedBacktest(day, initial_params(genas), engine, decision_seconds=decision_seconds)
    obs = sb.reset()
    bt = sb.bt
    if timing == "authors":
        act_t, rew_t = authors_schedule(bt.day.depth_ts, obs["t"])
        times = np.union1d(act_t, rew_t) if len(act_t) else np.array([obs["t"]], dtype=np.int64)
    else:
        times = decision_times(bt.first_grid, bt.last_event, bt.grid_ns)
    start = initial_params(genas)
    observer = Observer(sb.bt.day, times, features, inputs=opt.inputs, quantity=start.quantity)
    cfg = agent.cfg
    seq = cfg.seq_len if cfg.variant == "lstm" else 1
    window = np.full((seq, cfg.n_inputs), 0.0 if normalizer is not None else np.nan)
    max_z = np.zeros(cfg.n_inputs) if normalizer is not None else None

    def state(t: int) -> np.ndarray:
        nonlocal window
        window = np.roll(window, -1, axis=0)
        x = observer.raw(sb.bt, t)
        if normalizer is None:
            window[-1] = x
        else:  # z-scored (NaN → 0) and clipped; the day's largest |z| is taken before the clip
            z = normalizer.transform(x[None, :])[0]
            np.maximum(max_z, np.abs(z), out=max_z)
            window[-1] = z if opt.z_clip is None else np.clip(z, -opt.z_clip, opt.z_clip)
        return window.reshape(-1).copy()

    per_action = reference.action_params(genas)  # built once, not per step
    ts, acts, rews, dones, seen, copies = [], [], [], [], [], 0
    counts_copies = agent.cfg.target_update == "copy"
    mid = [obs["mid"] if math.isfinite(obs["mid"]) else _first_mid(bt.day)]
    notional_bps = 1e4 / start.quantity

    def shape(r: float, o: dict, last: bool) -> float:
        """The stored reward: the unit, then the terminal unwind; ``mid[0]`` is the mid at the step's start."""
        if last and opt.day_end == "terminal_unwind":
            u = o["unrealized_pnl"]
            r += max(u, 0.0) if math.isfinite(u) else 0.0
        if opt.reward_unit == "bps":
            r = r * notional_bps / mid[0]
        if math.isfinite(o["mid"]):
            mid[0] = o["mid"]
        return r if opt.reward_scale == 1.0 else r / opt.reward_scale

    def record(t: int, t2: int, s, a: int, r: float, s2, last: bool) -> None:
        nonlocal since_copy_ns, copies
        done = last and opt.day_end != "continue"
        if learn:
            agent.remember(s, a, r, s2, done)
            if copy_every_ns is not None:
                since_copy_ns += t2 - t
                if since_copy_ns >= copy_every_ns:
                    agent.copy_target()
                    copies += int(counts_copies)
                    since_copy_ns = 0
        ts.append(t)
        acts.append(a)
        rews.append(r)
        dones.append(float(done))
        seen.append(s)

    if timing == "authors":
        for k in range(len(act_t)):
            t = int(act_t[k])
            o, _, _, _ = sb.step_to(t)  # no reward: the gap after the previous reward snapshot
            if math.isfinite(o["mid"]):
                mid[0] = o["mid"]
            s = state(t)
            a = agent.act(_finite(s), epsilon)
            o, r, _, info = sb.step_to(int(rew_t[k]), per_action[a])
            last = k == len(act_t) - 1
            record(t, info["t"], s, a, shape(r, o, last), state(info["t"]), last)
        sb.step_to(bt.last_event)
    else:
        t = obs["t"]
        s = state(t)
        done = False
        while not done:
            a = agent.act(_finite(s), epsilon)
            o, r, done, info = sb.step(per_action[a])
            t2 = info["t"]
            s2 = state(t2)
            record(t, t2, s, a, shape(r, o, done), s2, done)
            s, t = s2, t2
    states = np.array([_finite(x) for x in seen]) if seen else np.zeros((0, cfg.state_dim))
    run = DayRun(sb.result(map_over), np.array(ts, np.int64), np.array(acts, np.int64), np.array(rews), copies,
                 dones=np.array(dones), states=states, max_abs_z=max_z,
                 info={"decision_loop": "python", "loop_seconds": time.perf_counter() - t_start})
    return run, since_copy_ns


def normalize_memory(mem: ReplayMemory, normalizer: Normalizer, n_inputs: int,
                     z_clip: float | None = None) -> ReplayMemory:
    """z-score the raw (NaN-holding) states of a memory block by block (LSTM windows hold several states),
    clipped to ±z_clip when set."""
    d = mem.to_arrays()
    for k in ("states", "next_states"):
        x = d[k].reshape(-1, n_inputs)
        z = normalizer.transform(x)
        if z_clip is not None:
            z = np.clip(z, -z_clip, z_clip)
        d[k] = z.reshape(d[k].shape)
    return ReplayMemory.from_arrays(d)


def raw_states(mem: ReplayMemory, n_inputs: int) -> np.ndarray:
    """The newest state of each stored row (the last block of an LSTM window)."""
    return mem.states[: len(mem), -n_inputs:]


# ---- training runs (in-process or in spawned workers) --------------------------------------------------


def run_seed(seed: int, iteration: int, run: int) -> int:
    return int(np.random.SeedSequence([seed, iteration, run]).generate_state(1)[0])


_DAY_CACHE: dict[tuple, MarketDay] = {}


def _cached_day(data: str, instrument: str, date: str, window: str) -> MarketDay:
    key = (data, instrument, date, window)
    if key not in _DAY_CACHE:
        _DAY_CACHE.clear()
        _DAY_CACHE[key] = load_market_day(data, instrument, date, window)
    return _DAY_CACHE[key]


def training_run(job: dict) -> dict:
    """One training backtest: fresh agent with the job's weights and seed, empty memory; returns its memory."""
    if job["in_worker"]:
        torch.set_num_threads(1)
    cfg = AlphaASConfig.from_dict(job["config"])
    agent = DQNAgent(cfg.dqn_config(seed=job["seed"]))
    agent.online.load_state_dict(job["online"])
    agent.target.load_state_dict(job["target"])
    agent.fitted, agent.target_fitted = job["fitted"], job["target_fitted"]
    day = _cached_day(job["data"], job["instrument"], job["date"], cfg.window)
    norm = Normalizer.from_dict(job["normalizer"]) if job["normalizer"] else None
    run, _ = run_day(agent, day, ASParams.from_dict(job["genas"]), cfg.features, norm, job["epsilon"],
                     learn=True, decision_seconds=cfg.decision_seconds, timing=cfg.timing,
                     engine=cfg.engine_config(), options=LearnerOptions.of(cfg, job.get("reward_scale", 1.0)),
                     decision_loop=cfg.decision_loop)
    return {"memory": agent.memory.trimmed().to_arrays(), "final_pnl": run.result.metrics.final_total_pnl,
            "steps": len(run.actions)}


# ---- the model folder and protocols --------------------------------------------------------------------


class AlphaAS:
    """An Alpha-AS model in a folder: config, Gen-AS parameters, normaliser, agent and protocol position."""

    def __init__(self, folder: str | Path, config: AlphaASConfig, genas: ASParams) -> None:
        self.folder = Path(folder)
        self.config = config
        self.genas = genas
        self.agent = DQNAgent(config.dqn_config())
        self.normalizer: Normalizer | None = None
        self.reward_scale = 1.0
        self.rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
        self.iterations_done = 0
        self.test_days: list[str] = []
        self.since_copy_ns = 0
        self.history: list[dict] = []
        self.training: dict = {}
        self.diagnostics: dict = {"fits": [], "checks": [], "days": []}
        self._ckpt = 0
        self._on_disk = False
        """The folder's alpha_as.json is this model's last checkpoint (it was loaded or saved here)."""

    # -- checkpoints
    def save(self) -> None:
        """A new checkpoint that keeps the previous one: agent-N.pt (atomic, fsync'd); the current alpha_as.json
        copied to alpha_as.json.prev; alpha_as.json naming agent-N.pt with its sha256 (atomic); the previous
        agent file renamed agent-(N-1).pt.prev; older files removed. A kill at any point leaves the latest or the
        previous checkpoint whole, and :meth:`load` falls back to the previous one when the latest is unusable."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._ckpt += 1
        name = f"agent-{self._ckpt:04d}.pt"
        self.agent.save(self.folder / name)
        state, prev = self.folder / STATE_FILE, self.folder / PREV_STATE_FILE
        prev_agent = None
        if self._on_disk and state.is_file():
            data = state.read_bytes()
            write_bytes_atomic(data, prev, fsync=True)
            with contextlib.suppress(ValueError, AttributeError):
                prev_agent = json.loads(data).get("agent_file")
        else:  # a new model: a previous checkpoint in the folder is not its own
            prev.unlink(missing_ok=True)
        doc = {"config": self.config.to_dict(), "genas": self.genas.to_dict(), "agent_file": name,
               "agent_sha256": sha256_file(self.folder / name), "checkpoint": self._ckpt,
               "normalizer": self.normalizer.to_dict() if self.normalizer else None,
               "reward_scale": self.reward_scale, "iterations_done": self.iterations_done, "test_days": self.test_days,
               "since_copy_ns": self.since_copy_ns, "rng": self.rng.bit_generator.state,
               "training": self.training, "history": self.history, "diagnostics": self.diagnostics}
        write_json_atomic(doc, state)
        self._on_disk = True
        write_text_atomic(json.dumps(self.diagnostics_doc(), indent=1) + "\n", self.folder / DIAGNOSTICS_FILE)
        keep = {name}
        if isinstance(prev_agent, str) and prev_agent != name:
            keep.add(f"{prev_agent}.prev")
            if (self.folder / prev_agent).is_file():
                os.replace(self.folder / prev_agent, self.folder / f"{prev_agent}.prev")
        for p in [*self.folder.glob("agent-*.pt"), *self.folder.glob("agent-*.pt.prev")]:
            if p.name not in keep:
                p.unlink()

    @classmethod
    def exists(cls, folder: str | Path) -> bool:
        return (Path(folder) / STATE_FILE).is_file() or (Path(folder) / PREV_STATE_FILE).is_file()

    @classmethod
    def load(cls, folder: str | Path, warn: Callable[[str], None] | None = None) -> AlphaAS:
        """The model's latest checkpoint; when it is unreadable (a truncated or changed alpha_as.json or agent
        file), the previous one, saying so in one line through ``warn`` (default: stderr) and making it the
        latest again: the steps after it are replayed, identically, as after a kill between a step's outputs and
        its checkpoint. Without a usable checkpoint: one line saying to delete the folder to retrain."""
        folder = Path(folder)
        try:
            return cls._load_state(folder, folder / STATE_FILE)
        except InputError as e:
            latest = str(e)
        prev = folder / PREV_STATE_FILE
        if not prev.is_file():
            raise InputError(f"{latest}; no previous checkpoint to fall back to: delete {folder} to retrain the model")
        try:
            m = cls._load_state(folder, prev)
        except InputError as e:
            raise InputError(f"{latest}; the previous checkpoint is unusable too ({e}): delete {folder} to retrain "
                             "the model") from None
        write_bytes_atomic(prev.read_bytes(), folder / STATE_FILE, fsync=True)  # the previous one is the latest now
        m._on_disk = True
        (warn or _warn)(f"{latest}; resuming from the previous checkpoint ({m.iterations_done} training iteration(s), "
                        f"{len(m.test_days)} test session(s) done), which replays the steps after it identically")
        return m

    @classmethod
    def _load_state(cls, folder: Path, path: Path) -> AlphaAS:
        """The checkpoint of the state file ``path`` (alpha_as.json or alpha_as.json.prev); InputError if unusable."""
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            why = "is missing" if isinstance(e, FileNotFoundError) else f"is unreadable (truncated?): {e}"
            raise InputError(f"{path} {why}") from None
        try:
            m = cls(folder, AlphaASConfig.from_dict(doc["config"], source=f"{path}: config"),
                    ASParams.from_dict(doc["genas"], source=f"{path}: genas"))
            agent_path = folder / doc["agent_file"]
            if not agent_path.is_file() and (folder / f"{doc['agent_file']}.prev").is_file():
                agent_path = folder / f"{doc['agent_file']}.prev"  # the previous checkpoint's agent file
            if doc.get("agent_sha256") and agent_path.is_file() and sha256_file(agent_path) != doc["agent_sha256"]:
                raise InputError("does not match the sha256 recorded in its checkpoint (truncated or changed since "
                                 "it was written)", path=agent_path)
            m.agent = DQNAgent.load(agent_path)
            m.normalizer = Normalizer.from_dict(doc["normalizer"]) if doc["normalizer"] else None
            m.reward_scale = float(doc.get("reward_scale", 1.0))
            m.rng.bit_generator.state = doc["rng"]
            m.iterations_done, m.test_days = int(doc["iterations_done"]), list(doc["test_days"])
            m.since_copy_ns, m.training, m.history = int(doc["since_copy_ns"]), doc["training"], doc["history"]
            m._ckpt = int(doc["checkpoint"])
            m.diagnostics = doc.get("diagnostics") or {"fits": [], "checks": [], "days": []}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise InputError(f"bad Alpha-AS model file: {e!r}", path=path) from None
        m._on_disk = path.name == STATE_FILE  # a fallback's caller rewrites alpha_as.json from the previous one
        return m

    def diagnostics_doc(self) -> dict:
        """diagnostics.json (format in :mod:`alpha_as.agents.diagnostics`), NaN as null."""
        name = self.folder.parent.name if self.folder.name.startswith("seed=") else self.folder.name
        return plain({"format": diag.FORMAT, "model": name, "agent": self.config.agent, "seed": self.config.seed,
                           "preset": self.config.preset, "output_activation": self.agent.cfg.output_activation,
                           **self.diagnostics})

    # -- training
    def train(self, data: str | Path, instrument: str, date: str, *, stop_after: int | None = None,
              log=None) -> None:
        """Training iterations from the saved position on; ``stop_after`` = stop after that many iterations in
        this call (simulates a kill). Checkpoints after every iteration."""
        cfg = self.config
        date = str(store.parse_date(date))
        if self.training and self.training != {"data": str(data), "instrument": instrument, "date": date}:
            raise InputError(f"{self.folder}: the model was trained on {self.training}, not on {instrument} {date}")
        self.training = {"data": str(data), "instrument": instrument, "date": date}
        load_market_day(data, instrument, date, cfg.window)  # fail early on bad input
        torch.set_num_threads(cfg.torch_threads)
        done_now = 0
        pool = None
        try:
            if cfg.workers > 1:
                pool = ProcessPoolExecutor(max_workers=cfg.workers, mp_context=get_context("spawn"))
            while self.iterations_done < cfg.iterations and (stop_after is None or done_now < stop_after):
                self._iteration(str(data), instrument, date, pool, log)
                done_now += 1
        finally:
            if pool is not None:
                pool.shutdown()

    def _iteration(self, data: str, instrument: str, date: str, pool, log) -> None:
        cfg, i, a = self.config, self.iterations_done, self.agent
        eps = 1.0 - i / cfg.iterations
        base = {"config": cfg.to_dict(), "genas": self.genas.to_dict(), "data": data, "instrument": instrument,
                "date": date, "epsilon": eps, "online": a.online.state_dict(), "target": a.target.state_dict(),
                "fitted": a.fitted, "target_fitted": a.target_fitted,
                "normalizer": self.normalizer.to_dict() if self.normalizer else None, "in_worker": pool is not None,
                "reward_scale": self.reward_scale}
        jobs = [{**base, "seed": run_seed(cfg.seed, i, r)} for r in range(cfg.runs)]
        outs = list(pool.map(training_run, jobs)) if pool is not None else [training_run(j) for j in jobs]
        mems = [ReplayMemory.from_arrays(o["memory"]) for o in outs]
        if self.normalizer is None:  # first iteration: fit the z-score on its raw states
            raw = np.concatenate([raw_states(m, cfg.n_inputs) for m in mems])
            self.normalizer = Normalizer.fit(raw, list(cfg.features) + list(PRIVATE_FEATURES))
            mems = [normalize_memory(m, self.normalizer, cfg.n_inputs, cfg.z_clip) for m in mems]
            if cfg.reward_scaling == "std":  # likewise the reward scale, on the same iteration's rewards
                r = np.concatenate([m.rewards[: len(m)] for m in mems])
                sd = float(np.std(r)) if len(r) else 0.0
                self.reward_scale = sd if np.isfinite(sd) and sd > 0 else 1.0
                for m in mems:
                    m.rewards[: len(m)] /= self.reward_scale
        merged = merge_memories([a.memory, *mems], self.rng, a.cfg.memory_size)
        a.set_memory(merged)
        fit = a.fit()
        a.copy_target()
        self.diagnostics["fits"].append(plain(diag.fit_record(fit, "train", i, None)))
        check = diag.memories_check(a, mems)  # this iteration's runs, in order, against the network just fitted
        self.diagnostics["checks"].append(plain({"phase": "train", "index": i, "session": None, **check}))
        self.iterations_done += 1
        rec = {"phase": "train", "iteration": i, "epsilon": eps, "rows": len(merged),
               "run_pnl": [o["final_pnl"] for o in outs], "fit_epochs": fit.epochs,
               "fit_val_rmse": fit.best_val_rmse, "fit_seconds": fit.seconds}
        self.history.append(rec)
        self.save()
        if log:
            log(f"iteration {i + 1}/{cfg.iterations}: ε {eps:.1f}, memory {len(merged)} rows, fit "
                f"{fit.epochs} epochs val RMSE {fit.best_val_rmse:.5f} ({fit.seconds:.1f} s)")

    # -- test
    def test_day(self, day: MarketDay, *, learn: bool = True, seed: int | None = None, save: bool = True,
                 session: str | None = None) -> DayRun:
        """One test day with ε = test_epsilon; with ``learn`` the memory grows, the prediction network is
        refitted at the end of the day, the target copied every ``target_copy_hours`` and (with ``save``) the
        model saved. ``save=False`` leaves the checkpoint to the caller (``save()``), e.g. after it has written
        the day's outputs, so that a kill in between replays the day from the previous checkpoint. ``session`` is
        the name recorded in ``test_days`` (default: the date; sessions of one date need their window too)."""
        cfg = self.config
        if self.normalizer is None:
            raise InputError(f"{self.folder}: the model is not trained (no normaliser); run alpha-as train first")
        if seed is not None:
            self.agent.rng = np.random.default_rng(seed)
        torch.set_num_threads(cfg.torch_threads)
        copy_ns = int(round(cfg.target_copy_hours * HOUR_NS)) if learn else None
        run, since = run_day(self.agent, day, self.genas, cfg.features, self.normalizer, cfg.test_epsilon,
                             learn=learn, decision_seconds=cfg.decision_seconds, copy_every_ns=copy_ns,
                             timing=cfg.timing, since_copy_ns=self.since_copy_ns,
                             engine=cfg.engine_config(), map_over=cfg.map_over,
                             options=LearnerOptions.of(cfg, self.reward_scale), decision_loop=cfg.decision_loop)
        names = list(cfg.features) + list(PRIVATE_FEATURES)
        day_diag = plain(diag.day_diagnostics(self.agent, run, names, session or str(day.date)))
        run.info["diagnostics"] = day_diag
        if learn:
            k = len(self.test_days)
            check = day_diag.pop("check")
            self.diagnostics["days"].append(day_diag)
            self.diagnostics["checks"].append({"phase": "test", "index": k, "session": day_diag["session"], **check})
            fit = self.agent.fit()
            self.diagnostics["fits"].append(plain(diag.fit_record(fit, "test", k, day_diag["session"])))
            self.since_copy_ns = since
            self.test_days.append(session or str(day.date))
            self.history.append({"phase": "test", "date": str(day.date), "rows": len(self.agent.memory),
                                 "target_copies": run.target_copies, "fit_epochs": fit.epochs,
                                 "final_pnl": run.result.metrics.final_total_pnl})
            if save:
                self.save()
            run.info["fit_seconds"] = fit.seconds
        return run


def write_day(run: DayRun, out: str | Path, extra: dict | None = None) -> Path:
    """BacktestResult.write, then grid.parquet rewritten with the step's action, risk_aversion and skew (the
    reference policies' rule, :func:`alpha_as.agents.reference.write_day`: the action chosen at t applies on
    (t, t + step]; rows before the first action get action −1 and the initial γ 0.9, skew 0)."""
    return reference.write_day(run, out, extra)
