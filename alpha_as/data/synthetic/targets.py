"""The synthetic market's microstructure targets (issue #11) and a check of a generated day against them.

Each target is (statistic, low, high, what it was tuned to). The statistics are those of
:mod:`alpha_as.data.microstructure` on the 1-s store, except ``markout_ratio_1s_every_change`` (the touch
quoter's 5-s markout on the 1-s store divided by the same on a store with a snapshot every 100 ms, the kernel's
step) and ``swept_volume_share`` (from the kernel). The real samples they come from:
Binance BTCUSDT spot 2024-08-08/09 and USD-M futures 2023-04 / 2024-07 / 2024-08 (hftbacktest's captures in
``../shared/data/hftbacktest_binance_examples``), and the Binance BTCUSDT trades of 2022-01-15
(``../shared/data/hftframework_lambda_data``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np

from alpha_as.data.store import MarketDay

NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class Target:
    key: str
    """A key of :func:`alpha_as.data.microstructure.headline`, or one of the two extra ones above."""
    lo: float
    hi: float
    source: str
    """The real figure it stands for."""


TARGETS: tuple[Target, ...] = (
    Target("zero_change_share_1s", 0.40, 0.70, "spot 2024 0.50, futures 0.68, 2022 day ~0.46"),
    Target("tick_rule_accuracy", 0.93, 1.00, "spot 0.96-0.98, futures 0.97-0.98"),
    Target("zero_tick_share", 0.35, 0.65, "measured here: spot 0.62, futures 0.64, 2022 day 0.49 (the issue asked"
           " 0.35 +- 0.10, which the real samples do not show with this definition)"),
    Target("touch_quoter_markout_bps_5", -0.32, -0.08, "spot -0.35 +- 0.14, futures -0.08 +- 0.04, 2022 ~-0.06"),
    Target("markout_30_minus_5_bps", -0.10, 0.10, "real: the 30-s markout is about the 5-s one"),
    Target("markout_ratio_1s_every_change", 0.60, 1.10, "spot 0.83, futures 0.62"),
    Target("realized_spread_over_sd5", -0.25, -0.09, "spot -0.25, futures -0.11"),
    Target("impact_ratio_1_30", 0.55, 0.75, "spot and futures 0.6-0.7"),
    Target("vr_5_1", 1.05, 1.25, "spot 1.27 +- 0.17, futures 0.98 +- 0.12, 2022 day 1.18"),
    Target("vr_60_5", 0.90, 1.10, "issue #11 target 1.0 +- 0.1"),
    Target("walking_markout_ratio", 2.0, 5.0, "spot ~2.1-2.8, futures ~4.9"),
    Target("size_toxicity_ratio", 1.5, np.inf, "futures 2.9; the largest third of orders at least 1.5x as toxic"),
    Target("walking_volume_share", 0.40, 0.60, "spot 0.56, futures 0.53-0.63"),
    Target("swept_volume_share", 0.0, 0.50, "stale-level sweeps at most half of the volume"),
    Target("print_size_quantiles_p50", 0.005, 0.015, "0.010 BTC: spot 2024 scaled to the 2020 price; 2022 day 0.0044"),
    Target("print_size_quantiles_p90", 0.065, 0.195, "0.13 BTC (spot scaled; 2022 day 0.058)"),
    Target("print_size_quantiles_p99", 0.5, 1.5, "1.0 BTC (spot scaled; 2022 day 0.45)"),
)
"""Targets 1-9 of issue #11 (the tolerances are the issue's)."""


def market_day(arrays: tuple, date: dt.date, instrument: str = "btcusdt_synth") -> MarketDay:
    """A :class:`MarketDay` from :func:`alpha_as.data.synthetic.simulate`'s arrays."""
    ts, bpx, apx, bq, aq, t_ts, t_px, t_q, t_side = arrays
    return MarketDay(instrument=instrument, date=date, depth_ts=ts * NS_PER_MS, bid_px=bpx, ask_px=apx, bid_qty=bq,
                     ask_qty=aq, trade_ts=t_ts * NS_PER_MS, trade_px=t_px, trade_qty=t_q,
                     trade_side=t_side.astype(np.int8), has_side=True, depth_path=None, trade_path=None)


def measure_day(date: dt.date, *, seed: int = 0, hours: float = 12.0, options=None, resamples: int = 200) -> dict:
    """The target statistics of one generated day: ``{key: value}`` for every :data:`TARGETS` key and more."""
    from alpha_as.data.microstructure import headline, measure_days
    from alpha_as.data.synthetic.calibration import SynthOptions
    from alpha_as.data.synthetic.generate import simulate

    options = options or SynthOptions()
    info: dict = {}
    arrays = simulate(date, seed=seed, hours=hours, options=options, info=info)
    h = headline(measure_days([market_day(arrays, date)], resamples=resamples))
    fine = dataclasses.replace(options, snapshot_ms=100)
    fine_h = headline(measure_days([market_day(simulate(date, seed=seed, hours=hours, options=fine), date)],
                                   resamples=resamples))
    h["markout_30_minus_5_bps"] = h["touch_quoter_markout_bps_30"] - h["touch_quoter_markout_bps_5"]
    h["markout_ratio_1s_every_change"] = h["touch_quoter_markout_bps_5"] / fine_h["touch_quoter_markout_bps_5"]
    h["swept_volume_share"] = info["swept_volume"] / float(arrays[7].sum())
    return h


def misses(h: dict) -> list[str]:
    """The targets ``h`` misses, one line each."""
    out = []
    for t in TARGETS:
        v = h.get(t.key)
        if v is None or not (t.lo <= v <= t.hi):
            out.append(f"{t.key} = {v:.4g} not in [{t.lo:g}, {t.hi:g}] ({t.source})")
    return out
