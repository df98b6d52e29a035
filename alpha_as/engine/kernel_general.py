"""The general replay loop, for strategies registered with ``general`` (Hummingbot's AS, GLFT).

The same exchange as :mod:`alpha_as.engine.kernel` (event order, fill models, latency, fees, accounting), plus:

* several order levels per side (slot = side + 2·level; ``orders[0]``/``orders[1]`` are the best bid and ask); a
  trade fills our levels in level order, each for at most what the trade has left; crossing snapshots and queues
  are handled per slot;
* a strategy clock (``C_CLOCK_NS`` > 0): the strategy quotes at every clock event, after the snapshot of the same
  time, on the current book, instead of at every snapshot;
* ``on_trade`` sees every public trade (before it is matched, also the ones that cannot reach our orders) and
  ``on_fill`` each of our fills, with its fee;
* ``keep_after_fill``: a partly filled order stays live (the paper's loop cancels the rest, the authors'
  unquoteSide).

With one level, no clock, no hooks and ``keep_after_fill`` off it gives the paper loop's fills (a test checks it);
the paper's strategies run in the paper loop, which inlines only them and is faster.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from alpha_as.engine.jitcache import invalidate_if_stale

invalidate_if_stale()  # before the loop is first called: its cache must match the sources it inlines

# ruff: noqa: E402
from alpha_as.engine.accounting import EPS_QTY, book_fill
from alpha_as.engine.config import (
    C_CLOCK_NS,
    C_FILL_HOOK,
    C_FILL_MODEL,
    C_GRID_END,
    C_GRID_NS,
    C_HAS_SIDE,
    C_KEEP_AFTER_FILL,
    C_KIND,
    C_LATENCY_NS,
    C_LEVELS,
    C_TRADE_HOOK,
    CF_TICK,
)
from alpha_as.engine.kernel import (
    END,
    EPS_PX,
    FILLS_FULL,
    GRID_FULL,
    INF_T,
    LOTS_FULL,
    REQS_FULL,
    STOP,
    book_estimators,
    count_skip,
    level_qty,
    queue_on_snapshot,
    record_grid,
)
from alpha_as.engine.orders import send, set_quote
from alpha_as.engine.risk import K_NEXT_TICK, risk_quote_call, risk_snapshot, risk_tick
from alpha_as.engine.state import (
    BOOK,
    D_IDX,
    F_FEE,
    LOT_OVERFLOW,
    N_FILLS,
    N_GRID,
    N_HOLDS,
    N_QUOTE_UPDATES,
    N_REQUESTS,
    N_SNAPSHOTS,
    N_TRADES,
    NEXT_CLOCK_T,
    NEXT_GRID_T,
    NOW,
    O_LEVEL_QTY,
    O_PX,
    O_QTY,
    O_QUEUE,
    O_TRADED,
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
    RK_ON,
    T_IDX,
)
from alpha_as.strategies.base import Q_CANCEL, Q_HOLD, Q_LEVELS, Q_NONE, Q_OK, Q_OUTSIDE_HOURS
from alpha_as.strategies.registry import dispatch_module

_dispatch = dispatch_module()  # the general loop's strategies, one branch each
dispatch_quote = _dispatch.quote_general
dispatch_on_trade = _dispatch.on_trade
dispatch_on_fill = _dispatch.on_fill

# ----------------------------------------------------------------------------------------- orders

@njit(cache=True, inline="always")
def _after_fill(st, ci, side, lv, t):
    """The authors' unquoteSide: cancel what is left on that side; the strategy requotes at the next snapshot.
    With keep_after_fill a partly filled order stays live (a filled one is gone: the strategy may requote it)."""
    o = st.orders[side + 2 * lv]
    if ci[C_KEEP_AFTER_FILL] == 1:
        if o[O_QTY] <= EPS_QTY:
            o[O_QTY] = 0.0
            o[O_WORK_QTY] = 0.0
        return
    if o[O_QTY] > EPS_QTY:
        send(st.si, st.req_i, st.req_f, side, lv, 0.0, 0.0, t, ci[C_LATENCY_NS])
    else:
        o[O_QTY] = 0.0
    o[O_WORK_QTY] = 0.0


@njit(cache=True)
def _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, side, lv, px, qty, taker, t):
    """Fill up to ``qty`` of the order at level ``lv`` of ``side`` at ``px``; returns the quantity filled. Called, not
    inlined, with ``np.int64``/``np.bool_`` values rather than literals: one compiled copy (see kernel._fill)."""
    o = st.orders[side + 2 * lv]
    qty = min(qty, o[O_QTY])
    if qty <= EPS_QTY:
        return 0.0
    o[O_QTY] -= qty
    book_fill(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, side, px, qty, taker, t, o[O_PX])
    if ci[C_FILL_HOOK] == 1:
        dispatch_on_fill(ci[C_KIND], params, st.ss, t, side, lv, px, qty, st.fill_f[st.si[N_FILLS] - 1, F_FEE])
    _after_fill(st, ci, side, lv, t)
    return qty


@njit(cache=True, inline="always")
def _arrive(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, side, t):
    """A request reaches the exchange: it replaces the order at its level; a marketable one trades at once."""
    head = st.si[REQ_HEAD + side]
    px = st.req_f[side, head, R_PX]
    qty = st.req_f[side, head, R_QTY]
    lv = st.req_i[side, head, R_LV]
    st.si[REQ_HEAD + side] = (head + 1) % REQ_CAP
    st.si[REQ_N + side] -= 1
    o = st.orders[side + 2 * lv]
    if qty <= EPS_QTY:
        o[O_QTY] = 0.0
        return
    o[O_PX] = px
    o[O_QTY] = qty
    o[O_TRADED] = 0.0
    b = st.si[BOOK]
    if b < 0:
        o[O_QUEUE] = 0.0
        o[O_LEVEL_QTY] = 0.0
        return
    if side == 0:
        for k in range(ask_px.shape[1]):
            lp = ask_px[b, k]
            if not (math.isfinite(lp) and lp <= px + EPS_PX) or o[O_QTY] <= EPS_QTY:
                break
            _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, np.int64(0), lv, lp, ask_qty[b, k], np.bool_(True), t)
        lq = level_qty(bid_px[b], bid_qty[b], px)
    else:
        for k in range(bid_px.shape[1]):
            lp = bid_px[b, k]
            if not (math.isfinite(lp) and lp >= px - EPS_PX) or o[O_QTY] <= EPS_QTY:
                break
            _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, np.int64(1), lv, lp, bid_qty[b, k], np.bool_(True), t)
        lq = level_qty(ask_px[b], ask_qty[b], px)
    o[O_QUEUE] = lq
    o[O_LEVEL_QTY] = lq


# ----------------------------------------------------------------------------------------- events

@njit(cache=True, inline="always")
def _trade_slot(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, side, lv, price, qty, t):
    """A trade of ``qty`` at ``price`` against our order at level ``lv`` of ``side``; returns what it used."""
    o = st.orders[side + 2 * lv]
    if o[O_QTY] <= EPS_QTY:
        return 0.0
    ours = o[O_PX]
    through = price > ours + EPS_PX if side == 1 else price < ours - EPS_PX
    at = abs(price - ours) <= EPS_PX
    if not (through or at):
        return 0.0
    if ci[C_FILL_MODEL] == 0 or through:
        return _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, side, lv, ours, qty, np.bool_(False), t)
    # queue model, trade at our price (deeper levels are not at it: the whole trade is used here)
    o[O_TRADED] += qty
    if o[O_QUEUE] >= qty:
        o[O_QUEUE] -= qty
        return qty
    fill_qty = qty - o[O_QUEUE]
    o[O_QUEUE] = 0.0
    _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, side, lv, ours, fill_qty, np.bool_(False), t)
    return qty


@njit(cache=True, inline="always")
def _trade(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, price, qty, side_in, t):
    s = side_in if ci[C_HAS_SIDE] == 1 else 0
    nlev = ci[C_LEVELS]
    if s == 0:  # infer the aggressor against the mid of the book including our orders
        b = st.si[BOOK]
        bb = bid_px[b, 0] if b >= 0 else math.nan
        aa = ask_px[b, 0] if b >= 0 else math.nan
        for lv in range(nlev):
            ob, oa = st.orders[2 * lv], st.orders[2 * lv + 1]
            if ob[O_QTY] > EPS_QTY and (not math.isfinite(bb) or ob[O_PX] > bb):
                bb = ob[O_PX]
            if oa[O_QTY] > EPS_QTY and (not math.isfinite(aa) or oa[O_PX] < aa):
                aa = oa[O_PX]
        if not (math.isfinite(bb) and math.isfinite(aa)):
            return
        mid = 0.5 * (bb + aa)
        if price > mid:
            s = 1
        elif price < mid:
            s = -1
        else:
            return
    side = 1 if s > 0 else 0  # a buyer hits our ask (side 1), a seller our bid (side 0)
    left = qty
    for lv in range(nlev):  # level order (level 0 the best), each for what the trade has left
        left -= _trade_slot(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, side, lv, price, left, t)
        if left <= EPS_QTY:
            return


@njit(cache=True, inline="always")
def _cannot_reach(orders, nlev, s, px):
    """True when a trade at ``px`` by aggressor ``s`` (+1 buyer, −1 seller, 0 unknown) reaches none of our orders."""
    if s == 0:
        return False
    side = 1 if s > 0 else 0
    for lv in range(nlev):
        o = orders[side + 2 * lv]
        if o[O_QTY] > EPS_QTY and (px >= o[O_PX] - EPS_PX if side == 1 else px <= o[O_PX] + EPS_PX):
            return False
    return True


@njit(cache=True, inline="always")
def _quote(orders, si, sf, req_i, req_f, ci, side, lv, px, qty, t, tick):
    """set_quote, behind the risk module's checks when it is on (alpha_as.engine.risk)."""
    if si[RK_ON] == 1:
        risk_quote_call(orders, si, sf, req_i, req_f, ci[C_LATENCY_NS], np.int64(side), np.int64(lv), px, qty, t, tick)
    else:
        set_quote(orders, si, req_i, req_f, ci[C_LATENCY_NS], side, lv, px, qty, t)


