"""The compiled replay loop: exchange simulation, fill models, latency, fees, accounting, records.

Events are merged by timestamp. At equal timestamps the order is: our order requests reaching the
exchange, then trades, then the depth snapshot, then the state record of the grid. (A snapshot stamped t
shows the book after everything up to t, including trades stamped t; a request that arrives at t rests
before the trades of t.)

Paper fill model (the authors' ``OrderMatchEngine``, spec §2):

* a trade whose aggressor is a buyer fills our ask if ask <= trade price, a seller our bid if bid >= price,
  for min(remaining, the whole trade quantity), at our limit price; no queue. The aggressor is the data's
  ``side``; where it is missing it is inferred against the mid of the book *including our orders*, and a
  trade at that mid fills nothing;
* a snapshot whose levels cross a resting order (strictly) fills it against those levels, level by level,
  at the level's (better) price;
* a request reaching the exchange replaces that side's order; a marketable one fills at once against the
  snapshot's levels (taker). The replayed book is not depleted by our fills (no market impact);
* after any fill, the strategy cancels what is left of that side and requotes it at the next snapshot (a strategy
  registered with ``keep_after_fill``, e.g. Hummingbot's, leaves a partly filled order live instead).

Strategies (:mod:`alpha_as.strategies`) quote at every snapshot or, on a clock (``C_CLOCK_NS``), at every clock
event (after the snapshot of the same time), with one or several order levels per side (slot = side + 2·level;
a trade fills our levels in level order, each for at most what the trade has left); optional hooks see every
public trade (before it is matched) and each of our fills.

Queue model: queue ahead = the size of our price level in the last snapshot when the order arrives (0 if
the price is not a visible level). Trades at our price advance it; the excess fills us (partial fills).
Trades through our price fill min(remaining, trade quantity). On a snapshot, a size decrease at our level
(net of the trade volume already seen there) is split between the queue ahead and behind by hftbacktest's
power-probability rule: the share taken from the front is 1 − f(back)/(f(back)+f(front)), f(x) = x^n.

Accounting (cash, lots, realized and unrealized P&L) is in :mod:`alpha_as.engine.accounting`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from alpha_as.engine.jitcache import invalidate_if_stale

invalidate_if_stale()  # before the loop is first called: its cache must match the sources it inlines

# ruff: noqa: E402
from alpha_as.engine.accounting import EPS_QTY, book_fill, unrealized_pnl
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
    CF_MARK_SIGMA,
    CF_MARK_WINDOW,
    CF_QUEUE_POWER,
    CF_TICK,
)
from alpha_as.engine.estimators import NS_PER_MINUTE, mid_variance, push_mid, push_minute, side_changed
from alpha_as.engine.state import (
    BOOK,
    CASH,
    CUR_ALL,
    CUR_ASK,
    CUR_BID,
    D_IDX,
    F_FEE,
    KQ_CAP,
    LOT_OVERFLOW,
    MARK_SD,
    MINUTE,
    N_FILLS,
    N_GRID,
    N_HOLDS,
    N_QUOTE_UPDATES,
    N_REQUESTS,
    N_SKIP_BOOK,
    N_SKIP_K,
    N_SKIP_QUOTE,
    N_SKIP_WARMUP,
    N_SNAPSHOTS,
    N_TRADES,
    NEXT_CLOCK_T,
    NEXT_GRID_T,
    NGF,
    NOW,
    O_LEVEL_QTY,
    O_PX,
    O_QTY,
    O_QUEUE,
    O_TRADED,
    O_WORK_PX,
    O_WORK_QTY,
    POSITION,
    REALIZED,
    REQ_CAP,
    REQ_HEAD,
    REQ_N,
    REQ_OVERFLOW,
    REQ_SEQ,
    T_IDX,
)
from alpha_as.strategies.base import (
    Q_CANCEL,
    Q_HOLD,
    Q_K_INVALID,
    Q_LEVELS,
    Q_NONE,
    Q_OK,
    Q_OUTSIDE_HOURS,
    Q_WARMUP,
)
from alpha_as.strategies.registry import dispatch_module

_dispatch = dispatch_module()  # the registered strategies' functions, one branch each
dispatch_quote = _dispatch.quote
dispatch_on_trade = _dispatch.on_trade
dispatch_on_fill = _dispatch.on_fill

EPS_PX = 1e-9
INF_T = np.iinfo(np.int64).max

STOP = 0        # reached t_stop
END = 1         # no event left
FILLS_FULL = 2  # the fill buffer needs to grow
LOTS_FULL = 3   # too many open lots (refused)
GRID_FULL = 4   # the grid buffer needs to grow
REQS_FULL = 5   # more order requests in flight on one side than the request ring holds (refused)


# ----------------------------------------------------------------------------------------- orders

@njit(cache=True, inline="always")
def _send(st, side, lv, px, qty, t, latency):
    """Queue a request for the order at level ``lv`` of ``side`` (qty 0 = cancel), reaching the exchange after
    the latency."""
    n = st.si[REQ_N + side]
    head = st.si[REQ_HEAD + side]
    if n == REQ_CAP:  # more requests in flight than the ring holds: the run is refused (see run_until)
        st.si[REQ_OVERFLOW] = 1
        return
    k = (head + n) % REQ_CAP
    st.req_t[side, k] = t + latency
    st.req_px[side, k] = px
    st.req_qty[side, k] = qty
    st.req_seq[side, k] = st.si[REQ_SEQ]
    st.req_lv[side, k] = lv
    st.si[REQ_SEQ] += 1
    st.si[REQ_N + side] = n + 1
    st.si[N_REQUESTS] += 1


@njit(cache=True, inline="always")
def _set_quote(st, ci, side, lv, px, qty, t):
    """The strategy wants (px, qty) at level ``lv`` of ``side`` (qty 0 = none): send a request only on change."""
    o = st.orders[side + 2 * lv]
    if qty <= 0.0:
        if o[O_WORK_QTY] > 0.0:
            _send(st, side, lv, 0.0, 0.0, t, ci[C_LATENCY_NS])
            o[O_WORK_QTY] = 0.0
        return
    if o[O_WORK_QTY] != qty or o[O_WORK_PX] != px:
        _send(st, side, lv, px, qty, t, ci[C_LATENCY_NS])
        o[O_WORK_PX] = px
        o[O_WORK_QTY] = qty


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
        _send(st, side, lv, 0.0, 0.0, t, ci[C_LATENCY_NS])
    else:
        o[O_QTY] = 0.0
    o[O_WORK_QTY] = 0.0


@njit(cache=True, inline="always")
def _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, side, lv, px, qty, taker, t):
    """Fill up to ``qty`` of the order at level ``lv`` of ``side`` at ``px``; returns the quantity filled."""
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
def _level_qty(px_row, qty_row, price):
    for lv in range(len(px_row)):
        if abs(px_row[lv] - price) <= EPS_PX:
            return qty_row[lv]
    return 0.0


@njit(cache=True, inline="always")
def _arrive(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, side, t):
    """A request reaches the exchange: it replaces the order at its level; a marketable one trades at once."""
    head = st.si[REQ_HEAD + side]
    px = st.req_px[side, head]
    qty = st.req_qty[side, head]
    lv = st.req_lv[side, head]
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
            _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, 0, lv, lp, ask_qty[b, k], True, t)
        lq = _level_qty(bid_px[b], bid_qty[b], px)
    else:
        for k in range(bid_px.shape[1]):
            lp = bid_px[b, k]
            if not (math.isfinite(lp) and lp >= px - EPS_PX) or o[O_QTY] <= EPS_QTY:
                break
            _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, 1, lv, lp, bid_qty[b, k], True, t)
        lq = _level_qty(ask_px[b], ask_qty[b], px)
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
        return _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, side, lv, ours, qty, False, t)
    # queue model, trade at our price (deeper levels are not at it: the whole trade is used here)
    o[O_TRADED] += qty
    if o[O_QUEUE] >= qty:
        o[O_QUEUE] -= qty
        return qty
    fill_qty = qty - o[O_QUEUE]
    o[O_QUEUE] = 0.0
    _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, side, lv, ours, fill_qty, False, t)
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
def _cannot_reach(st, nlev, s, px):
    """True when a trade at ``px`` by aggressor ``s`` (+1 buyer, −1 seller, 0 unknown) reaches none of our orders."""
    if s == 0:
        return False
    side = 1 if s > 0 else 0
    for lv in range(nlev):
        o = st.orders[side + 2 * lv]
        if o[O_QTY] > EPS_QTY and (px >= o[O_PX] - EPS_PX if side == 1 else px <= o[O_PX] + EPS_PX):
            return False
    return True


@njit(cache=True, inline="always")
def _queue_on_snapshot(st, cf, px_row, qty_row, side, slot):
    o = st.orders[slot]
    if o[O_QTY] <= EPS_QTY:
        return
    new_qty = _level_qty(px_row, qty_row, o[O_PX])
    best = px_row[0]
    if math.isfinite(best) and ((side == 0 and o[O_PX] > best + EPS_PX) or (side == 1 and o[O_PX] < best - EPS_PX)):
        o[O_QUEUE] = 0.0  # we are alone at a better price
    else:
        chg = o[O_LEVEL_QTY] - new_qty - o[O_TRADED]
        front = o[O_QUEUE]
        if chg < 0.0:
            o[O_QUEUE] = min(front, new_qty)
        else:
            back = max(o[O_LEVEL_QTY] - front, 0.0)
            n = cf[CF_QUEUE_POWER]
            fb = back ** n
            ff = front ** n
            prob = fb / (fb + ff) if fb + ff > 0.0 else 1.0
            est = front - (1.0 - prob) * chg + min(back - prob * chg, 0.0)
            o[O_QUEUE] = max(min(est, new_qty), 0.0)
    o[O_LEVEL_QTY] = new_qty
    o[O_TRADED] = 0.0


@njit(cache=True, inline="always")
def _strategy(st, ci, params, t, bid0, ask0, tick, bid_px, ask_px, i):
    """The strategy's quotes at this snapshot (:mod:`alpha_as.strategies.base`), sent when they changed."""
    status, bp, bq, ap, aq = dispatch_quote(ci[C_KIND], params, st, t, bid0, ask0, tick, bid_px, ask_px, i)
    if status == Q_OK:
        st.si[N_QUOTE_UPDATES] += 1
    elif status == Q_LEVELS:
        st.si[N_QUOTE_UPDATES] += 1
        q = st.qout
        for lv in range(ci[C_LEVELS]):
            _set_quote(st, ci, 0, lv, q[4 * lv], q[4 * lv + 1], t)
            _set_quote(st, ci, 1, lv, q[4 * lv + 2], q[4 * lv + 3], t)
        return
    elif status == Q_OUTSIDE_HOURS or status == Q_CANCEL:
        _cancel_all(st, ci, t)
        return
    elif status == Q_HOLD:
        st.si[N_HOLDS] += 1
        return
    elif status == Q_NONE:
        return
    else:
        if status == Q_WARMUP:
            st.si[N_SKIP_WARMUP] += 1
        elif status == Q_K_INVALID:
            st.si[N_SKIP_K] += 1
        else:
            st.si[N_SKIP_QUOTE] += 1
        return  # leave the orders as they are
    _set_quote(st, ci, 0, 0, bp, bq, t)
    _set_quote(st, ci, 1, 0, ap, aq, t)


