"""Binance raw websocket captures (hftbacktest's collector) -> depth snapshots and trades.

Format: text, usually gzip (detected by its magic bytes), one message per line::

    <local_receive_timestamp> <raw JSON as received>

The local timestamp is epoch ns in the 2024 captures and epoch µs in the 2023 ``.dat.gz`` ones; its unit is
detected per line by magnitude (>= 1e17 ns, >= 1e14 µs, >= 1e11 ms). SOURCES are read in the given order as
one continuous stream (e.g. ``btcusdt_20240808.gz`` then ``btcusdt_20240809.gz``); line numbers in errors are
1-based per file.

Messages and the rules applied:

* REST depth snapshot ``{"lastUpdateId":..,"bids":[[px,qty],..],"asks":[..]}`` (no stream wrapper; futures add
  ``E``/``T``, COIN-M ``symbol``/``pair``). It seeds the book: the book is cleared and loaded with its levels.
* Diff depth ``{"stream":"..@depth@100ms"|"..@depth@0ms"|"..@depth","data":{"e":"depthUpdate","E","U","u",
  "pu"?,"b","a"}}``: sizes are absolute, 0 deletes the level. Binance's sync rule is applied:

  - spot (no ``pu``): drop diffs with ``u <= lastUpdateId``; the first applied diff must have
    ``U <= lastUpdateId + 1 <= u``; every later diff must have ``U == previous u + 1``;
  - futures (``pu`` present): drop diffs with ``u < lastUpdateId``; the first applied diff must have
    ``U <= lastUpdateId <= u``; every later diff must have ``pu == previous u``.

  Diffs that arrive before the snapshot are buffered and replayed through the rule when it arrives (Binance's
  documented procedure). A sequence gap takes the book out of sync and later diffs are buffered; a later
  snapshot line re-seeds the book (cleared, reloaded, re-synced by the same rule) and the outage is reported
  in the notes. A snapshot that arrives while the book is in sync and is not newer than it
  (``lastUpdateId <= previous u``) is ignored and counted. The import is refused with an :class:`InputError`
  naming the file and line when the stream has no snapshot, when a snapshot is never bridged by a diff, and
  when a gap is never followed by a re-seeding snapshot.
* Trades ``{"e":"trade"|"aggTrade","T","p","q","m"}``: every trade, stamped with ``T`` (ms), side ``-1`` if
  ``m`` (the buyer is the maker, so a seller hit the bid) else ``+1``. Futures trades whose ``X`` is not
  ``MARKET`` (e.g. INSURANCE_FUND) are kept and counted. Trades stamped before the first synced book are dropped
  and counted.
* ``bookTicker`` and ``markPrice`` messages (and any other stream) are ignored and counted.

Timestamps: the book is stamped with the exchange event time ``E`` (ms) of the diffs, clamped to never go
backwards (counted). The book counts as synced at the first diff that bridges the snapshot, so the snapshot
grid starts at that diff's ``E`` and the REST snapshot's own (local receive) time is not used for stamping:
the collector's clock is ~1.3-1.5 s behind Binance's in the 2024 captures (see the notes), which would put the
snapshot before diffs that predate it. ``interval_ms > 0``: the book as of every grid time (multiples of the
interval since the epoch); ``interval_ms == 0``: one snapshot per distinct ``E`` at which the book changed.
Snapshots with an empty side or a crossed top are skipped and counted (:class:`SnapshotSampler`). Output
arrays are sorted by timestamp (trades: stable sort). One symbol per import.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from alpha_as.data.book import ASK, BID, L2Book, SnapshotSampler
from alpha_as.data.importers import ImportResult
from alpha_as.errors import InputError

_Pending = tuple[Path, int, int, dict]  # (path, line, local ms, diff data)


def _local_ms(value: int, path: Path, line: int) -> int:
    """The collector's receive timestamp in epoch ms, whatever its unit (ns, µs or ms, by magnitude)."""
    if value >= 10**17:
        return value // 1_000_000
    if value >= 10**14:
        return value // 1_000
    if value >= 10**11:
        return value
    raise InputError(f"local timestamp {value} is not epoch ns, µs or ms", path=path, row=line)


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


