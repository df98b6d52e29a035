"""Reference policies for the Alpha-AS agents: a random and a constant choice among the same 20 actions, on the
same AS base, on the same clock. No torch (they run in the runner's worker pool beside the baselines).

Rules (shared with :mod:`alpha_as.agents.alpha_as`, whose ``run_day`` they mirror for ``timing = "grid"``):

* **Base parameters**: Gen-AS's best with the authors' override before the first action (:func:`initial_params`:
  γ 0.9, window_tick 25, skew 0). Action ``a`` sets (γ, skew) = ``actions.action_to_params(a)`` on that base;
  the 20 parameter sets are built once per day (:func:`action_params`).
* **Timing**: decisions on the fixed clock grid of :class:`~alpha_as.engine.backtest.SteppedBacktest`, at
  ``first_grid``, + ``decision_seconds``, ... ; the action chosen at ``t`` applies to the snapshots after ``t``
  up to the next decision. Before the first decision the base parameters hold.
* **random** (:func:`run_random`): at every decision an action drawn uniformly from 0..19 by
  ``np.random.default_rng(np.random.SeedSequence([seed, 7]))`` — seeded, reproducible, and a stream of its
  own (the agents draw from ``SeedSequence([seed, ...])`` with other keys).
* **constant K** (:func:`run_constant`): action K at every decision. Run on the compiled loop without a Python
  step every 5 s: the base parameters up to the first decision time, then K's parameters to the end of the day
  — the same two parameter sets at the same times as stepping ``SteppedBacktest`` with K every 5 s
  (:func:`run_stepped`), so the fills, the grid and the metrics are identical (tests/test_reference.py). The
  run is deterministic: it takes no seed.
* **Records**: :func:`write_day` writes the engine's fills.parquet / grid.parquet / metrics.json, with the
  grid's ``action``, ``risk_aversion`` and ``skew`` columns as the agents write them (the action chosen at t
  applies on (t, t + step]; rows before the first decision get action −1, γ 0.9, skew 0).
* **Selection of a constant** (:func:`select_action`): the highest value, ties to the lowest index — the
  training-session choice uses the GA's fitness (the day's per-fill Sharpe of realized P&L,
  ``DayMetrics.sharpe``, as ``alpha_as.tuning.genas.evaluate``), the oracle the mean of that Sharpe over the
  test sessions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from alpha_as.agents.actions import INITIAL_PARAMS, N_ACTIONS, action_to_params
from alpha_as.data.store import MarketDay
from alpha_as.engine.backtest import Backtest, BacktestResult, SteppedBacktest
from alpha_as.engine.config import EngineConfig
from alpha_as.strategies.avellaneda_stoikov import ASParams

POLICIES = ("random", "constant")
DECISION_SECONDS = 5.0
"""The paper's decision period (``AlphaASConfig.decision_seconds``' default)."""
RANDOM_STREAM = 7
"""Second key of the random policy's SeedSequence([seed, 7])."""


def initial_params(genas: ASParams) -> ASParams:
    """Gen-AS's parameters with the authors' override before the first action (γ 0.9, window 25, skew 0)."""
    return replace(genas, skew=0.0, **INITIAL_PARAMS)


def action_params(genas: ASParams) -> list[ASParams]:
    """The AS parameters of each of the 20 actions: (γ, skew) of the action on :func:`initial_params`."""
    start = initial_params(genas)
    return [replace(start, **action_to_params(a)) for a in range(N_ACTIONS)]


def check_action(action: object, source: str = "action") -> int:
    """``action`` as an int in 0..19, else ValueError naming ``source``."""
    if isinstance(action, bool) or not isinstance(action, (int, np.integer)) or not 0 <= int(action) < N_ACTIONS:
        raise ValueError(f"{source} must be an integer in 0..{N_ACTIONS - 1}, got {action!r}")
    return int(action)


def random_rng(seed: int) -> np.random.Generator:
    """The random policy's generator for a run's seed."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), RANDOM_STREAM]))


@dataclass
class PolicyRun:
    """What a policy did on one day: the engine's result and one row per decision (time, action, reward;
    rewards are the stepped path's change of realized + min(unrealized, 0), NaN on the compiled path)."""

    result: BacktestResult
    t: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    info: dict = field(default_factory=dict)


def _engine(engine: EngineConfig | None, decision_seconds: float) -> EngineConfig:
    cfg = engine or EngineConfig()
    if cfg.grid_seconds != decision_seconds:  # as SteppedBacktest does: the grid is the decision clock
        cfg = EngineConfig(**{**cfg.to_dict(), "grid_seconds": decision_seconds})
    return cfg


def run_stepped(day: MarketDay, genas: ASParams, choose: Callable[[int], int], *,
                engine: EngineConfig | None = None, decision_seconds: float = DECISION_SECONDS,
                map_over: str = "fills") -> PolicyRun:
    """Step one day on :class:`SteppedBacktest` as the agents do (grid timing); ``choose(t)`` gives the action
    taken at decision time ``t`` (ns)."""
    sb = SteppedBacktest(day, initial_params(genas), engine, decision_seconds=decision_seconds)
    per_action = action_params(genas)
    t = sb.reset()["t"]
    ts, acts, rews = [], [], []
    done = False
    while not done:
        a = int(choose(t))
        _, r, done, info = sb.step(per_action[a])
        ts.append(t)
        acts.append(a)
        rews.append(r)
        t = info["t"]
    return PolicyRun(sb.result(map_over), np.array(ts, np.int64), np.array(acts, np.int64), np.array(rews))


