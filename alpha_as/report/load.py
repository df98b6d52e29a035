"""Read a results folder: run folders, their ``metrics.json`` and the optional ``experiment.json``.

Layout: ``RESULTS_DIR/runs/<model>/<YYYY-MM-DD>/seed=<n>/`` or, when ``RESULTS_DIR/runs`` does not exist,
``RESULTS_DIR/<model>/<YYYY-MM-DD>/seed=<n>/`` (the layout ``alpha-as runs`` writes); a day folder may
also be a session label ``YYYY-MM-DD_<window>`` (``alpha-as replicate``). Folders whose names
contain ``.tmp-`` are unfinished runs and are ignored, and so is anything that is not a
``<date>/seed=<n>`` folder (``tables/``, ``plots/``, ``summary.csv``, checkpoints ...).

Per-day values: the mean over the seeds of one (model, day); the per-seed values are kept for the
hierarchical bootstrap.

Roles: the paper's models are ``baseline`` (FOIC, LIIC), ``reference`` (Gen-AS) and ``agent`` (Alpha-AS-1/2);
beyond the paper, ``variant`` (the repaired learner, e.g. ``alpha-as-1-sound``), ``policy`` (reference
policies a practitioner could run: ``random``, ``constant-train``) and ``oracle`` (the best constant action
in hindsight, ``constant-oracle``: never a competitor) and ``strategy`` (market makers beside the paper's models:
Hummingbot's AS and GLFT, default and GA-tuned). :func:`paper_view` keeps the paper's models (and ``other`` and
``strategy``, which join the paper's tables as further columns, as the baselines), on which the paper's tables and
tests are computed; claims C1-C3 select their models by role (baseline, reference, agent), so the other columns
leave them unchanged. Every problem with the input raises :class:`~alpha_as.errors.InputError` naming
the file at fault.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alpha_as.errors import InputError

INDICATORS: tuple[str, ...] = ("sharpe", "sortino", "max_drawdown", "pnl_to_map")
"""The paper's four per-day indicators, in the order of Tables 2-5."""
HIGHER_IS_BETTER: dict[str, bool] = {"sharpe": True, "sortino": True, "max_drawdown": False, "pnl_to_map": True}
INDICATOR_LABELS: dict[str, str] = {
    "sharpe": "Sharpe ratio", "sortino": "Sortino ratio", "max_drawdown": "Max DD (USD)", "pnl_to_map": "P&L-to-MAP",
}
BEYOND_INDICATORS: tuple[str, ...] = ("mtm_pnl", "mtm_sharpe", "mtm_sortino", "mtm_max_drawdown",
                                      "mean_abs_inventory", "n_fills")
"""The risk-honest per-day indicators of the "Beyond the paper" section (5-s grid, marked to market)."""
BEYOND_HIGHER_IS_BETTER: dict[str, bool | None] = {
    "mtm_pnl": True, "mtm_sharpe": True, "mtm_sortino": True, "mtm_max_drawdown": False,
    "mean_abs_inventory": None, "n_fills": None,  # None: descriptive, no better or worse
}
HIGHER_IS_BETTER.update({k: v for k, v in BEYOND_HIGHER_IS_BETTER.items() if v is not None})
INDICATOR_LABELS.update({
    "mtm_pnl": "Daily MtM P&L (USD)", "mtm_sharpe": "MtM Sharpe (5 s)", "mtm_sortino": "MtM Sortino (5 s)",
    "mtm_max_drawdown": "MtM Max DD (USD)", "mean_abs_inventory": "Mean |inventory|", "n_fills": "Fills per day",
})


def indicator_label(indicator: str, currency: str = "USD") -> str:
    """:data:`INDICATOR_LABELS` with the quote currency in place of USD."""
    return INDICATOR_LABELS[indicator].replace("(USD)", f"({currency})")


EXTRA_METRICS: tuple[str, ...] = ("final_total_pnl", "n_fills", "mean_abs_position", "mtm_pnl", "mtm_sharpe",
                                  "mtm_sortino", "mtm_max_drawdown", "mean_abs_inventory")
"""Optional keys of ``metrics.json["metrics"]`` that are read when present (NaN otherwise)."""
ROLES: tuple[str, ...] = ("baseline", "reference", "agent", "other", "variant", "policy", "oracle", "strategy")
PAPER_ROLES: tuple[str, ...] = ("baseline", "reference", "agent", "other", "strategy")
"""The roles kept by :func:`paper_view` (``other``: models outside the protocol, kept as before; ``strategy``:
Hummingbot's AS and GLFT in the protocol, shown beside the baselines)."""
AGENT_ROLES: tuple[str, ...] = ("agent", "variant")
ORACLE_MARK = "(oracle)"
TMP_MARK = ".tmp-"
DEFAULT_BOOTSTRAP_SAMPLES = 2000
DEFAULT_BOOTSTRAP_SEED = 0

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(_[0-9A-Za-z-]+)?$")
"""A day folder: ``YYYY-MM-DD``, or a session label ``YYYY-MM-DD_<window>`` (``2015-05-01_0400-0600``)."""
_SEED_RE = re.compile(r"^seed=(-?\d+)$")


