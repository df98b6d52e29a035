"""The paper's calendar and its per-day data statistics (spec ../shared/spec/paper.md §1 and §12).

These figures describe the authors' Binance BTCUSDT data, which cannot be obtained. They are used to
calibrate the built-in synthetic market and to compare any dataset against the paper
(``alpha-as data check --compare-paper``). Nothing here is a result of this project.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FI_DAY = dt.date(2020, 12, 7)
"""Feature-importance day (paper: 7 Dec 2020)."""
TRAIN_DAY = dt.date(2020, 12, 8)
"""GA (Gen-AS calibration) and RL training day (paper: 8 Dec 2020)."""
WINDOW_START_HOUR = 7
"""The paper's daily trading window opens at 07:00 UTC (spec §9 #1)."""
WINDOW_END_HOUR = 19
"""... and closes at 19:00 UTC."""


@dataclass(frozen=True)
class PaperDay:
    """One row of spec §12: the authors' data volume in the 07:00-19:00 window of a day."""

    date: dt.date
    depth_snapshots: int
    trades: int
    ticks_per_5s: float
    close_usd: float
    """Approximate BTC daily close (USD), used for the synthetic market's price path."""

    @property
    def role(self) -> str:
        if self.date == FI_DAY:
            return "fi"
        if self.date == TRAIN_DAY:
            return "train"
        return "test"


def _d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


# date, depth snapshots, trades, ticks per 5 s (spec §12); daily close (issue #2).
PAPER_DAYS: tuple[PaperDay, ...] = tuple(
    PaperDay(_d(d), n_depth, n_trades, t5, close)
    for d, n_depth, n_trades, t5, close in [
        ("2020-12-07", 41244, 254949, 34.28, 19190.0),
        ("2020-12-08", 41882, 339770, 44.17, 18320.0),
        ("2020-12-09", 42485, 382755, 49.22, 18550.0),
        ("2020-12-10", 42209, 276986, 36.94, 18260.0),
        ("2020-12-11", 42195, 311927, 40.99, 18060.0),
        ("2020-12-12", 40062, 245256, 33.02, 18800.0),
        ("2020-12-13", 42262, 317149, 41.60, 19140.0),
        ("2020-12-14", 39674, 243754, 32.80, 19250.0),
        ("2020-12-15", 40131, 274341, 36.40, 19420.0),
        ("2020-12-16", 41591, 560151, 69.65, 21310.0),
        ("2020-12-17", 43149, 851208, 103.51, 22800.0),
        ("2020-12-18", 42498, 481401, 60.64, 23140.0),
        ("2020-12-19", 42208, 565002, 70.28, 23870.0),
        ("2020-12-20", 42411, 440822, 55.93, 23480.0),
        ("2020-12-21", 26200, 472275, 57.69, 22800.0),
        ("2020-12-22", 42552, 450406, 57.06, 23780.0),
        ("2020-12-23", 42578, 703814, 86.39, 23240.0),
        ("2020-12-24", 42410, 364947, 47.15, 23740.0),
        ("2020-12-25", 42699, 399128, 51.14, 24660.0),
        ("2020-12-26", 42505, 449361, 56.93, 26440.0),
        ("2020-12-27", 43130, 750325, 91.84, 26270.0),
        ("2020-12-28", 42890, 460640, 58.28, 27080.0),
        ("2020-12-29", 42625, 432842, 55.03, 27360.0),
        ("2020-12-30", 42953, 498166, 62.63, 28840.0),
        ("2021-01-01", 41551, 379918, 48.78, 29370.0),
        ("2021-01-02", 42618, 684489, 84.16, 32130.0),
        ("2021-01-03", 43173, 766037, 93.66, 32780.0),
        ("2021-01-04", 42486, 908904, 110.12, 31970.0),
        ("2021-01-05", 43076, 557666, 69.53, 33990.0),
        ("2021-01-06", 43152, 723702, 88.76, 36820.0),
        ("2021-01-07", 42146, 797372, 97.19, 39370.0),
        ("2021-01-08", 86326, 847018, 108.03, 40800.0),
    ]
)

PAPER_DAY_BY_DATE: dict[dt.date, PaperDay] = {d.date: d for d in PAPER_DAYS}
TEST_DAYS: tuple[dt.date, ...] = tuple(d.date for d in PAPER_DAYS if d.role == "test")
"""The 30 test days: 9 Dec 2020 - 8 Jan 2021 without 31 Dec (spec §1)."""

DEPTH_GAP_2020_12_21 = (dt.time(14, 0), dt.time(18, 0))
"""2020-12-21 has no depth snapshots 14:00-17:59 UTC in the authors' data (spec §1)."""
PREVIOUS_CLOSE_2020_12_06 = 19360.0
"""Approximate BTC close of 6 Dec 2020 (the open of the first day's price path)."""

PAPER_TICKS_PER_5S = {"mean": (33.0, 110.0), "std": (21.0, 67.0), "skew": (1.0, 4.4)}
"""Ranges over the paper's days of the ticks-per-5-s distribution (issue #2, from the paper)."""
PAPER_SPREAD = {"median": 0.01, "mean": 0.37}
"""The authors' quoted spread in USD: median 0.01, mean about 0.37 (spec §1)."""


def paper_day(date: dt.date) -> PaperDay | None:
    """The paper's row for ``date``, or None when the date is not one of the paper's 32 days."""
    return PAPER_DAY_BY_DATE.get(date)


def paper_dates(start: dt.date, end: dt.date) -> list[dt.date]:
    """The paper's days from ``start`` to ``end`` inclusive (31 Dec 2020 is not one of them)."""
    return [d.date for d in PAPER_DAYS if start <= d.date <= end]
