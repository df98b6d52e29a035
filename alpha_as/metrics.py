"""Per-day performance indicators (spec §7, §9 rows #10-#12): Sharpe, Sortino, Max drawdown, P&L-to-MAP,
and the risk-honest marked-to-market ("MtM") indicators on the 5-s grid.

Conventions (the authors' ``python/backtest/pnl_utils.py``):

* The equity curve E is a P&L column sampled on the **per-fill rows** (not time-regular).
  Sharpe, Sortino and Max DD use the realized ("Close") P&L; P&L-to-MAP uses the total
  (realized + unrealized, the code's "Open") P&L.
* ΔE = ``np.diff(E)``: n rows give n-1 differences (pandas ``.diff()`` with the leading NaN skipped).
* Risk-free rate 0, no annualisation; one value per trading day.
* The MtM indicators (beyond the paper) use the 5-s grid rows instead: the grid total P&L (realized +
  unrealized marked by unwinding into the book) as the equity, the same Sharpe / Sortino definitions on
  its 5-s changes (comparable across strategies whatever their fill counts), its max drawdown counted
  from 0 at the session start, and the mean |grid position|.

Degenerate days never crash and never give NaN/inf: every function returns a finite float, and any
result that is not finite (e.g. floating-point overflow on absurd inputs) is replaced by 0.0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

ZERO_STD_RTOL = 1e-12  # std(ΔE) <= this * max|ΔE| counts as zero variance (rounding noise, e.g. equal steps)


def _arr(x: np.ndarray) -> np.ndarray:
    a = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if a.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {a.shape}")
    return a


def _diff(equity: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):  # overflow of huge values -> inf, caught by _finite later
        return np.diff(_arr(equity))


def _finite(x: float) -> float:
    x = float(x)
    return x if np.isfinite(x) else 0.0


def sharpe(equity: np.ndarray) -> float:
    """Sharpe = mean(ΔE) / std(ΔE, ddof=1), ΔE = diff(equity); rf 0, not annualised.

    Degenerate → 0.0: fewer than 2 differences (fewer than 3 rows), zero variance (std == 0, or
    std <= 1e-12·max|ΔE|, which only rounding noise on equal steps can give), or a non-finite result.
    """
    d = _diff(equity)
    if d.size < 2:
        return 0.0
    with np.errstate(all="ignore"):
        sd = d.std(ddof=1)
        if not np.isfinite(sd) or sd <= ZERO_STD_RTOL * np.abs(d).max():
            return 0.0
        return _finite(d.mean() / sd)


def sortino(equity: np.ndarray, *, zero_downside: float = 1e-6) -> float:
    """Sortino = mean(ΔE) / sqrt(mean(min(ΔE, 0)²)): downside deviation over all differences, target 0.

    A zero downside deviation (no losing difference) is replaced by ``zero_downside`` (the authors'
    1e-6), so a day with only gains gives mean(ΔE)/1e-6. Degenerate → 0.0: fewer than 1 difference
    (fewer than 2 rows), mean(ΔE) == 0, or a non-finite result.
    """
    d = _diff(equity)
    if d.size < 1:
        return 0.0
    with np.errstate(all="ignore"):
        m = d.mean()
        if m == 0.0:
            return 0.0
        dd = np.sqrt(np.mean(np.minimum(d, 0.0) ** 2))
        if dd == 0.0:
            dd = zero_downside
        return _finite(m / dd)


def max_drawdown(equity: np.ndarray, *, from_zero: bool = False) -> float:
    """Max drawdown in USD = max_t (cummax(E)_t − E_t) >= 0 (tables show it negated).

    By default the curve is the fill rows only, as in the authors' code; ``from_zero=True`` prepends
    an implicit E = 0 before the first fill (so a day that starts with a loss counts it).
    Degenerate → 0.0: empty curve, or a non-finite result.
    """
    e = _arr(equity)
    if from_zero:
        e = np.concatenate(([0.0], e))
    if e.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        return _finite((np.maximum.accumulate(e) - e).max())


def pnl_to_map(total_pnl_final: float, positions: np.ndarray) -> float:
    """P&L-to-MAP = final total P&L / mean(|positions|) (Gašperov; the authors' 2022-02 fixed form).

    Degenerate → 0.0: no positions, mean |position| == 0 (never held inventory), or a non-finite result.
    """
    p = _arr(positions)
    if p.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        mean_abs = np.abs(p).mean()
        if not np.isfinite(mean_abs) or mean_abs == 0.0:
            return 0.0
        return _finite(float(total_pnl_final) / mean_abs)


@dataclass(frozen=True)
class DayMetrics:
    """The four indicators of one trading day, the inputs they summarise, and the MtM indicators of its
    5-s grid (all floats finite)."""

    n_fills: int
    final_realized_pnl: float
    final_total_pnl: float
    sharpe: float
    sortino: float
    max_drawdown: float  # USD, >= 0; negate for the paper's tables
    pnl_to_map: float
    mean_abs_position: float  # the denominator of pnl_to_map (over fills or the grid, see map_over)
    # marked-to-market indicators from the 5-s grid rows (0.0 without a grid)
    mtm_pnl: float = 0.0  # last grid total P&L
    mtm_sharpe: float = 0.0  # Sharpe of the 5-s changes of the grid total P&L
    mtm_sortino: float = 0.0  # Sortino of the same changes
    mtm_max_drawdown: float = 0.0  # USD, >= 0, of the grid total P&L counted from 0 at the session start
    mean_abs_inventory: float = 0.0  # mean |grid position|

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def day_metrics(
    fill_realized: np.ndarray,
    fill_total: np.ndarray,
    fill_position: np.ndarray,
    *,
    grid_total: np.ndarray | None = None,
    grid_position: np.ndarray | None = None,
    map_over: str = "fills",
) -> DayMetrics:
    """All indicators of one day from its per-fill rows (and optionally its 5-s grid rows).

    Sharpe, Sortino and Max DD use ``fill_realized``. P&L-to-MAP = final total P&L / mean |position|:
    ``map_over="fills"`` (default, the authors' definition) uses the last ``fill_total`` and the mean
    |``fill_position``| over fill rows; ``map_over="grid"`` uses the mean |``grid_position``| over the
    grid rows (required) and the last ``grid_total`` row (when given and non-empty, else the last
    fill row). ``final_total_pnl`` is the total P&L used for P&L-to-MAP. No fills → n_fills 0 and
    every fill-based float 0.0.

    The MtM fields come from the grid rows whatever ``map_over`` and the fills (a day without fills may
    have grid rows): ``mtm_pnl`` = last ``grid_total``, ``mtm_sharpe`` / ``mtm_sortino`` = :func:`sharpe` /
    :func:`sortino` of ``grid_total``, ``mtm_max_drawdown`` = :func:`max_drawdown` of ``grid_total`` with
    ``from_zero=True``, ``mean_abs_inventory`` = mean |``grid_position``|; each is 0.0 when its array is
    absent or empty. Raises ValueError for an unknown ``map_over``, a missing ``grid_position`` with
    ``map_over="grid"``, or arrays of mismatched lengths (``grid_total`` and ``grid_position``, when both
    are non-empty, must have the same length).
    """
    if map_over not in ("fills", "grid"):
        raise ValueError(f"map_over must be 'fills' or 'grid', got {map_over!r}")
    realized, total, pos = _arr(fill_realized), _arr(fill_total), _arr(fill_position)
    if not realized.size == total.size == pos.size:
        raise ValueError(f"fill arrays differ in length: {realized.size}, {total.size}, {pos.size}")
    g_total = _arr(grid_total) if grid_total is not None else np.empty(0)
    g_pos = _arr(grid_position) if grid_position is not None else np.empty(0)
    if g_total.size and g_pos.size and g_total.size != g_pos.size:
        raise ValueError(f"grid_total and grid_position differ in length: {g_total.size}, {g_pos.size}")
    mtm = _mtm(g_total, g_pos)
    if map_over == "grid":
        if grid_position is None:
            raise ValueError("map_over='grid' needs grid_position")
        pos = _arr(grid_position)
        if grid_total is not None and _arr(grid_total).size:
            if _arr(grid_total).size != pos.size:
                raise ValueError("grid_total and grid_position differ in length")
            total = _arr(grid_total)
    n = int(realized.size)
    if n == 0:
        return DayMetrics(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, **mtm)
    with np.errstate(all="ignore"):
        mean_abs = _finite(np.abs(pos).mean()) if pos.size else 0.0
    final_total = _finite(total[-1])
    return DayMetrics(
        n_fills=n,
        final_realized_pnl=_finite(realized[-1]),
        final_total_pnl=final_total,
        sharpe=sharpe(realized),
        sortino=sortino(realized),
        max_drawdown=max_drawdown(realized),
        pnl_to_map=pnl_to_map(final_total, pos),
        mean_abs_position=mean_abs,
        **mtm,
    )


def _mtm(grid_total: np.ndarray, grid_position: np.ndarray) -> dict[str, float]:
    """The MtM fields of :class:`DayMetrics` from the grid total P&L and grid positions (may be empty)."""
    with np.errstate(all="ignore"):
        inv = _finite(np.abs(grid_position).mean()) if grid_position.size else 0.0
    return {
        "mtm_pnl": _finite(grid_total[-1]) if grid_total.size else 0.0,
        "mtm_sharpe": sharpe(grid_total),
        "mtm_sortino": sortino(grid_total),
        "mtm_max_drawdown": max_drawdown(grid_total, from_zero=True) if grid_total.size else 0.0,
        "mean_abs_inventory": inv,
    }
