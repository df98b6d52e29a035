"""Engine configuration: fill model, latency, fees, lot matching, record grid."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from alpha_as.configs import from_dict
from alpha_as.engine.risk import RiskConfig
from alpha_as.errors import InputError

FILL_MODELS = ("paper", "queue")
LOT_MATCHING = ("paper", "fifo")
MAX_LATENCY_MS = 86_400_000.0
"""Largest order-entry latency accepted (a day)."""
MAX_GRID_SECONDS = 86_400.0
"""Largest record-grid spacing accepted (a day)."""

# int config vector
C_FILL_MODEL = 0
C_LATENCY_NS = 1
C_LOT_RULE = 2
C_GRID_NS = 3
C_GRID_END = 4
C_KIND = 5
C_HAS_SIDE = 6
C_LEVELS = 7          # order levels per side (1 for the paper's strategies)
C_CLOCK_NS = 8        # strategy clock: 0 = the strategy quotes at every snapshot; n > 0 = every n ns
C_TRADE_HOOK = 9      # 1: the strategy's on_trade sees every public trade
C_FILL_HOOK = 10      # 1: the strategy's on_fill sees each of our fills
C_KEEP_AFTER_FILL = 11  # 1: a partly filled order stays live (0: the authors' unquoteSide)
C_GRID_COLS = 12     # the strategy's extra grid columns; column j is ci[N_CFG_I + j]: ss[i] for i >= 0, params[-i - 1] else
N_CFG_I = 16
# float config vector
CF_MAKER_FEE = 0
CF_TAKER_FEE = 1
CF_TICK = 2
CF_QUEUE_POWER = 3
CF_MARK_SIGMA = 4
CF_MARK_WINDOW = 5
N_CFG_F = 8

KIND_NONE = 0
"""The loop's kind for "no strategy"; a registered strategy's kind is its position in
:mod:`alpha_as.strategies.registry` + 1."""


MAX_BLOCK_SECONDS = 3600.0


@dataclass(frozen=True)
class ChainConfig:
    """The ``[engine.chain]`` table: the venue's blocks, gas and fee tier."""

    block_seconds: float = 2.0
    """Seconds between blocks (≈ 12 on Ethereum, ≈ 2 on L2s)."""
    network_delay_ms: float = 0.0
    """Delay from sending to the mempool, before the block boundary is taken."""
    slip_probability: float = 0.0
    """Probability that a request misses its block and goes live one block later."""
    slip_seed: int = 0
    """Seed of the slips."""
    gas_units_place: float = 150_000.0
    """Gas of a new order or a replacement."""
    gas_units_cancel: float = 60_000.0
    """Gas of a cancel."""
    gas_price_gwei: float = 0.05
    """Gas price (base + priority fee), gwei."""
    native_price: float = 3000.0
    """Price of the gas token in quote currency."""
    fee_bps: float | None = None
    """Fee tier: maker and taker fee in basis points of the traded value (None: the engine's maker/taker fee)."""

    def __post_init__(self) -> None:
        checks = [
            ("block_seconds", 0 < self.block_seconds <= MAX_BLOCK_SECONDS, f"in (0, {MAX_BLOCK_SECONDS:.0f}]"),
            ("network_delay_ms", 0 <= self.network_delay_ms <= 3.6e6, "in [0, 3600000]"),
            ("slip_probability", 0 <= self.slip_probability < 1, "in [0, 1)"),
            ("gas_units_place", 0 <= self.gas_units_place < math.inf, ">= 0"),
            ("gas_units_cancel", 0 <= self.gas_units_cancel < math.inf, ">= 0"),
            ("gas_price_gwei", 0 <= self.gas_price_gwei < math.inf, ">= 0"),
            ("native_price", 0 <= self.native_price < math.inf, ">= 0"),
        ]
        for key, ok, need in checks:
            if not ok:
                raise InputError(f"chain: {key} must be finite and {need}, got {getattr(self, key)!r}")
        if self.slip_seed < 0:
            raise InputError(f"chain: slip_seed must be >= 0, got {self.slip_seed!r}")
        if self.fee_bps is not None and not (0 <= self.fee_bps < 10_000):
            raise InputError(f"chain: fee_bps must be in [0, 10000), got {self.fee_bps!r}")

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "[engine.chain]") -> ChainConfig:
        return from_dict(cls, d, source=source)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def gas_cost(self, units: float) -> float:
        """Quote currency paid for a transaction of ``units`` gas."""
        return units * self.gas_price_gwei * 1e-9 * self.native_price