@njit(cache=True, inline="always")
def _strategy(si, sf, orders, mids, kq, ss, req_i, req_f, ci, params, t, bid0, ask0, tick, bid_px, ask_px, i):
    """The strategy's quotes at this snapshot (:mod:`alpha_as.strategies.base`), sent when they changed. Takes the
    state's arrays, not the state (see orders.send)."""
    status, bp, bq, ap, aq = dispatch_quote(ci[C_KIND], params, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick,
                                             bid_px, ask_px, i)
    if status == Q_OK:
        si[N_QUOTE_UPDATES] += 1
    elif status == Q_LEVELS:
        si[N_QUOTE_UPDATES] += 1
        nlev = ci[C_LEVELS]
        base = len(ss) - 4 * nlev  # the quote buffer at the end of the strategy's state
        for lv in range(nlev):
            j = base + 4 * lv
            _quote(orders, si, sf, req_i, req_f, ci, 0, lv, ss[j], ss[j + 1], t, tick)
            _quote(orders, si, sf, req_i, req_f, ci, 1, lv, ss[j + 2], ss[j + 3], t, tick)
        return
    elif status == Q_OUTSIDE_HOURS or status == Q_CANCEL:
        if si[RK_ON] == 1:
            for lv in range(ci[C_LEVELS]):
                _quote(orders, si, sf, req_i, req_f, ci, 0, lv, 0.0, 0.0, t, tick)
                _quote(orders, si, sf, req_i, req_f, ci, 1, lv, 0.0, 0.0, t, tick)
        else:
            _cancel_all(orders, si, req_i, req_f, ci, t)
        return
    elif status == Q_HOLD:
        si[N_HOLDS] += 1
        return
    elif status == Q_NONE:
        return
    else:
        count_skip(si, status)
        return  # leave the orders as they are
    _quote(orders, si, sf, req_i, req_f, ci, 0, 0, bp, bq, t, tick)
    _quote(orders, si, sf, req_i, req_f, ci, 1, 0, ap, aq, t, tick)


