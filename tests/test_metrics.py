"""Per-day performance indicators (spec §7): hand-computed examples, a pandas oracle, degenerate days."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from alpha_as.metrics import DayMetrics, day_metrics, max_drawdown, pnl_to_map, sharpe, sortino

E = np.array([0.0, 1.0, 0.5, 2.0])


# --- hand-computed examples ---------------------------------------------------------------------


def test_sharpe_hand_computed():
    # E = [0, 1, 0.5, 2] -> dE = [1, -0.5, 1.5] -> mean = 2/3
    # deviations 1/3, -7/6, 5/6 -> squares 4/36 + 49/36 + 25/36 = 78/36; / (3-1) = 13/12
    # std = sqrt(13/12) = 1.040833... -> Sharpe = (2/3) / 1.040833 = 0.640513...
    assert sharpe(E) == pytest.approx((2 / 3) / math.sqrt(13 / 12), rel=1e-12)
    assert sharpe(E) == pytest.approx(0.6405126152, rel=1e-9)


def test_sortino_hand_computed():
    # dE = [1, -0.5, 1.5], mean 2/3; min(dE, 0) = [0, -0.5, 0] -> squares [0, 0.25, 0]
    # mean over all 3 differences = 1/12 -> downside deviation = sqrt(1/12) = 0.288675...
    # Sortino = (2/3) / 0.288675 = 4/sqrt(3) = 2.309401...
    assert sortino(E) == pytest.approx(4 / math.sqrt(3), rel=1e-12)


def test_max_drawdown_two_drawdowns():
    e = np.array([0.0, 3.0, 1.0, 4.0, 5.0, 2.0, 6.0, 5.0])
    # cummax = [0, 3, 3, 4, 5, 5, 6, 6] -> cummax - E = [0, 0, 2, 0, 0, 3, 0, 1]
    # drawdowns: 3 -> 1 (2 USD), 5 -> 2 (3 USD, the largest), 6 -> 5 (1 USD) -> Max DD = 3
    assert max_drawdown(e) == 3.0
    assert max_drawdown(-np.arange(5.0)) == 4.0  # 0 -> -4 monotone loss
    assert max_drawdown(np.arange(5.0)) == 0.0  # never below the running peak


def test_max_drawdown_from_zero():
    e = np.array([-2.0, -1.0])
    # fill rows only: cummax = [-2, -1] -> 0; with an implicit 0 first: [0, -2, -1] -> 0 - (-2) = 2
    assert max_drawdown(e) == 0.0
    assert max_drawdown(e, from_zero=True) == 2.0


def test_pnl_to_map_hand_computed():
    # mean |[1, -3, 2, 0]| = 6/4 = 1.5 -> 10 / 1.5 = 6.666...
    assert pnl_to_map(10.0, np.array([1.0, -3.0, 2.0, 0.0])) == pytest.approx(20 / 3)
    assert pnl_to_map(-3.0, np.array([2.0, -2.0])) == -1.5


def test_day_metrics_map_over_fills_vs_grid():
    realized = np.array([0.0, 1.0, 0.5, 2.0])
    total = np.array([0.5, 1.5, 0.0, 10.0])
    pos = np.array([1.0, -3.0, 2.0, 0.0])
    grid_pos = np.array([0, 1, 1, -3, -3, 2, 2, 0, 0, 0], dtype=float)
    grid_total = np.array([0, 0.5, 1, 1.5, 1, 0, 3, 9, 9, 9], dtype=float)

    m = day_metrics(realized, total, pos)
    # fills: last total 10, mean |pos| = 6/4 = 1.5 -> 6.666...
    assert m.n_fills == 4
    assert m.final_realized_pnl == 2.0
    assert m.final_total_pnl == 10.0
    assert m.mean_abs_position == 1.5
    assert m.pnl_to_map == pytest.approx(20 / 3)
    assert m.sharpe == sharpe(realized) and m.sortino == sortino(realized)
    assert m.max_drawdown == 0.5  # realized 1 -> 0.5

    g = day_metrics(realized, total, pos, grid_total=grid_total, grid_position=grid_pos, map_over="grid")
    # grid: mean |pos| = (1+1+3+3+2+2)/10 = 1.2, last grid total 9 -> 9 / 1.2 = 7.5
    assert g.mean_abs_position == pytest.approx(1.2)
    assert g.final_total_pnl == 9.0
    assert g.pnl_to_map == pytest.approx(7.5)
    # the realized-P&L ratios do not depend on map_over
    assert (g.sharpe, g.sortino, g.max_drawdown) == (m.sharpe, m.sortino, m.max_drawdown)

    # grid without grid_total: the final total P&L comes from the last fill row (10 / 1.2)
    h = day_metrics(realized, total, pos, grid_position=grid_pos, map_over="grid")
    assert h.final_total_pnl == 10.0
    assert h.pnl_to_map == pytest.approx(10 / 1.2)


def test_day_metrics_to_dict():
    d = day_metrics(E, E, np.ones(4)).to_dict()
    assert list(d) == [
        "n_fills", "final_realized_pnl", "final_total_pnl", "sharpe", "sortino",
        "max_drawdown", "pnl_to_map", "mean_abs_position",
        "mtm_pnl", "mtm_sharpe", "mtm_sortino", "mtm_max_drawdown", "mean_abs_inventory",
    ]  # fmt: skip
    assert d["n_fills"] == 4 and d["pnl_to_map"] == 2.0
    # no grid: the MtM fields are 0.0
    assert [d[k] for k in list(d)[8:]] == [0.0] * 5


# --- marked-to-market indicators on the 5-s grid -------------------------------------------------

GRID_POS = np.array([0, 1, 1, -3, -3, 2, 2, 0, 0, 0], dtype=float)
GRID_TOTAL = np.array([0, 0.5, 1, 1.5, 1, 0, 3, 9, 9, 9], dtype=float)


def test_mtm_hand_computed():
    realized, total, pos = np.array([0.0, 1.0, 0.5, 2.0]), np.array([0.5, 1.5, 0.0, 10.0]), np.array([1.0, -3, 2, 0])
    m = day_metrics(realized, total, pos, grid_total=GRID_TOTAL, grid_position=GRID_POS)
    # dE = [0.5, 0.5, 0.5, -0.5, -1, 3, 6, 0, 0]: sum 9 over 9 -> mean 1
    # deviations -0.5 x3, -1.5, -2, 2, 5, -1, -1 -> squares 0.75 + 2.25 + 4 + 4 + 25 + 1 + 1 = 38; / 8 = 4.75
    assert m.mtm_sharpe == pytest.approx(1 / math.sqrt(4.75), rel=1e-12)
    assert m.mtm_sharpe == pytest.approx(0.4588314677, rel=1e-9)
    # downside: min(dE, 0)^2 = 0.25 + 1 over 9 differences -> sqrt(1.25 / 9); Sortino = sqrt(9 / 1.25) = sqrt(7.2)
    assert m.mtm_sortino == pytest.approx(math.sqrt(7.2), rel=1e-12)
    # from 0: [0, 0, 0.5, 1, 1.5, 1, 0, 3, 9, 9, 9] -> peak 1.5, trough 0 -> 1.5
    assert m.mtm_max_drawdown == 1.5
    assert m.mtm_pnl == 9.0
    assert m.mean_abs_inventory == pytest.approx(1.2)  # (1+1+3+3+2+2)/10
    # the paper's fields are bit-identical with or without the grid
    plain = day_metrics(realized, total, pos).to_dict()
    assert list(m.to_dict().values())[:8] == list(plain.values())[:8]


def test_mtm_drawdown_counts_an_opening_loss_and_no_fill_days_use_the_grid():
    m = day_metrics(np.array([]), np.array([]), np.array([]), grid_total=np.array([-2.0, -1.0, -3.0]),
                    grid_position=np.array([0.5, -0.5, 0.0]))
    # no fills: the paper's fields are 0; the grid still gives the MtM fields
    assert (m.n_fills, m.sharpe, m.final_total_pnl, m.pnl_to_map, m.mean_abs_position) == (0, 0.0, 0.0, 0.0, 0.0)
    assert m.mtm_pnl == -3.0
    assert m.mtm_max_drawdown == 3.0  # 0 -> -3
    # dE = [1, -2]: mean -0.5, std(ddof=1) = sqrt(4.5) -> Sharpe -0.5 / 2.1213 = -0.2357
    assert m.mtm_sharpe == pytest.approx(-0.5 / math.sqrt(4.5))
    # downside sqrt((0 + 4) / 2) = sqrt(2) -> -0.5 / sqrt(2)
    assert m.mtm_sortino == pytest.approx(-0.5 / math.sqrt(2))
    assert m.mean_abs_inventory == pytest.approx(1 / 3)


def test_mtm_degenerate_grids():
    base = (np.array([1.0]), np.array([1.0]), np.array([1.0]))
    one = day_metrics(*base, grid_total=np.array([4.0]), grid_position=np.array([2.0]))
    assert (one.mtm_pnl, one.mtm_sharpe, one.mtm_sortino, one.mtm_max_drawdown, one.mean_abs_inventory) == (
        4.0, 0.0, 0.0, 0.0, 2.0)
    empty = day_metrics(*base, grid_total=np.array([]), grid_position=np.array([]))
    assert list(empty.to_dict().values())[8:] == [0.0] * 5
    flat = day_metrics(*base, grid_total=np.zeros(5), grid_position=np.zeros(5))
    assert list(flat.to_dict().values())[8:] == [0.0] * 5
    bad = day_metrics(*base, grid_total=np.array([0.0, np.nan, np.inf]), grid_position=np.array([np.nan, 1, 1]))
    assert all(math.isfinite(v) for v in bad.to_dict().values())
    only_pos = day_metrics(*base, grid_position=np.array([1.0, -3.0]))  # no grid_total: P&L fields 0
    assert (only_pos.mtm_pnl, only_pos.mtm_sharpe, only_pos.mean_abs_inventory) == (0.0, 0.0, 2.0)
    with pytest.raises(ValueError, match="length"):
        day_metrics(*base, grid_total=np.ones(3), grid_position=np.ones(2))


# --- pandas oracle (the authors' definitions in pnl_utils.py) -------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_matches_pandas(seed):
    rng = np.random.default_rng(seed)
    e = np.cumsum(rng.normal(0.01, 1.0, size=200 + 50 * seed))
    s = pd.Series(e)
    d = s.diff()
    assert sharpe(e) == pytest.approx(d.mean() / d.std(), rel=1e-10)
    assert sortino(e) == pytest.approx(d.mean() / np.sqrt((d.clip(upper=0) ** 2).mean()), rel=1e-10)
    assert max_drawdown(e) == pytest.approx((s.cummax() - s).max(), rel=1e-12)
    pos = pd.Series(rng.integers(-5, 6, size=e.size).astype(float))
    assert pnl_to_map(e[-1], pos.to_numpy()) == pytest.approx(e[-1] / pos.abs().mean(), rel=1e-12)


# --- degenerate days --------------------------------------------------------------------------------


def test_empty_and_one_fill():
    for e in (np.array([]), np.array([3.0])):
        assert sharpe(e) == 0.0 and sortino(e) == 0.0
    assert max_drawdown(np.array([])) == 0.0 and max_drawdown(np.array([3.0])) == 0.0
    assert day_metrics(np.array([]), np.array([]), np.array([])) == DayMetrics(
        0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    )
    m = day_metrics(np.array([3.0]), np.array([4.0]), np.array([2.0]))
    assert (m.n_fills, m.sharpe, m.sortino, m.max_drawdown, m.pnl_to_map) == (1, 0.0, 0.0, 0.0, 2.0)


def test_two_fills_one_difference():
    # one difference: no ddof=1 std -> Sharpe 0; Sortino = -1 / sqrt(1) = -1
    assert sharpe(np.array([1.0, 0.0])) == 0.0
    assert sortino(np.array([1.0, 0.0])) == -1.0


def test_constant_equity():
    e = np.full(10, 2.5)
    assert (sharpe(e), sortino(e), max_drawdown(e)) == (0.0, 0.0, 0.0)


def test_equal_steps_count_as_zero_variance():
    # dE = [0.1, 0.1, 0.1] in exact arithmetic; in floats std(ddof=1) = 1.7e-17 (rounding noise),
    # which pandas turns into a Sharpe of ~6e15. The module treats it as zero variance -> 0.0.
    assert sharpe(np.array([0.0, 0.1, 0.2, 0.3])) == 0.0
    assert sharpe(np.array([0.0, 1.0, 2.0, 3.0])) == 0.0  # exactly zero std


def test_sortino_no_downside_uses_1e6():
    e = np.array([0.0, 1.0, 3.0])
    # dE = [1, 2], mean 1.5, no negative difference -> downside 0 -> replaced by 1e-6 -> 1.5e6
    assert sortino(e) == pytest.approx(1.5e6)
    assert sortino(e, zero_downside=1.0) == 1.5
    # zero mean -> 0 (whatever the downside)
    assert sortino(np.array([0.0, 1.0, 0.0])) == 0.0


def test_zero_positions():
    assert pnl_to_map(5.0, np.zeros(4)) == 0.0
    assert pnl_to_map(5.0, np.array([])) == 0.0
    assert day_metrics(E, E, np.zeros(4)).pnl_to_map == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="map_over"):
        day_metrics(E, E, E, map_over="time")
    with pytest.raises(ValueError, match="grid_position"):
        day_metrics(E, E, E, map_over="grid")
    with pytest.raises(ValueError, match="length"):
        day_metrics(E, E[:3], E)
    with pytest.raises(ValueError, match="length"):
        day_metrics(E, E, E, grid_total=np.ones(3), grid_position=np.ones(2), map_over="grid")
    with pytest.raises(ValueError, match="1-D"):
        sharpe(np.ones((2, 2)))


# --- property: every metric is a finite float for arbitrary input -------------------------------

_finite_arrays = arrays(
    np.float64, st.integers(0, 30), elements=st.floats(allow_nan=False, allow_infinity=False)
)
_any_arrays = arrays(np.float64, st.integers(0, 30), elements=st.floats())


def _check_all_finite(e, pos, total, grid_pos):
    values = [sharpe(e), sortino(e), max_drawdown(e), max_drawdown(e, from_zero=True), pnl_to_map(total, pos)]
    n = min(e.size, pos.size)
    for over in ("fills", "grid"):
        m = day_metrics(e[:n], e[:n], pos[:n], grid_position=grid_pos, map_over=over)
        values += list(m.to_dict().values())
        k = min(e.size, grid_pos.size)
        m = day_metrics(e[:n], e[:n], pos[:n], grid_total=e[:k], grid_position=grid_pos[:k], map_over=over)
        values += list(m.to_dict().values())
    assert all(isinstance(v, float | int) and math.isfinite(v) for v in values)
    assert max_drawdown(e) >= 0.0


@settings(max_examples=300, deadline=None)
@given(_finite_arrays, _finite_arrays, st.floats(allow_nan=False, allow_infinity=False), _finite_arrays)
def test_property_finite_for_finite_input(e, pos, total, grid_pos):
    _check_all_finite(e, pos, total, grid_pos)


@settings(max_examples=200, deadline=None)
@given(_any_arrays, _any_arrays, st.floats(), _any_arrays)
def test_property_finite_even_for_nan_inf_input(e, pos, total, grid_pos):
    _check_all_finite(e, pos, total, grid_pos)
