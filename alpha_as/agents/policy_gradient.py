"""Risk aversion learned online by policy gradient (``risk_aversion = "policy_gradient"``, spec §3), NumPy only.

A strategy whose risk aversion is the string ``"policy_gradient"`` trades with a γ that this learner picks at every
decision epoch (``epoch_seconds``, default 5 s) and improves while it trades: no offline training, no torch.

Per epoch k, at the decision time t_k (the engine's 5-s grid, as the agents' decisions):

1. the reward of the previous epoch's γ (below) is normalised by an EWMA mean and standard deviation *before*
   it enters them, r̃ = (r − m)/(sd + ε), and the policy learns from it (GPOMDP with a trace)::

       θ ← θ + clip_norm(α_θ · r̃ · s² · e_θ)      ρ ← clip(ρ + α_ρ · r̃ · e_ρ, ρ_min, ρ_max)

2. the features x = [1, q/q_max, σ̂/σ̄, spread/tick, imbalance, t/T] are read from the book and the position;
   the four middle ones are standardised by their own EWMA mean and variance (z clipped to ±5); t/T, which only
   grows (its online z-score would never centre), enters as 2·t/T − 1 ∈ [−1, 1];
3. u = log γ is drawn from N(μ, s²), μ = θᵀx, s = e^ρ, and the traces take its score::

       e_θ ← λ·e_θ + (u − μ)/s² · x              e_ρ ← λ·e_ρ + ((u − μ)²/s² − 1)

4. the γ applied is exp(u) with log γ moved by at most ``max_log_gamma_change`` from the previous epoch's, then
   clipped to [γ_min, γ_max]; the score uses the sampled u (spec §3: clip after sampling).

Reward of an epoch (``reward``): ``"mtm_inventory"`` (default) = Δ(realized + unrealized P&L) − φ·q²·Δt, with
q the position in lots of the strategy's order size at the epoch's end and Δt in seconds (the engine's realized
P&L is already net of fees, so ΔMtM − fees is the change of the total P&L); ``"asymmetric_dampened"`` =
Δ(realized + min(unrealized, 0)), the paper's reward. During the first ``warmup_epochs`` the normalisers fill and
nothing is learned (γ is still drawn). σ̂ and σ̄ are the square roots of a fast and a slow EWMA of the squared mid
change per epoch; T the day's replay span. Learning stops while ``learn`` is false (e.g. the risk module not
ACTIVE, issue #15). Every draw comes from one seeded generator; its state is part of :class:`LearnerState`, which a
run saves and a later day may continue from (``--policy-state``).

Defaults are INFERRED (docs/replication-notes.md): spec §3 gives the design, not the numbers.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alpha_as.atomic import write_text_atomic
from alpha_as.configs import from_dict, read_json_file
from alpha_as.errors import InputError

POLICY_GRADIENT = "policy_gradient"
"""The value of a risk aversion that asks for this learner."""
REWARDS = ("mtm_inventory", "asymmetric_dampened")
FEATURES = ("bias", "inventory", "volatility_ratio", "spread_ticks", "imbalance", "time_fraction")
N_FEATURES = len(FEATURES)
STATE_FILE = "policy_gradient.json"
STATE_VERSION = 1
Z_CLIP = 5.0
EPS = 1e-12


@dataclass(frozen=True)
class PolicyGradientConfig:
    """The ``[policy_gradient]`` table: the learner's settings (all optional)."""

    epoch_seconds: float = 5.0
    """Seconds between decisions (the engine's grid)."""
    initial_gamma: float | None = None
    """Warm start of the policy mean (θ₀ = [log γ₀, 0, …]); None: the strategy's configured (or GA) γ."""
    gamma_min: float = 0.01
    """Lowest γ applied (the lower end of AS's gene range)."""
    gamma_max: float = 2.0
    """Highest γ applied."""
    initial_log_std: float = -1.5
    """ρ₀: the policy's starting log-std of log γ (s ≈ 0.22)."""
    log_std_min: float = -4.0
    """Floor of ρ (exploration never vanishes below s ≈ 0.018)."""
    log_std_max: float = 0.0
    """Ceiling of ρ (s ≤ 1)."""
    lr_mean: float = 0.02
    """α_θ, the step of the mean's weights."""
    lr_log_std: float = 0.002
    """α_ρ, the step of ρ."""
    trace_decay: float = 0.5
    """λ of the eligibility traces (0: plain REINFORCE on each epoch's reward)."""
    max_update_norm: float = 0.1
    """Largest ‖Δθ‖ of one update."""
    max_log_gamma_change: float = 0.25
    """Largest change of the applied log γ from one epoch to the next."""
    reward: str = "mtm_inventory"
    """"mtm_inventory": ΔMtM − φ·q²·Δt; "asymmetric_dampened": Δ(realized + min(unrealized, 0))."""
    inventory_penalty: float = 1e-6
    """φ, in quote currency per lot² per second (a lot = the strategy's order size)."""
    max_inventory_lots: float = 10.0
    """q_max: the inventory feature is q / q_max."""
    reward_halflife: float = 720.0
    """Half-life (epochs) of the reward's EWMA mean and variance (720 × 5 s = 1 h)."""
    feature_halflife: float = 720.0
    """Half-life (epochs) of the features' standardisation."""
    vol_fast_halflife: float = 12.0
    """Half-life (epochs) of σ̂ (12 × 5 s = 1 min)."""
    vol_slow_halflife: float = 720.0
    """Half-life (epochs) of σ̄."""
    warmup_epochs: int = 12
    """Epochs before the first update (the normalisers fill)."""
    learn: bool = True
    """False: act with the current policy, change nothing."""

    def __post_init__(self) -> None:
        pos = ("epoch_seconds", "gamma_min", "gamma_max", "lr_mean", "lr_log_std", "max_update_norm",
               "max_log_gamma_change", "max_inventory_lots", "reward_halflife", "feature_halflife",
               "vol_fast_halflife", "vol_slow_halflife")
        for name in pos:
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InputError(f"{name} must be > 0 and finite, got {v!r}")
        checks = [
            (self.gamma_min < self.gamma_max, f"need gamma_min < gamma_max, got {self.gamma_min!r} and "
             f"{self.gamma_max!r}"),
            (self.initial_gamma is None or (math.isfinite(self.initial_gamma) and self.initial_gamma > 0),
             f"initial_gamma must be > 0 and finite, got {self.initial_gamma!r}"),
            (self.log_std_min < self.log_std_max, f"need log_std_min < log_std_max, got {self.log_std_min!r} and "
             f"{self.log_std_max!r}"),
            (self.log_std_min <= self.initial_log_std <= self.log_std_max,
             f"initial_log_std must be in [log_std_min, log_std_max], got {self.initial_log_std!r}"),
            (0 <= self.trace_decay < 1, f"trace_decay must be in [0, 1), got {self.trace_decay!r}"),
            (self.reward in REWARDS, f"reward must be one of {', '.join(REWARDS)}, got {self.reward!r}"),
            (math.isfinite(self.inventory_penalty) and self.inventory_penalty >= 0,
             f"inventory_penalty must be >= 0 and finite, got {self.inventory_penalty!r}"),
            (self.warmup_epochs >= 0, f"warmup_epochs must be >= 0, got {self.warmup_epochs!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(msg)

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "[policy_gradient]") -> PolicyGradientConfig:
        return from_dict(cls, d, source=source)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _alpha(halflife: float) -> float:
    """EWMA weight of a new observation for a half-life in epochs."""
    return 1.0 - 0.5 ** (1.0 / halflife)


@dataclass
class LearnerState:
    """Everything the learner carries from one epoch (and one day) to the next."""

    theta: np.ndarray
    rho: float
    e_theta: np.ndarray = field(default_factory=lambda: np.zeros(N_FEATURES))
    e_rho: float = 0.0
    r_mean: float = 0.0
    r_var: float = 0.0
    r_n: int = 0
    f_mean: np.ndarray = field(default_factory=lambda: np.zeros(N_FEATURES - 2))
    f_var: np.ndarray = field(default_factory=lambda: np.zeros(N_FEATURES - 2))
    f_n: int = 0
    vol_fast: float = 0.0
    vol_slow: float = 0.0
    vol_n: int = 0
    last_mid: float = math.nan
    last_log_gamma: float = math.nan
    epochs: int = 0
    updates: int = 0
    rng: dict = field(default_factory=dict)

    @classmethod
    def fresh(cls, initial_gamma: float, config: PolicyGradientConfig, seed: int) -> LearnerState:
        theta = np.zeros(N_FEATURES)
        theta[0] = math.log(initial_gamma)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 14]))
        return cls(theta=theta, rho=float(config.initial_log_std), rng=rng.bit_generator.state)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, np.ndarray):
                d[k] = [float(x) for x in v]
            elif isinstance(v, float) and math.isnan(v):
                d[k] = None
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str) -> LearnerState:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(d, dict) or set(d) != names:
            raise InputError(f"{source}: not a policy-gradient learner state (keys {', '.join(sorted(names))})")
        kw = dict(d)
        try:
            for k in ("theta", "e_theta"):
                kw[k] = np.array(d[k], dtype=np.float64).reshape(N_FEATURES)
            for k in ("f_mean", "f_var"):
                kw[k] = np.array(d[k], dtype=np.float64).reshape(N_FEATURES - 2)
            for k in ("last_mid", "last_log_gamma"):
                kw[k] = math.nan if d[k] is None else float(d[k])
            for k in ("rho", "e_rho", "r_mean", "r_var", "vol_fast", "vol_slow"):
                kw[k] = float(d[k])
            for k in ("r_n", "f_n", "vol_n", "epochs", "updates"):
                kw[k] = int(d[k])
            np.random.default_rng().bit_generator.state = d["rng"]  # validates the generator state
        except (TypeError, ValueError, KeyError) as e:
            raise InputError(f"{source}: a malformed policy-gradient learner state ({e})") from None
        return cls(**kw)


