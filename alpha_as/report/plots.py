"""The report's figures (PNG): equity curves and inventory on selected days, box plots of the indicators,
and the Alpha-AS action frequencies per hour of the day.

Figures are drawn on :class:`matplotlib.figure.Figure` objects rendered by the Agg canvas, without pyplot,
so nothing global (backend, open figures) is touched. Only the needed grid columns are read. Files are
written atomically with no software/date metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from alpha_as.atomic import atomic_path
from alpha_as.errors import InputError
from alpha_as.report.load import HIGHER_IS_BETTER, INDICATORS, ModelInfo, Results

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
NS_PER_HOUR = 3_600_000_000_000


def new_figure(**kw) -> Figure:
    """A matplotlib Figure (matplotlib is imported here, on first use: the CLI starts without it)."""
    from matplotlib.figure import Figure

    return Figure(**kw)


def save_fig(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    return path


def grid_columns(path: Path) -> list[str]:
    """The column names of a ``grid.parquet`` (InputError naming the file when it cannot be read)."""
    try:
        return list(pq.read_schema(path).names)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"cannot read grid.parquet ({e})", path=path) from None


def read_grid(path: Path, columns: Sequence[str]) -> dict[str, np.ndarray] | None:
    """The given columns of a ``grid.parquet`` as numpy arrays; None when the file does not exist.

    Raises InputError naming the file when it cannot be read or lacks a column.
    """
    if not path.exists():
        return None
    missing = [c for c in columns if c not in grid_columns(path)]
    if missing:
        raise InputError(f"grid.parquet has no column(s) {', '.join(missing)}", path=path)
    try:
        t = pq.read_table(path, columns=list(columns))
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"cannot read grid.parquet ({e})", path=path) from None
    return {c: t.column(c).to_numpy(zero_copy_only=False) for c in columns}


def select_days(res: Results) -> list[str]:
    """The days of the equity and inventory plots: the first day, then the days with the largest and the
    smallest difference of final total P&L, first agent − reference (without them: the first and last day)."""
    days = [res.dates[0]]
    ref, agents = res.reference, res.agents
    pnl = res.day_values["final_total_pnl"]
    if ref is not None and agents:
        diff = pnl[res.index(agents[0].name)] - pnl[res.index(ref.name)]
        ok = np.flatnonzero(~np.isnan(diff))
        if ok.size:
            days += [res.dates[ok[np.argmax(diff[ok])]], res.dates[ok[np.argmin(diff[ok])]]]
    else:
        days.append(res.dates[-1])
    return list(dict.fromkeys(days))


def _hours(ts: np.ndarray) -> np.ndarray:
    return (np.asarray(ts, dtype=np.int64) % (24 * NS_PER_HOUR)) / NS_PER_HOUR


def plot_day_traces(res: Results, days: Sequence[str], column: str, ylabel: str, title: str, path: Path) -> bool:
    """One panel per day, one line per model (its lowest seed) of the grid ``column``; False if no grid."""
    height = 2.6 * len(days) + 0.6
    fig = new_figure(figsize=(9, height))
    axes = fig.subplots(len(days), 1, squeeze=False)[:, 0]
    drawn = False
    for ax, day in zip(axes, days, strict=True):
        for m in res.models:
            seeds = res.runs.get((m.name, day))
            if not seeds:
                continue
            s = min(seeds)
            g = read_grid(seeds[s] / "grid.parquet", ["timestamp", column])
            if g is None or g["timestamp"].size == 0:
                continue
            ax.plot(_hours(g["timestamp"]), g[column], lw=0.8, label=f"{m.label}")
            drawn = True
        ax.set_title(f"{day}", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=7, loc="best")
    axes[-1].set_xlabel("hour of day (UTC)", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.5 / height, top=1 - 0.65 / height, hspace=0.35)
    if drawn:
        save_fig(fig, path)
    return drawn


def plot_boxplots(res: Results, path: Path) -> Path:
    """Box plots of the per-day values of each indicator per model (2×2 panels)."""
    fig = new_figure(figsize=(10, 7))
    axes = fig.subplots(2, 2).ravel()
    for ax, ind in zip(axes, INDICATORS, strict=True):
        v = res.day_values[ind]
        data, labels = [], []
        for i, m in enumerate(res.models):
            x = v[i][~np.isnan(v[i])]
            if x.size:
                data.append(x)
                labels.append(m.label)
        if data:
            key = "tick_labels" if _has_tick_labels() else "labels"  # renamed in matplotlib 3.9
            ax.boxplot(data, **{key: labels})
        better = "higher" if HIGHER_IS_BETTER[ind] else "lower"
        ax.set_title(f"{res.indicator_label(ind)} ({better} is better)", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Per-day indicators", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.06, top=0.92, hspace=0.3, wspace=0.22)
    return save_fig(fig, path)


def _has_tick_labels() -> bool:
    import matplotlib

    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    return (major, minor) >= (3, 9)


def action_shares(res: Results, agent: str) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]] | None:
    """Per hour of day (UTC), the share of the grid rows with each γ value and each skew value, over every
    day and seed of ``agent``; rows before the first action (``action == -1``) are left out.

    Returns (hours with rows, {"risk_aversion": (values, shares[n_values, n_hours]), "skew": ...}), or
    None when no grid has the action columns.
    """
    hours_all, cols = [], {"risk_aversion": [], "skew": []}
    for (m, _day), seeds in sorted(res.runs.items()):
        if m != agent:
            continue
        for s in sorted(seeds):
            path = seeds[s] / "grid.parquet"
            if not path.exists():
                continue
            names = grid_columns(path)
            if "risk_aversion" not in names or "skew" not in names:
                continue
            want = ["timestamp", "risk_aversion", "skew"] + (["action"] if "action" in names else [])
            g = read_grid(path, want) or {}
            keep = g["action"] >= 0 if "action" in g else np.ones(g["timestamp"].size, dtype=bool)
            hours_all.append((g["timestamp"][keep] // NS_PER_HOUR) % 24)
            for c in cols:
                cols[c].append(g[c][keep])
    if not hours_all:
        return None
    hour = np.concatenate(hours_all).astype(np.int64)
    if hour.size == 0:
        return None
    per_hour = np.bincount(hour, minlength=24)
    hours = np.flatnonzero(per_hour)
    out = {}
    for c, parts in cols.items():
        x = np.round(np.concatenate(parts), 12)
        vals = np.unique(x)
        shares = np.array([np.bincount(hour[x == v], minlength=24)[hours] / per_hour[hours] for v in vals])
        out[c] = (vals, shares)
    return hours, out


def plot_actions(res: Results, agent: str, path: Path) -> bool:
    """Stacked bars of the γ and skew shares per hour for one agent; False when it has no action data."""
    shares = action_shares(res, agent)
    if shares is None:
        return False
    hours, data = shares
    fig = new_figure(figsize=(9, 6))
    axes = fig.subplots(2, 1, sharex=True)
    for ax, (col, name) in zip(axes, (("risk_aversion", "γ (risk aversion)"), ("skew", "skew")), strict=True):
        vals, sh = data[col]
        bottom = np.zeros(hours.size)
        for v, row in zip(vals, sh, strict=True):
            ax.bar(hours, row, bottom=bottom, width=0.85, label=f"{v:g}")
            bottom += row
        ax.set_ylabel(f"share of {name}", fontsize=8)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, title=name, title_fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    axes[-1].set_xlabel("hour of day (UTC)", fontsize=8)
    axes[-1].set_xticks(hours)
    fig.suptitle(f"{res.label(agent)}: action shares per hour (all days and seeds, 5-s grid rows)", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.84, bottom=0.09, top=0.92, hspace=0.12)
    save_fig(fig, path)
    return True


def make_plots(res: Results, out: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """Draw every figure under ``out/plots``; returns ([(caption, path relative to out)], notes)."""
    pdir = out / "plots"
    figs: list[tuple[str, str]] = []
    notes: list[str] = []
    days = select_days(res)
    dl = ", ".join(days)
    if plot_day_traces(res, days, "total_pnl", f"total P&L ({res.currency})", "Equity curves (total P&L, lowest seed)",
                       pdir / "equity.png"):
        figs.append((f"Equity curves (total P&L) on {dl}", "plots/equity.png"))
    else:
        notes.append("No grid.parquet for the selected days: no equity or inventory plot.")
    if plot_day_traces(res, days, "position", "position", "Inventory (lowest seed)", pdir / "inventory.png"):
        figs.append((f"Inventory on {dl}", "plots/inventory.png"))
    plot_boxplots(res, pdir / "boxplots.png")
    figs.append(("Box plots of the per-day indicators", "plots/boxplots.png"))
    more_figs, more_notes = action_plots(res, res.agents, out)
    return figs + more_figs, notes + more_notes


def action_plots(res: Results, models: Sequence[ModelInfo], out: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """``plots/actions_<model>.png`` for each of ``models`` (agents of ``res``); returns (figures, notes) as
    :func:`make_plots` does."""
    figs: list[tuple[str, str]] = []
    notes: list[str] = []
    for ag in models:
        fname = f"actions_{ag.name}.png"
        if plot_actions(res, ag.name, out / "plots" / fname):
            figs.append((f"{ag.label}: share of each γ and skew value per hour of the day (UTC)", f"plots/{fname}"))
        else:
            notes.append(f"{ag.label}: no grid with risk_aversion/skew columns, no action plot.")
    return figs, notes


def learned_gamma_models(res: Results) -> list[ModelInfo]:
    """The models whose (first) grid.parquet has the online learner's columns (γ learned by policy gradient)."""
    out = []
    for m in res.models:
        runs = [res.runs.get((m.name, d)) for d in res.dates]
        first = next((r for r in runs if r), None)
        if first and (first[min(first)] / "grid.parquet").exists() and \
                "pg_mu" in grid_columns(first[min(first)] / "grid.parquet"):
            out.append(m)
    return out