@njit(cache=True, inline="always")
def _cancel_all(orders, si, req_i, req_f, ci, t):
    """Quote nothing on any level (cancels whatever is live or in flight)."""
    for lv in range(ci[C_LEVELS]):
        set_quote(orders, si, req_i, req_f, ci[C_LATENCY_NS], 0, lv, 0.0, 0.0, t)
        set_quote(orders, si, req_i, req_f, ci[C_LATENCY_NS], 1, lv, 0.0, 0.0, t)


@njit(cache=True, inline="always")
def _book_ready(si, bid_px, ask_px):
    """True when there is a current snapshot with both sides (the strategy may quote on it)."""
    b = si[BOOK]
    return b >= 0 and math.isfinite(bid_px[b, 0]) and math.isfinite(ask_px[b, 0])


@njit(cache=True, inline="always")
def _snapshot(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, i, t):
    """Book snapshot ``i``: crossing fills, queues, estimators; True when the strategy quotes now (no clock)."""
    st.si[BOOK] = i
    st.si[N_SNAPSHOTS] += 1
    # crossing fills: new levels strictly through a resting order fill it at the level's price
    nlev = ci[C_LEVELS]
    for lv in range(nlev):
        ob, oa = st.orders[2 * lv], st.orders[2 * lv + 1]
        if ob[O_QTY] > EPS_QTY:
            for k in range(ask_px.shape[1]):
                lp = ask_px[i, k]
                if not (math.isfinite(lp) and lp < ob[O_PX] - EPS_PX) or ob[O_QTY] <= EPS_QTY:
                    break
                _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, np.int64(0), lv, lp, ask_qty[i, k], np.bool_(False), t)
        if oa[O_QTY] > EPS_QTY:
            for k in range(bid_px.shape[1]):
                lp = bid_px[i, k]
                if not (math.isfinite(lp) and lp > oa[O_PX] + EPS_PX) or oa[O_QTY] <= EPS_QTY:
                    break
                _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, np.int64(1), lv, lp, bid_qty[i, k], np.bool_(False), t)
    if ci[C_FILL_MODEL] == 1:
        for lv in range(nlev):
            queue_on_snapshot(st, cf, bid_px[i], bid_qty[i], 0, 2 * lv)
            queue_on_snapshot(st, cf, ask_px[i], ask_qty[i], 1, 2 * lv + 1)
    good = book_estimators(st.si, st.sf, st.mids, st.kq, cf, bid_px, bid_qty, ask_px, ask_qty, i, t)
    if st.si[RK_ON] == 1:  # missing mid, kill switch, orders that strayed (alpha_as.engine.risk)
        risk_snapshot(st.orders, st.si, st.sf, st.req_i, st.req_f, ci[C_LATENCY_NS], good, bid_px[i, 0], ask_px[i, 0], t)
    if not good:
        if ci[C_KIND] != 0:
            # an empty side: stop quoting (depth.isDepthFilled)
            _cancel_all(st.orders, st.si, st.req_i, st.req_f, ci, t)
        return False
    return ci[C_CLOCK_NS] == 0


