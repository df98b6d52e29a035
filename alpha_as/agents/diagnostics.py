"""Does the agent learn? Figures computed on the agent's own transitions (issue #10 §1).

* **Q vs Monte-Carlo return**: for each transition t of a day (or a training run), in order,
  G_t = r_t + γd · (1 − done_t) · G_{t+1} (truncated at the end of the day), against the online network's
  Q(s_t, a_t); their correlation and the mean bias Q − G. A network whose values track returns has a positive
  correlation and a small bias; the issue measured corr ≈ 0 and Q ≈ 0.65 against G ≈ −0.01 for the paper's.
* **Greedy-action distribution** over a day's states: the share of each of the 20 actions in argmax Q, its
  entropy in bits (uniform = log2 20 = 4.32) and the top action's share; also the entropy of the actions
  actually taken (ε-greedy).
* **Saturation**: the share of Q outputs with |Q| > 0.99 (tanh output only; None for a linear output).
* **Input drift**: per feature, the largest |z| of the day's z-scored states before any clipping.
* **Target lag**: the mean |Q_target − Q_online| when a fit computed its targets (``FitResult.target_online_gap``;
  0 = the "double" bootstrap used the online network itself).

These figures are written per model and seed to ``diagnostics.json`` (format below) by
:class:`~alpha_as.agents.alpha_as.AlphaAS` and shown by ``alpha-as diagnose`` and the report::

    {"format": 1, "model", "agent", "seed", "output_activation",
     "fits":   [{"phase", "index", "session", "rows", "epochs", "bellman_iterations", "first_train_loss",
                 "last_train_loss", "best_val_rmse", "target_online_gap", "seconds"}],
     "checks": [{"phase", "index", "session", "n", "q_mc_corr", "q_mc_bias", "q_mean", "mc_mean",
                 "reward_mean", "reward_std"}],
     "days":   [{"session", "date", "steps", "greedy_shares", "greedy_entropy_bits", "greedy_top_action",
                 "greedy_top_share", "taken_entropy_bits", "saturated_share", "max_abs_z", "max_abs_z_feature",
                 "max_abs_z_by_feature"}]}

NaN values are written as JSON null.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from alpha_as.agents.actions import N_ACTIONS

FORMAT = 1
SATURATION = 0.99


def mc_returns(rewards: np.ndarray, discount: float, dones: np.ndarray | None = None) -> np.ndarray:
    """Discounted returns G_t of one ordered episode, truncated after its last row (and at done rows)."""
    r = np.asarray(rewards, dtype=np.float64)
    d = np.zeros(len(r)) if dones is None else np.asarray(dones, dtype=np.float64)
    g = np.zeros(len(r))
    acc = 0.0
    for t in range(len(r) - 1, -1, -1):
        acc = r[t] + discount * (1.0 - d[t]) * acc
        g[t] = acc
    return g


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def q_vs_mc(q_taken: np.ndarray, returns: np.ndarray, rewards: np.ndarray) -> dict[str, Any]:
    """Correlation and mean bias of Q(s_t, a_t) against G_t, with the scale of both."""
    q, g, r = (np.asarray(x, dtype=np.float64) for x in (q_taken, returns, rewards))
    n = len(q)
    nan = math.nan
    return {"n": n, "q_mc_corr": _corr(q, g), "q_mc_bias": float(np.mean(q - g)) if n else nan,
            "q_mean": float(q.mean()) if n else nan, "mc_mean": float(g.mean()) if n else nan,
            "reward_mean": float(r.mean()) if n else nan, "reward_std": float(r.std()) if n else nan}


def entropy_bits(shares: np.ndarray) -> float:
    p = np.asarray(shares, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum()) if p.size else 0.0


def action_shares(actions: np.ndarray) -> np.ndarray:
    a = np.asarray(actions, dtype=np.int64)
    counts = np.bincount(a[(a >= 0) & (a < N_ACTIONS)], minlength=N_ACTIONS).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def greedy_stats(q: np.ndarray, output_activation: str) -> dict[str, Any]:
    """Greedy-action shares, entropy, top action and (tanh) saturation of a (steps, 20) array of Q-values."""
    shares = action_shares(np.argmax(q, axis=1)) if len(q) else np.zeros(N_ACTIONS)
    top = int(np.argmax(shares))
    sat = float(np.mean(np.abs(q) > SATURATION)) if output_activation == "tanh" and q.size else None
    return {"greedy_shares": [float(v) for v in shares], "greedy_entropy_bits": entropy_bits(shares),
            "greedy_top_action": top, "greedy_top_share": float(shares[top]), "saturated_share": sat}


def drift(max_abs_z: np.ndarray | None, names: Sequence[str]) -> dict[str, Any]:
    """The largest |z| of a day overall and per feature."""
    if max_abs_z is None or len(max_abs_z) == 0:
        return {"max_abs_z": math.nan, "max_abs_z_feature": "", "max_abs_z_by_feature": {}}
    z = np.asarray(max_abs_z, dtype=np.float64)
    j = int(np.argmax(z))
    return {"max_abs_z": float(z[j]), "max_abs_z_feature": names[j] if j < len(names) else str(j),
            "max_abs_z_by_feature": {str(n): float(v) for n, v in zip(names, z, strict=False)}}


def q_taken(agent, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(all Q-values, Q of the taken actions) of the agent's online network on ``states``."""
    if len(states) == 0:
        return np.zeros((0, N_ACTIONS)), np.zeros(0)
    q = agent._predict(agent.online, states)
    return q, q[np.arange(len(q)), np.asarray(actions, dtype=np.int64)]


