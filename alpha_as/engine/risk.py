"""A risk module for every strategy and agent (issue #15, spec §6): checks between the strategy's order requests and
the venue, and per-event checks in both replay loops.

With ``EngineConfig(risk=RiskConfig(...))`` (a top-level ``[risk]`` table in a runs or protocol file, ``--risk`` on
``alpha-as run``) each request the strategy sends goes through :func:`risk_quote`, which accepts it or denies it with a
reason (counted; a denied request is not sent and the strategy's working order is left as it was, so it asks again
at its next quote). Checks, in this order (nautilus_trader's RiskEngine, Hummingbot's kill switch, spec §6):

* **stale or missing mid** — after ``mid_none_limit`` consecutive snapshots without a two-sided book, or when no
  snapshot came for ``stale_after_s`` (checked at every event, the 5-s grid included), quoting pauses and every
  working order is cancelled (fail closed); new orders are denied (``stale``) until the next two-sided snapshot;
* **trading state** (the documented slot ``state.TRADING_STATE``) — ACTIVE; REDUCING: only an order on the side
  opposite the position and no larger than it (``reducing``); HALTED: every new order is denied (``halted``);
  cancels pass in every state;
* **kill switch** — at each snapshot, P&L since the start marked at the mid (cash + position × mid: fees and the
  gas settled so far included) ≤ −``kill_loss``, ≤ −``kill_loss_pct`` % of ``max_notional``, or ≥ ``profit_take``:
  HALTED, every order cancelled, and with ``flatten`` up to ``flat_retries`` marketable orders for the position
  (see :func:`_flatten_step`) ``flat_retry_backoff_s`` apart; the time, cause and P&L of the kill are recorded;
* **min spread** — each quote at least ``min_spread_bps``/2 from the mid: moved out to the nearest tick that
  satisfies it (``min_spread_action = "move"``, counted) or denied (``"deny"``: ``min_spread``);
* **price deviation** — an order further than ``max_price_deviation_bps`` from the mid is denied
  (``price_deviation``); a working order that strays more than ``order_price_deviation_bps`` is cancelled at the
  snapshot that shows it;
* **notional and inventory** — price × quantity ≤ ``max_notional_per_order`` (``order_notional``); on the order's
  side, |position + open same-side quantity + the order| × mid ≤ ``max_notional`` (``notional``) and
  ≤ ``max_inventory`` in base units (``inventory``), where *open* counts what is live at the venue *and* what is in
  flight (a replacement supersedes a live order only when it arrives, so both may fill): with only the strategy's
  requests checked this way, |position| never exceeds ``max_inventory`` whatever the latency (a property test);
* **cooldown and rate limits** — a cancel or a replacement of a working order less than ``cancel_cooldown_s`` after
  the last one on its side is denied (``cooldown``); then at most ``max_submits`` new orders and replacements
  (``submit_rate``) and ``max_cancels`` cancels (``cancel_rate``) per ``submit_window_s``: a ring of the last N
  accepted times, as nautilus' throttler (the 101st at one instant with 100 per window is denied);
* **order TTL** — a working order older than ``order_ttl_s`` is cancelled (checked at every event).

The risk module's own cancels and flatten orders, and the engine's (the cancel after a fill, the cancel on an empty
book side), are not checked. Counters (per reason and per action) and the kill are in ``metrics.json`` under
``risk`` (:func:`summary`), only when a risk config is set. With no risk config the loops take one branch on
``si[RK_ON]`` per strategy evaluation, snapshot and event, and every result is bit-identical to the engine without
this module (a test); a RiskConfig with every check off also gives identical fills and grid.

The settings and state live in slots of ``si`` and ``sf`` after ``NSI``/``NSF`` (:func:`set_state` extends the
arrays): the compiled functions take the state's arrays, not the State (numba takes a reference on every array
of a tuple a function receives). :func:`risk_quote` and :func:`risk_snapshot` are inlined into the paper loop
(the general loop calls :func:`risk_quote_call`), and their rare actions are calls. :func:`risk_tick` is called only
from the next stale, TTL or flatten deadline (``si[K_NEXT_TICK]``). The small checks are inlined into these. With
risk off, the loops stay as they were.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from alpha_as.configs import from_dict
from alpha_as.engine.orders import send
from alpha_as.engine.state import (
    BOOK,
    CASH,
    NSF,
    NSI,
    O_QTY,
    O_WORK_PX,
    O_WORK_QTY,
    POSITION,
    R_QTY,
    REQ_CAP,
    REQ_HEAD,
    REQ_N,
    RK_ON,
    TRADING_STATE,
    State,
)
from alpha_as.errors import InputError

ACTIVE, REDUCING, HALTED = 0, 1, 2
TRADING_STATES = ("active", "reducing", "halted")
SPREAD_ACTIONS = ("move", "deny")

# denial reasons (0 = accepted)
R_STALE, R_HALTED, R_REDUCING, R_MIN_SPREAD, R_PRICE_DEV = 1, 2, 3, 4, 5
R_ORDER_NOTIONAL, R_NOTIONAL, R_INVENTORY, R_COOLDOWN, R_SUBMIT_RATE, R_CANCEL_RATE = 6, 7, 8, 9, 10, 11
REASONS = ("stale", "halted", "reducing", "min_spread", "price_deviation", "order_notional", "notional", "inventory",
           "cooldown", "submit_rate", "cancel_rate")
"""Names of the denial reasons 1.. (``metrics.json`` ``risk.denied``)."""
KILL_CAUSES = ("", "kill_loss", "kill_loss_pct", "profit_take")

# ---- int slots (si[NSI + ...]): settings
K_MID_NONE = NSI + 0     # mid_none_limit (0 off)
K_STALE_NS = NSI + 1     # stale_after_s in ns (0 off)
K_FLATTEN = NSI + 2      # 1: flatten after a kill
K_FLAT_RETRIES = NSI + 3
K_FLAT_BACKOFF = NSI + 4  # ns
K_MOVE = NSI + 5         # 1: move a quote out to the min spread; 0: deny it
K_MAX_SUB = NSI + 6      # max_submits (0 off)
K_MAX_CAN = NSI + 7      # max_cancels (0 off)
K_WINDOW = NSI + 8       # submit_window_s in ns
K_COOLDOWN = NSI + 9     # cancel_cooldown_s in ns (0 off)
K_TTL = NSI + 10         # order_ttl_s in ns (0 off)
K_SLOTS = NSI + 11       # number of order slots (2 · levels)
# ... state
K_NONE_RUN = NSI + 12    # consecutive snapshots without a two-sided book
K_LAST_SNAP = NSI + 13   # time of the last snapshot (0: none yet)
K_PAUSED = NSI + 14      # 1: quoting paused (stale or missing mid)
K_KILL_T = NSI + 15      # time of the kill (0: none)
K_KILL_CAUSE = NSI + 16  # index in KILL_CAUSES
K_FLAT_LEFT = NSI + 17   # flatten orders still allowed
K_FLAT_NEXT = NSI + 18   # time from which the next flatten step may act
K_FLAT_SIDE = NSI + 19   # side of the working flatten order (-1: none); its level-0 slot belongs to the risk module
K_SUB_HEAD = NSI + 20    # rings of accepted submit / cancel times: head, count
K_SUB_N = NSI + 21
K_CAN_HEAD = NSI + 22
K_CAN_N = NSI + 23
K_LAST_CANCEL = NSI + 24  # +side: time of the last cancel or replacement checked by the cooldown
# ... counters
K_DENY = NSI + 26        # + reason (1..11): denials
A_CANCEL_STALE = NSI + 38  # actions: cancels sent by the stale / missing-mid pause
A_CANCEL_KILL = NSI + 39   # ... by the kill switch
A_CANCEL_TTL = NSI + 40    # ... by the order TTL
A_CANCEL_DEV = NSI + 41    # ... for a resting order that strayed from the mid
A_CANCEL_FLAT = NSI + 42   # ... of a flatten order's rest after its backoff
A_FLAT = NSI + 43          # flatten orders sent
A_MOVED = NSI + 44         # quotes moved out to the min spread
A_PAUSES = NSI + 45        # pauses (stale or missing mid)
K_NEXT_TICK = NSI + 46     # the loops call risk_tick only from this time on (the next stale / TTL / flatten deadline)
K_FIXED = NSI + 48
"""Then: the placement time of each order slot (K_FIXED + slot), then the submit ring, then the cancel ring."""

# ---- float slots (sf[NSF + ...])
F_KILL_LOSS = NSF + 0    # > 0: the loss that kills (quote currency); 0 off
F_KILL_PCT = NSF + 1     # > 0: kill_loss_pct / 100 · max_notional
F_PROFIT = NSF + 2       # > 0: the profit that stops
F_MIN_HALF = NSF + 3     # min_spread_bps / 2 as a fraction of the mid
F_MAX_DEV = NSF + 4      # max_price_deviation_bps as a fraction
F_ORDER_DEV = NSF + 5    # order_price_deviation_bps as a fraction
F_MAX_ORDER = NSF + 6    # max_notional_per_order (0 off)
F_MAX_NOTIONAL = NSF + 7
F_MAX_INV = NSF + 8
F_MID = NSF + 9          # mid of the last two-sided snapshot (NaN before)
F_KILL_PNL = NSF + 10    # P&L marked at the mid when the kill fired
N_RISK_F = 12

INF_T = np.iinfo(np.int64).max
EPS_Q = 1e-12
EPS_P = 1e-9
REL = 1e-12  # a cap compares with this relative tolerance: exactly at the cap passes


@dataclass(frozen=True)
class RiskConfig:
    """The ``[risk]`` table (spec §6). Every check is off by default; a number of 0 (or None for the caps and
    kill levels) turns its check off."""

    mid_none_limit: int = 0
    """Consecutive snapshots without a two-sided book before quoting pauses and every order is cancelled (0 off)."""
    stale_after_s: float = 0.0
    """Seconds without a snapshot before quoting pauses and every order is cancelled (0 off)."""
    trading_state: str = "active"
    """The trading state at the start: "active", "reducing" (only orders that reduce |position|) or "halted"."""
    kill_loss: float | None = None
    """Kill when the P&L marked at the mid falls to −kill_loss (quote currency, > 0; None off)."""
    kill_loss_pct: float | None = None
    """Kill when the P&L falls by this percentage of ``max_notional`` (needs it; None off)."""
    profit_take: float | None = None
    """Stop (as a kill) when the P&L reaches this profit (quote currency, > 0; None off)."""
    flatten: bool = False
    """After a kill, close the position with marketable orders."""
    flat_retries: int = 2
    """Flatten orders allowed (attempts), each for what is left of the position."""
    flat_retry_backoff_s: float = 0.5
    """Seconds a flatten order may rest before its rest is cancelled and the next attempt sent."""
    min_spread_bps: float = 0.0
    """Each quote at least min_spread_bps / 2 from the mid (0 off)."""
    min_spread_action: str = "move"
    """A quote inside the min spread is moved out to it ("move") or denied ("deny")."""
    max_price_deviation_bps: float = 0.0
    """Deny an order further than this from the mid (0 off)."""
    order_price_deviation_bps: float = 0.0
    """Cancel a working order that strays further than this from the mid (0 off)."""
    max_notional_per_order: float | None = None
    """Largest price × quantity of one order (quote currency; None off)."""
    max_notional: float | None = None
    """Largest |position + open same-side quantity + the order| × mid (quote currency; None off)."""
    max_inventory: float | None = None
    """Largest |position + open same-side quantity + the order| (base currency; None off)."""
    max_submits: int = 0
    """New orders and replacements accepted per ``submit_window_s`` (0 off)."""
    max_cancels: int = 0
    """Cancels accepted per ``submit_window_s`` (0 off)."""
    submit_window_s: float = 1.0
    """The rate limits' sliding window (seconds)."""
    cancel_cooldown_s: float = 0.0
    """Least time between two cancels (or replacements) of the same side (seconds; 0 off)."""
    order_ttl_s: float = 0.0
    """Cancel a working order older than this (seconds; 0 off)."""

    def __post_init__(self) -> None:
        if self.trading_state not in TRADING_STATES:
            raise InputError(f"risk: trading_state must be one of {TRADING_STATES}, got {self.trading_state!r}")
        if self.min_spread_action not in SPREAD_ACTIONS:
            raise InputError(f"risk: min_spread_action must be one of {SPREAD_ACTIONS}, got {self.min_spread_action!r}")
        day = 86_400.0
        for key in ("stale_after_s", "flat_retry_backoff_s", "cancel_cooldown_s", "order_ttl_s"):
            v = getattr(self, key)
            if not 0 <= v <= day:
                raise InputError(f"risk: {key} must be finite and in [0, {day:.0f}] seconds, got {v!r}")
        if not 0 < self.submit_window_s <= day:
            raise InputError(f"risk: submit_window_s must be finite and in (0, {day:.0f}], got {self.submit_window_s!r}")
        for key in ("min_spread_bps", "max_price_deviation_bps", "order_price_deviation_bps"):
            v = getattr(self, key)
            if not 0 <= v < 10_000:
                raise InputError(f"risk: {key} must be finite and in [0, 10000), got {v!r}")
        for key in ("kill_loss", "profit_take", "max_notional_per_order", "max_notional", "max_inventory"):
            v = getattr(self, key)
            if v is not None and not 0 < v < math.inf:
                raise InputError(f"risk: {key} must be a finite number > 0 (omit it to turn the check off), got {v!r}")
        if self.kill_loss_pct is not None:
            if not 0 < self.kill_loss_pct <= 100:
                raise InputError(f"risk: kill_loss_pct must be in (0, 100], got {self.kill_loss_pct!r}")
            if self.max_notional is None:
                raise InputError("risk: kill_loss_pct is a percentage of max_notional: set max_notional too")
        for key, hi in (("mid_none_limit", 1_000_000), ("max_submits", 100_000), ("max_cancels", 100_000),
                        ("flat_retries", 1000)):
            v = getattr(self, key)
            if not 0 <= v <= hi:
                raise InputError(f"risk: {key} must be an integer in 0..{hi}, got {v!r}")

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "[risk]") -> RiskConfig:
        return from_dict(cls, d, source=source)

    def to_dict(self) -> dict:
        return asdict(self)


