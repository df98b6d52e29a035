"""The online-γ learner's day compiled: every 5-s epoch of :func:`alpha_as.agents.policy_gradient.run_day` inside
numba (issue #16 §1, "the same loop serves ... the online-γ learner").

:func:`run_day` plays the same day as the Python loop (``loop = "python"``, kept as the reference), returning to
Python only when the engine's fill buffer must grow. Per epoch, inside the compiled loop: the features (top of the
book, the volatility EWMAs, the features' EWMA standardisation), the draw u ~ N(θᵀx, s²) from the learner's own
``numpy.random.Generator`` (numba's ``standard_normal`` is numpy's ziggurat on the same PCG64 stream, and it advances
the Python object's state), the traces, the applied-γ cap and clip, the γ slot of the strategy's parameter array,
the engine's ``run_until`` to the next decision time (the paper loop for AS, the general loop for Hummingbot's AS),
the reward (ΔMtM − φ·q²·Δt, or the asymmetric dampened P&L), the risk module's freeze/discard and the update.

Identity with the Python path: the same float64 operations in the same order, so γ, u, μ, s, the rewards, the
learner's state, the fills and the P&L are bit-identical (tests/test_policy_gradient_loop.py, both strategies, with
the risk module). Three details keep it so:

* θᵀx and ‖Δθ‖ are ``np.dot`` in both (BLAS ``ddot``; a plain loop sums in another order);
* Python's ``v ** 2`` is libm's ``pow(v, 2.0)``, which differs from ``v * v`` in the last bit for ~0.1 % of
  values; here the exponent is read from an array at run time (``c[C_TWO]``), so LLVM keeps the ``pow`` call
  instead of folding it into a multiplication;
* Python's ``min``/``max`` are :func:`_pmin`/:func:`_pmax` (which argument wins on a tie or a NaN).

The EWMA weights and log γ bounds are computed once in Python (:func:`_config_arrays`), as the Python loop computes
them at every epoch: the same values.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

from alpha_as.agents.policy_gradient import EPS, Z_CLIP, _alpha
from alpha_as.engine import kernel, kernel_general
from alpha_as.engine import state as S
from alpha_as.engine.accounting import unrealized_pnl
from alpha_as.engine.backtest import SteppedBacktest, after_buffer_code
from alpha_as.engine.chain import settle_gas
from alpha_as.strategies.avellaneda_stoikov import P_GAMMA as AS_GAMMA
from alpha_as.strategies.hummingbot_estimators import P_GAMMA as HB_GAMMA

# the learner's state: floats (g), integers (gi); θ, e_θ, the features' mean and variance are arrays of their own
G_RHO, G_E_RHO, G_R_MEAN, G_R_VAR, G_VOL_FAST, G_VOL_SLOW, G_LAST_MID, G_LAST_LOG_GAMMA = range(8)
I_R_N, I_F_N, I_VOL_N, I_EPOCHS, I_UPDATES, I_PENDING = range(6)
# the config: floats (c), integers (k)
(C_A_VOL_FAST, C_A_VOL_SLOW, C_A_FEATURE, C_A_REWARD, C_MAX_INV, C_DECAY, C_LR_MEAN, C_LR_STD, C_MAX_NORM,
 C_MAX_CHANGE, C_LOG_GMIN, C_LOG_GMAX, C_STD_MIN, C_STD_MAX, C_PENALTY, C_LOT, C_TICK, C_TWO) = range(18)
N_C = 18
K_LEARN, K_WARMUP, K_MTM, K_GAMMA_SLOT, K_GENERAL, K_T_FIRST, K_SPAN, K_GRID, K_LAST_EVENT = range(9)
N_K = 9
# the loop's state: integers (ls), the reward measure at the last decision (lf[0])
L_PHASE, L_K, L_T, L_NEXT_T, L_FROZEN = range(5)
N_LS = 5
PH_ACT, PH_RUN, PH_DONE = 0, 1, 2
N_ROW = 7
"""A row per epoch: t, γ applied, u, μ, s, reward, normalised reward (as the Python loop's rows)."""
DONE_OK = -1
ROWS_FULL = -2
GAMMA_SLOTS = {"ASParams": AS_GAMMA, "HummingbotASParams": HB_GAMMA}
"""The index of the learned field in each strategy's parameter array (``P_GAMMA`` of both)."""


@njit(cache=True, inline="always")
def _pmax(a, b):
    """Python's ``max(a, b)``: ``b`` only when ``b > a``."""
    return b if b > a else a


@njit(cache=True, inline="always")
def _pmin(a, b):
    """Python's ``min(a, b)``: ``b`` only when ``b < a``."""
    return b if b < a else a


@njit(cache=True)
def _features(g, gi, f_mean, f_var, c, position_lots, mid, spread_ticks, imbalance, time_fraction, raw, x):
    """PolicyGradientGamma.features into ``x``."""
    if math.isfinite(mid) and math.isfinite(g[G_LAST_MID]):
        dm2 = (mid - g[G_LAST_MID]) ** c[C_TWO]
        if gi[I_VOL_N] == 0:
            g[G_VOL_FAST] = dm2
            g[G_VOL_SLOW] = dm2
        else:
            g[G_VOL_FAST] += c[C_A_VOL_FAST] * (dm2 - g[G_VOL_FAST])
            g[G_VOL_SLOW] += c[C_A_VOL_SLOW] * (dm2 - g[G_VOL_SLOW])
        gi[I_VOL_N] += 1
    if math.isfinite(mid):
        g[G_LAST_MID] = mid
    vol_ratio = math.sqrt(g[G_VOL_FAST] / g[G_VOL_SLOW]) if g[G_VOL_SLOW] > 0 else 1.0
    raw[0], raw[1], raw[2], raw[3] = position_lots / c[C_MAX_INV], vol_ratio, spread_ticks, imbalance
    for j in range(4):
        if not math.isfinite(raw[j]):
            raw[j] = f_mean[j]
    if gi[I_F_N] == 0:
        f_mean[:] = raw
    else:
        a = c[C_A_FEATURE]
        for j in range(4):
            d = raw[j] - f_mean[j]
            f_mean[j] = f_mean[j] + a * d
            f_var[j] = (1 - a) * (f_var[j] + a * d * d)
    gi[I_F_N] += 1
    x[0] = 1.0
    for j in range(4):
        z = (raw[j] - f_mean[j]) / math.sqrt(max(f_var[j], EPS)) if f_var[j] > EPS else 0.0
        x[1 + j] = min(max(z, -Z_CLIP), Z_CLIP)
    x[5] = 2.0 * _pmin(_pmax(time_fraction, 0.0), 1.0) - 1.0 if math.isfinite(time_fraction) else 0.0


@njit(cache=True)
def _act(g, gi, theta, e_theta, c, k, x, frozen, rng, row):
    """PolicyGradientGamma.act; (γ applied, u, μ, s) into ``row[1:5]``."""
    mu = np.dot(theta, x)
    sd = math.exp(g[G_RHO])
    if frozen:
        u = mu
    else:
        u = mu + sd * rng.standard_normal()
        s2 = math.exp(2.0 * g[G_RHO])
        d = u - mu
        g_mu, g_rho = d / s2, d * d / s2 - 1.0
        if k[K_LEARN] == 1:
            for j in range(x.shape[0]):
                e_theta[j] = c[C_DECAY] * e_theta[j] + g_mu * x[j]
            g[G_E_RHO] = c[C_DECAY] * g[G_E_RHO] + g_rho
    applied = u
    last = g[G_LAST_LOG_GAMMA]
    if math.isfinite(last):
        applied = _pmin(_pmax(applied, last - c[C_MAX_CHANGE]), last + c[C_MAX_CHANGE])
    applied = _pmin(_pmax(applied, c[C_LOG_GMIN]), c[C_LOG_GMAX])
    g[G_LAST_LOG_GAMMA] = applied
    gi[I_EPOCHS] += 1
    gi[I_PENDING] = 0 if frozen else 1
    row[1], row[2], row[3], row[4] = math.exp(applied), u, mu, sd


@njit(cache=True)
def _learn(g, gi, theta, e_theta, c, k, reward, step):
    """PolicyGradientGamma.learn; returns the normalised reward (NaN when nothing is learned)."""
    if gi[I_PENDING] == 0 or not math.isfinite(reward):
        return np.nan
    gi[I_PENDING] = 0
    sd = math.sqrt(g[G_R_VAR])
    r_norm = (reward - g[G_R_MEAN]) / (sd + EPS) if gi[I_R_N] >= 2 and sd > 0 else np.nan
    if gi[I_R_N] == 0:
        g[G_R_MEAN] = reward
    else:
        a = c[C_A_REWARD]
        d = reward - g[G_R_MEAN]
        g[G_R_MEAN] += a * d
        g[G_R_VAR] = (1 - a) * (g[G_R_VAR] + a * d * d)
    gi[I_R_N] += 1
    if k[K_LEARN] == 0 or gi[I_EPOCHS] <= k[K_WARMUP] or not math.isfinite(r_norm):
        return r_norm
    f = c[C_LR_MEAN] * r_norm * math.exp(2.0 * g[G_RHO])
    for j in range(step.shape[0]):
        step[j] = f * e_theta[j]
    norm = math.sqrt(np.dot(step, step))  # np.linalg.norm of a vector
    if norm > c[C_MAX_NORM]:
        scale = c[C_MAX_NORM] / norm
        for j in range(step.shape[0]):
            step[j] *= scale
    for j in range(step.shape[0]):
        theta[j] = theta[j] + step[j]
    g[G_RHO] = _pmin(_pmax(g[G_RHO] + c[C_LR_STD] * r_norm * g[G_E_RHO], c[C_STD_MIN]), c[C_STD_MAX])
    gi[I_UPDATES] += 1
    return r_norm


@njit(cache=True)
def epoch_loop(depth_ts, bid_px, bid_qty, ask_px, ask_qty, trade_ts, trade_px, trade_qty, trade_side,
               ci, cf, params, st, g, gi, theta, e_theta, f_mean, f_var, c, k, rng, ls, lf, rows):
    """The day's epochs from the loop state ``ls``/``lf`` on (see :func:`run_day`); returns DONE_OK at the day's
    end, or the kernel's buffer code (the state is kept: grow the buffer and call again)."""
    x, raw, step = np.empty(6), np.empty(4), np.empty(6)
    while ls[L_PHASE] != PH_DONE:
        if ls[L_PHASE] == PH_ACT:
            if ls[L_K] >= rows.shape[0]:
                return ROWS_FULL
            row = rows[ls[L_K]]
            t = st.si[S.NOW]
            b = st.si[S.BOOK]
            if b >= 0:
                bid, ask, bq, aq = bid_px[b, 0], ask_px[b, 0], bid_qty[b, 0], ask_qty[b, 0]
            else:
                bid = ask = bq = aq = np.nan
            imbalance = (bq - aq) / (bq + aq) if bq + aq > 0 else np.nan
            _features(g, gi, f_mean, f_var, c, st.sf[S.POSITION] / c[C_LOT], 0.5 * (bid + ask),
                      (ask - bid) / c[C_TICK], imbalance, (t - k[K_T_FIRST]) / k[K_SPAN], raw, x)
            frozen = st.si[S.TRADING_STATE] != 0  # 0 = ACTIVE, and always 0 without a risk module
            ls[L_FROZEN] += int(frozen)
            _act(g, gi, theta, e_theta, c, k, x, frozen, rng, row)
            row[0] = t
            ls[L_T] = t
            params[k[K_GAMMA_SLOT]] = row[1]
            ls[L_NEXT_T] = ls[L_NEXT_T] + k[K_GRID]
            ls[L_PHASE] = PH_RUN
        if k[K_GENERAL] == 1:
            code = kernel_general.run_until(depth_ts, bid_px, bid_qty, ask_px, ask_qty, trade_ts, trade_px,
                                            trade_qty, trade_side, ci, cf, params, st, ls[L_NEXT_T])
        else:
            code = kernel.run_until(depth_ts, bid_px, bid_qty, ask_px, ask_qty, trade_ts, trade_px, trade_qty,
                                    trade_side, ci, cf, params, st, ls[L_NEXT_T])
        if code != kernel.STOP and code != kernel.END:
            return code
        settle_gas(st.si, st.sf)
        done = code == kernel.END or ls[L_NEXT_T] > k[K_LAST_EVENT]
        unreal = unrealized_pnl(st, bid_px, bid_qty, ask_px, ask_qty, cf)
        realized = st.sf[S.REALIZED]
        m = realized + unreal if k[K_MTM] == 1 else realized + (0.0 if 0.0 < unreal else unreal)
        reward = m - lf[0]
        lf[0] = m
        if k[K_MTM] == 1:
            dt_s = (ls[L_NEXT_T] - ls[L_T]) / 1e9
            reward -= c[C_PENALTY] * (st.sf[S.POSITION] / c[C_LOT]) ** c[C_TWO] * dt_s
        if st.si[S.TRADING_STATE] != 0:  # not ACTIVE by the epoch's end (e.g. a kill): no credit
            gi[I_PENDING] = 0
        row = rows[ls[L_K]]
        row[5] = reward
        row[6] = _learn(g, gi, theta, e_theta, c, k, reward, step)
        ls[L_K] += 1
        ls[L_PHASE] = PH_DONE if done else PH_ACT
    return DONE_OK


# ---- Python face -----------------------------------------------------------------------------------------


def _config_arrays(config, lot: float, gamma_slot: int, bt) -> tuple:
    """The loop's config arrays (c, k) for a learner config on a reset backtest ``bt``."""
    c = np.zeros(N_C)
    c[C_A_VOL_FAST], c[C_A_VOL_SLOW] = _alpha(config.vol_fast_halflife), _alpha(config.vol_slow_halflife)
    c[C_A_FEATURE], c[C_A_REWARD] = _alpha(config.feature_halflife), _alpha(config.reward_halflife)
    c[C_MAX_INV], c[C_DECAY] = config.max_inventory_lots, config.trace_decay
    c[C_LR_MEAN], c[C_LR_STD], c[C_MAX_NORM] = config.lr_mean, config.lr_log_std, config.max_update_norm
    c[C_MAX_CHANGE] = config.max_log_gamma_change
    c[C_LOG_GMIN], c[C_LOG_GMAX] = math.log(config.gamma_min), math.log(config.gamma_max)
    c[C_STD_MIN], c[C_STD_MAX] = config.log_std_min, config.log_std_max
    c[C_PENALTY], c[C_LOT], c[C_TICK], c[C_TWO] = config.inventory_penalty, lot, bt.config.tick, 2.0
    k = np.zeros(N_K, np.int64)
    k[K_LEARN], k[K_WARMUP], k[K_MTM] = int(config.learn), config.warmup_epochs, int(config.reward == "mtm_inventory")
    k[K_GAMMA_SLOT], k[K_GENERAL] = gamma_slot, int(bt.layout.general)
    k[K_T_FIRST], k[K_SPAN] = bt.first_grid, max(bt.last_event - bt.first_grid, 1)
    k[K_GRID], k[K_LAST_EVENT] = bt.grid_ns, bt.last_event
    return c, k


def run_day(day, params, config, *, seed: int = 0, state=None, engine=None, map_over: str = "fills"):
    """:func:`alpha_as.agents.policy_gradient.run_day` on the compiled loop: same arguments, the same
    LearnedGammaRun (bit-identical rows, learner state, fills and P&L)."""
    from alpha_as.agents import policy_gradient as PG
    from alpha_as.configs import replace_checked

    t0 = time.perf_counter()
    gamma_key, size_key = PG.risk_field(params)
    lot = float(getattr(params, size_key))
    learner = PG.PolicyGradientGamma(config, float(getattr(params, gamma_key)), seed, state)
    kind = "total" if config.reward == "mtm_inventory" else "asymmetric_dampened"
    sb = SteppedBacktest(day, params, engine, decision_seconds=config.epoch_seconds, reward=kind)
    sb.reset()
    bt = sb.bt
    c, k = _config_arrays(config, lot, GAMMA_SLOTS[type(params).__name__], bt)
    s = learner.state
    g = np.array([s.rho, s.e_rho, s.r_mean, s.r_var, s.vol_fast, s.vol_slow, s.last_mid, s.last_log_gamma])
    gi = np.array([s.r_n, s.f_n, s.vol_n, s.epochs, s.updates, int(learner._pending)], np.int64)
    theta, e_theta = np.array(s.theta, np.float64), np.array(s.e_theta, np.float64)
    f_mean, f_var = np.array(s.f_mean, np.float64), np.array(s.f_var, np.float64)
    ls = np.zeros(N_LS, np.int64)
    ls[L_PHASE], ls[L_NEXT_T] = (PH_DONE if bt.done else PH_ACT), sb.next_t
    lf = np.array([sb.last_measure])
    rows = np.zeros((max(0, (bt.last_event - sb.next_t) // bt.grid_ns) + 2, N_ROW))
    d = bt.day
    while True:
        code = epoch_loop(d.depth_ts, d.bid_px, d.bid_qty, d.ask_px, d.ask_qty, d.trade_ts, d.trade_px,
                          d.trade_qty, d.trade_side, bt.ci, bt.cf, bt.params, bt.state, g, gi, theta, e_theta,
                          f_mean, f_var, c, k, learner.rng, ls, lf, rows)
        if code == DONE_OK:
            break
        if code == ROWS_FULL:
            raise RuntimeError("more epochs than decision times (policy-gradient loop bug)")
        bt.state = after_buffer_code(bt.state, code)
    n = int(ls[L_K])
    arr = rows[:n]
    if n:
        bt.strategy = replace_checked(bt.strategy, {gamma_key: float(arr[-1, 1])}, source="step update")
    bt.done = bool(ls[L_PHASE] == PH_DONE)
    sb.next_t, sb.last_measure = int(ls[L_NEXT_T]), float(lf[0])
    bt.wall = time.perf_counter() - t0
    (s.rho, s.e_rho, s.r_mean, s.r_var, s.vol_fast, s.vol_slow, s.last_mid, s.last_log_gamma) = map(float, g)
    (s.r_n, s.f_n, s.vol_n, s.epochs, s.updates) = map(int, gi[:I_PENDING])
    s.theta, s.e_theta, s.f_mean, s.f_var = theta, e_theta, f_mean, f_var
    s.rng = learner.rng.bit_generator.state
    learner._pending = bool(gi[I_PENDING])
    return PG.LearnedGammaRun(sb.result(map_over), arr[:, 0].astype(np.int64), arr[:, 1].copy(), arr[:, 2].copy(),
                              arr[:, 3].copy(), arr[:, 4].copy(), arr[:, 5].copy(), arr[:, 6].copy(), learner,
                              int(ls[L_FROZEN]))
