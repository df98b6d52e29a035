"""Bitstamp ob-analytics captures (``2015-05-01.log.bz2``) -> depth snapshots and signed trades.

Format: text, optionally bzip2 (detected by its magic bytes), one Pusher message per line::

    <local_recv_epoch_ms> <type> <json>

``order_created`` / ``order_changed`` / ``order_deleted`` are L3 events ``{"price","amount","datetime","id",
"order_type"}`` (amount = remaining size, order_type 0 bid / 1 ask, datetime = the order's creation time in s);
``trade`` is ``{"price","amount","id"}`` without a side; ``order_book`` is a top-20 L2 snapshot (~every 2-3 s).
SOURCES are read in the given order as one stream. ob-analytics' ``orders.csv`` (the same order events, no
trades, no snapshots) is refused. All timestamps are the local receive ms. Numbers below are for 2015-05-01.

Rules (every count is reported in ``ImportResult.notes``):

* Seed: the book starts from the first ``order_book`` message (none -> :class:`InputError`); order events
  before it only register known orders, which the snapshot already holds.
* L3 rebuild: known orders are tracked by id (side, price, remaining). A change sets the order's remaining and
  price (Bitstamp changes can move the price: a sweeping order reports its current match price), a delete
  removes it. An unknown order is *pre-seed* when its ``datetime`` is before the seed: a delete reduces its
  level by the amount given, a change makes it known (its remaining moves from the seeded mass to the known
  orders), and its fill (a change, or a delete with amount 0) is sized by the next trade at that price within
  1 s (111 of 113). Levels never drop below their known orders. The feed delivers some deletes before their
  order's create (13 orders; left in the book they would cross it all day) and repeats deletes (105):
  events of deleted orders are ignored, and so is a create that arrives after its order's change.
* Re-seed: orders resting since before midnight deeper than the first snapshot's 20 levels are never seen,
  so the pure L3 rebuild misses them once the price moves there: seeded once, its 5 levels match the next
  ``order_book`` message in 91.2 % of the 29,991 messages (49 % in the worst hour). Every ``order_book``
  message therefore re-seeds the levels inside its price range (best to 20th level; a message with fewer
  levels shows the whole side): size = max(snapshot
  size, known orders); in-range levels missing from it keep only their known orders. Levels touched by an
  L3 event in the last second are left alone, because a message can lag the events (re-seeding those made
  ghost levels). Compared with each message before re-seeding, the rebuilt best bid and ask prices match in
  99.8 % and all 5 levels (prices and sizes) in 98.9 %.
* Junk prices: orders (with all their events) and trades priced outside [ref / 2, 2 ref], ref = the mid of
  the latest ``order_book`` message, are dropped: 24 orders (0.01, 0.1, 69.69, 101.01, 1237, 1253, 1264,
  10000, 99999.99), no trade. The nearest kept prices are ~135 and ~350, so the factor is not critical.
* Snapshots: ``interval_ms > 0``: the book as of each grid time from the seed on; ``interval_ms == 0``: one
  snapshot per receive ms at which the book changed. A marketable order crosses the book until its fills
  arrive (median 120 ms, at most 1.3 s while it sweeps several levels; 400 s of the day in all); crossed or
  one-sided snapshots are skipped and counted by :class:`SnapshotSampler` (395 of the 86,394 1-s grid
  times). No order stayed stale at the touch, so no uncrossing rule is applied.
* Trade side (the aggressor): the fills (deletes with amount 0, changes that reduce the amount or move the
  price) at the trade's price within 1 s of it are its candidates, those whose filled size equals the trade's
  amount (or is unknown) preferred. The maker is the candidate that has rested at that price longest
  (pre-seed orders first, ties -> lower id); a maker ask means a buyer-initiated trade (+1), a maker bid a
  seller-initiated one (-1). All 4,251 trades are signed so (1,107 had fills on both sides; the sign agrees
  with the order that crossed the book for 2,523 of 2,529 trades made during a crossing). Trades without a
  candidate fall back to the touch rule against the last snapshot before the trade (price >= best ask -> +1,
  <= best bid -> -1), else 0 (unsigned).
"""

