"""The agents' configurations, without torch: ``DQNConfig`` (the Q-learning core) and ``AlphaASConfig`` (how
an Alpha-AS agent is built, trained and tested). Kept apart from the torch code so that validating a config
(e.g. a protocol file in ``alpha-as replicate``) does not load torch into the process.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from alpha_as.agents.actions import N_ACTIONS
from alpha_as.agents.features import DEFAULT_FEATURES, PRIVATE_FEATURES
from alpha_as.configs import from_dict
from alpha_as.engine.config import EngineConfig
from alpha_as.errors import InputError

AGENTS = {"alpha-as-1": "ff", "alpha-as-2": "lstm"}
TIMINGS = ("grid", "authors")
INPUTS = ("paper", "stationary")
DAY_ENDS = ("continue", "terminal", "terminal_unwind")
REWARD_UNITS = ("usd", "bps")
REWARD_SCALINGS = ("none", "std")
DECISION_LOOPS = ("compiled", "python")

SOUND: dict[str, object] = {
    "preset": "sound", "q_target": "double", "inputs": "stationary", "z_clip": 5.0,
    "day_end": "terminal_unwind", "reward_unit": "bps", "reward_scaling": "std",
}
"""The repaired learner (``preset = "sound"``, not the paper's): every departure is its own option, documented in
docs/replication-notes.md. The DQN side is the ``"sound"`` entry of :data:`PRESETS`."""

MODEL_AGENTS: dict[str, tuple[str, dict[str, object]]] = {
    "alpha-as-1": ("alpha-as-1", {}),
    "alpha-as-2": ("alpha-as-2", {}),
    "alpha-as-1-sound": ("alpha-as-1", SOUND),
    "alpha-as-2-sound": ("alpha-as-2", SOUND),
}
"""Model name -> (agent, AlphaASConfig overrides). The ``-sound`` models are the repaired learner on the same
networks; their names say that they are not the paper's models."""


def model_agent(name: str) -> tuple[str, dict[str, object]]:
    """(agent, AlphaASConfig overrides) of an agent model name (``alpha-as-1``, ``alpha-as-1-sound``, ...)."""
    if name not in MODEL_AGENTS:
        raise InputError(f"unknown agent model {name!r}; known: {', '.join(MODEL_AGENTS)}")
    return MODEL_AGENTS[name]


@dataclass(frozen=True)
class DQNConfig:
    """DQN hyper-parameters. Defaults: the authors' ``avellaneda_dqn.py`` DEFAULT (spec §6.5, §9 #22)."""

    n_inputs: int = 32
    """Features per state (22 market + 10 private in the authors' notebook, spec §6.2)."""
    variant: str = "ff"
    """"ff" = Alpha-AS-1 (Dense-ReLU, Dense-ReLU, out); "lstm" = Alpha-AS-2 (Dense-ReLU, LSTM, out)."""
    seq_len: int = 1
    """LSTM only: states per input sequence (the last L states, oldest first). INFERRED default 1: the authors
    feed the LSTM the 2-D matrix of replay rows, one state per row (rows are merged by state, so no sequence
    survives in their memory), and DL4J's FeedForwardToRnnPreProcessor turns [rows, n] into sequences of
    length 1. L > 1 (e.g. 5, their private-feature horizon) gives the LSTM a real history, at ~L× the cost."""
    hidden_multiplier: float = 2.0
    """H = round(hidden_multiplier · (n_inputs + 20)); 2 → 104 for 32 inputs (authors)."""
    output_activation: str = "tanh"
    """"tanh" (authors, outputs in (−1, 1), spec §9 #4) or "linear"."""
    q_target: str = "double"
    """"double" (textbook double DQN) or "authors" (tabular blend on per-state rows), see the module doc."""
    alpha: float = 0.85
    """α of the authors' blend (their `learningRate`); unused by "double"."""
    discount: float = 0.75
    """γd, the discount factor (γ is the AS risk aversion)."""
    memory_size: int = 10_000
    """Replay capacity in rows (authors' maxBatchSize; paper: 10,000 rows of experiences)."""
    optimizer: str = "nesterov"
    """"nesterov" (SGD with Nesterov momentum, authors) or "adam"."""
    lr: float = 0.01
    """Network learning rate (authors' learningRateNN)."""
    momentum: float = 0.5
    """Nesterov momentum (authors' momentumNesterov); unused by Adam."""
    epochs: int = 75
    """Maximum epochs per fit."""
    batch_size: int = 500
    """Mini-batch size."""
    val_fraction: float = 0.25
    """Held-out share for early stopping (paper: "25% of the training sets")."""
    eval_every: int = 5
    """Evaluate the validation RMSE every this many epochs (and after the last); the best model is kept."""
    early_stop_decimals: int | None = None
    """Round the validation RMSE to this many decimals before comparing (authors: 2). INFERRED default None:
    with rewards of 1e-3..1e-1 USD, rounding to 2 decimals would freeze the first evaluated model."""
    max_fit_seconds: float | None = None
    """Wall-clock cap per fit (authors: 300 s). None by default, since a wall-clock cap is not reproducible."""
    min_rows: int = 100
    """Fits are skipped below this many memory rows (authors)."""
    normalize: bool = True
    """z-score the inputs with mean/std of the training split, as the authors' NormalizerStandardize."""
    ignore_zero_outputs: bool = False
    """Greedy choice ignores outputs exactly 0 (the authors' EpsilonGreedyExploration does)."""
    out_init_scale: float = 1.0
    """Multiplies the output layer's Xavier init (sound: 0.01, so that fresh Q-values start near 0 instead of with
    a std of ~0.4 against rewards 30× smaller)."""
    target_update: str = "copy"
    """"copy": the target network changes only when the protocol calls ``copy_target`` (paper: after every
    training fit, every 8 h of test market time). "polyak": the target follows the online net by Polyak
    averaging (``tau``) after every Bellman iteration of a fit, so it always lags; the protocol's copy calls are
    then ignored."""
    tau: float = 0.1
    """Polyak rate of ``target_update = "polyak"`` (target ← (1 − τ)·target + τ·online)."""
    bellman_iterations: int = 1
    """Fitted-Q iterations per fit: targets recomputed (from the lagged target net) this many times, each followed
    by ``epochs`` epochs of regression. 1 = the paper's one regression of one-step targets with early stopping;
    > 1 trains every iteration for ``epochs`` epochs and keeps the last model (no rollback, which would undo
    value propagation)."""
    loss: str = "mse"
    """"mse" (authors) or "huber" (smooth L1 on the scaled rewards; robust to heavy-tailed P&L steps)."""
    seed: int = 0
    """Seed of the weight init (torch.Generator) and of ε-greedy, shuffles and splits (numpy Generator)."""
    deterministic: bool = True
    """Call torch.use_deterministic_algorithms(True) when an agent is built."""

    def __post_init__(self) -> None:
        checks = [
            (self.n_inputs >= 1, f"n_inputs must be >= 1, got {self.n_inputs!r}"),
            (self.variant in ("ff", "lstm"), f"variant must be 'ff' or 'lstm', got {self.variant!r}"),
            (self.seq_len >= 1, f"seq_len must be >= 1, got {self.seq_len!r}"),
            (0 < self.hidden_multiplier < math.inf,
             f"hidden_multiplier must be > 0 and finite, got {self.hidden_multiplier!r}"),
            (self.output_activation in ("tanh", "linear"),
             f"output_activation must be 'tanh' or 'linear', got {self.output_activation!r}"),
            (self.q_target in ("double", "authors"), f"q_target must be 'double' or 'authors', got {self.q_target!r}"),
            (0 < self.alpha <= 1, f"alpha must be in (0, 1], got {self.alpha!r}"),
            (0 <= self.discount < 1, f"discount must be in [0, 1), got {self.discount!r}"),
            (self.memory_size >= 1, f"memory_size must be >= 1, got {self.memory_size!r}"),
            (self.optimizer in ("nesterov", "adam"), f"optimizer must be 'nesterov' or 'adam', got {self.optimizer!r}"),
            (0 < self.lr < math.inf, f"lr must be > 0 and finite, got {self.lr!r}"),
            (0 < self.momentum < 1, f"momentum must be in (0, 1), got {self.momentum!r}"),
            (self.epochs >= 1 and self.batch_size >= 1 and self.eval_every >= 1,
             f"epochs, batch_size, eval_every must be >= 1, got {self.epochs!r}, {self.batch_size!r}, "
             f"{self.eval_every!r}"),
            (0 < self.val_fraction < 1, f"val_fraction must be in (0, 1), got {self.val_fraction!r}"),
            (self.early_stop_decimals is None or self.early_stop_decimals >= 0,
             f"early_stop_decimals must be >= 0 (or absent), got {self.early_stop_decimals!r}"),
            (self.max_fit_seconds is None or 0 < self.max_fit_seconds < math.inf,
             f"max_fit_seconds must be > 0 and finite (or absent), got {self.max_fit_seconds!r}"),
            (self.min_rows >= 2, f"min_rows must be >= 2, got {self.min_rows!r}"),
            (0 < self.out_init_scale < math.inf, f"out_init_scale must be > 0 and finite, got {self.out_init_scale!r}"),
            (self.target_update in ("copy", "polyak"),
             f"target_update must be 'copy' or 'polyak', got {self.target_update!r}"),
            (0 < self.tau <= 1, f"tau must be in (0, 1], got {self.tau!r}"),
            (self.bellman_iterations >= 1, f"bellman_iterations must be >= 1, got {self.bellman_iterations!r}"),
            (self.loss in ("mse", "huber"), f"loss must be 'mse' or 'huber', got {self.loss!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(f"DQN config: {msg}")

    @property
    def hidden(self) -> int:
        return max(1, round(self.hidden_multiplier * (self.n_inputs + N_ACTIONS)))

    @property
    def state_dim(self) -> int:
        """Length of the state vectors the agent takes: n_inputs, or seq_len·n_inputs for the LSTM."""
        return self.n_inputs * (self.seq_len if self.variant == "lstm" else 1)

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "DQN config") -> DQNConfig:
        return from_dict(cls, d, source=source)

    @classmethod
    def preset(cls, name: str, **overrides) -> DQNConfig:
        """A named preset ("default" or "notebook", spec §6.5 table) with field overrides."""
        if name not in PRESETS:
            raise InputError(f"DQN preset {name!r} unknown; known: {', '.join(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides}, source=f"DQN preset {name!r}")


PRESETS: dict[str, dict] = {
    "default": {},  # avellaneda_dqn.py DEFAULT: α 0.85, γd 0.75, batch 500, epochs 75
    "notebook": {"alpha": 0.95, "discount": 0.95, "batch_size": 5000, "epochs": 300},  # memory-replay notebook
    # the repaired learner (not the paper's): linear small-initialised output, Polyak-lagged target, fitted-Q
    # iterations, Huber loss with Adam, a larger memory; see docs/replication-notes.md
    "sound": {"output_activation": "linear", "out_init_scale": 0.01, "target_update": "polyak", "tau": 0.1,
              "bellman_iterations": 10, "epochs": 1, "batch_size": 500, "optimizer": "adam", "lr": 0.001,
              "loss": "huber", "memory_size": 20_000},
}


@dataclass(frozen=True)
class AlphaASConfig:
    """How an Alpha-AS agent is built, trained and tested. Saved in the model folder's alpha_as.json."""

    agent: str = "alpha-as-1"
    """"alpha-as-1" (feed-forward DQN) or "alpha-as-2" (LSTM DQN). INFERRED mapping, spec §6.5."""
    preset: str = "default"
    """DQN preset: "default" (75 epochs, batch 500, α 0.85, γd 0.75), "notebook" (300, 5000, 0.95, 0.95) or
    "sound" (the repaired learner, with :data:`SOUND`'s other settings; not the paper's)."""
    q_target: str = "double"
    """Q targets: "double" (textbook double DQN, default) or "authors" (the authors' blended tabular rule)."""
    epochs: int | None = None
    """Override of the preset's maximum epochs per fit (None = the preset's)."""
    batch_size: int | None = None
    """Override of the preset's mini-batch size (None = the preset's)."""
    iterations: int = 10
    """Training iterations; iteration i uses ε = 1 − i/iterations (paper: 10)."""
    runs: int = 5
    """Backtests of the training day per iteration, merged (paper: 5)."""
    workers: int = 1
    """Worker processes for an iteration's runs (spawn); 1 = in-process. Results do not depend on it."""
    seed: int = 0
    """Master seed: agent weights, per-run seeds (SeedSequence(seed, iteration, run)) and memory merges."""
    decision_seconds: float = 5.0
    """Decision period on the fixed clock grid (paper: 5 s)."""
    timing: str = "grid"
    """"grid": decide every ``decision_seconds`` on a fixed clock grid (default). "authors": the authors' code
    (spec §6.4, §9 #2): act at a snapshot, take the reward at the first snapshot >= 6 s later (the next
    state s' is the state there), act again at the snapshot after that (an ≈ 7-s cycle; the P&L between
    the reward snapshot and the next action belongs to no reward)."""
    test_epsilon: float = 0.2
    """ε during the test days (authors' default)."""
    target_copy_hours: float = 8.0
    """Test: the target network is copied from the prediction network every this many hours of market time
    (counted across days). Training copies it after each iteration's fit."""
    features: tuple[str, ...] = DEFAULT_FEATURES
    """Market features of the state (the 10 private features are always appended)."""
    window: str = "07:00-19:00"
    """UTC window of each day replayed ("all" = whole day)."""
    torch_threads: int = 1
    """torch threads for fits in the main process (workers use 1); fixed so that floats sums are reproducible."""
    engine: dict = field(default_factory=dict)
    """EngineConfig overrides (fill model, latency, fees, ...) for training and test; default: the authors' engine."""
    map_over: str = "fills"
    """P&L-to-MAP denominator of the day metrics: mean |position| over "fills" (authors') or the 5-s "grid"."""
    inputs: str = "paper"
    """"paper": the features as the authors compute them (raw price levels, inventory / 0.0001, cumulative
    dampened P&L / 0.0001). "stationary" (sound): price levels and distances in bps of the current mid, sizes,
    inventory (in order sizes) and the per-fill changes of the dampened P&L (in bps of the order's notional)
    log-compressed; see :mod:`alpha_as.agents.observation`."""
    z_clip: float | None = None
    """Clip the z-scored state to ±z_clip (sound: 5), so that the test days' inputs stay in the range the network
    was trained on (None = no clipping, the authors' NormalizerStandardize)."""
    day_end: str = "continue"
    """"continue" (paper: no terminal states, the day's last transition bootstraps); "terminal": the last
    transition of a day is terminal (target = reward); "terminal_unwind": terminal, and its reward is measured
    on realized + unrealized P&L (the inventory unwound at the book), so that the value of the inventory the day
    drops is charged (sound)."""
    reward_unit: str = "usd"
    """"usd" (paper) or "bps": the step's reward in basis points of the order's notional (quantity × mid)."""
    dqn: dict = field(default_factory=dict)
    """Overrides of DQNConfig fields on top of the preset (e.g. ``{lr = 0.003, bellman_iterations = 20}``)."""
    reward_scaling: str = "none"
    """"none" (paper) or "std": rewards (in ``reward_unit``) divided by their standard deviation over the first
    training iteration, fixed from then on and saved with the model (like the input normaliser), so that the
    network regresses values of order 1 whatever the market's price level and volatility (sound)."""
    decision_loop: str = "compiled"
    """"compiled": a day's decisions run inside numba (:mod:`alpha_as.agents.decision_loop`: features, z-score,
    Q forward, ε-greedy, AS switch, engine, reward, memory), bit-identical to "python", the reference loop of
    :func:`alpha_as.agents.alpha_as.run_day` (tests/test_decision_loop.py). Configurations the compiled loop
    does not cover (timing "authors", q_target "authors", inputs "stationary") run on the Python loop."""

    def __post_init__(self) -> None:
        if self.agent not in AGENTS:
            raise InputError(f"Alpha-AS config: agent must be one of {', '.join(AGENTS)}, got {self.agent!r}")
        checks = [
            (self.timing in TIMINGS, f"timing must be one of {TIMINGS}, got {self.timing!r}"),
            (self.iterations >= 1 and self.runs >= 1 and self.workers >= 1,
             f"iterations, runs, workers must be >= 1, got {self.iterations!r}, {self.runs!r}, {self.workers!r}"),
            (0 < self.decision_seconds <= 86_400,
             f"decision_seconds must be > 0 and at most 86400 (a day), got {self.decision_seconds!r}"),
            (0 <= self.test_epsilon <= 1, f"test_epsilon must be in [0, 1], got {self.test_epsilon!r}"),
            (0 < self.target_copy_hours < math.inf,
             f"target_copy_hours must be > 0 and finite, got {self.target_copy_hours!r}"),
            (len(self.features) >= 1, "features must not be empty"),
            (self.torch_threads >= 1, f"torch_threads must be >= 1, got {self.torch_threads!r}"),
            (self.epochs is None or self.epochs >= 1, f"epochs must be >= 1, got {self.epochs!r}"),
            (self.batch_size is None or self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size!r}"),
            (self.map_over in ("fills", "grid"), f"map_over must be 'fills' or 'grid', got {self.map_over!r}"),
            (self.inputs in INPUTS, f"inputs must be one of {INPUTS}, got {self.inputs!r}"),
            (self.z_clip is None or 0 < self.z_clip < math.inf,
             f"z_clip must be > 0 and finite (or absent), got {self.z_clip!r}"),
            (self.day_end in DAY_ENDS, f"day_end must be one of {DAY_ENDS}, got {self.day_end!r}"),
            (self.reward_unit in REWARD_UNITS, f"reward_unit must be one of {REWARD_UNITS}, got {self.reward_unit!r}"),
            (self.reward_scaling in REWARD_SCALINGS,
             f"reward_scaling must be one of {REWARD_SCALINGS}, got {self.reward_scaling!r}"),
            (self.decision_loop in DECISION_LOOPS,
             f"decision_loop must be one of {DECISION_LOOPS}, got {self.decision_loop!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(f"Alpha-AS config: {msg}")
        object.__setattr__(self, "features", tuple(self.features))
        self.dqn_config()  # validates the preset
        self.engine_config()  # validates the engine overrides

    @property
    def n_inputs(self) -> int:
        return len(self.features) + len(PRIVATE_FEATURES)

    def dqn_config(self, seed: int | None = None) -> DQNConfig:
        over = {k: v for k, v in (("epochs", self.epochs), ("batch_size", self.batch_size)) if v is not None}
        fixed = {"variant", "n_inputs", "q_target", "seed"} & set(self.dqn)
        if fixed:
            raise InputError(f"Alpha-AS config: dqn: {', '.join(sorted(fixed))} are set by the agent config itself")
        over.update(self.dqn)
        return DQNConfig.preset(self.preset, variant=AGENTS[self.agent], n_inputs=self.n_inputs,
                                q_target=self.q_target, seed=self.seed if seed is None else seed, **over)

    def engine_config(self) -> EngineConfig:
        return EngineConfig.from_dict(self.engine, source="Alpha-AS config")  # its errors say "engine: ..."

    def to_dict(self) -> dict:
        d = asdict(self)
        d["features"] = list(self.features)
        return d

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "Alpha-AS config") -> AlphaASConfig:
        d = dict(d)
        if "features" in d and isinstance(d["features"], list):
            d["features"] = tuple(d["features"])
        return from_dict(cls, d, source=source)
