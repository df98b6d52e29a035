"""Does the agent learn? The report's summary of the agents' ``diagnostics.json`` files.

Each agent model (role agent or variant) may have ``RESULTS/models/<model>/seed=<s>/diagnostics.json``,
written by the agent code (format 1, see :mod:`alpha_as.agents.diagnostics`; NaN as JSON null). Per model
and seed the report gives:

* the correlation and mean bias of Q(s_t, a_t) against the Monte-Carlo discounted return G_t, after training
  (the last ``train`` check) and over the test days (the mean of the ``test`` checks);
* over the test days: the mean entropy of the greedy-action distribution (bits; uniform over the 20 actions =
  log2 20 = 4.32), the mean share of the top greedy action, the mean share of saturated Q outputs
  (|Q| > 0.99, tanh output only), and the largest input |z| with its feature and day;
* the mean target-online gap of the fits (training and test phases; 0 = the target network equals the
  online one) and the last fit's validation RMSE.

A missing file is skipped; an unreadable or malformed one gives one line "<path>: unreadable (<reason>)",
never an exception. ``plots/learning.png``: greedy entropy and max |z| (log scale) per test day.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alpha_as.report.load import AGENT_ROLES, TMP_MARK, Results
from alpha_as.report.tables import MISSING, fmt_num, md_escape

DIAGNOSTICS_FILE = "diagnostics.json"
FORMAT = 1
UNIFORM_BITS = math.log2(20)
_SEED_RE = re.compile(r"^seed=(-?\d+)$")
ROW_KEYS = ("model", "seed", "agent", "output_activation", "n_fits", "n_test_days", "q_mc_corr_train",
            "q_mc_bias_train", "q_mc_corr_test", "q_mc_bias_test", "greedy_entropy_bits", "greedy_top_share",
            "saturated_share", "max_abs_z", "max_abs_z_feature", "max_abs_z_session", "target_online_gap_train",
            "target_online_gap_test", "last_val_rmse")
"""The keys of one row (one agent model and seed), in this order in claims.json."""


class Unreadable(Exception):
    """A diagnostics.json that cannot be used (the message says why)."""


@dataclass(frozen=True)
class DaySeries:
    """One model and seed over its test days, for the plot."""

    model: str
    seed: int
    sessions: list[str]
    entropy: np.ndarray
    max_abs_z: np.ndarray


@dataclass
class Learning:
    """What the agents' diagnostics files say: one row and one day series per (model, seed) read, and one
    line per unreadable file; ``n_agents``: the agent models in the results."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    series: list[DaySeries] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    n_agents: int = 0


def _num(v: object) -> float:
    """A JSON number as a float; NaN for null, booleans, non-numbers and non-finite values."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan
    f = float(v)
    return f if math.isfinite(f) else math.nan


def _mean(values: list[float]) -> float:
    ok = [v for v in values if not math.isnan(v)]
    return float(np.mean(ok)) if ok else math.nan


def _entries(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = doc.get(key, [])
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise Unreadable(f"'{key}' is not a list of objects")
    return items


def read_diagnostics(path: Path) -> dict[str, Any]:
    """The parsed document (format 1); raises :class:`Unreadable` with the reason otherwise."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise Unreadable(f"{type(e).__name__}: {e}") from None
    if not isinstance(doc, dict):
        raise Unreadable("not a JSON object")
    if doc.get("format") != FORMAT:
        raise Unreadable(f"format {doc.get('format')!r}, expected {FORMAT}")
    for key in ("fits", "checks", "days"):
        _entries(doc, key)
    return doc