def set_state(state: State, risk: RiskConfig | None, levels: int = 1) -> State:
    """The state with the risk module's slots (settings, state, counters, rings) appended to ``si`` and ``sf`` and
    ``RK_ON`` set; ``risk`` None returns ``state`` unchanged (the engine without a risk module)."""
    if risk is None:
        return state
    slots = 2 * max(int(levels), 1)
    n_sub, n_can = max(risk.max_submits, 1), max(risk.max_cancels, 1)
    si = np.concatenate([state.si, np.zeros(K_FIXED - NSI + slots + n_sub + n_can, dtype=np.int64)])
    sf = np.concatenate([state.sf, np.zeros(N_RISK_F)])
    ns = 1e9
    si[RK_ON] = 1
    si[TRADING_STATE] = TRADING_STATES.index(risk.trading_state)
    si[K_MID_NONE] = risk.mid_none_limit
    si[K_STALE_NS] = int(round(risk.stale_after_s * ns))
    si[K_FLATTEN] = int(risk.flatten)
    si[K_FLAT_RETRIES] = risk.flat_retries
    si[K_FLAT_BACKOFF] = int(round(risk.flat_retry_backoff_s * ns))
    si[K_MOVE] = int(risk.min_spread_action == "move")
    si[K_MAX_SUB] = risk.max_submits
    si[K_MAX_CAN] = risk.max_cancels
    si[K_WINDOW] = int(round(risk.submit_window_s * ns))
    si[K_COOLDOWN] = int(round(risk.cancel_cooldown_s * ns))
    si[K_TTL] = int(round(risk.order_ttl_s * ns))
    si[K_SLOTS] = slots
    si[K_FLAT_SIDE] = -1
    si[K_NEXT_TICK] = 0  # the first event computes it
    si[K_LAST_CANCEL] = si[K_LAST_CANCEL + 1] = np.iinfo(np.int64).min // 2
    sf[F_KILL_LOSS] = risk.kill_loss or 0.0
    sf[F_KILL_PCT] = (risk.kill_loss_pct or 0.0) / 100.0 * (risk.max_notional or 0.0)
    sf[F_PROFIT] = risk.profit_take or 0.0
    sf[F_MIN_HALF] = risk.min_spread_bps / 2.0 / 10_000.0
    sf[F_MAX_DEV] = risk.max_price_deviation_bps / 10_000.0
    sf[F_ORDER_DEV] = risk.order_price_deviation_bps / 10_000.0
    sf[F_MAX_ORDER] = risk.max_notional_per_order or 0.0
    sf[F_MAX_NOTIONAL] = risk.max_notional or 0.0
    sf[F_MAX_INV] = risk.max_inventory or 0.0
    sf[F_MID] = np.nan
    return state._replace(si=si, sf=sf)