def log_normal_score(u: float, mu: float, rho: float) -> tuple[float, float]:
    """(∂/∂μ, ∂/∂ρ) of log N(u; μ, s²) with s = e^ρ: ((u − μ)/s², (u − μ)²/s² − 1)."""
    s2 = math.exp(2.0 * rho)
    d = u - mu
    return d / s2, d * d / s2 - 1.0


def log_normal_density(u: float, mu: float, rho: float) -> float:
    """log N(u; μ, e^(2ρ))."""
    s = math.exp(rho)
    return -0.5 * ((u - mu) / s) ** 2 - rho - 0.5 * math.log(2.0 * math.pi)


class PolicyGradientGamma:
    """The online learner of log γ (see the module docstring); ``decide`` once per epoch."""

    def __init__(self, config: PolicyGradientConfig, initial_gamma: float, seed: int = 0,
                 state: LearnerState | None = None) -> None:
        self.config = config
        g0 = config.initial_gamma if config.initial_gamma is not None else initial_gamma
        self.state = state if state is not None else LearnerState.fresh(g0, config, seed)
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = self.state.rng
        self._pending = False  # an action whose reward has not been learned from yet

    # -------------------------------------------------------------------------------------- features
    def features(self, position_lots: float, mid: float, spread_ticks: float, imbalance: float,
                 time_fraction: float) -> np.ndarray:
        """x for this epoch (updates the volatility and standardisation statistics)."""
        c, s = self.config, self.state
        if math.isfinite(mid) and math.isfinite(s.last_mid):
            dm2 = (mid - s.last_mid) ** 2
            if s.vol_n == 0:
                s.vol_fast = s.vol_slow = dm2
            else:
                s.vol_fast += _alpha(c.vol_fast_halflife) * (dm2 - s.vol_fast)
                s.vol_slow += _alpha(c.vol_slow_halflife) * (dm2 - s.vol_slow)
            s.vol_n += 1
        if math.isfinite(mid):
            s.last_mid = mid
        vol_ratio = math.sqrt(s.vol_fast / s.vol_slow) if s.vol_slow > 0 else 1.0
        raw = np.array([position_lots / c.max_inventory_lots, vol_ratio, spread_ticks, imbalance])
        raw = np.where(np.isfinite(raw), raw, s.f_mean)  # a missing value: the feature's mean (z = 0)
        if s.f_n == 0:
            s.f_mean = raw.copy()
        else:
            a = _alpha(c.feature_halflife)
            d = raw - s.f_mean
            s.f_mean = s.f_mean + a * d
            s.f_var = (1 - a) * (s.f_var + a * d * d)
        s.f_n += 1
        z = np.where(s.f_var > EPS, (raw - s.f_mean) / np.sqrt(np.maximum(s.f_var, EPS)), 0.0)
        tf = 2.0 * min(max(time_fraction, 0.0), 1.0) - 1.0 if math.isfinite(time_fraction) else 0.0
        return np.concatenate([[1.0], np.clip(z, -Z_CLIP, Z_CLIP), [tf]])

    # ------------------------------------------------------------------------------------- acting
    def act(self, x: np.ndarray, frozen: bool = False) -> tuple[float, float, float, float]:
        """Draw u ~ N(θᵀx, s²), update the traces; returns (γ applied, u, μ, s). ``frozen`` (the risk module's
        trading state is not ACTIVE): u = μ, no draw, no trace update, and the next :meth:`learn` learns nothing."""
        c, s = self.config, self.state
        mu = float(s.theta @ x)
        sd = math.exp(s.rho)
        if frozen:
            u = mu
        else:
            u = mu + sd * float(self.rng.standard_normal())
            g_mu, g_rho = log_normal_score(u, mu, s.rho)
            if c.learn:
                s.e_theta = c.trace_decay * s.e_theta + g_mu * x
                s.e_rho = c.trace_decay * s.e_rho + g_rho
        applied = u
        if math.isfinite(s.last_log_gamma):
            cap = c.max_log_gamma_change
            applied = min(max(applied, s.last_log_gamma - cap), s.last_log_gamma + cap)
        applied = min(max(applied, math.log(c.gamma_min)), math.log(c.gamma_max))
        s.last_log_gamma = applied
        s.epochs += 1
        s.rng = self.rng.bit_generator.state
        self._pending = not frozen
        return math.exp(applied), u, mu, sd

    # ------------------------------------------------------------------------------------ learning
    def discard(self) -> None:
        """Learn nothing from the last action (its epoch ended outside ACTIVE trading)."""
        self._pending = False

    def learn(self, reward: float) -> float:
        """Learn from the reward of the last action; returns the normalised reward (NaN during warm-up)."""
        c, s = self.config, self.state
        if not self._pending or not math.isfinite(reward):
            return math.nan
        self._pending = False
        sd = math.sqrt(s.r_var)
        r_norm = (reward - s.r_mean) / (sd + EPS) if s.r_n >= 2 and sd > 0 else math.nan
        if s.r_n == 0:
            s.r_mean = reward
        else:
            a = _alpha(c.reward_halflife)
            d = reward - s.r_mean
            s.r_mean += a * d
            s.r_var = (1 - a) * (s.r_var + a * d * d)
        s.r_n += 1
        if not c.learn or s.epochs <= c.warmup_epochs or not math.isfinite(r_norm):
            return r_norm
        step = c.lr_mean * r_norm * math.exp(2.0 * s.rho) * s.e_theta
        norm = float(np.linalg.norm(step))
        if norm > c.max_update_norm:
            step *= c.max_update_norm / norm
        s.theta = s.theta + step
        s.rho = min(max(s.rho + c.lr_log_std * r_norm * s.e_rho, c.log_std_min), c.log_std_max)
        s.updates += 1
        return r_norm