from __future__ import annotations

import bisect
import bz2
import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from alpha_as.data.book import ASK, BID, L2Book, SnapshotSampler
from alpha_as.data.importers import ImportResult
from alpha_as.errors import InputError

JUNK_FACTOR = 2.0
HOLD_MS = 1000           # levels touched by an L3 event this recently are not re-seeded
OB_DEPTH = 20            # levels per side of a full order_book message; a shorter one shows the whole side
MATCH_MS = 1000          # trade <-> fill matching window (either side of the trade)
EPS = 1e-9
_SIDES = {0: BID, 1: ASK}
_ORDER_TYPES = ("order_created", "order_changed", "order_deleted")


def _same(px: list[float], qty: list[float], rows: list[tuple[float, float]]) -> bool:
    return px == [p for p, _ in rows] and all(abs(x - y) < EPS for x, (_, y) in zip(qty, rows, strict=True))


def _lines(path: Path) -> Iterator[str]:
    name = path.name.lower()
    if "orders" in name and ".csv" in name:
        raise InputError("this is ob-analytics' parsed orders.csv (no trades, no order_book snapshots); "
                         "pass the raw capture (.log or .log.bz2) instead", path=path)
    try:
        with path.open("rb") as fh:
            magic = fh.read(3)
        opener = bz2.open if magic == b"BZh" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            yield from fh
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise InputError(f"unreadable capture ({e})", path=path) from e


