"""Market estimators kept by the engine and read by strategies (compiled).

* a ring of snapshot mids: sample variance of the last ``window`` mids (spec §3: σ², denominator n − 1);
* per-clock-minute counts of depth updates that changed the bid side, the ask side, or anything (spec §3,
  the Aldridge k estimator): ``k = λ_last / ((λ_last − λ_{last−m}) / λ_{last−m})``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from alpha_as.engine.state import KQ_CAP, KQ_HEAD, KQ_N, MID_CAP, MID_HEAD, N_MIDS

NS_PER_MINUTE = 60_000_000_000


@njit(cache=True, inline="always")
def push_mid(si, mids, mid):
    mids[si[MID_HEAD]] = mid
    si[MID_HEAD] = (si[MID_HEAD] + 1) % MID_CAP
    si[N_MIDS] += 1


@njit(cache=True, inline="always")
def mid_variance(si, mids, window):
    """Sample variance (ddof 1) of the last ``window`` mids; NaN until ``window`` mids are stored."""
    if window < 2 or si[N_MIDS] < window or window > MID_CAP:
        return math.nan
    head = si[MID_HEAD]
    s = 0.0
    for j in range(window):
        s += mids[(head - 1 - j) % MID_CAP]
    mean = s / window
    ss = 0.0
    for j in range(window):
        d = mids[(head - 1 - j) % MID_CAP] - mean
        ss += d * d
    return ss / (window - 1)


@njit(cache=True, inline="always")
def push_minute(si, kq, n_bid, n_ask, n_all):
    h = si[KQ_HEAD]
    kq[0, h] = n_bid
    kq[1, h] = n_ask
    kq[2, h] = n_all
    si[KQ_HEAD] = (h + 1) % KQ_CAP
    si[KQ_N] += 1


@njit(cache=True, inline="always")
def aldridge_k(si, kq, row, m):
    """k from the completed-minute counts of ``row`` (0 bid, 1 ask, 2 all), m minutes apart; NaN if unknown."""
    if m < 1 or m >= KQ_CAP or si[KQ_N] < m + 1:
        return math.nan
    last = kq[row, (si[KQ_HEAD] - 1) % KQ_CAP]
    prev = kq[row, (si[KQ_HEAD] - 1 - m) % KQ_CAP]
    if prev == 0.0:
        return math.nan
    change = (last - prev) / prev
    if change == 0.0:
        return math.inf
    return last / change


@njit(cache=True, inline="always")
def side_changed(px, qty, i):
    """Whether snapshot i differs from snapshot i-1 on one side (all levels, prices and sizes; NaN-aware)."""
    if i == 0:
        return True
    for lv in range(px.shape[1]):
        a, b = px[i, lv], px[i - 1, lv]
        if a != b and not (np.isnan(a) and np.isnan(b)):
            return True
        a, b = qty[i, lv], qty[i - 1, lv]
        if a != b and not (np.isnan(a) and np.isnan(b)):
            return True
    return False
