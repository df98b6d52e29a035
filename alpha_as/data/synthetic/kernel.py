# ruff: noqa: NPY002  (numba kernels use numpy's legacy global RNG, seeded at the top of each call)
"""The synthetic market's compiled kernel: a continuous limit order book that the snapshots sample.

One call simulates one day in 100-ms steps (``STEP_MS``). Prices are integer ticks. Each side of the book
is a sorted array of up to ``MAX_LEVELS`` price levels (best first). Within a step the kernel processes,
in time order (ms resolution; at equal ms, order flow before a snapshot):

1. **Stale sides** (at the step start). The makers follow R, a lagged copy of the latent fair price F (the
   price of a leading venue). When R has left a side's touch behind by more than ``stale_ticks``, that side
   is re-centred: every level on the wrong side of R is cancelled, or, with probability ``sweep_prob`` per
   level, taken by an aggressive order (a print at that level). The spread then opens and is refilled near
   R, so the mid moves in jumps and is otherwise sticky.
2. **Market orders**, Poisson with the day's target print rate times a feedback multiplier that keeps the
   cumulative number of prints on target. An order is informed with probability
   ``informed_max * min(1, |F - mid| / informed_gap)`` and then trades toward F with a size
   ``informed_size_mult`` times larger; otherwise its side is a coin flip. Sizes are log-normal (median
   ``trade_size_median``, sigma ``trade_size_sigma``); the order walks the book, one print per level it
   touches, all at the order's ms. Because R lags F, the book catches up with an informed order's
   information over the next second or so (impact builds; fills of a passive quoter are adversely selected).
3. **Liquidity**, two events per side and step: refill an opened spread next to R (probability
   ``refill_prob``; a one-tick spread is never improved), add to, cut or split a top level, and new deep
   levels so each side keeps >= 24. A touch level has median ``size_median``; levels behind it ``behind``
   times that (growing with depth) and ``gap_mean`` ticks apart.
4. **Snapshots** at the scheduled times: the top ``levels`` levels of each side.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MAX_LEVELS = 64
MIN_LEVELS = 24
MAX_LEVEL_SIZE = 25.0
"""Largest size (BTC) a level can grow to."""
EVENT_SNAPSHOT = 3


@njit(cache=True)
def _pop_front(px, q, n):
    for i in range(n - 1):
        px[i] = px[i + 1]
        q[i] = q[i + 1]
    return n - 1


@njit(cache=True)
def _insert(px, q, n, price, qty, is_bid):
    """Insert (or add to) a level keeping best-first order; drops the worst level when full."""
    pos = 0
    while pos < n:
        if px[pos] == price:
            q[pos] = min(q[pos] + qty, MAX_LEVEL_SIZE)
            return n
        better = px[pos] < price if is_bid else px[pos] > price
        if better:
            break
        pos += 1
    if pos >= MAX_LEVELS:
        return n
    last = n if n < MAX_LEVELS else MAX_LEVELS - 1
    for i in range(last, pos, -1):
        px[i] = px[i - 1]
        q[i] = q[i - 1]
    px[pos] = price
    q[pos] = qty
    return last + 1


@njit(cache=True)
def _level_size(size_median, depth_index, behind):
    """A new level's size: log-normal; levels behind the touch get ``behind`` times more per level of depth."""
    scale = 1.0 if depth_index == 0 else behind * (1.0 + 0.15 * depth_index)
    return size_median * np.exp(0.9 * np.random.standard_normal()) * scale


@njit(cache=True)
def _gap(gap_mean):
    return 1 + int(np.random.exponential(gap_mean - 1.0))


@njit(cache=True)
def _ensure_depth(px, q, n, is_bid, ref, gap_mean, size_median, behind):
    """Append deep levels until the side has MIN_LEVELS; an empty side starts at ``ref``."""
    while n < MIN_LEVELS:
        if n == 0:
            price = ref
        else:
            step = _gap(gap_mean * (1.0 + 0.05 * n))
            price = px[n - 1] - step if is_bid else px[n - 1] + step
        px[n] = price
        q[n] = _level_size(size_median, n, behind)
        n += 1
    return n


@njit(cache=True)
def _record(tr_ts, tr_px, tr_q, tr_side, nt, t, price, qty, side):
    if nt < len(tr_ts):
        tr_ts[nt] = t
        tr_px[nt] = price
        tr_q[nt] = qty
        tr_side[nt] = side
    return nt + 1


