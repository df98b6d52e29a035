"""The Python face of the engine: run a strategy over one day, or step it on a time grid.

Two ways to drive the compiled loop:

* :class:`Backtest` with a strategy compiled into the loop (AS requotes at every snapshot inside numba):
  ``Backtest(day, ASParams()).run()`` → :class:`BacktestResult`.
* :class:`SteppedBacktest` for learning agents that decide on a time grid: ``reset() -> obs`` and
  ``step(update) -> (obs, reward, done, info)``, where ``update`` changes strategy parameters (e.g. AS's
  γ and skew) and the compiled loop runs to exactly the next decision time in between. A gymnasium
  environment or any agent can sit on it without touching the engine.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from alpha_as.atomic import check_out_dir, write_text_atomic
from alpha_as.configs import replace_checked
from alpha_as.data.store import MarketDay, write_table_atomic
from alpha_as.engine import accounting, chain, kernel, kernel_general, risk
from alpha_as.engine import config as C
from alpha_as.engine import state as S
from alpha_as.engine.config import EngineConfig
from alpha_as.metrics import DayMetrics, day_metrics
from alpha_as.strategies.avellaneda_stoikov import ASParams
from alpha_as.strategies.fixed_quoter import FixedQuoterParams
from alpha_as.strategies.glft import GLFTParams
from alpha_as.strategies.hummingbot_as import HummingbotASParams
from baselines import FOICParams, LIICParams

Strategy = ASParams | FixedQuoterParams | FOICParams | LIICParams | HummingbotASParams | GLFTParams | None
COUNTERS = {
    "snapshots": S.N_SNAPSHOTS, "trades": S.N_TRADES, "fills": S.N_FILLS, "order_requests": S.N_REQUESTS,
    "quote_updates": S.N_QUOTE_UPDATES, "skipped_warmup": S.N_SKIP_WARMUP, "skipped_k_invalid": S.N_SKIP_K,
    "skipped_nonfinite_quote": S.N_SKIP_QUOTE, "skipped_empty_book_side": S.N_SKIP_BOOK, "holds": S.N_HOLDS,
}


QUIET_FILLS = 10
"""Fewer fills than this and the summary line says why (:meth:`BacktestResult.why_quiet`)."""
SKIP_REASONS = (("skipped_k_invalid", "k invalid"), ("skipped_warmup", "warm-up: too few mids for window_tick"),
                ("skipped_nonfinite_quote", "non-finite quote"), ("skipped_empty_book_side", "a book side empty"))


def _hour(h: float) -> str:
    return f"{int(h)}" if float(h).is_integer() else f"{int(h)}:{round((h % 1) * 60):02d}"


def strategy_arrays(strategy: Strategy) -> tuple[int, np.ndarray]:
    """The loop's strategy kind and parameter vector for a strategy's parameters."""
    from alpha_as.strategies.registry import kind_of

    kind = kind_of(strategy)  # TypeError for parameters of no registered strategy
    return kind, (np.zeros(1) if strategy is None else strategy.to_array())


BUFFER_CODES = (kernel.FILLS_FULL, kernel.GRID_FULL, kernel.REQS_FULL, kernel.LOTS_FULL)
"""The loops' returns that ask Python to act before calling again (both loops share the codes)."""


def after_buffer_code(state: S.State, code: int) -> S.State:
    """The state to call the loop again with after a buffer code: the fill buffer grown (``FILLS_FULL``); for the
    others, the one-line error (a full grid or lot buffer, or too many requests in flight)."""
    if code == kernel.FILLS_FULL:
        return S.grow_fills(state)
    if code == kernel.GRID_FULL:
        raise RuntimeError("grid buffer too small (engine bug)")
    if code == kernel.REQS_FULL:
        raise RuntimeError(f"more than {S.REQ_CAP} order requests in flight on one side "
                           "(a latency far longer than the snapshot interval)")
    raise RuntimeError(f"more than {S.LOT_CAP} open inventory lots; the position is unbounded")


