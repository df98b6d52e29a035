"""A plain-Python reference of the replay engine under the paper fill model (the golden test of issue #3).

Written from the rules (spec §2 and §3, the engine's documented semantics), not from the compiled kernel:
plain floats, lists and a heap, one small function per rule, no numba and no numpy past reading the day.
It is slow, and meant for days of a few minutes.

The rules, for the default :class:`EngineConfig` (latency 65 ms, no fees, "paper" lot matching, 5 s grid,
tick 0.01, unwind prices bounded to mid ± 10σ of the last 25 mids):

1. Events are merged by timestamp. At equal times: our requests reaching the exchange (in the order they
   were sent), then trades (file order), then the depth snapshot, then the grid record. Grid times are
   the multiples of the grid step strictly after the day's first event, up to the last event.
2. The strategy runs at each snapshot, after that snapshot's fills and estimator updates. A request
   (new/modify = replace, qty 0 = cancel) is sent for a side only when the desired (price, qty) differs
   from what the strategy last requested there; a desired qty 0 cancels a working request. Requests reach
   the exchange ``latency`` later and replace the side's live order. One that is marketable on arrival
   fills at once against the current snapshot, level by level at the level prices (taker).
3. A trade whose aggressor is a buyer fills our ask if ask <= price, a seller our bid if bid >= price, for
   min(remaining, trade quantity) at our limit price (maker). The aggressor is the data's side, else it is
   inferred against the mid of the book including our live orders (a trade at that mid fills nothing).
4. A snapshot whose levels strictly cross a resting order fills it level by level at the level prices.
5. After a fill on a side: what is left of it gets a cancel request, and the strategy's last request there
   is forgotten so that the next evaluation requotes the side.
6. Accounting: cash, position, realized P&L by lot matching (closing a long removes the highest buys
   first, closing a short the lowest sells first; the excess of a fill opens the other side), unrealized
   = (unwind price − average open price) × position, the unwind price being the average price of
   |position| walked into the current snapshot (bid side if long), the rest beyond the visible depth at
   the deepest visible price, bounded to mid ± 10σ once 25 mids exist (σ as of the last snapshot with
   a mid; the mid of the current one). No unwind price (flat, no book, that side empty): unrealized 0.
7. Estimators and strategies: the mid of every snapshot with both sides, and per clock minute the
   number of snapshots whose bid (ask) side differs from the previous snapshot's in any stored price or
   size (the first snapshot counts as a change); a snapshot with an empty side cancels both quotes.
   The fixed quoter and Avellaneda-Stoikov follow their modules' docstrings (see the classes below).

Prices are compared on the tick grid: two prices closer than ``PX_EPS`` are the same price (a quote such
as ``bid0 - 20 * 0.01`` is not an exact decimal, and neither is a trade price read from a file).
"""

from __future__ import annotations

import heapq
import math
import statistics
from dataclasses import dataclass, field

from alpha_as.data.store import MarketDay
from alpha_as.engine.config import EngineConfig
from alpha_as.strategies.avellaneda_stoikov import ASParams
from alpha_as.strategies.fixed_quoter import FixedQuoterParams

PX_EPS = 1e-9      # prices closer than this are the same price
QTY_EPS = 1e-12    # quantities below this are nothing
NS_PER_MINUTE = 60_000_000_000
NS_PER_HOUR = 60 * NS_PER_MINUTE
NS_PER_DAY = 24 * NS_PER_HOUR

REQUEST, TRADE, SNAPSHOT, GRID = 0, 1, 2, 3  # event kinds, in their order at equal timestamps
BID, ASK = 0, 1                              # our two sides: the bid buys, the ask sells


# ------------------------------------------------------------------------------------------- records

@dataclass
class Fill:
    t: int
    side: int             # +1 we bought, -1 we sold
    price: float
    quantity: float
    position: float
    realized: float
    unrealized: float
    total: float
    cash: float
    taker: bool
    limit: float          # our order's limit price
    mark: float           # the unwind price (NaN when flat or without a book)
    mark_bounded: bool    # the ±kσ bound moved the unwind price
    cause: str            # "trade", "cross" (a snapshot crossed us) or "arrival" (marketable request)


@dataclass
class GridRow:
    t: int
    position: float
    cash: float
    realized: float
    unrealized: float
    total: float
    mid: float
    bid_quote: float      # what the strategy last requested (NaN when nothing)
    ask_quote: float
    n_fills: int


