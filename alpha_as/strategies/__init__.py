"""Strategies compiled into the engine loop: Avellaneda-Stoikov (``as``), a fixed two-sided quoter (``fixed``),
Hummingbot's Avellaneda market maker (``hummingbot-as``: hummingbot_as, hummingbot_estimators, hummingbot_engine),
GLFT with hftbacktest's online calibration (``glft``: glft, glft_calibration, glft_engine) and, in ``baselines/``,
the paper's FOIC and LIIC.

**Adding a strategy** touches its own module and the registry, nothing in the engine:

1. write a module (here or in ``baselines/``) with a frozen parameter dataclass (typed fields, validated in
   ``__post_init__``, ``from_dict`` via :func:`alpha_as.configs.from_dict`, ``to_dict``, and ``to_array()`` packing
   it into a float64 vector) and a compiled
   ``quote(params, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i)`` returning
   ``(status, bid_px, bid_qty, ask_px, ask_qty)`` (:mod:`alpha_as.strategies.base`: signature and status codes);
2. append a :class:`~alpha_as.strategies.registry.Strategy` to ``registry.BUILTIN`` and run
   ``python -m alpha_as.strategies.registry`` (it regenerates ``dispatch.py``, the engine's one dispatch table);
3. ``alpha-as run NAME``, ``kind = "NAME"`` in a ``runs`` file and ``Backtest(day, Params())`` then know it; with a
   gene table (the entry's ``genes``) ``alpha-as tune --strategy NAME`` tunes it.

A strategy needing more (its own state, a clock, several order levels, every trade or fill): see the second part
of :mod:`alpha_as.strategies.base`.

A strategy outside the package (a plugin, ``tests/toy_strategy.py``) registers through the
``ALPHA_AS_STRATEGIES`` environment variable instead (see :mod:`alpha_as.strategies.registry`).
"""

from alpha_as.strategies.avellaneda_stoikov import ASParams
from alpha_as.strategies.fixed_quoter import FixedQuoterParams

__all__ = ["ASParams", "FixedQuoterParams"]
