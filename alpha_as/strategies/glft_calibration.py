"""Online calibration of the GLFT market maker's A, k and σ (spec §2.2), compiled; the layouts of its vectors.

Units: ticks. Prices are put on the grid first — a trade at round(price/tick), a mid at the nearest half tick
(round(2·mid/tick)/2) — so depths and mid changes are exact multiples of ½ and the running sums exact.

* :func:`on_trade` (every public trade): depth from the step's starting mid m — a buyer's ``price − m``, a
  seller's ``m − price`` (aggressor ``side`` +1/−1; 0 = unknown: above m a buyer, below a seller, at m ignored);
  the step keeps the deepest depth per side. The quantity is not used (nor by the tutorial).
* :func:`on_step` (every step boundary, every ``step_ms``): closes the step. A step that started with a known
  mid enters the window (a ring of ``W = window_s/step_ms`` steps): per side, the number n of depth-grid
  points δ_j = j + ½ (j < F = fit_points) strictly inside its deepest depth d (n = clip(ceil(d − ½), 0, F));
  and the mid change in ticks (missing when either mid is). Histograms of n per side and of max(n_buy, n_sell)
  give the counts: count_j = #steps with n > j. Once the window is full: :func:`recalibrate` at once, then
  every ``recalibrate_s`` (counted in steps, exact).
* :func:`recalibrate`: λ_j = count_j / window_s (``arrival_sides`` "either": the max-of-sides histogram,
  as the tutorial's one deepest depth per step; "mean": the mean of the two sides' counts); ordinary least squares
  of log λ_j on δ_j over the leading j with count_j > 0 (at most F): k = −slope, A = e^intercept (fewer than 3
  points: A, k kept, a failure counted). σ = population std of the window's mid changes × sqrt(1000/step_ms).

The tutorial indexes its grid in half ticks (round(d/0.5) − 1) but labels the points as whole ticks (j + ½);
here index and label agree: a whole-tick grid.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# ------------------------------------------------------------------------------ parameter vector layout
P_GAMMA = 0
P_XI = 1            # NaN: ξ = γ
P_DELTA = 2
P_SKEW_ADJ = 3
P_SPREAD_ADJ = 4
P_QTY = 5
P_MAX_POS = 6
P_STEP_MS = 7
P_WINDOW_S = 8
P_FIT_POINTS = 9
P_RECAL_S = 10
P_ARRIVAL = 11      # index in ARRIVAL_SIDES
P_GRID_NUM = 12
P_GRID_INTERVAL = 13
P_WINDOW_STEPS = 14  # W = window_s·1000/step_ms (whole)
P_RECAL_STEPS = 15   # recalibrate_s·1000/step_ms (whole)
N_PARAMS = 16

ARRIVAL_SIDES = ("either", "mean")
MAX_WINDOW_STEPS = 1_000_000

# ---------------------------------------------------------------------------------- state vector layout
S_W = 0              # W, the window in steps (layout check)
S_F = 1              # F, the fit points = depth-grid size (layout check)
S_N_STEPS = 2        # on_step calls
S_N_REC = 3          # steps in the window (<= W; == W: full)
S_HEAD = 4           # next ring slot
S_MID = 5            # mid at the last on_step, ticks on the half-tick grid (NaN: unknown)
S_STEP_T = 6         # t (ns) of the last on_step
S_STEP_BUY = 7       # deepest buyer depth in the current step, ticks (-inf: none)
S_STEP_SELL = 8      # deepest seller depth in the current step, ticks (-inf: none)
S_N_TRADES = 9       # trades recorded
S_N_SKIPPED = 10     # trades ignored (no reference mid, at the mid, bad price)
S_DM_SUM = 11        # Σ mid change over the window (ticks)
S_DM_SUMSQ = 12      # Σ mid change²
S_DM_N = 13          # mid changes in the window
S_A = 14             # fitted A (per s), NaN until the first fit
S_K = 15             # fitted k (per tick)
S_SIGMA = 16         # σ (ticks per sqrt(s))
S_FIT_T = 17         # t (ns) of the last recalibration (NaN: none yet)
S_SINCE_FIT = 18     # on_step calls since the last recalibration
S_N_FITS = 19        # successful A, k fits
S_N_FIT_FAILS = 20   # recalibrations with fewer than 3 usable depths (A, k kept)
S_FIT_M = 21         # depths used by the last fit
S_C1 = 22            # last quotes(): c1, c2, half-spread (ticks), skew (ticks per lot), reservation (price),
S_C2 = 23            # grid interval (ticks)
S_HALF_SPREAD = 24
S_SKEW = 25
S_RESERVATION = 26
S_GRID_INTERVAL = 27
S_COEF_A = 28        # the A, k, σ that S_C1 … S_SKEW were computed from (quotes() recomputes them on a change only:
S_COEF_K = 29        # they change at a recalibration, the quotes every step)
S_COEF_SIGMA = 30
N_HEADER = 32        # then: ring_buy[W], ring_sell[W], ring_dmid[W], hist_buy[F+1], hist_sell[F+1], hist_max[F+1]


@njit(cache=True, inline="always")
def _layout(p):
    """(W, F, offset of ring_buy, ring_sell, ring_dmid, hist_buy, hist_sell, hist_max)."""
    w = int(p[P_WINDOW_STEPS])
    f = int(p[P_FIT_POINTS])
    o = N_HEADER
    return w, f, o, o + w, o + 2 * w, o + 3 * w, o + 3 * w + f + 1, o + 3 * w + 2 * (f + 1)


@njit(cache=True)
def state_size(p):
    """Length of the state vector for parameters ``p``."""
    return N_HEADER + 3 * int(p[P_WINDOW_STEPS]) + 3 * (int(p[P_FIT_POINTS]) + 1)


@njit(cache=True)
def init_state(p):
    """A fresh state vector (nothing seen)."""
    w, f, o_rb, o_rs, o_rd, o_hb, o_hs, o_hm = _layout(p)
    ss = np.zeros(state_size(p))
    ss[S_W] = w
    ss[S_F] = f
    ss[S_MID] = math.nan
    ss[S_STEP_T] = math.nan
    ss[S_STEP_BUY] = -math.inf
    ss[S_STEP_SELL] = -math.inf
    for i in (S_A, S_K, S_SIGMA, S_FIT_T, S_C1, S_C2, S_HALF_SPREAD, S_SKEW, S_RESERVATION, S_GRID_INTERVAL,
              S_COEF_A, S_COEF_K, S_COEF_SIGMA):
        ss[i] = math.nan
    ss[o_rd:o_rd + w] = math.nan
    return ss


@njit(cache=True, inline="always")
def check_state(p, ss):
    """Raise when ``ss`` was not made by init_state(p) for these parameters (the engine may append its quote buffer)."""
    if int(ss[S_W]) != int(p[P_WINDOW_STEPS]) or int(ss[S_F]) != int(p[P_FIT_POINTS]) or len(ss) < state_size(p):
        raise ValueError("GLFT: the state vector does not match the parameters (init_state(p))")


@njit(cache=True, inline="always")
def _half_ticks(px, tick):
    """A price in ticks on the half-tick grid (NaN when not a usable price)."""
    if not (math.isfinite(px) and px > 0.0 and tick > 0.0):
        return math.nan
    return math.floor(2.0 * px / tick + 0.5) * 0.5


@njit(cache=True)
def on_trade(p, ss, t_ns, price, qty, mid_at_step_start, tick, side=0):
    """Record a public trade in the current step. ``mid_at_step_start`` NaN: the mid of the last on_step (the
    usual call); ``side``: the aggressor, +1 buyer, −1 seller, 0 unknown (inferred against that mid)."""
    m = _half_ticks(mid_at_step_start, tick)
    if math.isnan(m):
        m = ss[S_MID]
    if math.isnan(m) or not (math.isfinite(price) and price > 0.0 and tick > 0.0):
        ss[S_N_SKIPPED] += 1
        return
    pt = math.floor(price / tick + 0.5)
    s = side
    if s == 0:
        s = 1 if pt > m else (-1 if pt < m else 0)
        if s == 0:
            ss[S_N_SKIPPED] += 1
            return
    if s > 0:
        d = pt - m
        if d > ss[S_STEP_BUY]:
            ss[S_STEP_BUY] = d
    else:
        d = m - pt
        if d > ss[S_STEP_SELL]:
            ss[S_STEP_SELL] = d
    ss[S_N_TRADES] += 1


@njit(cache=True, inline="always")
def _points(d, f):
    """Grid points δ_j = j + ½ (j < f) strictly inside depth d."""
    if not d > 0.5:
        return 0
    return min(int(math.ceil(d - 0.5)), f)


@njit(cache=True)
def on_step(p, ss, t_ns, mid, tick):
    """Close the current step at ``t_ns`` with the mid now; returns 1 when A, k, σ were recalibrated, else 0."""
    check_state(p, ss)
    w, f, o_rb, o_rs, o_rd, o_hb, o_hs, o_hm = _layout(p)
    new_m = _half_ticks(mid, tick)
    old_m = ss[S_MID]
    if not math.isnan(old_m):
        h = int(ss[S_HEAD])
        if ss[S_N_REC] >= w:  # the oldest step leaves the window
            nb = int(ss[o_rb + h])
            ns = int(ss[o_rs + h])
            ss[o_hb + nb] -= 1.0
            ss[o_hs + ns] -= 1.0
            ss[o_hm + max(nb, ns)] -= 1.0
            dm = ss[o_rd + h]
            if not math.isnan(dm):
                ss[S_DM_SUM] -= dm
                ss[S_DM_SUMSQ] -= dm * dm
                ss[S_DM_N] -= 1.0
        else:
            ss[S_N_REC] += 1.0
        nb = _points(ss[S_STEP_BUY], f)
        ns = _points(ss[S_STEP_SELL], f)
        ss[o_rb + h] = nb
        ss[o_rs + h] = ns
        ss[o_hb + nb] += 1.0
        ss[o_hs + ns] += 1.0
        ss[o_hm + max(nb, ns)] += 1.0
        dm = new_m - old_m  # NaN when the new mid is unknown
        ss[o_rd + h] = dm
        if not math.isnan(dm):
            ss[S_DM_SUM] += dm
            ss[S_DM_SUMSQ] += dm * dm
            ss[S_DM_N] += 1.0
        ss[S_HEAD] = (h + 1) % w
    ss[S_STEP_BUY] = -math.inf
    ss[S_STEP_SELL] = -math.inf
    ss[S_MID] = new_m
    ss[S_STEP_T] = t_ns
    ss[S_N_STEPS] += 1.0
    ss[S_SINCE_FIT] += 1.0
    if ss[S_N_REC] >= w and (math.isnan(ss[S_FIT_T]) or ss[S_SINCE_FIT] >= p[P_RECAL_STEPS]):
        recalibrate(p, ss, t_ns)
        return 1
    return 0


@njit(cache=True)
def _count(p, ss, j, cum_b, cum_s, cum_m):
    """count_j (steps with n > j) for the arrival_sides mode, from the cumulative histogram sums up to j."""
    n = ss[S_N_REC]
    if int(p[P_ARRIVAL]) == 0:
        return n - cum_m
    return 0.5 * ((n - cum_b) + (n - cum_s))


@njit(cache=True)
def intensity_into(p, ss, out):
    """λ_j = count_j / window_s for j < F into ``out`` (len F); the counts are over the steps in the window."""
    w, f, o_rb, o_rs, o_rd, o_hb, o_hs, o_hm = _layout(p)
    cum_b = 0.0
    cum_s = 0.0
    cum_m = 0.0
    window_s = w * p[P_STEP_MS] / 1000.0
    for j in range(f):
        cum_b += ss[o_hb + j]
        cum_s += ss[o_hs + j]
        cum_m += ss[o_hm + j]
        out[j] = _count(p, ss, j, cum_b, cum_s, cum_m) / window_s


@njit(cache=True)
def fit_log_linear(x, y, m):
    """OLS of y on x over the first m points: (A, k) = (e^intercept, −slope); NaNs when m < 2 or x is flat."""
    if m < 2:
        return math.nan, math.nan
    sx = 0.0
    sy = 0.0
    for i in range(m):
        sx += x[i]
        sy += y[i]
    mx = sx / m
    my = sy / m
    sxx = 0.0
    sxy = 0.0
    for i in range(m):
        sxx += (x[i] - mx) * (x[i] - mx)
        sxy += (x[i] - mx) * (y[i] - my)
    if sxx == 0.0:
        return math.nan, math.nan
    slope = sxy / sxx
    return math.exp(my - slope * mx), -slope


@njit(cache=True)
def recalibrate(p, ss, t_ns):
    """Refit A, k on the window's intensities and recompute σ (see the module docstring)."""
    check_state(p, ss)
    f = int(p[P_FIT_POINTS])
    lam = np.empty(f)
    intensity_into(p, ss, lam)
    m = 0
    while m < f and lam[m] > 0.0:
        m += 1
    if m >= 3:
        x = np.arange(m) + 0.5
        y = np.log(lam[:m])
        A, k = fit_log_linear(x, y, m)
        ss[S_A] = A
        ss[S_K] = k
        ss[S_N_FITS] += 1.0
        ss[S_FIT_M] = m
    else:
        ss[S_N_FIT_FAILS] += 1.0
    n = ss[S_DM_N]
    if n >= 2.0:
        mean = ss[S_DM_SUM] / n
        var = max(ss[S_DM_SUMSQ] / n - mean * mean, 0.0)
        ss[S_SIGMA] = math.sqrt(var) * math.sqrt(1000.0 / p[P_STEP_MS])
    else:
        ss[S_SIGMA] = math.nan
    ss[S_FIT_T] = t_ns
    ss[S_SINCE_FIT] = 0.0


# ------------------------------------------------------------------------------------ plain-numpy helpers

def intensity_curve(p_array: np.ndarray, ss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(depths δ_j = j + ½ in ticks, λ_j per s) of the current window, j < fit_points (zeros included)."""
    f = int(p_array[P_FIT_POINTS])
    lam = np.empty(f)
    intensity_into(p_array, ss, lam)
    return np.arange(f) + 0.5, lam


def fit_A_k(depths, lambdas) -> tuple[float, float]:
    """Reference fit in plain numpy: (A, k) of log λ = log A − k·δ by least squares (np.polyfit) over the
    leading points with λ > 0 (the compiled path's rule); NaNs when fewer than 3."""
    depths = np.asarray(depths, dtype=float)
    lambdas = np.asarray(lambdas, dtype=float)
    pos = lambdas > 0
    m = len(lambdas) if pos.all() else int(np.argmin(pos))
    if m < 3:
        return math.nan, math.nan
    slope, intercept = np.polyfit(depths[:m], np.log(lambdas[:m]), 1)
    return float(np.exp(intercept)), float(-slope)
