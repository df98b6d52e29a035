"""The private features of ``inputs = "stationary"``, compiled: one function for the Python loop
(:func:`alpha_as.agents.observation.private_stationary`) and the compiled decision loop
(:mod:`alpha_as.agents.decision_loop`), so both get the same bits (numpy's SIMD ``log1p`` may differ from the C
library's in the last bit on some CPUs)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from alpha_as.engine import jitcache

jitcache.invalidate_agents_if_stale()  # before the compiled function below is first loaded

# ruff: noqa: E402
from alpha_as.agents.features import PRIVATE_HORIZON
from alpha_as.engine.state import F_POSITION, F_PRICE, F_REALIZED, F_UNREALIZED


@njit(cache=True, inline="always")
def _slog(x):
    """sign(x)·log1p(|x|)."""
    if x > 0.0:
        return math.log1p(x)
    if x < 0.0:
        return -math.log1p(-x)
    return x * 0.0


@njit(cache=True, inline="always")
def _dampened(row):
    u = row[F_UNREALIZED]
    return row[F_REALIZED] + (u if (u < 0.0 or u != u) else 0.0)


@njit(cache=True)
def stationary_private(fill_f, n, quantity, out, o):
    """The 10 private features of ``inputs = "stationary"`` after the first ``n`` fill rows, into ``out[o:o + 10]``:
    slog of the last 5 positions in order sizes, then slog of the last 5 per-fill changes of the dampened P&L in
    bps of quantity × fill price (non-finite → 0); 0 before 5 fills."""
    h = PRIVATE_HORIZON
    k = min(n, h)
    for j in range(2 * h):
        out[o + j] = 0.0
    for r in range(k):
        i = n - k + r
        row = fill_f[i]
        out[o + h - k + r] = _slog(row[F_POSITION] / quantity)
        prev = _dampened(fill_f[i - 1]) if i >= 1 else 0.0
        d = (_dampened(row) - prev) / (quantity * row[F_PRICE]) * 1e4
        out[o + 2 * h - k + r] = _slog(d if math.isfinite(d) else 0.0)


def private_stationary_of(fill_f: np.ndarray, n: int, quantity: float) -> np.ndarray:
    """:func:`stationary_private` as a new array of 10."""
    out = np.zeros(2 * PRIVATE_HORIZON)
    stationary_private(fill_f, np.int64(n), float(quantity), out, np.int64(0))
    return out