@dataclass(frozen=True)
class ModelInfo:
    """One model: its folder name, its display label and its role (one of :data:`ROLES`)."""

    name: str
    label: str
    role: str


@dataclass(frozen=True)
class Experiment:
    """What ``experiment.json`` says (or what was inferred without it)."""

    name: str = ""
    instrument: str = ""
    data: str = ""
    data_note: str = ""
    notes: tuple[str, ...] = ()
    models: tuple[ModelInfo, ...] = ()  # declared models, in column order (empty when inferred)
    dates: tuple[str, ...] | None = None  # restrict to these days when given
    seeds: tuple[int, ...] | None = None  # restrict to these seeds when given
    bootstrap_samples: int = DEFAULT_BOOTSTRAP_SAMPLES
    bootstrap_seed: int = DEFAULT_BOOTSTRAP_SEED
    from_file: bool = False
    quote_currency: str = "USD"
    """The instrument's quote currency: the unit of P&L and Max DD in the tables and plots."""


@dataclass
class Results:
    """Every run of a results folder, as arrays indexed [model, day].

    ``day_values[ind]`` has shape (n_models, n_days), NaN where the (model, day) has no run.
    ``seed_values[ind][m][d]`` is the 1-D array of the per-seed values of that (model, day), in seed order
    (empty when missing). ``runs[(model, date)]`` maps seed → run folder.
    """

    root: Path
    runs_root: Path
    experiment: Experiment
    models: list[ModelInfo]
    dates: list[str]
    seeds: list[int]
    runs: dict[tuple[str, str], dict[int, Path]]
    day_values: dict[str, np.ndarray]
    seed_values: dict[str, list[list[np.ndarray]]]
    missing_models: list[ModelInfo] = field(default_factory=list)  # declared, no runs
    missing_dates: list[str] = field(default_factory=list)  # declared, no runs
    instruments: list[str] = field(default_factory=list)  # seen in metrics.json

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def index(self, name: str) -> int:
        return self.names.index(name)

    def by_role(self, role: str) -> list[ModelInfo]:
        return [m for m in self.models if m.role == role]

    @property
    def reference(self) -> ModelInfo | None:
        refs = self.by_role("reference")
        return refs[0] if refs else None

    @property
    def agents(self) -> list[ModelInfo]:
        return self.by_role("agent")

    def indicator_label(self, indicator: str) -> str:
        """The indicator's label, with P&L and Max DD in the experiment's quote currency."""
        return indicator_label(indicator, self.experiment.quote_currency)

    @property
    def currency(self) -> str:
        return self.experiment.quote_currency

    def label(self, name: str) -> str:
        """The display label; an oracle's always ends with "(oracle)"."""
        for m in self.models + self.missing_models:
            if m.name == name:
                return display_label(m)
        return name

    def n_seeds(self, name: str) -> int:
        """The number of distinct seeds with a run of ``name``."""
        return len({s for (m, _), d in self.runs.items() if m == name for s in d})


def display_label(m: ModelInfo) -> str:
    """``m.label``, with " (oracle)" appended for an oracle whose label does not say so."""
    if m.role == "oracle" and ORACLE_MARK not in m.label:
        return f"{m.label} {ORACLE_MARK}"
    return m.label


def infer_role(name: str) -> str:
    """The role of a model from its folder name: foic, liic, fixed* → baseline; gen-as → reference;
    random, constant-train → policy; constant-oracle* → oracle; alpha-as*-sound → variant; alpha-as* →
    agent; anything else → other."""
    n = name.lower()
    if n in ("foic", "liic") or n.startswith("fixed"):
        return "baseline"
    if n == "gen-as":
        return "reference"
    if n in ("random", "constant-train"):
        return "policy"
    if n.startswith("constant-oracle"):
        return "oracle"
    if n.startswith("alpha-as") and n.endswith("-sound"):
        return "variant"
    if n.startswith("alpha-as"):
        return "agent"
    return "other"


