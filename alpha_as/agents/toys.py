"""Toy markets with known answers, on the real engine: does a learner learn? (issue #10 §4)

A toy day is a handcrafted stream in the authors' store layout: a flat book (mid 100.00, one-tick spread,
5 levels), a snapshot every 250 ms, and one trade a second (at 0.4 s past each second, so that it meets the
quotes of the current 5-s decision: quotes are sent at a snapshot and arrive 65 ms later), buyer- and
seller-initiated in turn, printed ``D`` dollars away from the mid. ``D`` depends on the regime:

* ``"wide"``: D = 7.50, level-0 book size 1;
* ``"narrow"``: D = 4.00, level-0 book size 3 (the size is the observable regime flag: ``bid_qty_0``).

With :data:`TOY_PARAMS` (k fixed at 0.1, spread multiplier 1) the mid never moves, so σ² = 0 and AS quotes
mid ± δ(γ) with δ(γ) = ln(1 + γ/k)/γ: 9.53, 6.93, 5.49 and 2.56 USD for γ = 0.01, 0.1, 0.2, 0.9. A two-sided
quote (skew 0) inside D is filled by both sides' trades and earns 2δ per round trip; a wider one is never
filled; a skewed quote (the authors' skew rule) fills one side only and earns no realized P&L by itself. So:

* in the wide regime the best action is γ = 0.1, skew 0 (index 7: 13.86 USD per round trip per unit, against
  10.98 for γ = 0.2 and 5.12 for γ = 0.9);
* in the narrow regime only γ = 0.9, skew 0 (index 17) is filled;
* a day that switches regimes (blocks of ``switch_seconds``, drawn with a seed) is won by the policy that reads
  ``bid_qty_0``: it beats the best constant action (index 7, which earns nothing in the narrow blocks).

:func:`write_toy_days` writes such days into a store; the tests (and ``benchmarks/toy_ablation.py``) train the
agents on them with the real protocol (:class:`~alpha_as.agents.alpha_as.AlphaAS`) and check the answers with
:func:`play_greedy`, :func:`regime_best_actions` and :func:`constant_pnls`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alpha_as.data import store
from alpha_as.data.store import MarketDay
from alpha_as.strategies.avellaneda_stoikov import ASParams

TOY_PARAMS = ASParams(k_default=0.1, spread_multiplier=1.0, window_tick=25, position_multiplier=1.0)
"""The AS base parameters the agents get on a toy (Gen-AS's role); the actions set γ and skew."""
TOY_FEATURES = ("bid_qty_0", "ask_qty_0")
"""Market features of the toy agents' states: the regime flag."""
TOY_INSTRUMENT = "toy"
MID = 100.0
TICK = 0.01
LEVELS = 5
DISTANCE = {"wide": 7.5, "narrow": 4.0}
BOOK_SIZE = {"wide": 1.0, "narrow": 3.0}
BEST_ACTION = {"wide": 7, "narrow": 17}
SNAPSHOT_MS = 250
TRADE_OFFSET_MS = 400
START = dt.time(7, 0)


def regime_schedule(n_seconds: int, switch_seconds: int | None, seed: int) -> list[str]:
    """The regime of every second of the day: all "wide" without switching, else blocks of ``switch_seconds``
    each "wide" or "narrow" with probability 1/2 (seeded), the first block wide."""
    if switch_seconds is None:
        return ["wide"] * n_seconds
    rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
    n_blocks = -(-n_seconds // switch_seconds)
    blocks = ["wide"] + ["wide" if rng.random() < 0.5 else "narrow" for _ in range(n_blocks - 1)]
    return [blocks[s // switch_seconds] for s in range(n_seconds)]


def write_toy_days(root: str | Path, dates: Sequence[dt.date], *, minutes: int = 20,
                   switch_seconds: int | None = None, seed: int = 0, instrument: str = TOY_INSTRUMENT) -> list[list[str]]:
    """Write one toy day per date (from 07:00 UTC, ``minutes`` long) and return each day's per-second regimes.

    Each date's schedule is drawn with ``SeedSequence([seed, date ordinal])``, so held-out days differ."""
    schedules = []
    n_sec = minutes * 60
    for date in dates:
        regimes = regime_schedule(n_sec, switch_seconds, seed * 1_000_003 + date.toordinal())
        t0 = int(dt.datetime.combine(date, START, tzinfo=dt.timezone.utc).timestamp()) * 1000
        ts = t0 + np.arange(0, n_sec * 1000, SNAPSHOT_MS, dtype=np.int64)
        second = (ts - t0) // 1000
        bid = MID - TICK * np.arange(1, LEVELS + 1)
        ask = MID + TICK * np.arange(1, LEVELS + 1)
        bid_px = np.tile(bid, (len(ts), 1))
        ask_px = np.tile(ask, (len(ts), 1))
        size0 = np.array([BOOK_SIZE[regimes[s]] for s in second])
        bid_qty = np.ones((len(ts), LEVELS))
        ask_qty = np.ones((len(ts), LEVELS))
        bid_qty[:, 0] = size0
        ask_qty[:, 0] = size0
        tt = t0 + np.arange(n_sec, dtype=np.int64) * 1000 + TRADE_OFFSET_MS
        side = np.where(np.arange(n_sec) % 2 == 0, -1, 1).astype(np.int8)
        dist = np.array([DISTANCE[r] for r in regimes])
        price = MID + side * dist
        store.write_depth(root, instrument, date, ts, bid_px, ask_px, bid_qty, ask_qty)
        store.write_trades(root, instrument, date, tt, price, np.full(n_sec, 0.01), side)
        schedules.append(regimes)
    return schedules


def regime_best_actions(day: MarketDay, times: np.ndarray) -> np.ndarray:
    """The best action at each decision time: the regime flag (level-0 size of the last snapshot ``<= t``) read
    as :data:`BEST_ACTION` of its regime."""
    size = day.bid_qty[np.searchsorted(day.depth_ts, times, "right") - 1, 0]
    return np.where(size == BOOK_SIZE["narrow"], BEST_ACTION["narrow"], BEST_ACTION["wide"])


def constant_pnls(day: MarketDay, genas: ASParams = TOY_PARAMS) -> np.ndarray:
    """The day's final total P&L of each of the 20 constant actions (AS on ``genas`` with the action's γ, skew)."""
    from alpha_as.agents.reference import action_params
    from alpha_as.engine.backtest import Backtest

    return np.array([Backtest(day, p).run().metrics.final_total_pnl for p in action_params(genas)])


def play_greedy(model, store_root: str | Path, date: dt.date):
    """(day, DayRun) of a trained :class:`~alpha_as.agents.alpha_as.AlphaAS` playing a toy day greedily (ε 0),
    frozen (no learning)."""
    from alpha_as.agents.alpha_as import LearnerOptions, load_market_day, run_day

    day = load_market_day(store_root, TOY_INSTRUMENT, date, "all")
    run, _ = run_day(model.agent, day, model.genas, model.config.features, model.normalizer, 0.0, learn=False,
                     options=LearnerOptions.of(model.config, model.reward_scale),
                     decision_loop=model.config.decision_loop)
    return day, run
