"""The online estimators of Hummingbot's ``avellaneda_market_making`` (spec §1.2, §1.8), compiled, and the layout
of the strategy's parameter vector ``p`` and state vector ``ss`` (:mod:`alpha_as.strategies.hummingbot_as` holds
the parameter dataclass and the quotes).

Volatility (§1.2; Hummingbot's ``InstantVolatilityIndicator``): a ring of the last ``volatility_buffer_size`` mids,
one per ``on_tick``; σ = sqrt(Σ (p_i − p_{i−1})² / N) over the N mids held (no mean removed; absolute price units
per tick). The mids are kept in float64 (Hummingbot's ring buffer goes through a 32-bit float: not copied).

Trading intensity (§1.8; Hummingbot's ``TradingIntensityIndicator``): every public trade (``on_trade``) is matched
to the last mid sampled strictly before it and recorded as (d = |price − mid|, amount), keyed by that tick. The
buffer holds the newest ``trading_intensity_buffer_size`` ticks that had trades; once it is full, the volume per
distinct d is fitted by λ(d) = α·exp(−κ·d) (least squares, from the previous α, κ; Hummingbot starts at 0, 0) at
the next ``on_tick``; a failed fit keeps the old values. d is rounded to 1e−9 price units so that float noise
(100.03 − 100 ≠ 0.03) does not split one distance in two (Hummingbot compares raw floats). The fit runs when the
buffer changed since the last fit (Hummingbot refits every tick, from the previous optimum, on the same data).

Storage, all in ``ss``: the records are aggregated per (tick, d) in a ring of ``intensity_records_per_tick ×
trading_intensity_buffer_size`` entries, the volume per distinct d in a sorted table of ``intensity_max_distances``
entries (with the number of records holding each d, so a d leaves the buffer with its last record). A distance
that leaves stays in the table as a gap (count 0), which the same distance fills again when it comes back and a
new neighbour may take, so that an insertion shifts entries only up to the nearest gap; the table is compacted when
the gaps outnumber the distances held or it runs out of room (~280 k distances enter and leave the buffer on a
paper-scale day: without the gaps each one shifted half the table). A trade that needs a record or a distance
beyond those capacities is dropped and counted (``ss[S_DROP_FULL]``); a trade with no
earlier mid (before the first tick, or older than the previous tick), out of time order, or with a non-finite or
negative price/amount is dropped and counted (``ss[S_DROP_NO_MID]``).

The fit (:func:`fit_intensity`) is a variable-projection least squares (α eliminated, safeguarded Newton on κ
from the previous κ): the optimum scipy's dogbox reaches from the same start, without its stalls in flat valleys.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
DIST_QUANTUM = 1e9
"""Distances are rounded to 1/DIST_QUANTUM price units (1e−9)."""
ZERO_VOLUME = 1e-10
"""A distance whose consolidated volume is 0 is fitted with this volume (Hummingbot: "zeros → 1e−10")."""
E_NEGLIGIBLE = 1e-150
"""An exponential below this is taken as 0 in the fit's sums: its terms (≤ 1e−150·v·d², with e² ≤ 1e−300) are far
below half an ulp of sums that hold the nearest distance's term (e = 1) and, for a fit that is not on the plateau
(κ·(d₂ − d₁) ≤ 30), the second one's (e ≥ e^−30), so the sums are unchanged; the gain is that the exponential does
not decay through subnormal numbers, which cost ~100× a normal multiply on x86."""

# ---- parameter vector layout (HummingbotASParams.to_array) -------------------------------------------------------
P_GAMMA = 0
P_ETA = 1
P_MIN_SPREAD = 2          # % of mid
P_REFRESH_NS = 3
P_MAX_AGE_NS = 4
P_TOLERANCE = 5           # fraction (order_refresh_tolerance_pct / 100)
P_FILL_DELAY_NS = 6
P_TARGET_PCT = 7          # %
P_VOL_N = 8
P_TI_N = 9
P_LEVELS = 10
P_LEVEL_DIST = 11         # % of the half-spread
P_OPTIMIZE = 12           # 1.0 / 0.0
P_ADD_COSTS = 13          # 1.0 / 0.0
P_FEE = 14                # fraction (maker_fee_pct / 100)
P_MODE = 15               # MODE_*
P_START_NS = 16           # daily: ns after 00:00 UTC; from_date_to_date: epoch ns (whole seconds are exact)
P_END_NS = 17
P_TICK_NS = 18
P_BASE0 = 19              # −1: auto
P_QUOTE0 = 20             # −1: auto
P_AUTO_ORDERS = 21
P_AMOUNT = 22
P_BUDGET = 23             # 1.0 / 0.0
P_REC_PER_TICK = 24
P_MAX_DIST = 25
N_PARAMS = 26

MODE_INFINITE = 0
MODE_FROM_DATE_TO_DATE = 1
MODE_DAILY = 2

# ---- state vector layout (init_state) ----------------------------------------------------------------------------
S_N_TICKS = 0             # on_tick calls so far (the tick index of the next one)
S_T0_S = 1                # time origin: whole epoch seconds of the first tick ...
S_T0_FRAC = 2             # ... and its ns remainder; every time below is in ns relative to it (exact below 104 days)
S_LAST_T = 3              # last tick: time, mid
S_LAST_MID = 4
S_PREV_T = 5              # the tick before it
S_PREV_MID = 6
S_VOL_HEAD = 7            # σ ring: next write index, mids held
S_VOL_N = 8
S_SIGMA = 9               # σ of the mids held (after the last on_tick)
S_ALPHA = 10              # fitted α, κ (0 until the first successful fit)
S_KAPPA = 11
S_N_FITS = 12             # successful / failed fits
S_N_FIT_FAIL = 13
S_TI_DIRTY = 14           # the intensity buffer changed since the last fit
S_REC_HEAD = 15           # record ring: next write index, records held
S_REC_N = 16
S_TI_TICKS = 17           # distinct ticks among the records
S_CUR_START = 18          # ring index of the first record of the newest tick
S_LAST_KEY = 19           # tick index of the newest record (−1: none)
S_HIST_N = 20             # entries of the distance table: distances held, and emptied ones kept as gaps
S_DROP_NO_MID = 21        # trades dropped: no earlier mid / no room
S_DROP_FULL = 22
S_BASE0 = 23              # starting balances (resolved at the first tick when auto)
S_QUOTE0 = 24
S_CASH = 25               # quote balance change from our fills (on_fill)
S_N_TRADES = 26           # trades recorded
S_CREATE_TS = 27          # Hummingbot's _create_timestamp / _cancel_timestamp (relative ns)
S_CANCEL_TS = 28
S_ORDERS_T = 29           # creation time of the live orders (all live orders come from one proposal)
S_N_LIVE = 30             # live orders (see ORD region)
S_RESERVATION = 31        # last computed reservation price r, total spread δ, q, T_frac, σ used, optimal bid/ask
S_SPREAD = 32
S_Q = 33
S_TFRAC = 34
S_VOL_USED = 35
S_OPT_BID = 36
S_OPT_ASK = 37
S_N_CREATED = 38          # proposals placed (Q_OK)
S_VOL_CAP = 39            # capacities and offsets of the regions
S_REC_CAP = 40
S_HIST_CAP = 41
S_LEVELS = 42
S_OFF_VOL = 43
S_OFF_REC = 44
S_OFF_HIST = 45
S_OFF_ORD = 46
S_LAST_FIT_T = 47         # time of the last successful fit
S_HIST_LIVE = 48          # distinct distances held (table entries with a record)
S_LAST_HIDX = 49          # table entry of the last trade's distance (a hint: checked before use)
N_HEADER = 50
# regions after the header:
#   VOL  [vol_cap]                     mids (ring)
#   REC  key[rec_cap] d[rec_cap] v[rec_cap]        (tick index, distance, volume) per (tick, distance), ring
#   HIST d[hist_cap] v[hist_cap] n[hist_cap]       volume and record count per distance, sorted by distance; an
#                                                  entry with n = 0 is a gap (its distance left the buffer)
#   ORD  [2 sides × levels × (price, remaining size)]   live orders: bids (side 0) then asks (side 1); live = size > 0


@njit(cache=True)
def _caps(p):
    vol_cap = int(p[P_VOL_N])
    rec_cap = int(p[P_REC_PER_TICK]) * int(p[P_TI_N])
    hist_cap = int(p[P_MAX_DIST])
    levels = int(p[P_LEVELS])
    return vol_cap, rec_cap, hist_cap, levels


@njit(cache=True)
def state_size(p):
    """Length of the state vector ``ss`` for the parameter vector ``p``."""
    vol_cap, rec_cap, hist_cap, levels = _caps(p)
    return N_HEADER + vol_cap + 3 * rec_cap + 3 * hist_cap + 4 * levels


@njit(cache=True)
def init_state(p):
    """A fresh state vector (one per run): empty buffers, α = κ = 0, no orders, timers open."""
    vol_cap, rec_cap, hist_cap, levels = _caps(p)
    ss = np.zeros(state_size(p))
    ss[S_LAST_KEY] = -1.0
    ss[S_BASE0] = p[P_BASE0]
    ss[S_QUOTE0] = p[P_QUOTE0]
    ss[S_CREATE_TS] = -1e18
    ss[S_CANCEL_TS] = -1e18
    ss[S_LAST_FIT_T] = math.nan
    for j in range(S_RESERVATION, S_OPT_ASK + 1):
        ss[j] = math.nan
    ss[S_VOL_CAP] = vol_cap
    ss[S_REC_CAP] = rec_cap
    ss[S_HIST_CAP] = hist_cap
    ss[S_LEVELS] = levels
    ss[S_OFF_VOL] = N_HEADER
    ss[S_OFF_REC] = N_HEADER + vol_cap
    ss[S_OFF_HIST] = N_HEADER + vol_cap + 3 * rec_cap
    ss[S_OFF_ORD] = N_HEADER + vol_cap + 3 * rec_cap + 3 * hist_cap
    return ss


@njit(cache=True)
def rel_ns(ss, t_ns):
    """``t_ns`` (epoch ns) relative to the state's time origin, as an exact float (int64 arithmetic)."""
    t0 = np.int64(ss[S_T0_S]) * NS_PER_S + np.int64(ss[S_T0_FRAC])
    return float(np.int64(t_ns) - t0)