def summarise(doc: dict[str, Any], model: str, seed: int) -> tuple[dict[str, Any], DaySeries]:
    """The row of one diagnostics document (keys :data:`ROW_KEYS`) and its test-day series."""
    fits, checks, days = _entries(doc, "fits"), _entries(doc, "checks"), _entries(doc, "days")
    train = [c for c in checks if c.get("phase") == "train"]
    test = [c for c in checks if c.get("phase") == "test"]
    z = [_num(d.get("max_abs_z")) for d in days]
    zk = int(np.nanargmax(z)) if any(not math.isnan(v) for v in z) else -1
    sessions = [str(d.get("session") or d.get("date") or i) for i, d in enumerate(days)]
    out_act = doc.get("output_activation")
    row = {
        "model": model, "seed": seed, "agent": str(doc.get("agent") or ""),
        "output_activation": out_act if isinstance(out_act, str) else "",
        "n_fits": len(fits), "n_test_days": len(days),
        "q_mc_corr_train": _num(train[-1].get("q_mc_corr")) if train else math.nan,
        "q_mc_bias_train": _num(train[-1].get("q_mc_bias")) if train else math.nan,
        "q_mc_corr_test": _mean([_num(c.get("q_mc_corr")) for c in test]),
        "q_mc_bias_test": _mean([_num(c.get("q_mc_bias")) for c in test]),
        "greedy_entropy_bits": _mean([_num(d.get("greedy_entropy_bits")) for d in days]),
        "greedy_top_share": _mean([_num(d.get("greedy_top_share")) for d in days]),
        "saturated_share": _mean([_num(d.get("saturated_share")) for d in days]),
        "max_abs_z": z[zk] if zk >= 0 else math.nan,
        "max_abs_z_feature": str(days[zk].get("max_abs_z_feature") or "") if zk >= 0 else "",
        "max_abs_z_session": sessions[zk] if zk >= 0 else "",
        "target_online_gap_train": _mean([_num(f.get("target_online_gap")) for f in fits if f.get("phase") == "train"]),
        "target_online_gap_test": _mean([_num(f.get("target_online_gap")) for f in fits if f.get("phase") == "test"]),
        "last_val_rmse": _num(fits[-1].get("best_val_rmse")) if fits else math.nan,
    }
    series = DaySeries(model, seed, sessions, np.array([_num(d.get("greedy_entropy_bits")) for d in days]),
                       np.array(z, dtype=np.float64))
    return row, series


def _seed_dirs(folder: Path, seeds: tuple[int, ...] | None) -> list[tuple[int, Path]]:
    out = []
    for d in folder.iterdir():
        m = _SEED_RE.match(d.name)
        if d.is_dir() and TMP_MARK not in d.name and m and (seeds is None or int(m.group(1)) in seeds):
            out.append((int(m.group(1)), d))
    return sorted(out)


def collect(res: Results) -> Learning:
    """Read the diagnostics of every agent model (role agent or variant) of ``res``, in column order then
    seed order; never raises for a bad file."""
    agents = [m for m in res.models if m.role in AGENT_ROLES]
    out = Learning(n_agents=len(agents))
    for m in agents:
        folder = res.root / "models" / m.name
        if not folder.is_dir():
            continue
        for seed, sdir in _seed_dirs(folder, res.experiment.seeds):
            path = sdir / DIAGNOSTICS_FILE
            if not path.exists():
                continue
            rel = path.relative_to(res.root).as_posix()
            try:
                row, series = summarise(read_diagnostics(path), m.name, seed)
            except (Unreadable, TypeError, ValueError, AttributeError) as e:
                out.problems.append(f"{rel}: unreadable ({e})")
                continue
            out.rows.append(row)
            out.series.append(series)
    return out


# ------------------------------------------------------------------------------------------------ report

def _f(x: float) -> str:
    return fmt_num(x)


def _share(x: float) -> str:
    return MISSING if math.isnan(x) else f"{100.0 * x:.1f} %"


