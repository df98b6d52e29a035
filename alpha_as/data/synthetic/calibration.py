"""Per-day calibration of the synthetic BTC market to the paper's data (spec §1 and §12).

Everything random here is drawn from ``numpy.random.default_rng([seed, yyyymmdd])``, so a day depends on
(seed, date) only and days can be generated independently, in any order, in parallel.

What is calibrated, and how (every choice here is INFERRED: the paper's data cannot be had):

* **Counts.** Per 12 h, the depth-snapshot and trade counts of spec §12 for that date. Snapshots are
  scheduled on a 1-s grid (0.5 s on 2021-01-08, which has twice the snapshots) with each slot kept with
  probability target/slots, so the count is within ~1 % of the target; 2020-12-21 has no snapshots
  14:00-17:59 UTC, as the authors' data. Trades: the kernel steers its order rate so that the printed
  trades follow the target intensity (see :mod:`.kernel`).
* **Activity.** The trade intensity is a Cox process: a day level x intraday seasonality x exp(slow OU +
  fast OU). This gives positively skewed, long-tailed ticks per 5 s like the paper's (means 33-110,
  std 21-67, skew 1.0-4.4).
* **Price.** A latent fair price: a bridge from the interpolated 07:00 level to the interpolated 19:00
  level of the daily closes (the open of the day's path is previous close + 7/24 of the day's move),
  with stochastic volatility tied to activity (volatility clustering) and regime-switching drift
  (trending and mean-reverting stretches). The book (see :mod:`.kernel`) follows it.
* **Microstructure** (issue #11). F is the price of a leading venue; the book's makers follow R, an EWMA
  of F (``REF_TAU_S``), and keep their quotes until R leaves them behind by ``STALE_SIGMA`` (then the side is
  re-centred on R), so the mid is sticky and moves in jumps; informed market orders trade toward F - mid, so
  impact builds over about a second while the book catches up. The constants below say what each was tuned
  to; :mod:`.targets` lists the targets and the real samples they stand for. Market variants
  (:class:`SynthOptions`) scale the informed flow and the stale sweeps.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.signal import lfilter

from alpha_as.data import paper

GENERATOR_VERSION = 2
"""1: the market before issue #11; 2: recalibrated to real Binance microstructure (issue #11). Stamped into each
generated store and into a synthetic protocol's identity, so results on one version never mix with the other."""
TICK = 0.01
"""Price tick in USD (BTCUSDT)."""
STEP_MS = 100
"""Simulation step of the kernel (ms)."""
# ---- microstructure (issue #11). Tuned together, by a local search on 2020-12-09 (checked on 2020-12-20 and
# 2021-01-05), to the targets of :mod:`.targets`, which stand for Binance BTCUSDT spot 2024 and USD-M futures
# (hftbacktest's captures) and the 2022-01-15 trades, measured with :mod:`alpha_as.data.microstructure`.
# Each line names the statistics it moves most.
REF_TAU_S = 0.19
"""Time constant (s) of the makers' reference price R, an EWMA of the fair price F (the leading venue's
price). Sets how long a price move takes to reach the book: VR(5 s / 1 s) 1.15 and impact(1 s) / impact(30 s)
0.65 (spot 1.27 and 0.6-0.7)."""
STALE_SIGMA = 1.03
"""A side whose touch is this far on the wrong side of R is re-centred on R, in sd of the day's 1-s
fair-price change: how sticky the mid is (share of 1-s intervals with no mid change 0.55; spot 0.50)."""
SWEEP_PROB = 0.07
"""Probability that a stale level is swept by an aggressive order (a print) rather than cancelled: the
stale-sweep share of volume (at most half; it was about 0.87 before issue #11)."""
INFORMED_MAX = 0.6
"""Largest probability that a market order is informed (trades toward F - mid): toxicity, i.e. the touch
quoter's 5-s markout -0.20 bps (spot -0.35, futures -0.08) and the realized spread / sd(5 s) -0.17."""
INFORMED_GAP_SIGMA = 0.43
"""Gap |F - mid| at which that probability is reached, in sd of the day's 1-s fair-price change."""
INFORMED_SIZE_MULT = 2.5
"""Informed orders are this many times larger (median): largest third of orders by size >= 1.5x as toxic as
the smallest, walking orders 2-5x as toxic as touch-only ones (spot 2.1-2.8, futures 4.9)."""
REFILL_PROB = 0.3
"""Probability that a liquidity event on a side fills an opened spread next to R: how long a spread stays
open (mean spread; paper: median 1 tick, mean 0.37 USD)."""
BEHIND_FRAC = 0.04
"""Size of a new level behind the touch relative to a touch level (then +15 % per level of depth): thin
levels behind a thick touch, so large orders walk (walking volume share 0.50; spot 0.56) in many prints."""
GAP_SCALE = 0.2
"""Multiplier of the mean gap (ticks) between book levels (drawn per day from 3-6): dense levels near the
touch, as on Binance, so walking orders print at successive ticks (tick-rule accuracy >= 0.93)."""
LEVEL_SIZE_SCALE = 1.6
"""Multiplier of the median size of a new touch level (drawn per day from 0.15-0.4 BTC): how often orders
deplete the touch (no-change share, walking share)."""
TRADE_SIZE_MEDIAN = 0.005
"""Median market-order size (BTC): print sizes median 0.010, p90 0.13, p99 1.0 BTC (spot 2024 scaled to the
2020 price)."""
TRADE_SIZE_SIGMA = 1.9
"""Log-normal sigma of market-order sizes (the print-size tail)."""
DEFAULT_SNAPSHOTS_PER_12H = 42_000
DEFAULT_TRADES_PER_12H = 450_000