# ------------------------------------------------------------------------------------------- persistence

def save_state(learner: PolicyGradientGamma, folder: str | Path) -> Path:
    """Write the learner's state and config to ``folder/policy_gradient.json`` (atomically)."""
    path = Path(folder) / STATE_FILE
    doc = {"version": STATE_VERSION, "config": learner.config.to_dict(), "state": learner.state.to_dict()}
    write_text_atomic(json.dumps(doc, indent=1, sort_keys=True), path)
    return path


def load_state(path: str | Path) -> LearnerState:
    """The learner state saved by :func:`save_state` (a folder holding policy_gradient.json, or the file)."""
    path = Path(path)
    if path.is_dir():
        path = path / STATE_FILE
    doc = read_json_file(path, "policy-gradient learner state")
    if doc.get("version") != STATE_VERSION or "state" not in doc:
        raise InputError(f"{path}: not a policy-gradient learner state of version {STATE_VERSION}")
    return LearnerState.from_dict(doc["state"], str(path))


# ---------------------------------------------------------------------------------------------- on a day

RISK_FIELDS = {"ASParams": ("risk_aversion", "quantity"), "HummingbotASParams": ("risk_factor", "order_amount")}
"""Per strategy parameter class: (the field the learner sets, the order size that makes a lot)."""


