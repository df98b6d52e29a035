"""Problems that ``alpha-as data check`` reports: severities, kinds and the one-line rendering.

The kinds are documented in :mod:`alpha_as.data.check` (which re-exports everything here). Three severities:

* :data:`ERROR`: bad data; ``data check`` exits 2 and replay commands refuse the day.
* :data:`SUSPECT`: data that reads fine but probably is not (wrong unit, shifted file, a 0/1 side, trades
  where there is no book). ``data check`` prints it with a ``SUSPECT`` prefix and still exits 0; replay
  commands refuse the day unless given ``--trust-data``, with :meth:`Problem.line` as their one line.
* :data:`WARNING`: printed only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ERROR, WARNING, SUSPECT = "error", "warning", "suspect"
TRUST_HINT = "pass --trust-data to replay it anyway"
TOLERANCE_S = 60
"""Trades more than this many seconds before the first or after the last depth snapshot are suspect."""
MAX_SPAN_H = 26
"""A day file whose timestamps span more hours than this is suspect."""
UNKNOWN_SIDE_SHARE = 0.01
"""More than this share of trades with an unknown side (0 or null) is suspect (from :data:`MIN_SUSPECT_ROWS`)."""
MIN_SUSPECT_ROWS = 10
"""Side rules need at least this many offending trades (a handful of trades proves nothing)."""

TRUNCATE_RULE = "truncate the book side at the first bad deeper level"

KINDS: dict[str, tuple[str, str | None]] = {
    "unreadable": ("unreadable or corrupt parquet file", None),
    "missing_column": ("missing column", None),
    "bad_column": ("column of the wrong type", None),
    "timestamp_unit": ("timestamps in another unit than epoch ms",
                       "rescale the timestamps to epoch ms (s x 1000; µs and ns floored to ms)"),
    "missing_file": ("missing file", None),
    "missing_day": ("missing day", None),
    "empty_day": ("depth file has no rows (empty day)", None),
    "no_trades": ("trade file has no rows", None),
    "null_timestamp": ("null timestamp", "drop rows with a null timestamp"),
    "unsorted": ("timestamp smaller than the previous row's (unsorted)", "sort by timestamp (stable)"),
    "bad_price0": ("level-0 price missing, non-finite or <= 0",
                   "drop snapshots with a missing, non-finite or <= 0 level-0 price"),
    "bad_size0": ("level-0 size NaN, non-finite or <= 0", "drop snapshots with a NaN, non-finite or <= 0 level-0 size"),
    "crossed": ("crossed book (bidPrice0 >= askPrice0)", "drop crossed snapshots (bidPrice0 >= askPrice0)"),
    "bad_deep_price": ("deeper-level price non-finite or <= 0", TRUNCATE_RULE),
    "bad_deep_size": ("deeper-level size NaN, non-finite or <= 0", TRUNCATE_RULE),
    "non_monotone": ("deeper levels not strictly descending (bids) / ascending (asks), or after an empty level",
                     TRUNCATE_RULE),
    "bad_trade_price": ("trade price missing, non-finite or <= 0", "drop trades with a missing, non-finite or <= 0 price"),
    "bad_trade_size": ("trade size NaN, non-finite or <= 0", "drop trades with a NaN, non-finite or <= 0 size"),
    "bad_side": ("side not +1, -1 or 0", "set an invalid side to 0 (unknown)"),
    "off_date": ("timestamp outside the partition date (-1 day, +2 days)", None),
    "long_span": (f"timestamps span more than {MAX_SPAN_H} h", None),
    "wrong_date": ("most timestamps fall outside the partition's UTC date", None),
    "side_01": ("side holds only 0 and 1 (a 0/1 buy flag?)", None),
    "unknown_side": ("more than 1 % of trades have an unknown side (0 or null)", None),
    "trades_outside_depth": (f"trades more than {TOLERANCE_S} s before the first or after the last depth snapshot",
                             f"drop trades more than {TOLERANCE_S} s before the first or after the last depth snapshot"),
}
"""Problem kind -> (description, repair rule or None when it cannot be repaired)."""


@dataclass(frozen=True)
class Problem:
    """One kind of problem in one file: the first bad row (0-based, None for file-level problems) and a count."""

    file: Path
    kind: str
    count: int = 1
    row: int | None = None
    detail: str = ""
    severity: str = ERROR
    repaired: bool = False

    @property
    def repairable(self) -> bool:
        return KINDS[self.kind][1] is not None

    @property
    def message(self) -> str:
        return self.detail or KINDS[self.kind][0]

    def line(self) -> str:
        """``FILE: row R: what: N rows (hints)`` (one line, as the CLI prints it).

        Hints: ``--repair fixes it`` for a repairable error or suspect, and for a suspect
        :data:`TRUST_HINT`, so the line reads as a replay command's refusal.
        """
        hints = []
        if self.repairable and self.severity != WARNING:
            hints.append("--repair fixes it")
        if self.severity == SUSPECT:
            hints.append(TRUST_HINT)
        hint = f" ({'; '.join(hints)})" if hints else ""
        if self.row is None:
            return f"{self.file}: {self.message}{hint}"
        return f"{self.file}: row {self.row}: {self.message}: {self.count} row{'s' * (self.count != 1)}{hint}"

    def to_json(self) -> dict:
        return {"file": str(self.file), "row": self.row, "kind": self.kind, "count": self.count,
                "severity": self.severity, "repairable": self.repairable, "repaired": self.repaired,
                "message": self.message}