@dataclass(frozen=True)
class EngineConfig:
    """How the exchange is simulated. Defaults: the paper authors' engine (spec §2)."""

    fill_model: str = "paper"
    """"paper": the authors' rules (no queue, a trade at or through the limit fills min(remaining, trade
    quantity)); "queue": queue position from the level size at arrival, advanced by trades at the price
    and by size decreases split by hftbacktest's power-probability rule."""
    latency_ms: float = 65.0
    """Order-entry latency (new, modify, cancel). Market data and execution reports have none (spec §2)."""
    maker_fee: float = 0.0
    """Fee rate on passive fills, as a fraction of the traded value (negative = rebate). Paper: 0."""
    taker_fee: float = 0.0
    """Fee rate on marketable fills. Paper: 0."""
    lot_matching: str = "paper"
    """Realized P&L lot matching: "paper" (closing a long removes the highest-priced buys first, closing a
    short the lowest-priced sells first; spec §2) or "fifo" (the authors' Python post-processing)."""
    grid_seconds: float = 5.0
    """Spacing of the state records in grid.parquet (and of agent decisions)."""
    tick: float = 0.01
    """Price tick (USD)."""
    queue_power: float = 2.0
    """n of the power-probability queue rule f(x) = x**n (queue model only)."""
    mark_sigma_bound: float = 10.0
    """Unwind prices for the unrealized P&L are bounded to mid ± this many σ (spec §2); 0 disables."""
    mark_window: int = 25
    """Number of mids in the σ of that bound."""
    chain: ChainConfig | None = field(default=None, metadata={"omit_default": True})
    """On-chain costs (:mod:`alpha_as.engine.chain`): blocks instead of the fixed latency, gas per action, a fee
    tier; None (default): an exchange. A dict is read as a ChainConfig (``[engine.chain]``)."""
    risk: RiskConfig | None = field(default=None, metadata={"omit_default": True})
    """The risk module (:mod:`alpha_as.engine.risk`): checks between the strategy's requests and the venue; None
    (default): none. A dict is read as a RiskConfig (the ``[risk]`` table)."""

    def __post_init__(self) -> None:
        if isinstance(self.chain, dict):
            object.__setattr__(self, "chain", ChainConfig.from_dict(self.chain, source="engine: chain"))
        elif self.chain is not None and not isinstance(self.chain, ChainConfig):
            raise InputError(f"engine: chain must be a table of chain settings, got {self.chain!r}")
        if isinstance(self.risk, dict):
            object.__setattr__(self, "risk", RiskConfig.from_dict(self.risk, source="engine: risk"))
        elif self.risk is not None and not isinstance(self.risk, RiskConfig):
            raise InputError(f"engine: risk must be a table of risk settings, got {self.risk!r}")
        if self.chain is not None and self.chain.fee_bps is not None and (self.maker_fee or self.taker_fee):
            raise InputError("engine: chain.fee_bps sets both fees; leave maker_fee and taker_fee at 0")
        if self.fill_model not in FILL_MODELS:
            raise InputError(f"engine: fill_model must be one of {FILL_MODELS}, got {self.fill_model!r}")
        if self.lot_matching not in LOT_MATCHING:
            raise InputError(f"engine: lot_matching must be one of {LOT_MATCHING}, got {self.lot_matching!r}")
        # every number finite and in its range (a NaN fails every comparison, so each check is written as
        # "ok"); latency and grid spacing at most a day, so that their nanoseconds fit the int config vector
        checks = [
            ("latency_ms", 0 <= self.latency_ms <= MAX_LATENCY_MS, f"in [0, {MAX_LATENCY_MS:.0f}] (a day)"),
            ("maker_fee", -1 < self.maker_fee < 1, "in (-1, 1) (a rate of the traded value)"),
            ("taker_fee", -1 < self.taker_fee < 1, "in (-1, 1) (a rate of the traded value)"),
            ("grid_seconds", 0 < self.grid_seconds <= MAX_GRID_SECONDS, f"in (0, {MAX_GRID_SECONDS:.0f}] (a day)"),
            ("tick", 0 < self.tick < math.inf, "> 0"),
            ("queue_power", 0 < self.queue_power < math.inf, "> 0"),
            ("mark_sigma_bound", 0 <= self.mark_sigma_bound < math.inf, ">= 0 (0 disables)"),
            ("mark_window", 2 <= self.mark_window <= 1000, "in 2..1000"),
        ]
        for key, ok, need in checks:
            if not ok:
                raise InputError(f"engine: {key} must be finite and {need}, got {getattr(self, key)!r}")

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "engine config") -> EngineConfig:
        d = dict(d)
        chain = d.pop("chain", None)
        risk = d.pop("risk", None)
        cfg = from_dict(cls, d, source=source)
        if chain is not None:
            if not isinstance(chain, dict):
                raise InputError(f"{source}: key 'chain' must be a table [engine.chain], got {chain!r}")
            cfg = dataclasses.replace(cfg, chain=ChainConfig.from_dict(chain, source=f"{source} chain"))
        if risk is not None:
            if not isinstance(risk, dict):
                raise InputError(f"{source}: key 'risk' must be a table [risk], got {risk!r}")
            cfg = dataclasses.replace(cfg, risk=RiskConfig.from_dict(risk, source=f"{source} risk"))
        return cfg

    def to_dict(self) -> dict:
        """The fields as a dict; ``chain`` and ``risk`` only when set (so the dicts, and hashes, of configs without
        them are those of earlier versions)."""
        d = asdict(self)
        for key in ("chain", "risk"):
            if getattr(self, key) is None:
                del d[key]
        return d

    def arrays(self, kind: int, has_side: bool, grid_end_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """The loop's int and float config vectors (the strategy's entries, C_LEVELS and after, are set by the
        caller: :class:`alpha_as.engine.backtest.Backtest`)."""
        ci = np.zeros(N_CFG_I, dtype=np.int64)
        ci[C_FILL_MODEL] = FILL_MODELS.index(self.fill_model)
        ci[C_LATENCY_NS] = int(round(self.latency_ms * 1e6))
        ci[C_LOT_RULE] = LOT_MATCHING.index(self.lot_matching)
        ci[C_GRID_NS] = int(round(self.grid_seconds * 1e9))
        ci[C_GRID_END] = grid_end_ns
        ci[C_KIND] = kind
        ci[C_HAS_SIDE] = int(has_side)
        ci[C_LEVELS] = 1
        cf = np.zeros(N_CFG_F)
        cf[CF_MAKER_FEE] = self.maker_fee
        cf[CF_TAKER_FEE] = self.taker_fee
        cf[CF_TICK] = self.tick
        cf[CF_QUEUE_POWER] = self.queue_power
        cf[CF_MARK_SIGMA] = self.mark_sigma_bound
        cf[CF_MARK_WINDOW] = self.mark_window
        if self.chain is not None and self.chain.fee_bps is not None:  # the fee tier (the rest: chain.set_state)
            cf[CF_MAKER_FEE] = cf[CF_TAKER_FEE] = self.chain.fee_bps / 10_000.0
        return ci, cf
