"""Order requests, shared by both replay loops and the risk module: :func:`send` queues a request with its latency
(or its block, on a chain), :func:`set_quote` sends one only when the strategy's wish changed.

They live apart from :mod:`alpha_as.engine.kernel` so that :mod:`alpha_as.engine.risk` (which the loops call) can
send its own cancels and flatten orders without importing the loop.
"""

from __future__ import annotations

from numba import njit

from alpha_as.engine.chain import block_arrival
from alpha_as.engine.state import (
    CH_BLOCK_NS,
    N_REQUESTS,
    O_WORK_PX,
    O_WORK_QTY,
    R_LV,
    R_PX,
    R_QTY,
    R_SEQ,
    R_T,
    REQ_CAP,
    REQ_HEAD,
    REQ_N,
    REQ_OVERFLOW,
    REQ_SEQ,
)


@njit(cache=True, inline="always")
def send(si, req_i, req_f, side, lv, px, qty, t, latency):
    """Queue a request for the order at level ``lv`` of ``side`` (qty 0 = cancel), reaching the exchange after
    the latency, or, on a chain (``C_BLOCK_NS`` > 0), at the next block (:func:`alpha_as.engine.chain.block_arrival`)
    counting the action for its gas (:func:`alpha_as.engine.chain.settle_gas`; the chain's settings are in ``si``:
    :func:`alpha_as.engine.chain.set_state`). The order helpers take the state's arrays, not the state: numba takes a reference on every
    array of a tuple an inlined function receives (passing the state here made the general loop ~1.3x slower)."""
    n = si[REQ_N + side]
    head = si[REQ_HEAD + side]
    if n == REQ_CAP:  # more requests in flight than the ring holds: the run is refused (see run_until)
        si[REQ_OVERFLOW] = 1
        return
    k = (head + n) % REQ_CAP
    if si[CH_BLOCK_NS] > 0:
        prev = req_i[side, (head + n - 1) % REQ_CAP, R_T] if n > 0 else -1
        req_i[side, k, R_T] = block_arrival(si, t, prev, qty)
    else:
        req_i[side, k, R_T] = t + latency
    req_f[side, k, R_PX] = px
    req_f[side, k, R_QTY] = qty
    req_i[side, k, R_SEQ] = si[REQ_SEQ]
    req_i[side, k, R_LV] = lv
    si[REQ_SEQ] += 1
    si[REQ_N + side] = n + 1
    si[N_REQUESTS] += 1


@njit(cache=True, inline="always")
def set_quote(orders, si, req_i, req_f, latency, side, lv, px, qty, t):
    """The strategy wants (px, qty) at level ``lv`` of ``side`` (qty 0 = none): send a request only on change."""
    o = orders[side + 2 * lv]
    if qty <= 0.0:
        if o[O_WORK_QTY] > 0.0:
            send(si, req_i, req_f, side, lv, 0.0, 0.0, t, latency)
            o[O_WORK_QTY] = 0.0
        return
    if o[O_WORK_QTY] != qty or o[O_WORK_PX] != px:
        send(si, req_i, req_f, side, lv, px, qty, t, latency)
        o[O_WORK_PX] = px
        o[O_WORK_QTY] = qty
