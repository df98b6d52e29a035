"""The agents' decision loop compiled: a whole day of Alpha-AS decisions inside numba (issue #16 §1).

:func:`run_day` plays the same day as :func:`alpha_as.agents.alpha_as.run_day`'s Python loop, returning to Python
only when the engine's fill buffer must grow: at every decision time the state (the day's precomputed market
features on the decision grid + the 10 private features from the engine's fill rows), the z-score, the LSTM window,
the Q-network forward (:func:`q_forward` on float32 weights exported from torch, :func:`export_weights`),
ε-greedy with the agent's own ``numpy.random.Generator`` (numba draws ``random()`` and ``integers(0, 20)`` from
the same PCG64 stream as numpy, and advances the Python object's state), the AS parameter switch (a row of the
20 actions' parameter vectors copied into the array the kernel reads), the engine's ``run_until`` to the next
decision time, the reward (realized + min(unrealized, 0), with the ``reward_unit``/``day_end``/``reward_scale``
options), the replay-memory append (into the agent's ReplayMemory arrays) and the target-copy clock.

Identity with the Python path: both paths use the same compiled forward (``QNetwork.numpy_forward`` calls
:func:`q_forward`), the same engine functions and the same float64 operations in the same order, so the actions,
rewards, memory rows, fills and P&L are bit-identical (tests/test_decision_loop.py, both variants, a full
synthetic day with learning on). The forward's float32 sums run in index order (one accumulator per output, so
the loops vectorise without reassociation) instead of numpy's BLAS order: Q-values may differ from the numpy
forward of earlier versions in the last bits, and an action can change only where two Q-values were within that.

Covered (else the Python path, :func:`fallback_reason` says why): a DQNAgent (not one whose ``act``,
``q_values``, ``remember`` or ``copy_target`` is replaced), ``timing = "grid"``, ``q_target = "double"``, inputs
"paper" or "stationary" (:mod:`alpha_as.agents.private`, shared with the Python loop), every ``reward_unit``,
``day_end``, ``z_clip`` and ``reward_scale``, both variants, any seq_len, ``ignore_zero_outputs``,
``target_update`` copy or polyak. Not covered: the authors' timing (its reward and action snapshots are off the
grid) and ``q_target = "authors"`` (its ``remember`` reads the target network and merges rows by state at every
step). Target copies: with "double" the target is read only by ``fit``, and the online network does not change
during a day, so the day's copies (counted at the same market times) are one ``copy_target`` after the loop.

:func:`run_random` runs the random reference policy on the same loop (one ``integers(0, 20)`` per decision, no
state). The result's ``info["wall_seconds"]`` is the whole compiled day here (engine and agent); on the Python
loop it is the engine's share only.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

from alpha_as.agents import reference
from alpha_as.agents.actions import N_ACTIONS
from alpha_as.agents.features import PRIVATE_HORIZON, PRIVATE_SCALE, Normalizer
from alpha_as.agents.private import stationary_private
from alpha_as.agents.qforward import export_weights, q_forward
from alpha_as.data.store import MarketDay
from alpha_as.engine import kernel
from alpha_as.engine import state as S
from alpha_as.engine.accounting import unrealized_pnl
from alpha_as.engine.backtest import SteppedBacktest, after_buffer_code
from alpha_as.engine.chain import settle_gas
from alpha_as.engine.config import EngineConfig
from alpha_as.strategies.avellaneda_stoikov import ASParams

DAY_ENDS = ("continue", "terminal", "terminal_unwind")
LOOPS = ("compiled", "python")

# loop state (ls: int64) and its float part (lf)
L_K, L_PHASE, L_ACTION, L_T, L_NEXT_T, L_SINCE, L_COPIES = range(7)
N_LS = 8
F_LAST, F_MID = 0, 1
N_LF = 2
PH_INIT, PH_ACT, PH_RUN, PH_DONE = 0, 1, 2, 3
# options (oi: int64, of: float64)
(O_LSTM, O_SEQ, O_NIN, O_TANH, O_FITTED, O_LEARN, O_IGNORE0, O_NORM, O_DAY_END, O_BPS, O_COPY_NS, O_NMARKET,
 O_UNIFORM, O_STATIONARY) = range(14)
N_OI = 14
OF_EPS, OF_ZCLIP, OF_NOTIONAL_BPS, OF_SCALE, OF_QUANTITY = range(5)
N_OF = 5
DONE_OK = -1
""":func:`day_loop`'s return when the day is over (otherwise a kernel buffer code: grow and call again)."""
ROWS_FULL = -2
"""More decisions than the grid holds (a bug)."""