def day_diagnostics(agent, run, names: Sequence[str], session: str | None = None) -> dict[str, Any]:
    """Diagnostics of one played day (``DayRun`` with its states), with the network the day was played with."""
    q, qa = q_taken(agent, run.states, run.actions)
    g = mc_returns(run.rewards, agent.cfg.discount, run.dones)
    out: dict[str, Any] = {"session": session or str(run.result.info.get("date", "")),
                           "date": str(run.result.info.get("date", "")), "steps": int(len(run.actions))}
    out.update(greedy_stats(q, agent.cfg.output_activation))
    out["taken_entropy_bits"] = entropy_bits(action_shares(run.actions))
    out.update(drift(run.max_abs_z, names))
    out["check"] = q_vs_mc(qa, g, run.rewards)
    return out


def memories_check(agent, memories: Sequence) -> dict[str, Any]:
    """Q vs MC on replay memories that each hold one run's transitions in order (a training iteration's runs,
    before they are merged)."""
    qs, gs, rs = [], [], []
    for m in memories:
        n = len(m)
        if n == 0:
            continue
        _, qa = q_taken(agent, m.states[:n], m.actions[:n])
        qs.append(qa)
        gs.append(mc_returns(m.rewards[:n], agent.cfg.discount, m.dones[:n]))
        rs.append(m.rewards[:n])
    if not qs:
        return q_vs_mc(np.zeros(0), np.zeros(0), np.zeros(0))
    return q_vs_mc(np.concatenate(qs), np.concatenate(gs), np.concatenate(rs))


def fit_record(fit, phase: str, index: int, session: str | None) -> dict[str, Any]:
    return {"phase": phase, "index": index, "session": session, "rows": fit.rows, "epochs": fit.epochs,
            "bellman_iterations": fit.bellman_iterations, "first_train_loss": fit.first_train_loss,
            "last_train_loss": fit.last_train_loss, "best_val_rmse": fit.best_val_rmse,
            "target_online_gap": fit.target_online_gap, "seconds": round(fit.seconds, 3)}


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """A short text summary of a diagnostics document (``alpha-as diagnose``)."""

    def f(v: Any, fmt: str = "+.3f") -> str:
        return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)

    lines = []
    checks = doc.get("checks", [])
    train = [c for c in checks if c.get("phase") == "train"]
    shown = train[:1] + train[-1:] if len(train) > 2 else train  # the first and the last training iteration
    for c in shown + [c for c in checks if c.get("phase") != "train"]:
        lines.append(f"Q vs MC return [{c.get('phase')} {c.get('session') or c.get('index')}]: corr "
                     f"{f(c.get('q_mc_corr'))}, bias {f(c.get('q_mc_bias'), '+.4g')} (mean Q {f(c.get('q_mean'), '+.4g')}"
                     f", mean G {f(c.get('mc_mean'), '+.4g')}, n {c.get('n')})")
    for d in doc.get("days", []):
        sat = d.get("saturated_share")
        lines.append(f"day {d.get('session')}: greedy entropy {f(d.get('greedy_entropy_bits'), '.2f')} bits "
                     f"(uniform 4.32), top action {d.get('greedy_top_action')} on {100 * d.get('greedy_top_share', 0):.1f} %"
                     f" of states, |Q|>0.99 {('n/a (linear output)' if sat is None else f'{100 * sat:.1f} %')}, "
                     f"max |z| {f(d.get('max_abs_z'), '.1f')} ({d.get('max_abs_z_feature')})")
    for r in doc.get("fits", [])[-3:]:
        lines.append(f"fit [{r.get('phase')} {r.get('index')}]: {r.get('rows')} rows, {r.get('epochs')} epochs, val RMSE "
                     f"{f(r.get('best_val_rmse'), '.4g')}, target-online gap {f(r.get('target_online_gap'), '.4g')}")
    return lines