@dataclass(frozen=True)
class StrategyLayout:
    """What the loop needs to know about a strategy beyond its parameter vector (:mod:`alpha_as.strategies.base`):
    read from the registry entry and the parameters' optional methods ``order_levels_per_side()``,
    ``strategy_clock_ns()``, ``initial_state()`` and ``grid_columns()``."""

    general: bool = False
    levels: int = 1
    clock_ns: int = 0
    trade_hook: bool = False
    fill_hook: bool = False
    keep_after_fill: bool = False
    state: np.ndarray | None = None
    grid_names: tuple[str, ...] = ()
    grid_src: tuple[int, ...] = ()

    @classmethod
    def of(cls, strategy: Strategy, kind: int) -> StrategyLayout:
        """The layout of ``strategy``, registered as ``kind`` (:func:`strategy_arrays`)."""
        from alpha_as.strategies.registry import STRATEGIES

        if strategy is None:
            return cls()
        entry = STRATEGIES[kind - 1]
        cols = tuple(strategy.grid_columns()) if hasattr(strategy, "grid_columns") else ()
        levels = int(strategy.order_levels_per_side()) if hasattr(strategy, "order_levels_per_side") else 1
        clock_ns = int(strategy.strategy_clock_ns()) if hasattr(strategy, "strategy_clock_ns") else 0
        if not entry.general and (levels != 1 or clock_ns != 0):
            raise ValueError(f"strategy {entry.name!r} asks for {levels} order levels per side and a "
                             f"{clock_ns} ns clock: register it with general=True (the paper loop has one "
                             "level and quotes at every snapshot)")
        return cls(
            general=entry.general, levels=levels, clock_ns=clock_ns,
            trade_hook=bool(entry.on_trade), fill_hook=bool(entry.on_fill), keep_after_fill=entry.keep_after_fill,
            state=strategy.initial_state() if hasattr(strategy, "initial_state") else None,
            grid_names=tuple(c[0] for c in cols), grid_src=tuple(int(c[1]) for c in cols))


@dataclass
class BacktestResult:
    """Records and metrics of one run."""

    fill_ts: np.ndarray
    fills: dict[str, np.ndarray]
    grid_ts: np.ndarray
    grid: dict[str, np.ndarray]
    counters: dict[str, int]
    metrics: DayMetrics
    info: dict = field(default_factory=dict)
    outside_hours: int = 0
    """Snapshots outside the strategy's trading hours (not written: it explains a quiet summary line)."""
    hours: tuple[float, float] | None = None
    """The strategy's trading hours (first_hour, last_hour), when it has them."""

    def summary(self) -> str:
        m = self.metrics
        line = (f"fills {m.n_fills}  final P&L {m.final_total_pnl:+.4f}  Sharpe {m.sharpe:+.4f}  "
                f"Sortino {m.sortino:+.4f}  MaxDD {m.max_drawdown:.4f}  P&L-to-MAP {m.pnl_to_map:+.2f}  "
                f"wall {self.info.get('wall_seconds', math.nan):.3f} s")
        why = self.why_quiet()
        return f"{line}  ({why})" if why else line

    def why_quiet(self) -> str:
        """Why a run traded little (fewer than :data:`QUIET_FILLS` fills), from its counters: e.g. ``0 fills:
        19,775 quote updates skipped (k invalid); 30,100 of 42,465 snapshots outside the trading hours 7-19 UTC``;
        "" for a run that traded."""
        c, n = self.counters, self.metrics.n_fills
        if n >= QUIET_FILLS:
            return ""
        parts = []
        skipped = [(c.get(k, 0), what) for k, what in SKIP_REASONS if c.get(k, 0)]
        if skipped:
            skipped.sort(key=lambda x: -x[0])
            parts.append("quote updates skipped: " + ", ".join(f"{k:,} ({what})" for k, what in skipped))
        if self.outside_hours and self.hours is not None:
            parts.append(f"{self.outside_hours:,} of {c.get('snapshots', 0):,} snapshots outside the trading hours "
                         f"{_hour(self.hours[0])}-{_hour(self.hours[1])} UTC (first_hour/last_hour)")
        if c.get("trades", 0) == 0:
            parts.append("no trades in the data (the fill models fill against trades)")
        elif c.get("quote_updates", 0) and c.get("order_requests", 0) and n == 0:
            parts.append(f"{c['quote_updates']:,} quote updates, none filled")
        return f"{n} fill{'s' * (n != 1)}: " + "; ".join(parts) if parts else ""

    def write(self, out: str | Path, extra: dict | None = None) -> Path:
        """Write fills.parquet, grid.parquet and metrics.json into ``out`` (each atomically); an ``out`` that is a
        file, lies under one or is not writable is one line (:func:`alpha_as.atomic.check_out_dir`)."""
        out = check_out_dir(out, "output folder")
        fills = {"timestamp": pa.array(self.fill_ts, pa.int64())}
        for k, v in self.fills.items():
            if k == "side":
                fills[k] = pa.array(v.astype(np.int8))
            elif k == "taker":
                fills[k] = pa.array(v.astype(bool))
            else:
                fills[k] = pa.array(v)
        write_table_atomic(pa.table(fills), out / "fills.parquet")
        grid = {"timestamp": pa.array(self.grid_ts, pa.int64())}
        grid.update({k: pa.array(v) for k, v in self.grid.items()})
        write_table_atomic(pa.table(grid), out / "grid.parquet")
        doc = {"metrics": self.metrics.to_dict(), "counters": self.counters, **self.info, **(extra or {})}
        write_json_atomic(doc, out / "metrics.json")
        return out


