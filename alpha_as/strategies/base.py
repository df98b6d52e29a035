"""What every strategy's compiled quote function returns, and the signature the engine calls it with.

``quote(params, st, t, bid0, ask0, tick, bid_px, ask_px, i) -> (status, bid_px, bid_qty, ask_px, ask_qty)``

* ``params``: the strategy's float64 parameter vector (its dataclass's ``to_array()``; the engine never reads it);
* ``st``: the engine's :class:`~alpha_as.engine.state.State` (counters ``si``, scalars ``sf`` such as the position
  ``sf[POSITION]``, the working orders, the mid ring ``mids`` and the book-change counts ``kq``);
* ``t``: the snapshot's time (epoch ns); ``bid0``/``ask0``: its best prices; ``tick``: the price tick;
* ``bid_px``/``ask_px``: the day's book levels (snapshot ``i`` is the current one).

The status tells the engine what to do with the quotes (:data:`Q_OK`: quote them; :data:`Q_OUTSIDE_HOURS`: quote
nothing, cancelling resting orders; the others: leave the orders as they are, and count why).
"""

from __future__ import annotations

Q_OK = 0
"""Quote (bid_px, bid_qty) and (ask_px, ask_qty); a quantity of 0 cancels that side."""
Q_WARMUP = 1
"""Not enough data yet (e.g. fewer mids than the variance window): orders left as they are."""
Q_K_INVALID = 2
"""The order-arrival estimate is unusable (not finite, or 0): orders left as they are."""
Q_NONFINITE = 3
"""A quote came out non-finite or non-positive: orders left as they are."""
Q_OUTSIDE_HOURS = 4
"""Outside the strategy's trading hours: no quotes (resting orders are cancelled)."""
Q_NONE = 5
"""No strategy (the engine only records): nothing is sent."""
