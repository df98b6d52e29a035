"""Significance tests and bootstrap confidence intervals for the report.

* Kruskal-Wallis H test across all models (``scipy.stats.kruskal``) on the per-day values.
* Post-hoc pairwise Mann-Whitney U tests (``scipy.stats.mannwhitneyu``) on the days both models have,
  with the Holm-Bonferroni step-down correction across the pairs of one indicator (:func:`holm`).
* A hierarchical percentile bootstrap: each replicate resamples the days with replacement and, for each
  drawn day, one seed per model at random. With one seed per (model, day) the interval reflects the
  day-to-day variation only.
* Paired tests beyond the paper: the one-sided Wilcoxon signed-rank test on per-day differences
  (:func:`wilcoxon_greater`) and a moving-block bootstrap over days of their mean (:func:`block_bootstrap_ci`),
  which keeps the dependence between neighbouring days (block length ``round(n ** (1/3))``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from alpha_as.report.load import INDICATORS, Results


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order.

    NaN entries stay NaN and do not count in the number of hypotheses. Example:
    ``holm([0.01, 0.04, 0.03])`` → ``[0.03, 0.06, 0.06]``.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(adj), 1.0)
    return out


def _clean(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    return a[~np.isnan(a)]


def kruskal_wallis(groups: Sequence[np.ndarray]) -> tuple[float, float]:
    """(H, p) of ``scipy.stats.kruskal`` on the groups (NaN dropped, empty groups skipped).

    (NaN, NaN) when fewer than two non-empty groups remain or every value is identical.
    """
    gs = [g for g in (_clean(x) for x in groups) if g.size]
    if len(gs) < 2 or np.unique(np.concatenate(gs)).size < 2:  # scipy: NaN with a warning, or ValueError
        return math.nan, math.nan
    from scipy import stats as sps  # imported on first use, not when the CLI starts

    try:
        r = sps.kruskal(*gs)
    except ValueError:  # all numbers identical
        return math.nan, math.nan
    return float(r.statistic), float(r.pvalue)


def mann_whitney(x: np.ndarray, y: np.ndarray, alternative: str = "two-sided") -> tuple[float, float]:
    """(U, p) of ``scipy.stats.mannwhitneyu(x, y, alternative=...)`` (NaN dropped); (NaN, NaN) when a
    sample is empty."""
    a, b = _clean(x), _clean(y)
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan
    from scipy import stats as sps

    r = sps.mannwhitneyu(a, b, alternative=alternative)
    return float(r.statistic), float(r.pvalue)


def common_days(res: Results, indicator: str, a: str, b: str) -> np.ndarray:
    """Indices of the days on which both models have a value of ``indicator``."""
    v = res.day_values[indicator]
    return np.flatnonzero(~np.isnan(v[res.index(a)]) & ~np.isnan(v[res.index(b)]))


@dataclass(frozen=True)
class KruskalRow:
    indicator: str
    n_models: int
    n_values: int
    h: float
    p: float


@dataclass(frozen=True)
class MannWhitneyRow:
    indicator: str
    model_a: str
    model_b: str
    n_days: int
    u: float
    p: float
    p_holm: float


def kruskal_table(res: Results) -> list[KruskalRow]:
    """One Kruskal-Wallis test per indicator across all models, each on all its per-day values."""
    rows = []
    for ind in INDICATORS:
        groups = [_clean(r) for r in res.day_values[ind]]
        groups = [g for g in groups if g.size]
        h, p = kruskal_wallis(groups)
        rows.append(KruskalRow(ind, len(groups), int(sum(g.size for g in groups)), h, p))
    return rows


def mann_whitney_table(res: Results) -> list[MannWhitneyRow]:
    """Two-sided Mann-Whitney U for every pair of models per indicator, on the days both have, with Holm's
    correction across the pairs of each indicator."""
    rows: list[MannWhitneyRow] = []
    names = res.names
    for ind in INDICATORS:
        v = res.day_values[ind]
        raw = []
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                days = common_days(res, ind, names[i], names[j])
                u, p = mann_whitney(v[i, days], v[j, days])
                raw.append((names[i], names[j], int(days.size), u, p))
        adj = holm([r[4] for r in raw])
        rows += [MannWhitneyRow(ind, a, b, n, u, p, float(q)) for (a, b, n, u, p), q in zip(raw, adj, strict=True)]
    return rows


# --------------------------------------------------------------------------------------------- bootstrap

def hierarchical_draws(models_days: Sequence[Sequence[np.ndarray]], samples: int,
                       rng: np.random.Generator) -> list[np.ndarray]:
    """Bootstrap draws for several models over the same n days.

    ``models_days[k][d]`` is the 1-D array of model k's per-seed values on day d (non-empty). Returns, per
    model, a (samples, n) array: each replicate draws n days with replacement (shared by the models) and,
    for each drawn day, one of that model's seeds uniformly at random.
    """
    n = len(models_days[0])
    day_idx = rng.integers(0, n, size=(samples, n))
    out = []
    for days in models_days:
        if len(days) != n:
            raise ValueError("every model needs the same days")
        counts = np.array([len(a) for a in days], dtype=np.int64)
        if (counts < 1).any():
            raise ValueError("every (model, day) needs at least one seed")
        padded = np.zeros((n, int(counts.max())))
        for d, a in enumerate(days):
            padded[d, : a.size] = a
        seed_idx = np.minimum((rng.random((samples, n)) * counts[day_idx]).astype(np.int64), counts[day_idx] - 1)
        out.append(padded[day_idx, seed_idx])
    return out


def bootstrap_ci(models_days: Sequence[Sequence[np.ndarray]],
                 statistic: Callable[[list[np.ndarray]], np.ndarray],
                 *, samples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of ``statistic`` (maps the per-model (samples, n) draws to a (samples,) array) under
    :func:`hierarchical_draws` with ``numpy.random.default_rng(seed)``; (NaN, NaN) with no days."""
    if not models_days or len(models_days[0]) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    reps = np.asarray(statistic(hierarchical_draws(models_days, samples, rng)), dtype=np.float64)
    a = (1.0 - level) / 2.0
    lo, hi = np.percentile(reps, [100.0 * a, 100.0 * (1.0 - a)])
    return float(lo), float(hi)