def summary(state: State) -> dict:
    """The ``risk`` block of ``metrics.json``: denials per reason, actions, the kill and the final trading state."""
    si, sf = state.si, state.sf
    cause = KILL_CAUSES[int(si[K_KILL_CAUSE])]
    return {
        "denied": {name: int(si[K_DENY + r]) for r, name in enumerate(REASONS, start=1)},
        "denied_total": int(si[K_DENY + 1:K_DENY + 1 + len(REASONS)].sum()),
        "actions": {"cancels_stale": int(si[A_CANCEL_STALE]), "cancels_kill": int(si[A_CANCEL_KILL]),
                    "cancels_ttl": int(si[A_CANCEL_TTL]), "cancels_price_deviation": int(si[A_CANCEL_DEV]),
                    "cancels_flatten_rest": int(si[A_CANCEL_FLAT]), "flatten_orders": int(si[A_FLAT]),
                    "quotes_moved_out": int(si[A_MOVED]), "pauses": int(si[A_PAUSES])},
        "kill": None if not cause else {"time_ns": int(si[K_KILL_T]), "cause": cause,
                                        "pnl": float(sf[F_KILL_PNL])},
        "trading_state": TRADING_STATES[int(si[TRADING_STATE])],
    }


# ------------------------------------------------------------------------------------------- compiled

