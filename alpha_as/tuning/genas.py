"""Gen-AS: the Avellaneda–Stoikov strategy tuned by a genetic algorithm on one day (spec §4, §9 #13).

``tune(data, instrument, day, out, GAConfig())`` evaluates ``generations × population`` individuals (each a
vector of genes = AS parameters) on the GA day, with the fitness = Sharpe of Δ(realized P&L) per fill
(:func:`alpha_as.metrics.sharpe`; 0.0 for degenerate days), and writes to ``out``:

* ``history.parquet`` — one row per evaluated individual (rewritten after every generation);
* ``best.json`` — the fittest individual; its ``params`` is a full ASParams (``alpha-as run as --params``);
* ``config.json`` — the run's configuration.

**Other strategies** (``GAConfig.strategy``, ``alpha-as tune --strategy NAME``): any registered strategy
(:mod:`alpha_as.strategies.registry`) is tuned the same way, its genes numeric fields of its parameter class
(:mod:`alpha_as.tuning.genes`), the default gene table the registry's (a strategy without one needs ``genes``).
best.json records ``"strategy"`` and its ``params`` are that strategy's (``alpha-as run NAME --params``).

Two algorithms (``GAConfig.algorithm``):

* ``"authors"`` (default, CONFIRMED-CODE in spec §4): a cumulative population — every individual ever
  evaluated is kept. Generation 0 draws ``population`` individuals with the authors' rule
  gene = max·U(0,1) + N(0, 2)·(max − min), clipped (σ = 2 sends many genes to a bound; ``init = "uniform"``
  draws U(min, max) instead). Every later generation breeds ``population`` new individuals from the whole
  cumulative population: with probability 0.7 a blend child = a·A + (1 − a)·B (one a ~ U(0,1) clipped to
  [0.2, 0.8] for all genes), else a Gaussian mutation of one parent, gene + N(0, σ_g)·(max − min) clipped,
  re-drawn until it differs from the parent, σ_g = max(0.01, 2·e^(−0.1(g+1))) after generation g
  (1.81, 1.64, 1.48, …). Parents are drawn with weights score + |min score| (uniform when all are 0),
  the second parent of a crossover without replacement.
* ``"mu_plus_lambda"``: DEAP's standard ``eaMuPlusLambda`` (μ = λ = population, cxpb 0.7, mutpb 0.3,
  selTournament(3)) with the same blend and Gaussian operators; every evaluation is recorded.

The default gene table (γ ∈ [0.01, 0.9], window_tick ∈ [5, 25], spread_multiplier ∈ [0.75, 5],
position_multiplier ∈ [8000, 12500]) is INFERRED (spec §9 #13: the paper does not give the genes or their
ranges; these are the authors' later code's ranges: ``alpha_as.strategies.avellaneda_stoikov.GENES``). Integer
parameters (window_tick, …) keep the raw float gene in the history and are rounded half up (and into the range)
when the ASParams is built.

Reproducibility: every random draw happens in the main process from generators seeded with
``GAConfig.seed`` (a ``numpy.random.Generator`` for our operators; for ``mu_plus_lambda`` also the global
``random`` and numpy legacy RNGs that DEAP uses, seeded and restored afterwards). Evaluations are
deterministic, so the same seed gives the same history whatever ``workers`` is — except the
``eval_seconds`` column, a wall-clock measurement. A killed run leaves the completed generations in
``history.parquet``; resuming is not supported. ``tune`` refuses an ``out`` that holds a finished run
(``best.json``) unless ``force``; an unfinished one is simply started afresh.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from deap import algorithms, base, creator, tools

from alpha_as.configs import REMEDIES, from_dict, read_json_file
from alpha_as.data import store
from alpha_as.engine import EngineConfig  # before the strategies: importing those first is circular
from alpha_as.engine.backtest import Backtest, engine_day, write_json_atomic
from alpha_as.errors import InputError
from alpha_as.tuning.genes import (  # noqa: F401 - re-exported: alpha_as.tuning.genas's API before genes.py
    DEFAULT_GENES,
    base_params_of,
    build_params,
    check_gene_table,
    check_strategy,
    default_genes,
    genes_to_params,
    param_space,
    param_value,
    params_dict,
)

ALGORITHMS = ("authors", "mu_plus_lambda")
INITS = ("authors", "uniform")
METRICS = ("sharpe", "sortino", "max_drawdown", "pnl_to_map")


@dataclass(frozen=True)
class GAConfig:
    """Configuration of one Gen-AS run. Defaults: the paper (10 × 45) and the authors' GA code (spec §4)."""

    generations: int = 10
    """Generations, the initial one included (paper: 10)."""
    population: int = 45
    """Individuals evaluated per generation (paper: 45); μ = λ for mu_plus_lambda."""
    seed: int = 0
    """Seed of every random draw; the same seed gives the same history."""
    workers: int | None = None
    """Worker processes evaluating individuals (None = os.cpu_count(); 1 = in this process)."""
    algorithm: str = "authors"
    """"authors": cumulative population (spec §4); "mu_plus_lambda": DEAP's eaMuPlusLambda."""
    init: str = "authors"
    """Initial genes: "authors" = max·U(0,1) + N(0, init_sigma)·(max − min), clipped; "uniform" = U(min, max)."""
    strategy: str = field(default="as", metadata={"omit_default": True})
    """The registered strategy tuned (``alpha_as.strategies.registry``; default "as", Gen-AS). Left out of
    :meth:`to_dict` at its default, so the configs (and the replicate stage's hashes) of AS runs never change."""
    genes: dict[str, list[float]] | None = None
    """Gene table {field of the strategy's parameters: [min, max]} (numeric fields only). None = the strategy's
    default table (AS: :data:`DEFAULT_GENES`, INFERRED: spec §9 #13; a strategy without one needs genes)."""
    base_params: dict = field(default_factory=dict)
    """Fixed (non-gene) parameters of the strategy over its defaults, e.g. {"minutes_change_k": 10} for AS."""
    engine: dict = field(default_factory=dict)
    """EngineConfig overrides (fill model, latency, fees, ...); default: the authors' engine."""
    window: str = "07:00-19:00"
    """UTC window of the GA day replayed, HH:MM-HH:MM, or "all"."""
    crossover_prob: float = 0.7
    """Probability that a new individual is a blend child (authors: 0.7; the cxpb of mu_plus_lambda)."""
    mutation_prob: float = 0.3
    """mutpb of mu_plus_lambda (the authors' variant mutates whenever it does not cross)."""
    blend_min: float = 0.2
    """Lower clip of the blend weight a ~ U(0, 1)."""
    blend_max: float = 0.8
    """Upper clip of the blend weight."""
    init_sigma: float = 2.0
    """σ of the authors' initial rule, in units of the gene's range."""
    sigma0: float = 2.0
    """Mutation σ_g = max(sigma_floor, sigma0·exp(−sigma_decay·(g+1))) after generation g."""
    sigma_decay: float = 0.1
    """Decay rate of the mutation σ per generation."""
    sigma_floor: float = 0.01
    """Floor of the mutation σ."""
    tournament_size: int = 3
    """Tournament size of mu_plus_lambda's selection."""
    max_redraws: int = 1000
    """Mutation draws before a child equal to its parent is accepted anyway."""

    def __post_init__(self) -> None:
        check_strategy(self.strategy)
        if self.genes is None:  # the strategy's default table (its InputError names the strategy)
            try:
                object.__setattr__(self, "genes", default_genes(self.strategy))
            except InputError as e:
                raise InputError(f"GA config: {e}") from None
        checks = [
            (self.generations >= 1, f"generations must be >= 1, got {self.generations}"),
            (self.population >= 1, f"population must be >= 1, got {self.population}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (self.workers is None or self.workers >= 1, f"workers must be >= 1, got {self.workers}"),
            (self.algorithm in ALGORITHMS, f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}"),
            (self.init in INITS, f"init must be one of {INITS}, got {self.init!r}"),
            (self.algorithm != "mu_plus_lambda" or self.population >= 2, "mu_plus_lambda needs population >= 2"),
            (0 <= self.crossover_prob <= 1, f"crossover_prob must be in [0, 1], got {self.crossover_prob!r}"),
            (0 <= self.mutation_prob <= 1, f"mutation_prob must be in [0, 1], got {self.mutation_prob!r}"),
            (self.algorithm != "mu_plus_lambda" or self.crossover_prob + self.mutation_prob <= 1,
             f"crossover_prob + mutation_prob must be <= 1, got {self.crossover_prob!r} + {self.mutation_prob!r}"),
            (0 <= self.blend_min <= self.blend_max <= 1,
             f"need 0 <= blend_min <= blend_max <= 1, got {self.blend_min!r}, {self.blend_max!r}"),
            *((0 <= getattr(self, k) < math.inf, f"{k} must be >= 0 and finite, got {getattr(self, k)!r}")
              for k in ("init_sigma", "sigma0", "sigma_decay", "sigma_floor")),
            (self.tournament_size >= 1, f"tournament_size must be >= 1, got {self.tournament_size!r}"),
            (self.max_redraws >= 1, f"max_redraws must be >= 1, got {self.max_redraws!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(f"GA config: {msg}")
        check_gene_table(self.genes, self.base_params, self.strategy)
        store.parse_window(self.window)
        from_dict(EngineConfig, self.engine, source="GA config")  # its errors say "engine: ..."

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "GA config") -> GAConfig:
        return from_dict(cls, d, source=source)

    def to_dict(self) -> dict:
        """The fields, without ``strategy`` at its default "as" (an AS config's dict is as before the option)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "strategy" or v != "as"}


# -------------------------------------------------------------------------------------------- operators

def mutation_sigma(g: int, sigma0: float = 2.0, decay: float = 0.1, floor: float = 0.01) -> float:
    """σ of the mutations that breed the generation after generation ``g`` (g = 0, 1, ...): 1.81, 1.64, ..."""
    return max(floor, sigma0 * math.exp(-decay * (g + 1)))


def blend_weight(rng: np.random.Generator, lo: float = 0.2, hi: float = 0.8) -> float:
    """The authors' blend weight: a ~ U(0, 1) clipped to [lo, hi] (so P(a = lo) = lo, P(a = hi) = 1 − hi)."""
    return float(min(max(rng.random(), lo), hi))


def blend(a, b, w: float) -> list[float]:
    """Child = w·A + (1 − w)·B, gene by gene (stays inside the ranges when both parents are)."""
    return [w * x + (1.0 - w) * y for x, y in zip(a, b, strict=True)]


def init_genes(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, rule: str = "authors",
               sigma: float = 2.0) -> list[float]:
    """An initial gene vector: "authors" = max·U(0,1) + N(0, sigma)·(max − min), clipped; "uniform"."""
    out = []
    for a, b in zip(lo, hi, strict=True):
        if rule == "uniform":
            out.append(float(a + rng.random() * (b - a)))
        else:
            out.append(float(np.clip(b * rng.random() + rng.normal(0.0, sigma) * (b - a), a, b)))
    return out


def mutate_genes(rng: np.random.Generator, parent, lo: np.ndarray, hi: np.ndarray, sigma: float,
                 max_redraws: int = 1000) -> list[float]:
    """Each gene + N(0, sigma)·(max − min), clipped; re-drawn until the child differs from the parent."""
    p = np.asarray(parent, dtype=float)
    for _ in range(max_redraws):
        child = np.clip(p + rng.normal(0.0, sigma, size=p.size) * (hi - lo), lo, hi)
        if not np.array_equal(child, p):
            break
    return [float(x) for x in child]


def parent_probabilities(scores) -> np.ndarray:
    """Selection probabilities ∝ score + |min score| (uniform when every weight is 0). Failed evaluations
    (−inf) get 0 and are left out of the minimum."""
    s = np.asarray(scores, dtype=float)
    ok = np.isfinite(s)
    if not ok.any():
        return np.full(s.size, 1.0 / s.size)
    w = np.where(ok, s + abs(s[ok].min()), 0.0)
    total = w.sum()
    return w / total if total > 0 else np.where(ok, 1.0, 0.0) / ok.sum()


def sample_parents(rng: np.random.Generator, scores, k: int) -> list[int]:
    """``k`` parent indices drawn with :func:`parent_probabilities`, without replacement while possible."""
    p = parent_probabilities(scores)
    chosen: list[int] = []
    for _ in range(k):
        q = p.copy()
        q[chosen] = 0.0
        if q.sum() <= 0:  # every remaining weight is 0: uniform over the rest (or over all)
            q = np.ones(p.size)
            q[chosen] = 0.0
            if q.sum() == 0:
                q = np.ones(p.size)
        chosen.append(int(rng.choice(p.size, p=q / q.sum())))
    return chosen


# ------------------------------------------------------------------------------------------ evaluation

_WORKER: dict = {}


def _init_worker(spec: dict, worker_process: bool = False) -> None:
    """Load the GA day once and the compiled engine once (numba's on-disk cache) in this process."""
    _WORKER.clear()
    if worker_process:  # Ctrl-C is the main process's to handle: it cancels the pool cleanly
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        day = engine_day(store.load_window_day(spec["data"], spec["instrument"], store.parse_date(spec["day"]),
                                               spec["window"]))
        engine = EngineConfig(**spec["engine"])
        warm = base_params_of(spec["base_params"], spec["strategy"])
        Backtest(day, warm, engine).run_until(np.iinfo(np.int64).min)  # compiles (or loads) the engine
        _WORKER.update(spec, day=day, engine_config=engine, lo=np.array(spec["lo"]), hi=np.array(spec["hi"]))
    except Exception as e:  # re-raised by evaluate(), in the main process
        _WORKER["error"] = e


def evaluate(genes: list[float]) -> dict:
    """Run the strategy with these genes over the GA day; returns the metrics (fitness = Sharpe)."""
    if "error" in _WORKER:
        raise _WORKER["error"]
    w = _WORKER
    params = genes_to_params(genes, w["names"], w["lo"], w["hi"], w["base_params"], strategy=w["strategy"])
    t0 = time.perf_counter()
    try:
        m = Backtest(w["day"], params, w["engine_config"]).run().metrics
    except RuntimeError as e:  # the engine's documented failures (e.g. an unbounded position): unfit
        out = {k: math.nan for k in (*METRICS, "final_total_pnl", "final_realized_pnl", "mean_abs_position")}
        return {**out, "n_fills": -1, "fitness": -math.inf, "error": str(e),
                "eval_seconds": time.perf_counter() - t0}
    out = {k: float(getattr(m, k)) for k in (*METRICS, "final_total_pnl", "final_realized_pnl", "mean_abs_position")}
    return {**out, "n_fills": int(m.n_fills), "fitness": float(m.sharpe), "error": None,
            "eval_seconds": time.perf_counter() - t0}


class Evaluator:
    """Evaluates batches of gene vectors: in this process (workers = 1, local) or in a pool of worker processes
    that stay alive for the whole run, each loading the GA day once — spawned local processes, or Ray workers
    with ``executor`` = a Ray :class:`~alpha_as.experiments.executors.Executor`. Results come back in input order,
    never timing's."""

    def __init__(self, spec: dict, workers: int, total: int, progress: bool = True, executor=None) -> None:
        from alpha_as.progress import progress_bar

        self.spec, self.workers, self.pool, self.executor, self._ctx = spec, workers, None, executor, None
        self.bar = progress_bar(total, "Gen-AS", "eval", enabled=progress)
        self.best = -math.inf

    def __enter__(self) -> Evaluator:
        from alpha_as.experiments.executors import Executor

        ray = self.executor is not None and self.executor.kind == "ray"
        if self.workers == 1 and not ray:
            _init_worker(self.spec)
            if "error" in _WORKER:
                self.bar.close()
                raise _WORKER.pop("error")
        else:  # local: spawned fresh interpreters (no inherited threads, locks or numba state); a dead worker
            # raises BrokenProcessPool instead of being respawned forever as in multiprocessing.Pool
            ex = self.executor if ray else Executor("local", self.workers)
            self._ctx = ex.pool(_init_worker, (self.spec,) if ray else (self.spec, True))
            try:
                self.pool = self._ctx.__enter__()
            except BaseException:
                self.bar.close()
                raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.bar.close()
        if self._ctx is not None:
            self._ctx.__exit__(exc_type, exc, tb)
        else:
            _WORKER.clear()

    def map(self, batch: list[list[float]]) -> list[dict]:
        it = map(evaluate, batch) if self.pool is None else self.pool.map(evaluate, batch)
        out = []
        for r in it:
            out.append(r)
            self.best = max(self.best, r["fitness"])
            self.bar.set_postfix(best=f"{self.best:+.4f}", refresh=False)
            self.bar.update()
        return out


# --------------------------------------------------------------------------------------------- drivers

class History:
    """Every evaluated individual, in evaluation order; ``id`` = row number."""

    def __init__(self, names: list[str], lo: np.ndarray, hi: np.ndarray, path: Path | None,
                 strategy: str = "as") -> None:
        self.names, self.lo, self.hi, self.path, self.rows = names, lo, hi, path, []
        self.strategy, self.ints = strategy, param_space(strategy).ints

    def add(self, generation: int, genes_batch: list, metas: list[dict], results: list[dict]) -> list[int]:
        ids = []
        for i, (genes, meta, res) in enumerate(zip(genes_batch, metas, results, strict=True)):
            row = {"id": len(self.rows), "generation": generation, "index": i, "operator": meta["operator"],
                   "parent_a": meta.get("parent_a", -1), "parent_b": meta.get("parent_b", -1),
                   "blend_weight": meta.get("blend_weight", math.nan),
                   "mutation_sigma": meta.get("mutation_sigma", math.nan)}
            row.update({f"gene_{n}": float(g) for n, g in zip(self.names, genes, strict=True)})
            row.update({f"param_{n}": param_value(n, g, a, b, self.strategy) for n, g, a, b
                        in zip(self.names, genes, self.lo, self.hi, strict=True) if n in self.ints})
            row.update(res)
            self.rows.append(row)
            ids.append(row["id"])
        if self.path is not None:
            store.write_table_atomic(self.table(), self.path)
        return ids

    def table(self) -> pa.Table:
        cols = {k: [r[k] for r in self.rows] for k in self.rows[0]}
        types = {"id": pa.int64(), "generation": pa.int32(), "index": pa.int32(), "parent_a": pa.int64(),
                 "parent_b": pa.int64(), "n_fills": pa.int64(), "operator": pa.string(), "error": pa.string()}
        return pa.table({k: pa.array(v, types.get(k, pa.int64() if k.startswith("param_") else pa.float64()))
                         for k, v in cols.items()})

    def best(self) -> dict:
        """The fittest row (the first one on ties)."""
        return max(self.rows, key=lambda r: (r["fitness"], -r["id"]))


def _individual_types():
    if not hasattr(creator, "GenASFitness"):
        creator.create("GenASFitness", base.Fitness, weights=(1.0,))
        creator.create("GenASIndividual", list, fitness=creator.GenASFitness)
    return creator.GenASIndividual


def run_authors(cfg: GAConfig, ev: Evaluator, hist: History) -> None:
    """The authors' GA: cumulative population, fitness-weighted parents, blend or Gaussian mutation."""
    Individual = _individual_types()
    rng = np.random.default_rng(cfg.seed)
    lo, hi = hist.lo, hist.hi
    population: list = []
    for g in range(cfg.generations):
        batch, metas = [], []
        scores = [ind.fitness.values[0] for ind in population]
        sigma = mutation_sigma(g - 1, cfg.sigma0, cfg.sigma_decay, cfg.sigma_floor)
        for _ in range(cfg.population):
            if g == 0:
                batch.append(init_genes(rng, lo, hi, cfg.init, cfg.init_sigma))
                metas.append({"operator": "init"})
            elif rng.random() < cfg.crossover_prob:
                a, b = sample_parents(rng, scores, 2) if len(population) > 1 else [0, 0]
                w = blend_weight(rng, cfg.blend_min, cfg.blend_max)
                batch.append(blend(population[a], population[b], w))
                metas.append({"operator": "crossover", "parent_a": population[a].uid,
                              "parent_b": population[b].uid, "blend_weight": w})
            else:
                (a,) = sample_parents(rng, scores, 1)
                batch.append(mutate_genes(rng, population[a], lo, hi, sigma, cfg.max_redraws))
                metas.append({"operator": "mutation", "parent_a": population[a].uid, "mutation_sigma": sigma})
        results = ev.map(batch)
        ids = hist.add(g, batch, metas, results)
        for genes, res, uid in zip(batch, results, ids, strict=True):
            ind = Individual(genes)
            ind.fitness.values = (res["fitness"],)
            ind.uid = uid
            population.append(ind)


def run_mu_plus_lambda(cfg: GAConfig, ev: Evaluator, hist: History) -> None:
    """DEAP's eaMuPlusLambda with our blend and Gaussian operators; every evaluation recorded."""
    Individual = _individual_types()
    rng = np.random.default_rng(cfg.seed)
    lo, hi = hist.lo, hist.hi
    state = {"generation": 0}

    def mate(a, b):
        w = blend_weight(rng, cfg.blend_min, cfg.blend_max)
        ua, ub = a.uid, b.uid
        a[:], b[:] = blend(a, b, w), blend(a, b, 1.0 - w)
        for child in (a, b):
            child.meta = {"operator": "crossover", "parent_a": ua, "parent_b": ub, "blend_weight": w}
        return a, b

    def mutate(ind):
        sigma = mutation_sigma(state["generation"] - 1, cfg.sigma0, cfg.sigma_decay, cfg.sigma_floor)
        ind.meta = {"operator": "mutation", "parent_a": ind.uid, "mutation_sigma": sigma}
        ind[:] = mutate_genes(rng, ind, lo, hi, sigma, cfg.max_redraws)
        return (ind,)

    def evaluate_batch(_func, individuals):
        individuals = list(individuals)
        batch = [[float(x) for x in ind] for ind in individuals]
        results = ev.map(batch)
        ids = hist.add(state["generation"], batch, [ind.meta for ind in individuals], results)
        for ind, uid in zip(individuals, ids, strict=True):
            ind.uid = uid
        state["generation"] += 1
        return [(r["fitness"],) for r in results]

    toolbox = base.Toolbox()
    toolbox.register("evaluate", evaluate)
    toolbox.register("map", evaluate_batch)
    toolbox.register("mate", mate)
    toolbox.register("mutate", mutate)
    toolbox.register("select", tools.selTournament, tournsize=cfg.tournament_size)
    population = []
    for _ in range(cfg.population):
        ind = Individual(init_genes(rng, lo, hi, cfg.init, cfg.init_sigma))
        ind.meta = {"operator": "init"}
        population.append(ind)
    # DEAP draws from the global `random` (varOr, selTournament); numpy's legacy RNG is seeded too in case
    saved = random.getstate(), np.random.get_state()  # noqa: NPY002
    random.seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)  # noqa: NPY002
    try:
        algorithms.eaMuPlusLambda(population, toolbox, mu=cfg.population, lambda_=cfg.population,
                                  cxpb=cfg.crossover_prob, mutpb=cfg.mutation_prob, ngen=cfg.generations - 1,
                                  verbose=False)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])  # noqa: NPY002