def mean_diff_ci(a_days: Sequence[np.ndarray], b_days: Sequence[np.ndarray], *, higher_is_better: bool,
                 samples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """CI of the mean per-day difference A − B, oriented so that positive = A better (B − A when lower is
    better)."""
    sign = 1.0 if higher_is_better else -1.0
    return bootstrap_ci([a_days, b_days], lambda d: sign * (d[0] - d[1]).mean(axis=1),
                        samples=samples, seed=seed, level=level)


def share_ci(a_days: Sequence[np.ndarray], b_days: Sequence[np.ndarray], *, samples: int, seed: int,
             level: float = 0.95) -> tuple[float, float]:
    """CI of the share of days on which A's value is strictly greater than B's."""
    return bootstrap_ci([a_days, b_days], lambda d: (d[0] > d[1]).mean(axis=1),
                        samples=samples, seed=seed, level=level)


# ------------------------------------------------------------------------------------------ paired tests

def wilcoxon_greater(diffs: np.ndarray) -> float:
    """One-sided p of ``scipy.stats.wilcoxon(diffs, zero_method="wilcox", alternative="greater")``: the
    per-day differences are centred above 0. NaN entries are dropped; NaN when fewer than 2 differences are
    non-zero (the zeros are discarded, as zero_method "wilcox" does)."""
    d = _clean(diffs)
    if int((d != 0.0).sum()) < 2:
        return math.nan
    from scipy import stats as sps

    return float(sps.wilcoxon(d, zero_method="wilcox", alternative="greater").pvalue)


def block_length(n: int) -> int:
    """The moving-block length for n days: max(1, round(n ** (1/3)))."""
    return max(1, int(round(n ** (1.0 / 3.0)))) if n > 0 else 1


def block_indices(n: int, length: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """(samples, n) day indices of a moving-block bootstrap: each replicate concatenates ceil(n / length)
    blocks of ``length`` consecutive days, each starting uniformly in 0..n-length, cut to n days.

    With ``length == 1`` this is ``rng.integers(0, n, size=(samples, n))``: the ordinary day bootstrap (the
    same draws as :func:`hierarchical_draws` uses for its days).
    """
    if n < 1:
        raise ValueError("no days")
    length = min(max(1, int(length)), n)
    k = -(-n // length)
    starts = rng.integers(0, n - length + 1, size=(samples, k))
    return (starts[:, :, None] + np.arange(length)).reshape(samples, k * length)[:, :n]


def block_bootstrap_ci(diffs: np.ndarray, *, samples: int, seed: int, level: float = 0.95,
                       length: int | None = None) -> tuple[float, float]:
    """Percentile CI of the mean of the per-day ``diffs`` (in day order) under a moving-block bootstrap
    (:func:`block_indices`, block length :func:`block_length` unless given) with
    ``numpy.random.default_rng(seed)``; NaN entries are dropped first; (NaN, NaN) with no days."""
    d = _clean(diffs)
    if d.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = block_indices(d.size, block_length(d.size) if length is None else length, samples, rng)
    reps = d[idx].mean(axis=1)
    a = (1.0 - level) / 2.0
    lo, hi = np.percentile(reps, [100.0 * a, 100.0 * (1.0 - a)])
    return float(lo), float(hi)
