"""``alpha-as data check``: validate a store, print per-day statistics, compare with the paper, repair.

Validation reads the raw parquet tables (not :func:`~alpha_as.data.store.load_day`), so every problem names
its file, the first bad row (0-based position in the file, as stored) and the number of bad rows.

Problem kinds (E = error: exit code 2; S = suspect; W = warning: printed only; R = ``--repair`` fixes it, rule in
brackets). Severities, kinds and :meth:`Problem.line` live in :mod:`alpha_as.data.problems`, the suspect rules
in :mod:`alpha_as.data.plausibility`; both are re-exported here.

A **suspect** problem (severity ``"suspect"``, :data:`SUSPECT`) is data that reads fine but probably is not.
``data check`` prints it as ``SUSPECT: FILE: ...`` plus a closing line saying that the replay commands refuse
such a day unless given ``--trust-data``, and still exits 0 (errors exit 2). Its :meth:`Problem.line` ends with
``(pass --trust-data to replay it anyway)`` so a replay command can print it as its one refusal line.

* ``unreadable`` E: unreadable or corrupt parquet. ``missing_column`` E: a schema column is absent
  (timestamp; bid/askPrice0..N-1 and bid/askQuantity0..N-1 of every level with both price columns).
  ``bad_column`` E: a column of the wrong type (non-numeric price, non-integer timestamp, a string or bool
  ``side``: "column 'side' has type bool, expected int8 +1/-1/0 (0 = unknown)").
* ``timestamp_unit`` E R [rescale to epoch ms: s x 1000, µs and ns floored to ms]: the median timestamp is
  ~1e-3, 1e3 or 1e6 times noon of the partition's date in epoch ms (within a factor 10), i.e. the file is in
  s, µs or ns: "timestamps look like ns (median 1.6e18); the layout wants epoch ms". File-level. Every other
  rule then runs on the rescaled timestamps (so the repair counts match), and no statistic is computed from
  the raw values; ``store.load_day`` refuses such a file with the same words.
* ``missing_file`` E: a day has a depth file but no trade file, or trades but no depth (a trades-only
  instrument such as the authors' btcusdt_binance sample). ``missing_day`` E: a day required by
  ``--start/--end`` (every calendar day, or with ``--calendar paper`` only the paper's days) has no files.
* ``empty_day`` E: a depth file with zero rows. ``no_trades`` W: a trade file with zero rows.
* ``null_timestamp`` E R [drop the rows]. ``unsorted`` E R [stable sort by timestamp]; counted as rows whose
  timestamp is smaller than the previous row's. Duplicate timestamps are legal; :func:`day_stats` counts them.
* ``bad_price0`` E R [drop]: level-0 bid or ask price missing (null/NaN), non-finite or <= 0.
  ``bad_size0`` E R [drop]: level-0 size NaN, non-finite or <= 0 (a zero-size best level is no level).
  ``crossed`` E R [drop]: bidPrice0 >= askPrice0 (a locked book counts as crossed).
* Deeper levels may be absent (null/NaN price). A present deeper level must have a finite price > 0
  (``bad_deep_price``), a finite size > 0 (``bad_deep_size``), and the present levels of a side must be
  contiguous from level 0 with bids strictly descending and asks strictly ascending (``non_monotone``).
  All three are E R [truncate that side of the snapshot from the first bad level: it and the deeper
  levels become empty]; the snapshot itself is kept.
* Trades: ``bad_trade_price`` E R [drop]: price missing, non-finite or <= 0. ``bad_trade_size`` E R [drop]:
  size NaN, non-finite or <= 0. ``bad_side`` E R [set to 0 = unknown]: side not in {+1, -1, 0, null}.
* ``off_date`` W: timestamps outside [date - 1 day, date + 2 days) of the partition (wrong unit?).
* ``long_span`` S: a file's timestamps span more than 26 h (file-level). ``wrong_date`` S: more than half of a
  file's timestamps lie outside the partition's UTC date (a file shifted by a day, a mislabelled partition).
* ``side_01`` S: the side holds only 0 and 1, no -1, with at least 10 of each and more than 1 % zeros (a 0/1
  buy flag; file-level). ``unknown_side`` S: more than 1 % (and at least 10) of the valid trades have side 0 or
  null. Files without a ``side`` column (the authors') are not concerned.
* ``trades_outside_depth`` S R [drop those trades]: valid trades more than 60 s before the first or after the
  last valid depth snapshot (the book ended while trades go on, or a trade file shifted in time): a strategy
  would fill against a stale or missing book. ``--repair`` drops them with the other trade drops.

Deeper-level and row checks run only on rows that survive the level-0 rules, so each bad row is counted
once and the repair counts equal the validation counts (except the sort, counted again after the drops).
Repairs are applied in the order listed (the unit first; ``trades_outside_depth`` with the other trade drops,
before the side reset; with ``--repair`` a repairable suspect is repaired like an error); repaired files are
written with the store's atomic writers (levels that end up empty everywhere are not written), untouched files
are copied byte for byte. Files that are unreadable, lack columns or are missing cannot be repaired: they stay
errors (exit 2).
At most :data:`~alpha_as.data.store.MAX_LEVELS` levels are read.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from alpha_as.atomic import atomic_path
from alpha_as.data import paper, plausibility, store
from alpha_as.data.problems import ERROR, KINDS, SUSPECT, TRUST_HINT, WARNING, Problem
from alpha_as.data.problems import TRUNCATE_RULE as _TRUNCATE
from alpha_as.data.stats import day_stats, paper_comparison
from alpha_as.data.store import DEPTH, TRADE, MarketDay
from alpha_as.errors import InputError

__all__ = ["ERROR", "KINDS", "SUSPECT", "TRUST_HINT", "WARNING", "Problem", "check_command", "day_stats",
           "paper_comparison", "validate_day"]

# --------------------------------------------------------------------------------------------- reading


@dataclass
class _Table:
    """A raw table as read, with the masks the validation found (used again by the repair)."""

    path: Path
    ts: np.ndarray  # int64 epoch ms, nulls as 0
    cols: dict[str, np.ndarray]  # depth: bid/ask/bq/aq (n, L); trades: px/qty[/side]
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # drop rules, in order, and "trunc_bid/ask"
    unit: str = "ms"  # the unit the file's timestamps were in (``ts`` is rescaled to ms)
    keep: np.ndarray | None = None  # rows that survive the drop rules (for the depth range of the trades)


def _pos(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & (x > 0)


def _read(path: Path, problems: list[Problem]) -> pa.Table | None:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError, TypeError) as e:
        msg = (str(e).splitlines() or [type(e).__name__])[0][:200]
        problems.append(Problem(path, "unreadable", detail=f"unreadable or corrupt parquet file ({msg})"))
        return None


def _columns(table: pa.Table, path: Path, names: list[str], problems: list[Problem]):
    """``(ts, nulls, {name: float64})`` or None after recording a missing or wrongly typed column."""
    missing = [n for n in ["timestamp", *names] if n not in table.column_names]
    if missing:
        problems.append(Problem(path, "missing_column", count=len(missing),
                                detail="missing column" + "s" * (len(missing) > 1) + " " + ", ".join(map(repr, missing))))
        return None
    col = table.column("timestamp")
    try:
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("ms"), safe=False).cast(pa.int64())
        if not pa.types.is_integer(col.type):
            raise InputError(f"column 'timestamp' has type {col.type}, expected int64 epoch ms")
        nulls = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        ts = np.ascontiguousarray(col.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        out = {n: store.column_float64(table, n, path) for n in names}
    except (InputError, pa.ArrowException) as e:
        problems.append(Problem(path, "bad_column", detail=str(e).removeprefix(f"{path}: ")))
        return None
    return ts, nulls, out


_flag = plausibility.flag


def _order_and_date(t: _Table, date: dt.date, live: np.ndarray, problems: list[Problem]) -> None:
    problems += plausibility.order_and_date(t.path, t.ts, live, date)


def _check_depth(path: Path, date: dt.date, problems: list[Problem]) -> _Table | None:
    table = _read(path, problems)
    if table is None:
        return None
    names = set(table.column_names)
    levels = 0
    while levels < store.MAX_LEVELS and f"bidPrice{levels}" in names and f"askPrice{levels}" in names:
        levels += 1
    levels = max(levels, 1)
    want = [f"{k}{i}" for k in ("bidPrice", "askPrice", "bidQuantity", "askQuantity") for i in range(levels)]
    got = _columns(table, path, want, problems)
    if got is None:
        return None
    ts, nulls, c = got
    ts, unit, unit_problems = plausibility.to_ms(path, ts, ~nulls, date)
    problems += unit_problems
    mats = {key: np.column_stack([c[f"{k}{i}"] for i in range(levels)]) if len(ts) else np.empty((0, levels))
            for key, k in (("bid", "bidPrice"), ("ask", "askPrice"), ("bq", "bidQuantity"), ("aq", "askQuantity"))}
    t = _Table(path, ts, mats, unit=unit)
    if len(ts) == 0:
        problems.append(Problem(path, "empty_day", detail="depth file has no rows (empty day)"))
        return t
    bid, ask, bq, aq = mats["bid"], mats["ask"], mats["bq"], mats["aq"]
    live = ~nulls
    px_ok = _pos(bid[:, 0]) & _pos(ask[:, 0])
    sz_ok = _pos(bq[:, 0]) & _pos(aq[:, 0])
    crossed = live & px_ok & sz_ok & (bid[:, 0] >= ask[:, 0])
    t.masks = {"null_timestamp": nulls, "bad_price0": live & ~px_ok, "bad_size0": live & px_ok & ~sz_ok,
               "crossed": crossed}
    for kind, mask in t.masks.items():
        _flag(problems, path, kind, mask)
    t.keep = live & px_ok & sz_ok & ~crossed
    keep = t.keep[:, None]
    deep = {"bad_deep_price": np.zeros(len(ts), bool), "bad_deep_size": np.zeros(len(ts), bool),
            "non_monotone": np.zeros(len(ts), bool)}
    for side, px, qty in (("bid", bid, bq), ("ask", ask, aq)):
        p, q, prev = px[:, 1:], qty[:, 1:], px[:, :-1]
        present = ~np.isnan(p)
        p_ok = present & _pos(p)
        bad_p = keep & present & ~p_ok
        bad_q = keep & p_ok & ~_pos(q)
        ordered = (p < prev) if side == "bid" else (p > prev)
        # an empty previous level is a hole; a bad previous level is reported (and truncated) itself
        mono = keep & p_ok & (np.isnan(prev) | (_pos(prev) & ~ordered))
        deep["bad_deep_price"] |= bad_p.any(axis=1)
        deep["bad_deep_size"] |= bad_q.any(axis=1)
        deep["non_monotone"] |= mono.any(axis=1)
        t.masks[f"trunc_{side}"] = np.logical_or.accumulate(bad_p | bad_q | mono, axis=1)
    for kind, mask in deep.items():
        _flag(problems, path, kind, mask)
    _order_and_date(t, date, live, problems)
    return t


def _check_trades(path: Path, date: dt.date, problems: list[Problem]) -> _Table | None:
    table = _read(path, problems)
    if table is None:
        return None
    got = _columns(table, path, ["price", "quantity"], problems)
    if got is None:
        return None
    ts, nulls, c = got
    cols = {"px": c["price"], "qty": c["quantity"]}
    if "side" in table.column_names:
        sc = table.column("side")
        side_problem = store.side_type_problem(sc.type)
        if side_problem is not None:
            problems.append(Problem(path, "bad_column", detail=side_problem))
            return None
        cols["side"] = np.nan_to_num(store.side_float64(sc), nan=9.0)
    ts, unit, unit_problems = plausibility.to_ms(path, ts, ~nulls, date)
    problems += unit_problems
    t = _Table(path, ts, cols, unit=unit)
    if len(ts) == 0:
        problems.append(Problem(path, "no_trades", severity=WARNING))
        return t
    live = ~nulls
    px_ok, sz_ok = _pos(cols["px"]), _pos(cols["qty"])
    t.masks = {"null_timestamp": nulls, "bad_trade_price": live & ~px_ok, "bad_trade_size": live & px_ok & ~sz_ok}
    for kind, mask in t.masks.items():
        _flag(problems, path, kind, mask)
    t.keep = live & px_ok & sz_ok
    if "side" in cols:
        valid = np.isin(cols["side"], (-1.0, 0.0, 1.0))
        t.masks["bad_side"] = t.keep & ~valid
        _flag(problems, path, "bad_side", t.masks["bad_side"])
        problems += plausibility.side_rules(path, cols["side"], t.keep & valid)
    _order_and_date(t, date, live, problems)
    return t


def _inspect(root: Path, instrument: str, date: dt.date) -> tuple[list[Problem], _Table | None, _Table | None]:
    dpath = store.partition_path(root, DEPTH, instrument, date)
    tpath = store.partition_path(root, TRADE, instrument, date)
    problems: list[Problem] = []
    depth = trades = None
    if dpath.is_file():
        depth = _check_depth(dpath, date, problems)
    else:
        what = "its trade file exists" if tpath.is_file() else "no trade file either"
        problems.append(Problem(dpath, "missing_file",
                                detail=f"no depth file for instrument {instrument!r} on {date} ({what})"))
    if tpath.is_file():
        trades = _check_trades(tpath, date, problems)
    elif dpath.is_file():
        problems.append(Problem(tpath, "missing_file",
                                detail=f"no trade file for instrument {instrument!r} on {date} (its depth file exists)"))
    if depth is not None and trades is not None and depth.keep is not None and trades.keep is not None:
        found, mask = plausibility.outside_depth(tpath, trades.ts, trades.keep, depth.ts, depth.keep)
        problems += found
        if mask is not None:
            trades.masks["trades_outside_depth"] = mask
    return problems, depth, trades


def validate_day(root: str | Path, instrument: str, date: dt.date) -> list[Problem]:
    """Every problem of one instrument-day (errors, suspects and warnings: see ``Problem.severity``), depth file
    first; [] when the day is clean."""
    return _inspect(Path(root), instrument, date)[0]


# --------------------------------------------------------------------------------------------- repair


def _drop(t: _Table, kinds: tuple[str, ...], repairs: list[tuple[str, int]]) -> np.ndarray:
    keep = np.ones(len(t.ts), dtype=bool)
    for kind in kinds:
        mask = t.masks.get(kind)
        if mask is not None and mask.any():
            repairs.append((KINDS[kind][1], int(np.count_nonzero(mask))))
            keep &= ~mask
    return keep


def _sort(ts: np.ndarray, arrays: dict[str, np.ndarray], repairs: list[tuple[str, int]]) -> np.ndarray:
    n_desc = int(np.count_nonzero(ts[1:] < ts[:-1]))
    if not n_desc:
        return ts
    order = np.argsort(ts, kind="stable")
    for k in arrays:
        arrays[k] = arrays[k][order]
    repairs.append((KINDS["unsorted"][1], n_desc))
    return ts[order]


def _rescaled(t: _Table) -> list[tuple[str, int]]:
    """The unit repair (``t.ts`` already holds the rescaled timestamps), listed first as applied first."""
    return [] if t.unit == "ms" else [(f"{KINDS['timestamp_unit'][1]}: from {t.unit}", len(t.ts))]


def _repair_depth(t: _Table) -> tuple[np.ndarray, dict[str, np.ndarray], list[tuple[str, int]]]:
    repairs = _rescaled(t)
    keep = _drop(t, ("null_timestamp", "bad_price0", "bad_size0", "crossed"), repairs)
    mats = {k: v.copy() for k, v in t.cols.items()}
    tb, ta = t.masks.get("trunc_bid"), t.masks.get("trunc_ask")
    if tb is not None and (tb.any() or ta.any()):
        for px, q, m in (("bid", "bq", tb), ("ask", "aq", ta)):
            mats[px][:, 1:][m] = np.nan
            mats[q][:, 1:][m] = np.nan
        repairs.append((_TRUNCATE, int(np.count_nonzero((tb | ta).any(axis=1)))))
    mats = {k: v[keep] for k, v in mats.items()}
    ts = _sort(t.ts[keep], mats, repairs)
    present = ~np.isnan(mats["bid"]).all(axis=0) | ~np.isnan(mats["ask"]).all(axis=0)
    levels = max(1, int(np.argmin(present)) if not present.all() else len(present))
    return ts, {k: np.ascontiguousarray(v[:, :levels]) for k, v in mats.items()}, repairs


def _repair_trades(t: _Table) -> tuple[np.ndarray, dict[str, np.ndarray], list[tuple[str, int]]]:
    repairs: list[tuple[str, int]] = []
    cols = dict(t.cols)
    if "side" in cols and t.masks.get("bad_side") is not None and t.masks["bad_side"].any():
        cols["side"] = np.where(t.masks["bad_side"], 0.0, cols["side"])
        repairs.append((KINDS["bad_side"][1], int(np.count_nonzero(t.masks["bad_side"]))))
    keep = _drop(t, ("null_timestamp", "bad_trade_price", "bad_trade_size", "trades_outside_depth"), repairs)
    repairs.sort(key=lambda r: r[0] == KINDS["bad_side"][1])  # report drops first, as applied
    repairs = _rescaled(t) + repairs
    cols = {k: v[keep] for k, v in cols.items()}
    return _sort(t.ts[keep], cols, repairs), cols, repairs


def _copy_atomic(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


# --------------------------------------------------------------------------------------------- one day


@dataclass
class _Day:
    instrument: str
    date: dt.date
    problems: list[Problem]
    repairs: list[tuple[Path, str, int]] = field(default_factory=list)
    stats: dict | None = None
    paper: dict | None = None
    written: dict[str, str] = field(default_factory=dict)  # file -> "repaired" | "copied"

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR and not p.repaired]

    @property
    def suspects(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == SUSPECT and not p.repaired]

    def to_json(self, compare: bool, repair: bool) -> dict:
        out = {"instrument": self.instrument, "date": self.date.isoformat(), "stats": self.stats,
               "problems": [p.to_json() for p in self.problems]}
        if repair:
            out["repairs"] = [{"file": str(f), "rule": r, "count": n} for f, r, n in self.repairs]
        if compare:
            out["paper"] = self.paper
        return out


def _market_day(instrument: str, date: dt.date, depth: tuple | None, trades: tuple | None,
                dpath: Path, tpath: Path) -> MarketDay:
    if depth is None:
        depth = (np.empty(0, np.int64), {k: np.empty((0, 1)) for k in ("bid", "ask", "bq", "aq")})
    if trades is None:
        trades = (np.empty(0, np.int64), {"px": np.empty(0), "qty": np.empty(0)})
    (dts, m), (tts, c) = depth, trades
    side = c.get("side")
    lim = store.MAX_MS  # off-date rows beyond it (a warning) must not wrap around in ns

    def ns(ts: np.ndarray) -> np.ndarray:
        return np.clip(ts, -lim, lim) * store.NS_PER_MS

    return MarketDay(
        instrument=instrument, date=date, depth_ts=ns(dts), bid_px=m["bid"], ask_px=m["ask"],
        bid_qty=m["bq"], ask_qty=m["aq"], trade_ts=ns(tts), trade_px=c["px"], trade_qty=c["qty"],
        trade_side=np.zeros(len(tts), np.int8) if side is None else side.astype(np.int8),
        has_side=side is not None, depth_path=dpath, trade_path=tpath,
    )


def _check_day(root: Path, instrument: str, date: dt.date, *, required: str | None, compare: bool,
               out: Path | None) -> _Day:
    dpath = store.partition_path(root, DEPTH, instrument, date)
    tpath = store.partition_path(root, TRADE, instrument, date)
    if not dpath.is_file() and not tpath.is_file():
        return _Day(instrument, date, [Problem(dpath, "missing_day", detail=(
            f"no data for instrument {instrument!r} on {date} (neither depth nor trade file; {required})"))])
    problems, depth, trades = _inspect(root, instrument, date)
    day = _Day(instrument, date, problems)
    data: dict[str, tuple | None] = {DEPTH: None, TRADE: None}
    if out is None and any(p.repairable and p.severity == ERROR for p in problems):
        return day  # data errors left in place: no statistics
    for kind, t in ((DEPTH, depth), (TRADE, trades)):
        if t is None:
            continue
        if out is None or not any(p.file == t.path and p.repairable and p.severity != WARNING for p in problems):
            data[kind] = (t.ts, t.cols)
            if out is not None:
                _copy_atomic(t.path, store.partition_path(out, kind, instrument, date))
                day.written[str(t.path)] = "copied"
            continue
        ts, cols, reps = _repair_depth(t) if kind == DEPTH else _repair_trades(t)
        day.repairs += [(t.path, rule, n) for rule, n in reps]
        day.problems = [replace(p, repaired=True) if p.file == t.path and p.repairable else p for p in day.problems]
        if kind == DEPTH and len(ts) == 0:
            day.problems.append(Problem(t.path, "empty_day", detail="no depth rows left after repair (empty day)"))
        elif kind == DEPTH:
            store.write_depth(out, instrument, date, ts, cols["bid"], cols["ask"], cols["bq"], cols["aq"])
        else:
            store.write_trades(out, instrument, date, ts, cols["px"], cols["qty"], cols.get("side"))
        day.written[str(t.path)] = "repaired"
        data[kind] = (ts, cols)
    if data[DEPTH] is not None or data[TRADE] is not None:
        md = _market_day(instrument, date, data[DEPTH], data[TRADE], dpath, tpath)
        day.stats = day_stats(md)
        if compare:
            day.paper = paper_comparison(md)
    return day


# --------------------------------------------------------------------------------------------- output


def _num(x: float | int | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _day_cells(s: dict | None) -> list[str]:
    if s is None:
        return ["-"] * 14
    t5, sp, mid = s["ticks_per_5s"], s["spread"], s["mid"]
    return [f"{s['depth_snapshots']:,}", f"{s['trades']:,}", f"{s['depth_duplicate_ts']:,}/{s['trade_duplicate_ts']:,}",
            _num(t5["mean"], ".2f"), _num(t5["std"], ".2f"), _num(t5["skew"], ".2f"),
            _num(sp["median"], ".4g"), _num(sp["mean"], ".4g"),
            *(_num(mid[k], ".8g") for k in ("open", "close", "min", "max")),
            str(s["gaps_over_60s"]), _num(s["span_hours"], ".2f")]


_HEAD = ["snapshots", "trades", "dups d/t", "t5 mean", "t5 std", "t5 skew", "spr med", "spr mean",
         "mid open", "mid close", "mid min", "mid max", "gaps>60s", "hours"]
_WIDTH = [10, 10, 12, 8, 8, 7, 9, 9, 12, 12, 12, 12, 8, 6]


def _row(name: str, w: int, cells: list[str]) -> str:
    return f"{name:<{w}}" + "".join(f" {c:>{n}}" for c, n in zip(cells, _WIDTH, strict=True))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.1f}%"


_FIG = (("depth_snapshots", "snapshots", ",.0f"), ("trades", "trades", ",.0f"), ("ticks_per_5s", "ticks/5s", ".2f"))


def _print_paper(days: list[_Day], w: int, say: Callable[[str], None]) -> None:
    say("")
    say("paper comparison (spec §12): events in [07:00, 19:00) UTC of each day beside the paper's; "
        "err = (ours - paper) / paper")
    say("  scaling: where the data ends before 19:00 (hours < 12, marked *) the paper's counts are scaled by "
        "covered_hours/12, covered_hours = last event - 07:00 rounded up to the minute (2020-12-21's snapshots by the "
        "covered hours outside its 14:00-17:59 gap); ticks/5s = window events / (covered_hours * 720), "
        "the paper's rate unscaled")
    say(f"{'day':<{w}} {'hours':>6}" + "".join(f" {h:>11} {'paper':>11} {'err':>7}" for _, h, _ in _FIG))
    errs: dict[str, list[float]] = {k: [] for k, _, _ in _FIG}
    for d in days:
        label = f"{d.instrument} {d.date}"
        if paper.paper_day(d.date) is None:
            say(f"{label:<{w}} not one of the paper's days (spec §12): not compared")
        elif d.paper is None:
            say(f"{label:<{w}} not compared: no valid data")
        elif d.paper["covered_hours"] == 0:
            say(f"{label:<{w}} not compared: no event at or after 07:00 UTC")
        else:
            c = d.paper
            cells = ""
            for k, _, spec in _FIG:
                cells += f" {format(c[k]['ours'], spec):>11} {format(c[k]['paper'], spec):>11} {_pct(c[k]['rel_err']):>7}"
                if c[k]["rel_err"] is not None:
                    errs[k].append(abs(c[k]["rel_err"]))
            mark = "*" if c["covered_hours"] < 12 else " "
            say(f"{label:<{w}} {c['covered_hours']:>5.2f}{mark}{cells}")
    n = len(errs["depth_snapshots"])
    if not n:
        say("summary: no day compared with the paper")
        return
    parts = [f"{h}: max |err| {max(e) * 100:.1f}%, mean |err| {sum(e) / len(e) * 100:.1f}%, "
             f"{sum(x <= 0.10 for x in e)}/{len(e)} within ±10%" for (_k, h, _), e in zip(_FIG, errs.values(), strict=True)]
    say(f"summary: {n} day(s) compared; " + "; ".join(parts))


# --------------------------------------------------------------------------------------------- command


def _required(present: list[dt.date], start: dt.date | None, end: dt.date | None, calendar: str) -> list[dt.date]:
    if start is None and end is None:
        return []
    lo = start or (present[0] if present else None)
    hi = end or (present[-1] if present else None)
    if lo is None or hi is None or hi < lo:
        return []
    if calendar == "paper":
        return paper.paper_dates(lo, hi)
    return [lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)]


def check_command(root: str | Path, *, instrument: str | None = None, start: dt.date | None = None,
                  end: dt.date | None = None, calendar: str = "all", as_json: bool = False,
                  compare_paper: bool = False, repair: bool = False, repair_out: str | Path | None = None) -> int:
    """Run ``alpha-as data check``; return 0 when every checked day is good (after --repair if asked).

    Raises :class:`InputError` (one line: the first error's file, row and count) when any error remains.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("store root not found (or not a folder)", path=root)
    if calendar not in ("all", "paper"):
        raise InputError(f"--calendar must be 'all' or 'paper', got {calendar!r}")
    if start and end and end < start:
        raise InputError(f"--end {end} is before --start {start}")
    found = sorted(set(store.list_instruments(root, DEPTH)) | set(store.list_instruments(root, TRADE)))
    if not found:
        raise InputError("no market data in the store (expected type=depth|trade/instrument=I/date=YYYYMMDD/"
                         "data.parquet)", path=root)
    if instrument is not None and instrument not in found:
        raise InputError(f"instrument {instrument!r} is not in the store (it has {', '.join(found)})", path=root)
    out = None
    if repair:
        out = Path(repair_out) if repair_out is not None else root.with_name(root.name + "-repaired")
        if out.resolve() == root.resolve():
            raise InputError("--repair-out must differ from the store root", path=out)
    say: Callable[[str], None] = (lambda s: None) if as_json else print
    width = max(10, *(len(i) for i in found)) + 11
    say(_row("day", width, _HEAD))
    days: list[_Day] = []
    for inst in [instrument] if instrument is not None else found:
        present = sorted(set(store.list_dates(root, inst, DEPTH)) | set(store.list_dates(root, inst, TRADE)))
        required = set(_required(present, start, end, calendar))
        why = f"required by --start/--end with --calendar {calendar}"
        in_range = [d for d in present if (start is None or d >= start) and (end is None or d <= end)]
        for date in sorted(set(in_range) | required):
            day = _check_day(root, inst, date, required=why, compare=compare_paper, out=out)
            days.append(day)
            for f, rule, n in day.repairs:
                say(f"repair: {f}: {rule}: {n} rows")
            say(_row(f"{inst} {date}", width, _day_cells(day.stats)))
            for p in day.problems:
                if not p.repaired:  # repaired ones were listed as "repair:" lines
                    say(f"  {p.severity.upper() if p.severity == SUSPECT else p.severity}: {p.line()}")
    if not days:
        raise InputError(f"no day to check between {start or 'the first day'} and {end or 'the last day'}", path=root)
    stats = [d.stats for d in days if d.stats]
    bins = sum(s["ticks_per_5s"]["bins"] for s in stats)
    tot = ["-"] * len(_HEAD)
    tot[0] = f"{sum(s['depth_snapshots'] for s in stats):,}"
    tot[1] = f"{sum(s['trades'] for s in stats):,}"
    tot[2] = f"{sum(s['depth_duplicate_ts'] for s in stats):,}/{sum(s['trade_duplicate_ts'] for s in stats):,}"
    tot[3] = _num((int(tot[0].replace(",", "")) + int(tot[1].replace(",", ""))) / bins if bins else None, ".2f")
    tot[12] = str(sum(s["gaps_over_60s"] for s in stats))
    tot[13] = f"{sum(s['span_hours'] or 0 for s in stats):.2f}"
    say(_row(f"total: {len(days)} day(s)", width, tot))
    if compare_paper:
        _print_paper(days, width, say)
    if repair:
        totals: dict[str, int] = {}
        for d in days:
            for _, rule, n in d.repairs:
                totals[rule] = totals.get(rule, 0) + n
        for rule, n in totals.items():
            say(f"repair total: {rule}: {n} rows")
        written = [v for d in days for v in d.written.values()]
        say(f"repair: wrote {len(written)} file(s) to {out}: {written.count('repaired')} repaired "
            f"({sum(totals.values())} rows changed), {written.count('copied')} copied unchanged")
    if as_json:
        print(json.dumps([d.to_json(compare_paper, repair) for d in days], indent=1, allow_nan=False))
    suspect_days = [d for d in days if d.suspects]
    if suspect_days:
        n = sum(len(d.suspects) for d in suspect_days)
        say(f"SUSPECT: {n} suspect problem{'s' * (n != 1)} on {len(suspect_days)} day(s), listed above: the data reads "
            "fine but probably is not; run, runs, replicate, tune, features and train refuse "
            f"{'these days' if len(suspect_days) > 1 else 'this day'} unless given --trust-data")
    errors = [p for d in days for p in d.errors]
    if errors:
        more = f" (+{len(errors) - 1} more error(s), listed {'in the JSON' if as_json else 'above'})" \
            if len(errors) > 1 else ""
        raise InputError(errors[0].line() + more)
    return 0
