"""Generate the synthetic market into the store: one independent, deterministic job per (seed, date)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alpha_as.atomic import write_text_atomic
from alpha_as.data import paper, store
from alpha_as.data.synthetic.calibration import GENERATOR_VERSION, STEP_MS, TICK, SynthOptions, plan_day
from alpha_as.data.synthetic.kernel import simulate_day

LEVELS = 5
STAMP_FILE = "synthetic.json"


@dataclass
class DayResult:
    date: dt.date
    snapshots: int
    trades: int
    seconds: float
    skipped: bool = False


@dataclass
class SynthReport:
    instrument: str
    root: Path
    days: list[DayResult] = field(default_factory=list)
    wall_seconds: float = 0.0
    regenerated: bool = False
    """True when existing days were made by another generator version or settings and were regenerated."""

    def summary(self) -> str:
        made = [d for d in self.days if not d.skipped]
        lines = [f"{d.date}  snapshots {d.snapshots:>7,}  trades {d.trades:>8,}  {d.seconds:5.1f} s" for d in made]
        skipped = len(self.days) - len(made)
        if self.regenerated:
            lines.append(f"note: the store's {self.instrument!r} days were made by another generator version or "
                         "settings; they were regenerated")
        lines.append(f"synthetic market {self.instrument!r} in {self.root}: {len(made)} day(s) generated, "
                     f"{skipped} already present, {self.wall_seconds:.1f} s wall")
        return "\n".join(lines)


def simulate(date: dt.date, *, seed: int = 0, hours: float = 12.0, levels: int = LEVELS,
             options: SynthOptions | None = None, info: dict | None = None):
    """Simulate one day in memory: (depth_ts_ms, bid_px, ask_px, bid_qty, ask_qty, trade_ts_ms, price, qty, side).

    ``info``, if given, receives the kernel's counts: ``market_orders`` and ``swept_volume`` (BTC printed by
    sweeps of stale levels, the share of volume the calibration bounds).
    """
    plan = plan_day(date, seed=seed, hours=hours, options=options)
    capacity = int(plan.target_trades * 1.6) + 10_000
    out = simulate_day(plan.fair, plan.ref, plan.print_rate, plan.snapshot_ms, plan.start_ms, STEP_MS,
                       plan.kernel_seed, levels, plan.tick_gap_mean, plan.touch_size_median, plan.behind_frac, plan.refill_prob,
                       plan.stale_ticks, plan.sweep_prob, plan.trade_size_median, plan.trade_size_sigma,
                       plan.informed_max, plan.informed_gap, plan.informed_size_mult, capacity)
    s_bpx, s_bq, s_apx, s_aq, n_snap, tr_ts, tr_px, tr_q, tr_side, nt, n_orders, swept = out
    if info is not None:
        info.update(market_orders=int(n_orders), swept_volume=float(swept))
    if nt > capacity:
        raise RuntimeError(f"synthetic day {date}: {nt} trades exceed the buffer of {capacity}")
    ts = plan.snapshot_ms[:n_snap]

    def usd(ticks: np.ndarray) -> np.ndarray:
        return np.round(ticks * TICK, 2)

    def btc(q: np.ndarray) -> np.ndarray:
        return np.maximum(np.round(q, 6), 1e-6)

    return (ts, usd(s_bpx), usd(s_apx), btc(s_bq), btc(s_aq),
            tr_ts[:nt].copy(), usd(tr_px[:nt]), btc(tr_q[:nt]), tr_side[:nt].copy())


def _generate_one(args: tuple) -> DayResult:
    root, instrument, date, seed, hours, options = args
    t0 = time.perf_counter()
    ts, bpx, apx, bq, aq, t_ts, t_px, t_q, t_side = simulate(date, seed=seed, hours=hours, options=options)
    # trades first, depth last: the depth file marks a finished day (see generate_market's skip rule)
    store.write_trades(root, instrument, date, t_ts, t_px, t_q, t_side)
    store.write_depth(root, instrument, date, ts, bpx, apx, bq, aq)
    return DayResult(date, len(ts), len(t_ts), time.perf_counter() - t0)


def generate_market(root: str | Path, *, instrument: str = "btcusdt_synth", start: dt.date = paper.FI_DAY,
                    end: dt.date = paper.PAPER_DAYS[-1].date, hours: float = 12.0, seed: int = 0,
                    workers: int | None = None, force: bool = False, progress: bool = False,
                    options: SynthOptions | None = None) -> SynthReport:
    """Generate the paper's days in [start, end] (31 Dec 2020 is not one) into ``root``.

    ``options`` selects a market variant (default: the calibrated market); it is written under exactly the
    ``instrument`` given, so callers name variants with :meth:`SynthOptions.instrument`.

    Days whose depth and trade files both exist are skipped unless ``force``; each file is written
    atomically, and a day's depth file is written last, so an interrupted run resumes cleanly. The instrument
    folder keeps a stamp (``synthetic.json``: generator version, seed, hours, options); days written by another
    generator version or with other settings (or with no stamp) are regenerated, never mixed.
    """
    root = Path(root)
    dates = paper.paper_dates(start, end)
    if not dates:
        from alpha_as.errors import InputError

        raise InputError(f"no paper day between {start} and {end} (the calendar is 2020-12-07 .. 2021-01-08)")
    report = SynthReport(instrument, root)
    t0 = time.perf_counter()
    stamp = {"generator": GENERATOR_VERSION, "seed": int(seed), "hours": float(hours),
             "options": dataclasses.asdict(options or SynthOptions())}
    stamp_path = store.partition_path(root, store.DEPTH, instrument, dates[0]).parent.parent / STAMP_FILE
    try:
        old = json.loads(stamp_path.read_text()) if stamp_path.is_file() else None
    except (OSError, ValueError):
        old = None
    if old != stamp:
        force = True  # other settings or an older generator: regenerate every requested day
        report.regenerated = old is not None or bool(store.list_dates(root, instrument))
    todo = []
    for d in dates:
        done = all(store.partition_path(root, k, instrument, d).is_file() for k in (store.DEPTH, store.TRADE))
        if done and not force:
            report.days.append(DayResult(d, 0, 0, 0.0, skipped=True))
        else:
            todo.append((root, instrument, d, seed, hours, options))
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    if todo:
        bar = None
        if progress:
            from alpha_as.progress import progress_bar

            bar = progress_bar(len(todo), "synth days", "day")
        if n_workers == 1:
            results = []
            for job in todo:
                results.append(_generate_one(job))
                if bar:
                    bar.update()
        else:
            with ProcessPoolExecutor(n_workers) as pool:
                results = []
                for r in pool.map(_generate_one, todo):
                    results.append(r)
                    if bar:
                        bar.update()
        if bar:
            bar.close()
        report.days.extend(results)
    if todo or old != stamp:
        if old != stamp:  # days outside [start, end] written with other settings would mix: drop them
            for d in store.list_dates(root, instrument):
                if d not in dates:
                    for k in (store.DEPTH, store.TRADE):
                        store.partition_path(root, k, instrument, d).unlink(missing_ok=True)
        write_text_atomic(json.dumps(stamp, sort_keys=True) + "\n", stamp_path)
    report.days.sort(key=lambda r: r.date)
    report.wall_seconds = time.perf_counter() - t0
    return report