@njit(cache=True)
def volatility(ss):
    """σ = sqrt(Σ (p_i − p_{i−1})² / N) of the N mids held (0 with fewer than 2), oldest to newest."""
    n = int(ss[S_VOL_N])
    if n < 2:
        return 0.0
    cap = int(ss[S_VOL_CAP])
    off = int(ss[S_OFF_VOL])
    head = int(ss[S_VOL_HEAD])
    first = (head - n) % cap
    prev = ss[off + first]
    s = 0.0
    for j in range(1, n):
        x = ss[off + (first + j) % cap]
        d = x - prev
        s += d * d
        prev = x
    return math.sqrt(s / n)


@njit(cache=True)
def volatility_ready(ss):
    return ss[S_VOL_N] >= ss[S_VOL_CAP]


@njit(cache=True)
def intensity_ready(p, ss):
    return ss[S_TI_TICKS] >= p[P_TI_N]  # B + 1 between a tick and the next, before the trim


# ---- the sorted distance table -------------------------------------------------------------------------------------

@njit(cache=True)
def _hist_find(ss, d):
    """(index, found) of distance ``d`` in the sorted table (index = insertion point when not found)."""
    off = int(ss[S_OFF_HIST])
    n = int(ss[S_HIST_N])
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if ss[off + mid] < d:
            lo = mid + 1
        else:
            hi = mid
    return lo, (lo < n and ss[off + lo] == d)