@dataclass(frozen=True)
class SynthOptions:
    """Market variants of the generator (``alpha-as data synth`` flags, a protocol's ``[data]`` table).

    The defaults are the calibrated market. A non-default variant is written under its own instrument name
    (:meth:`instrument`), so stores of different variants never mix.
    """

    informed: float = 1.0
    """Strength of informed order flow, as a multiple of the calibrated value (0 = a benign market whose
    market orders carry no information about the coming price move)."""
    stale_sweep: float = 1.0
    """Rate at which stale resting levels are swept by aggressive orders rather than cancelled, as a multiple of
    the calibrated value (0 = stale levels are only cancelled)."""

    snapshot_ms: int = 0
    """0: the paper's snapshot schedule (about one a second). > 0: a snapshot every ``snapshot_ms`` ms instead
    (100 = one per kernel step, the "every change" store that measures what 1-s sampling costs a quoter)."""

    def __post_init__(self) -> None:
        from alpha_as.errors import InputError

        for name in ("informed", "stale_sweep"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 10):
                raise InputError(f"synthetic market: {name} must be a number in [0, 10], got {v!r}")
        if not (isinstance(self.snapshot_ms, int) and 0 <= self.snapshot_ms <= 60_000):
            raise InputError(f"synthetic market: snapshot_ms must be an integer in [0, 60000], got {self.snapshot_ms!r}")

    @property
    def is_default(self) -> bool:
        return self == SynthOptions()

    def instrument(self, base: str) -> str:
        """``base`` for the calibrated market, else ``base`` + a suffix naming the variant."""
        if self.is_default:
            return base
        parts = []
        for name, tag in (("informed", "inf"), ("stale_sweep", "sw")):
            v = float(getattr(self, name))
            if v != 1.0:
                parts.append(f"{tag}{v:g}".replace(".", "p"))
        if self.snapshot_ms:
            parts.append(f"snap{self.snapshot_ms}ms")
        return base + "_" + "_".join(parts)


@dataclass(frozen=True)
class DayPlan:
    """Everything the kernel needs for one day, drawn from (seed, date)."""

    date: dt.date
    start_ms: int
    """Epoch ms of the window start (07:00 UTC)."""
    n_steps: int
    fair: np.ndarray
    """Latent fair price in ticks at the start of each step (float64, n_steps + 1)."""
    print_rate: np.ndarray
    """Target trade prints per step (float64, n_steps); sums to ``target_trades``."""
    ref: np.ndarray
    """The makers' reference price R in ticks (an EWMA of ``fair``), per step."""
    snapshot_ms: np.ndarray
    """Epoch ms of each depth snapshot (int64, sorted)."""
    target_trades: int
    target_snapshots: int
    kernel_seed: int
    tick_gap_mean: float
    """Mean gap (ticks) between consecutive book levels near the touch."""
    touch_size_median: float
    """Median size (BTC) of a new book level."""
    behind_frac: float
    """Size of a level behind the touch relative to a touch level (before the depth growth)."""
    refill_prob: float
    """Probability per step that an empty touch region is refilled next to the fair price."""
    stale_ticks: float
    """How far (ticks) the fair price may run through a resting level before it is repriced."""
    sweep_prob: float
    """Probability that a stale level is taken by an aggressive order (trades) rather than cancelled."""
    trade_size_median: float
    trade_size_sigma: float
    informed_max: float
    informed_gap: float
    """In ticks."""
    informed_size_mult: float


