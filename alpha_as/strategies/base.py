"""What every strategy's compiled quote function returns, and the signature the engine calls it with.

``quote(params, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i)
-> (status, bid_px, bid_qty, ask_px, ask_qty)``

* ``params``: the strategy's float64 parameter vector (its dataclass's ``to_array()``; the engine never reads it);
* ``si``, ``sf``, ``orders``, ``mids``, ``kq``, ``ss``: the arrays of the engine's
  :class:`~alpha_as.engine.state.State` a strategy may read (counters; scalars such as the position
  ``sf[POSITION]``; the working orders; the ring of snapshot mids; the book-change counts; the strategy's own state
  and quote buffer). The engine passes the arrays, not the State: an inlined function that receives the State
  takes a reference on each of its 13 arrays, and that alone made the paper loop 7-9 % slower (issue #13);
* ``t``: the snapshot's time (epoch ns); ``bid0``/``ask0``: its best prices; ``tick``: the price tick;
* ``bid_px``/``ask_px``: the day's book levels (snapshot ``i`` is the current one).

The status tells the engine what to do with the quotes (:data:`Q_OK`: quote them; :data:`Q_OUTSIDE_HOURS`: quote
nothing, cancelling resting orders; the others: leave the orders as they are, and count why).

Strategies with several order levels per side (their parameters' ``order_levels_per_side()`` > 1) write their
quotes into the quote buffer the engine appends to their state, ``qout = ss[len(ss) - 4 * levels:]`` (per
level ``i``: ``qout[4i:4i+4]`` = bid px, bid qty, ask px, ask qty; level 0 the best) and return :data:`Q_LEVELS`;
the engine sends, per (side, level), only what changed.

**Beyond a quote function** (Hummingbot's AS and GLFT use all of it; every piece is optional). The parameter
dataclass may define ``order_levels_per_side()`` (default 1), ``strategy_clock_ns()`` (default 0: quote at every
snapshot; n > 0: quote every n ns, after the snapshot of that time, on the current book), ``initial_state()`` (the
strategy's own float64 state vector, ``ss``: estimators, timers) and ``grid_columns()`` (extra grid.parquet
columns ``(name, index)``: ``st.ss[index]``, or the parameter ``params[-index - 1]`` for a negative index). The
registry entry may name compiled ``on_trade(params, ss, t, price, qty, side, tick)`` (every public trade, in time
order, before it is matched) and ``on_fill(params, ss, t, side, level, price, qty, fee)`` hooks (``ss`` the state
vector), and set ``keep_after_fill`` (partly filled orders stay live). Declare the quote function
``@njit(cache=True, inline="always")`` and let it pass ``ss`` and the other arrays it needs to the strategy's (not
inlined) functions.
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
Q_CANCEL = 6
"""Cancel every live order and place nothing (e.g. Hummingbot's refresh: cancel now, place at a later tick)."""
Q_HOLD = 7
"""Keep the live orders as they are (counted apart from the skips: e.g. Hummingbot's refresh tolerance)."""
Q_LEVELS = 8
"""Quote every level from the quote buffer (see above); a quantity of 0 cancels that side and level."""