@njit(cache=True)
def _hist_lookup(ss, d):
    """:func:`_hist_find`, trying the last trade's entry first (consecutive trades often share their distance)."""
    h = int(ss[S_LAST_HIDX])
    if h < ss[S_HIST_N] and ss[int(ss[S_OFF_HIST]) + h] == d:
        return h, True
    idx, found = _hist_find(ss, d)
    if found:
        ss[S_LAST_HIDX] = idx
    return idx, found


@njit(cache=True)
def _hist_compact(ss):
    """Drop the gaps of the distance table (order kept)."""
    off = int(ss[S_OFF_HIST])
    cap = int(ss[S_HIST_CAP])
    n = int(ss[S_HIST_N])
    w = 0
    for j in range(n):
        if ss[off + 2 * cap + j] > 0.5:
            if w != j:
                ss[off + w] = ss[off + j]
                ss[off + cap + w] = ss[off + cap + j]
                ss[off + 2 * cap + w] = ss[off + 2 * cap + j]
            w += 1
    ss[S_HIST_N] = w


@njit(cache=True)
def _hist_insert(ss, idx, d):
    """Give distance ``d`` (not in the table; ``idx`` its insertion point) an entry with volume 0 and no record: the
    gap just before ``idx`` if there is one, else the entries from ``idx`` shift right up to the nearest gap (or the
    end). Returns the entry's index, −1 when the table is full of distances held."""
    n = int(ss[S_HIST_N])
    cap = int(ss[S_HIST_CAP])
    if ss[S_HIST_LIVE] >= cap:
        return -1
    off = int(ss[S_OFF_HIST])
    if idx > 0 and ss[off + 2 * cap + idx - 1] < 0.5:  # the previous entry is a gap (its d < d): take it
        idx -= 1
    else:
        j = idx
        while j < n and ss[off + 2 * cap + j] > 0.5:
            j += 1
        if j == n:
            if n >= cap:  # no gap from idx on and no room at the end: compact (there are gaps before idx)
                _hist_compact(ss)
                idx, _ = _hist_find(ss, d)
                n = int(ss[S_HIST_N])
                j = n
            ss[S_HIST_N] = n + 1
        for m in range(j, idx, -1):
            ss[off + m] = ss[off + m - 1]
            ss[off + cap + m] = ss[off + cap + m - 1]
            ss[off + 2 * cap + m] = ss[off + 2 * cap + m - 1]
    ss[off + idx] = d
    ss[off + cap + idx] = 0.0
    ss[off + 2 * cap + idx] = 0.0
    return idx