# ---- the day loop ----------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _finite(x, out):
    """np.nan_to_num(x, nan=0.0): NaN → 0, ±inf → ±the largest float64."""
    big = np.finfo(np.float64).max
    for j in range(x.shape[0]):
        v = x[j]
        if v != v:
            v = 0.0
        elif v == np.inf:
            v = big
        elif v == -np.inf:
            v = -big
        out[j] = v


@njit(cache=True, inline="always")
def _min0(u):
    """min(u, 0.0) as Python (and np.minimum) give it for a NaN first argument: NaN."""
    return 0.0 if 0.0 < u else u


@njit(cache=True)
def _push_state(st, t, times, market, nmean, nstd, oi, of, window, max_z, out):
    """The state at decision time ``t`` pushed into the window (raw, or z-scored, NaN → 0, clipped); the flat
    window into ``out``. As ``Observer.raw`` + ``run_day``'s ``state``."""
    seq, n = window.shape
    for r in range(seq - 1):
        for j in range(n):
            window[r, j] = window[r + 1, j]
    x = window[seq - 1]
    nm = oi[O_NMARKET]
    i = np.searchsorted(times, t, side="right") - 1
    for j in range(nm):
        x[j] = market[i, j] if i >= 0 else np.nan
    nf = st.si[S.N_FILLS]
    k = min(nf, PRIVATE_HORIZON) if oi[O_STATIONARY] == 0 else 0
    if oi[O_STATIONARY] == 1:
        stationary_private(st.fill_f, nf, of[OF_QUANTITY], x, nm)
    else:
        for j in range(2 * PRIVATE_HORIZON):
            x[nm + j] = 0.0
    for r in range(k):
        row = st.fill_f[nf - k + r]
        x[nm + PRIVATE_HORIZON - k + r] = row[S.F_POSITION] / PRIVATE_SCALE
        u = row[S.F_UNREALIZED]
        m = u if (u < 0.0 or u != u) else 0.0
        x[nm + 2 * PRIVATE_HORIZON - k + r] = (row[S.F_REALIZED] + m) / PRIVATE_SCALE
    if oi[O_NORM] == 1:
        clip = of[OF_ZCLIP]
        for j in range(n):
            z = (x[j] - nmean[j]) / nstd[j]
            if z != z:
                z = 0.0
            a = abs(z)
            if a > max_z[j]:
                max_z[j] = a
            if clip == clip:  # np.clip(z, -clip, clip)
                z = min(max(z, -clip), clip)
            x[j] = z
    for r in range(seq):
        for j in range(n):
            out[r * n + j] = window[r, j]


@njit(cache=True)
def _act(rng, s, w, oi, of, q, fin):
    """DQNAgent.act: one uniform draw; explore (or no fitted network) → integers(0, 20); else the greedy action
    (the first NaN or the first maximum, as np.argmax; ``ignore_zero_outputs`` drops exact zeros). With
    ``oi[O_UNIFORM]``, the random reference policy: one integers(0, 20) draw."""
    if oi[O_UNIFORM] == 1:
        return rng.integers(0, N_ACTIONS)
    explore = rng.random() < of[OF_EPS]
    if explore or oi[O_FITTED] == 0:
        return rng.integers(0, N_ACTIONS)
    _finite(s, fin)
    q_forward(fin, w, oi[O_LSTM] == 1, oi[O_SEQ], oi[O_NIN], oi[O_TANH] == 1, q)
    if oi[O_IGNORE0] == 1:
        live = False
        for i in range(N_ACTIONS):
            if q[i] == 0.0:
                q[i] = -np.inf
            elif q[i] != -np.inf:
                live = True
        if not live:
            return rng.integers(0, N_ACTIONS)
    best = 0
    for i in range(N_ACTIONS):
        if q[i] != q[i]:
            return i
        if q[i] > q[best]:
            best = i
    return best