@njit(cache=True, inline="always")
def open_qty(orders, si, req_f, side):
    """Quantity that may still fill on ``side``: every live order of the side plus every request in flight (a
    replacement supersedes the live order only when it arrives)."""
    tot = 0.0
    for s in range(side, orders.shape[0], 2):
        tot += orders[s, O_QTY]
    j = si[REQ_HEAD + side]
    for _ in range(si[REQ_N + side]):
        tot += req_f[side, j, R_QTY]
        j = j + 1 if j + 1 < REQ_CAP else 0
    return tot


@njit(cache=True, inline="always")
def throttle(si, ring, head_slot, n_slot, cap, window, t):
    """Nautilus' throttler: True (and ``t`` recorded) when fewer than ``cap`` requests were accepted in the
    ``window`` ns before ``t``; the ring at ``si[ring:ring + cap]`` holds the last ``cap`` accepted times."""
    n = si[n_slot]
    h = si[head_slot]
    if n < cap:  # filling up: the head stays at 0
        si[ring + n] = t
        si[n_slot] = n + 1
        return True
    if t - si[ring + h] < window:
        return False
    si[ring + h] = t
    si[head_slot] = h + 1 if h + 1 < cap else 0
    return True


@njit(cache=True, inline="always")
def check_cancel(si, side, t):
    """0 when a cancel of the strategy's order on ``side`` may go, else its denial reason."""
    cd = si[K_COOLDOWN]
    if cd > 0 and t - si[K_LAST_CANCEL + side] < cd:
        return R_COOLDOWN
    cap = si[K_MAX_CAN]
    if cap > 0 and not throttle(si, K_FIXED + si[K_SLOTS] + max(si[K_MAX_SUB], 1), K_CAN_HEAD, K_CAN_N, cap,
                                si[K_WINDOW], t):
        return R_CANCEL_RATE
    si[K_LAST_CANCEL + side] = t
    return 0