class _Replay:
    """The sync state machine: REST snapshot + diffs -> L2Book -> SnapshotSampler; trades collected."""

    def __init__(self, levels: int, interval_ms: int) -> None:
        self.book = L2Book()
        self.sampler = SnapshotSampler(levels, interval_ms)
        self.synced = False
        self.last_u = 0  # u of the last applied diff (valid while synced)
        self.seed_id: int | None = None  # lastUpdateId of a loaded snapshot awaiting its bridging diff
        self.pending: list[_Pending] = []  # diffs buffered while there is no usable snapshot
        self.gap: tuple[Path, int, str] | None = None  # unresolved sequence gap (path, line, message)
        self.first_diff: tuple[Path, int] | None = None
        self.last_snapshot: tuple[Path, int] | None = None
        self.ts = -(2**62)  # book time (ms) of the last diff
        self.dirty = False  # the book changed at self.ts and was not offered to the sampler yet
        self.sync_ts: int | None = None  # book time of the first synced book
        self.out_since: int | None = None  # book time when the book went out of sync
        self.outages: list[str] = []
        self.skew_ms: int | None = None  # local receive time minus E at the first bridging diff
        self.symbol: str | None = None
        self.n: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.trades: tuple[list[int], list[float], list[float], list[int]] = ([], [], [], [])

    # -- book time and sampling
    def _flush(self) -> None:
        if self.dirty:
            self.sampler.on_change(self.ts, self.book)
            self.dirty = False

    def _tick(self, e_ms: int) -> int:
        """Move book time to the diff's E (never backwards); emit the grid points before it."""
        if e_ms < self.ts:
            self.n["clamped"] += 1
            e_ms = self.ts
        if e_ms > self.ts:
            self._flush()
        if self.synced:
            self.sampler.advance(e_ms, self.book)
        self.ts = e_ms
        return e_ms

    def _apply(self, d: dict) -> None:
        for side, key in ((BID, "b"), (ASK, "a")):
            for px, qty in d[key]:
                self.book.set_level(side, float(px), float(qty))
        self.last_u = d["u"]
        self.dirty = True
        self.n["applied"] += 1

    # -- messages
    def check_symbol(self, data: dict, path: Path, line: int) -> None:
        sym = data.get("s")
        if sym is None or sym == self.symbol:
            return
        if self.symbol is not None:
            raise InputError(f"several symbols in one import ({self.symbol}, {sym}): import one instrument "
                             "at a time", path=path, row=line)
        self.symbol = sym

    def on_diff(self, d: dict, path: Path, line: int, local_ms: int) -> None:
        first_u, u, pu = d["U"], d["u"], d.get("pu")
        futures = pu is not None
        if self.first_diff is None:
            self.first_diff = (path, line)
        if self.synced:
            if (pu == self.last_u) if futures else (first_u == self.last_u + 1):
                self._tick(d["E"])
                self._apply(d)
                return
            want = f"pu={self.last_u}" if futures else f"U={self.last_u + 1}"
            got = f"pu={pu}" if futures else f"U={first_u}"
            self._tick(d["E"])  # grid points before this diff still have a valid book
            self._flush()
            self._lose_sync(path, line, f"depth sequence gap: expected {want} after u={self.last_u}, got {got}")
            self.pending.append((path, line, local_ms, d))
            return
        if self.seed_id is not None:
            sid = self.seed_id
            if (u < sid) if futures else (u <= sid):
                self.n["stale"] += 1
                return
            if not ((first_u <= sid <= u) if futures else (first_u <= sid + 1 <= u)):
                self.seed_id = None
                self._lose_sync(path, line, f"the first depth diff after the snapshot (lastUpdateId={sid}) does "
                                            f"not bridge it: U={first_u}, u={u} (updates are missing)")
                self.pending.append((path, line, local_ms, d))
                return
            ts = self._tick(d["E"])  # still out of sync: no grid point is emitted from the bare snapshot
            self.seed_id = None
            self.synced = True
            self._apply(d)
            self.sampler.start(ts)
            if self.sync_ts is None:
                self.sync_ts, self.skew_ms = ts, local_ms - d["E"]
            if self.out_since is not None:
                self.outages.append(f"{(ts - self.out_since) / 1000:.1f} s from {self.gap[0].name}:{self.gap[1]}"
                                    if self.gap else f"{(ts - self.out_since) / 1000:.1f} s")
                self.out_since = None
            self.gap = None
            return
        self.pending.append((path, line, local_ms, d))

    def _lose_sync(self, path: Path, line: int, message: str) -> None:
        if self.synced or self.sync_ts is not None:
            self.out_since = self.ts if self.out_since is None else self.out_since
        self.synced = False
        self.n["gaps"] += 1
        if self.gap is None:
            self.gap = (path, line, message)

    def on_snapshot(self, msg: dict, path: Path, line: int) -> None:
        sid = msg["lastUpdateId"]
        self.n["snapshots"] += 1
        self.last_snapshot = (path, line)
        if self.synced and sid <= self.last_u:
            self.n["snapshots_not_needed"] += 1
            return
        if self.synced:  # a newer snapshot re-seeds a book that is in sync: re-sync on it
            self._flush()
            self.synced = False
            self.out_since = self.ts
        self.book.clear()
        for side, key in ((BID, "bids"), (ASK, "asks")):
            for px, qty in msg[key]:
                self.book.set_level(side, float(px), float(qty))
        self.seed_id = sid
        items, self.pending = self.pending, []
        for p, ln, loc, d in items:
            self.on_diff(d, p, ln, loc)

    def on_trade(self, data: dict) -> None:
        m = data["m"]
        if not isinstance(m, bool):
            raise ValueError(f"'m' must be true or false, got {m!r}")
        ts, px, qty, side = self.trades
        ts.append(int(data["T"]))
        px.append(float(data["p"]))
        qty.append(float(data["q"]))
        side.append(-1 if m else 1)
        self.n[data["e"]] += 1
        if data.get("X", "MARKET") != "MARKET":
            self.n["not_market"] += 1

    def finish(self, sources: list[Path]) -> None:
        self._flush()
        if self.gap is not None and not self.synced:
            path, line, message = self.gap
            tail = ("the later REST snapshot is never bridged by a diff" if self.seed_id is not None
                    else "no later REST snapshot re-seeds the book")
            raise InputError(f"{message}; {tail}", path=path, row=line)
        if self.sync_ts is None:
            if self.seed_id is not None and self.last_snapshot is not None:
                raise InputError("no depth diff follows the REST depth snapshot: the book never syncs",
                                 path=self.last_snapshot[0], row=self.last_snapshot[1])
            if self.first_diff is None:
                raise InputError("no depth data: neither a REST depth snapshot nor depthUpdate messages",
                                 path=sources[0])
            raise InputError('missing REST depth snapshot: no {"lastUpdateId":..} line in the stream, so this '
                             "first depth diff and all later ones cannot be synced; pass the capture's first "
                             "file too (it opens with the snapshot)", path=self.first_diff[0], row=self.first_diff[1])
        if self.seed_id is not None:
            self.outages.append(f"{(self.ts - (self.out_since or self.ts)) / 1000:.1f} s at the end "
                                "(last snapshot never bridged)")


