"""The replication protocol file (``experiments/paper.toml``): which data, sessions, seeds and settings.

A *session* is a day of the store replayed in a UTC window: ``"2020-12-09"`` (the protocol's default
window) or ``"2015-05-01 04:00-06:00"`` (its own window). The protocol runs feature selection on the FI
session, the Gen-AS GA and the Alpha-AS training on the training session, then every model on each test
session. Schema (every key checked; one error line naming the file, table and key)::

    [protocol]
    name = "paper"                    # default: the file's stem
    data = "data"                     # store root (authors' layout)
    instrument = "btcusdt_synth"
    synthetic = true                  # generate the built-in synthetic market for missing days
    out = "results/paper"             # default results/<name>
    window = "07:00-19:00"            # default window of the sessions
    trading_hours = "window"          # "window": the models quote in each session's window; "authors": in their
                                      # params' hours (first_hour/last_hour, default 07-19) whatever the window
    quote_currency = "USD"            # the instrument's quote currency (labels of P&L and Max DD)
    fi = "2020-12-07"                 # feature-importance session
    train = "2020-12-08"              # GA and training session
    test = "paper"                    # "paper" (its 30 test days) or a list of sessions
    models = ["foic", "liic", "gen-as", "alpha-as-1", "alpha-as-2"]   # a subset of MODELS (default: all but the
                                      # strategies hummingbot-as, glft and their -tuned)
    seeds = [0]                       # the stochastic stages (features, GA, agents) are repeated per seed
    workers = 0                       # processes (0 = number of cores); ray: CPUs of a local Ray instance
    executor = "local"                # "local" (process pools) or "ray" (Ray tasks: extra [cluster])
    ray_address = "auto"              # ray only: connect to this running cluster; absent: start a local one
    map_over = "fills"                # P&L-to-MAP denominator (see ``alpha-as runs``)
    data_note = "..."                 # what the data is, printed at the top of the report
    notes = ["..."]                   # remarks printed in the report's setup (e.g. why so many seeds)

    [engine]    # EngineConfig fields          [features]  # feature-selection settings
    [risk]      # optional: the risk module (alpha_as.engine.risk.RiskConfig), for every model of the protocol
    [genas]     # GAConfig fields (not seed, workers, window)
    [agents]    # AlphaASConfig fields (not agent, seed, workers, window, features, engine, map_over)
    [sound]     # optional: AlphaASConfig fields for the -sound models only (same keys refused)
    [baselines] # optional keys shared by both baselines (e.g. clamp = "on_grid"), then
    [baselines.foic]  [baselines.liic]   # FOICParams / LIICParams fields (override the shared ones)
    [synth]     # optional: SynthOptions fields, the synthetic market's variant (informed, stale_sweep)
    [strategies.hummingbot-as]  [strategies.glft]   # optional: HummingbotASParams / GLFTParams fields of the
                # strategy models (the default-parameter model and the -tuned model's GA base params)

**Market variants** (``[synth]``, with ``synthetic = true`` only): a non-default
:class:`~alpha_as.data.synthetic.SynthOptions` (e.g. ``informed = 0.0``, a benign market) makes the instrument
``SynthOptions.instrument(instrument)`` (``btcusdt_synth_inf0``), so a variant's days are generated into, and
read from, their own partitions of the store and never mix with the calibrated market's. The variant is part
of the protocol's identity; the calibrated market (the default) leaves the identity of earlier protocols as it
was.

**Models** (:data:`MODELS`, the report's column order): the paper's five, then the reference policies and the
repaired agents. Roles: ``baseline`` (FOIC, LIIC), ``reference`` (Gen-AS), ``agent`` (the paper's Alpha-AS-1/2),
``policy`` (``random``: a uniform action among the agents' 20 every 5 s; ``constant-train``: the constant action
with the best GA fitness on the training session — a choice a practitioner could make), ``oracle``
(``constant-oracle``: the constant action with the best mean Sharpe over the test sessions, chosen in
hindsight) and ``variant`` (``alpha-as-1-sound``, ``alpha-as-2-sound``: the repaired learner on the same
networks, ``alpha_as.agents.config.model_agent``). Agents, variants and policies build on Gen-AS's
parameters, so they need ``"gen-as"`` in the models (so does ``gen-as-pg``: Gen-AS's parameters with γ learned
online, issue #14 §1, role ``strategy``, its learner's settings in ``[policy_gradient]``, which enters the
identity only when it runs; and ``ppo``: PPO on Gen-AS's parameters, issue #14 §2, role ``strategy``, trained per
seed on the training session with ``[ppo]``, :mod:`alpha_as.experiments.replicate_ppo`). Role ``strategy`` (issue
#13, beyond the paper; listed after
the paper's five): Hummingbot's AS and GLFT (:data:`STRATEGY_MODELS`), ``hummingbot-as`` / ``glft`` with the
registry's params class and ``[strategies.<name>]``, ``hummingbot-as-tuned`` / ``glft-tuned`` on the parameters of
their own GA (:meth:`Protocol.strategy_ga_config`: ``[genas]``'s settings without its AS ``genes`` and
``base_params``, the strategy's registry gene table, ``[strategies.<name>]`` as base params; run by
:mod:`alpha_as.experiments.replicate_strategies`). They are not in the default ``models``, and ``[strategies]``
enters the identity only when one of them is run, so the identity of earlier protocols is unchanged.

**Agent configs** (:meth:`Protocol.agent_config`): a paper agent's AlphaASConfig is ``[agents]``; a -sound
model's is ``{**[agents] without preset, q_target, epochs and batch_size, **the model's overrides (the sound
preset and options), **[sound]}`` — so ``[agents]``' iterations, runs, timing, test settings carry over and the
sound preset's epochs (1 per Bellman iteration) and batch size are not overridden by the paper's.

**Sessions** must not overlap where it would leak: the training session and a test session (same date,
intersecting windows) are refused, and so are the FI session and a test session (the features would be chosen
on test data); the FI session may be the training session or overlap it (both are in-sample). A window lies
within one UTC day (an empty or reversed one is refused).

**Trading hours** (``trading_hours``). AS (Gen-AS, the references, the agents' base) and the baselines quote only
from ``first_hour`` to ``last_hour``; Hummingbot's AS and GLFT have no such hours (their params pass unchanged, the
session's window limits the replay). ``"window"`` (the default): a model whose hours the file does not set
(``[baselines]`` / ``[baselines.<m>]`` for FOIC / LIIC, ``[genas] base_params`` for everything built on AS)
quotes in each session's own window (:meth:`Protocol.hours`: ``04:00-06:00`` -> 4 and 6, ``11:00-11:30`` -> 11 and
11.5); the GA runs with the training session's. ``"authors"``: the params' hours (the authors' 07-19) whatever
the window — ``experiments/paper.toml`` sets it, so ``--quick``'s 1-hour sessions keep 07-19 as before. The params
of a 07:00-19:00 session are those of earlier versions either way (7 and 19, ints), and ``trading_hours`` enters
the protocol's identity only when it moves some model's hours off 07-19, so results of earlier versions keep
their identity. ``quote_currency`` labels the report's P&L (not part of the identity).

Relative paths resolve against the current directory (run from the project root), as everywhere else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from alpha_as.agents.config import SOUND, AlphaASConfig, model_agent
from alpha_as.data import paper, store
from alpha_as.data.synthetic.calibration import GENERATOR_VERSION, SynthOptions
from alpha_as.engine.config import EngineConfig
from alpha_as.errors import InputError
from alpha_as.experiments.config import (
    EXECUTORS,
    HOUR_KEYS,
    KINDS,
    NAME_RE,
    Session,
    build,
    canonical,
    check_hours_and_currency,
    parse_session,
    read_toml,
    window_hours,
    with_risk,
    with_window_hours,
)
from alpha_as.experiments.models import (  # noqa: F401 - re-exported: the protocol's models
    AGENT_ROLES,
    BASELINE_MODELS,
    DEFAULT_MODELS,
    LABELS,
    MODELS,
    NEEDS_GENAS,
    ONLINE_MODELS,
    PAPER_MODELS,
    PPO_MODELS,
    REFERENCE_MODELS,
    ROLES,
    SOUND_DROPS,
    STRATEGIES,
    STRATEGY_MODELS,
    TABLES,
)
from alpha_as.strategies.avellaneda_stoikov import ASParams
from alpha_as.tuning.genas import GAConfig
from baselines import FOICParams, LIICParams

AGENT_FIXED = ("agent", "seed", "workers", "window", "features", "engine", "map_over")
GA_FIXED = ("seed", "workers", "window", "strategy")
AS_GA_KEYS = ("genes", "base_params")
"""[genas] keys of Gen-AS's GA only: a strategy's GA takes its registry gene table and [strategies.<name>]."""
SYNTH_NOTE = ("The built-in synthetic BTCUSDT-like market (`alpha-as data synth`): a simulated limit order book "
              "calibrated to the per-day volumes, trade counts and tick rates the paper's authors report for "
              "their Binance data (spec §12). It is not the paper's data, which cannot be obtained; results on "
              "it test the method, not the paper's numbers.")


@dataclass(frozen=True)
class ProtocolTable:
    """The ``[protocol]`` table as written."""

    data: str
    """Store root (authors' layout)."""
    instrument: str
    """Instrument in the store."""
    name: str = ""
    """[A-Za-z0-9_-]+; default: the file's stem."""
    synthetic: bool = False
    """Generate the built-in synthetic market for the sessions' days missing from the store."""
    out: str = ""
    """Output folder; default results/<name>."""
    window: str = "07:00-19:00"
    """Default UTC window of a session."""
    trading_hours: str = "window"
    """"window": models whose hours the file does not set quote in each session's window; "authors": in their
    params' hours (default 07-19)."""
    quote_currency: str = "USD"
    """The instrument's quote currency (report labels; not part of the identity)."""
    fi: str = paper.FI_DAY.isoformat()
    """Feature-importance session."""
    train: str = paper.TRAIN_DAY.isoformat()
    """Gen-AS GA and Alpha-AS training session."""
    test: str | list = "paper"
    """"paper" (the paper's 30 test days) or a list of sessions."""
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    """Models run on the test sessions (a subset of :data:`MODELS`; default :data:`DEFAULT_MODELS`)."""
    seeds: list[int] = field(default_factory=lambda: [0])
    """Seeds of the stochastic stages."""
    workers: int = 0
    """Processes; 0 = number of cores. With ``executor = "ray"`` and no ``ray_address``: CPUs of the local
    instance."""
    executor: str = "local"
    """"local" (process pools on this machine) or "ray" (Ray tasks on a cluster or a local instance)."""
    ray_address: str | None = None
    """Address of a running Ray cluster ("auto", "ray://host:10001", "host:6379"); absent: start a local one."""
    map_over: str = "fills"
    """P&L-to-MAP denominator: "fills" (authors') or "grid"."""
    data_note: str = ""
    """What the data is; default: a note on the synthetic market, or on the user's store."""
    notes: list[str] = field(default_factory=list)
    """Remarks printed in the report's setup (not part of the protocol's identity)."""


@dataclass(frozen=True)
class FeaturesTable:
    """``[features]``: the random-forest feature selection on the FI session (``alpha-as features``)."""

    enabled: bool = True
    """False: the agents use the paper's 22 default features."""
    horizon_s: float = 5.0
    """Label: mid up after this many seconds."""
    max_rows: int = 200_000
    """Rows used at most (evenly thinned)."""
    n_estimators: int = 1
    """Trees per forest (the authors: 1)."""
    max_depth: int = 12
    """Tree depth."""

    def __post_init__(self) -> None:
        from alpha_as.agents.features_cli import check_selection_options

        check_selection_options(horizon_s=self.horizon_s, max_rows=self.max_rows, n_estimators=self.n_estimators,
                                max_depth=self.max_depth, source="")


@dataclass(frozen=True)
class Protocol:
    """A protocol file, resolved and validated."""

    path: Path
    name: str
    data: Path
    instrument: str
    synthetic: bool
    out: Path
    fi: Session
    train: Session
    test: tuple[Session, ...]
    models: tuple[str, ...]
    seeds: tuple[int, ...]
    workers: int
    map_over: str
    data_note: str
    engine: EngineConfig
    features: FeaturesTable
    genas: dict
    """GAConfig fields (validated) without seed/workers/window."""
    agents: dict
    """AlphaASConfig fields (validated) without agent/seed/workers/window/features/engine/map_over."""
    baselines: dict[str, object]
    """{"foic": FOICParams, "liic": LIICParams}."""
    sound: dict = field(default_factory=dict)
    """[sound]: AlphaASConfig fields (validated) applied last to the -sound models' configs."""
    synth: SynthOptions = field(default_factory=SynthOptions)
    """[synth]: the synthetic market's variant (the default: the calibrated market); ``instrument`` is already
    the variant's."""
    quick: bool = False
    notes: tuple[str, ...] = ()
    trading_hours: str = "window"
    """"window" or "authors" (the module doc)."""
    quote_currency: str = "USD"
    """The instrument's quote currency, for the report's labels."""
    fixed_hours: frozenset[str] = frozenset()
    """Whose trading hours the file sets: "foic", "liic" ([baselines] / [baselines.<m>]) and "as" ([genas]
    base_params: Gen-AS, the references, the agents); they keep them whatever ``trading_hours``."""
    strategies: dict = field(default_factory=dict)
    """[strategies]: {strategy of :data:`STRATEGIES`: its table as written (validated)}."""
    policy_gradient: dict = field(default_factory=dict)
    """[policy_gradient]: the online γ learner's settings for ``gen-as-pg`` (validated)."""
    ppo: dict = field(default_factory=dict)
    """[ppo]: PPOConfig fields but ``seed`` for ``ppo`` (validated)."""
    executor: str = "local"
    """Where the stages' tasks run: "local" or "ray" (not part of the identity: the results are the same)."""
    ray_address: str | None = None
    """ray: the cluster to connect to; None: a local instance with ``workers`` CPUs."""

    def executor_of(self):
        """The :class:`~alpha_as.experiments.executors.Executor` of the stages' tasks."""
        from alpha_as.experiments.executors import Executor

        return Executor(self.executor, self.workers, self.ray_address)

    def ppo_config(self, seed: int):
        """The PPOConfig of the ``ppo`` model of ``seed`` (``[ppo]`` over the defaults)."""
        from alpha_as.agents.ppo import PPOConfig

        return PPOConfig.from_dict({**self.ppo, "seed": seed}, source=f"{self.path} [ppo]")

    def policy_gradient_config(self) -> dict:
        """The canonical learner settings of ``gen-as-pg`` (``[policy_gradient]`` over the defaults)."""
        from alpha_as.agents.policy_gradient import PolicyGradientConfig

        return canonical(PolicyGradientConfig.from_dict(dict(self.policy_gradient)))

    @property
    def agents_run(self) -> tuple[str, ...]:
        """The agent models (paper agents and -sound variants) in the protocol, in MODELS order."""
        return tuple(m for m in self.models if ROLES[m] in AGENT_ROLES)

    @property
    def references_run(self) -> tuple[str, ...]:
        """The reference policies in the protocol."""
        return tuple(m for m in self.models if m in REFERENCE_MODELS)

    @property
    def strategies_run(self) -> tuple[str, ...]:
        """The strategy models (role strategy) in the protocol."""
        return tuple(m for m in self.models if m in STRATEGY_MODELS)

    @property
    def tuned_strategies(self) -> tuple[str, ...]:
        """The registered strategies GA-tuned for the protocol's -tuned models."""
        return tuple(dict.fromkeys(STRATEGY_MODELS[m] for m in self.strategies_run if m.endswith("-tuned")))

    def strategy_params(self, strategy: str) -> dict:
        """The canonical params of a default-parameter strategy model: the registry's params class with
        ``[strategies.<strategy>]``."""
        return canonical(KINDS[strategy](**self.strategies.get(strategy, {})))

    def strategy_ga_config(self, strategy: str, seed: int, file: str | None = None) -> GAConfig:
        """The GA of a -tuned model: ``[genas]`` without its AS keys (:data:`AS_GA_KEYS`) on ``strategy``, with the
        strategy's registry gene table and ``[strategies.<strategy>]`` as base params, on the training session."""
        genas = {k: v for k, v in self.genas.items() if k not in AS_GA_KEYS}
        return GAConfig.from_dict({**genas, "strategy": strategy, "base_params": dict(self.strategies.get(strategy, {})),
                                   "seed": seed, "workers": self.workers, "window": self.train.window},
                                  source=f"{file or self.path} [genas] + [strategies.{strategy}] (its GA)")

    @property
    def decision_seconds(self) -> float:
        """The reference policies' decision period: the agents' (``[agents] decision_seconds``, default 5 s)."""
        return float(AlphaASConfig.from_dict(self.agents, source=f"{self.path} [agents]").decision_seconds)

    def sessions(self) -> list[Session]:
        return [self.fi, self.train, *self.test]

    def hours(self, model: str, s: Session) -> dict:
        """``{"first_hour", "last_hour"}`` that ``model`` (a model of :data:`MODELS`, or a runner kind: "foic",
        "liic", "gen-as", "random", "constant", ...) quotes in on session ``s``: the window's (``04:00-06:00`` -> 4
        and 6) with ``trading_hours = "window"``, unless the file sets the model's hours; else ``{}`` (its params'
        hours stand; always for Hummingbot's AS and GLFT, which have none)."""
        group = model if model in BASELINE_MODELS else "as"
        if model in STRATEGY_MODELS or self.trading_hours != "window" or group in self.fixed_hours:
            return {}
        first, last = window_hours(s.window)
        return {"first_hour": first, "last_hour": last}

    def session_params(self, model: str, s: Session, params: dict) -> dict:
        """A model's params dict on session ``s``: ``params`` with :meth:`hours` applied (unchanged when ``{}``)."""
        return {**params, **self.hours(model, s)}

    def ga_config(self, seed: int) -> GAConfig:
        genas = dict(self.genas)
        hours = self.hours("gen-as", self.train)
        if hours:  # the GA quotes in the training session's window
            genas["base_params"] = {**genas.get("base_params", {}), **hours}
        return GAConfig.from_dict({**genas, "seed": seed, "workers": self.workers, "window": self.train.window},
                                  source=f"{self.path} [genas]")

    def agent_config(self, model: str, seed: int, features: list[str]) -> AlphaASConfig:
        """The AlphaASConfig of an agent model (``alpha-as-1``, ``alpha-as-2-sound``, ...): see the module doc."""
        agent, overrides = model_agent(model)
        if overrides:
            base = {k: v for k, v in self.agents.items() if k not in SOUND_DROPS}
            d, source = {**base, **overrides, **self.sound}, f"{self.path} [sound]"
        else:
            d, source = dict(self.agents), f"{self.path} [agents]"
        return AlphaASConfig.from_dict({**d, "agent": agent, "seed": seed, "workers": 1, "window": self.train.window,
                                        "features": features, "engine": self.engine.to_dict(),
                                        "map_over": self.map_over}, source=source)

    def identity(self) -> dict:
        """What the results depend on (not out, workers or the note): stored in protocol.json and compared on
        a rerun so that a changed protocol never mixes with old results."""
        return {"data": str(self.data), "instrument": self.instrument, "fi": self.fi.to_dict(),
                "train": self.train.to_dict(), "test": [s.to_dict() for s in self.test], "models": list(self.models),
                "seeds": list(self.seeds), "map_over": self.map_over, "engine": self.engine.to_dict(),
                "features": dataclasses.asdict(self.features), "genas": self.genas, "agents": self.agents,
                "baselines": {k: v.to_dict() for k, v in self.baselines.items()}, "quick": self.quick,
                **({"sound": self.sound} if any(ROLES[m] == "variant" for m in self.models) else {}),
                **({"policy_gradient": self.policy_gradient_config()} if "gen-as-pg" in self.models else {}),
                **({"ppo": {k: v for k, v in self.ppo_config(0).to_dict().items() if k != "seed"}}
                   if "ppo" in self.models else {}),
                **({"strategies": {k: v for k, v in self.strategies.items()
                                   if k in {STRATEGY_MODELS[m] for m in self.strategies_run}}}
                   if self.strategies_run else {}),
                **({} if self.synth.is_default else {"synth": dataclasses.asdict(self.synth)}),
                **({"synthetic_generator": GENERATOR_VERSION} if self.synthetic else {}),
                **({"trading_hours": self.trading_hours} if self._hours_moved() else {})}

    def _hours_moved(self) -> bool:
        """Whether ``trading_hours`` gives some model other hours than the 07-19 of earlier versions on a session
        where it quotes (training, test)."""
        return any(self.hours(m, s) not in ({}, {"first_hour": 7, "last_hour": 19})
                   for m in self.models for s in (self.train, *self.test))

    def identity_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()


def _span(s: Session) -> tuple[int, int]:
    """[start, end) of a session in epoch ns."""
    return store.window_ns(s.date, *store.parse_window(s.window, "window"))


def overlap(a: Session, b: Session) -> bool:
    """Whether two sessions share some time (same date, intersecting windows)."""
    (a0, a1), (b0, b1) = _span(a), _span(b)
    return a.date == b.date and a0 < b1 and b0 < a1


def _described(s: Session) -> str:
    return f"'{s.date} {s.window}'"


def check_overlaps(fi: Session, train: Session, test: tuple[Session, ...], src: str) -> None:
    """Refuse a training or FI session that overlaps a test session (one line naming both)."""
    for s in test:
        if overlap(train, s):
            raise InputError(f"{src}: the training session {_described(train)} (key 'train') overlaps the test "
                             f"session {_described(s)} (key 'test'): the models would be tested on the data they "
                             "were trained on")
        if overlap(fi, s):
            raise InputError(f"{src}: the FI session {_described(fi)} (key 'fi') overlaps the test session "
                             f"{_described(s)} (key 'test'): the features would be chosen on test data")


def _fixed_hours(doc: dict, file: str) -> frozenset[str]:
    """Whose trading hours the protocol's tables set (see :attr:`Protocol.fixed_hours`)."""
    bt = _table(doc, "baselines", file)
    shared = any(k in bt for k in HOUR_KEYS)
    fixed = {m for m in BASELINE_MODELS if shared or (isinstance(bt.get(m), dict) and any(k in bt[m] for k in HOUR_KEYS))}
    base = _table(doc, "genas", file).get("base_params", {})
    if isinstance(base, dict) and any(k in base for k in HOUR_KEYS):
        fixed.add("as")
    return frozenset(fixed)


def _table(doc: dict, key: str, file: str) -> dict:
    t = doc.get(key, {})
    if not isinstance(t, dict):
        raise InputError(f"{file}: '{key}' must be a table [{key}]")
    return t


def _no_keys(d: dict, keys: tuple[str, ...], source: str) -> None:
    bad = sorted(set(d) & set(keys))
    if bad:
        raise InputError(f"{source}: key(s) {', '.join(bad)} are set by the protocol, not in this table")


def agent_config_check(d: dict, source: str) -> AlphaASConfig:
    """An AlphaASConfig from ``d``; every error (a value check too) is one line starting with ``source``."""
    try:
        return AlphaASConfig.from_dict(dict(d), source=source)
    except InputError as e:
        msg = str(e)
        raise InputError(msg if msg.startswith(source) else f"{source}: {msg}") from None


def _baselines(bt: dict, file: str) -> dict[str, object]:
    """``[baselines]``: shared keys (not tables) under each model's table."""
    models = {k: v for k, v in bt.items() if isinstance(v, dict)}
    shared = {k: v for k, v in bt.items() if not isinstance(v, dict)}
    for k in BASELINE_MODELS:
        if k in shared:
            raise InputError(f"{file} [baselines]: '{k}' must be a table [baselines.{k}]")
    bad = sorted(set(models) - set(BASELINE_MODELS))
    if bad:
        raise InputError(f"{file} [baselines]: unknown model(s) {', '.join(bad)}; known: foic, liic")
    build(FOICParams, shared, f"{file} [baselines]")
    return {"foic": build(FOICParams, {**shared, **models.get("foic", {})}, f"{file} [baselines.foic]"),
            "liic": build(LIICParams, {**shared, **models.get("liic", {})}, f"{file} [baselines.liic]")}


def _strategies(st: dict, file: str) -> dict[str, dict]:
    """``[strategies]``: a table ``[strategies.<name>]`` per strategy of :data:`STRATEGIES`, its params class's
    fields (every key checked)."""
    for k, v in st.items():
        if k not in STRATEGIES:
            raise InputError(f"{file} [strategies]: unknown strategy {k!r}; known: {', '.join(STRATEGIES)}")
        if not isinstance(v, dict):
            raise InputError(f"{file} [strategies]: '{k}' must be a table [strategies.{k}]")
        build(KINDS[k], v, f"{file} [strategies.{k}]")
    return {k: dict(v) for k, v in st.items()}


def synth_note(options: SynthOptions, instrument: str) -> str:
    """The data note of a market variant (added to :data:`SYNTH_NOTE`): its non-default fields."""
    default = SynthOptions()
    changed = ", ".join(f"{f.name} = {getattr(options, f.name)!r}" for f in dataclasses.fields(options)
                        if getattr(options, f.name) != getattr(default, f.name))
    return (f" This run uses a variant of the generator (`[synth]` {changed}; see `SynthOptions`), instrument "
            f"{instrument}.")


def load_protocol(path: str | Path) -> Protocol:
    """Read and validate a protocol file; every problem is one InputError line naming the file and key."""
    path = Path(path)
    return protocol_from_doc(read_toml(path, TABLES, "protocol file"), path)


def protocol_from_doc(doc: dict, path: Path, file: str | None = None) -> Protocol:
    """Validate a protocol document (a protocol file's tables) read from ``path``; errors name ``file``
    (default: the path), e.g. a sensitivity file's variant."""
    file = str(path) if file is None else file
    unknown = sorted(set(doc) - set(TABLES))
    if unknown:
        raise InputError(f"{file}: unknown table(s) {', '.join(unknown)}; known: {', '.join(TABLES)}")
    if "protocol" not in doc:
        raise InputError(f"{file}: missing table [protocol]")
    src = f"{file} [protocol]"
    t = build(ProtocolTable, _table(doc, "protocol", file), src)
    name = t.name or path.stem
    if not NAME_RE.match(name):
        raise InputError(f"{src}: bad name {name!r}: use letters, digits, '_' and '-' only")
    try:
        store.parse_window(t.window, "window")
    except InputError as e:
        raise InputError(f"{src}: key 'window': {e}") from None
    fi = parse_session(t.fi, t.window, f"{src}: key 'fi'")
    train = parse_session(t.train, t.window, f"{src}: key 'train'")
    if t.test == "paper":
        test = tuple(parse_session(d.date.isoformat(), t.window, f"{src}: key 'test'") for d in paper.PAPER_DAYS
                     if d.role == "test")
    elif isinstance(t.test, list) and t.test:
        test = tuple(parse_session(s, t.window, f"{src}: key 'test'") for s in t.test)
    else:
        raise InputError(f"{src}: key 'test' must be \"paper\" or a non-empty list of sessions")
    labels = [s.label for s in test]
    if len(set(labels)) != len(labels):
        raise InputError(f"{src}: key 'test' lists a session twice")
    check_overlaps(fi, train, test, file)
    check_hours_and_currency(t.trading_hours, t.quote_currency, src)
    if not isinstance(t.models, list) or not t.models or any(m not in MODELS for m in t.models) \
            or len(set(t.models)) != len(t.models):
        raise InputError(f"{src}: key 'models' must list some of {', '.join(MODELS)}, each once; got {t.models!r}")
    needs = [m for m in t.models if ROLES[m] in NEEDS_GENAS or m in (*ONLINE_MODELS, *PPO_MODELS)]
    if needs and "gen-as" not in t.models:
        raise InputError(f"{src}: key 'models': {needs[0]} builds on Gen-AS (the Alpha-AS agents and the reference "
                         f"policies use its parameters); add \"gen-as\"")
    if not t.seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in t.seeds) \
            or len(set(t.seeds)) != len(t.seeds):
        raise InputError(f"{src}: key 'seeds' must list distinct integers >= 0")
    if not all(isinstance(n, str) for n in t.notes):
        raise InputError(f"{src}: key 'notes' must be a list of strings")
    if t.workers < 0:
        raise InputError(f"{src}: key 'workers' must be >= 0 (0 = number of cores)")
    if t.executor not in EXECUTORS:
        raise InputError(f"{src}: key 'executor' must be one of {', '.join(EXECUTORS)}, got {t.executor!r}")
    if t.map_over not in ("fills", "grid"):
        raise InputError(f"{src}: key 'map_over' must be \"fills\" or \"grid\"")
    engine = with_risk(build(EngineConfig, _table(doc, "engine", file), f"{file} [engine]"), doc, file)
    features = build(FeaturesTable, _table(doc, "features", file), f"{file} [features]")
    genas = _table(doc, "genas", file)
    _no_keys(genas, GA_FIXED, f"{file} [genas]")
    GAConfig.from_dict({**genas}, source=f"{file} [genas]")
    agents = _table(doc, "agents", file)
    _no_keys(agents, AGENT_FIXED, f"{file} [agents]")
    agent_config_check(agents, f"{file} [agents]")
    sound = _table(doc, "sound", file)
    _no_keys(sound, AGENT_FIXED, f"{file} [sound]")
    base = {k: v for k, v in agents.items() if k not in SOUND_DROPS}
    agent_config_check({**base, **SOUND, **sound}, f"{file} [sound]")  # what a -sound model is built from
    baselines = _baselines(_table(doc, "baselines", file), file)
    strategies = _strategies(_table(doc, "strategies", file), file)
    policy_gradient = _table(doc, "policy_gradient", file)
    from alpha_as.agents.policy_gradient import PolicyGradientConfig

    PolicyGradientConfig.from_dict(dict(policy_gradient), source=f"{file} [policy_gradient]")
    ppo = _table(doc, "ppo", file)
    _no_keys(ppo, ("seed",), f"{file} [ppo]")
    synth = build(SynthOptions, _table(doc, "synth", file), f"{file} [synth]")
    if not synth.is_default and not t.synthetic:
        raise InputError(f"{file} [synth]: a market variant needs synthetic = true in [protocol] (it is a variant of "
                         f"the built-in synthetic market)")
    fixed = _fixed_hours(doc, file)
    if t.trading_hours == "window":  # every session's hours must make valid params (hhmm needs whole hours)
        for s in dict.fromkeys((train, *test)):
            for m in BASELINE_MODELS:
                if m not in fixed:
                    with_window_hours(baselines[m], s.window, f"{src}: key 'trading_hours' (session "
                                      f"{_described(s)}, {m})")
            if "as" not in fixed:
                with_window_hours(ASParams.from_dict(dict(genas.get("base_params", {}))), s.window,
                                  f"{src}: key 'trading_hours' (session {_described(s)}, [genas] base_params)")
    instrument = synth.instrument(t.instrument)
    note = t.data_note or ((SYNTH_NOTE + ("" if synth.is_default else synth_note(synth, instrument))) if t.synthetic
                           else f"Market data: instrument {t.instrument} from the store {t.data} (authors' parquet "
                           "layout).")
    p = Protocol(path=path, name=name, data=Path(t.data).absolute(), instrument=instrument,
                 synthetic=t.synthetic, out=Path(t.out or f"results/{name}").absolute(), fi=fi, train=train,
                 test=test, models=tuple(t.models), seeds=tuple(t.seeds),
                 workers=t.workers or (os.cpu_count() or 1), map_over=t.map_over, data_note=note, notes=tuple(t.notes),
                 engine=engine, features=features, genas=genas, agents=agents, baselines=baselines, sound=sound,
                 synth=synth, trading_hours=t.trading_hours, quote_currency=t.quote_currency, fixed_hours=fixed,
                 strategies=strategies, policy_gradient=dict(policy_gradient), ppo=dict(ppo), executor=t.executor,
                 ray_address=t.ray_address or None)
    p.ppo_config(0)  # [ppo] is valid
    for strategy in p.tuned_strategies:  # the GA of each -tuned model is valid ([genas] with [strategies.<name>])
        p.strategy_ga_config(strategy, 0, file)
    return p