@njit(cache=True, inline="always")
def _cancel_all(st, ci, t):
    """Quote nothing on any level (cancels whatever is live or in flight)."""
    for lv in range(ci[C_LEVELS]):
        _set_quote(st, ci, 0, lv, 0.0, 0.0, t)
        _set_quote(st, ci, 1, lv, 0.0, 0.0, t)


@njit(cache=True, inline="always")
def _book_ready(st, bid_px, ask_px):
    """True when there is a current snapshot with both sides (the strategy may quote on it)."""
    b = st.si[BOOK]
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
                _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, 0, lv, lp, ask_qty[i, k], False, t)
        if oa[O_QTY] > EPS_QTY:
            for k in range(bid_px.shape[1]):
                lp = bid_px[i, k]
                if not (math.isfinite(lp) and lp > oa[O_PX] + EPS_PX) or oa[O_QTY] <= EPS_QTY:
                    break
                _fill(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, 1, lv, lp, bid_qty[i, k], False, t)
    if ci[C_FILL_MODEL] == 1:
        for lv in range(nlev):
            _queue_on_snapshot(st, cf, bid_px[i], bid_qty[i], 0, 2 * lv)
            _queue_on_snapshot(st, cf, ask_px[i], ask_qty[i], 1, 2 * lv + 1)
    # estimators: completed-minute book-change counts, then this snapshot's changes and mid
    minute = t // NS_PER_MINUTE
    sf = st.sf
    if st.si[MINUTE] < 0:
        st.si[MINUTE] = minute
    elif minute > st.si[MINUTE]:
        push_minute(st.si, st.kq, sf[CUR_BID], sf[CUR_ASK], sf[CUR_ALL])
        gap = min(minute - st.si[MINUTE] - 1, KQ_CAP)
        for _ in range(gap):
            push_minute(st.si, st.kq, 0.0, 0.0, 0.0)
        sf[CUR_BID] = 0.0
        sf[CUR_ASK] = 0.0
        sf[CUR_ALL] = 0.0
        st.si[MINUTE] = minute
    if side_changed(bid_px, bid_qty, i):
        sf[CUR_BID] += 1.0
    if side_changed(ask_px, ask_qty, i):
        sf[CUR_ASK] += 1.0
    sf[CUR_ALL] += 1.0
    bid0, ask0 = bid_px[i, 0], ask_px[i, 0]
    if not (math.isfinite(bid0) and math.isfinite(ask0)):
        st.si[N_SKIP_BOOK] += 1
        if ci[C_KIND] != 0:
            _cancel_all(st, ci, t)  # an empty side: stop quoting (depth.isDepthFilled)
        return False
    push_mid(st.si, st.mids, 0.5 * (bid0 + ask0))
    if cf[CF_MARK_SIGMA] > 0.0:
        sf[MARK_SD] = math.sqrt(mid_variance(st.si, st.mids, int(cf[CF_MARK_WINDOW])))
    return ci[C_CLOCK_NS] == 0


