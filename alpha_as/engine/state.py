"""The engine's state: flat numpy arrays in a named tuple, so the compiled loop can stop and resume.

Everything the replay needs between two calls of :func:`alpha_as.engine.kernel.run_until` lives here: the
cursors into the day's arrays, our orders at the exchange and the requests in flight, inventory lots,
the estimators strategies read (a ring of mids, per-minute book-change counts), and the record buffers.
Scalars are packed into ``si`` (int64) and ``sf`` (float64) at the indices below; the layout is private to
the engine and its strategies.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# ---- int64 scalars (State.si)
D_IDX = 0          # next depth snapshot to process
T_IDX = 1          # next trade to process
BOOK = 2           # index of the current snapshot (-1 before the first)
N_FILLS = 3
N_GRID = 4
NEXT_GRID_T = 5
N_LOTS = 6
NOW = 7            # time of the last processed event (ns)
REQ_HEAD = 8       # +side (0 bid, 1 ask): ring head of pending requests
REQ_N = 10         # +side: number of pending requests
N_MIDS = 12        # mids stored so far (ring length = min(N_MIDS, capacity))
MID_HEAD = 13      # next write position in the mid ring
MINUTE = 14        # clock minute being counted (t // 60 s), -1 before the first snapshot
KQ_N = 15          # completed minutes stored in the k ring
KQ_HEAD = 16
N_QUOTE_UPDATES = 17   # strategy evaluations that produced quotes
N_SKIP_WARMUP = 18     # ... skipped: not enough mids yet (window_tick)
N_SKIP_K = 19          # ... skipped: k not finite or 0 (spec §3)
N_SKIP_QUOTE = 20      # ... skipped: non-finite quote (e.g. ln of a negative number)
N_SKIP_BOOK = 21       # ... skipped: a side of the snapshot is empty
N_REQUESTS = 22        # order requests sent (new, modify, cancel)
N_SNAPSHOTS = 23
N_TRADES = 24
LOT_OVERFLOW = 25      # 1 if the lot buffer overflowed (the run is refused)
STRAT_T = 26           # strategy-private time stamp (e.g. the fixed quoter's last requote)
REQ_SEQ = 27           # requests sent so far: orders same-time arrivals of both sides by sending order
REQ_OVERFLOW = 28      # 1 if a side had more than REQ_CAP requests in flight (the run is refused)
NEXT_CLOCK_T = 29      # next strategy clock event (ns) for strategies on a clock (C_CLOCK_NS > 0)
N_HOLDS = 30           # strategy evaluations that kept the live orders (Q_HOLD)
N_SLIPS = 31           # on a chain: requests that missed their block (alpha_as.engine.chain)
CH_BLOCK_NS = 32       # on a chain: the block interval (ns); 0 = an exchange (the fixed latency)
CH_DELAY_NS = 33       # ... the network delay before the block boundary (ns)
CH_SEED = 34           # ... the seed of the missed-block draws
CH_SLIP_T = 35         # ... P(missing a block) x 2**53: a draw below it slips
CH_PLACES = 36         # ... placements and replacements sent
CH_CANCELS = 37        # ... cancels sent
RK_ON = 38             # 1: the risk module checks the strategy's requests (alpha_as.engine.risk; its slots follow NSI)
TRADING_STATE = 39     # the risk module's trading state: 0 ACTIVE, 1 REDUCING (only orders that reduce |position|),
                       # 2 HALTED (no new orders; cancels pass). 0 without a risk module. Learners (e.g. the online γ
                       # learner) may read it to freeze while it is not ACTIVE; Python may set it between two calls
NSI = 40

# ---- float64 scalars (State.sf)
CASH = 0
POSITION = 1
REALIZED = 2
FEES = 3
VOLUME = 4
CUR_BID = 5        # counts of book changes in the current minute: bid side, ask side, all
CUR_ASK = 6
CUR_ALL = 7
LOT_QTY = 8        # sum of open lot quantities (= |position|)
LOT_VALUE = 9      # sum of open lot price x quantity
MARK_SD = 10       # σ of the last mark_window mids, refreshed at each snapshot (NaN until known)
GAS = 11           # on a chain: gas paid so far (quote currency; alpha_as.engine.chain)
CH_GAS_PLACE = 12  # on a chain: quote currency per placement or replacement
CH_GAS_CANCEL = 13  # ... per cancel
NSF = 16

# ---- our orders at the exchange (State.orders[slot, field]); slot = side + 2·level, side 0 = bid, 1 = ask, so
# orders[0] and orders[1] are the best (level-0) bid and ask
O_PX = 0
O_QTY = 1          # remaining quantity live at the exchange (0 = no order)
O_QUEUE = 2        # queue model: quantity ahead of us at our price
O_LEVEL_QTY = 3    # queue model: size of our price level at the last snapshot
O_TRADED = 4       # queue model: traded quantity at our price since the last snapshot
O_WORK_PX = 5      # what the strategy last asked for (price, qty): requests are sent only on change
O_WORK_QTY = 6
NOF = 8

# ---- fill records (State.fill_f[row, field])
F_SIDE = 0
F_PRICE = 1
F_QTY = 2
F_POSITION = 3
F_REALIZED = 4
F_UNREALIZED = 5
F_TOTAL = 6
F_FEE = 7
F_TAKER = 8
F_CASH = 9
F_LIMIT = 10       # the order's limit price (a fill is never worse than it)
F_MARK = 11        # the unwind price used for the unrealized P&L (NaN when flat)
F_GAS = 12         # on a chain: the gas paid up to this fill (quote currency); not written without a chain
NFF = 13
FILL_COLUMNS = ("side", "price", "quantity", "position", "realized_pnl", "unrealized_pnl", "total_pnl",
                "fee", "taker", "cash", "limit_price", "mark_price", "gas")
CHAIN_FILL_COLUMNS = ("gas",)
"""The fill columns of a run on a chain only (fills.parquet of an exchange run is as before)."""

# ---- grid records (State.grid_f[row, field])
G_POSITION = 0
G_CASH = 1
G_REALIZED = 2
G_UNREALIZED = 3
G_TOTAL = 4
G_MID = 5
G_BID = 6
G_ASK = 7
G_N_FILLS = 8
NGF = 9
GRID_COLUMNS = ("position", "cash", "realized_pnl", "unrealized_pnl", "total_pnl", "mid", "bid_quote",
                "ask_quote", "n_fills")

# ---- requests in flight (State.req_i[side, k, field], State.req_f[side, k, field])
R_T = 0            # arrival time at the exchange (ns)
R_SEQ = 1          # sending order
R_LV = 2           # the order level the request is for
R_PX = 0
R_QTY = 1          # 0 = cancel

MID_CAP = 1024
KQ_CAP = 128
REQ_CAP = 4096
LOT_CAP = 1 << 16


class State(NamedTuple):
    """Every array the loop carries. Keep the count small: each inlined helper that takes the state copies the
    tuple, and numba takes a reference on each of its arrays (a slower loop per extra field: issue #13)."""

    si: np.ndarray        # int64[NSI]
    sf: np.ndarray        # float64[NSF]
    orders: np.ndarray    # float64[2·levels, NOF]  slot side + 2·level
    req_i: np.ndarray     # int64[2, REQ_CAP, 3]   requests in flight per side: arrival time, sending order, level
    req_f: np.ndarray     # float64[2, REQ_CAP, 2] ... price, quantity (0 = cancel)
    lots: np.ndarray      # float64[2, LOT_CAP]    open inventory lots (all on the position's side): price, quantity
    mids: np.ndarray      # float64[MID_CAP]    ring of snapshot mids
    kq: np.ndarray        # float64[3, KQ_CAP]  ring of completed-minute book-change counts (bid, ask, all)
    fill_t: np.ndarray    # int64[cap]
    fill_f: np.ndarray    # float64[cap, NFF]
    grid_t: np.ndarray    # int64[gcap]
    grid_f: np.ndarray    # float64[gcap, NGF + extra]  the extra columns: the strategy's (config C_GRID_COLS)
    ss: np.ndarray        # float64[n + 4·levels]  the strategy's own state (estimators, timers), then, for strategies
                          # with several levels, their quotes: per level bid px, bid qty, ask px, ask qty (qout)


def new_state(first_grid_t: int, fill_capacity: int = 4096, grid_capacity: int = 8640 + 2, levels: int = 1,
              strategy_state: np.ndarray | None = None, grid_columns: int = 0) -> State:
    """A fresh state: no position, no orders, cursors at the start of the day. ``levels`` order levels per side;
    ``strategy_state`` the strategy's initial state vector (the quote buffer of ``4·levels`` is appended to it);
    ``grid_columns`` the number of its extra grid columns."""
    si = np.zeros(NSI, dtype=np.int64)
    si[BOOK] = -1
    si[MINUTE] = -1
    si[NEXT_GRID_T] = first_grid_t
    si[NOW] = np.iinfo(np.int64).min
    sf = np.zeros(NSF)
    sf[MARK_SD] = np.nan
    levels = max(int(levels), 1)
    own = np.zeros(0) if strategy_state is None else np.asarray(strategy_state, dtype=np.float64).ravel()
    return State(
        si=si, sf=sf, orders=np.zeros((2 * levels, NOF)),
        req_i=np.zeros((2, REQ_CAP, 3), dtype=np.int64), req_f=np.zeros((2, REQ_CAP, 2)),
        lots=np.zeros((2, LOT_CAP)), mids=np.zeros(MID_CAP), kq=np.zeros((3, KQ_CAP)),
        fill_t=np.zeros(fill_capacity, dtype=np.int64), fill_f=np.zeros((fill_capacity, NFF)),
        grid_t=np.zeros(grid_capacity, dtype=np.int64), grid_f=np.zeros((grid_capacity, NGF + int(grid_columns))),
        ss=np.concatenate([own, np.zeros(4 * levels)]),
    )


def grow_fills(state: State) -> State:
    """Double the fill buffers (the loop returns when they are nearly full)."""
    cap = len(state.fill_t) * 2
    fill_t = np.zeros(cap, dtype=np.int64)
    fill_f = np.zeros((cap, NFF))
    n = int(state.si[N_FILLS])
    fill_t[:n] = state.fill_t[:n]
    fill_f[:n] = state.fill_f[:n]
    return state._replace(fill_t=fill_t, fill_f=fill_f)