def run_random(day: MarketDay, genas: ASParams, seed: int, *, engine: EngineConfig | None = None,
               decision_seconds: float = DECISION_SECONDS, map_over: str = "fills",
               decision_loop: str = "compiled") -> PolicyRun:
    """The random policy: a uniform action among the 20 at every decision, from :func:`random_rng`. On the
    compiled decision loop (:func:`alpha_as.agents.decision_loop.run_random`) by default, identical to the stepped
    path (``decision_loop = "python"``)."""
    rng = random_rng(seed)
    if decision_loop == "compiled":
        from alpha_as.agents import decision_loop as dl

        result, t, acts, rews = dl.run_random(day, genas, rng, engine=engine, decision_seconds=decision_seconds,
                                              map_over=map_over)
        return PolicyRun(result, t, acts, rews, {"policy": "random"})
    if decision_loop != "python":
        raise ValueError(f"decision_loop must be 'compiled' or 'python', got {decision_loop!r}")
    run = run_stepped(day, genas, lambda _t: int(rng.integers(N_ACTIONS)), engine=engine,
                      decision_seconds=decision_seconds, map_over=map_over)
    run.info["policy"] = "random"
    return run


def run_constant(day: MarketDay, genas: ASParams, action: int, *, engine: EngineConfig | None = None,
                 decision_seconds: float = DECISION_SECONDS, map_over: str = "fills") -> PolicyRun:
    """The constant policy on the compiled loop: the base parameters up to the first decision time, then the
    action's parameters to the end of the day (equal to :func:`run_stepped` with ``choose = lambda t: action``)."""
    action = check_action(action)
    bt = Backtest(day, initial_params(genas), _engine(engine, decision_seconds))
    bt.run_until(bt.first_grid)
    p = action_params(genas)[action]
    bt.strategy = p
    bt.params[:] = p.to_array()
    result = bt.run(map_over)
    if bt.last_event < bt.first_grid:
        t = np.array([bt.first_grid], dtype=np.int64)
    else:  # the decisions the stepped path takes: first_grid, + step, ... up to the last event
        t = np.arange(bt.first_grid, bt.last_event + 1, bt.grid_ns, dtype=np.int64)
    return PolicyRun(result, t, np.full(len(t), action, np.int64), np.full(len(t), math.nan),
                     {"policy": "constant", "action": action})


def write_day(run: PolicyRun, out: str | Path, extra: dict | None = None) -> Path:
    """BacktestResult.write, then grid.parquet rewritten with the step's action, risk_aversion and skew (the
    rule of ``alpha_as.agents.alpha_as.write_day``, which cannot be imported without torch)."""
    import pyarrow as pa

    from alpha_as.data.store import write_table_atomic

    out = run.result.write(out, extra)
    res = run.result
    idx = np.searchsorted(run.t, res.grid_ts, side="left") - 1  # last decision strictly before the row
    action = np.where(idx >= 0, run.actions[np.clip(idx, 0, None)], -1) if len(run.t) else np.full(len(idx), -1)
    params = [action_to_params(a) if a >= 0 else {"risk_aversion": INITIAL_PARAMS["risk_aversion"], "skew": 0.0}
              for a in action]
    cols = {"timestamp": pa.array(res.grid_ts, pa.int64())}
    cols.update({k: pa.array(v) for k, v in res.grid.items()})
    cols["action"] = pa.array(action.astype(np.int16))
    cols["risk_aversion"] = pa.array(np.array([p["risk_aversion"] for p in params], dtype=np.float64))
    cols["skew"] = pa.array(np.array([p["skew"] for p in params], dtype=np.float64))
    write_table_atomic(pa.table(cols), out / "grid.parquet")
    return out


def select_action(values: Sequence[float]) -> int:
    """Index of the highest value; ties (and only NaN) go to the lowest index; NaN never wins."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) != N_ACTIONS:
        raise ValueError(f"expected {N_ACTIONS} values, one per action, got {len(v)}")
    v = np.where(np.isnan(v), -np.inf, v)
    return int(np.argmax(v))  # argmax returns the first maximum


def train_table(fitness: Sequence[float]) -> dict:
    """constant-train: the GA's fitness of each action on the training session and the chosen action."""
    f = [float(x) for x in fitness]
    return {"rule": "argmax of the GA's fitness (per-fill Sharpe of realized P&L) on the training session; "
                    "ties -> lowest index", "fitness": f, "action": select_action(f),
            "params": {str(a): action_to_params(a) for a in range(N_ACTIONS)}}


def oracle_table(sharpe: Sequence[Sequence[float]], sessions: Sequence[str]) -> dict:
    """constant-oracle: the 20 × sessions Sharpe matrix (rows = actions), each action's mean over the test
    sessions and the chosen action (the highest mean)."""
    m = np.asarray(sharpe, dtype=np.float64)
    if m.shape != (N_ACTIONS, len(sessions)):
        raise ValueError(f"expected a {N_ACTIONS} x {len(sessions)} matrix, got {m.shape}")
    means = [float(x) for x in m.mean(axis=1)]
    return {"rule": "argmax over actions of the mean per-fill Sharpe over the test sessions (hindsight); "
                    "ties -> lowest index", "sessions": list(sessions),
            "sharpe": [[float(x) for x in row] for row in m], "mean": means, "action": select_action(means)}
