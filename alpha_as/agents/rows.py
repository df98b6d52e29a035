"""``np.unique(key, axis=0, return_index=True, return_inverse=True)`` for float64 rows, compiled (issue #16 §1:
the replay-memory merge of every training iteration spent most of its time in numpy's structured-array sort).

Same result to the index: the rows are sorted lexicographically with numpy's float order (NaN after every
number, NaN equal to NaN, −0.0 equal to 0.0) by a stable merge sort, as numpy's ``argsort(kind="mergesort")`` of
the rows' structured view; a row starts a new group when it differs from the previous one in some column
(``!=``: a NaN never equals anything, as numpy's structured comparison has it).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _cmp(key, i, j):
    for c in range(key.shape[1]):
        a = key[i, c]
        b = key[j, c]
        if a < b:
            return -1
        if a > b:
            return 1
        if a == b:
            continue
        an = a != a
        bn = b != b
        if an and bn:
            continue
        return 1 if an else -1
    return 0


@njit(cache=True)
def _unique_rows(key):
    n = key.shape[0]
    perm = np.arange(n)
    buf = np.empty(n, np.int64)
    run = 16
    for lo in range(0, n, run):  # insertion sort of short runs (stable)
        hi = min(lo + run, n)
        for k in range(lo + 1, hi):
            v = perm[k]
            m = k - 1
            while m >= lo and _cmp(key, v, perm[m]) < 0:
                perm[m + 1] = perm[m]
                m -= 1
            perm[m + 1] = v
    width = run
    while width < n:  # bottom-up merges (stable: the left run wins ties)
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if _cmp(key, perm[j], perm[i]) < 0:
                    buf[k] = perm[j]
                    j += 1
                else:
                    buf[k] = perm[i]
                    i += 1
                k += 1
            while i < mid:
                buf[k] = perm[i]
                i += 1
                k += 1
            while j < hi:
                buf[k] = perm[j]
                j += 1
                k += 1
        perm, buf = buf, perm
        width *= 2
    inv = np.empty(n, np.int64)
    first = np.empty(n, np.int64)
    g = -1
    for k in range(n):
        new = k == 0
        if not new:
            a, b = perm[k], perm[k - 1]
            for c in range(key.shape[1]):
                if key[a, c] != key[b, c]:
                    new = True
                    break
        if new:
            g += 1
            first[g] = perm[k]
        inv[perm[k]] = g
    return first[: g + 1].copy(), inv


def unique_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, inverse) as ``np.unique(key, axis=0, return_index=True, return_inverse=True)[1:]`` (key: 2-D)."""
    key = np.ascontiguousarray(key, dtype=np.float64)
    if key.ndim != 2:
        raise ValueError("unique_rows takes a 2-D array")
    return _unique_rows(key)