def _dispatch(rp: _Replay, path: Path) -> None:
    try:
        fh = _open_text(path)
    except OSError as e:
        raise InputError(f"cannot open ({e})", path=path) from e
    line_no = 0
    try:
        with fh:
            for line_no, line in enumerate(fh, 1):
                sp = line.find(" ")
                if sp <= 0:
                    if not line.strip():
                        rp.n["blank"] += 1
                        continue
                    raise InputError("expected '<timestamp> <json>'", path=path, row=line_no)
                try:
                    local_ms = _local_ms(int(line[:sp]), path, line_no)
                except ValueError as e:
                    raise InputError(f"bad local timestamp {line[:sp][:30]!r}", path=path, row=line_no) from e
                body = line[sp + 1:]
                if body.startswith('{"stream":"'):  # fast path: skip BBO/mark-price lines without parsing them
                    stream = body[11:body.find('"', 11)]
                    kind = stream.partition("@")[2]
                    if kind == "bookTicker" or kind.startswith("markPrice"):
                        rp.ignored[kind.partition("@")[0]] += 1
                        continue
                try:
                    msg = json.loads(body)
                except ValueError as e:
                    raise InputError(f"bad JSON ({e})", path=path, row=line_no) from e
                try:
                    _route(rp, msg, path, line_no, local_ms)
                except (KeyError, TypeError, ValueError, IndexError) as e:
                    raise InputError(f"malformed message ({type(e).__name__}: {e})", path=path, row=line_no) from e
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise InputError(f"unreadable or truncated file ({e})", path=path, row=line_no + 1) from e