@dataclass
class ReferenceResult:
    fills: list[Fill]
    grid: list[GridRow]


# ------------------------------------------------------------------------------------------- market

@dataclass
class Snapshot:
    t: int
    bids: list[tuple[float, float]]   # visible (price, size) levels, best first, up to the first empty one
    asks: list[tuple[float, float]]
    signature: tuple                  # every stored price and size per side, to tell whether a side changed

    @property
    def mid(self) -> float | None:
        if not (self.bids and self.asks):
            return None
        return 0.5 * (self.bids[0][0] + self.asks[0][0])


def _levels(prices: list[float], sizes: list[float]) -> list[tuple[float, float]]:
    out = []
    for p, q in zip(prices, sizes, strict=True):
        if math.isnan(p):
            break
        out.append((p, q))
    return out


def _signature(prices: list[float], sizes: list[float]) -> tuple:
    return tuple(None if math.isnan(x) else x for x in prices + sizes)


def read_snapshots(day: MarketDay) -> list[Snapshot]:
    rows = zip(day.depth_ts.tolist(), day.bid_px.tolist(), day.bid_qty.tolist(), day.ask_px.tolist(),
               day.ask_qty.tolist(), strict=True)
    return [Snapshot(t, _levels(bp, bq), _levels(ap, aq), (_signature(bp, bq), _signature(ap, aq)))
            for t, bp, bq, ap, aq in rows]


def read_trades(day: MarketDay) -> list[tuple[int, float, float, int]]:
    return list(zip(day.trade_ts.tolist(), day.trade_px.tolist(), day.trade_qty.tolist(),
                    day.trade_side.tolist(), strict=True))


# ------------------------------------------------------------------------------------------- accounting

@dataclass
class Account:
    cash: float = 0.0
    position: float = 0.0
    realized: float = 0.0
    lots: list[list[float]] = field(default_factory=list)   # open [price, qty], all on the position's side

    def book(self, sign: int, price: float, qty: float, fee: float) -> None:
        """A fill of ``qty`` at ``price`` (sign +1 buy, -1 sell): cash, lot matching, position."""
        self.cash -= sign * price * qty + fee
        left = qty
        if self.position * sign < 0:
            left = self._close(price, qty, closing_long=self.position > 0)
        if left > QTY_EPS:
            self.lots.append([price, left])
        self.position += sign * qty
        if abs(self.position) < QTY_EPS:
            self.position = 0.0
            self.lots.clear()
        self.realized -= fee

    def _close(self, price: float, qty: float, closing_long: bool) -> float:
        """Match ``qty`` against the open lots (highest buys / lowest sells first); return what is left."""
        left = qty
        while left > QTY_EPS and self.lots:
            pick = max if closing_long else min
            lot = pick(self.lots, key=lambda lt: lt[0])
            m = min(left, lot[1])
            self.realized += (price - lot[0]) * m if closing_long else (lot[0] - price) * m
            lot[1] -= m
            left -= m
            if lot[1] <= QTY_EPS:
                self.lots.remove(lot)
        return left

    def average_open_price(self) -> float:
        return sum(p * q for p, q in self.lots) / sum(q for _, q in self.lots)


def unwind_price(snap: Snapshot | None, position: float, sigma: float | None, bound_k: float) -> float | None:
    """Average price of walking |position| into the snapshot (bids if long), bounded to mid ± kσ."""
    if snap is None or position == 0.0:
        return None
    levels = snap.bids if position > 0 else snap.asks
    if not levels:
        return None
    need = abs(position)
    got = cost = 0.0
    deepest = levels[0][0]
    for price, size in levels:
        take = min(need - got, size)
        cost += price * take
        got += take
        deepest = price
        if got >= need - QTY_EPS:
            break
    if got < need:  # beyond the visible depth: the rest at the deepest price seen
        cost += deepest * (need - got)
    mark = cost / need
    mid = snap.mid
    if bound_k > 0 and sigma is not None and mid is not None:
        mark = min(max(mark, mid - bound_k * sigma), mid + bound_k * sigma)
    return mark


# ------------------------------------------------------------------------------------------- strategies

