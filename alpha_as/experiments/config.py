"""The experiment file: a TOML description of a set of (model, day, seed) backtests.

Schema (every table and key is checked: an unknown key, a wrong type or a missing required key is one error
line naming the file, the table and the key)::

    [experiment]
    name = "demo"                      # optional; default: the file's stem. [A-Za-z0-9_-]+
    data = "data"                      # store root (required)
    instrument = "btcusdt_synth"       # instrument in the store (required)
    out = "results/demo"               # optional; default results/<name>
    days = ["2020-12-09", "2020-12-10"]          # either an explicit list of sessions: a day (replayed in
    #                                  # `window`) or a day with its own window, "2016-03-03 11:00-11:30" ...
    # start = "2020-12-09"                       # ... or a range [start, end] (both inclusive)
    # end = "2021-01-08"
    # calendar = "paper"               # range only: "paper" (the paper's days in the range; 31 Dec is not one),
    #                                  # "all" (every calendar day) or "store" (the days the store holds)
    window = "07:00-19:00"             # UTC window of each day replayed, HH:MM-HH:MM or "all"
    trading_hours = "window"           # the strategies quote in each session's window ("window") or in the hours
    #                                  # of their params (first_hour/last_hour, the authors' 07-19: "authors")
    quote_currency = "USD"             # the instrument's quote currency (P&L and Max DD labels)
    map_over = "fills"                 # mean |position| of P&L-to-MAP over "fills" (authors') or the "grid"
    seeds = [0]                        # one job per seed (see below)
    executor = "local"                 # "local" (process pool) or "ray"
    workers = 0                        # local: pool size, 0 = number of cores; ray: CPUs of a local instance
    ray_address = "auto"               # ray only: connect to this running cluster; absent: start a local one

    [engine]                           # optional: EngineConfig fields (fill_model, latency_ms, maker_fee, ...)
    [risk]                             # optional: the risk module's checks (alpha_as.engine.risk.RiskConfig;
    #                                  # all off by default), e.g. max_inventory = 0.01, kill_loss = 4.0

    [models.as-default]                # one table per model; the name is [A-Za-z0-9_-]+
    #                                  # (risk = false: the model runs without [risk], to compare with)
    kind = "as"                        # "as" | "gen-as" | "foic" | "liic" | "fixed" | "random" | "constant"
    params = { risk_aversion = 0.5 }   # optional inline parameters of the kind's dataclass
    params_file = "results/ga/best.json"   # optional JSON parameters (required for "gen-as")
    action = 7                         # "constant" only (required there): the action index 0..19
    # [models.as-pg]                   # AS (or gen-as, hummingbot-as) with γ learned online: the risk aversion
    # kind = "gen-as"                  # is the string "policy_gradient" (warm start: the file's γ, else the
    # params_file = "results/ga/best.json"   # kind's default); the optional sub-table holds the learner's
    # params = { risk_aversion = "policy_gradient" }   # settings (alpha_as.agents.policy_gradient); each
    # [models.as-pg.policy_gradient]   # (day, seed) job starts a fresh learner from the warm start
    # lr_mean = 0.02

**Paths** (``data``, ``out``, ``params_file``) that are relative resolve against the *current directory*, the
project's convention (like the make targets and every other ``alpha-as`` command), not the config's folder:
run ``alpha-as runs`` from the project root.

**Parameters.** ``params_file`` is a JSON object of parameters or a wrapper with a ``"params"`` object (a
GA's ``best.json``, a ``metrics.json``); the inline ``params`` override its keys; the kind's defaults fill the
rest. "gen-as" is AS with parameters calibrated by the genetic algorithm, so it needs the file.

**Reference policies** (``alpha_as.agents.reference``): "random" picks one of the Alpha-AS agents' 20 actions
uniformly at every 5-s decision (seeded by the job's seed), "constant" holds ``action`` all day. Both quote
AS on the agents' base: Gen-AS's parameters (``params_file`` and/or ``params``, one of them required) with
γ 0.9, window 25 and skew 0 before the first decision, then the action's (γ, skew). Their grid.parquet has the
``action``, ``risk_aversion`` and ``skew`` columns of the agents' runs.

**Days and sessions.** Every selected day must have a depth and a trade file in the store; a missing one is an
error naming the expected file, before any job runs. A *session* is the syntax of ``alpha-as replicate``
(:func:`parse_session`): ``"2016-03-03"`` is the day in ``window``, ``"2016-03-03 11:00-11:30"`` the day in its
own window; the latter's jobs write ``<out>/<model>/2016-03-03_1100-1130/seed=<n>/`` (the session's label), so
they never collide with the whole day's. A window is within one UTC day: an empty or reversed one
(``08:00-08:00``, ``19:00-07:00``) is refused.

**Trading hours.** AS and the baselines quote only from ``first_hour`` to ``last_hour`` (UTC hours; the authors'
07-19 by default). With ``trading_hours = "window"`` (the default) a model whose params (inline or from
``params_file``) set neither takes them from each session's window (``11:00-11:30`` -> 11 and 11.5, ``all`` -> 0
and 24), so data outside 07-19 trades too; the params dicts of a 07:00-19:00 window are those of earlier
versions (7 and 19, ints), so their results keep their hashes. ``"authors"`` keeps the params' hours whatever
the window. A fractional hour with ``tt_mode = "hhmm"`` (the authors' HHMM arithmetic, meaningless between
whole hours) is refused.

**Seeds.** The engine and the compiled strategies are deterministic: the seed does not change their
results. It is part of a job's identity and is passed to the job (recorded in its outputs) so that
stochastic models get it: the "random" policy's draws come from it; every other kind ignores it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

from alpha_as.agents.actions import N_ACTIONS
from alpha_as.configs import from_dict
from alpha_as.data import paper, store
from alpha_as.engine.config import EngineConfig
from alpha_as.engine.risk import RiskConfig
from alpha_as.errors import InputError
from alpha_as.strategies import registry
from alpha_as.strategies.avellaneda_stoikov import NS_PER_HOUR, ASParams

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10: the tomli backport has the same API
    import tomli as tomllib

KINDS: dict[str, type] = {**{s.name: s.params_class for s in registry.STRATEGIES},
                          "gen-as": ASParams, "random": ASParams, "constant": ASParams, "ppo": ASParams}
"""Model kinds and the parameter dataclass of each: every registered strategy
(:mod:`alpha_as.strategies.registry`), Gen-AS (AS on a GA's best.json) and the policies (whose ASParams are their
Gen-AS base) and a PPO agent (its params: the AS base parameters it was trained on, from its ``model`` folder)."""
NEEDS_FILE = ("gen-as",)
POLICY_KINDS = ("random", "constant")
"""Kinds that step the agents' 20 actions (``alpha_as.agents.reference``); they need Gen-AS's parameters."""
POLICY_DECISION_SECONDS = 5.0
"""Decision period of the policies in ``alpha-as runs`` (the paper's 5 s)."""
EXECUTORS = ("local", "ray")
CALENDARS = ("paper", "all", "store")
TRADING_HOURS = ("window", "authors")
"""``trading_hours``: the strategies quote in the session's window, or in their params' hours (the authors')."""
HOUR_KEYS = ("first_hour", "last_hour")
CURRENCY_RE = re.compile(r"^[A-Za-z0-9._-]{1,12}$")
NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
TABLES = ("experiment", "engine", "risk", "models")


@dataclass(frozen=True)
class ExperimentTable:
    """The ``[experiment]`` table as written in the file (before paths and days are resolved)."""

    data: str
    """Store root (authors' layout); relative to the current directory."""
    instrument: str
    """Instrument in the store."""
    name: str = ""
    """Experiment name ([A-Za-z0-9_-]+); default: the config file's stem."""
    out: str = ""
    """Output folder; default results/<name>; relative to the current directory."""
    days: list[str] = field(default_factory=list)
    """Explicit sessions, "YYYY-MM-DD" or "YYYY-MM-DD HH:MM-HH:MM" (exclusive with start/end)."""
    start: str = ""
    """First day of a range (with ``end``)."""
    end: str = ""
    """Last day of a range, inclusive."""
    calendar: str = "paper"
    """Days of a range: "paper" (the paper's days), "all" (every calendar day), "store" (days in the store)."""
    window: str = "07:00-19:00"
    """UTC window of each day, HH:MM-HH:MM, or "all"."""
    trading_hours: str = "window"
    """"window": a model whose params set no first_hour/last_hour quotes in each session's window; "authors":
    in its params' hours (default 07-19)."""
    quote_currency: str = "USD"
    """The instrument's quote currency (labels of P&L and Max DD)."""
    map_over: str = "fills"
    """P&L-to-MAP denominator: mean |position| over "fills" (the authors') or the 5-s "grid"."""
    seeds: list[int] = field(default_factory=lambda: [0])
    """One job per (model, day, seed); recorded and passed to the model (the engine itself is deterministic)."""
    executor: str = "local"
    """"local" (a process pool on this machine) or "ray" (a Ray cluster: extra ``[cluster]``)."""
    workers: int = 0
    """Local pool size / CPUs of a local Ray instance; 0 = number of cores. 1 runs jobs in this process."""
    ray_address: str | None = None
    """Address of a running Ray cluster ("auto", "ray://host:10001", ...); absent: start a local instance."""


@dataclass(frozen=True)
class ModelTable:
    """One ``[models.<name>]`` table as written in the file."""

    kind: str
    """One of KINDS."""
    params: dict = field(default_factory=dict)
    """Inline parameters of the kind's dataclass; override those of ``params_file``."""
    params_file: str | None = None
    """JSON parameters (an object, or a wrapper with a "params" object such as a GA's best.json)."""
    action: int | None = None
    """"constant" only: the action index 0..19 held all day."""
    policy_gradient: dict | None = None
    """The learner's settings when the risk aversion is "policy_gradient" (a sub-table)."""
    model: str | None = None
    """"ppo" only: the folder written by ``alpha-as train ppo``."""
    risk: bool = True
    """False: this model runs without the file's ``[risk]`` table (the same model without the risk module, to
    compare with)."""


@dataclass(frozen=True)
class ModelSpec:
    """A model, resolved: its name, kind and parameter dataclass instance."""

    name: str
    kind: str
    params: object
    """An ASParams / FOICParams / LIICParams / FixedQuoterParams (with the hours of the experiment's window when
    ``window_hours``)."""
    params_file: Path | None = None
    action: int | None = None
    """"constant": the action index held all day."""
    window_hours: bool = False
    """The trading hours follow each session's window (``trading_hours = "window"`` and the params set neither
    first_hour nor last_hour)."""
    policy_gradient: object = None
    """A :class:`~alpha_as.agents.policy_gradient.PolicyGradientConfig` when γ is learned online, else None."""
    ppo_model: Path | None = None
    """"ppo": the model folder (absolute)."""
    risk: bool = True
    """False: the model's jobs run without the experiment's risk module (``risk = false`` in its table)."""


@dataclass(frozen=True)
class Session:
    """A day of the store in a UTC window; ``label`` names its folders (``2020-12-09`` or
    ``2015-05-01_0400-0600``)."""

    date: dt.date
    window: str
    label: str

    def to_dict(self) -> dict:
        return {"date": self.date.isoformat(), "window": self.window, "label": self.label}


@dataclass(frozen=True)
class Experiment:
    """An experiment file, resolved and validated: absolute paths, concrete days, typed models and engine."""

    path: Path
    name: str
    data: Path
    instrument: str
    out: Path
    dates: tuple[dt.date, ...]
    window: str
    map_over: str
    seeds: tuple[int, ...]
    executor: str
    workers: int
    ray_address: str | None
    engine: EngineConfig
    models: dict[str, ModelSpec]
    sessions: tuple[Session, ...] = ()
    """The sessions replayed, sorted by date then label; ``dates`` are their days, ``window`` the default one."""
    trading_hours: str = "window"
    quote_currency: str = "USD"

    def __post_init__(self) -> None:
        if not self.sessions:  # built by hand from days: each day in the experiment's window
            object.__setattr__(self, "sessions", tuple(Session(d, self.window, d.isoformat()) for d in self.dates))

    def job_params(self, name: str, session: Session) -> dict:
        """The canonical params of model ``name`` on ``session``: with the session window's trading hours when the
        model's follow the window (see the module doc), else as given."""
        m = self.models[name]
        params = with_window_hours(m.params, session.window, f"{self.path} [models.{name}]") if m.window_hours \
            else m.params
        return canonical(params)

    def with_overrides(self, **changes) -> Experiment:
        """A copy with some execution settings replaced (``out``, ``executor``, ``workers``, ``ray_address``)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "out" in changes:
            changes["out"] = Path(changes["out"]).absolute()
        return dataclasses.replace(self, **changes)


def build(cls: type, d: object, source: str):
    """``cls`` from ``d`` via :func:`alpha_as.configs.from_dict`, with missing required keys reported and every
    error prefixed by ``source`` (the file and table)."""
    if isinstance(d, dict):
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [k for k in required if k not in d]
        if missing:
            raise InputError(f"{source}: missing required key(s) {', '.join(missing)}")
    try:
        return from_dict(cls, d, source=source)
    except InputError as e:
        msg = str(e)
        raise InputError(msg if msg.startswith(source) else f"{source}: {msg}") from None


def with_risk(engine: EngineConfig, doc: dict, file: str) -> EngineConfig:
    """``engine`` with the file's top-level ``[risk]`` table (:class:`alpha_as.engine.risk.RiskConfig`) as its risk
    module, when there is one (``[engine.risk]`` is read by the engine config itself; both is an error)."""
    if "risk" not in doc:
        return engine
    if not isinstance(doc["risk"], dict):
        raise InputError(f"{file}: 'risk' must be a table [risk]")
    if engine.risk is not None:
        raise InputError(f"{file}: give the risk settings in [risk] or in [engine.risk], not both")
    return dataclasses.replace(engine, risk=build(RiskConfig, doc["risk"], f"{file} [risk]"))


def _check_items(values: tuple, kind: type, key: str, source: str) -> None:
    for v in values:
        if not isinstance(v, kind) or isinstance(v, bool):
            raise InputError(f"{source}: key {key!r} must be a list of {kind.__name__}, got item {v!r}")


def _date(text: str, key: str, source: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{source}: key {key!r}: bad date {text!r}, expected YYYY-MM-DD") from None


def parse_window(text: str, source: str) -> tuple[dt.time | None, dt.time | None]:
    """:func:`alpha_as.data.store.parse_window`, with the error naming the experiment file and key."""
    try:
        return store.parse_window(text, "window")
    except InputError as e:
        raise InputError(f"{source}: key 'window': {e}") from None


def parse_session(text: object, default_window: str, source: str) -> Session:
    """``"YYYY-MM-DD"`` (the day in ``default_window``) or ``"YYYY-MM-DD HH:MM-HH:MM"`` → Session; the syntax of
    a session in a protocol file and in an experiment file's ``days``."""
    if not isinstance(text, str):
        raise InputError(f"{source}: a session must be a string 'YYYY-MM-DD [HH:MM-HH:MM]', got {text!r}")
    parts = text.split()
    if len(parts) not in (1, 2):
        raise InputError(f"{source}: bad session {text!r}: expected 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM-HH:MM'")
    try:
        date = dt.date.fromisoformat(parts[0])
    except ValueError:
        raise InputError(f"{source}: bad session {text!r}: bad date {parts[0]!r}, expected YYYY-MM-DD") from None
    window = parts[1] if len(parts) == 2 else default_window
    try:
        store.parse_window(window, "window")
    except InputError as e:
        raise InputError(f"{source}: session {text!r}: {e}") from None
    label = date.isoformat() if len(parts) == 1 else f"{date.isoformat()}_{window.replace(':', '')}"
    return Session(date, window, label)


def _hour(t: dt.time | None, default: int) -> int | float:
    """A time of day in hours: an int when whole, else the largest float whose hour x NS_PER_HOUR (the kernels'
    product) is not past the time, so a snapshot at the window's exact start is inside the trading hours."""
    if t is None:
        return default
    ns = ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000_000 + t.microsecond * 1000
    if ns % NS_PER_HOUR == 0:
        return ns // NS_PER_HOUR
    h = ns / NS_PER_HOUR
    while h * NS_PER_HOUR > ns:
        h = math.nextafter(h, 0.0)
    return h


def check_hours_and_currency(trading_hours: str, quote_currency: str, src: str) -> None:
    """The ``trading_hours`` and ``quote_currency`` keys shared by experiment and protocol files."""
    if trading_hours not in TRADING_HOURS:
        raise InputError(f"{src}: key 'trading_hours' must be one of {', '.join(TRADING_HOURS)}, got "
                         f"{trading_hours!r}")
    if not CURRENCY_RE.match(quote_currency):
        raise InputError(f"{src}: key 'quote_currency' must be a currency code such as \"USD\" (1-12 letters, "
                         f"digits, '.', '_' or '-'), got {quote_currency!r}")


def window_hours(window: str) -> tuple[int | float, int | float]:
    """(first_hour, last_hour) of a UTC window: ``"07:00-19:00"`` -> (7, 19), ``"11:00-11:30"`` -> (11, 11.5),
    ``"22:00-24:00"`` -> (22, 24), ``"all"`` -> (0, 24)."""
    start, end = store.parse_window(window, "window")
    return _hour(start, 0), _hour(end, 24)


def has_hours(params: object) -> bool:
    """Whether a parameter dataclass has trading hours (AS, the baselines; not the fixed quoter)."""
    return all(k in {f.name for f in dataclasses.fields(params)} for k in HOUR_KEYS)


def with_window_hours(params: object, window: str, source: str):
    """``params`` quoting in the UTC ``window`` (its first_hour/last_hour replaced); an invalid result (a
    fractional hour with tt_mode "hhmm") is one line naming ``source`` and the window."""
    first, last = window_hours(window)
    try:
        return dataclasses.replace(params, first_hour=first, last_hour=last)
    except InputError as e:
        raise InputError(f"{source}: trading hours {first}-{last} of the window {window!r}: {e} (set first_hour and "
                         "last_hour in the params, or quote in the authors' trading hours)") from None


def select_sessions(t: ExperimentTable, data: Path, source: str) -> tuple[Session, ...]:
    """The experiment's sessions, sorted by date then label: ``days`` (each a session) or a range of days."""
    if t.days and (t.start or t.end):
        raise InputError(f"{source}: give either 'days' or 'start'/'end', not both")
    if t.days:
        _check_items(t.days, str, "days", source)
        sessions = [parse_session(d, t.window, f"{source}: key 'days'") for d in t.days]
        keys = [(s.date, s.window) for s in sessions]
        for i, k in enumerate(keys):
            if k in keys[:i] or sessions[i].label in [s.label for s in sessions[:i]]:
                raise InputError(f"{source}: key 'days' lists the session {t.days[i]!r} twice "
                                 f"({k[0]} {k[1]})")
        return tuple(sorted(sessions, key=lambda s: (s.date, s.label)))
    return tuple(parse_session(d.isoformat(), t.window, f"{source}: key 'start'") for d in select_dates(t, data, source))


def select_dates(t: ExperimentTable, data: Path, source: str) -> tuple[dt.date, ...]:
    """The days of a range (``start``, ``end``, ``calendar``)."""
    if not (t.start and t.end):
        raise InputError(f"{source}: select days with 'days' = [...] or both 'start' and 'end'")
    if t.calendar not in CALENDARS:
        raise InputError(f"{source}: key 'calendar' must be one of {', '.join(CALENDARS)}, got {t.calendar!r}")
    start, end = _date(t.start, "start", source), _date(t.end, "end", source)
    if end < start:
        raise InputError(f"{source}: 'end' {end} is before 'start' {start}")
    if t.calendar == "paper":
        dates = paper.paper_dates(start, end)
    elif t.calendar == "all":
        dates = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    else:
        dates = [d for d in store.list_dates(data, t.instrument) if start <= d <= end]
    if not dates:
        raise InputError(f"{source}: no days selected from {start} to {end} with calendar {t.calendar!r}")
    return tuple(dates)


def check_store(data: Path, instrument: str, dates: tuple[dt.date, ...], source: str) -> None:
    """Every day needs its depth and trade file; the first one missing is the error."""
    if not data.is_dir():
        raise InputError(f"{source}: store root {data} not found")
    for d in dates:
        for kind in (store.DEPTH, store.TRADE):
            path = store.partition_path(data, kind, instrument, d)
            if not path.is_file():
                known = store.list_instruments(data)
                hint = "" if instrument in known else f" (instruments in the store: {', '.join(known) or 'none'})"
                raise InputError(f"{source}: day {d} is not in the store: expected {kind} file {path} is missing"
                                 + hint)


def _params_from_file(path: Path, source: str) -> dict:
    if not path.is_file():
        raise InputError(f"{source}: params_file {path} not found")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"{source}: params_file {path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if isinstance(raw, dict) and isinstance(raw.get("params"), dict):
        raw = raw["params"]
    if not isinstance(raw, dict):
        raise InputError(f"{source}: params_file {path}: expected a JSON object of parameters")
    return raw


def build_model(name: str, raw: object, file: str, window: str | None = None,
                sessions: tuple[Session, ...] = ()) -> ModelSpec:
    """A ``[models.<name>]`` table, resolved. With ``window`` (``trading_hours = "window"``) a model with trading
    hours whose params set neither first_hour nor last_hour quotes in ``window`` (and, per job, in each session's
    window: every one of ``sessions`` is checked here)."""
    source = f"{file} [models.{name}]"
    if not NAME_RE.match(name):
        raise InputError(f"{source}: bad model name {name!r}: use letters, digits, '_' and '-' only")
    m = build(ModelTable, raw, source)
    if m.kind not in KINDS:
        raise InputError(f"{source}: key 'kind' must be one of {', '.join(sorted(KINDS))}, got {m.kind!r}")
    if m.kind == "ppo":
        return _ppo_model(name, m, source)
    if m.model is not None:
        raise InputError(f"{source}: key 'model' applies to kind 'ppo' only, not {m.kind!r}")
    if m.kind in NEEDS_FILE and not m.params_file:
        raise InputError(f"{source}: kind {m.kind!r} needs 'params_file' (the GA's best.json)")
    if m.kind in POLICY_KINDS and not (m.params_file or m.params):
        raise InputError(f"{source}: kind {m.kind!r} needs Gen-AS's parameters: 'params_file' (the GA's best.json) "
                         "or 'params'")
    if m.kind == "constant":
        if m.action is None:
            raise InputError(f"{source}: kind 'constant' needs key 'action' (0..{N_ACTIONS - 1})")
        if not 0 <= m.action < N_ACTIONS:
            raise InputError(f"{source}: key 'action' must be in 0..{N_ACTIONS - 1}, got {m.action}")
    elif m.action is not None:
        raise InputError(f"{source}: key 'action' applies to kind 'constant' only, not {m.kind!r}")
    params: dict = {}
    path = None
    if m.params_file:
        path = Path(m.params_file).absolute()
        params.update(_params_from_file(path, source))
    from alpha_as.agents.policy_gradient import POLICY_GRADIENT, risk_field, split_policy_gradient

    inline = dict(m.params)
    if m.policy_gradient is not None:
        inline[POLICY_GRADIENT] = m.policy_gradient
    inline, pg = split_policy_gradient(inline, source)  # the file's γ (a GA's) stays as the warm start
    if pg is not None and m.kind in POLICY_KINDS:
        raise InputError(f"{source}: risk aversion \"{POLICY_GRADIENT}\" does not apply to kind {m.kind!r}")
    params.update(inline)
    cls = KINDS[m.kind]
    where = f"{source} params" + (f" (with {m.params_file})" if m.params_file else "")
    built = build(cls, params, where)
    if pg is not None:
        try:
            risk_field(built)
        except InputError as e:
            raise InputError(f"{source}: {e}") from None
    follow = window is not None and has_hours(built) and not any(k in params for k in HOUR_KEYS)
    if follow:
        for w in dict.fromkeys([s.window for s in sessions]):
            with_window_hours(built, w, source)
        built = with_window_hours(built, window, source)
    return ModelSpec(name, m.kind, built, path, m.action, follow, pg, risk=m.risk)


def _ppo_model(name: str, m: ModelTable, source: str) -> ModelSpec:
    """A ``kind = "ppo"`` model: its ``model`` folder (from ``alpha-as train ppo``); its params are the AS base
    parameters recorded there. Without torch or stable-baselines3 (read when a job runs)."""
    if not m.model:
        raise InputError(f"{source}: kind 'ppo' needs key 'model' (a folder written by `alpha-as train ppo`)")
    if m.params or m.params_file or m.policy_gradient or m.action is not None:
        raise InputError(f"{source}: kind 'ppo' takes only 'model' (its parameters come from the model)")
    folder = Path(m.model).absolute()
    for file in ("model.zip", "vecnormalize.pkl", "config.json"):
        if not (folder / file).is_file():
            raise InputError(f"{source}: model {folder} has no {file} (write it with `alpha-as train ppo`)")
    try:
        base = json.loads((folder / "config.json").read_text())["base_params"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise InputError(f"{source}: model {folder}: config.json is not a PPO model's") from None
    return ModelSpec(name, "ppo", build(ASParams, base, f"{source} (model {folder} config.json)"), ppo_model=folder,
                     risk=m.risk)


def read_toml(path: Path, tables: tuple[str, ...], what: str = "config file") -> dict:
    """A TOML file's top-level tables, refusing a missing file, bad TOML and unknown tables (one error line)."""
    file = str(path)
    if not path.is_file():
        raise InputError(f"{what} {file} not found")
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{file}: not valid TOML ({e})") from None
    except UnicodeDecodeError:
        raise InputError(f"{file}: not a UTF-8 text file") from None
    unknown = sorted(set(doc) - set(tables))
    if unknown:
        raise InputError(f"{file}: unknown table(s) {', '.join(unknown)}; known: {', '.join(tables)}")
    return doc


def load_config(path: str | Path, *, check_data: bool = True) -> Experiment:
    """Read, validate and resolve an experiment file. Raises InputError (one line) for any problem."""
    path = Path(path)
    file = str(path)
    doc = read_toml(path, TABLES)
    for key in TABLES:
        if key in doc and not isinstance(doc[key], dict):
            raise InputError(f"{file}: '{key}' must be a table [{key}]")
    if "experiment" not in doc:
        raise InputError(f"{file}: missing table [experiment]")
    src = f"{file} [experiment]"
    t = build(ExperimentTable, doc["experiment"], src)
    _check_items(t.seeds, int, "seeds", src)
    if not t.seeds or len(set(t.seeds)) != len(t.seeds):
        raise InputError(f"{src}: key 'seeds' must list at least one seed, each once")
    name = t.name or path.stem
    if not NAME_RE.match(name):
        raise InputError(f"{src}: bad name {name!r}: use letters, digits, '_' and '-' only")
    if t.executor not in EXECUTORS:
        raise InputError(f"{src}: key 'executor' must be one of {', '.join(EXECUTORS)}, got {t.executor!r}")
    if t.workers < 0:
        raise InputError(f"{src}: key 'workers' must be >= 0 (0 = number of cores)")
    if t.map_over not in ("fills", "grid"):
        raise InputError(f"{src}: key 'map_over' must be 'fills' or 'grid', got {t.map_over!r}")
    if not t.data or not t.instrument:
        raise InputError(f"{src}: 'data' and 'instrument' must not be empty")
    parse_window(t.window, src)
    check_hours_and_currency(t.trading_hours, t.quote_currency, src)
    data = Path(t.data).absolute()
    sessions = select_sessions(t, data, src)
    dates = tuple(dict.fromkeys(s.date for s in sessions))
    engine = with_risk(build(EngineConfig, doc.get("engine", {}), f"{file} [engine]"), doc, file)
    models_raw = doc.get("models", {})
    if not models_raw:
        raise InputError(f"{file}: no models: add at least one [models.<name>] table")
    follow = t.window if t.trading_hours == "window" else None
    models = {n: build_model(n, raw, file, follow, sessions) for n, raw in models_raw.items()}
    if check_data:
        check_store(data, t.instrument, dates, src)
    return Experiment(path=path, name=name, data=data, instrument=t.instrument,
                      out=Path(t.out or f"results/{name}").absolute(), dates=dates, window=t.window,
                      map_over=t.map_over, seeds=tuple(t.seeds), executor=t.executor,
                      workers=t.workers or default_workers(), ray_address=t.ray_address or None, engine=engine,
                      models=models, sessions=sessions, trading_hours=t.trading_hours,
                      quote_currency=t.quote_currency)


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def canonical(obj: object) -> dict:
    """A parameter dataclass as a plain dict with float fields as floats (so ``1`` and ``1.0`` hash alike).

    A field declared with ``metadata={"omit_default": True}`` (an option added later, e.g. the baselines'
    ``clamp``) is left out while it has its default value, so the hashes of earlier configs do not change."""
    hints = typing.get_type_hints(type(obj))
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if f.metadata.get("omit_default") and v == f.default:
            continue
        if dataclasses.is_dataclass(v):  # a nested config (the engine's chain)
            v = canonical(v)
        out[f.name] = float(v) if hints.get(f.name) is float else v
    return out