@njit(cache=True)
def run_until(depth_ts, bid_px, bid_qty, ask_px, ask_qty, trade_ts, trade_px, trade_qty, trade_side,
              ci, cf, params, st, t_stop):
    """Replay events up to and including ``t_stop`` (ns); returns STOP, END or a buffer code."""
    si = st.si
    nd = len(depth_ts)
    nt = len(trade_ts)
    grid_ns = ci[C_GRID_NS]
    clock_ns = ci[C_CLOCK_NS]
    has_side = ci[C_HAS_SIDE] == 1
    trade_hook = ci[C_TRADE_HOOK] == 1
    nlev = ci[C_LEVELS]
    margin = 4 * nlev * (bid_px.shape[1] + 2)  # the most fills one event can record
    risk_on = si[RK_ON] == 1
    while True:
        if si[LOT_OVERFLOW] == 1:
            return LOTS_FULL
        if si[N_FILLS] + margin >= len(st.fill_t):
            return FILLS_FULL
        if si[REQ_OVERFLOW] == 1:
            return REQS_FULL
        tr = INF_T
        req_side = -1
        req_seq = 0
        for side in range(2):  # the earliest arrival; at equal times, the request sent first
            if si[REQ_N + side] > 0:
                h = si[REQ_HEAD + side]
                tq = st.req_i[side, h, R_T]
                if tq < tr or (tq == tr and st.req_i[side, h, R_SEQ] < req_seq):
                    tr = tq
                    req_side = side
                    req_seq = st.req_i[side, h, R_SEQ]
        d = si[D_IDX]
        k = si[T_IDX]
        td = depth_ts[d] if d < nd else INF_T
        tt = trade_ts[k] if k < nt else INF_T
        tg = si[NEXT_GRID_T] if si[NEXT_GRID_T] <= ci[C_GRID_END] else INF_T
        tc = si[NEXT_CLOCK_T] if clock_ns > 0 and si[NEXT_CLOCK_T] <= ci[C_GRID_END] else INF_T
        t_next = min(min(tr, tt), min(min(td, tc), tg))
        if t_next == INF_T:
            return END
        if t_next > t_stop:
            return STOP
        si[NOW] = t_next
        if risk_on and t_next >= si[K_NEXT_TICK]:  # stale book, order TTL, flatten after a kill (alpha_as.engine.risk)
            n_sent = si[N_REQUESTS]
            risk_tick(st.orders, si, st.sf, st.req_i, st.req_f, ci[C_LATENCY_NS], bid_px, ask_px, t_next)
            if si[N_REQUESTS] != n_sent:
                continue  # it sent requests: back to the merge (with no latency they go first)
        if tr == t_next:
            _arrive(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, req_side, t_next)
        elif tt == t_next:
            # trades up to the next other event (requests first at equal times; snapshot, clock and grid after)
            t_other = min(tr - 1, min(min(td, tc), tg))
            orders = st.orders  # indexed in 2-D below: row views would be made at every batch (each clock event)
            while k < nt and trade_ts[k] <= t_other and trade_ts[k] <= t_stop:
                s = trade_side[k] if has_side else 0
                px = trade_px[k]
                if trade_hook:  # the strategy sees every trade, before it is matched
                    si[NOW] = trade_ts[k]
                    dispatch_on_trade(ci[C_KIND], params, st.ss, trade_ts[k], px, trade_qty[k], s, cf[CF_TICK])
                if nlev == 1:
                    if s > 0 and (orders[1, O_QTY] <= EPS_QTY or px < orders[1, O_PX] - EPS_PX):
                        k += 1  # a buyer that cannot reach our ask
                        continue
                    if s < 0 and (orders[0, O_QTY] <= EPS_QTY or px > orders[0, O_PX] + EPS_PX):
                        k += 1  # a seller that cannot reach our bid
                        continue
                elif _cannot_reach(orders, nlev, s, px):
                    k += 1
                    continue
                si[NOW] = trade_ts[k]
                _trade(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, px, trade_qty[k], s, trade_ts[k])
                k += 1
                if si[N_FILLS] + margin >= len(st.fill_t) or si[REQ_N] + si[REQ_N + 1] > 0:
                    break  # a fill sent a request: back to the merge
            n_fast = k - si[T_IDX]
            si[N_TRADES] += n_fast
            si[T_IDX] = k
            si[NOW] = trade_ts[k - 1]
        elif td == t_next or tc == t_next:
            if td == t_next:
                due = _snapshot(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, d, t_next)
                si[D_IDX] = d + 1
            else:  # the strategy's clock: it quotes on the current book (none before the first or on an empty side)
                due = _book_ready(si, bid_px, ask_px)
                si[NEXT_CLOCK_T] = t_next + clock_ns
            if due:  # one call site: the strategies are inlined once
                b = si[BOOK]
                _strategy(si, st.sf, st.orders, st.mids, st.kq, st.ss, st.req_i, st.req_f, ci, params, t_next,
                          bid_px[b, 0], ask_px[b, 0], cf[CF_TICK], bid_px, ask_px, b)
        else:
            if si[N_GRID] >= len(st.grid_t):
                return GRID_FULL
            record_grid(st, ci, params, bid_px, bid_qty, ask_px, ask_qty, cf, t_next)
            si[NEXT_GRID_T] = t_next + grid_ns
