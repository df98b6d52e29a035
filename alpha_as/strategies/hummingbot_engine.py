"""Hummingbot's Avellaneda market maker in the engine's loop: the hooks the registry names for ``hummingbot-as``.

The engine calls :func:`quote` on the strategy's clock (every ``tick_seconds``, after the snapshot of that time):
it samples the mid (``on_tick``), then asks :func:`alpha_as.strategies.hummingbot_as.quotes` what to do, whose
``out`` is the engine's multi-level quote buffer at the end of ``ss`` (4 per level: bid px, bid size, ask px,
ask size).
Hummingbot's Q_OK ("cancel the live orders, place these") becomes Q_LEVELS: the engine sends, per side and level,
only what changed, so an unchanged price keeps its order (and its queue place under the queue fill model;
Hummingbot would cancel and re-place it). Every public trade reaches the intensity estimator (:func:`on_trade`)
and each of our fills the quote balance and the order book-keeping (:func:`on_fill`). Partly filled orders stay
live (the registry's ``keep_after_fill``).
"""

from __future__ import annotations

from numba import njit

from alpha_as.engine.state import POSITION
from alpha_as.strategies import hummingbot_as as hb
from alpha_as.strategies.base import Q_LEVELS, Q_OK
from alpha_as.strategies.hummingbot_estimators import on_tick
from alpha_as.strategies.hummingbot_estimators import on_trade as _on_trade


@njit(cache=True, inline="always")
def quote(params, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i):
    """One Hummingbot tick at ``t``: sample the mid, then the status (Q_LEVELS with the quote buffer, or Hummingbot's
    own)."""
    mid = 0.5 * (bid0 + ask0)
    on_tick(params, ss, t, mid)
    out = ss[len(ss) - hb.out_size(params):]  # the engine's quote buffer, after the strategy's own state
    status = hb.quotes(params, ss, t, mid, sf[POSITION], bid0, ask0, tick, out)
    return (Q_LEVELS if status == Q_OK else status), 0.0, 0.0, 0.0, 0.0


@njit(cache=True)
def on_trade(params, ss, t, price, qty, side, tick):
    _on_trade(params, ss, t, price, qty)


@njit(cache=True)
def on_fill(params, ss, t, side, level, price, qty, fee):
    hb.on_fill(params, ss, t, side, level, price, qty, fee)