@njit(cache=True, inline="always")
def check_submit(orders, si, sf, req_f, side, px, qty, t, replacing):
    """0 when a new order (or a replacement, ``replacing``) of ``qty`` at ``px`` on ``side`` may go, else the
    reason of its denial, in the module's check order."""
    if si[K_PAUSED] == 1:
        return R_STALE
    state = si[TRADING_STATE]
    if state == HALTED:
        return R_HALTED
    pos = sf[POSITION]
    if state == REDUCING:
        if side == 0 and not (pos < -EPS_Q and qty <= -pos + EPS_Q):
            return R_REDUCING
        if side == 1 and not (pos > EPS_Q and qty <= pos + EPS_Q):
            return R_REDUCING
    mid = sf[F_MID]
    if not math.isfinite(mid):
        return R_STALE  # no two-sided book seen yet
    half = sf[F_MIN_HALF]
    if half > 0.0:
        if (side == 0 and px > mid * (1.0 - half) + EPS_P) or (side == 1 and px < mid * (1.0 + half) - EPS_P):
            return R_MIN_SPREAD
    dev = sf[F_MAX_DEV]
    if dev > 0.0 and abs(px - mid) > dev * mid + EPS_P:
        return R_PRICE_DEV
    cap = sf[F_MAX_ORDER]
    if cap > 0.0 and px * qty > cap * (1.0 + REL):
        return R_ORDER_NOTIONAL
    ncap = sf[F_MAX_NOTIONAL]
    icap = sf[F_MAX_INV]
    if ncap > 0.0 or icap > 0.0:
        q = open_qty(orders, si, req_f, side) + qty
        expo = pos + q if side == 0 else -(pos - q)  # how far this side can take the position, signed its way
        if ncap > 0.0 and expo * mid > ncap * (1.0 + REL):
            return R_NOTIONAL
        if icap > 0.0 and expo > icap * (1.0 + REL):
            return R_INVENTORY
    cd = si[K_COOLDOWN]
    if replacing and cd > 0 and t - si[K_LAST_CANCEL + side] < cd:
        return R_COOLDOWN
    cap_n = si[K_MAX_SUB]
    if cap_n > 0 and not throttle(si, K_FIXED + si[K_SLOTS], K_SUB_HEAD, K_SUB_N, cap_n, si[K_WINDOW], t):
        return R_SUBMIT_RATE
    if replacing:
        si[K_LAST_CANCEL + side] = t
    return 0


