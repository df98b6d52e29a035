"""Accounting of fills (compiled, inlined into the replay loop).

Cash, position and fees; realized P&L by lot matching — "paper": closing a long removes the highest-priced
buys first, closing a short the lowest-priced sells first (spec §2); "fifo": oldest first — net of fees;
unrealized P&L = (average price to unwind the position into the current snapshot's levels, bounded to
mid ± kσ, − average open price) × position, where the visible levels are too thin the rest unwinds at the
deepest visible price. Open lots keep running sums (quantity, value) so marking is O(levels).
"""

from __future__ import annotations

import math

from numba import njit

from alpha_as.engine.chain import settle_gas
from alpha_as.engine.config import C_LOT_RULE, CF_MAKER_FEE, CF_MARK_SIGMA, CF_TAKER_FEE
from alpha_as.engine.state import (
    BOOK,
    CASH,
    FEES,
    GAS,
    LOT_CAP,
    LOT_OVERFLOW,
    LOT_QTY,
    LOT_VALUE,
    MARK_SD,
    N_FILLS,
    N_LOTS,
    POSITION,
    REALIZED,
    VOLUME,
)

EPS_QTY = 1e-12


@njit(cache=True, inline="always")
def unwind_price(st, bid_px, bid_qty, ask_px, ask_qty, cf, position):
    """Average price to unwind ``position`` into the current snapshot (bid side if long), bounded to mid ± kσ."""
    b = st.si[BOOK]
    if b < 0 or position == 0.0:
        return math.nan
    px = bid_px if position > 0 else ask_px
    qty = bid_qty if position > 0 else ask_qty
    need = abs(position)
    got = 0.0
    cost = 0.0
    last = math.nan
    for lv in range(px.shape[1]):
        p = px[b, lv]
        if not math.isfinite(p):
            break
        take = min(need - got, qty[b, lv])
        cost += p * take
        got += take
        last = p
        if got >= need - EPS_QTY:
            break
    if not math.isfinite(last):
        return math.nan
    if got < need:
        cost += last * (need - got)
    mark = cost / need
    k = cf[CF_MARK_SIGMA]
    sd = st.sf[MARK_SD]
    if k > 0.0 and math.isfinite(sd):
        b0, a0 = bid_px[b, 0], ask_px[b, 0]
        if math.isfinite(b0) and math.isfinite(a0):
            mid = 0.5 * (b0 + a0)
            mark = min(max(mark, mid - k * sd), mid + k * sd)
    return mark


@njit(cache=True, inline="always")
def mark_and_unrealized(st, bid_px, bid_qty, ask_px, ask_qty, cf):
    """(unwind price, unrealized P&L) of the current position; (NaN, 0) when flat or with no book."""
    pos = st.sf[POSITION]
    q = st.sf[LOT_QTY]
    if abs(pos) < EPS_QTY or q <= EPS_QTY:
        return math.nan, 0.0
    mark = unwind_price(st, bid_px, bid_qty, ask_px, ask_qty, cf, pos)
    if not math.isfinite(mark):
        return math.nan, 0.0
    return mark, (mark - st.sf[LOT_VALUE] / q) * pos


@njit(cache=True, inline="always")
def unrealized_pnl(st, bid_px, bid_qty, ask_px, ask_qty, cf):
    return mark_and_unrealized(st, bid_px, bid_qty, ask_px, ask_qty, cf)[1]


@njit(cache=True, inline="always")
def _pick_lot(st, closing_long, fifo):
    n = st.si[N_LOTS]
    if fifo:
        return 0
    best = 0
    for j in range(1, n):
        if closing_long:
            if st.lots[0, j] > st.lots[0, best]:
                best = j
        elif st.lots[0, j] < st.lots[0, best]:
            best = j
    return best


@njit(cache=True, inline="always")
def _remove_lot(st, j):
    n = st.si[N_LOTS]
    for k in range(j, n - 1):
        st.lots[0, k] = st.lots[0, k + 1]
        st.lots[1, k] = st.lots[1, k + 1]
    st.si[N_LOTS] = n - 1


@njit(cache=True, inline="always")
def book_fill(st, ci, cf, bid_px, bid_qty, ask_px, ask_qty, side, px, qty, taker, t, limit):
    """Book one fill of our order on ``side`` (0 = our bid: we buy) and record it."""
    sf = st.sf
    sign = 1.0 if side == 0 else -1.0
    fee = (cf[CF_TAKER_FEE] if taker else cf[CF_MAKER_FEE]) * px * qty
    sf[CASH] -= sign * px * qty + fee
    sf[FEES] += fee
    sf[VOLUME] += qty
    pos = sf[POSITION]
    left = qty
    if pos * sign < -EPS_QTY:  # closing (part of) the position: match lots
        closing_long = pos > 0
        fifo = ci[C_LOT_RULE] == 1
        while left > EPS_QTY and st.si[N_LOTS] > 0:
            j = _pick_lot(st, closing_long, fifo)
            m = min(left, st.lots[1, j])
            if closing_long:
                sf[REALIZED] += (px - st.lots[0, j]) * m
            else:
                sf[REALIZED] += (st.lots[0, j] - px) * m
            st.lots[1, j] -= m
            sf[LOT_QTY] -= m
            sf[LOT_VALUE] -= m * st.lots[0, j]
            left -= m
            if st.lots[1, j] <= EPS_QTY:
                _remove_lot(st, j)
    if left > EPS_QTY:  # opening or extending
        n = st.si[N_LOTS]
        if n >= LOT_CAP:
            st.si[LOT_OVERFLOW] = 1
        else:
            st.lots[0, n] = px
            st.lots[1, n] = left
            st.si[N_LOTS] = n + 1
            sf[LOT_QTY] += left
            sf[LOT_VALUE] += left * px
    new_pos = pos + sign * qty
    if abs(new_pos) < EPS_QTY:
        new_pos = 0.0
        st.si[N_LOTS] = 0
        sf[LOT_QTY] = 0.0
        sf[LOT_VALUE] = 0.0
    sf[POSITION] = new_pos
    sf[REALIZED] -= fee
    settle_gas(st.si, sf)  # on a chain: the gas of the actions sent so far, in the realized P&L of this row
    r = st.si[N_FILLS]
    mark, unreal = mark_and_unrealized(st, bid_px, bid_qty, ask_px, ask_qty, cf)
    st.fill_t[r] = t
    row = st.fill_f[r]
    row[0] = sign
    row[1] = px
    row[2] = qty
    row[3] = new_pos
    row[4] = sf[REALIZED]
    row[5] = unreal
    row[6] = sf[REALIZED] + unreal
    row[7] = fee
    row[8] = 1.0 if taker else 0.0
    row[9] = sf[CASH]
    row[10] = limit
    row[11] = mark
    row[12] = sf[GAS]
    st.si[N_FILLS] = r + 1