# ---------------------------------------------------------------------------------------------- output

def read_best_params(path: str | Path, *, remedy: str | None = None, strategy: str | None = None) -> dict:
    """The ``params`` object of a GA's ``best.json`` (as written, validated as the parameters of the strategy the
    file names: its ``strategy``, "as" when it has none, as the files written before the option). One InputError
    line naming the file when it is missing, truncated or not valid JSON (with ``remedy``, default
    ``REMEDIES["best.json"]``: delete it and rerun the GA), has no valid ``params``, or tuned another strategy
    than ``strategy`` (None: any)."""
    path = Path(path)
    doc = read_json_file(path, "the Gen-AS output", remedy=REMEDIES["best.json"] if remedy is None else remedy)
    params = doc.get("params")
    if not isinstance(params, dict):
        raise InputError(f'{path}: expected {{"params": {{...}}}} (a Gen-AS best.json)')
    tuned = doc.get("strategy", "as")
    check_strategy(tuned, source=str(path))
    if strategy is not None and strategy != tuned:
        raise InputError(f"{path}: the GA tuned strategy {tuned!r}, not {strategy!r} (tune it with "
                         f"`alpha-as tune --strategy {strategy}`)")
    build_params(params, tuned, source=f"{path}: params")
    return params


# ---------------------------------------------------------------------------------------------- driver