@njit(cache=True, inline="always")
def move_out(sf, side, px, tick):
    """``px`` moved out to the min spread (the nearest tick at least min_spread_bps / 2 from the mid)."""
    mid = sf[F_MID]
    half = sf[F_MIN_HALF]
    if not math.isfinite(mid):
        return px
    if side == 0:
        lim = mid * (1.0 - half)
        if px > lim + EPS_P:
            return math.floor(lim / tick + 1e-9) * tick
    else:
        lim = mid * (1.0 + half)
        if px < lim - EPS_P:
            return math.ceil(lim / tick - 1e-9) * tick
    return px


@njit(cache=True, inline="always")
def risk_quote(orders, si, sf, req_i, req_f, latency, side, lv, px, qty, t, tick):
    """The strategy wants (px, qty) at level ``lv`` of ``side`` (qty 0 = none): :func:`alpha_as.engine.orders.set_quote`
    behind the checks. A denial is counted and nothing is sent (the working order stays as it was). Inlined in the
    paper loop (two call sites); the general loop and the tests call :func:`risk_quote_call`."""
    if lv == 0 and si[K_FLAT_SIDE] == side:
        return  # the flatten order's slot belongs to the risk module
    o = orders[side + 2 * lv]
    if qty <= 0.0:
        if o[O_WORK_QTY] > 0.0:
            r = check_cancel(si, side, t)
            if r != 0:
                si[K_DENY + r] += 1
                return
            send(si, req_i, req_f, side, lv, 0.0, 0.0, t, latency)
            o[O_WORK_QTY] = 0.0
        return
    if sf[F_MIN_HALF] > 0.0 and si[K_MOVE] == 1:
        moved = move_out(sf, side, px, tick)
        if moved != px:
            si[A_MOVED] += 1
            px = moved
    if o[O_WORK_QTY] != qty or o[O_WORK_PX] != px:
        r = check_submit(orders, si, sf, req_f, side, px, qty, t, o[O_WORK_QTY] > 0.0)
        if r != 0:
            si[K_DENY + r] += 1
            return
        send(si, req_i, req_f, side, lv, px, qty, t, latency)
        o[O_WORK_PX] = px
        o[O_WORK_QTY] = qty
        si[K_FIXED + side + 2 * lv] = t
        if si[K_TTL] > 0:
            si[K_NEXT_TICK] = min(si[K_NEXT_TICK], t + si[K_TTL])