@njit(cache=True)
def day_loop(depth_ts, bid_px, bid_qty, ask_px, ask_qty, trade_ts, trade_px, trade_qty, trade_side,
             ci, cf, params, st, last_event, grid_ns, act_params, times, market, nmean, nstd, oi, of, w, rng,
             mem_s, mem_a, mem_r, mem_s2, mem_d, mem_q, mem_meta, window, max_z, s_cur, s_new, ls, lf,
             out_t, out_a, out_r, out_d, out_s):
    """The day's decisions from the loop state ``ls``/``lf`` on (see :func:`run_day`); returns DONE_OK at the
    day's end, or the kernel's buffer code (the state is kept: grow the buffer and call again)."""
    dim = s_cur.shape[0]
    q = np.empty(N_ACTIONS)
    fin = np.empty(dim)
    if ls[L_PHASE] == PH_INIT:
        ls[L_T] = st.si[S.NOW]
        _push_state(st, ls[L_T], times, market, nmean, nstd, oi, of, window, max_z, s_cur)
        ls[L_PHASE] = PH_ACT
    while ls[L_PHASE] != PH_DONE:
        if ls[L_PHASE] == PH_ACT:
            a = _act(rng, s_cur, w, oi, of, q, fin)
            ls[L_ACTION] = a
            params[:] = act_params[a]
            ls[L_NEXT_T] = ls[L_NEXT_T] + grid_ns
            ls[L_PHASE] = PH_RUN
        code = kernel.run_until(depth_ts, bid_px, bid_qty, ask_px, ask_qty, trade_ts, trade_px, trade_qty,
                                trade_side, ci, cf, params, st, ls[L_NEXT_T])
        if code != kernel.STOP and code != kernel.END:
            return code
        if ls[L_K] >= out_t.shape[0]:
            return ROWS_FULL
        settle_gas(st.si, st.sf)
        t, t2, a, k = ls[L_T], ls[L_NEXT_T], ls[L_ACTION], ls[L_K]
        done = code == kernel.END or t2 > last_event
        unreal = unrealized_pnl(st, bid_px, bid_qty, ask_px, ask_qty, cf)
        m = st.sf[S.REALIZED] + _min0(unreal)
        r = m - lf[F_LAST]
        lf[F_LAST] = m
        b = st.si[S.BOOK]
        mid = 0.5 * (bid_px[b, 0] + ask_px[b, 0]) if b >= 0 else np.nan
        if done and oi[O_DAY_END] == 2:
            r += max(unreal, 0.0) if math.isfinite(unreal) else 0.0
        if oi[O_BPS] == 1:
            r = r * of[OF_NOTIONAL_BPS] / lf[F_MID]
        if math.isfinite(mid):
            lf[F_MID] = mid
        if of[OF_SCALE] != 1.0:
            r = r / of[OF_SCALE]
        _push_state(st, t2, times, market, nmean, nstd, oi, of, window, max_z, s_new)
        terminal = done and oi[O_DAY_END] != 0
        if oi[O_LEARN] == 1:  # ReplayMemory.add (no merging) and the copy clock
            pos, size, cap = mem_meta[0], mem_meta[1], mem_s.shape[0]
            mem_s[pos] = s_cur
            mem_q[pos] = 0.0
            mem_a[pos] = a
            mem_r[pos] = r
            mem_d[pos] = 1.0 if terminal else 0.0
            mem_s2[pos] = s_new
            mem_meta[0] = (pos + 1) % cap
            mem_meta[1] = min(size + 1, cap)
            if oi[O_COPY_NS] >= 0:
                ls[L_SINCE] += t2 - t
                if ls[L_SINCE] >= oi[O_COPY_NS]:
                    ls[L_COPIES] += 1
                    ls[L_SINCE] = 0
        out_t[k] = t
        out_a[k] = a
        out_r[k] = r
        out_d[k] = 1.0 if terminal else 0.0
        _finite(s_cur, out_s[k])
        s_cur[:] = s_new
        ls[L_T] = t2
        ls[L_K] = k + 1
        ls[L_PHASE] = PH_DONE if done else PH_ACT
    return DONE_OK


# ---- Python face -----------------------------------------------------------------------------------------


def fallback_reason(agent, timing: str, inputs: str, day_end: str) -> str | None:
    """Why a day must run on the Python loop (None: the compiled loop covers it)."""
    from alpha_as.agents.dqn import DQNAgent

    for name in ("act", "q_values", "remember", "copy_target"):
        if name in vars(agent) or getattr(type(agent), name, None) is not getattr(DQNAgent, name):
            return f"an agent whose {name} is not DQNAgent's (the compiled loop has DQNAgent's rules built in)"
    if timing != "grid":
        return f"timing {timing!r} (the compiled loop has the fixed grid only)"
    if agent.cfg.q_target != "double":
        return f"q_target {agent.cfg.q_target!r} (its remember reads the target network at every step)"
    if inputs not in ("paper", "stationary"):
        return f"inputs {inputs!r}"
    if day_end not in DAY_ENDS:
        return f"day_end {day_end!r}"
    return None