@njit(cache=True)
def _liquidity_event(px, q, n, is_bid, r, opposite_touch, refill_prob, gap_mean, size_median, behind):
    """One liquidity event on a side: fill an opened spread next to R, else add to, cut, or split a top level.

    A one-tick spread is never improved: the touch moves only when a level is taken, cancelled or stale.
    """
    u = np.random.random()
    spread_open = n == 0 or abs(opposite_touch - px[0]) > 1
    if is_bid:
        target = min(int(np.floor(r - 0.5)) - int(np.random.exponential(0.4)), opposite_touch - 1)
        improves = n == 0 or target > px[0]
    else:
        target = max(int(np.ceil(r + 0.5)) + int(np.random.exponential(0.4)), opposite_touch + 1)
        improves = n == 0 or target < px[0]
    if spread_open and improves and u < refill_prob:
        n = _insert(px, q, n, target, _level_size(size_median, 0, behind), is_bid)
    elif u < 0.35:
        j = min(int(np.random.exponential(2.0)), n - 1)
        q[j] = min(q[j] + _level_size(size_median, j, behind) * 0.5, MAX_LEVEL_SIZE)
    elif u < 0.6:
        j = min(int(np.random.exponential(2.0)), n - 1)
        q[j] *= np.random.uniform(0.3, 1.0)
    elif u < 0.7 and n > 1 and abs(px[0] - px[1]) > 1:
        lo = min(px[0], px[1])
        p = lo + 1 + np.random.randint(0, abs(px[0] - px[1]) - 1)
        n = _insert(px, q, n, p, _level_size(size_median, 1, behind), is_bid)
    return _ensure_depth(px, q, n, is_bid, px[0], gap_mean, size_median, behind)