class _Replay:
    """The L3 -> L2 rebuild (rules in the module docstring)."""

    def __init__(self, levels: int, interval_ms: int, reseed: bool = True) -> None:
        self.book = L2Book()
        self.sides = {BID: self.book.bids, ASK: self.book.asks}
        self.sampler = SnapshotSampler(levels, interval_ms)
        self.levels = levels
        self.reseed = reseed
        self.known: dict[int, list] = {}            # id -> [side, price, remaining, resting at price since ms]
        self.ksum: dict[int, dict[float, float]] = {BID: {}, ASK: {}}   # known remaining per level
        self.gone: set[int] = set()
        self.junk_ids: set[int] = set()
        self.pending: list[tuple[int, int, float]] = []   # unknown fills awaiting their trade: ts, side, price
        self.touched: dict[int, dict[float, int]] = {BID: {}, ASK: {}}   # last L3 event per level (ms)
        self.hold_ms = HOLD_MS
        self.now = 0
        self.seed_ts: int | None = None
        self.ref = math.nan
        self.fills: list[tuple[int, float, int, int, int, float]] = []   # ts, px, side, since, id, filled
        self.trades: list[tuple[int, float, float]] = []
        self.c = dict.fromkeys((
            "pre_seed_events", "junk_orders", "junk_events", "junk_trades", "unknown_deletes", "unknown_changes",
            "unknown_fills", "unknown_fills_sized", "early_events", "late_creates", "after_delete", "ob_msgs",
            "ob_top", "ob_levels", "reseed_fixes"), 0)

    def _known_add(self, side: int, price: float, delta: float, book: bool) -> None:
        ks = self.ksum[side]
        v = ks.get(price, 0.0) + delta
        if v > EPS:
            ks[price] = v
        else:
            ks.pop(price, None)
        if book:
            self.book.add(side, price, delta)
            self.touched[side][price] = self.now

    def _reduce(self, side: int, price: float, qty: float) -> None:
        """Take ``qty`` of seeded (unknown) mass off a level, never below its known orders."""
        have = self.sides[side].get(price, 0.0)
        self.touched[side][price] = self.now
        self.book.set_level(side, price, max(self.ksum[side].get(price, 0.0), have - qty))

    def _is_junk(self, price: float) -> bool:
        return self.ref == self.ref and not self.ref / JUNK_FACTOR <= price <= self.ref * JUNK_FACTOR

    def order(self, ts: int, typ: str, d: dict) -> None:
        self.now = ts
        oid = d["id"]
        side = _SIDES[d["order_type"]]
        price = float(d["price"])
        amount = float(d["amount"])
        c = self.c
        if oid in self.gone:
            c["late_creates" if typ == "order_created" else "after_delete"] += 1
            return
        if oid in self.junk_ids:
            c["junk_events"] += 1
            return
        o = self.known.get(oid)
        if o is None and self._is_junk(price):
            self.junk_ids.add(oid)
            c["junk_orders"] += 1
            c["junk_events"] += 1
            return
        seeded = self.seed_ts is not None
        if not seeded:
            c["pre_seed_events"] += 1
        if typ == "order_created":
            if o is not None:                       # its change came first and is newer
                c["late_creates"] += 1
                return
            self.known[oid] = [side, price, amount, ts]
            self._known_add(side, price, amount, seeded)
            return
        pre = seeded and int(d["datetime"]) * 1000 < self.seed_ts
        if typ == "order_deleted":
            self.gone.add(oid)
        if o is not None:
            o_side, o_price, o_amount, since = o
            self._known_add(o_side, o_price, -o_amount, seeded)
            if typ == "order_deleted":
                del self.known[oid]
                if amount <= EPS:
                    self.fills.append((ts, o_price, o_side, since, oid, o_amount))
                return
            if o_price != price:
                since = ts
            self.known[oid] = [side, price, amount, since]
            self._known_add(side, price, amount, seeded)
            if o_price != price or amount < o_amount - EPS:
                self.fills.append((ts, price, side, since, oid, o_amount - amount if o_price == price else math.nan))
            return
        if not seeded:
            return
        if not pre:                                 # delivered before its create
            c["early_events"] += 1
            if typ == "order_changed":
                self.known[oid] = [side, price, amount, ts]
                self._known_add(side, price, amount, True)
            return
        if typ == "order_changed":
            c["unknown_changes"] += 1
            self.known[oid] = [side, price, amount, 0]
            self._known_add(side, price, amount, False)
            self._reduce(side, price, 0.0)          # the level holds at least its known orders
        else:
            c["unknown_deletes"] += 1
            if amount > EPS:
                self._reduce(side, price, amount)
                return
        c["unknown_fills"] += 1
        self.pending.append((ts, side, price))
        self.fills.append((ts, price, side, 0, oid, math.nan))

    def snapshot(self, ts: int, d: dict) -> None:
        rows = {BID: [(float(p), float(q)) for p, q in d["bids"]], ASK: [(float(p), float(q)) for p, q in d["asks"]]}
        if not (rows[BID] and rows[ASK]):
            return
        self.ref = (rows[BID][0][0] + rows[ASK][0][0]) / 2
        if self.seed_ts is None:
            self.seed_ts = ts
            for oid, (side, price, amount, _) in list(self.known.items()):
                if self._is_junk(price):
                    del self.known[oid]
                    self._known_add(side, price, -amount, False)
                    self.junk_ids.add(oid)
                    self.c["junk_orders"] += 1
            for side, ks in self.ksum.items():
                for price, qty in ks.items():
                    self.book.set_level(side, price, qty)
            self._reseed(rows, ts)
            self.sampler.start(ts)
            return
        c = self.c
        c["ob_msgs"] += 1
        bp, bq, ap, aq = self.book.top(self.levels)
        sb, sa = rows[BID][: self.levels], rows[ASK][: self.levels]
        if bp and ap and bp[0] == sb[0][0] and ap[0] == sa[0][0]:
            c["ob_top"] += 1
            if _same(bp, bq, sb) and _same(ap, aq, sa):
                c["ob_levels"] += 1
        if self.reseed:
            self._reseed(rows, ts)

    def _reseed(self, rows: dict[int, list[tuple[float, float]]], ts: int) -> None:
        hold = ts - self.hold_ms
        for side, snap in rows.items():
            levels, ks, book, touched = self.sides[side], self.ksum[side], self.book, self.touched[side]
            fixes, held = 0, False
            for p, q in snap:
                if touched.get(p, -1) >= hold:
                    held = True
                    continue
                want = max(q, ks.get(p, 0.0))
                if abs(levels.get(p, 0.0) - want) > EPS:
                    book.set_level(side, p, want)
                    fixes += 1
            if held or len(levels) > len(snap):    # else the levels are exactly the snapshot's prices
                in_snap = {p for p, _ in snap}
                bound = snap[-1][0] if len(snap) >= OB_DEPTH else (-math.inf if side == BID else math.inf)
                stale = [p for p in levels if (p > bound if side == BID else p < bound) and p not in in_snap]
                for p in stale:
                    if touched.get(p, -1) >= hold:
                        continue
                    want = ks.get(p, 0.0)
                    if abs(levels[p] - want) > EPS:
                        book.set_level(side, p, want)
                        fixes += 1
            self.c["reseed_fixes"] += fixes

    def trade(self, ts: int, d: dict) -> None:
        price, qty = float(d["price"]), float(d["amount"])
        if self._is_junk(price):
            self.c["junk_trades"] += 1
            return
        self.trades.append((ts, price, qty))
        if self.pending:
            self.pending = [x for x in self.pending if x[0] >= ts - MATCH_MS]
            for i, (_, side, p) in enumerate(self.pending):
                if abs(p - price) < EPS:
                    self._reduce(side, p, qty)
                    self.c["unknown_fills_sized"] += 1
                    del self.pending[i]
                    break


