"""The replay engine: a numba-compiled exchange simulator over one day of snapshots and trades.

The public names are imported lazily, so that strategies can import engine internals (state layout,
estimators) without importing the compiled loop that inlines them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Backtest", "BacktestResult", "EngineConfig", "SteppedBacktest"]

if TYPE_CHECKING:
    from alpha_as.engine.backtest import Backtest, BacktestResult, SteppedBacktest
    from alpha_as.engine.config import EngineConfig


def __getattr__(name: str) -> Any:
    if name in ("Backtest", "BacktestResult", "SteppedBacktest"):
        from alpha_as.engine import backtest

        return getattr(backtest, name)
    if name == "EngineConfig":
        from alpha_as.engine.config import EngineConfig

        return EngineConfig
    raise AttributeError(f"module 'alpha_as.engine' has no attribute {name!r}")
