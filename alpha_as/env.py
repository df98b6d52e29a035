"""The engine as a gymnasium environment: an agent picks the AS risk aversion γ and skew every 5 s.

:class:`AlphaASEnv` replays one market day per episode on the compiled engine
(:class:`~alpha_as.engine.backtest.SteppedBacktest`) with the Avellaneda–Stoikov strategy, and lets the agent
set γ and the skew at every decision time — the Alpha-AS setting (spec §6), open to any gymnasium agent:

* **observation** — the selected market features (default: the paper's 22,
  :data:`~alpha_as.agents.features.DEFAULT_FEATURES`) followed by the 10 private features (inventory and score
  buffers), built by :class:`~alpha_as.agents.observation.Observer`: ``Box(-inf, inf, (n_features + 10,),
  float32)``. The engine computes in float64; observations are cast to **float32** (what torch policies
  use). They are z-scored when a :class:`~alpha_as.agents.features.Normalizer` is given; missing history
  (e.g. lags before enough snapshots) is 0 and the vector is always finite. Without a normaliser the raw
  features differ in scale by ~10⁸ (prices vs. quantities): fit one, or wrap the env in
  ``gymnasium.wrappers.NormalizeObservation`` (or stable-baselines3's ``VecNormalize``).
* **action** — ``action_space="discrete"``: ``Discrete(20)``, the authors' (γ, skew) grid
  (:func:`~alpha_as.agents.actions.action_to_params`); ``"continuous"``: ``Box([0.01, -0.1], [0.9, 0.1])``
  = (γ, skew), clipped to the box (the discrete grid's range). Every other AS parameter comes from
  ``base_params`` (e.g. the Gen-AS GA's best individual). Before the first action the authors' override
  :data:`~alpha_as.agents.actions.INITIAL_PARAMS` is applied (γ 0.9, window 25; spec §6.3), and the window
  stays 25 for the whole episode. ``"depth"`` (the brief's spread agent, mbt_gym's action): ``Box([0, 0,
  s_lo·Q], [D, D, s_hi·Q])`` = (bid depth, ask depth in bps of the mid, order size), D = ``max_depth_bps``,
  (s_lo, s_hi) = ``size_range``, Q = ``base_params.quantity``; the quotes are then the depth quoter's
  (:mod:`alpha_as.strategies.depth_quoter`) in ``base_params``' trading hours, not AS's, starting at depths D/2
  and size Q before the first action.
* **step** — the observation at decision time ``t`` is the state after every event stamped ``<= t``; the
  chosen parameters quote from the next snapshot on, and the replay runs to ``t + decision_seconds``.
* **reward** — the change over the step of ``reward``: "asymmetric_dampened" (default, the paper's) =
  realized + min(unrealized, 0); "total" = realized + unrealized; "realized".
* **episode** — one day; ``terminated`` is True at its end, ``truncated`` is always False.
  ``info``: ``t`` (ns), ``mid``, ``position``, ``realized_pnl``, ``unrealized_pnl``, ``n_fills``, the applied
  ``risk_aversion`` and ``skew`` (``bid_depth_bps``, ``ask_depth_bps`` and ``quantity`` with the depth action),
  ``day`` (index) and ``date``. :meth:`AlphaASEnv.result` gives the episode's
  fills, grid and metrics (:class:`~alpha_as.engine.backtest.BacktestResult`).
* **days** — one :class:`~alpha_as.data.store.MarketDay`, or a sequence whose items are ``MarketDay`` objects
  or zero-argument loaders returning one (loaded at reset, so a long training set need not sit in memory),
  e.g. ``functools.partial(load_day, root, "btcusdt", date)``. ``day_order="cycle"`` (default) takes the days
  in order, one per reset, wrapping around; ``"random"`` draws one uniformly from the env's seeded
  ``np_random``. ``reset(seed=s)`` reseeds that generator and restarts the cycle at the first day, so a seeded
  reset always gives the same episode; ``reset(options={"day": i})`` replays day ``i`` (the cycle then
  continues after it).

No rendering (``render_mode`` None). The replay is deterministic: the same day and actions give the same
observations, rewards and fills.

Training a stable-baselines3 agent (the ``rl`` extra, installed by ``make install``; :mod:`alpha_as.agents.ppo` does it)::

    from stable_baselines3 import PPO
    env = AlphaASEnv(days, base_params=ga_best, normalizer=normalizer)
    PPO("MlpPolicy", env).learn(total_timesteps=200_000)

For the continuous variant SB3 recommends a [-1, 1] action box:
``gymnasium.wrappers.RescaleAction(AlphaASEnv(days, action_space="continuous"), -1.0, 1.0)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from alpha_as.agents.actions import INITIAL_PARAMS, N_ACTIONS, RISK_AVERSIONS, SKEWS, action_to_params
from alpha_as.agents.features import DEFAULT_FEATURES, PRIVATE_FEATURES, Normalizer, parse_feature
from alpha_as.agents.observation import Observer, decision_times
from alpha_as.data.store import MarketDay
from alpha_as.engine.backtest import REWARDS, BacktestResult, SteppedBacktest
from alpha_as.engine.config import EngineConfig
from alpha_as.strategies.avellaneda_stoikov import ASParams
from alpha_as.strategies.depth_quoter import DepthQuoterParams

__all__ = ["ACTION_HIGH", "ACTION_LOW", "AlphaASEnv"]

DayLoader = Callable[[], MarketDay]
ACTION_LOW = np.array([min(RISK_AVERSIONS), min(SKEWS)], dtype=np.float32)  # (γ, skew) = (0.01, -0.1)
ACTION_HIGH = np.array([max(RISK_AVERSIONS), max(SKEWS)], dtype=np.float32)  # (0.9, 0.1)
ACTION_KINDS = ("discrete", "continuous", "depth")
ACTION_INFO = {"discrete": ("risk_aversion", "skew"), "continuous": ("risk_aversion", "skew"),
               "depth": ("bid_depth_bps", "ask_depth_bps", "quantity")}
"""The applied parameters of each action kind, in ``info`` at every step."""
DAY_ORDERS = ("cycle", "random")
_F32_MAX = float(np.finfo(np.float32).max)


class AlphaASEnv(gym.Env):
    """One market day per episode; the agent sets the AS γ and skew every ``decision_seconds`` (module doc)."""

    metadata = {"render_modes": []}

    def __init__(self, days: MarketDay | Sequence[MarketDay | DayLoader], base_params: ASParams | None = None,
                 features: Sequence[str] = DEFAULT_FEATURES, normalizer: Normalizer | None = None,
                 action_space: str = "discrete", decision_seconds: float = 5.0,
                 reward: str = "asymmetric_dampened", config: EngineConfig | None = None,
                 day_order: str = "cycle", render_mode: str | None = None, max_depth_bps: float = 20.0,
                 size_range: tuple[float, float] = (0.5, 2.0)) -> None:
        super().__init__()
        if isinstance(days, MarketDay) or callable(days):
            days = [days]
        self.days = list(days)
        if not self.days:
            raise ValueError("AlphaASEnv needs at least one day")
        for d in self.days:
            if not (isinstance(d, MarketDay) or callable(d)):
                raise TypeError(f"a day must be a MarketDay or a zero-argument loader, got {type(d).__name__}")
        if action_space not in ACTION_KINDS:
            raise ValueError(f"action_space must be one of {ACTION_KINDS}, got {action_space!r}")
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
        if day_order not in DAY_ORDERS:
            raise ValueError(f"day_order must be one of {DAY_ORDERS}, got {day_order!r}")
        if not decision_seconds > 0:
            raise ValueError(f"decision_seconds must be > 0, got {decision_seconds}")
        if render_mode is not None:
            raise ValueError("AlphaASEnv does not render (render_mode must be None)")
        if not 0 < max_depth_bps < 10_000:
            raise ValueError(f"max_depth_bps must be in (0, 10000), got {max_depth_bps!r}")
        if len(size_range) != 2 or not 0 <= size_range[0] <= size_range[1] < np.inf:
            raise ValueError(f"size_range must be (low, high) with 0 <= low <= high, got {size_range!r}")
        self.render_mode = None
        self.features = list(features)
        for name in self.features:
            parse_feature(name)  # InputError for an unknown feature, before any episode
        self.feature_names = self.features + list(PRIVATE_FEATURES)
        if normalizer is not None and list(normalizer.names) != self.feature_names:
            raise ValueError("the normalizer was fitted on other features: expected "
                             f"{self.feature_names}, got {list(normalizer.names)}")
        self.normalizer = normalizer
        self.base_params = base_params if base_params is not None else ASParams()
        self.action_kind = action_space
        q = self.base_params.quantity
        if action_space == "depth":  # the depth quoter in the base's trading hours, from depths D/2 and size Q
            self.initial_params = DepthQuoterParams(max_depth_bps / 2, max_depth_bps / 2, q,
                                                    self.base_params.first_hour, self.base_params.last_hour)
        else:
            self.initial_params = dataclasses.replace(self.base_params, **INITIAL_PARAMS)
        self.decision_seconds = float(decision_seconds)
        self.reward_kind = reward
        self.config = config
        self.day_order = day_order

        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(len(self.feature_names),), dtype=np.float32)
        if action_space == "discrete":
            self.action_space = spaces.Discrete(N_ACTIONS)
            # the 20 discrete parameter sets, built once: a step then only copies a parameter vector
            self._action_params = [dataclasses.replace(self.initial_params, **action_to_params(i))
                                   for i in range(N_ACTIONS)]
            self._action_arrays = [p.to_array() for p in self._action_params]
        elif action_space == "continuous":
            self.action_space = spaces.Box(ACTION_LOW.copy(), ACTION_HIGH.copy(), dtype=np.float32)
        else:
            self.action_space = spaces.Box(np.array([0.0, 0.0, size_range[0] * q], dtype=np.float32),
                                           np.array([max_depth_bps, max_depth_bps, size_range[1] * q],
                                                    dtype=np.float32), dtype=np.float32)

        self._sbt: SteppedBacktest | None = None  # built at the first reset, on its day
        self._next_day = 0
        self._loaded: tuple[int, MarketDay, Observer | None] | None = None  # the current day, kept for re-resets
        self._observer: Observer | None = None
        self._terminated = True
        self.day_index = -1

    # ------------------------------------------------------------------------------------------ properties

    @property
    def n_days(self) -> int:
        return len(self.days)

    @property
    def backtest(self):
        """The running :class:`~alpha_as.engine.backtest.Backtest` (None before the first reset)."""
        return None if self._sbt is None else self._sbt.bt

    def result(self) -> BacktestResult:
        """Fills, grid records and metrics of the current episode so far."""
        if self._sbt is None:
            raise RuntimeError("call reset() first")
        return self._sbt.result()

    # ------------------------------------------------------------------------------------------ gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._next_day = 0
        if options and options.get("day") is not None:
            i = options["day"]
            if int(i) != i or not 0 <= int(i) < self.n_days:
                raise ValueError(f"options['day'] must be an integer in 0..{self.n_days - 1}, got {i!r}")
            i = int(i)
        elif self.day_order == "random":
            i = int(self.np_random.integers(self.n_days))
        else:
            i = self._next_day % self.n_days
        self._next_day = i + 1
        day = self._day(i)
        if self._sbt is None:
            self._sbt = SteppedBacktest(day, self.initial_params, self.config, self.decision_seconds,
                                        self.reward_kind)
        self._sbt.reset(day)  # a new Backtest with the initial parameters (γ 0.9, window 25)
        bt = self._sbt.bt
        if self._loaded is None or self._loaded[0] != i or self._loaded[2] is None:
            times = decision_times(bt.first_grid, bt.last_event, bt.grid_ns)
            self._loaded = (i, day, Observer(day, times, self.features, self.normalizer))
        self._observer = self._loaded[2]
        self.day_index = i
        self._terminated = False
        return self._observation(), self._info()

    def step(self, action):
        if self._sbt is None:
            raise RuntimeError("call reset() before step()")
        if self._terminated:
            raise RuntimeError("the episode is over (terminated); call reset()")
        bt = self._sbt.bt
        if self.action_kind == "discrete":
            a = _action_index(action)
            bt.strategy = self._action_params[a]
            bt.params[:] = self._action_arrays[a]
        else:
            if self.action_kind == "continuous":
                gamma, skew = _continuous_params(action)
                p = dataclasses.replace(self.initial_params, risk_aversion=gamma, skew=skew)
            else:
                bd, ad, qty = _box_action(action, self.action_space, "(bid_depth_bps, ask_depth_bps, quantity)")
                p = dataclasses.replace(self.initial_params, bid_depth_bps=bd, ask_depth_bps=ad, quantity=qty)
            bt.strategy = p
            bt.params[:] = p.to_array()
        # Backtest.params may be changed between replays (that is what SteppedBacktest.step(update) does)
        _, reward, done, _ = self._sbt.step(None)
        self._terminated = bool(done)
        return self._observation(), float(reward), self._terminated, False, self._info()

    # ------------------------------------------------------------------------------------------ helpers

    def _day(self, i: int) -> MarketDay:
        if self._loaded is not None and self._loaded[0] == i:
            return self._loaded[1]
        item = self.days[i]
        day = item if isinstance(item, MarketDay) else item()
        if not isinstance(day, MarketDay):
            raise TypeError(f"the loader of day {i} returned {type(day).__name__}, not a MarketDay")
        self._loaded = (i, day, None)
        return day

    def _observation(self) -> np.ndarray:
        x = self._observer(self._sbt.bt, self._sbt.next_t).astype(np.float32)
        return np.nan_to_num(x, nan=0.0, posinf=_F32_MAX, neginf=-_F32_MAX)

    def _info(self) -> dict[str, Any]:
        info = self._sbt.observation()
        info["t"] = int(self._sbt.next_t)
        p = self._sbt.bt.strategy
        for name in ACTION_INFO[self.action_kind]:
            info[name] = float(getattr(p, name))
        info["day"] = self.day_index
        info["date"] = str(self._sbt.day.date)
        return info


def _action_index(action) -> int:
    a = np.asarray(action)
    if a.size != 1:
        raise ValueError(f"a discrete action is one integer in 0..{N_ACTIONS - 1}, got {action!r}")
    v = a.item()
    if isinstance(v, float) and not v.is_integer():
        raise ValueError(f"a discrete action is an integer in 0..{N_ACTIONS - 1}, got {action!r}")
    i = int(v)
    if not 0 <= i < N_ACTIONS:
        raise ValueError(f"a discrete action is an integer in 0..{N_ACTIONS - 1}, got {action!r}")
    return i


def _box_action(action, box: spaces.Box, what: str) -> list[float]:
    """A Box action as floats, each clipped to the box."""
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    if a.shape != box.shape or not np.isfinite(a).all():
        raise ValueError(f"an action is {box.shape[0]} finite numbers {what}, got {action!r}")
    return np.clip(a, box.low.astype(np.float64), box.high.astype(np.float64)).tolist()


def _continuous_params(action) -> tuple[float, float]:
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    if a.shape != (2,) or not np.isfinite(a).all():
        raise ValueError(f"a continuous action is two finite numbers (risk_aversion, skew), got {action!r}")
    gamma = min(max(float(a[0]), min(RISK_AVERSIONS)), max(RISK_AVERSIONS))
    skew = min(max(float(a[1]), min(SKEWS)), max(SKEWS))
    return gamma, skew