def _default_table(strategy: str) -> dict | None:
    """The strategy's default gene table, None when it has none."""
    try:
        return default_genes(strategy)
    except InputError:
        return None


@dataclass
class TuneResult:
    best: dict
    """best.json's content."""
    history: pa.Table
    wall_seconds: float
    evaluations: int
    workers: int

    def summary(self) -> str:
        b = self.best
        # the parameters the engine runs (best.json's params: integer genes rounded half up into their range),
        # not the raw genes (best.json's genes: window_tick 5.22034 runs as 5)
        genes = " ".join(f"{k}={b['params'][k]:.6g}" for k in b["genes"])
        return (f"Gen-AS [{b.get('strategy', 'as')}] best fitness (Sharpe) {b['fitness']:+.4f} at generation "
                f"{b['generation']} #{b['index']}: {genes} | {b['generations']} generations, {self.evaluations} "
                f"evaluations, {self.workers} worker(s), {self.wall_seconds:.1f} s")


def tune(data: str | Path, instrument: str, day: str, out: str | Path, config: GAConfig | None = None, *,
         force: bool = False, progress: bool = True, executor=None) -> TuneResult:
    """Run the GA on ``day`` of ``instrument`` in the store ``data``; write history, best and config to ``out``.
    ``executor``: a Ray :class:`~alpha_as.experiments.executors.Executor` evaluates on Ray (the same history); else
    ``config.workers`` local processes."""
    cfg = config or GAConfig()
    data, out = Path(data), Path(out)
    date = store.parse_date(day)
    for kind in (store.DEPTH, store.TRADE):
        path = store.partition_path(data, kind, instrument, date)
        if not path.is_file():
            raise InputError(f"no {kind} data for instrument {instrument!r} on {date}", path=path)
    if (out / "best.json").exists() and not force:
        raise InputError(f"{out} holds a finished GA run (best.json); pass --force to overwrite it")
    out.mkdir(parents=True, exist_ok=True)
    (out / "best.json").unlink(missing_ok=True)
    table = check_gene_table(cfg.genes, cfg.base_params, cfg.strategy)
    names = list(table)
    lo, hi = np.array([v[0] for v in table.values()]), np.array([v[1] for v in table.values()])
    ray = executor is not None and executor.kind == "ray"
    workers = executor.workers if ray else min(cfg.workers or os.cpu_count() or 1, cfg.population)
    meta = {"data": str(data), "instrument": instrument, "day": str(date)}
    default_table = cfg.genes == _default_table(cfg.strategy)
    note = ("default gene ranges INFERRED (spec §9 #13)" if cfg.strategy == "as" else
            f"gene ranges: {'the registry default of' if default_table else 'given for'} {cfg.strategy!r}")
    write_json_atomic({"config": cfg.to_dict(), "strategy": cfg.strategy, **meta, "workers_used": workers,
                       "gene_table_note": note}, out / "config.json")
    spec = {**meta, "strategy": cfg.strategy, "window": cfg.window, "engine": cfg.engine,
            "base_params": cfg.base_params, "names": names, "lo": lo.tolist(), "hi": hi.tolist()}
    hist = History(names, lo, hi, out / "history.parquet", cfg.strategy)
    t0 = time.perf_counter()
    with Evaluator(spec, workers, cfg.generations * cfg.population, progress, executor if ray else None) as ev:
        (run_authors if cfg.algorithm == "authors" else run_mu_plus_lambda)(cfg, ev, hist)
    wall = time.perf_counter() - t0
    row = hist.best()
    genes = {n: row[f"gene_{n}"] for n in names}
    params = genes_to_params(list(genes.values()), names, lo, hi, cfg.base_params, strategy=cfg.strategy)
    best = {"strategy": cfg.strategy, "params": params_dict(params), "fitness": row["fitness"],
            "metrics": {k: row[k] for k in (*METRICS, "n_fills", "final_total_pnl", "final_realized_pnl",
                                            "mean_abs_position")},
            "genes": genes, "generation": row["generation"], "index": row["index"], "id": row["id"],
            "operator": row["operator"], "seed": cfg.seed, **meta, "window": cfg.window,
            "algorithm": cfg.algorithm, "init": cfg.init, "gene_table": {n: list(cfg.genes[n]) for n in names},
            "gene_table_inferred": default_table, "generations": cfg.generations,
            "population": cfg.population, "evaluations": len(hist.rows), "engine": cfg.engine,
            "wall_seconds": wall}
    write_json_atomic(best, out / "best.json")
    return TuneResult(best, hist.table(), wall, len(hist.rows), workers)