class FixedQuoter:
    """Best bid − offset ticks / best ask + offset ticks, new prices at most every ``interval_s``."""

    def __init__(self, p: FixedQuoterParams, tick: float) -> None:
        self.p, self.tick = p, tick
        self.last_update: int | None = None
        self.prices = (math.nan, math.nan)

    def quotes(self, ref: ReferenceEngine, t: int, bid0: float, ask0: float):
        if self.last_update is None or t - self.last_update >= self.p.interval_s * 1e9:
            offset = self.p.offset_ticks * self.tick
            self.prices = (bid0 - offset, ask0 + offset)
            self.last_update = t
        q = self.p.quantity
        return (self.prices[0], q), (self.prices[1], q)


def round_half_up(x: float, tick: float) -> float:
    return math.floor(x / tick + 0.5) * tick


class AvellanedaStoikov:
    """The AS quotes of spec §3 (authors' skew, linear T − t, half-tick prices kept)."""

    def __init__(self, p: ASParams, tick: float) -> None:
        if p.skew_mode != "authors" or p.tt_mode != "linear" or p.half_tick != "keep":
            raise NotImplementedError("the reference supports skew_mode 'authors', tt_mode 'linear', half_tick 'keep'")
        self.p, self.tick = p, tick

    def k(self, ref: ReferenceEngine, side: int) -> float | None:
        if self.p.k_default != -1:
            return self.p.k_default
        return ref.aldridge_k(side, self.p.minutes_change_k)

    def quotes(self, ref: ReferenceEngine, t: int, bid0: float, ask0: float):
        p, tick = self.p, self.tick
        tod = t % NS_PER_DAY
        start, end = p.first_hour * NS_PER_HOUR, p.last_hour * NS_PER_HOUR
        if not start <= tod < end:
            return (0.0, 0.0), (0.0, 0.0)           # outside the trading hours: cancel both sides
        if len(ref.mids) < p.window_tick:
            return None                             # warm-up: leave the orders
        var = statistics.variance(ref.mids[-p.window_tick:])
        tt = min(max((end - tod) / (end - start), 0.0), 1.0)
        mid = 0.5 * (bid0 + ask0)
        gamma = p.risk_aversion
        q = (ref.account.position - p.target_position) * p.position_multiplier
        r = mid - q * gamma * var * tt
        k_bid, k_ask = self.k(ref, BID), self.k(ref, ASK)
        if k_bid is None or k_ask is None or 1 + gamma / k_bid <= 0 or 1 + gamma / k_ask <= 0:
            return None                             # k unknown or unusable: leave the orders
        half = 0.5 * gamma * var * tt
        d_bid = (half + math.log(1 + gamma / k_bid) / gamma) * p.spread_multiplier
        d_ask = (half + math.log(1 + gamma / k_ask) / gamma) * p.spread_multiplier
        ask = max(round_half_up((r + d_ask) * (1 + p.skew), tick), mid + tick)
        bid = min(round_half_up((r - d_bid) * (1 + p.skew), tick), mid - tick)
        if not (math.isfinite(bid) and math.isfinite(ask)) or bid <= 0:
            return None
        return (bid, p.quantity), (ask, p.quantity)


def make_strategy(params, tick: float):
    if isinstance(params, ASParams):
        return AvellanedaStoikov(params, tick)
    if isinstance(params, FixedQuoterParams):
        return FixedQuoter(params, tick)
    raise TypeError(f"the reference has no strategy {type(params).__name__}")


# ------------------------------------------------------------------------------------------- the replay

@dataclass
class Order:
    price: float
    qty: float   # remaining