@njit(cache=True)
def simulate_day(fair, ref, print_rate, snapshot_ms, start_ms, step_ms, seed, levels, gap_mean, size_median, behind,
                 refill_prob, stale_ticks, sweep_prob, trade_size_median, trade_size_sigma, informed_max,
                 informed_gap, informed_size_mult, trade_capacity):
    """Simulate one day. Returns (snapshot arrays..., trade arrays..., prints, market orders, swept volume)."""
    np.random.seed(seed)
    bpx = np.zeros(MAX_LEVELS, np.int64)
    bq = np.zeros(MAX_LEVELS)
    apx = np.zeros(MAX_LEVELS, np.int64)
    aq = np.zeros(MAX_LEVELS)
    f0 = fair[0]
    nb = _ensure_depth(bpx, bq, 0, True, int(np.floor(f0 - 0.5)), gap_mean, size_median, behind)
    na = _ensure_depth(apx, aq, 0, False, int(np.floor(f0 - 0.5)) + 1, gap_mean, size_median, behind)

    n_snap = len(snapshot_ms)
    s_bpx = np.zeros((n_snap, levels), np.int64)
    s_apx = np.zeros((n_snap, levels), np.int64)
    s_bq = np.zeros((n_snap, levels))
    s_aq = np.zeros((n_snap, levels))
    tr_ts = np.zeros(trade_capacity, np.int64)
    tr_px = np.zeros(trade_capacity, np.int64)
    tr_q = np.zeros(trade_capacity)
    tr_side = np.zeros(trade_capacity, np.int8)
    nt = 0
    n_orders = 0
    swept = 0.0
    si = 0
    mult = 0.85
    cum_target = 0.0
    n_steps = len(print_rate)
    ev_t = np.zeros(4096, np.int64)
    ev_k = np.zeros(4096, np.int64)

    for step in range(n_steps):
        t0 = start_ms + step * step_ms
        f = fair[step]
        r = ref[step]
        # ---- 1. stale levels (at t0): the makers' reference R ran through them
        # (more than ``stale_ticks``): the makers re-centre that side on R, cancelling (or, with probability
        # ``sweep_prob`` per level, losing to an aggressive order) every level on the wrong side of R
        if na > 0 and apx[0] < r - stale_ticks:
            while na > 0 and apx[0] <= r:
                if np.random.random() < sweep_prob:
                    nt = _record(tr_ts, tr_px, tr_q, tr_side, nt, t0, apx[0], aq[0], 1)
                    swept += aq[0]
                na = _pop_front(apx, aq, na)
        if nb > 0 and bpx[0] > r + stale_ticks:
            while nb > 0 and bpx[0] >= r:
                if np.random.random() < sweep_prob:
                    nt = _record(tr_ts, tr_px, tr_q, tr_side, nt, t0, bpx[0], bq[0], -1)
                    swept += bq[0]
                nb = _pop_front(bpx, bq, nb)
        if na == 0:
            ref_px = int(np.ceil(r + 0.5))
            if nb > 0 and ref_px <= bpx[0]:
                ref_px = bpx[0] + 1
            na = _ensure_depth(apx, aq, 0, False, ref_px, gap_mean, size_median, behind)
        if nb == 0:
            ref_px = int(np.floor(r - 0.5))
            if ref_px >= apx[0]:
                ref_px = apx[0] - 1
            nb = _ensure_depth(bpx, bq, 0, True, ref_px, gap_mean, size_median, behind)

        # ---- 2. this step's events, in time order
        n_mo = np.random.poisson(print_rate[step] * mult)
        cum_target += print_rate[step]
        ne = 0
        for _ in range(n_mo):
            if ne < 4000:
                ev_t[ne] = t0 + np.random.randint(0, step_ms)
                ev_k[ne] = 0
                ne += 1
        for side_k in (1, 2, 1, 2):  # liquidity events, two per side
            ev_t[ne] = t0 + np.random.randint(0, step_ms)
            ev_k[ne] = side_k
            ne += 1
        j = si
        while j < n_snap and snapshot_ms[j] < t0 + step_ms and ne < 4090:
            ev_t[ne] = snapshot_ms[j]
            ev_k[ne] = EVENT_SNAPSHOT
            ne += 1
            j += 1
        order = np.argsort(ev_t[:ne] * 4 + ev_k[:ne], kind="mergesort")
        for oi in range(ne):
            e = order[oi]
            t = ev_t[e]
            k = ev_k[e]
            if k == 0:  # a market order walking the book: informed (toward F) or noise
                n_orders += 1
                gap = f - 0.5 * (apx[0] + bpx[0])
                p_inf = informed_max * min(1.0, abs(gap) / informed_gap)
                size = trade_size_median * np.exp(trade_size_sigma * np.random.standard_normal())
                if np.random.random() < p_inf:
                    buy = gap > 0
                    size *= informed_size_mult
                else:
                    buy = np.random.random() < 0.5
                size = min(size, 40.0)
                while size > 1e-7:
                    if buy:
                        if na == 0:
                            na = _ensure_depth(apx, aq, 0, False, bpx[0] + 1, gap_mean, size_median, behind)
                        take = min(size, aq[0])
                        nt = _record(tr_ts, tr_px, tr_q, tr_side, nt, t, apx[0], take, 1)
                        aq[0] -= take
                        size -= take
                        if aq[0] <= 1e-7:
                            na = _pop_front(apx, aq, na)
                    else:
                        if nb == 0:
                            nb = _ensure_depth(bpx, bq, 0, True, apx[0] - 1, gap_mean, size_median, behind)
                        take = min(size, bq[0])
                        nt = _record(tr_ts, tr_px, tr_q, tr_side, nt, t, bpx[0], take, -1)
                        bq[0] -= take
                        size -= take
                        if bq[0] <= 1e-7:
                            nb = _pop_front(bpx, bq, nb)
            elif k == 1:  # liquidity on the bid side
                nb = _liquidity_event(bpx, bq, nb, True, r, apx[0], refill_prob, gap_mean, size_median, behind)
            elif k == 2:  # liquidity on the ask side
                na = _liquidity_event(apx, aq, na, False, r, bpx[0], refill_prob, gap_mean, size_median, behind)
            else:  # snapshot
                if nb < levels:
                    nb = _ensure_depth(bpx, bq, nb, True, apx[0] - 1, gap_mean, size_median, behind)
                if na < levels:
                    na = _ensure_depth(apx, aq, na, False, bpx[0] + 1, gap_mean, size_median, behind)
                for lv in range(levels):
                    s_bpx[si, lv] = bpx[lv]
                    s_bq[si, lv] = bq[lv]
                    s_apx[si, lv] = apx[lv]
                    s_aq[si, lv] = aq[lv]
                si += 1
        # ---- feedback on the print rate (every 5 s)
        if step % 50 == 49 and nt > 0:
            ratio = cum_target / nt
            ratio = min(1.25, max(0.8, ratio))
            mult = min(5.0, max(0.05, mult * ratio))
    return s_bpx[:si], s_bq[:si], s_apx[:si], s_aq[:si], si, tr_ts, tr_px, tr_q, tr_side, nt, n_orders, swept