def read(sources: list[Path], *, levels: int, interval_ms: int, reseed: bool = True) -> ImportResult:
    """Rebuild the book of ob-analytics ``.log[.bz2]`` captures (in time order) into snapshots and signed trades.

    ``reseed=False`` turns the re-seeding from ``order_book`` messages off (a diagnostic: the pure L3 rebuild).
    """
    rp = _Replay(levels, interval_ms, reseed)
    sampler, book = rp.sampler, rp.book
    grid = interval_ms > 0
    last_ts: int | None = None
    for path in map(Path, sources):
        for row, line in enumerate(_lines(path), 1):
            try:
                ts_s, typ, js = line.split(" ", 2)
                ts = int(ts_s)
                d = json.loads(js)
            except ValueError as e:
                if not line.strip():
                    continue
                raise InputError(f"not a `<epoch_ms> <type> <json>` line ({e})", path=path, row=row) from e
            if last_ts is not None and ts != last_ts:
                if ts < last_ts:
                    raise InputError(f"timestamp {ts} goes back in time (previous {last_ts})", path=path, row=row)
                if rp.seed_ts is not None:
                    if grid:
                        sampler.advance(ts, book)
                    else:
                        sampler.on_change(last_ts, book)
            last_ts = ts
            try:
                if typ in _ORDER_TYPES:
                    rp.order(ts, typ, d)
                elif typ == "trade":
                    rp.trade(ts, d)
                elif typ == "order_book":
                    rp.snapshot(ts, d)
                else:
                    raise ValueError("unknown message type")
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise InputError(f"bad {typ!r} message ({type(e).__name__}: {e})", path=path, row=row) from e
    if rp.seed_ts is None:
        if len(sources) == 1:
            raise InputError("no order_book snapshot to seed the book from", path=sources[0])
        raise InputError(f"no order_book snapshot to seed the book from in {', '.join(map(str, sources))}")
    if not grid and last_ts is not None:
        sampler.on_change(last_ts, book)
    ts, bid_px, ask_px, bid_qty, ask_qty = sampler.arrays()
    t = np.array(rp.trades, dtype=np.float64).reshape(-1, 3)
    trade_ts = np.array([x[0] for x in rp.trades], dtype=np.int64)
    side, how = _sign(rp.trades, rp.fills, ts, bid_px[:, 0], ask_px[:, 0])
    return ImportResult(ts, bid_px, ask_px, bid_qty, ask_qty, trade_ts, t[:, 1].copy(), t[:, 2].copy(), side,
                        _notes(rp, how, len(ts), interval_ms))