def _ou(rng: np.random.Generator, n: int, dt_s: float, tau_s: float, sd: float) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck path, exact discretisation."""
    a = math.exp(-dt_s / tau_s)
    eps = rng.standard_normal(n) * sd * math.sqrt(1.0 - a * a)
    x0 = rng.standard_normal() * sd
    return lfilter([1.0], [1.0, -a], eps, zi=[a * x0])[0]


@njit(cache=True)
def _integrate_regimes(shocks: np.ndarray, revert: np.ndarray, kappa: float) -> np.ndarray:
    """Cumulate shocks; inside mean-reverting stretches pull back toward the level where the stretch began."""
    y = np.empty(len(shocks) + 1)
    y[0] = 0.0
    acc = 0.0
    anchor = 0.0
    for i in range(len(shocks)):
        if revert[i]:
            acc += shocks[i] - kappa * (acc - anchor)
        else:
            acc += shocks[i]
            anchor = acc
        y[i + 1] = acc
    return y


def _seasonality(hours_from_7: np.ndarray) -> np.ndarray:
    """Intraday activity shape over 07-19 UTC: rises into the European afternoon and the US open (~14:30)."""
    h = hours_from_7 + 7.0
    return 0.8 + 0.25 * np.exp(-0.5 * ((h - 9.0) / 1.5) ** 2) + 0.45 * np.exp(-0.5 * ((h - 15.0) / 2.0) ** 2)


def day_seed(seed: int, date: dt.date) -> np.random.Generator:
    return np.random.default_rng([int(seed), date.year * 10_000 + date.month * 100 + date.day])


def window_start_ms(date: dt.date) -> int:
    t = dt.datetime(date.year, date.month, date.day, paper.WINDOW_START_HOUR, tzinfo=dt.timezone.utc)
    return int(t.timestamp()) * 1000


def _closes(date: dt.date) -> tuple[float, float]:
    """(previous close, close) around ``date`` from the paper calendar's approximate closes."""
    days = paper.PAPER_DAYS
    idx = next((i for i, d in enumerate(days) if d.date == date), None)
    if idx is None:
        # outside the paper's calendar: a flat path at the nearest known level
        nearest = min(days, key=lambda d: abs((d.date - date).days))
        return nearest.close_usd, nearest.close_usd
    prev = paper.PREVIOUS_CLOSE_2020_12_06 if idx == 0 else days[idx - 1].close_usd
    return prev, days[idx].close_usd


