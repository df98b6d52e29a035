"""A PPO agent on the replay (issue #14 §2, spec §4): stable-baselines3's PPO on :class:`alpha_as.env.AlphaASEnv`.

One env per training day (a ``DummyVecEnv``, so the days are sampled in parallel rollouts), continuous actions
rescaled to [−1, 1] as SB3 recommends, observations normalised online by ``VecNormalize`` (its statistics are saved
with the model). Actions (``action``):

* ``"gamma_skew"`` — (γ, skew) of AS on the base parameters, the continuous analogue of the paper's 20;
* ``"depth"`` — (bid depth, ask depth, size): the brief's spread agent (mbt_gym's action), the depth quoter
  (:mod:`alpha_as.strategies.depth_quoter`) with depths in [0, ``max_depth_bps``] bps of the mid and a size in
  ``size_range`` × the base order size, in the base parameters' trading hours.

Rewards (``reward``):

* ``"asymmetric_dampened"`` — the paper's: Δ(realized + min(unrealized, 0));
* ``"inventory_penalty"`` — mbt_gym's running inventory penalty: Δ(total P&L) − φ·q²·Δt, q in lots of the order
  size, Δt in seconds.

Both are net of trading costs: the engine's realized P&L is net of fees and, on a chain, of gas.

``train`` writes into ``out``: ``model.zip`` (the policy), ``vecnormalize.pkl``, ``config.json`` (this config and
the base parameters), ``monitor/*.monitor.csv`` (every training episode's reward and length), ``curve.json``
(the mean episode reward per rollout) and ``checkpoints/`` every ``checkpoint_every`` steps. ``load`` restores it;
``act`` gives the deterministic action for an observation. A model is the same for the same config and seed
(torch on CPU, one thread).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np

from alpha_as.atomic import write_text_atomic
from alpha_as.configs import from_dict
from alpha_as.data.store import MarketDay
from alpha_as.engine.config import EngineConfig
from alpha_as.errors import InputError
from alpha_as.strategies.avellaneda_stoikov import ASParams

REWARDS = ("asymmetric_dampened", "inventory_penalty")
ACTIONS = {"gamma_skew": "continuous", "depth": "depth"}
"""The PPO action kinds and the env's action space of each."""