def _bad_exp(path: Path, msg: str) -> InputError:
    return InputError(f"invalid experiment.json: {msg}", path=path)


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def load_experiment(path: Path) -> Experiment:
    """Parse and validate ``experiment.json``; every key is optional."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad_exp(path, f"cannot read it as JSON ({e})") from None
    if not isinstance(doc, dict):
        raise _bad_exp(path, "not a JSON object")
    kw: dict[str, object] = {"from_file": True}
    for key in ("name", "instrument", "data", "data_note", "quote_currency"):
        if key in doc:
            if not isinstance(doc[key], str):
                raise _bad_exp(path, f"key {key!r} must be a string")
            kw[key] = doc[key]
    if "notes" in doc:
        if not isinstance(doc["notes"], list) or not all(isinstance(n, str) for n in doc["notes"]):
            raise _bad_exp(path, "key 'notes' must be a list of strings")
        kw["notes"] = tuple(doc["notes"])
    if "models" in doc:
        ms = doc["models"]
        if not isinstance(ms, dict):
            raise _bad_exp(path, "key 'models' must be an object {name: {label, role}}")
        models = []
        for name, spec in ms.items():
            spec = {} if spec is None else spec
            if not isinstance(spec, dict):
                raise _bad_exp(path, f"models.{name} must be an object")
            label = spec.get("label", name)
            role = spec.get("role", infer_role(name))
            if not isinstance(label, str):
                raise _bad_exp(path, f"models.{name}.label must be a string")
            if role not in ROLES:
                raise _bad_exp(path, f"models.{name}.role must be one of {', '.join(ROLES)}, got {role!r}")
            models.append(ModelInfo(name, label, role))
        kw["models"] = tuple(models)
    if "dates" in doc:
        ds = doc["dates"]
        if not isinstance(ds, list) or not all(isinstance(d, str) and _DATE_RE.match(d) for d in ds):
            raise _bad_exp(path, "key 'dates' must be a list of YYYY-MM-DD (or YYYY-MM-DD_<window>) strings")
        kw["dates"] = tuple(sorted(set(ds)))
    if "seeds" in doc:
        ss = doc["seeds"]
        if not isinstance(ss, list) or not all(_int(s) for s in ss):
            raise _bad_exp(path, "key 'seeds' must be a list of integers")
        kw["seeds"] = tuple(sorted(set(ss)))
    if "bootstrap" in doc:
        b = doc["bootstrap"]
        if not isinstance(b, dict):
            raise _bad_exp(path, "key 'bootstrap' must be an object {samples, seed}")
        if "samples" in b:
            if not _int(b["samples"]) or b["samples"] < 1:
                raise _bad_exp(path, "bootstrap.samples must be a positive integer")
            kw["bootstrap_samples"] = b["samples"]
        if "seed" in b:
            if not _int(b["seed"]) or b["seed"] < 0:
                raise _bad_exp(path, "bootstrap.seed must be a non-negative integer")
            kw["bootstrap_seed"] = b["seed"]
    return Experiment(**kw)  # type: ignore[arg-type]


def read_metrics(path: Path) -> tuple[dict[str, float], str]:
    """The indicators of one run's ``metrics.json`` (plus the optional extras, NaN when absent) and its
    ``instrument`` ('' when absent). A run folder whose files no longer match the sha256 its manifest recorded
    (an edited metrics.json, a truncated fills.parquet) is refused."""
    from alpha_as.atomic import verify_folder

    why = verify_folder(path.parent)
    if why:
        raise InputError(f"{why} (manifest.json records another sha256); rerun the command that made it "
                         "(alpha-as runs / alpha-as replicate) to redo it", path=path.parent)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("run folder has no metrics.json", path=path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read metrics.json ({e})", path=path) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict):
        raise InputError("metrics.json has no 'metrics' object", path=path)
    m = doc["metrics"]
    out: dict[str, float] = {}
    for key in INDICATORS + EXTRA_METRICS:
        if key not in m:
            if key in INDICATORS:
                raise InputError(f"metrics.json is missing the key 'metrics.{key}'", path=path)
            out[key] = math.nan
            continue
        v = m[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(f"metrics.{key} must be a number, got {v!r}", path=path)
        if key in INDICATORS and not math.isfinite(v):
            raise InputError(f"metrics.{key} is not finite ({v!r})", path=path)
        out[key] = float(v)
    inst = doc.get("instrument", "")
    return out, inst if isinstance(inst, str) else ""


def _scan(runs_root: Path) -> dict[str, dict[str, dict[int, Path]]]:
    """model → date → seed → run folder, for every ``<model>/<date>/seed=<n>`` folder."""
    found: dict[str, dict[str, dict[int, Path]]] = {}
    for mdir in sorted(runs_root.iterdir()):
        if not mdir.is_dir() or TMP_MARK in mdir.name or mdir.name.startswith("."):
            continue
        for ddir in sorted(mdir.iterdir()):
            if not ddir.is_dir() or not _DATE_RE.match(ddir.name):
                continue
            for sdir in sorted(ddir.iterdir()):
                mm = _SEED_RE.match(sdir.name)
                if not sdir.is_dir() or TMP_MARK in sdir.name or mm is None:
                    continue
                found.setdefault(mdir.name, {}).setdefault(ddir.name, {})[int(mm.group(1))] = sdir
    return found


def load_results(results_dir: str | Path) -> Results:
    """Read every run of ``results_dir`` (see the module docstring); raise InputError on bad input."""
    root = Path(results_dir)
    if not root.is_dir():
        raise InputError("results folder not found", path=root)
    runs_root = root / "runs" if (root / "runs").is_dir() else root
    exp_path = root / "experiment.json"
    exp = load_experiment(exp_path) if exp_path.exists() else Experiment()
    found = _scan(runs_root)
    if exp.dates is not None or exp.seeds is not None:
        for model in found:
            found[model] = {
                d: {s: p for s, p in seeds.items() if exp.seeds is None or s in exp.seeds}
                for d, seeds in found[model].items() if exp.dates is None or d in exp.dates
            }
            found[model] = {d: s for d, s in found[model].items() if s}
        found = {m: v for m, v in found.items() if v}
    if not found:
        raise InputError(f"no run folders (<model>/<YYYY-MM-DD>/seed=<n>/) under {runs_root}", path=root)

    declared = list(exp.models)
    declared_names = {m.name for m in declared}
    models = [m for m in declared if m.name in found]
    models += [ModelInfo(n, n, infer_role(n)) for n in sorted(found) if n not in declared_names]
    missing_models = [m for m in declared if m.name not in found]
    dates = sorted({d for m in models for d in found[m.name]})
    missing_dates = sorted(set(exp.dates or ()) - set(dates))
    seeds = sorted({s for m in models for dd in found[m.name].values() for s in dd})

    n_m, n_d = len(models), len(dates)
    day_values = {k: np.full((n_m, n_d), np.nan) for k in INDICATORS + EXTRA_METRICS}
    seed_values: dict[str, list[list[np.ndarray]]] = {
        k: [[np.empty(0) for _ in range(n_d)] for _ in range(n_m)] for k in INDICATORS + EXTRA_METRICS
    }
    runs: dict[tuple[str, str], dict[int, Path]] = {}
    instruments: set[str] = set()
    for i, model in enumerate(models):
        for j, date in enumerate(dates):
            by_seed = found[model.name].get(date)
            if not by_seed:
                continue
            runs[(model.name, date)] = dict(sorted(by_seed.items()))
            rows = []
            for s in sorted(by_seed):
                vals, inst = read_metrics(by_seed[s] / "metrics.json")
                rows.append(vals)
                if inst:
                    instruments.add(inst)
            for k in INDICATORS + EXTRA_METRICS:
                arr = np.array([r[k] for r in rows], dtype=np.float64)
                seed_values[k][i][j] = arr
                day_values[k][i, j] = float(arr.mean())
    return Results(root=root, runs_root=runs_root, experiment=exp, models=models, dates=dates, seeds=seeds,
                   runs=runs, day_values=day_values, seed_values=seed_values, missing_models=missing_models,
                   missing_dates=missing_dates, instruments=sorted(instruments))


def subset(res: Results, keep: list[str]) -> Results:
    """The results of the models named in ``keep`` only (in ``res``'s column order), as if the folder held
    nothing else: days and seeds are those of the kept models; declared-but-missing models are filtered by
    the same names when given, by role otherwise (see :func:`paper_view`)."""
    wanted = set(keep)
    idx = [i for i, m in enumerate(res.models) if m.name in wanted]
    names = {res.models[i].name for i in idx}
    runs = {k: v for k, v in res.runs.items() if k[0] in names}
    dates = sorted({d for (_, d) in runs})
    cols = [res.dates.index(d) for d in dates]
    seeds = sorted({s for v in runs.values() for s in v})
    day_values = {k: v[np.ix_(idx, cols)] for k, v in res.day_values.items()}
    seed_values = {k: [[v[i][j] for j in cols] for i in idx] for k, v in res.seed_values.items()}
    return Results(root=res.root, runs_root=res.runs_root, experiment=res.experiment,
                   models=[res.models[i] for i in idx], dates=dates, seeds=seeds, runs=runs, day_values=day_values,
                   seed_values=seed_values, missing_models=[m for m in res.missing_models if m.name in wanted],
                   missing_dates=sorted(set(res.experiment.dates or ()) - set(dates)),
                   instruments=list(res.instruments))


def paper_view(res: Results) -> Results:
    """The paper's models (roles baseline, reference, agent), with the other and strategy models beside them: what
    Tables 2-6 and 8, the Kruskal-Wallis / Mann-Whitney tables and claims C1-C3 are computed on, so that adding the
    new models (variant, policy, oracle) to a folder changes none of them. Strategy models add columns to Tables
    2-5 and pairs to the tests; Table 6's group, Table 8 and C1-C3 take their models by role and do not change."""
    keep = [m.name for m in res.models + res.missing_models if m.role in PAPER_ROLES]
    return subset(res, keep)
