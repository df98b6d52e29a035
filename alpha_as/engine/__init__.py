"""The replay engine: a numba-compiled exchange simulator over one day of snapshots and trades."""

from alpha_as.engine.jitcache import invalidate_if_stale

invalidate_if_stale()  # before the kernel is imported: its cache must match the sources it inlines

# ruff: noqa: E402

from alpha_as.engine.backtest import Backtest, BacktestResult, SteppedBacktest
from alpha_as.engine.config import EngineConfig

__all__ = ["Backtest", "BacktestResult", "EngineConfig", "SteppedBacktest"]
