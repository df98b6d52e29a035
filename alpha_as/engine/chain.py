"""On-chain (DEX-like) trading costs (issue #14 §3, spec §5): gas per order action, block-boundary activation,
a fee tier.

With ``EngineConfig(chain=ChainConfig(...))`` (:class:`alpha_as.engine.config.ChainConfig`) (a ``[engine.chain]`` table in a runs or protocol file, ``--chain`` on
``alpha-as run``) the exchange of both loops becomes a venue on a chain:

* **Gas.** Every order action the strategy sends — a new order or a replacement (one transaction at
  ``gas_units_place``) and a cancel (``gas_units_cancel``) — costs ``units × gas_price_gwei × 1e-9 ×
  native_price`` in quote currency, whether or not its order ever trades. It comes off the cash and the realized
  P&L, as fees do: every fill row, grid row and return of the loop includes the gas of every action sent before
  it (:func:`settle_gas`). ``metrics.json`` reports the day's total, per fill and per action, and fills.parquet a
  ``gas`` column (the gas paid up to that fill).
* **Blocks.** A request becomes live at the next block boundary after its network delay,
  t_live = ceil((t_send + network_delay)/block)·block, instead of after the fixed latency; with probability
  ``slip_probability`` it misses that block and goes live one block later (a seeded draw per request:
  splitmix64 of (``slip_seed``, the request's sequence number), compared as integers, so the same config gives the same slips). A
  request never goes live before an earlier one of the same side (transactions of one sender are mined in nonce
  order).
* **Fee tier.** ``fee_bps`` (e.g. 5, 30, 100) sets both the maker and the taker fee to fee_bps/10,000 of the
  traded value (the engine's ``maker_fee`` / ``taker_fee`` must then be left at 0).
* **Not modelled:** execution against a pool curve (constant product, or DODO's PMM curve): our orders are
  limit orders matched against the replayed book, as on an order-book DEX; reverts (a failed transaction's gas).

Defaults (INFERRED, docs/replication-notes.md): 2-s blocks (an L2), no network delay or slips, 150,000 gas a
placement, 60,000 a cancel, 0.05 gwei at 3,000 USD the native token — 0.0225 USD a placement.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alpha_as.engine.state import (
    CASH,
    CH_BLOCK_NS,
    CH_CANCELS,
    CH_DELAY_NS,
    CH_GAS_CANCEL,
    CH_GAS_PLACE,
    CH_PLACES,
    CH_SEED,
    CH_SLIP_T,
    GAS,
    N_SLIPS,
    REALIZED,
    REQ_SEQ,
)

# ------------------------------------------------------------------------------------------- compiled

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def unit_bits(seed, seq):
    """53 uniform random bits (an int in [0, 2**53)) from (seed, seq): splitmix64 of seed·φ + seq + φ
    (stateless, reproducible)."""
    z = np.uint64(seed) * _GOLDEN + np.uint64(seq) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    z = z ^ (z >> np.uint64(31))
    return np.int64(z >> np.uint64(11))


@njit(cache=True)
def block_arrival(si, t, prev, qty):
    """When a request sent at ``t`` goes live: the next block boundary after the network delay, one block later
    when it slips, never before ``prev`` (the previous request of its side, −1: none). Counts the action (a
    placement when ``qty`` > 0, else a cancel) for :func:`settle_gas`."""
    block = si[CH_BLOCK_NS]
    ta = t + si[CH_DELAY_NS]
    live = -((-ta) // block) * block  # ceil(ta / block) · block
    if si[CH_SLIP_T] > 0 and unit_bits(si[CH_SEED], si[REQ_SEQ]) < si[CH_SLIP_T]:
        live += block
        si[N_SLIPS] += 1
    if qty > 0.0:
        si[CH_PLACES] += 1
    else:
        si[CH_CANCELS] += 1
    return max(live, prev)
# Called, not inlined: the order helpers are inlined at a dozen sites, and the exchange runs never take this path.


@njit(cache=True, inline="always")
def settle_gas(si, sf):
    """Charge the gas of the actions counted since the last settlement to the cash and the realized P&L (at every
    fill and grid row, and when the loop returns): gas = placements × cost + cancels × cost. The order helpers
    only count (they do not take ``sf``: one more array there slowed the general loop by 5-8 %)."""
    if si[CH_BLOCK_NS] > 0:
        gas = si[CH_PLACES] * sf[CH_GAS_PLACE] + si[CH_CANCELS] * sf[CH_GAS_CANCEL]
        d = gas - sf[GAS]
        if d != 0.0:
            sf[GAS] = gas
            sf[CASH] -= d
            sf[REALIZED] -= d


def set_state(state, chain) -> None:
    """Copy a :class:`~alpha_as.engine.config.ChainConfig` into a fresh engine state (the order helpers read the
    chain's settings from the state's arrays, which they take anyway); ``chain`` None leaves an exchange."""
    if chain is None:
        return
    state.si[CH_BLOCK_NS] = int(round(chain.block_seconds * 1e9))
    state.si[CH_DELAY_NS] = int(round(chain.network_delay_ms * 1e6))
    state.si[CH_SEED] = int(chain.slip_seed)
    state.sf[CH_GAS_PLACE] = chain.gas_cost(chain.gas_units_place)
    state.sf[CH_GAS_CANCEL] = chain.gas_cost(chain.gas_units_cancel)
    state.si[CH_SLIP_T] = int(chain.slip_probability * 2.0 ** 53)


def settle(state) -> None:
    """:func:`settle_gas` on a state from Python (after the loop returns, so that what Python reads is settled)."""
    settle_gas(state.si, state.sf)