def _sign(trades: list[tuple[int, float, float]], fills: list[tuple], q_ts: np.ndarray, best_bid: np.ndarray,
          best_ask: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """Aggressor side per trade (+1/-1/0) and how many each rule signed."""
    f_ts = [f[0] for f in fills]
    out = np.zeros(len(trades), dtype=np.int8)
    how = {"maker": 0, "maker_size": 0, "maker_both": 0, "touch": 0, "unsigned": 0}
    for i, (ts, price, qty) in enumerate(trades):
        lo = bisect.bisect_left(f_ts, ts - MATCH_MS)
        hi = bisect.bisect_right(f_ts, ts + MATCH_MS)
        cands = [f for f in fills[lo:hi] if abs(f[1] - price) < EPS]
        if cands:
            same = [f for f in cands if not abs(f[5] - qty) > 1e-7]    # equal or unknown size
            if same:
                cands = same
                how["maker_size"] += 1
            if len({f[2] for f in cands}) > 1:
                how["maker_both"] += 1
            maker = min(cands, key=lambda f: (f[3], f[4]))
            out[i] = 1 if maker[2] == ASK else -1
            how["maker"] += 1
            continue
        j = int(np.searchsorted(q_ts, ts, side="left")) - 1
        if j >= 0 and price >= best_ask[j]:
            out[i] = 1
        elif j >= 0 and price <= best_bid[j]:
            out[i] = -1
        else:
            how["unsigned"] += 1
            continue
        how["touch"] += 1
    return out, how


def _utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _pct(a: int, b: int) -> str:
    return f"{a:,}/{b:,} ({100.0 * a / b:.1f} %)" if b else "0/0"


def _notes(rp: _Replay, how: dict[str, int], n_snaps: int, interval_ms: int) -> list[str]:
    c, s, n = rp.c, rp.sampler, len(rp.trades)
    mode = f"every {interval_ms} ms" if interval_ms else "at every book change"
    return [
        f"seeded from the first order_book message ({_utc(rp.seed_ts)} UTC); {c['pre_seed_events']:,} order events "
        "before it only registered known orders",
        f"junk prices (outside [ref/2, 2*ref], ref = mid of the latest order_book): dropped {c['junk_orders']} "
        f"orders ({c['junk_events']} events) and {c['junk_trades']} trades",
        f"orders unseen since before the seed: {c['unknown_deletes']:,} deletes, {c['unknown_changes']} changes; "
        f"{c['unknown_fills_sized']}/{c['unknown_fills']} of their fills sized by the matching trade",
        f"feed order: {c['early_events']} events before their order's create, {c['late_creates']} late creates and "
        f"{c['after_delete']} events after the order's delete ignored",
        ("re-seeded from every order_book message" if rp.reseed else "re-seeding off")
        + f" ({c['reseed_fixes']:,} level corrections, seed included); before that, the rebuilt best bid and ask "
        f"prices matched the message in {_pct(c['ob_top'], c['ob_msgs'])}, all {rp.levels} levels (prices and sizes) in "
        f"{_pct(c['ob_levels'], c['ob_msgs'])}",
        f"{n_snaps:,} snapshots {mode}; skipped {s.skipped_crossed:,} crossed and {s.skipped_empty:,} one-sided",
        f"trade side: {how['maker']:,} of {n:,} trades signed by their maker's fill ({how['maker_size']:,} with a fill of "
        f"equal or unknown size, {how['maker_both']:,} with fills on both sides), {how['touch']} by the touch rule, "
        f"{how['unsigned']} unsigned (side 0)",
    ]