@dataclass(frozen=True)
class PPOConfig:
    """Settings of ``alpha-as train ppo`` (SB3's PPO defaults where not said otherwise)."""

    action: str = "gamma_skew"
    """"gamma_skew": (γ, skew) in the box of the paper's actions ([0.01, 0.9] × [−0.1, 0.1]); "depth": (bid depth,
    ask depth, size) of the depth quoter."""
    max_depth_bps: float = 10.0
    """"depth": the largest depth from the mid, bps (on the synthetic market a fixed 1 bp gives ~17,600 fills a
    day, 5 bps ~430, 8 bps ~140)."""
    size_range: list[float] = field(default_factory=lambda: [0.5, 2.0])
    """"depth": the order size's range, in multiples of the base parameters' quantity."""
    reward: str = "asymmetric_dampened"
    """"asymmetric_dampened" (the paper's) or "inventory_penalty" (Δ total P&L − φ·q²·Δt)."""
    inventory_penalty: float = 1e-6
    """φ of "inventory_penalty", quote currency per lot² per second."""
    total_timesteps: int = 100_000
    """Environment steps of training (5-s decisions, over all training days)."""
    n_steps: int = 512
    """Steps per env per rollout (SB3's default 2048 is almost a third of a 12-h day per update)."""
    batch_size: int = 64
    n_epochs: int = 10
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden layers of the policy and value networks."""
    decision_seconds: float = 5.0
    seed: int = 0
    checkpoint_every: int = 50_000
    """Save a checkpoint every this many steps (0: none)."""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise InputError(f"action must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        if self.reward not in REWARDS:
            raise InputError(f"reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
        for name in ("total_timesteps", "n_steps", "batch_size", "n_epochs"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("learning_rate", "decision_seconds"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InputError(f"{name} must be > 0 and finite, got {v!r}")
        if not (0 < self.gamma <= 1 and 0 < self.gae_lambda <= 1 and 0 < self.clip_range < 1):
            raise InputError("need 0 < gamma <= 1, 0 < gae_lambda <= 1 and 0 < clip_range < 1")
        if not (math.isfinite(self.inventory_penalty) and self.inventory_penalty >= 0):
            raise InputError(f"inventory_penalty must be >= 0 and finite, got {self.inventory_penalty!r}")
        if not self.net_arch or any(not isinstance(n, int) or n < 1 for n in self.net_arch):
            raise InputError(f"net_arch must list positive layer sizes, got {self.net_arch!r}")
        if not (math.isfinite(self.max_depth_bps) and 0 < self.max_depth_bps < 10_000):
            raise InputError(f"max_depth_bps must be in (0, 10000), got {self.max_depth_bps!r}")
        sr = self.size_range
        if (not isinstance(sr, (list, tuple)) or len(sr) != 2 or not all(isinstance(x, (int, float)) for x in sr)
                or not 0 < sr[0] <= sr[1] < math.inf):
            raise InputError(f"size_range must be [low, high] with 0 < low <= high, got {sr!r}")
        if self.checkpoint_every < 0 or self.seed < 0:
            raise InputError("checkpoint_every and seed must be >= 0")

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "PPO config") -> PPOConfig:
        return from_dict(cls, d, source=source)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class InventoryPenalty(gym.Wrapper):
    """Δ(total P&L) − φ·q²·Δt on an env whose reward is Δ(total P&L) (q from ``info["position"]`` in lots)."""

    def __init__(self, env: gym.Env, phi: float, lot: float, dt_s: float) -> None:
        super().__init__(env)
        self.phi, self.lot, self.dt_s = phi, lot, dt_s

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        q = info["position"] / self.lot
        return obs, reward - self.phi * q * q * self.dt_s, terminated, truncated, info


def make_env(day: MarketDay, base: ASParams, config: PPOConfig, engine: EngineConfig | None = None,
             monitor: str | None = None) -> gym.Env:
    """The training / test env of one day: AlphaASEnv (continuous), the reward, actions rescaled to [−1, 1]."""
    from stable_baselines3.common.monitor import Monitor

    from alpha_as.env import AlphaASEnv

    kind = "total" if config.reward == "inventory_penalty" else "asymmetric_dampened"
    env: gym.Env = AlphaASEnv(day, base_params=base, action_space=ACTIONS[config.action], reward=kind, config=engine,
                              decision_seconds=config.decision_seconds, max_depth_bps=config.max_depth_bps,
                              size_range=tuple(config.size_range))
    if config.reward == "inventory_penalty":
        env = InventoryPenalty(env, config.inventory_penalty, base.quantity, config.decision_seconds)
    n = env.action_space.shape[0]  # float32 bounds: float64 ones make gymnasium warn at every env
    env = gym.wrappers.RescaleAction(env, np.full(n, -1.0, np.float32), np.full(n, 1.0, np.float32))
    return Monitor(env, monitor) if monitor else env


def _vec(days: Sequence[MarketDay], base: ASParams, config: PPOConfig, engine: EngineConfig | None,
         monitor_dir: Path | None):
    from stable_baselines3.common.vec_env import DummyVecEnv

    def factory(i: int):
        mon = None if monitor_dir is None else str(monitor_dir / f"day{i}")
        return lambda: make_env(days[i], base, config, engine, mon)

    return DummyVecEnv([factory(i) for i in range(len(days))])


def train(days: Sequence[MarketDay], base: ASParams, config: PPOConfig, out: str | Path, *,
          engine: EngineConfig | None = None, progress: bool = True):
    """Train PPO on ``days`` (one env each) and save it in ``out``; returns the model."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
    from stable_baselines3.common.vec_env import VecNormalize

    if not days:
        raise InputError("train ppo needs at least one training day")
    torch.set_num_threads(1)
    out = Path(out)
    (out / "monitor").mkdir(parents=True, exist_ok=True)
    venv = VecNormalize(_vec(days, base, config, engine, out / "monitor"), norm_obs=True, norm_reward=False,
                        gamma=config.gamma)
    venv.seed(config.seed)
    model = PPO("MlpPolicy", venv, n_steps=config.n_steps, batch_size=config.batch_size, n_epochs=config.n_epochs,
                learning_rate=config.learning_rate, gamma=config.gamma, gae_lambda=config.gae_lambda,
                clip_range=config.clip_range, ent_coef=config.ent_coef, seed=config.seed, device="cpu",
                policy_kwargs={"net_arch": list(config.net_arch)}, verbose=0)
    curve: list[dict] = []

    class Curve(BaseCallback):
        """The mean reward of the episodes finished in each rollout, and a tqdm bar over the steps."""

        def __init__(self) -> None:
            super().__init__()
            self.bar = None

        def _on_training_start(self) -> None:
            if progress:
                from alpha_as.progress import progress_bar

                self.bar = progress_bar(config.total_timesteps, "PPO", "step")

        def _on_step(self) -> bool:
            if self.bar is not None:
                self.bar.update(self.training_env.num_envs)
            for info in self.locals.get("infos", []):
                ep = info.get("episode")
                if ep:
                    curve.append({"step": int(self.num_timesteps), "reward": float(ep["r"]), "length": int(ep["l"])})
            return True

        def _on_training_end(self) -> None:
            if self.bar is not None:
                self.bar.close()

    callbacks = [Curve()]
    if config.checkpoint_every:
        callbacks.append(CheckpointCallback(max(config.checkpoint_every // len(days), 1), str(out / "checkpoints"),
                                            name_prefix="ppo", save_vecnormalize=True))
    model.learn(total_timesteps=config.total_timesteps, callback=CallbackList(callbacks))
    model.save(out / "model.zip")
    venv.save(str(out / "vecnormalize.pkl"))
    write_text_atomic(json.dumps({"config": config.to_dict(), "base_params": base.to_dict(),
                                  "engine": (engine or EngineConfig()).to_dict(),
                                  "days": [str(d.date) for d in days]}, indent=1), out / "config.json")
    write_text_atomic(json.dumps({"episodes": curve}, indent=1), out / "curve.json")
    return model


@dataclass
class PPOAgent:
    """A trained PPO agent, loaded from its folder (:func:`load`)."""

    model: object
    obs_rms: object
    clip_obs: float
    epsilon: float
    config: PPOConfig
    base: ASParams
    engine: EngineConfig

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The deterministic action in [−1, 1]ⁿ for a raw observation (normalised with the training statistics)."""
        x = np.clip((obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon), -self.clip_obs,
                    self.clip_obs).astype(np.float32)
        action, _ = self.model.predict(x, deterministic=True)
        return action


def load(folder: str | Path) -> PPOAgent:
    """The agent saved by :func:`train` (one line naming the folder when something is missing)."""
    import pickle

    from stable_baselines3 import PPO

    folder = Path(folder)
    for name in ("model.zip", "vecnormalize.pkl", "config.json"):
        if not (folder / name).is_file():
            raise InputError(f"{folder}: not a PPO model folder (no {name}; write one with `alpha-as train ppo`)")
    doc = json.loads((folder / "config.json").read_text())
    with open(folder / "vecnormalize.pkl", "rb") as f:
        vn = pickle.load(f)  # noqa: S301 - our own file, written by train
    model = PPO.load(folder / "model.zip", device="cpu")
    return PPOAgent(model, vn.obs_rms, float(vn.clip_obs), float(vn.epsilon),
                    PPOConfig.from_dict(doc["config"]), ASParams.from_dict(doc["base_params"]),
                    EngineConfig.from_dict(doc["engine"]))


def action_columns(config: PPOConfig) -> tuple[str, ...]:
    """The applied parameters an action sets (the columns of :func:`run_day`'s actions)."""
    from alpha_as.env import ACTION_INFO

    return ACTION_INFO[ACTIONS[config.action]]


def run_day(agent: PPOAgent, day: MarketDay, engine: EngineConfig | None = None, base: ASParams | None = None):
    """Play one day with the agent's deterministic actions on ``base`` (default: the parameters it was trained on;
    a protocol passes the session's, e.g. its trading hours); returns (BacktestResult, the applied actions (n, k)
    in the units of :func:`action_columns`, the per-step rewards)."""
    env = make_env(day, base or agent.base, agent.config, engine or agent.engine)
    cols = action_columns(agent.config)
    obs, _ = env.reset(seed=0)
    actions, rewards = [], []
    done = False
    while not done:
        a = agent.act(obs)
        obs, r, terminated, truncated, info = env.step(a)
        actions.append([info[c] for c in cols])
        rewards.append(r)
        done = terminated or truncated
    return env.unwrapped.result(), np.array(actions).reshape(-1, len(cols)), np.array(rewards)


def day_summary(agent: PPOAgent, actions: np.ndarray, rewards: np.ndarray) -> dict:
    """The ``ppo`` block of a day's metrics.json: the action kind, steps, summed reward, each column's mean."""
    cols = action_columns(agent.config)
    return {"action": agent.config.action, "steps": len(rewards), "reward": float(rewards.sum()),
            **{f"{c}_mean": float(actions[:, k].mean()) if len(actions) else None for k, c in enumerate(cols)}}


def day_actions(agent: PPOAgent, actions: np.ndarray, rewards: np.ndarray) -> dict:
    """actions.json: every step's applied parameters (one list per column) and reward."""
    cols = action_columns(agent.config)
    return {**{c: actions[:, k].tolist() for k, c in enumerate(cols)}, "reward": rewards.tolist()}
