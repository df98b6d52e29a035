"""Market data: the authors' parquet store, importers of real captures, the synthetic BTC market, validation."""

from alpha_as.data.store import MarketDay, list_dates, list_instruments, load_day

__all__ = ["MarketDay", "list_dates", "list_instruments", "load_day"]