def plot_gamma_path(res: Results, model: ModelInfo, days: Sequence[str], path: Path) -> bool:
    """One panel per day: the γ applied every 5 s and the policy's central γ, exp(μ), of ``model``'s lowest seed
    (log scale); False when no grid has the columns."""
    height = 2.4 * len(days) + 0.6
    fig = new_figure(figsize=(9, height))
    axes = fig.subplots(len(days), 1, squeeze=False)[:, 0]
    drawn = False
    for ax, day in zip(axes, days, strict=True):
        seeds = res.runs.get((model.name, day))
        g = read_grid(seeds[min(seeds)] / "grid.parquet", ["timestamp", "risk_aversion", "pg_mu"]) if seeds else None
        if g is not None and g["timestamp"].size:
            h = _hours(g["timestamp"])
            ax.plot(h, g["risk_aversion"], lw=0.5, alpha=0.6, label="γ applied")
            ax.plot(h, np.exp(g["pg_mu"]), lw=1.0, label="exp(μ), the policy's mean")
            ax.set_yscale("log")
            ax.legend(fontsize=7, loc="best")
            drawn = True
        ax.set_title(f"{day}", fontsize=9)
        ax.set_ylabel("γ", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("hour of day (UTC)", fontsize=8)
    fig.suptitle(f"{model.label}: risk aversion learned online (lowest seed)", fontsize=10)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.5 / height, top=1 - 0.65 / height, hspace=0.35)
    if drawn:
        save_fig(fig, path)
    return drawn


def gamma_plots(res: Results, out: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """``plots/gamma_<model>.png`` for each model with γ learned online (first, middle and last day)."""
    figs: list[tuple[str, str]] = []
    days = list(dict.fromkeys([res.dates[0], res.dates[len(res.dates) // 2], res.dates[-1]])) if res.dates else []
    for m in learned_gamma_models(res):
        fname = f"gamma_{m.name}.png"
        if plot_gamma_path(res, m, days, out / "plots" / fname):
            figs.append((f"{m.label}: the γ learned online on {', '.join(days)}", f"plots/{fname}"))
    return figs, []