def risk_field(params: object) -> tuple[str, str]:
    """(risk-aversion field, order-size field) of a strategy's parameters; InputError when it takes none."""
    name = type(params).__name__
    if name not in RISK_FIELDS:
        raise InputError(f"risk aversion \"{POLICY_GRADIENT}\" applies to AS and Hummingbot's AS, not {name}")
    return RISK_FIELDS[name]


def split_policy_gradient(raw: dict, source: str) -> tuple[dict, PolicyGradientConfig | None]:
    """A strategy's parameter table without its ``risk_aversion`` / ``risk_factor = "policy_gradient"`` and its
    ``policy_gradient`` table; the learner's config (None when the risk aversion is a number)."""
    raw = dict(raw)
    table = raw.pop(POLICY_GRADIENT, None)
    keys = [k for k in ("risk_aversion", "risk_factor") if raw.get(k) == POLICY_GRADIENT]
    if not keys:
        if table is not None:
            raise InputError(f"{source}: a [{POLICY_GRADIENT}] table needs risk_aversion = \"{POLICY_GRADIENT}\"")
        return raw, None
    del raw[keys[0]]
    cfg = PolicyGradientConfig.from_dict(table or {}, source=f"{source} [{POLICY_GRADIENT}]")
    return raw, cfg


@dataclass
class LearnedGammaRun:
    """One day traded with the learned γ: the engine's result, one row per epoch, the learner after the day."""

    result: object
    t: np.ndarray
    gamma: np.ndarray
    u: np.ndarray
    mu: np.ndarray
    std: np.ndarray
    reward: np.ndarray
    reward_norm: np.ndarray
    learner: PolicyGradientGamma
    frozen: int = 0
    """Epochs frozen because the risk module's trading state was not ACTIVE at their start."""


