"""GLFT market maker (spec §2): the §2.1 worked example, the online A/k/σ calibration on seeded streams with known
laws, warm-up, the never-crossing and max-position gates, the grid variant, parameter validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alpha_as.errors import InputError
from alpha_as.strategies import glft_calibration as C
from alpha_as.strategies.base import Q_K_INVALID, Q_NONFINITE, Q_OK, Q_WARMUP
from alpha_as.strategies.glft import (
    O_ASK_PX,
    O_ASK_QTY,
    O_BID_PX,
    O_BID_QTY,
    GLFTParams,
    fit_A_k,
    glft_coefficients,
    half_spread_skew,
    init_state,
    intensity_curve,
    new_quotes_out,
    on_step,
    on_trade,
    quotes,
    recalibrate,
    state_size,
)

TICK = 0.01
STEP_NS = 100_000_000
A_TRUE = 2.986    # the tutorial's shallow fit (spec §2.2), as the known law of the synthetic streams
K_TRUE = 0.04236


def hand_coefficients(gamma, xi, delta, A, k):
    """§2.1 written out independently of the module."""
    c1 = math.log(1 + xi * delta / k) / (xi * delta)
    c2 = math.sqrt(gamma / (2 * A * delta * k) * (1 + xi * delta / k) ** (k / (xi * delta) + 1))
    return c1, c2


# ------------------------------------------------------------------------------------------- §2.1 formulas

def test_worked_example_of_spec_2_1():
    """γ = ξ = 0.05, Δ = 1, A = 2.986, k = 0.04236, σ = 10.69 ticks/√s → half-spread 20.47, skew 9.76 ticks/lot."""
    p = GLFTParams(gamma=0.05, delta=1.0).to_array()  # xi None: ξ = γ
    c1, c2, hs, skew = half_spread_skew(p, 2.986, 0.04236, 10.69)
    assert round(hs, 2) == 20.47
    assert round(skew, 2) == 9.76
    h1, h2 = hand_coefficients(0.05, 0.05, 1.0, 2.986, 0.04236)
    assert c1 == pytest.approx(h1, rel=1e-12) and c2 == pytest.approx(h2, rel=1e-12)
    assert hs == pytest.approx(h1 + 0.5 * 10.69 * h2, rel=1e-12)
    # ξ given explicitly equal to γ is the default; skew_adj / spread_adj scale skew / half-spread only
    assert half_spread_skew(GLFTParams(xi=0.05).to_array(), 2.986, 0.04236, 10.69) == (c1, c2, hs, skew)
    adj = half_spread_skew(GLFTParams(skew_adj=0.05, spread_adj=2.0).to_array(), 2.986, 0.04236, 10.69)
    assert adj[2] == pytest.approx(2 * hs) and adj[3] == pytest.approx(0.05 * skew)


def test_xi_zero_is_the_limit():
    c1, c2 = glft_coefficients(0.05, 0.0, 1.0, 2.986, 0.04236)
    assert c1 == pytest.approx(1 / 0.04236)
    assert c2 == pytest.approx(math.sqrt(0.05 * math.e / (2 * 2.986 * 0.04236)))
    s1, s2 = glft_coefficients(0.05, 1e-7, 1.0, 2.986, 0.04236)
    assert s1 == pytest.approx(c1, rel=1e-5) and s2 == pytest.approx(c2, rel=1e-5)
    assert all(math.isnan(v) for v in glft_coefficients(0.05, math.nan, 1.0, 2.986, -0.01))


# ------------------------------------------------------------------------------------------ synthetic streams

def arrival_stream(params: GLFTParams, A, k, seed, n_steps):
    """Feed on_trade/on_step with a seeded market whose quotes at depth δ (ticks from the step's starting mid) are
    reached with intensity λ(δ) = A·e^(−kδ): per step, P(deepest trade beyond δ) = A·dt·e^(−kδ), the trade at the
    first tick price at or beyond that depth (the mid stays on half ticks, a one-tick spread, and walks by whole
    ticks). "either": one deepest trade per step on a random side; "mean": each side draws its own. Extra shallower
    trades (side inferred for some) must not change the counts."""
    p = params.to_array()
    ss = init_state(p)
    rng = np.random.default_rng(seed)
    dt = params.step_ms / 1000
    mid_t = 10000.5
    on_step(p, ss, 0, mid_t * TICK, TICK)
    n_fits = 0
    for i in range(1, n_steps + 1):
        if params.arrival_sides == "either":
            draws = [(rng.random(), int(rng.choice((1, -1))))]
        else:
            draws = [(rng.random(), 1), (rng.random(), -1)]
        for u, s in draws:
            if u < A * dt:
                depth = math.ceil(math.log(A * dt / u) / k - 0.5) + 0.5
                on_trade(p, ss, i * STEP_NS, (mid_t + s * depth) * TICK, 0.001, math.nan, TICK, s)
                for _ in range(int(rng.integers(0, 3))):
                    d2 = int(rng.integers(0, int(depth - 0.5) + 1)) + 0.5
                    s2 = int(rng.choice((1, -1))) if params.arrival_sides == "either" else s
                    on_trade(p, ss, i * STEP_NS, (mid_t + s2 * d2) * TICK, 0.001, math.nan, TICK, 0)
        mid_t += int(rng.integers(-1, 2))
        n_fits += on_step(p, ss, i * STEP_NS, mid_t * TICK, TICK)
    return p, ss, n_fits


@pytest.mark.parametrize("sides", ["either", "mean"])
def test_fit_recovers_a_known_exponential_law(sides):
    """Tutorial settings (10-min window of 100-ms steps, first 70 depths): each seed's fit within 10 % of A and k
    (one window's sampling error is ≈ 3 % sd, measured over 40 seeds); the compiled fit equals np.polyfit."""
    params = GLFTParams(arrival_sides=sides)
    errors = []
    for seed in range(3):
        p, ss, n_fits = arrival_stream(params, A_TRUE, K_TRUE, seed, params.window_steps + 100)
        assert n_fits == 3  # full at step 6000, then every 50 steps
        assert ss[C.S_N_FITS] == 3 and ss[C.S_FIT_M] == params.fit_points
        assert ss[C.S_A] == pytest.approx(A_TRUE, rel=0.10)
        assert ss[C.S_K] == pytest.approx(K_TRUE, rel=0.10)
        recalibrate(p, ss, 0)  # on the window as it is now
        depths, lam = intensity_curve(p, ss)
        np.testing.assert_allclose(depths, np.arange(70) + 0.5)
        A_ref, k_ref = fit_A_k(depths, lam)
        assert ss[C.S_A] == pytest.approx(A_ref, rel=1e-9) and ss[C.S_K] == pytest.approx(k_ref, rel=1e-9)
        errors.append((ss[C.S_A] / A_TRUE - 1, ss[C.S_K] / K_TRUE - 1))
    assert np.abs(np.mean(errors, axis=0)).max() < 0.06


def test_fit_recovery_on_a_long_window():
    """A 50-min window (30,000 steps): A and k within 5 %."""
    params = GLFTParams(window_s=3000.0)
    _, ss, _ = arrival_stream(params, A_TRUE, K_TRUE, 11, params.window_steps)
    assert ss[C.S_A] == pytest.approx(A_TRUE, rel=0.05)
    assert ss[C.S_K] == pytest.approx(K_TRUE, rel=0.05)


def test_intensity_counts_on_the_whole_tick_grid():
    """One step whose deepest buy was 3.5 ticks beyond the mid counts at δ = 0.5, 1.5, 2.5 (strictly inside), not
    at 3.5; a seller 1.0 tick below an integer mid counts at 0.5 only; the quantity is not used."""
    params = GLFTParams(window_s=0.2, recalibrate_s=0.1, fit_points=5)  # W = 2 steps
    p = params.to_array()
    ss = init_state(p)
    on_step(p, ss, 0, 100.005, TICK)                  # mid 10000.5 ticks
    on_trade(p, ss, 1, 100.04, 5.0, math.nan, TICK)   # buyer (inferred), depth 3.5
    on_trade(p, ss, 2, 100.02, 1.0, math.nan, TICK)   # shallower buyer
    on_step(p, ss, STEP_NS, 100.01, TICK)             # mid 10001 ticks
    on_trade(p, ss, 3, 100.01, 1.0, math.nan, TICK)   # a price at the mid, side unknown: ignored
    on_trade(p, ss, 4, 100.00, 1.0, math.nan, TICK, -1)  # seller, depth 1.0
    on_step(p, ss, 2 * STEP_NS, 100.01, TICK)
    assert ss[C.S_N_TRADES] == 3 and ss[C.S_N_SKIPPED] == 1
    depths, lam = intensity_curve(p, ss)
    np.testing.assert_array_equal(depths, [0.5, 1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(lam * 0.2, [2, 1, 1, 0, 0])  # counts over the 0.2-s window ("either")
    pm = GLFTParams(window_s=0.2, recalibrate_s=0.1, fit_points=5, arrival_sides="mean").to_array()
    sm = ss.copy()
    _, lam_m = intensity_curve(pm, sm)
    np.testing.assert_allclose(lam_m * 0.2, [1, 0.5, 0.5, 0, 0])  # mean of buy [1,1,1,0,0] and sell [1,0,0,0,0]


def test_sigma_on_a_random_walk_of_known_volatility():
    """Mid steps of ½·(Binomial(8, ½) − 4) ticks every 100 ms: σ = sqrt(0.5)·sqrt(10) ticks/√s. The estimate equals
    numpy's std of the window's changes (after the ring wrapped) and is within 3 % of the truth."""
    params = GLFTParams()
    p = params.to_array()
    ss = init_state(p)
    rng = np.random.default_rng(7)
    steps = 0.5 * (rng.binomial(8, 0.5, size=params.window_steps + 1234) - 4)
    mids = 10000.5 + np.concatenate([[0.0], np.cumsum(steps)])
    for i, m in enumerate(mids):
        on_step(p, ss, i * STEP_NS, m * TICK, TICK)
    recalibrate(p, ss, 0)
    assert ss[C.S_DM_N] == params.window_steps
    assert ss[C.S_SIGMA] == pytest.approx(np.std(steps[-params.window_steps:]) * math.sqrt(10), rel=1e-12)
    assert ss[C.S_SIGMA] == pytest.approx(math.sqrt(0.5) * math.sqrt(10), rel=0.03)


def test_missing_mids_leave_the_window():
    """A step that starts without a mid does not enter the window; a change to a missing mid is not a change."""
    params = GLFTParams(window_s=1.0, recalibrate_s=0.5)  # W = 10
    p = params.to_array()
    ss = init_state(p)
    for i, m in enumerate([100.005, 100.015, math.nan, 100.025, 100.035]):
        on_step(p, ss, i * STEP_NS, m, TICK)
    assert ss[C.S_N_REC] == 3   # steps starting at 100.005, 100.015, 100.025
    assert ss[C.S_DM_N] == 2 and ss[C.S_DM_SUM] == 2.0


# ------------------------------------------------------------------------------------------------ quoting

def primed(params: GLFTParams, A=2.986, k=0.04236, sigma=10.69):
    """A state as after a full window whose fit gave A, k, σ."""
    p = params.to_array()
    ss = init_state(p)
    ss[C.S_N_REC] = params.window_steps
    ss[C.S_A], ss[C.S_K], ss[C.S_SIGMA], ss[C.S_FIT_T] = A, k, sigma, 0.0
    return p, ss


def quote(params, position, best_bid=100.00, best_ask=100.01, mid=None, **fit):
    p, ss = primed(params, **fit)
    out = new_quotes_out(p)
    mid = 0.5 * (best_bid + best_ask) if mid is None else mid
    status = quotes(p, ss, 0, mid, position, best_bid, best_ask, TICK, out)
    return status, out, ss


def test_warmup_until_the_window_is_full_then_recalibration_every_recalibrate_s():
    params = GLFTParams(window_s=1.0, recalibrate_s=0.5)  # W = 10 steps, refit every 5
    p = params.to_array()
    ss = init_state(p)
    out = new_quotes_out(p)
    rng = np.random.default_rng(3)
    refits = []
    for i in range(31):
        for _ in range(3):
            d = int(rng.integers(0, 8)) + 0.5
            on_trade(p, ss, i, 100.005 + d * TICK * (1 if rng.random() < 0.5 else -1), 1.0, math.nan, TICK)
        if on_step(p, ss, i * STEP_NS, 100.005, TICK):
            refits.append(i)
        status = quotes(p, ss, i * STEP_NS, 100.005, 0.0, 100.00, 100.01, TICK, out)
        # the first on_step only sets the reference mid: the window is full after call 11 (i = 10)
        assert status == (Q_WARMUP if i < 10 else Q_OK), i
        assert (out[:, [O_BID_QTY, O_ASK_QTY]] > 0).any() == (i >= 10)
    assert refits == [10, 15, 20, 25, 30]
    assert ss[C.S_FIT_T] == 30 * STEP_NS


def test_plain_quotes_by_hand():
    """mid 10000.5 ticks, half-spread 20.4714, skew 9.7631/lot (the worked example), tick 0.01, book 100.00/100.01."""
    status, out, ss = quote(GLFTParams(), 0.0)
    assert status == Q_OK and out.shape == (1, 4)
    assert out[0, O_BID_PX] == pytest.approx(99.80) and out[0, O_ASK_PX] == pytest.approx(100.21)
    assert out[0, O_BID_QTY] == out[0, O_ASK_QTY] == 0.0001
    assert ss[C.S_HALF_SPREAD] == pytest.approx(20.4714, abs=1e-4) and ss[C.S_RESERVATION] == pytest.approx(100.005)
    # long 3 lots: reservation 29.29 ticks lower; the ask would cross (99.92) and joins the best ask instead
    status, out, ss = quote(GLFTParams(), 0.0003)
    assert out[0, O_BID_PX] == pytest.approx(99.51) and out[0, O_ASK_PX] == pytest.approx(100.01)
    assert ss[C.S_RESERVATION] == pytest.approx(100.005 - 3 * ss[C.S_SKEW] * TICK, rel=1e-12)
    # short 3 lots: the bid joins the best bid
    _, out, _ = quote(GLFTParams(), -0.0003)
    assert out[0, O_BID_PX] == pytest.approx(100.00) and out[0, O_ASK_PX] == pytest.approx(100.50)
    # the tutorial's skew adjustment: 0.05 × 9.7631 × 3 = 1.46 ticks (bid 9978.56, ask 10019.51 before rint)
    _, out, _ = quote(GLFTParams(skew_adj=0.05), 0.0003)
    assert out[0, O_BID_PX] == pytest.approx(99.79) and out[0, O_ASK_PX] == pytest.approx(100.20)


def test_max_position_gates():
    p20 = GLFTParams(max_position=20.0)
    _, out, _ = quote(p20, 0.002)  # 0.002 / 0.0001 = 20.000000000000004 lots: at the limit
    assert out[0, O_BID_QTY] == 0.0 and out[0, O_BID_PX] == 0.0 and out[0, O_ASK_QTY] > 0
    _, out, _ = quote(p20, 0.0019)
    assert out[0, O_BID_QTY] > 0 and out[0, O_ASK_QTY] > 0
    _, out, _ = quote(p20, -0.002)
    assert out[0, O_ASK_QTY] == 0.0 and out[0, O_BID_QTY] > 0
    _, out, _ = quote(GLFTParams(max_position=2.5, grid_num=4), 0.0003)
    assert (out[:, O_BID_QTY] == 0).all() and (out[:, O_ASK_QTY] > 0).all()


def test_never_crosses_the_book():
    """Random fits, inventories and books: bid <= best bid < best ask <= ask, on the tick grid."""
    rng = np.random.default_rng(5)
    for _ in range(300):
        grid = int(rng.integers(0, 4))
        params = GLFTParams(max_position=1e9, grid_num=grid)
        bb = round(float(rng.uniform(50, 150)), 2)
        ba = round(bb + TICK * int(rng.integers(1, 6)), 2)
        fit = dict(A=float(rng.uniform(0.1, 10)), k=float(rng.uniform(0.01, 2)), sigma=float(rng.uniform(0, 30)))
        status, out, _ = quote(params, float(rng.uniform(-0.0005, 0.0005)), bb, ba, **fit)  # ±5 lots
        assert status == Q_OK
        rows = out[out[:, O_BID_QTY] > 0]
        assert len(rows) == max(grid, 1)
        assert (rows[:, O_BID_PX] <= bb + 1e-9).all() and (out[:, O_ASK_PX] >= ba - 1e-9).all()
        for px in np.concatenate([out[:, O_BID_PX], out[:, O_ASK_PX]]):
            assert abs(px / TICK - round(px / TICK)) < 1e-6


def test_grid_variant_levels():
    """§2.3: interval max(rint(20.47), 1) = 20 ticks; bid 9980 floored, ask 10021 ceiled to multiples of 20."""
    status, out, ss = quote(GLFTParams(grid_num=3), 0.0)
    assert status == Q_OK and out.shape == (3, 4) and ss[C.S_GRID_INTERVAL] == 20
    np.testing.assert_allclose(out[:, O_BID_PX], [99.80, 99.60, 99.40])
    np.testing.assert_allclose(out[:, O_ASK_PX], [100.40, 100.60, 100.80])
    assert (out[:, O_BID_QTY] == 0.0001).all() and (out[:, O_ASK_QTY] == 0.0001).all()
    # a fixed interval of 7 ticks: bid floor(9980/7)·7 = 9975, ask ceil(10021/7)·7 = 10024
    _, out, _ = quote(GLFTParams(grid_num=2, grid_interval_ticks=7), 0.0)
    np.testing.assert_allclose(out[:, O_BID_PX], [99.75, 99.68])
    np.testing.assert_allclose(out[:, O_ASK_PX], [100.24, 100.31])
    # a half-spread under half a tick: the interval is one tick
    _, out, ss = quote(GLFTParams(grid_num=2), 0.0, A=1e6, k=50.0, sigma=0.0)
    assert ss[C.S_GRID_INTERVAL] == 1
    np.testing.assert_allclose(out[:, O_BID_PX], [100.00, 99.99])
    np.testing.assert_allclose(out[:, O_ASK_PX], [100.01, 100.02])


def test_invalid_fit_and_missing_book():
    assert quote(GLFTParams(), 0.0, k=-0.01)[0] == Q_K_INVALID
    assert quote(GLFTParams(), 0.0, sigma=math.nan)[0] == Q_K_INVALID
    status, out, _ = quote(GLFTParams(), 0.0, best_bid=math.nan)
    assert status == Q_NONFINITE and not out.any()
    # fewer than 3 usable depths: the fit fails, A and k stay unknown, no quotes
    params = GLFTParams(window_s=0.3, recalibrate_s=0.1)
    p = params.to_array()
    ss = init_state(p)
    for i in range(5):
        on_trade(p, ss, i, 100.025, 1.0, math.nan, TICK)  # depth 2.0: two grid points
        on_step(p, ss, i * STEP_NS, 100.005, TICK)
    assert ss[C.S_N_FIT_FAILS] >= 1 and ss[C.S_N_FITS] == 0 and math.isnan(ss[C.S_A])
    assert quotes(p, ss, 0, 100.005, 0.0, 100.0, 100.01, TICK, new_quotes_out(p)) == Q_K_INVALID


def test_state_must_match_the_parameters():
    p = GLFTParams().to_array()
    other = init_state(GLFTParams(window_s=60.0).to_array())
    assert len(init_state(p)) == state_size(p) == C.N_HEADER + 3 * 6000 + 3 * 71
    with pytest.raises(ValueError, match="state vector"):
        on_step(p, other, 0, 100.0, TICK)


# ---------------------------------------------------------------------------------------------- parameters

@pytest.mark.parametrize(("field", "value"), [
    ("gamma", 0.0), ("gamma", math.inf), ("xi", -0.1), ("delta", 0.0), ("skew_adj", -1.0), ("spread_adj", 0.0),
    ("order_qty", 0.0), ("max_position", -1.0), ("step_ms", 0), ("window_s", 0.05), ("window_s", 0.1),
    ("fit_points", 2), ("recalibrate_s", 0.15), ("arrival_sides", "both"), ("grid_num", -1),
    ("grid_interval_ticks", -2), ("gamma", math.nan),
])
def test_parameter_validation_names_the_field(field, value):
    with pytest.raises(InputError, match=f"GLFT parameters: {field} must be"):
        GLFTParams(**{field: value})


def test_from_dict_and_round_trip():
    params = GLFTParams.from_dict({"gamma": 0.1, "xi": 0, "grid_num": 20, "skew_adj": 0.05}, source="glft.toml")
    assert params.xi == 0 and params.n_levels == 20
    assert GLFTParams.from_dict(params.to_dict()) == params
    assert math.isnan(GLFTParams().to_array()[C.P_XI])
    assert GLFTParams().to_array()[C.P_WINDOW_STEPS] == 6000 and GLFTParams().to_array()[C.P_RECAL_STEPS] == 50
    with pytest.raises(InputError, match="glft.toml: unknown key"):
        GLFTParams.from_dict({"gama": 0.1}, source="glft.toml")
    with pytest.raises(InputError, match="'xi' must be a finite number"):
        GLFTParams.from_dict({"xi": math.nan})
    with pytest.raises(InputError, match="glft.toml: GLFT parameters: fit_points must be"):
        GLFTParams.from_dict({"fit_points": 1}, source="glft.toml")


def test_on_trade_uses_the_given_step_mid():
    """An explicit ``mid_at_step_start`` is the reference (NaN: the state's mid of the last on_step)."""
    params = GLFTParams(window_s=0.2, recalibrate_s=0.1, fit_points=5)
    p = params.to_array()
    ss = init_state(p)
    on_step(p, ss, 0, 100.005, TICK)
    on_trade(p, ss, 1, 100.03, 1.0, 99.995, TICK)  # 3.5 ticks above 99.995 (2.5 above the state's mid)
    assert ss[C.S_STEP_BUY] == 3.5 and ss[C.S_STEP_SELL] == -math.inf
    on_trade(p, ss, 2, 99.99, 1.0, math.nan, TICK)  # 1.5 below the state's mid: a seller
    assert ss[C.S_STEP_SELL] == 1.5
