"""GLFT in the engine's loop: the hooks the registry names for ``glft``.

The engine calls :func:`quote` on the strategy's clock (every ``step_ms``, after the snapshot of that time): the
step closes (:func:`alpha_as.strategies.glft_calibration.on_step`, which recalibrates every ``recalibrate_s``),
then :func:`alpha_as.strategies.glft.quotes` fills the engine's multi-level buffer at the end of ``ss`` (viewed
as (levels, 4): bid px, bid qty, ask px, ask qty) and Q_OK becomes Q_LEVELS; the engine sends per side and level only
what changed (hftbacktest keeps an order whose price is unchanged too). Every public trade reaches the step's
deepest-trade tracker (:func:`on_trade`, with the data's aggressor side when it has one). Partly filled orders stay
live (the registry's ``keep_after_fill``).
"""

from __future__ import annotations

import math

from numba import njit

from alpha_as.engine.state import POSITION
from alpha_as.strategies import glft
from alpha_as.strategies.base import Q_LEVELS, Q_OK
from alpha_as.strategies.glft_calibration import on_step
from alpha_as.strategies.glft_calibration import on_trade as _on_trade


@njit(cache=True, inline="always")
def quote(params, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i):
    """One GLFT step at ``t``: close the step, then the quotes (Q_LEVELS with the quote buffer, or the status)."""
    mid = 0.5 * (bid0 + ask0)
    on_step(params, ss, t, mid, tick)
    n = glft.n_levels(params)
    out = ss[len(ss) - 4 * n:].reshape((n, 4))  # the engine's quote buffer, after the strategy's own state
    status = glft.quotes(params, ss, t, mid, sf[POSITION], bid0, ask0, tick, out)
    return (Q_LEVELS if status == Q_OK else status), 0.0, 0.0, 0.0, 0.0


@njit(cache=True)
def on_trade(params, ss, t, price, qty, side, tick):
    _on_trade(params, ss, t, price, qty, math.nan, tick, side)