LOOPS = ("compiled", "python")


def run_day(day, params, config: PolicyGradientConfig, *, seed: int = 0, state: LearnerState | None = None,
            engine=None, map_over: str = "fills", loop: str = "compiled") -> LearnedGammaRun:
    """Trade ``day`` with ``params`` (AS or Hummingbot's AS), γ chosen and learned every epoch. With a risk module
    (``engine.risk``) an epoch that starts while the trading state is not ACTIVE (REDUCING, or HALTED after a kill)
    acts on the policy's mean and learns nothing: its P&L says nothing about γ.

    ``loop = "compiled"`` (default) runs the epochs inside numba (:mod:`alpha_as.agents.policy_gradient_loop`),
    bit-identical to this Python loop (``"python"``, the reference; tests/test_policy_gradient_loop.py)."""
    if loop == "compiled":
        from alpha_as.agents.policy_gradient_loop import run_day as compiled_day

        return compiled_day(day, params, config, seed=seed, state=state, engine=engine, map_over=map_over)
    if loop != "python":
        raise ValueError(f"loop must be one of {LOOPS}, got {loop!r}")
    from alpha_as.engine import state as S
    from alpha_as.engine.backtest import SteppedBacktest

    gamma_key, size_key = risk_field(params)
    lot = float(getattr(params, size_key))
    learner = PolicyGradientGamma(config, float(getattr(params, gamma_key)), seed, state)
    kind = "total" if config.reward == "mtm_inventory" else "asymmetric_dampened"
    sb = SteppedBacktest(day, params, engine, decision_seconds=config.epoch_seconds, reward=kind)
    obs = sb.reset()
    bt = sb.bt
    t_first, span = bt.first_grid, max(bt.last_event - bt.first_grid, 1)
    tick = bt.config.tick
    rows: list[tuple] = []
    done = bt.done
    frozen = 0
    while not done:
        t = obs["t"]
        b = int(bt.state.si[S.BOOK])
        if b >= 0:
            bid, ask = float(day.bid_px[b, 0]), float(day.ask_px[b, 0])
            bq, aq = float(day.bid_qty[b, 0]), float(day.ask_qty[b, 0])
        else:
            bid = ask = bq = aq = math.nan
        imbalance = (bq - aq) / (bq + aq) if bq + aq > 0 else math.nan
        x = learner.features(obs["position"] / lot, 0.5 * (bid + ask), (ask - bid) / tick, imbalance,
                             (t - t_first) / span)
        freeze = int(bt.state.si[S.TRADING_STATE]) != 0  # 0 = ACTIVE, and always 0 without a risk module
        frozen += freeze
        gamma, u, mu, sd = learner.act(x, frozen=freeze)
        obs, reward, done, info = sb.step({gamma_key: gamma})
        if config.reward == "mtm_inventory":
            dt_s = (info["t"] - t) / 1e9
            reward -= config.inventory_penalty * (obs["position"] / lot) ** 2 * dt_s
        if int(bt.state.si[S.TRADING_STATE]) != 0:  # not ACTIVE by the epoch's end (e.g. a kill): no credit
            learner.discard()
        r_norm = learner.learn(reward)
        rows.append((t, gamma, u, mu, sd, reward, r_norm))
    arr = np.array(rows, dtype=np.float64).reshape(-1, 7)
    return LearnedGammaRun(sb.result(map_over), arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2], arr[:, 3],
                           arr[:, 4], arr[:, 5], arr[:, 6], learner, frozen)


