# ruff: noqa: NPY002  (numba kernels use numpy's legacy global RNG, seeded at the top of each call)
"""The synthetic market's compiled kernel: a continuous limit order book that the snapshots sample.

One call simulates one day in 100-ms steps (``STEP_MS``). Prices are integer ticks. Each side of the book
is a sorted array of up to ``MAX_LEVELS`` price levels (best first). Within a step the kernel processes,
in time order (ms resolution; at equal ms, order flow before a snapshot):

1. **Repricing** (at the step start). Liquidity providers follow the latent fair price F. A resting ask
   below ``F - stale_ticks`` (or a bid above ``F + stale_ticks``) is stale: with probability
   ``sweep_prob`` an aggressive order takes it (a trade print at that level: the book is walked), else it
   is cancelled. This is how quotes some dollars from the mid get filled - and adversely selected - when
   the price runs.
2. **Noise market orders**, Poisson with the day's target print rate times a feedback multiplier that
   keeps the cumulative number of prints on target. Side: buy with probability 0.5 + ``flow_bias``, which
   leans toward where F goes in the next second (informed flow: fills are adversely selected);
   size heavy-tailed (log-normal, median ``trade_size_median``); the order walks the book, one print per
   level it touches, all at the order's ms.
3. **Liquidity**: refills of an opened spread next to F (probability ``refill_prob`` per side and step),
   additions to and cancellations of the top levels, and new deep levels so each side keeps >= 24.
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
def _level_size(size_median, depth_index):
    return size_median * np.exp(0.9 * np.random.standard_normal()) * (1.0 + 0.15 * depth_index)


@njit(cache=True)
def _gap(gap_mean):
    return 1 + int(np.random.exponential(gap_mean - 1.0))


@njit(cache=True)
def _ensure_depth(px, q, n, is_bid, ref, gap_mean, size_median):
    """Append deep levels until the side has MIN_LEVELS; an empty side starts at ``ref``."""
    while n < MIN_LEVELS:
        if n == 0:
            price = ref
        else:
            step = _gap(gap_mean * (1.0 + 0.05 * n))
            price = px[n - 1] - step if is_bid else px[n - 1] + step
        px[n] = price
        q[n] = _level_size(size_median, n)
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
def _liquidity_event(px, q, n, is_bid, f, opposite_touch, refill_prob, gap_mean, size_median):
    """One liquidity event on a side: refill an opened spread next to F, else add to, cut, or split a top level."""
    u = np.random.random()
    if is_bid:
        target = int(np.floor(f)) - int(np.random.exponential(0.4))
        target = min(target, opposite_touch - 1)
        improves = n == 0 or target > px[0]
    else:
        target = int(np.floor(f)) + 1 + int(np.random.exponential(0.4))
        target = max(target, opposite_touch + 1)
        improves = n == 0 or target < px[0]
    if improves:
        if u < refill_prob:
            n = _insert(px, q, n, target, _level_size(size_median, 0), is_bid)
    elif u < 0.35:
        j = min(int(np.random.exponential(2.0)), n - 1)
        q[j] = min(q[j] + _level_size(size_median, j) * 0.5, MAX_LEVEL_SIZE)
    elif u < 0.6:
        j = min(int(np.random.exponential(2.0)), n - 1)
        q[j] *= np.random.uniform(0.3, 1.0)
    elif u < 0.7 and n > 1 and abs(px[0] - px[1]) > 1:
        lo = min(px[0], px[1])
        p = lo + 1 + np.random.randint(0, abs(px[0] - px[1]) - 1)
        n = _insert(px, q, n, p, _level_size(size_median, 1), is_bid)
    return _ensure_depth(px, q, n, is_bid, px[0], gap_mean, size_median)


@njit(cache=True)
def simulate_day(fair, print_rate, flow_bias, snapshot_ms, start_ms, step_ms, seed, levels, gap_mean, size_median,
                 refill_prob, stale_ticks, sweep_prob, trade_size_median, trade_capacity):
    """Simulate one day. Returns (snapshot arrays..., trade arrays..., number of prints, noise orders)."""
    np.random.seed(seed)
    bpx = np.zeros(MAX_LEVELS, np.int64)
    bq = np.zeros(MAX_LEVELS)
    apx = np.zeros(MAX_LEVELS, np.int64)
    aq = np.zeros(MAX_LEVELS)
    f0 = fair[0]
    nb = _ensure_depth(bpx, bq, 0, True, int(np.floor(f0 - 0.5)), gap_mean, size_median)
    na = _ensure_depth(apx, aq, 0, False, int(np.floor(f0 - 0.5)) + 1, gap_mean, size_median)

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
    si = 0
    mult = 0.85
    cum_target = 0.0
    n_steps = len(print_rate)
    ev_t = np.zeros(4096, np.int64)
    ev_k = np.zeros(4096, np.int64)

    for step in range(n_steps):
        t0 = start_ms + step * step_ms
        f = fair[step]
        # ---- 1. repricing of stale levels (at t0)
        while na > 0 and apx[0] < f - stale_ticks:
            if np.random.random() < sweep_prob:
                nt = _record(tr_ts, tr_px, tr_q, tr_side, nt, t0, apx[0], aq[0], 1)
            na = _pop_front(apx, aq, na)
        while nb > 0 and bpx[0] > f + stale_ticks:
            if np.random.random() < sweep_prob:
                nt = _record(tr_ts, tr_px, tr_q, tr_side, nt, t0, bpx[0], bq[0], -1)
            nb = _pop_front(bpx, bq, nb)
        # cancel/replace: providers re-post next to F on a side that the move left behind
        fl = int(np.floor(f))
        if np.random.random() < refill_prob:
            p = fl - int(np.random.exponential(0.4))
            if na > 0 and p >= apx[0]:
                p = apx[0] - 1
            if nb == 0 or p > bpx[0]:
                nb = _insert(bpx, bq, nb, p, _level_size(size_median, 0), True)
        if np.random.random() < refill_prob:
            p = fl + 1 + int(np.random.exponential(0.4))
            if nb > 0 and p <= bpx[0]:
                p = bpx[0] + 1
            if na == 0 or p < apx[0]:
                na = _insert(apx, aq, na, p, _level_size(size_median, 0), False)
        if na == 0:
            ref = int(np.ceil(f + 0.5))
            if nb > 0 and ref <= bpx[0]:
                ref = bpx[0] + 1
            na = _ensure_depth(apx, aq, 0, False, ref, gap_mean, size_median)
        if nb == 0:
            ref = int(np.floor(f - 0.5))
            if ref >= apx[0]:
                ref = apx[0] - 1
            nb = _ensure_depth(bpx, bq, 0, True, ref, gap_mean, size_median)

        # ---- 2. this step's events, in time order
        n_mo = np.random.poisson(print_rate[step] * mult)
        cum_target += print_rate[step]
        ne = 0
        for _ in range(n_mo):
            if ne < 4000:
                ev_t[ne] = t0 + np.random.randint(0, step_ms)
                ev_k[ne] = 0
                ne += 1
        for side_k in (1, 2):  # refill / liquidity events, one per side
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
            if k == 0:  # noise market order walking the book
                n_orders += 1
                buy = np.random.random() < 0.5 + flow_bias[step]
                size = min(trade_size_median * np.exp(1.6 * np.random.standard_normal()), 40.0)
                while size > 1e-7:
                    if buy:
                        if na == 0:
                            na = _ensure_depth(apx, aq, 0, False, bpx[0] + 1, gap_mean, size_median)
                        take = min(size, aq[0])
                        nt = _record(tr_ts, tr_px, tr_q, tr_side, nt, t, apx[0], take, 1)
                        aq[0] -= take
                        size -= take
                        if aq[0] <= 1e-7:
                            na = _pop_front(apx, aq, na)
                    else:
                        if nb == 0:
                            nb = _ensure_depth(bpx, bq, 0, True, apx[0] - 1, gap_mean, size_median)
                        take = min(size, bq[0])
                        nt = _record(tr_ts, tr_px, tr_q, tr_side, nt, t, bpx[0], take, -1)
                        bq[0] -= take
                        size -= take
                        if bq[0] <= 1e-7:
                            nb = _pop_front(bpx, bq, nb)
            elif k == 1:  # liquidity on the bid side
                nb = _liquidity_event(bpx, bq, nb, True, f, apx[0], refill_prob, gap_mean, size_median)
            elif k == 2:  # liquidity on the ask side
                na = _liquidity_event(apx, aq, na, False, f, bpx[0], refill_prob, gap_mean, size_median)
            else:  # snapshot
                if nb < levels:
                    nb = _ensure_depth(bpx, bq, nb, True, apx[0] - 1, gap_mean, size_median)
                if na < levels:
                    na = _ensure_depth(apx, aq, na, False, bpx[0] + 1, gap_mean, size_median)
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
    return s_bpx[:si], s_bq[:si], s_apx[:si], s_aq[:si], si, tr_ts, tr_px, tr_q, tr_side, nt, n_orders