@njit(cache=True)
def _hist_remove_record(ss, d, v):
    """A record (d, v) leaves the buffer: subtract its volume; with its last record d becomes a gap."""
    idx, found = _hist_find(ss, d)
    if not found:
        return
    off = int(ss[S_OFF_HIST])
    cap = int(ss[S_HIST_CAP])
    ss[off + 2 * cap + idx] -= 1.0
    if ss[off + 2 * cap + idx] > 0.5:
        ss[off + cap + idx] = max(ss[off + cap + idx] - v, 0.0)
        return
    ss[off + cap + idx] = 0.0
    ss[off + 2 * cap + idx] = 0.0
    live = ss[S_HIST_LIVE] - 1.0
    ss[S_HIST_LIVE] = live
    if ss[S_HIST_N] - live > max(live, 64.0):  # more gaps than distances: compact (amortised O(1) a removal)
        _hist_compact(ss)


def intensity_buffer(ss):
    """(distances, volumes) of the consolidated buffer (copies, sorted by distance, without the table's gaps): what
    is fitted."""
    off = int(ss[S_OFF_HIST])
    cap = int(ss[S_HIST_CAP])
    n = int(ss[S_HIST_N])
    held = ss[off + 2 * cap:off + 2 * cap + n] > 0.5
    return ss[off:off + n][held], ss[off + cap:off + cap + n][held]


# ---- hooks -----------------------------------------------------------------------------------------------------