def section_markdown(res: Results, learning: Learning, plot: str | None) -> list[str]:
    """The "Does the agent learn?" section (``plot``: the path of plots/learning.png when drawn)."""
    out = ["## Does the agent learn?", ""]
    if learning.n_agents == 0:
        return out + ["No agent models in these results.", ""]
    out += [f"- {md_escape(p)}" for p in learning.problems]
    if learning.problems:
        out.append("")
    if not learning.rows:
        return out + ["No diagnostics found (models/<model>/seed=<s>/diagnostics.json).", ""]
    out += ["From each agent's `models/<model>/seed=<s>/diagnostics.json`. Q/MC: correlation and mean bias "
            "(Q − G) of the network's Q(s_t, a_t) against the Monte-Carlo discounted return G_t of the agent's "
            "own transitions, after training (last training check) and over the test days (mean of the daily "
            "checks): a network whose values track returns has a clearly positive correlation and a small bias. "
            f"Greedy entropy: bits of the greedy-action distribution over a day's states (uniform over 20 actions "
            f"= {UNIFORM_BITS:.2f}, 0 = one action everywhere), mean over the test days; top share: the most "
            "frequent greedy action's share; saturated: share of Q outputs with |Q| > 0.99 (tanh output only). "
            "Max |z|: the largest z-scored input over the test days (a sign of input drift), with its feature and "
            "day. Target-online gap: mean |Q_target(s') − Q_online(s')| when the fits computed their targets "
            "(0 = no separate target network), over the training and the test fits.", "",
            "| Model | Seed | Output | Q/MC corr train / test | Q/MC bias train / test | Greedy entropy (bits) | "
            "Top share | Saturated | Max \\|z\\| (feature, day) | Target-online gap train / test | Last val RMSE |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in learning.rows:
        zf = f" ({md_escape(r['max_abs_z_feature'])}, {r['max_abs_z_session']})" if r["max_abs_z_feature"] else ""
        out.append(f"| {md_escape(res.label(r['model']))} | {r['seed']} | {r['output_activation'] or MISSING} | "
                   f"{_f(r['q_mc_corr_train'])} / {_f(r['q_mc_corr_test'])} | "
                   f"{_f(r['q_mc_bias_train'])} / {_f(r['q_mc_bias_test'])} | {_f(r['greedy_entropy_bits'])} | "
                   f"{_share(r['greedy_top_share'])} | {_share(r['saturated_share'])} | {_f(r['max_abs_z'])}{zf} | "
                   f"{_f(r['target_online_gap_train'])} / {_f(r['target_online_gap_test'])} | "
                   f"{_f(r['last_val_rmse'])} |")
    out.append("")
    if plot:
        out += ["**Greedy-action entropy and max |z| per test day**", "", f"![learning]({plot})", ""]
    return out


def json_rows(learning: Learning) -> list[dict[str, Any]]:
    """The rows for claims.json's top-level "learning" key (NaN → null there)."""
    return [{k: r[k] for k in ROW_KEYS} for r in learning.rows]


def plot_learning(learning: Learning, path: Path) -> bool:
    """``plots/learning.png``: per agent model and seed, over its test days, the greedy entropy (top) and the
    max |z| (bottom, log scale); False (nothing written) when no series has a day."""
    from alpha_as.report.plots import new_figure, save_fig

    series = [s for s in learning.series if s.sessions]
    if not series:
        return False
    axis = sorted({x for s in series for x in s.sessions})
    pos = {x: i for i, x in enumerate(axis)}
    many_seeds = len({s.seed for s in series}) > 1
    fig = new_figure(figsize=(9, 6))
    top, bottom = fig.subplots(2, 1, sharex=True)
    for s in series:
        x = np.array([pos[v] for v in s.sessions])
        label = f"{s.model} seed {s.seed}" if many_seeds else s.model
        ok = ~np.isnan(s.entropy)
        top.plot(x[ok], s.entropy[ok], marker="o", ms=3, lw=1, label=label)
        ok = ~np.isnan(s.max_abs_z) & (s.max_abs_z > 0)
        bottom.plot(x[ok], s.max_abs_z[ok], marker="o", ms=3, lw=1, label=label)
    top.axhline(UNIFORM_BITS, color="grey", lw=0.8, ls="--", label="uniform (4.32)")
    top.set_ylabel("greedy entropy (bits)", fontsize=8)
    top.legend(fontsize=7, loc="best")
    if bottom.get_lines():
        bottom.set_yscale("log")
    bottom.set_ylabel("max |z| of the inputs", fontsize=8)
    step = max(1, len(axis) // 10)
    bottom.set_xticks(range(0, len(axis), step))
    bottom.set_xticklabels(axis[::step], rotation=30, ha="right", fontsize=7)
    for ax in (top, bottom):
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle("Does the agent learn? Greedy-action entropy and input drift per test day", fontsize=10)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.16, top=0.92, hspace=0.12)
    save_fig(fig, path)
    return True