@njit(cache=True, inline="always")
def _record_grid(st, params, bid_px, bid_qty, ask_px, ask_qty, cf, t):
    r = st.si[N_GRID]
    sf = st.sf
    b = st.si[BOOK]
    unreal = unrealized_pnl(st, bid_px, bid_qty, ask_px, ask_qty, cf)
    st.grid_t[r] = t
    row = st.grid_f[r]
    row[0] = sf[POSITION]
    row[1] = sf[CASH]
    row[2] = sf[REALIZED]
    row[3] = unreal
    row[4] = sf[REALIZED] + unreal
    row[5] = 0.5 * (bid_px[b, 0] + ask_px[b, 0]) if b >= 0 else math.nan
    ob, oa = st.orders[0], st.orders[1]
    row[6] = ob[O_WORK_PX] if ob[O_WORK_QTY] > 0.0 else math.nan
    row[7] = oa[O_WORK_PX] if oa[O_WORK_QTY] > 0.0 else math.nan
    row[8] = st.si[N_FILLS]
    src = st.grid_src
    for j in range(len(src)):  # the strategy's columns: its state (index >= 0) or parameters (index < 0)
        ix = src[j]
        row[NGF + j] = st.ss[ix] if ix >= 0 else params[-ix - 1]
    st.si[N_GRID] = r + 1


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
                tq = st.req_t[side, h]
                if tq < tr or (tq == tr and st.req_seq[side, h] < req_seq):
                    tr = tq
                    req_side = side
                    req_seq = st.req_seq[side, h]
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
        if tr == t_next:
            _arrive(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, req_side, t_next)
        elif tt == t_next:
            # trades up to the next other event (requests first at equal times; snapshot, clock and grid after)
            t_other = min(tr - 1, min(min(td, tc), tg))
            o_bid = st.orders[0]
            o_ask = st.orders[1]
            while k < nt and trade_ts[k] <= t_other and trade_ts[k] <= t_stop:
                s = trade_side[k] if has_side else 0
                px = trade_px[k]
                if trade_hook:  # the strategy sees every trade, before it is matched
                    si[NOW] = trade_ts[k]
                    dispatch_on_trade(ci[C_KIND], params, st.ss, trade_ts[k], px, trade_qty[k], s, cf[CF_TICK])
                if nlev == 1:
                    if s > 0 and (o_ask[O_QTY] <= EPS_QTY or px < o_ask[O_PX] - EPS_PX):
                        k += 1  # a buyer that cannot reach our ask
                        continue
                    if s < 0 and (o_bid[O_QTY] <= EPS_QTY or px > o_bid[O_PX] + EPS_PX):
                        k += 1  # a seller that cannot reach our bid
                        continue
                elif _cannot_reach(st, nlev, s, px):
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
                due = _book_ready(st, bid_px, ask_px)
                si[NEXT_CLOCK_T] = t_next + clock_ns
            if due:  # one call site: the strategies are inlined once
                b = si[BOOK]
                _strategy(st, ci, params, t_next, bid_px[b, 0], ask_px[b, 0], cf[CF_TICK], bid_px, ask_px, b)
        else:
            if si[N_GRID] >= len(st.grid_t):
                return GRID_FULL
            _record_grid(st, params, bid_px, bid_qty, ask_px, ask_qty, cf, t_next)
            si[NEXT_GRID_T] = t_next + grid_ns