def _drive(sb: SteppedBacktest, obs: dict, per_action: list[ASParams], times: np.ndarray, market: np.ndarray,
           oi: np.ndarray, of: np.ndarray, w: tuple, rng: np.random.Generator, mem, window: np.ndarray,
           nmean: np.ndarray, nstd: np.ndarray, since_copy_ns: int, t0: float) -> tuple:
    """Run :func:`day_loop` on a reset SteppedBacktest to the day's end, growing the fill buffer when it asks;
    returns (rows, since, copies, max_z, (t, actions, rewards, dones, states)). ``mem`` = a ReplayMemory or None."""
    bt = sb.bt
    seq, n_in = window.shape
    dim = seq * n_in
    act_params = np.array([p.to_array() for p in per_action])
    max_z = np.zeros(n_in)
    ls = np.zeros(N_LS, np.int64)
    ls[L_NEXT_T], ls[L_SINCE], ls[L_PHASE] = sb.next_t, int(since_copy_ns), PH_INIT
    lf = np.zeros(N_LF)
    lf[F_LAST] = sb.last_measure
    if math.isfinite(obs["mid"]):
        lf[F_MID] = obs["mid"]
    else:  # alpha_as.run_day's _first_mid: the day's first finite mid, else 1
        mids = 0.5 * (bt.day.bid_px[:, 0] + bt.day.ask_px[:, 0])
        ok = np.isfinite(mids)
        lf[F_MID] = float(mids[ok][0]) if ok.any() else 1.0
    n_max = max(0, (bt.last_event - sb.next_t) // bt.grid_ns) + 2
    out = (np.zeros(n_max, np.int64), np.zeros(n_max, np.int64), np.zeros(n_max), np.zeros(n_max),
           np.zeros((n_max, dim)))
    if mem is None:  # nothing is stored (oi[O_LEARN] = 0): a one-row stand-in
        arrays = (np.zeros((1, dim)), np.zeros(1, np.int64), np.zeros(1), np.zeros((1, dim)), np.zeros(1),
                  np.zeros((1, N_ACTIONS)))
        meta = np.zeros(2, np.int64)
    else:
        arrays = (mem.states, mem.actions, mem.rewards, mem.next_states, mem.dones, mem.q)
        meta = np.array([mem.pos, mem.size], np.int64)
    market = np.ascontiguousarray(market, np.float64)
    if market.shape[0] == 0 or market.shape[1] == 0:
        market = np.full((max(market.shape[0], 1), max(market.shape[1], 1)), np.nan)
    s_cur, s_new = np.zeros(dim), np.zeros(dim)  # kept across calls (the loop resumes after a buffer grew)
    d = bt.day
    while True:
        code = day_loop(d.depth_ts, d.bid_px, d.bid_qty, d.ask_px, d.ask_qty, d.trade_ts, d.trade_px, d.trade_qty,
                        d.trade_side, bt.ci, bt.cf, bt.params, bt.state, np.int64(bt.last_event),
                        np.int64(bt.grid_ns), act_params, times, market, nmean, nstd, oi, of, w, rng, *arrays, meta,
                        window, max_z, s_cur, s_new, ls, lf, *out)
        if code == DONE_OK:
            break
        if code == ROWS_FULL:
            raise RuntimeError("more decisions than decision times (decision loop bug)")
        bt.state = after_buffer_code(bt.state, code)
    if mem is not None and oi[O_LEARN] == 1:
        mem.pos, mem.size = int(meta[0]), int(meta[1])
    n = int(ls[L_K])
    if n:
        bt.strategy = per_action[int(out[1][n - 1])]
    sb.next_t, sb.last_measure = int(ls[L_NEXT_T]), float(lf[F_LAST])
    bt.wall = time.perf_counter() - t0
    since = int(ls[L_SINCE]) if oi[O_COPY_NS] >= 0 else int(since_copy_ns)
    return n, since, int(ls[L_COPIES]), max_z, tuple(a[:n].copy() for a in out)


def run_day(agent, day: MarketDay, genas: ASParams, features, normalizer: Normalizer | None, epsilon: float, *,
            learn: bool, decision_seconds: float = 5.0, engine: EngineConfig | None = None,
            copy_every_ns: int | None = None, since_copy_ns: int = 0, map_over: str = "fills",
            options=None) -> tuple:
    """:func:`alpha_as.agents.alpha_as.run_day` (``timing = "grid"``) on the compiled loop: same arguments, same
    (DayRun, since_copy_ns), bit-identical rows, memory, fills and P&L."""
    from alpha_as.agents.alpha_as import PAPER_OPTIONS, DayRun
    from alpha_as.agents.observation import Observer, decision_times

    opt = options or PAPER_OPTIONS
    reason = fallback_reason(agent, "grid", opt.inputs, opt.day_end)
    if reason is not None:
        raise ValueError(f"the compiled decision loop does not cover {reason}")
    if learn and agent.memory.merge_states:
        raise ValueError("the compiled decision loop stores transition rows (q_target 'double') only")
    t0 = time.perf_counter()
    start = reference.initial_params(genas)
    sb = SteppedBacktest(day, start, engine, decision_seconds=decision_seconds)
    obs = sb.reset()
    bt = sb.bt
    times = decision_times(bt.first_grid, bt.last_event, bt.grid_ns)
    observer = Observer(bt.day, times, features, inputs=opt.inputs, quantity=start.quantity)
    cfg = agent.cfg
    seq = cfg.seq_len if cfg.variant == "lstm" else 1
    n_in = cfg.n_inputs
    has_norm = normalizer is not None
    window = np.full((seq, n_in), 0.0 if has_norm else np.nan)
    nmean = np.asarray(normalizer.mean, np.float64) if has_norm else np.zeros(n_in)
    nstd = np.asarray(normalizer.std, np.float64) if has_norm else np.ones(n_in)
    oi = np.zeros(N_OI, np.int64)
    oi[O_LSTM], oi[O_SEQ], oi[O_NIN] = int(cfg.variant == "lstm"), seq, n_in
    oi[O_TANH], oi[O_FITTED], oi[O_LEARN] = int(cfg.output_activation == "tanh"), int(agent.fitted), int(learn)
    oi[O_IGNORE0], oi[O_NORM], oi[O_DAY_END] = int(cfg.ignore_zero_outputs), int(has_norm), DAY_ENDS.index(opt.day_end)
    oi[O_BPS] = int(opt.reward_unit == "bps")
    oi[O_COPY_NS] = int(copy_every_ns) if (learn and copy_every_ns is not None) else -1
    oi[O_NMARKET] = len(observer.market_names)
    oi[O_STATIONARY] = int(opt.inputs == "stationary")
    of = np.zeros(N_OF)
    of[OF_EPS], of[OF_ZCLIP] = float(epsilon), (np.nan if opt.z_clip is None else float(opt.z_clip))
    of[OF_NOTIONAL_BPS], of[OF_SCALE] = 1e4 / start.quantity, float(opt.reward_scale)
    of[OF_QUANTITY] = float(start.quantity)
    n, since, n_copies, max_z, (ts, acts, rews, dones, states) = _drive(
        sb, obs, reference.action_params(genas), times, observer.market, oi, of, export_weights(agent.online),
        agent.rng, agent.memory, window, nmean, nstd, since_copy_ns, t0)
    copies = 0
    if n_copies > 0:
        agent.copy_target()  # the online net is the same all day: n copies = one
        copies = n_copies * int(cfg.target_update == "copy")
    run = DayRun(sb.result(map_over), ts, acts, rews, copies, dones=dones, states=states,
                 max_abs_z=max_z if has_norm else None)
    return run, since


_NO_WEIGHTS = tuple(np.zeros((1, 1) if k in (2, 4, 6, 8, 10) else 1, np.float32) for k in range(12))


def run_random(day: MarketDay, genas: ASParams, rng: np.random.Generator, *, engine: EngineConfig | None = None,
               decision_seconds: float = 5.0, map_over: str = "fills") -> tuple:
    """The random reference policy (:func:`alpha_as.agents.reference.run_random`) on the compiled loop: one
    ``rng.integers(0, 20)`` per decision, as its stepped path draws; returns (result, t, actions, rewards),
    identical to the stepped path's. No state is built (no market features), nothing is stored."""
    t0 = time.perf_counter()
    sb = SteppedBacktest(day, reference.initial_params(genas), engine, decision_seconds=decision_seconds)
    obs = sb.reset()
    oi = np.zeros(N_OI, np.int64)
    oi[O_UNIFORM], oi[O_SEQ], oi[O_NIN], oi[O_NMARKET], oi[O_COPY_NS] = 1, 1, 10, 0, -1
    of = np.zeros(N_OF)
    of[OF_SCALE] = 1.0
    times = np.array([sb.next_t], np.int64)
    _, _, _, _, (ts, acts, rews, _, _) = _drive(
        sb, obs, reference.action_params(genas), times, np.zeros((1, 0)), oi, of, _NO_WEIGHTS, rng, None,
        np.zeros((1, 2 * PRIVATE_HORIZON)), np.zeros(10), np.ones(10), 0, t0)
    return sb.result(map_over), ts, acts, rews