QUICK_WINDOW_HOURS = 1
"""``--quick``: each session is cut to at most its first hour."""
NS_PER_DAY = 86_400_000_000_000


def _clock(ns: int) -> str:
    """A time of day in ns as HH:MM (HH:MM:SS, HH:MM:SS.ffffff when needed; 24:00 = midnight at the end)."""
    if ns >= NS_PER_DAY:
        return "24:00"
    t = (dt.datetime.min + dt.timedelta(microseconds=ns // 1000)).time()
    return t.isoformat(timespec="minutes" if not (t.second or t.microsecond) else "auto")


def cut_session(s: Session, hours: float = QUICK_WINDOW_HOURS) -> Session:
    """``s`` cut to at most its first ``hours`` *inside* its own window (a shorter session is unchanged: a 10-minute
    session stays 10 minutes; ``19:00-21:00`` -> ``19:00-20:00``; ``all`` -> ``00:00-01:00``); the label stays."""
    start, end = store.parse_window(s.window, "window")
    a = 0 if start is None else store.window_ns(dt.date(1970, 1, 1), start, None)[0]
    b = NS_PER_DAY if end is None else store.window_ns(dt.date(1970, 1, 1), None, end)[1]
    if b - a <= hours * 3_600_000_000_000:
        return s
    return Session(s.date, f"{_clock(a)}-{_clock(min(b, a + int(hours * 3_600_000_000_000)))}", s.label)


def quick(p: Protocol) -> Protocol:
    """The CI variant: sessions cut to at most their first hour inside their window (:func:`cut_session`), 3 test
    sessions, a small GA, 2 training iterations of 2 runs, short fits (the paper agents' epochs cut to 10; the
    -sound models keep their preset's epochs and Bellman iterations), PPO at most 4,096 steps. Written to
    ``<out>-quick`` unless ``--out``
    is given. The cut sessions lie inside the originals, so they overlap no more than those (checked at load)."""
    cut = cut_session

    genas = {**p.genas, "generations": 2, "population": 6}
    agents = {**p.agents, "iterations": 2, "runs": 2, "epochs": 10}
    sound = {**p.sound, **{k: 2 for k in ("iterations", "runs") if k in p.sound}}
    features = dataclasses.replace(p.features, max_rows=20_000)
    ppo = {**p.ppo, "total_timesteps": min(p.ppo_config(0).total_timesteps, 4096)}
    return dataclasses.replace(p, fi=cut(p.fi), train=cut(p.train), test=tuple(cut(s) for s in p.test[:3]),
                               genas=genas, agents=agents, sound=sound, features=features, ppo=ppo, quick=True,
                               out=p.out.with_name(p.out.name + "-quick"))