class ReferenceEngine:
    def __init__(self, day: MarketDay, params, config: EngineConfig | None = None) -> None:
        cfg = config or EngineConfig()
        if cfg.fill_model != "paper" or cfg.lot_matching != "paper":
            raise NotImplementedError("the reference implements the paper fill model and lot matching only")
        self.cfg = cfg
        self.latency = round(cfg.latency_ms * 1_000_000)
        self.grid_ns = round(cfg.grid_seconds * 1e9)
        self.snapshots = read_snapshots(day)
        self.trades = read_trades(day)
        self.has_side = bool(day.has_side)
        self.strategy = make_strategy(params, cfg.tick)
        self.book: Snapshot | None = None
        self.prev_snapshot: Snapshot | None = None
        self.live: list[Order | None] = [None, None]                   # our orders at the exchange
        self.requested: list[tuple[float, float] | None] = [None, None]  # the strategy's last request
        self.account = Account()
        self.mids: list[float] = []
        self.sigma: float | None = None
        self.minute: int | None = None
        self.changes = [0, 0]                        # book changes (bid side, ask side) this minute
        self.completed: list[tuple[int, int]] = []   # ... of each completed minute, oldest first
        self.fills: list[Fill] = []
        self.grid: list[GridRow] = []
        self.events: list[tuple] = []
        self.sent = 0

    # ---- the event loop (rule 1)

    def run(self) -> ReferenceResult:
        for i, (t, *_rest) in enumerate(self.trades):
            heapq.heappush(self.events, (t, TRADE, i))
        for i, snap in enumerate(self.snapshots):
            heapq.heappush(self.events, (snap.t, SNAPSHOT, i))
        for t in self.grid_times():
            heapq.heappush(self.events, (t, GRID, 0))
        while self.events:
            t, kind, i, *payload = heapq.heappop(self.events)
            if kind == REQUEST:
                self.on_request(t, *payload)
            elif kind == TRADE:
                self.on_trade(t, *self.trades[i][1:])
            elif kind == SNAPSHOT:
                self.on_snapshot(t, self.snapshots[i])
            else:
                self.on_grid(t)
        return ReferenceResult(self.fills, self.grid)

    def grid_times(self) -> list[int]:
        times = [s.t for s in self.snapshots[:1] + self.snapshots[-1:]] + [tr[0] for tr in self.trades[:1] + self.trades[-1:]]
        first, last = min(times), max(times)
        t = (first // self.grid_ns + 1) * self.grid_ns
        out = []
        while t <= last:
            out.append(t)
            t += self.grid_ns
        return out

    # ---- orders (rules 2 and 5)

    def send(self, side: int, price: float, qty: float, t: int) -> None:
        """A request (qty 0 = cancel) that reaches the exchange after the latency, after those sent before it."""
        self.sent += 1
        heapq.heappush(self.events, (t + self.latency, REQUEST, self.sent, side, price, qty))

    def want(self, side: int, price: float, qty: float, t: int) -> None:
        """The strategy wants (price, qty) on ``side``: a request only when that differs from the last one."""
        if qty <= 0:
            if self.requested[side] is not None:
                self.send(side, 0.0, 0.0, t)
                self.requested[side] = None
            return
        if self.requested[side] != (price, qty):
            self.send(side, price, qty, t)
            self.requested[side] = (price, qty)

    def on_request(self, t: int, side: int, price: float, qty: float) -> None:
        if qty <= 0:
            self.live[side] = None
            return
        self.live[side] = Order(price, qty)
        self.fill_if_marketable(t, side)

    def fill_if_marketable(self, t: int, side: int) -> None:
        """A new order that reaches the other side of the book trades with its levels at once (taker)."""
        if self.book is None:
            return
        order = self.live[side]
        for level_px, level_qty in (self.book.asks if side == BID else self.book.bids):
            reaches = level_px <= order.price + PX_EPS if side == BID else level_px >= order.price - PX_EPS
            if not reaches or self.live[side] is None:
                break
            self.fill(t, side, level_px, level_qty, taker=True, cause="arrival")

    def after_fill(self, t: int, side: int) -> None:
        order = self.live[side]
        if order.qty > QTY_EPS:
            self.send(side, 0.0, 0.0, t)   # the rest stays live until the cancel arrives
        else:
            self.live[side] = None
        self.requested[side] = None

    # ---- fills and accounting (rule 6)

    def fill(self, t: int, side: int, price: float, qty: float, *, taker: bool, cause: str) -> None:
        order = self.live[side]
        qty = min(qty, order.qty)
        if qty <= QTY_EPS:
            return
        order.qty -= qty
        sign = 1 if side == BID else -1
        fee = (self.cfg.taker_fee if taker else self.cfg.maker_fee) * price * qty
        self.account.book(sign, price, qty, fee)
        mark, unreal = self.mark_and_unrealized()
        a = self.account
        raw = unwind_price(self.book, a.position, None, 0.0) if a.position else None
        bounded = raw is not None and raw != mark
        self.fills.append(Fill(t, sign, price, qty, a.position, a.realized, unreal, a.realized + unreal,
                               a.cash, taker, order.price, mark, bounded, cause))
        self.after_fill(t, side)

    def mark_and_unrealized(self) -> tuple[float, float]:
        a = self.account
        if a.position == 0.0:
            return math.nan, 0.0
        mark = unwind_price(self.book, a.position, self.sigma, self.cfg.mark_sigma_bound)
        if mark is None:
            return math.nan, 0.0
        return mark, (mark - a.average_open_price()) * a.position

    # ---- trades (rule 3)

    def on_trade(self, t: int, price: float, qty: float, side: int) -> None:
        aggressor = side if self.has_side and side != 0 else self.infer_aggressor(price)
        if aggressor == 0:
            return
        ours = ASK if aggressor > 0 else BID
        order = self.live[ours]
        if order is None:
            return
        reached = order.price <= price + PX_EPS if ours == ASK else order.price >= price - PX_EPS
        if reached:
            self.fill(t, ours, order.price, qty, taker=False, cause="trade")

    def infer_aggressor(self, price: float) -> int:
        """+1 above the mid of the book including our live orders, -1 below, 0 at it (or with no book)."""
        bids = [self.book.bids[0][0]] if self.book and self.book.bids else []
        asks = [self.book.asks[0][0]] if self.book and self.book.asks else []
        if self.live[BID] is not None:
            bids.append(self.live[BID].price)
        if self.live[ASK] is not None:
            asks.append(self.live[ASK].price)
        if not (bids and asks):
            return 0
        mid = 0.5 * (max(bids) + min(asks))
        return 1 if price > mid else -1 if price < mid else 0

    # ---- snapshots (rules 2, 4 and the estimators)

    def on_snapshot(self, t: int, snap: Snapshot) -> None:
        self.book = snap
        self.fill_crossed(t)
        self.count_book_changes(snap)
        self.prev_snapshot = snap
        if snap.mid is None:   # an empty side: stop quoting
            self.want(BID, 0.0, 0.0, t)
            self.want(ASK, 0.0, 0.0, t)
            return
        self.mids.append(snap.mid)
        window = self.cfg.mark_window
        if len(self.mids) >= window:
            self.sigma = math.sqrt(statistics.variance(self.mids[-window:]))
        quotes = self.strategy.quotes(self, t, snap.bids[0][0], snap.asks[0][0])
        if quotes is not None:
            (bid_px, bid_qty), (ask_px, ask_qty) = quotes
            self.want(BID, bid_px, bid_qty, t)
            self.want(ASK, ask_px, ask_qty, t)

    def fill_crossed(self, t: int) -> None:
        """Levels of the new snapshot strictly through a resting order fill it at their prices."""
        for side, levels in ((BID, self.book.asks), (ASK, self.book.bids)):
            for level_px, level_qty in levels:
                order = self.live[side]
                if order is None:
                    break
                crossed = level_px < order.price - PX_EPS if side == BID else level_px > order.price + PX_EPS
                if not crossed:
                    break
                self.fill(t, side, level_px, level_qty, taker=False, cause="cross")

    def count_book_changes(self, snap: Snapshot) -> None:
        minute = snap.t // NS_PER_MINUTE
        if self.minute is None:
            self.minute = minute
        elif minute > self.minute:
            self.completed.append((self.changes[0], self.changes[1]))
            self.completed += [(0, 0)] * (minute - self.minute - 1)   # minutes without any snapshot
            self.changes = [0, 0]
            self.minute = minute
        prev = self.prev_snapshot
        for side in (BID, ASK):
            if prev is None or snap.signature[side] != prev.signature[side]:
                self.changes[side] += 1

    def aldridge_k(self, side: int, m: int) -> float | None:
        """k = λ_last λ_prev / (λ_last − λ_prev), from the last completed minute and m minutes before."""
        if len(self.completed) < m + 1:
            return None
        last, prev = self.completed[-1][side], self.completed[-1 - m][side]
        if prev == 0 or last == prev or last == 0:
            return None
        return last * prev / (last - prev)

    # ---- the grid

    def on_grid(self, t: int) -> None:
        a = self.account
        _, unreal = self.mark_and_unrealized()
        mid = self.book.mid if self.book is not None else None
        quote = [r[0] if r is not None else math.nan for r in self.requested]
        self.grid.append(GridRow(t, a.position, a.cash, a.realized, unreal, a.realized + unreal,
                                 math.nan if mid is None else mid, quote[BID], quote[ASK], len(self.fills)))


def run_reference(day: MarketDay, params, config: EngineConfig | None = None) -> ReferenceResult:
    return ReferenceEngine(day, params, config).run()