def write_json_atomic(doc: dict, path: Path) -> None:
    write_text_atomic(json.dumps(doc, indent=1, default=str) + "\n", path)


def _engine_array(a: np.ndarray, dtype: type) -> np.ndarray:
    if a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.array(a, dtype=dtype, order="C")


def engine_day(day: MarketDay) -> MarketDay:
    """The day with every array in the one layout the compiled loop is built for (C-ordered, writable, the
    engine's dtypes), copying only arrays that differ — so one compilation serves every source of data."""
    f64, i64 = np.float64, np.int64
    new = {
        "depth_ts": _engine_array(day.depth_ts, i64), "trade_ts": _engine_array(day.trade_ts, i64),
        "bid_px": _engine_array(day.bid_px, f64), "ask_px": _engine_array(day.ask_px, f64),
        "bid_qty": _engine_array(day.bid_qty, f64), "ask_qty": _engine_array(day.ask_qty, f64),
        "trade_px": _engine_array(day.trade_px, f64), "trade_qty": _engine_array(day.trade_qty, f64),
        "trade_side": _engine_array(day.trade_side, np.int8),
    }
    if all(new[k] is getattr(day, k) for k in new):
        return day
    return dataclasses.replace(day, **new)


class Backtest:
    """One day replayed with one strategy. ``params`` (a float array) may be changed between calls."""

    def __init__(self, day: MarketDay, strategy: Strategy = None, config: EngineConfig | None = None) -> None:
        self.day = day = engine_day(day)
        self.config = config or EngineConfig()
        self.strategy = strategy
        self.kind, self.params = strategy_arrays(strategy)
        first = min(day.depth_ts[0] if day.n_depth else np.iinfo(np.int64).max,
                    day.trade_ts[0] if day.n_trades else np.iinfo(np.int64).max)
        last = max(day.depth_ts[-1] if day.n_depth else 0, day.trade_ts[-1] if day.n_trades else 0)
        if day.n_depth == 0:
            raise ValueError("a day needs depth snapshots")
        self.grid_ns = int(round(self.config.grid_seconds * 1e9))
        self.first_grid = (int(first) // self.grid_ns + 1) * self.grid_ns
        self.last_event = int(last)
        self.ci, self.cf = self.config.arrays(self.kind, day.has_side, self.last_event)
        self.layout = lay = StrategyLayout.of(strategy, self.kind)
        self.ci[C.C_LEVELS] = lay.levels
        self.ci[C.C_CLOCK_NS] = lay.clock_ns
        self.ci[C.C_TRADE_HOOK] = int(lay.trade_hook)
        self.ci[C.C_FILL_HOOK] = int(lay.fill_hook)
        self.ci[C.C_KEEP_AFTER_FILL] = int(lay.keep_after_fill)
        self.ci[C.C_GRID_COLS] = len(lay.grid_src)
        self.ci = np.concatenate([self.ci, np.array(lay.grid_src, dtype=np.int64)])  # the extra columns' sources
        n_grid = max(0, (self.last_event - self.first_grid) // self.grid_ns + 1) + 2
        self.state = S.new_state(self.first_grid, grid_capacity=n_grid, levels=lay.levels,
                                 strategy_state=lay.state, grid_columns=len(lay.grid_src))
        chain.set_state(self.state, self.config.chain)  # blocks and gas instead of the fixed latency, when set
        self.state = risk.set_state(self.state, self.config.risk, lay.levels)  # the risk module's slots, when set
        if lay.clock_ns > 0:  # the strategy's clock ticks on multiples of its period, from the first one after the data start
            self.state.si[S.NEXT_CLOCK_T] = (int(first) // lay.clock_ns + 1) * lay.clock_ns
        self.done = False
        self.wall = 0.0
        self.jit_seconds = 0.0
        self._ready = False

    @property
    def now(self) -> int:
        return int(self.state.si[S.NOW])

    def run_until(self, t_ns: int) -> bool:
        """Replay every event stamped <= ``t_ns``; True when the day is over."""
        d = self.day
        loop = kernel_general.run_until if self.layout.general else kernel.run_until
        if not self._ready:  # first call: compile, or load the on-disk cache; timed apart from the replay
            t0 = time.perf_counter()
            loop(d.depth_ts, d.bid_px, d.bid_qty, d.ask_px, d.ask_qty, d.trade_ts, d.trade_px,
                 d.trade_qty, d.trade_side, self.ci, self.cf, self.params, self.state, np.int64(np.iinfo(np.int64).min))
            self.jit_seconds = time.perf_counter() - t0
            self._ready = True
        t0 = time.perf_counter()
        while True:
            code = loop(d.depth_ts, d.bid_px, d.bid_qty, d.ask_px, d.ask_qty, d.trade_ts, d.trade_px,
                        d.trade_qty, d.trade_side, self.ci, self.cf, self.params, self.state, np.int64(t_ns))
            if code in BUFFER_CODES:
                self.state = after_buffer_code(self.state, code)
            else:
                break
        chain.settle(self.state)  # on a chain, the gas of the last actions is in the cash and realized P&L
        self.wall += time.perf_counter() - t0
        self.done = code == kernel.END
        return self.done

    def run(self, map_over: str = "fills") -> BacktestResult:
        self.run_until(np.iinfo(np.int64).max)
        return self.result(map_over)

    def unrealized(self) -> float:
        d = self.day
        return float(accounting.unrealized_pnl(self.state, d.bid_px, d.bid_qty, d.ask_px, d.ask_qty, self.cf))

    def result(self, map_over: str = "fills") -> BacktestResult:
        st = self.state
        nf, ng = int(st.si[S.N_FILLS]), int(st.si[S.N_GRID])
        on_chain = self.config.chain is not None
        fills = {c: st.fill_f[:nf, j].copy() for j, c in enumerate(S.FILL_COLUMNS)
                 if on_chain or c not in S.CHAIN_FILL_COLUMNS}
        grid = {c: st.grid_f[:ng, j].copy() for j, c in enumerate(S.GRID_COLUMNS + self.layout.grid_names)}
        metrics = day_metrics(fills["realized_pnl"], fills["total_pnl"], fills["position"],
                              grid_total=grid["total_pnl"], grid_position=grid["position"], map_over=map_over)
        counters = {k: int(st.si[i]) for k, i in COUNTERS.items()}
        info = {
            "instrument": self.day.instrument, "date": str(self.day.date), "wall_seconds": self.wall,
            "jit_or_cache_load_seconds": self.jit_seconds,
            "events": self.day.n_depth + self.day.n_trades, "engine": self.config.to_dict(),
            "strategy": type(self.strategy).__name__ if self.strategy else None,
            "params": self.strategy.to_dict() if hasattr(self.strategy, "to_dict") else None,
            "final_position": float(st.sf[S.POSITION]), "fees": float(st.sf[S.FEES]),
            "volume": float(st.sf[S.VOLUME]), "trade_side_in_data": bool(self.day.has_side),
        }
        if on_chain:  # what the chain cost (alpha_as.engine.chain)
            gas, actions = float(st.sf[S.GAS]), int(st.si[S.N_REQUESTS])
            info["chain"] = {"gas": gas, "gas_per_fill": gas / nf if nf else None,
                             "gas_per_action": gas / actions if actions else None, "actions": actions,
                             "slipped_blocks": int(st.si[S.N_SLIPS])}
        if self.config.risk is not None:  # what the risk module denied and did (alpha_as.engine.risk)
            info["risk"] = risk.summary(st)
        res = BacktestResult(st.fill_t[:nf].copy(), fills, st.grid_t[:ng].copy(), grid, counters, metrics, info)
        first_h, last_h = getattr(self.strategy, "first_hour", None), getattr(self.strategy, "last_hour", None)
        if first_h is not None and last_h is not None:
            tod = self.day.depth_ts % (86_400 * 1_000_000_000)
            inside = (tod >= first_h * 3_600e9) & (tod < last_h * 3_600e9)
            res.hours, res.outside_hours = (first_h, last_h), int(len(tod) - np.count_nonzero(inside))
        return res


REWARDS = ("asymmetric_dampened", "total", "realized")


class SteppedBacktest:
    """A day replayed on a decision grid, for agents (``reset`` / ``step``).

    Decisions are taken every ``decision_seconds`` on the clock grid (default 5 s, the paper's step). An
    ``update`` is a dict of strategy parameters (for AS: ``{"risk_aversion": 0.2, "skew": 0.05}``) applied
    from the next snapshot on. The reward is the change over the step of the chosen P&L measure:
    "asymmetric_dampened" = realized + min(unrealized, 0) (the paper's reward), "total" or "realized".
    """

    def __init__(self, day: MarketDay, strategy: ASParams, config: EngineConfig | None = None,
                 decision_seconds: float = 5.0, reward: str = "asymmetric_dampened") -> None:
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}")
        self.day = day
        self.strategy = strategy
        cfg = config or EngineConfig()
        if cfg.grid_seconds != decision_seconds:
            cfg = EngineConfig(**{**cfg.to_dict(), "grid_seconds": decision_seconds})
        self.config = cfg
        self.reward_kind = reward
        self.bt: Backtest | None = None

    def _measure(self) -> float:
        st = self.bt.state
        realized = float(st.sf[S.REALIZED])
        if self.reward_kind == "realized":
            return realized
        unreal = self.bt.unrealized()
        return realized + (unreal if self.reward_kind == "total" else min(unreal, 0.0))

    def observation(self) -> dict:
        st = self.bt.state
        b = int(st.si[S.BOOK])
        mid = float(0.5 * (self.day.bid_px[b, 0] + self.day.ask_px[b, 0])) if b >= 0 else math.nan
        return {"t": self.bt.now, "mid": mid, "position": float(st.sf[S.POSITION]),
                "realized_pnl": float(st.sf[S.REALIZED]), "unrealized_pnl": self.bt.unrealized(),
                "n_fills": int(st.si[S.N_FILLS])}

    def reset(self, day: MarketDay | None = None) -> dict:
        """Start (another) day: the replay runs to the first decision time; returns the observation there."""
        if day is not None:
            self.day = day
        self.bt = Backtest(self.day, self.strategy, self.config)
        self.next_t = self.bt.first_grid
        self.bt.run_until(self.next_t)
        self.last_measure = self._measure()
        return self.observation()

    def step(self, update: dict | ASParams | None = None) -> tuple[dict, float, bool, dict]:
        """Apply ``update`` and replay to the next decision time of the grid."""
        if self.bt is None:
            raise RuntimeError("call reset() first")
        return self.step_to(self.next_t + self.bt.grid_ns, update)

    def step_to(self, t_ns: int, update: dict | ASParams | None = None) -> tuple[dict, float, bool, dict]:
        """Apply ``update`` (a dict of parameters to change, or a whole ASParams) and replay every event stamped
        <= ``t_ns`` (for decision times off the grid, e.g. the authors' timing); the reward is the measure's
        change since the previous step."""
        if self.bt is None:
            raise RuntimeError("call reset() first")
        if isinstance(update, ASParams):  # a whole parameter set (already validated)
            self.bt.strategy = update
            self.bt.params[:] = update.to_array()
        elif update:
            p = replace_checked(self.bt.strategy, update, source="step update")
            self.bt.strategy = p
            self.bt.params[:] = p.to_array()
        self.next_t = max(int(t_ns), self.next_t)
        done = self.bt.run_until(self.next_t) or self.next_t > self.bt.last_event
        m = self._measure()
        reward = m - self.last_measure
        self.last_measure = m
        return self.observation(), reward, done, {"t": self.next_t}

    def result(self, map_over: str = "fills") -> BacktestResult:
        return self.bt.result(map_over)