def plan_day(date: dt.date, *, seed: int = 0, hours: float = 12.0, options: SynthOptions | None = None) -> DayPlan:
    """Draw one day's plan. ``hours`` (0 < hours <= 12) shortens the window from 07:00 UTC."""
    options = options or SynthOptions()
    rng = day_seed(seed, date)
    row = paper.paper_day(date)
    n_steps = int(round(hours * 3600 * 1000 / STEP_MS))
    start_ms = window_start_ms(date)
    frac = hours / 12.0

    # ---- snapshot schedule
    per_second = 2 if date == dt.date(2021, 1, 8) else 1
    slot_ms = 1000 // per_second
    n_slots_full = 12 * 3600 * per_second
    slots = np.arange(int(round(hours * 3600 * per_second)), dtype=np.int64) * slot_ms
    available = np.ones(len(slots), dtype=bool)
    available_full = n_slots_full
    if date == dt.date(2020, 12, 21):
        g0 = (paper.DEPTH_GAP_2020_12_21[0].hour - paper.WINDOW_START_HOUR) * 3_600_000
        g1 = (paper.DEPTH_GAP_2020_12_21[1].hour - paper.WINDOW_START_HOUR) * 3_600_000
        available &= ~((slots >= g0) & (slots < g1))
        available_full -= (g1 - g0) // slot_ms
    target_snap_12h = row.depth_snapshots if row else DEFAULT_SNAPSHOTS_PER_12H
    p_keep = min(1.0, target_snap_12h / available_full)
    keep = available & (rng.random(len(slots)) < p_keep)
    offset = int(rng.integers(0, 60))
    jitter = rng.integers(0, 25, size=len(slots))
    snapshot_ms = start_ms + slots[keep] + offset + jitter[keep]
    if options.snapshot_ms:  # drawn above all the same, so the market itself does not change
        snapshot_ms = start_ms + np.arange(options.snapshot_ms - 1, n_steps * STEP_MS, options.snapshot_ms)
    target_snapshots = int(round(target_snap_12h * available.sum() / max(available_full, 1)
                                 * (len(slots) / max(len(slots), 1)))) if len(slots) else 0

    # ---- activity (Cox intensity of trade prints)
    target_trades_12h = row.trades if row else DEFAULT_TRADES_PER_12H
    target_trades = int(round(target_trades_12h * frac))
    dt_s = STEP_MS / 1000.0
    t_hours = np.arange(n_steps) * dt_s / 3600.0
    slow = _ou(rng, n_steps, dt_s, tau_s=900.0, sd=0.35)
    fast = _ou(rng, n_steps, dt_s, tau_s=20.0, sd=0.3)
    log_i = slow + fast
    intensity = _seasonality(t_hours) * np.exp(log_i - log_i.var() / 2)
    print_rate = intensity * (target_trades / intensity.sum())

    # ---- fair price (ticks)
    prev_close, close = _closes(date)
    p_open = prev_close + (close - prev_close) * paper.WINDOW_START_HOUR / 24.0
    p_end = prev_close + (close - prev_close) * (paper.WINDOW_START_HOUR + hours) / 24.0
    day_move = abs(close / prev_close - 1.0)
    vol_12h = (0.03 + 0.35 * day_move) * p_open / math.sqrt(2.0)  # USD over 12 h
    sigma_step = vol_12h / TICK / math.sqrt(12 * 3600 / dt_s)  # ticks per step, at average activity
    act = intensity / intensity.mean()
    sig = sigma_step * np.sqrt(act)
    # regime drift: trending or mean-reverting stretches of ~20-60 min
    drift = np.zeros(n_steps)
    revert = np.zeros(n_steps, dtype=bool)
    pos = 0
    while pos < n_steps:
        length = int(rng.exponential(40 * 60 / dt_s)) + int(10 * 60 / dt_s)
        kind = rng.choice(3, p=[0.35, 0.35, 0.30])
        if kind == 0:
            drift[pos:pos + length] = rng.choice([-1.0, 1.0]) * rng.uniform(0.003, 0.012) * sigma_step
        elif kind == 1:
            revert[pos:pos + length] = True
        pos += length
    shocks = rng.standard_normal(n_steps) * sig + drift
    y = _integrate_regimes(shocks, revert, dt_s / 300.0)  # mean reversion time 5 min
    s = np.linspace(0.0, 1.0, n_steps + 1)
    fair = (p_open + (p_end - p_open) * s) / TICK + (y - s * y[-1])

    a = math.exp(-dt_s / REF_TAU_S) if REF_TAU_S > 0 else 0.0
    ref = lfilter([1.0 - a], [1.0, -a], fair[:n_steps], zi=[a * fair[0]])[0]
    sigma_1s = sigma_step * math.sqrt(1.0 / dt_s)  # ticks, at average activity

    return DayPlan(
        date=date, start_ms=start_ms, n_steps=n_steps, fair=fair, print_rate=print_rate, ref=ref,
        snapshot_ms=snapshot_ms.astype(np.int64), target_trades=target_trades,
        target_snapshots=target_snapshots, kernel_seed=int(rng.integers(1, 2**31 - 1)),
        tick_gap_mean=max(1.05, GAP_SCALE * float(rng.uniform(3.0, 6.0))), touch_size_median=LEVEL_SIZE_SCALE * float(rng.uniform(0.15, 0.4)),
        behind_frac=BEHIND_FRAC, refill_prob=REFILL_PROB, stale_ticks=STALE_SIGMA * sigma_1s, sweep_prob=min(1.0, SWEEP_PROB * options.stale_sweep),
        trade_size_median=TRADE_SIZE_MEDIAN, trade_size_sigma=TRADE_SIZE_SIGMA,
        informed_max=INFORMED_MAX * options.informed, informed_gap=INFORMED_GAP_SIGMA * sigma_1s,
        informed_size_mult=INFORMED_SIZE_MULT,
    )