def _route(rp: _Replay, msg: dict, path: Path, line: int, local_ms: int) -> None:
    if not isinstance(msg, dict):
        raise TypeError("a message must be a JSON object")
    data = msg.get("data", msg)
    if "lastUpdateId" in msg:
        rp.on_snapshot(msg, path, line)
        return
    kind = data.get("e") if isinstance(data, dict) else None
    if kind == "depthUpdate":
        rp.check_symbol(data, path, line)
        rp.on_diff(data, path, line, local_ms)
    elif kind in ("trade", "aggTrade"):
        rp.check_symbol(data, path, line)
        rp.on_trade(data)
    else:
        rp.ignored[kind or str(msg.get("stream", "unrecognised")).partition("@")[2] or "unrecognised"] += 1


def read(sources: list[Path], *, levels: int = 5, interval_ms: int = 1000) -> ImportResult:
    """Replay Binance captures (one continuous stream, files in time order) into snapshots and trades."""
    if not sources:
        raise InputError("no source files given")
    rp = _Replay(levels, interval_ms)
    for path in sources:
        _dispatch(rp, Path(path))
    rp.finish([Path(p) for p in sources])

    depth_ts, bid_px, ask_px, bid_qty, ask_qty = rp.sampler.arrays()
    t_ts = np.asarray(rp.trades[0], dtype=np.int64)
    keep = np.flatnonzero(t_ts >= rp.sync_ts)
    order = keep[np.argsort(t_ts[keep], kind="stable")]
    dropped = len(t_ts) - len(keep)
    n, s = rp.n, rp.sampler
    notes = [
        f"binance {rp.symbol or '?'}: {n['snapshots']} REST snapshot(s), {n['applied']:,} depth diffs applied, "
        f"{n['stale']:,} stale diffs dropped (before the snapshot's lastUpdateId)",
        f"{len(depth_ts):,} snapshots at " + (f"{interval_ms} ms" if interval_ms else "every book change")
        + f" from the first synced book ({s.skipped_empty} empty, {s.skipped_crossed} crossed skipped)",
        f"{len(keep):,} trades kept ({n['trade']:,} trade, {n['aggTrade']:,} aggTrade messages), "
        f"{dropped:,} dropped before the first synced book",
    ]
    if rp.skew_ms is not None:
        notes.append(f"book time is exchange E; the collector's clock read {rp.skew_ms:+,} ms from E at sync")
    if "_" in (rp.symbol or ""):  # BTCUSD_PERP, BTCUSD_240927: COIN-M
        notes.append(f"{rp.symbol} is a COIN-M contract: quantities are contracts, not the base asset")
    if n["trade"] and n["aggTrade"]:
        notes.append("WARNING: both trade and aggTrade streams are present, so trades are counted twice")
    if n["not_market"]:
        notes.append(f"{n['not_market']} trades are not MARKET trades (X=INSURANCE_FUND/ADL/...), kept")
    if rp.outages:
        notes.append(f"{n['gaps']} sequence gap(s); re-seeded from later snapshots, book out of sync for: "
                     + "; ".join(rp.outages))
    if n["snapshots_not_needed"]:
        notes.append(f"{n['snapshots_not_needed']} REST snapshot(s) ignored: not newer than the synced book")
    if n["clamped"]:
        notes.append(f"{n['clamped']} diffs had E earlier than the previous diff; stamped with the previous E")
    if rp.ignored:
        notes.append("ignored messages: " + ", ".join(f"{k} {v:,}" for k, v in sorted(rp.ignored.items())))
    if n["blank"]:
        notes.append(f"{n['blank']} blank lines skipped")
    return ImportResult(
        depth_ts=depth_ts, bid_px=bid_px, ask_px=ask_px, bid_qty=bid_qty, ask_qty=ask_qty,
        trade_ts=t_ts[order],
        trade_px=np.asarray(rp.trades[1], dtype=np.float64)[order],
        trade_qty=np.asarray(rp.trades[2], dtype=np.float64)[order],
        trade_side=np.asarray(rp.trades[3], dtype=np.int8)[order],
        notes=notes,
    )
