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

Queue model: queue ahead = the size of our price level in the last snapshot when the order arrives (0 if
the price is not a visible level). Trades at our price advance it; the excess fills us (partial fills).
Trades through our price fill min(remaining, trade quantity). On a snapshot, a size decrease at our level
(net of the trade volume already seen there) is split between the queue ahead and behind by hftbacktest's
power-probability rule: the share taken from the front is 1 − f(back)/(f(back)+f(front)), f(x) = x^n.

Two loops share these rules and the helpers below. :func:`run_until` here is the paper's: one order per side,
the strategy quoting at every snapshot, no hooks (AS, the fixed quoter, FOIC, LIIC and any strategy registered
without ``general``). :func:`alpha_as.engine.kernel_general.run_until` is the general one, for strategies
registered with ``general`` (Hummingbot's AS, GLFT): several order levels per side, a strategy clock, hooks that
see every public trade and each of our fills. Keeping them apart keeps the paper's loop as fast as it was
before the general one existed; each loop inlines only its own strategies.

Accounting (cash, lots, realized and unrealized P&L) is in :mod:`alpha_as.engine.accounting`. With a risk config
(:mod:`alpha_as.engine.risk`), both loops send the strategy's requests through its checks, tell it of each snapshot
and call it at the events from its next deadline; without one, each of those is one branch on ``si[RK_ON]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from alpha_as.engine.jitcache import invalidate_if_stale

invalidate_if_stale()  # before the loop is first called: its cache must match the sources it inlines

# ruff: noqa: E402
from alpha_as.engine.accounting import EPS_QTY, book_fill, unrealized_pnl
from alpha_as.engine.chain import settle_gas
from alpha_as.engine.config import (
    C_FILL_MODEL,
    C_GRID_COLS,
    C_GRID_END,
    C_GRID_NS,
    C_HAS_SIDE,
    C_KIND,
    C_LATENCY_NS,
    CF_MARK_SIGMA,
    CF_MARK_WINDOW,
    CF_QUEUE_POWER,
    CF_TICK,
    N_CFG_I,
)
from alpha_as.engine.estimators import NS_PER_MINUTE, mid_variance, push_mid, push_minute, side_changed
from alpha_as.engine.orders import send, set_quote
from alpha_as.engine.risk import K_NEXT_TICK, risk_quote, risk_snapshot, risk_tick
from alpha_as.engine.state import (
    BOOK,
    CASH,
    CUR_ALL,
    CUR_ASK,
    CUR_BID,
    D_IDX,
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
    R_PX,
    R_QTY,
    R_SEQ,
    R_T,
    REALIZED,
    REQ_CAP,
    REQ_HEAD,
    REQ_N,
    REQ_OVERFLOW,
    RK_ON,
    T_IDX,
)
from alpha_as.strategies.base import (
    Q_CANCEL,
    Q_HOLD,
    Q_K_INVALID,
    Q_NONE,
    Q_OK,
    Q_OUTSIDE_HOURS,
    Q_WARMUP,
)
from alpha_as.strategies.registry import dispatch_module

dispatch_quote = dispatch_module().quote  # the paper loop's strategies, one branch each

EPS_PX = 1e-9
INF_T = np.iinfo(np.int64).max

STOP = 0        # reached t_stop
END = 1         # no event left
FILLS_FULL = 2  # the fill buffer needs to grow
LOTS_FULL = 3   # too many open lots (refused)
GRID_FULL = 4   # the grid buffer needs to grow
REQS_FULL = 5   # more order requests in flight on one side than the request ring holds (refused)


# ------------------------------------------------------------------------------- shared by both loops

@njit(cache=True, inline="always")
def level_qty(px_row, qty_row, price):
    """The visible size at ``price`` in one side of a snapshot (0 if it is not a level)."""
    for lv in range(len(px_row)):
        if abs(px_row[lv] - price) <= EPS_PX:
            return qty_row[lv]
    return 0.0


@njit(cache=True, inline="always")
def queue_on_snapshot(st, cf, px_row, qty_row, side, slot):
    """Queue model: the new snapshot's size at the price of our order in ``slot`` moves our queue position."""
    o = st.orders[slot]
    if o[O_QTY] <= EPS_QTY:
        return
    new_qty = level_qty(px_row, qty_row, o[O_PX])
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
def book_estimators(si, sf, mids, kq, cf, bid_px, bid_qty, ask_px, ask_qty, i, t):
    """The estimators strategies read, after snapshot ``i``: completed-minute book-change counts, this snapshot's
    changes and mid, the mark's σ. False (nothing pushed) when a side of the snapshot is empty. Takes the state's
    arrays, not the state: numba takes a reference on every array of a tuple an inlined function receives."""
    minute = t // NS_PER_MINUTE
    if si[MINUTE] < 0:
        si[MINUTE] = minute
    elif minute > si[MINUTE]:
        push_minute(si, kq, sf[CUR_BID], sf[CUR_ASK], sf[CUR_ALL])
        gap = min(minute - si[MINUTE] - 1, KQ_CAP)
        for _ in range(gap):
            push_minute(si, kq, 0.0, 0.0, 0.0)
        sf[CUR_BID] = 0.0
        sf[CUR_ASK] = 0.0
        sf[CUR_ALL] = 0.0
        si[MINUTE] = minute
    if side_changed(bid_px, bid_qty, i):
        sf[CUR_BID] += 1.0
    if side_changed(ask_px, ask_qty, i):
        sf[CUR_ASK] += 1.0
    sf[CUR_ALL] += 1.0
    bid0, ask0 = bid_px[i, 0], ask_px[i, 0]
    if not (math.isfinite(bid0) and math.isfinite(ask0)):
        si[N_SKIP_BOOK] += 1
        return False
    push_mid(si, mids, 0.5 * (bid0 + ask0))
    if cf[CF_MARK_SIGMA] > 0.0:
        sf[MARK_SD] = math.sqrt(mid_variance(si, mids, int(cf[CF_MARK_WINDOW])))
    return True


@njit(cache=True, inline="always")
def record_grid(st, ci, params, bid_px, bid_qty, ask_px, ask_qty, cf, t):
    """One row of the state grid at ``t``."""
    r = st.si[N_GRID]
    sf = st.sf
    settle_gas(st.si, sf)
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
    for j in range(ci[C_GRID_COLS]):  # the strategy's columns: its state (index >= 0) or parameters (index < 0)
        ix = ci[N_CFG_I + j]
        row[NGF + j] = st.ss[ix] if ix >= 0 else params[-ix - 1]
    st.si[N_GRID] = r + 1


@njit(cache=True, inline="always")
def count_skip(si, status):
    """A quote the strategy did not give: count why (the orders are left as they are)."""
    if status == Q_WARMUP:
        si[N_SKIP_WARMUP] += 1
    elif status == Q_K_INVALID:
        si[N_SKIP_K] += 1
    else:
        si[N_SKIP_QUOTE] += 1


# ------------------------------------------------------------------------------- the paper's loop: orders

@njit(cache=True, inline="always")
def _after_fill(st, ci, side, t):
    """The authors' unquoteSide: cancel what is left on that side; the strategy requotes at the next snapshot."""
    o = st.orders[side]
    if o[O_QTY] > EPS_QTY:
        send(st.si, st.req_i, st.req_f, side, 0, 0.0, 0.0, t, ci[C_LATENCY_NS])
    else:
        o[O_QTY] = 0.0
    o[O_WORK_QTY] = 0.0


@njit(cache=True)
def _fill(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, side, px, qty, taker, t):
    """Fill up to ``qty`` of our order on ``side`` at ``px``. Called, not inlined: fills are rare, and one compiled
    copy instead of one per call site halves the loop's compile time. Callers pass ``np.int64``/``np.bool_`` values,
    not literals, since numba compiles a called function once per literal argument."""
    o = st.orders[side]
    qty = min(qty, o[O_QTY])
    if qty <= EPS_QTY:
        return
    o[O_QTY] -= qty
    book_fill(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, side, px, qty, taker, t, o[O_PX])
    _after_fill(st, ci, side, t)


@njit(cache=True, inline="always")
def _arrive(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, side, t):
    """A request reaches the exchange: it replaces the side's order; a marketable one trades at once."""
    head = st.si[REQ_HEAD + side]
    px = st.req_f[side, head, R_PX]
    qty = st.req_f[side, head, R_QTY]
    st.si[REQ_HEAD + side] = (head + 1) % REQ_CAP
    st.si[REQ_N + side] -= 1
    o = st.orders[side]
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
        for lv in range(ask_px.shape[1]):
            lp = ask_px[b, lv]
            if not (math.isfinite(lp) and lp <= px + EPS_PX) or o[O_QTY] <= EPS_QTY:
                break
            _fill(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, np.int64(0), lp, ask_qty[b, lv], np.bool_(True), t)
        lq = level_qty(bid_px[b], bid_qty[b], px)
    else:
        for lv in range(bid_px.shape[1]):
            lp = bid_px[b, lv]
            if not (math.isfinite(lp) and lp >= px - EPS_PX) or o[O_QTY] <= EPS_QTY:
                break
            _fill(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, np.int64(1), lp, bid_qty[b, lv], np.bool_(True), t)
        lq = level_qty(ask_px[b], ask_qty[b], px)
    o[O_QUEUE] = lq
    o[O_LEVEL_QTY] = lq


# ------------------------------------------------------------------------------- the paper's loop: events

@njit(cache=True, inline="always")
def _trade(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, price, qty, side_in, t):
    s = side_in if ci[C_HAS_SIDE] == 1 else 0
    if s == 0:  # infer the aggressor against the mid of the book including our orders
        b = st.si[BOOK]
        bb = bid_px[b, 0] if b >= 0 else math.nan
        aa = ask_px[b, 0] if b >= 0 else math.nan
        ob, oa = st.orders[0], st.orders[1]
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
    o = st.orders[side]
    if o[O_QTY] <= EPS_QTY:
        return
    ours = o[O_PX]
    through = price > ours + EPS_PX if side == 1 else price < ours - EPS_PX
    at = abs(price - ours) <= EPS_PX
    if not (through or at):
        return
    if ci[C_FILL_MODEL] == 0 or through:
        _fill(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, side, ours, qty, np.bool_(False), t)
        return
    # queue model, trade at our price
    o[O_TRADED] += qty
    if o[O_QUEUE] >= qty:
        o[O_QUEUE] -= qty
        return
    fill_qty = qty - o[O_QUEUE]
    o[O_QUEUE] = 0.0
    _fill(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, side, ours, fill_qty, np.bool_(False), t)


@njit(cache=True, inline="always")
def _strategy(st, ci, params, t, bid0, ask0, tick, bid_px, ask_px, i):
    """The strategy's quotes at this snapshot (:mod:`alpha_as.strategies.base`), sent when they changed."""
    status, bp, bq, ap, aq = dispatch_quote(ci[C_KIND], params, st.si, st.sf, st.orders, st.mids, st.kq, st.ss, t, bid0, ask0, tick,
                                             bid_px, ask_px, i)
    if status == Q_OK:
        st.si[N_QUOTE_UPDATES] += 1
    elif status == Q_OUTSIDE_HOURS or status == Q_CANCEL:
        bq = 0.0
        aq = 0.0
    elif status == Q_NONE:
        return
    elif status == Q_HOLD:
        st.si[N_HOLDS] += 1
        return
    else:
        count_skip(st.si, status)
        return  # leave the orders as they are
    if st.si[RK_ON] == 1:  # the risk module's checks between the strategy and the venue (alpha_as.engine.risk)
        risk_quote(st.orders, st.si, st.sf, st.req_i, st.req_f, ci[C_LATENCY_NS], np.int64(0), np.int64(0), bp, bq, t, tick)
        risk_quote(st.orders, st.si, st.sf, st.req_i, st.req_f, ci[C_LATENCY_NS], np.int64(1), np.int64(0), ap, aq, t, tick)
        return
    set_quote(st.orders, st.si, st.req_i, st.req_f, ci[C_LATENCY_NS], 0, 0, bp, bq, t)
    set_quote(st.orders, st.si, st.req_i, st.req_f, ci[C_LATENCY_NS], 1, 0, ap, aq, t)


@njit(cache=True, inline="always")
def _snapshot(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, i, t):
    st.si[BOOK] = i
    st.si[N_SNAPSHOTS] += 1
    # crossing fills: new levels strictly through a resting order fill it at the level's price
    ob, oa = st.orders[0], st.orders[1]
    if ob[O_QTY] > EPS_QTY:
        for lv in range(ask_px.shape[1]):
            lp = ask_px[i, lv]
            if not (math.isfinite(lp) and lp < ob[O_PX] - EPS_PX) or ob[O_QTY] <= EPS_QTY:
                break
            _fill(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, np.int64(0), lp, ask_qty[i, lv], np.bool_(False), t)
    if oa[O_QTY] > EPS_QTY:
        for lv in range(bid_px.shape[1]):
            lp = bid_px[i, lv]
            if not (math.isfinite(lp) and lp > oa[O_PX] + EPS_PX) or oa[O_QTY] <= EPS_QTY:
                break
            _fill(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, np.int64(1), lp, bid_qty[i, lv], np.bool_(False), t)
    if ci[C_FILL_MODEL] == 1:
        queue_on_snapshot(st, cf, bid_px[i], bid_qty[i], 0, 0)
        queue_on_snapshot(st, cf, ask_px[i], ask_qty[i], 1, 1)
    good = book_estimators(st.si, st.sf, st.mids, st.kq, cf, bid_px, bid_qty, ask_px, ask_qty, i, t)
    if st.si[RK_ON] == 1:  # missing mid, kill switch, orders that strayed (alpha_as.engine.risk)
        risk_snapshot(st.orders, st.si, st.sf, st.req_i, st.req_f, ci[C_LATENCY_NS], good, bid_px[i, 0], ask_px[i, 0], t)
    if not good:
        if ci[C_KIND] != 0:
            # an empty side: stop quoting (depth.isDepthFilled)
            set_quote(st.orders, st.si, st.req_i, st.req_f, ci[C_LATENCY_NS], 0, 0, 0.0, 0.0, t)
            set_quote(st.orders, st.si, st.req_i, st.req_f, ci[C_LATENCY_NS], 1, 0, 0.0, 0.0, t)
        return
    _strategy(st, ci, params, t, bid_px[i, 0], ask_px[i, 0], cf[CF_TICK], bid_px, ask_px, i)


@njit(cache=True)
def run_until(depth_ts, bid_px, bid_qty, ask_px, ask_qty, trade_ts, trade_px, trade_qty, trade_side,
              ci, cf, params, st, t_stop):
    """Replay events up to and including ``t_stop`` (ns); returns STOP, END or a buffer code."""
    si = st.si
    nd = len(depth_ts)
    nt = len(trade_ts)
    grid_ns = ci[C_GRID_NS]
    has_side = ci[C_HAS_SIDE] == 1
    risk_on = si[RK_ON] == 1
    while True:
        if si[LOT_OVERFLOW] == 1:
            return LOTS_FULL
        if si[N_FILLS] + 4 * (bid_px.shape[1] + 2) >= len(st.fill_t):
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
        t_next = min(min(tr, tt), min(td, tg))
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
            _arrive(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, req_side, t_next)
        elif tt == t_next:
            # trades up to the next other event (requests first at equal times; snapshot and grid after)
            t_other = min(tr - 1, min(td, tg))
            o_bid = st.orders[0]
            o_ask = st.orders[1]
            while k < nt and trade_ts[k] <= t_other and trade_ts[k] <= t_stop:
                s = trade_side[k] if has_side else 0
                px = trade_px[k]
                if s > 0 and (o_ask[O_QTY] <= EPS_QTY or px < o_ask[O_PX] - EPS_PX):
                    pass  # a buyer that cannot reach our ask
                elif s < 0 and (o_bid[O_QTY] <= EPS_QTY or px > o_bid[O_PX] + EPS_PX):
                    pass  # a seller that cannot reach our bid
                else:
                    si[NOW] = trade_ts[k]
                    _trade(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, px, trade_qty[k], s, trade_ts[k])
                    if si[N_FILLS] + 4 * (bid_px.shape[1] + 2) >= len(st.fill_t) or si[REQ_N] + si[REQ_N + 1] > 0:
                        k += 1
                        break  # a fill sent a request: back to the merge
                    k += 1
                    continue
                k += 1
            n_fast = k - si[T_IDX]
            si[N_TRADES] += n_fast
            si[T_IDX] = k
            si[NOW] = trade_ts[k - 1]
        elif td == t_next:
            _snapshot(st, ci, cf, params, bid_px, bid_qty, ask_px, ask_qty, d, t_next)
            si[D_IDX] = d + 1
        else:
            if si[N_GRID] >= len(st.grid_t):
                return GRID_FULL
            record_grid(st, ci, params, bid_px, bid_qty, ask_px, ask_qty, cf, t_next)
            si[NEXT_GRID_T] = t_next + grid_ns