@njit(cache=True)
def on_trade(p, ss, t_ns, price, qty):
    """A public trade at ``t_ns`` (call in time order, for every trade): record (|price − mid|, qty) for the tick of
    the last mid sampled strictly before it. Returns True when recorded."""
    nt = int(ss[S_N_TICKS])
    if nt == 0:
        ss[S_DROP_NO_MID] += 1.0
        return False
    t = rel_ns(ss, t_ns)
    if t > ss[S_LAST_T]:
        mid = ss[S_LAST_MID]
        key = nt - 1
    elif nt >= 2 and t > ss[S_PREV_T]:
        mid = ss[S_PREV_MID]
        key = nt - 2
    else:
        ss[S_DROP_NO_MID] += 1.0
        return False
    if key < ss[S_LAST_KEY] or not (math.isfinite(price) and math.isfinite(qty)) or qty < 0.0:
        ss[S_DROP_NO_MID] += 1.0
        return False
    d = math.floor(abs(price - mid) * DIST_QUANTUM + 0.5) / DIST_QUANTUM
    cap = int(ss[S_REC_CAP])
    off = int(ss[S_OFF_REC])
    head = int(ss[S_REC_HEAD])
    n = int(ss[S_REC_N])
    hoff = int(ss[S_OFF_HIST])
    hcap = int(ss[S_HIST_CAP])
    if key == ss[S_LAST_KEY] and n > 0:  # same tick: add to its record of this distance, if any
        j = int(ss[S_CUR_START])
        while j != head:
            if ss[off + cap + j] == d:
                ss[off + 2 * cap + j] += qty
                idx, _ = _hist_lookup(ss, d)
                ss[hoff + hcap + idx] += qty
                ss[S_N_TRADES] += 1.0
                ss[S_TI_DIRTY] = 1.0
                return True
            j += 1
            if j == cap:
                j = 0
    if n >= cap:
        ss[S_DROP_FULL] += 1.0
        return False
    idx, found = _hist_lookup(ss, d)
    if not found:
        idx = _hist_insert(ss, idx, d)
        if idx < 0:
            ss[S_DROP_FULL] += 1.0
            return False
        ss[S_LAST_HIDX] = idx
    if ss[hoff + 2 * hcap + idx] < 0.5:  # a new distance, or a gap filled again
        ss[S_HIST_LIVE] += 1.0
    ss[hoff + hcap + idx] += qty
    ss[hoff + 2 * hcap + idx] += 1.0
    ss[off + head] = key
    ss[off + cap + head] = d
    ss[off + 2 * cap + head] = qty
    if key != ss[S_LAST_KEY]:
        ss[S_TI_TICKS] += 1.0
        ss[S_CUR_START] = head
        ss[S_LAST_KEY] = key
    ss[S_REC_HEAD] = (head + 1) % cap
    ss[S_REC_N] = n + 1
    ss[S_N_TRADES] += 1.0
    ss[S_TI_DIRTY] = 1.0
    return True


@njit(cache=True)
def _evict_oldest_tick(ss):
    cap = int(ss[S_REC_CAP])
    off = int(ss[S_OFF_REC])
    n = int(ss[S_REC_N])
    tail = (int(ss[S_REC_HEAD]) - n) % cap
    key0 = ss[off + tail]
    while n > 0 and ss[off + tail] == key0:
        _hist_remove_record(ss, ss[off + cap + tail], ss[off + 2 * cap + tail])
        tail = (tail + 1) % cap
        n -= 1
    ss[S_REC_N] = n
    ss[S_TI_TICKS] -= 1.0
    if n == 0:
        ss[S_LAST_KEY] = -1.0
    ss[S_TI_DIRTY] = 1.0


@njit(cache=True)
def _resolve_balances(p, ss, mid):
    """Auto starting balances (−1): a portfolio worth ``auto_balance_orders`` order amounts at the first mid,
    ``inventory_target_base_pct`` of it in base, so that q starts at 0 (the target)."""
    if ss[S_BASE0] < 0.0 or ss[S_QUOTE0] < 0.0:
        total_base = p[P_AUTO_ORDERS] * p[P_AMOUNT]
        ss[S_BASE0] = total_base * p[P_TARGET_PCT] / 100.0
        ss[S_QUOTE0] = total_base * mid * (1.0 - p[P_TARGET_PCT] / 100.0)