@njit(cache=True)
def risk_quote_call(orders, si, sf, req_i, req_f, latency, side, lv, px, qty, t, tick):
    """:func:`risk_quote`, called (not inlined)."""
    risk_quote(orders, si, sf, req_i, req_f, latency, side, lv, px, qty, t, tick)


@njit(cache=True)
def _cancel(orders, si, req_i, req_f, latency, slot, t, counter):
    """A risk cancel of the working order in ``slot`` (not checked), counted in ``si[counter]``."""
    if orders[slot, O_WORK_QTY] > 0.0:
        send(si, req_i, req_f, slot % 2, slot // 2, 0.0, 0.0, t, latency)
        orders[slot, O_WORK_QTY] = 0.0
        si[counter] += 1


@njit(cache=True)
def cancel_all(orders, si, req_i, req_f, latency, t, counter):
    """Cancel every working order but the flatten order's."""
    fs = si[K_FLAT_SIDE]
    for slot in range(si[K_SLOTS]):
        if slot != fs:
            _cancel(orders, si, req_i, req_f, latency, slot, t, counter)


@njit(cache=True)
def _pause(orders, si, req_i, req_f, latency, t):
    si[K_PAUSED] = 1
    si[A_PAUSES] += 1
    cancel_all(orders, si, req_i, req_f, latency, t, A_CANCEL_STALE)


@njit(cache=True)
def _kill(orders, si, sf, req_i, req_f, latency, cause, pnl, t):
    """The kill switch fires: HALTED, the time, cause and P&L recorded, every order cancelled, the flatten armed."""
    si[TRADING_STATE] = HALTED
    si[K_KILL_T] = t
    si[K_KILL_CAUSE] = cause
    sf[F_KILL_PNL] = pnl
    cancel_all(orders, si, req_i, req_f, latency, t, A_CANCEL_KILL)
    if si[K_FLATTEN] == 1 and si[K_FLAT_RETRIES] > 0:
        si[K_FLAT_LEFT] = si[K_FLAT_RETRIES]
        si[K_FLAT_NEXT] = t
        si[K_NEXT_TICK] = t


@njit(cache=True, inline="always")
def risk_snapshot(orders, si, sf, req_i, req_f, latency, good, bid0, ask0, t):
    """After a snapshot (``good``: both sides present): the missing-mid count and pause, resuming on a good book,
    the kill switch, and the cancel of working orders that strayed from the mid. Inlined (one call site per loop);
    what it rarely does is called."""
    si[K_LAST_SNAP] = t
    if si[K_STALE_NS] > 0:
        si[K_NEXT_TICK] = min(si[K_NEXT_TICK], t + si[K_STALE_NS] + 1)
    if not good:
        si[K_NONE_RUN] += 1
        lim = si[K_MID_NONE]
        if lim > 0 and si[K_NONE_RUN] >= lim and si[K_PAUSED] == 0:
            _pause(orders, si, req_i, req_f, latency, t)
        return
    si[K_NONE_RUN] = 0
    si[K_PAUSED] = 0
    mid = 0.5 * (bid0 + ask0)
    sf[F_MID] = mid
    if si[K_KILL_CAUSE] == 0:
        pnl = sf[CASH] + sf[POSITION] * mid
        cause = 0
        if sf[F_KILL_LOSS] > 0.0 and pnl <= -sf[F_KILL_LOSS]:
            cause = 1
        elif sf[F_KILL_PCT] > 0.0 and pnl <= -sf[F_KILL_PCT]:
            cause = 2
        elif sf[F_PROFIT] > 0.0 and pnl >= sf[F_PROFIT]:
            cause = 3
        if cause > 0:
            _kill(orders, si, sf, req_i, req_f, latency, np.int64(cause), pnl, t)
    od = sf[F_ORDER_DEV]
    if od > 0.0:
        fs = si[K_FLAT_SIDE]
        for slot in range(si[K_SLOTS]):
            if slot != fs and orders[slot, O_WORK_QTY] > 0.0 and abs(orders[slot, O_WORK_PX] - mid) > od * mid + EPS_P:
                _cancel(orders, si, req_i, req_f, latency, slot, t, A_CANCEL_DEV)


@njit(cache=True)
def _flatten_step(orders, si, sf, req_i, req_f, latency, bid_px, ask_px, t):
    """One step of the flatten after a kill. A flatten order is sent only when nothing of ours is live or in flight
    on either side (so no other fill can move the position under it, and it can never overshoot flat): for the
    whole position, at the deepest visible level of the other side (it takes the visible book at arrival; a rest
    beyond it rests there). A rest still working ``flat_retry_backoff_s`` after it was sent is cancelled, and the
    next attempt goes when the sides are clear, until flat or ``flat_retries`` orders were sent."""
    pos = sf[POSITION]
    fs = si[K_FLAT_SIDE]
    clear = si[REQ_N] + si[REQ_N + 1] == 0
    if clear:
        for slot in range(si[K_SLOTS]):
            if orders[slot, O_QTY] > EPS_Q:
                clear = False
    if clear:
        if fs >= 0:
            orders[fs, O_WORK_QTY] = 0.0
            si[K_FLAT_SIDE] = -1
        if abs(pos) <= EPS_Q or si[K_FLAT_LEFT] == 0:
            si[K_FLAT_LEFT] = 0
            return
        b = si[BOOK]
        if b < 0:
            return
        side = 1 if pos > 0 else 0
        row = bid_px[b] if side == 1 else ask_px[b]
        px = math.nan
        for lv in range(len(row)):
            if math.isfinite(row[lv]):
                px = row[lv]
        if not math.isfinite(px):
            return
        qty = abs(pos)
        send(si, req_i, req_f, side, 0, px, qty, t, latency)
        orders[side, O_WORK_PX] = px
        orders[side, O_WORK_QTY] = qty
        si[K_FLAT_SIDE] = side
        si[K_FLAT_LEFT] -= 1
        si[A_FLAT] += 1
        si[K_FLAT_NEXT] = t + si[K_FLAT_BACKOFF]
    elif fs >= 0 and si[REQ_N + fs] == 0 and orders[fs, O_WORK_QTY] > 0.0:  # live, and past its backoff
        send(si, req_i, req_f, fs, 0, 0.0, 0.0, t, latency)  # the rest after its backoff
        orders[fs, O_WORK_QTY] = 0.0
        si[A_CANCEL_FLAT] += 1


@njit(cache=True)
def risk_tick(orders, si, sf, req_i, req_f, latency, bid_px, ask_px, t):
    """At an event of the loop from ``si[K_NEXT_TICK]`` on: no snapshot for ``stale_after_s`` (pause and cancel),
    the order TTL, and the flatten after a kill; then the next time one of them can act (the loops test one
    integer per event, and call this only then)."""
    stale = si[K_STALE_NS]
    if stale > 0 and si[K_PAUSED] == 0 and si[K_LAST_SNAP] > 0 and t - si[K_LAST_SNAP] > stale:
        _pause(orders, si, req_i, req_f, latency, t)
    ttl = si[K_TTL]
    fs = si[K_FLAT_SIDE]
    if ttl > 0:
        for slot in range(si[K_SLOTS]):
            if slot != fs and orders[slot, O_WORK_QTY] > 0.0 and t - si[K_FIXED + slot] >= ttl:
                _cancel(orders, si, req_i, req_f, latency, slot, t, A_CANCEL_TTL)
    flattening = si[K_FLAT_LEFT] > 0 or si[K_FLAT_SIDE] >= 0
    if flattening and t >= si[K_FLAT_NEXT]:
        _flatten_step(orders, si, sf, req_i, req_f, latency, bid_px, ask_px, t)
    nxt = INF_T
    if stale > 0 and si[K_PAUSED] == 0 and si[K_LAST_SNAP] > 0:
        nxt = si[K_LAST_SNAP] + stale + 1
    if ttl > 0:
        fs = si[K_FLAT_SIDE]
        for slot in range(si[K_SLOTS]):
            if slot != fs and orders[slot, O_WORK_QTY] > 0.0:
                nxt = min(nxt, si[K_FIXED + slot] + ttl)
    if si[K_FLAT_LEFT] > 0 or si[K_FLAT_SIDE] >= 0:
        nxt = min(nxt, si[K_FLAT_NEXT])  # while flattening: every event from its next step on
    si[K_NEXT_TICK] = nxt