def diagnostics(run: LearnedGammaRun) -> dict:
    """What the learner did on the day, reported beside its results: epochs and updates; the γ applied (median,
    10th and 90th percentiles) and the policy's central γ at the end; the policy's entropy (of log γ, nats) at the
    first and last epoch (does exploration collapse?); the correlation of the draw's deviation u − μ with the
    epoch's reward (the signal the gradient follows); the weights θ; the features' normaliser means at the end
    (input drift across days)."""
    s = run.learner.state
    n = len(run.t)
    ent = 0.5 * np.log(2 * np.pi * np.e * run.std ** 2) if n else np.array([])
    dev = run.u - run.mu
    ok = np.isfinite(run.reward)
    corr = float(np.corrcoef(dev[ok], run.reward[ok])[0, 1]) if ok.sum() > 2 and np.std(run.reward[ok]) > 0 else None
    q = (lambda p: float(np.quantile(run.gamma, p))) if n else (lambda p: None)
    return {"epochs": n, "updates": s.updates, "gamma_median": q(0.5), "gamma_p10": q(0.1), "gamma_p90": q(0.9),
            "final_mean_gamma": float(np.clip(math.exp(float(s.theta[0])), run.learner.config.gamma_min,
                                              run.learner.config.gamma_max)),
            "entropy_first": float(ent[0]) if n else None, "entropy_last": float(ent[-1]) if n else None,
            "corr_deviation_reward": corr, "theta": [float(x) for x in s.theta],
            "feature_means": dict(zip(FEATURES[1:5], (float(x) for x in s.f_mean), strict=True)),
            **({"frozen_epochs": run.frozen} if run.frozen else {})}


GRID_COLUMNS = ("risk_aversion", "pg_u", "pg_mu", "pg_std", "pg_reward", "pg_reward_norm")
"""The grid.parquet columns of a learned-γ run: per row, the epoch decided last strictly before it (γ applied, the
draw u, the mean μ and std s of log γ, the epoch's reward and its normalised value; NaN before the first)."""


def write_day(run: LearnedGammaRun, out: str | Path, extra: dict | None = None) -> Path:
    """BacktestResult.write, grid.parquet with :data:`GRID_COLUMNS`, and the learner's state (policy_gradient.json)."""
    import pyarrow as pa

    from alpha_as.data.store import write_table_atomic

    info = {"policy_gradient": {**diagnostics(run), "config": run.learner.config.to_dict()}}
    out = run.result.write(out, {**(extra or {}), **info})
    res = run.result
    idx = np.searchsorted(run.t, res.grid_ts, side="left") - 1
    ok = idx >= 0
    cols = {"timestamp": pa.array(res.grid_ts, pa.int64())}
    cols.update({k: pa.array(v) for k, v in res.grid.items()})
    for name, values in zip(GRID_COLUMNS, (run.gamma, run.u, run.mu, run.std, run.reward, run.reward_norm),
                            strict=True):
        col = np.full(len(idx), math.nan)
        if len(values):
            col[ok] = values[idx[ok]]
        cols[name] = pa.array(col)
    write_table_atomic(pa.table(cols), out / "grid.parquet")
    save_state(run.learner, out)
    return out