@njit(cache=True)
def on_tick(p, ss, t_ns, mid):
    """Once per ``tick_seconds`` (before ``quotes``), with the sampled mid: σ buffer, then the intensity buffer
    (drop the ticks beyond the newest ``trading_intensity_buffer_size`` with trades; fit when full and changed)."""
    nt = int(ss[S_N_TICKS])
    if nt == 0:
        t = np.int64(t_ns)
        ss[S_T0_S] = float(t // NS_PER_S)
        ss[S_T0_FRAC] = float(t % NS_PER_S)
        _resolve_balances(p, ss, mid)
    ss[S_PREV_T] = ss[S_LAST_T]
    ss[S_PREV_MID] = ss[S_LAST_MID]
    ss[S_LAST_T] = rel_ns(ss, t_ns)
    ss[S_LAST_MID] = mid
    ss[S_N_TICKS] = nt + 1
    cap = int(ss[S_VOL_CAP])
    head = int(ss[S_VOL_HEAD])
    ss[int(ss[S_OFF_VOL]) + head] = mid
    ss[S_VOL_HEAD] = (head + 1) % cap
    ss[S_VOL_N] = min(ss[S_VOL_N] + 1.0, float(cap))
    ss[S_SIGMA] = volatility(ss)
    while ss[S_TI_TICKS] > p[P_TI_N]:
        _evict_oldest_tick(ss)
    if ss[S_TI_TICKS] == p[P_TI_N] and ss[S_TI_DIRTY] != 0.0:
        off = int(ss[S_OFF_HIST])
        hcap = int(ss[S_HIST_CAP])
        n = int(ss[S_HIST_N])
        alpha, kappa, ok = _fit(ss[off:off + n], ss[off + hcap:off + hcap + n], ss[off + 2 * hcap:off + 2 * hcap + n],
                                True, ss[S_ALPHA], ss[S_KAPPA])
        if ok:
            ss[S_ALPHA] = alpha
            ss[S_KAPPA] = kappa
            ss[S_N_FITS] += 1.0
            ss[S_LAST_FIT_T] = ss[S_LAST_T]
        else:
            ss[S_N_FIT_FAIL] += 1.0
        ss[S_TI_DIRTY] = 0.0


# ---- the fit ---------------------------------------------------------------------------------------------------

MAX_GAP_CLASSES = 32


GAP_SLOTS = 128
"""Slots of the gap classes' hash table (a power of 2, 4× MAX_GAP_CLASSES)."""


@njit(cache=True)
def _gap_classes(x, k_hint):
    """(gap_cls, gaps, n_gaps, ascending) for :func:`_profile`: each point's step from the previous one, the distinct
    gaps (equal within 1e−12 relative) numbered in order of appearance, at most MAX_GAP_CLASSES of them, and whether
    x is in ascending order. Points beyond k_hint·x = 1000 (negligible at κ near k_hint, the fit's start) are not
    classed (−1: their own exp). A gap's class is looked up in a small hash table keyed by the gap in units of
    1e−9 (the distance quantum), probing until a class within the tolerance or an empty slot."""
    n = x.size
    gap_cls = np.empty(n, np.int64)
    gaps = np.empty(MAX_GAP_CLASSES)
    slots = np.zeros(GAP_SLOTS, np.int64)  # class + 1 (0: empty)
    n_gaps = 0
    ascending = True
    for i in range(n):
        g = x[i] - x[i - 1] if i > 0 else -1.0
        if g < 0.0:  # the first point, or out of order: the exponential itself
            gap_cls[i] = -2
            ascending = ascending and i == 0
            continue
        if k_hint * x[i] > 1000.0 or not g < 1e9:
            gap_cls[i] = -1
            continue
        h = np.int64(g * DIST_QUANTUM + 0.5) & (GAP_SLOTS - 1)
        c = -1
        while slots[h] != 0:
            j = slots[h] - 1
            if abs(g - gaps[j]) <= 1e-12 * g:
                c = j
                break
            h = (h + 1) & (GAP_SLOTS - 1)
        if c < 0 and n_gaps < MAX_GAP_CLASSES:
            gaps[n_gaps] = g
            c = n_gaps
            slots[h] = c + 1
            n_gaps += 1
        gap_cls[i] = c
    return gap_cls, gaps, n_gaps, ascending


@njit(cache=True)
def _profile(x, v, k, e_buf, ascending, gap_cls, gaps, n_gaps, f_buf, tail_v2):
    """The least-squares cost with the linear coefficient eliminated (variable projection), on distances ``x``
    measured from the smallest one (so that e = exp(−k·x) ≤ 1 with e = 1 at x = 0: no underflow of the sums).

    For A = Σ v·e, B = Σ e², the best coefficient is β*(k) = A/B (α* = β*·exp(k·d_min)) and the cost
    S(k) = ½(Σ v² − A²/B); returns (S, dS/dk, d²S/dk², β*). S(k) does not depend on the shift. ``e_buf``: scratch
    of x's size (the exponentials, reused for the residuals). ``ascending``: x is in ascending order (the buffer's
    distances are), so the sums stop at the first negligible exponential. ``gap_cls`` (from :func:`_gap_classes`)
    says how e_i follows from e_{i−1}: −2 e_i = exp(−k·x_i); −1 e_i = e_{i−1}·exp(−k·(x_i − x_{i−1})); c >= 0
    e_i = e_{i−1}·exp(−k·gaps[c]), one exp per distinct gap (the buffer's distances are on a price grid, so its
    gaps take a few values); ``f_buf``: scratch of ``n_gaps``; ``tail_v2[i]`` = Σ_{j ≥ i} v_j² (len n + 1): the
    residuals of the points past the first negligible exponential are their volumes."""
    for c in range(n_gaps):
        f_buf[c] = math.exp(-k * gaps[c])
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    b0 = 0.0
    b1 = 0.0
    b2 = 0.0
    e = 1.0
    m = x.size  # the points before the first negligible exponential (when ascending)
    for i in range(x.size):
        xi = x[i]
        if e == 0.0 and ascending:  # negligible, and so is every farther point: their terms add exactly 0
            m = i
            break
        c = gap_cls[i]
        if c >= 0:
            e *= f_buf[c]
        elif c == -1:
            e *= math.exp(-k * (xi - x[i - 1]))
        else:
            e = math.exp(-k * xi)
        if e < E_NEGLIGIBLE:
            e = 0.0  # below any accumulator's precision; 0 also keeps e *= f out of subnormal (slow) arithmetic
        e_buf[i] = e
        e2 = e * e
        a0 += v[i] * e
        a1 -= v[i] * xi * e
        a2 += v[i] * xi * xi * e
        b0 += e2
        b1 -= 2.0 * xi * e2
        b2 += 4.0 * xi * xi * e2
    ra = a0 / b0  # b0 >= 1 (the point at x = 0)
    g = -ra * a1 + 0.5 * ra * ra * b1
    h = -(a1 * a1 + a0 * a2) / b0 + 2.0 * ra * (a1 / b0) * b1 - ra * ra * (b1 * b1 / b0) + 0.5 * ra * ra * b2
    s = 0.0  # the cost from the residuals (½(Σv² − A²/B) cancels badly near an exact fit)
    for i in range(m):
        r = ra * e_buf[i] - v[i]
        s += r * r
    return 0.5 * (s + tail_v2[m]), g, h, ra


@njit(cache=True)
def fit_intensity(distances, volumes, alpha0, kappa0):
    """(α, κ, ok): least squares of volumes ≈ α·exp(−κ·d) with α, κ ≥ 0 started from (α0, κ0) — what Hummingbot
    asks of ``scipy.optimize.curve_fit(..., p0=(α0, κ0), method="dogbox", bounds=(0, inf))``.

    Variable projection (Golub–Pereyra): α is linear, so for each κ the best α is α*(κ) = Σ v·e/Σ e² ≥ 0
    (e = exp(−κ·d)) and the fit is a 1-D minimisation of the projected cost S(κ), by safeguarded Newton steps
    (analytic derivatives, backtracking, κ ≥ 0) downhill from κ0. Same least-squares optimum as a Gauss–Newton /
    dogbox run on (α, κ), without its crawl along the curved valley of the joint problem; α0 only matters through
    κ0 (α*(κ0) is where the joint problem would start). A volume of exactly 0 is taken as 1e−10 (Hummingbot).
    κ = 0 (the bound) when the volumes do not fall with d. ok is False (keep the old values) with fewer than 2
    distinct distances, non-finite or negative input, no convergence in 200 steps, or κ on the plateau where only
    the nearest distance is fitted (κ·(d₂ − d₁) > 30, reached from a κ0 far above the data's scale: there scipy
    does not move from p0 either, so Hummingbot keeps its values too)."""
    if volumes.size != distances.size:
        return alpha0, kappa0, False
    return _fit(distances, volumes, distances, False, alpha0, kappa0)


@njit(cache=True)
def _fit(distances, volumes, counts, skip_gaps, alpha0, kappa0):
    """:func:`fit_intensity` of the points with counts > 0 when ``skip_gaps`` (the distance table with its gaps),
    else of all."""
    n_all = distances.size
    v = np.empty(n_all)
    dist = np.empty(n_all)
    n = 0
    dmin = math.inf
    dmax = -math.inf
    for i in range(n_all):
        if skip_gaps and counts[i] < 0.5:
            continue
        di = distances[i]
        vi = ZERO_VOLUME if volumes[i] == 0.0 else volumes[i]
        if not (math.isfinite(di) and math.isfinite(vi)) or di < 0.0 or vi < 0.0:
            return alpha0, kappa0, False
        dist[n] = di
        v[n] = vi
        n += 1
        dmin = min(dmin, di)
        dmax = max(dmax, di)
    if n < 2 or not dmax > dmin:
        return alpha0, kappa0, False
    v = v[:n]
    x = np.empty(n)
    x2 = dmax - dmin  # the second-nearest distance, from the nearest
    for i in range(n):
        x[i] = dist[i] - dmin
        if x[i] > 0.0:
            x2 = min(x2, x[i])
    kscale = 1.0 / (dmax - dmin)
    k = kappa0 if (math.isfinite(kappa0) and kappa0 > 0.0) else 0.0
    e_buf = np.empty(n)
    gap_cls, gaps, n_gaps, ascending = _gap_classes(x, k)
    f_buf = np.empty(MAX_GAP_CLASSES)
    tail_v2 = np.empty(n + 1)
    tail_v2[n] = 0.0
    for i in range(n - 1, -1, -1):
        tail_v2[i] = tail_v2[i + 1] + v[i] * v[i]
    s, g, h, b = _profile(x, v, k, e_buf, ascending, gap_cls, gaps, n_gaps, f_buf, tail_v2)
    converged = False
    for _ in range(200):
        if k <= 0.0 and g >= 0.0:  # minimum on the bound κ = 0
            converged = True
            break
        if k > 1e6 * kscale:
            break
        lim = 4.0 * max(k, kscale)
        if h > 0.0:
            step = min(max(-g / h, -lim), lim)
            if abs(step) <= 1e-10 * max(k, kscale) and (k > 0.0 or g <= 0.0):
                converged = True  # Newton's next step is below 1e-10 of κ's scale: a minimum (quadratic convergence)
                break
        else:  # concave here: move downhill by the scale of κ
            step = -max(k, kscale) if g > 0.0 else max(k, kscale)
        moved = False
        k_new = k
        s_new, g_new, h_new, b_new = s, g, h, b
        for _ in range(60):
            k_new = max(k + step, 0.0)
            s_new, g_new, h_new, b_new = _profile(x, v, k_new, e_buf, ascending, gap_cls, gaps, n_gaps, f_buf,
                                                         tail_v2)
            if s_new < s:
                moved = True
                break
            step *= 0.5
            if abs(step) <= 1e-10 * max(k, kscale):
                break  # no lower cost closer than 1e-10 of κ's scale: a minimum within working precision
        if not moved:
            converged = True  # no lower cost within working precision: a minimum
            break
        small = abs(k_new - k) <= 1e-12 * max(k_new, k) or s - s_new <= 1e-15 * s
        k, s, g, h, b = k_new, s_new, g_new, h_new, b_new
        if small and (h > 0.0 or k == 0.0):
            converged = True
            break
    a = b * math.exp(k * dmin)
    if k * x2 > 30.0:  # the plateau where only the nearest distance is fitted (exp(-30) ~ 1e-13): no fit
        converged = False
    if not (converged and math.isfinite(a) and math.isfinite(k)):
        return alpha0, kappa0, False
    return a, k, True
