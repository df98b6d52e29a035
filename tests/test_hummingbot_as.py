"""Hummingbot's avellaneda_market_making (spec §1): its unit-test anchors, the σ and α/κ estimators (the compiled fit
against scipy's curve_fit), the proposal's modifiers, the timers, warm-up, the execution window, validation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.optimize import OptimizeWarning, curve_fit

from alpha_as.errors import InputError
from alpha_as.strategies import hummingbot_estimators as E
from alpha_as.strategies.hummingbot_as import (
    Q_CANCEL,
    Q_HOLD,
    Q_OK,
    Q_OUTSIDE_HOURS,
    Q_WARMUP,
    HummingbotASParams,
    fit_intensity,
    init_state,
    intensity_buffer,
    on_fill,
    on_tick,
    on_trade,
    out_size,
    quotes,
    reservation_and_spread,
    state_size,
    time_left_fraction,
)
from tests.conftest import report_line

S = 10**9
DAY0 = 1_546_300_800 * S  # 2019-01-01 00:00:00 UTC, the day of Hummingbot's unit tests


def _curve_fit(d, v, p0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        return curve_fit(lambda x, a, k: a * np.exp(-k * x), d, np.where(v == 0, 1e-10, v), p0=p0,
                         method="dogbox", bounds=(0, np.inf))[0]


def ready_state(params: HummingbotASParams, *, sigma_step=0.02, alpha=100.0, kappa=20.0, mid=100.0, t0=DAY0):
    """A state whose buffers are full: ``volatility_buffer_size`` mids alternating mid ± sigma_step/2 (σ =
    sigma_step·sqrt((N−1)/N)), then two trades (at d = 0.2/κ and 1/κ) one tick before the last whose volumes lie
    exactly on α·exp(−κ·d) (an exact two-point fit; ``trading_intensity_buffer_size`` must be 1). Returns
    (p, ss, t_last)."""
    assert params.trading_intensity_buffer_size == 1
    p = params.to_array()
    ss = init_state(p)
    n = params.volatility_buffer_size
    tick = round(params.tick_seconds * S)
    for k in range(n):
        m = mid + (sigma_step / 2 if k % 2 else -sigma_step / 2)
        if k == n - 1:
            for d in (0.2 / kappa, 1.0 / kappa):
                assert on_trade(p, ss, t0 + (k - 1) * tick + tick // 2, ss[E.S_LAST_MID] + d, alpha * math.exp(-kappa * d))
        on_tick(p, ss, t0 + k * tick, m)
    assert ss[E.S_ALPHA] == pytest.approx(alpha, rel=1e-9) and ss[E.S_KAPPA] == pytest.approx(kappa, rel=1e-9)
    return p, ss, t0 + (n - 1) * tick


def quote(p, ss, t, mid=100.0, position=0.0, bid=None, ask=None, tick=0.01):
    """quotes() with a book of mid ∓ 0.5 unless given."""
    out = np.zeros(out_size(p))
    bid = mid - 0.5 if bid is None else bid
    ask = mid + 0.5 if ask is None else ask
    status = quotes(p, ss, t, mid, position, bid, ask, tick, out)
    return status, out


# ---- §1.5: Hummingbot's unit-test anchors -----------------------------------------------------------------------

@pytest.mark.parametrize("timeframe, gamma, anchors", [
    # test_avellaneda_market_making.py: γ 0.8, a 1-h daily window starting now (T_frac = 1), mid = the last sample
    ("daily_between_times", 0.8, {"r": 100.035, "delta": 0.592, "ask": 100.331, "bid": 99.739}),
    ("infinite", 1.0, {"r": 100.040, "delta": 0.594}),
])
def test_hummingbot_unit_test_anchors(timeframe, gamma, anchors):
    """Hummingbot's test feeds 400 mids ~ N(100, 0.05) (np.random.seed(3141592653)) through the volatility
    indicator (buffer 200 = the default) and its simulated trades give α ≈ 118.534, κ ≈ 3.3607; balances 1 base /
    500 quote. Here the mids go through on_tick and two trades on the exact curve through on_trade."""
    mids = np.random.RandomState(3141592653).normal(100, 0.05, 400)  # = np.random.seed(...); np.random.normal
    alpha, kappa = 118.534, 3.3607
    window = {"start_time": "00:00:00", "end_time": "01:00:00"} if timeframe != "infinite" else {}
    params = HummingbotASParams(risk_factor=gamma, execution_timeframe=timeframe, order_amount=10.0,
                                starting_base=1.0, starting_quote=500.0, trading_intensity_buffer_size=1, **window)
    p = params.to_array()
    ss = init_state(p)
    assert ss.size == state_size(p)
    t0 = DAY0 - (len(mids) - 1) * S  # the last mid at 00:00:00, the window's start
    for i, m in enumerate(mids):
        if i == len(mids) - 1:
            for d in (0.1, 0.5):
                on_trade(p, ss, t0 + (i - 1) * S + S // 2, mids[i - 1] - d, alpha * math.exp(-kappa * d))
        on_tick(p, ss, t0 + i * S, m)
    sigma = math.sqrt(np.sum(np.diff(mids[-200:]) ** 2) / 200)
    assert ss[E.S_SIGMA] == pytest.approx(sigma, rel=1e-12)
    assert (ss[E.S_ALPHA], ss[E.S_KAPPA]) == pytest.approx((alpha, kappa), rel=1e-9)
    status, out = quote(p, ss, DAY0, mid=mids[-1], bid=mids[-1] - 0.5, ask=mids[-1] + 0.5, tick=0.0)
    assert status == Q_OK and ss[E.S_TFRAC] == 1.0
    q = (1 - (mids[-1] + 500) / mids[-1] * 0.5) / ((mids[-1] + 500) / mids[-1])
    assert ss[E.S_Q] == pytest.approx(q, rel=1e-12)
    got = {"r": ss[E.S_RESERVATION], "delta": ss[E.S_SPREAD], "ask": ss[E.S_OPT_ASK], "bid": ss[E.S_OPT_BID]}
    for key, want in anchors.items():
        assert got[key] == pytest.approx(want, abs=1e-3), key
    r, delta, ask, bid = reservation_and_spread(gamma, sigma, kappa, q, 1.0, mids[-1], 0.0)
    assert (got["r"], got["delta"], got["ask"], got["bid"]) == pytest.approx((r, delta, ask, bid), rel=1e-12)
    assert (out[0], out[2]) == pytest.approx((bid, ask), rel=1e-12)  # no tick: unquantized
    report_line(f"hummingbot-as anchors ({timeframe}, γ {gamma}): r {got['r']:.4f}, δ {got['delta']:.4f}, "
                f"ask {got['ask']:.4f}, bid {got['bid']:.4f}; Hummingbot's test: "
                + ", ".join(f"{k} {v}" for k, v in anchors.items()))


# ---- §1.2: σ ---------------------------------------------------------------------------------------------------

def test_sigma_is_rms_of_tick_differences_over_the_buffer():
    p = HummingbotASParams(volatility_buffer_size=10).to_array()
    ss = init_state(p)
    for k in range(10):  # alternating 100, 100.1: every difference is ±0.1
        on_tick(p, ss, DAY0 + k * S, 100.0 + 0.1 * (k % 2))
    assert ss[E.S_SIGMA] == pytest.approx(0.1 * math.sqrt(9 / 10), rel=1e-12)
    for k in range(10, 40):  # a steady trend of 0.01 a tick: σ is 0.01-ish, no mean removed, only the last 10
        on_tick(p, ss, DAY0 + k * S, 100.0 + 0.01 * k)
    assert ss[E.S_SIGMA] == pytest.approx(0.01 * math.sqrt(9 / 10), rel=1e-9)
    rng = np.random.default_rng(3)
    mids = 50_000 + np.cumsum(rng.normal(0, 3.0, 57))
    for k, m in enumerate(mids):
        on_tick(p, ss, DAY0 + (40 + k) * S, m)
    assert ss[E.S_SIGMA] == pytest.approx(math.sqrt(np.sum(np.diff(mids[-10:]) ** 2) / 10), rel=1e-12)


# ---- §1.8: α, κ ------------------------------------------------------------------------------------------------

def _buffers(seed: int):
    """Realistic consolidated buffers: distances on a half-tick grid, volumes from an exponential law with noise."""
    rng = np.random.default_rng(seed)
    kind = seed % 3
    if kind == 0:  # lognormal noise on a tick grid
        tick = 10 ** rng.uniform(-2, 0)
        d = np.unique(rng.integers(1, 200, rng.integers(8, 60)) * tick / 2)
        v = 10 ** rng.uniform(0, 4) * np.exp(-rng.uniform(1, 10) / (40 * tick) * d) * rng.lognormal(0, 0.4, d.size)
    elif kind == 1:  # Poisson counts, zeros included
        d = np.arange(rng.integers(10, 80)) * 0.01 + 0.005
        v = rng.poisson(rng.uniform(100, 2000) * np.exp(-rng.uniform(10, 60) * d)).astype(float)
    else:  # additive noise
        d = np.sort(rng.uniform(0.001, 2, rng.integers(8, 50)))
        v = np.abs(100 * np.exp(-3 * d) + rng.normal(0, 2, d.size))
    return d, v


def test_fit_matches_scipy_curve_fit_dogbox():
    worst = 0.0
    n_cases = 0
    for seed in range(60):
        d, v = _buffers(seed)
        opt = _curve_fit(d, v, (v.mean(), 1 / d.max()))
        for p0 in ((0.0, 0.0), tuple(opt * np.array([1.3, 0.7])), tuple(opt * np.array([0.8, 1.25]))):
            ref = _curve_fit(d, v, p0)
            alpha, kappa, ok = fit_intensity(d, v, *p0)
            assert ok, (seed, p0)
            err = max(abs(alpha / ref[0] - 1), abs(kappa / ref[1] - 1))
            assert err < 0.01, (seed, p0, (alpha, kappa), ref)
            worst = max(worst, err)
            n_cases += 1
    report_line(f"hummingbot-as fit_intensity vs scipy curve_fit(dogbox): max relative difference of α, κ "
                f"{worst:.1e} over {n_cases} fits (60 buffers × 3 starts)")


def test_fit_edge_cases():
    d = np.array([0.1, 0.2, 0.3])
    assert fit_intensity(d[:1], np.array([5.0]), 7.0, 3.0) == (7.0, 3.0, False)  # one distance: keep the old values
    alpha, kappa, ok = fit_intensity(d, np.array([1.0, 2.0, 3.0]), 0.0, 0.0)  # volumes rise with d: κ at its bound
    assert ok and kappa == 0.0 and alpha == pytest.approx(2.0)
    alpha, kappa, ok = fit_intensity(d, np.array([0.0, 0.0, 0.0]), 1.0, 1.0)  # zeros are 1e-10 (Hummingbot)
    assert ok and alpha == pytest.approx(1e-10, rel=1e-6)


def test_estimator_buffers_and_fit_agree_with_scipy_and_recover_the_law():
    """Trades at the half-tick distances d with per-tick Poisson counts of mean (α/B)·exp(−κd) (unit amounts): the
    newest B ticks with trades hold Poisson(α·exp(−κd)) volumes; the fit recovers α, κ, and each refit matches
    curve_fit on the same buffer from the previous values."""
    alpha, kappa, B = 3000.0, 25.0, 200
    p = HummingbotASParams(trading_intensity_buffer_size=B, volatility_buffer_size=5).to_array()
    ss = init_state(p)
    rng = np.random.default_rng(11)
    grid = 0.005 + 0.01 * np.arange(40)
    assert not on_trade(p, ss, DAY0 - S, 100.0, 1.0)  # before the first tick: no mid to match
    per_tick = []
    mid = 100.0  # constant, so that the distances sit exactly on the grid
    prev = None
    for k in range(B + 60):
        on_tick(p, ss, DAY0 + k * S, mid)
        if prev is not None and k > B + 30:  # a refit (new trades) from the previous values, on the same buffer
            d_buf, v_buf = (x.copy() for x in intensity_buffer(ss))
            ref = _curve_fit(d_buf, v_buf, prev)
            assert (ss[E.S_ALPHA], ss[E.S_KAPPA]) == pytest.approx(tuple(ref), rel=1e-3)
        prev = (ss[E.S_ALPHA], ss[E.S_KAPPA]) if ss[E.S_N_FITS] > 0 else None
        counts = rng.poisson(alpha / B * np.exp(-kappa * grid))
        trades = []
        for d, c in zip(grid, counts, strict=True):
            for _ in range(c):
                trades.append((rng.uniform(0.01, 0.99), mid + d if rng.random() < 0.5 else mid - d))
        trades.sort()
        if k % 50 == 7:  # a trade exactly at the tick time belongs to the previous tick (a new distance, volume 0)
            assert on_trade(p, ss, DAY0 + k * S, 50.0, 0.0)
            per_tick[-1].append((50.0, 0.0))
        for frac, price in trades:
            assert on_trade(p, ss, DAY0 + k * S + int(frac * S), price, 1.0)
        per_tick.append([(price, 1.0) for _, price in trades])
    assert ss[E.S_TI_TICKS] == B + 1  # the newest tick's trades; the buffer is trimmed at the next tick
    on_tick(p, ss, DAY0 + (B + 60) * S, mid)
    assert ss[E.S_TI_TICKS] == B and ss[E.S_DROP_FULL] == 0 and ss[E.S_DROP_NO_MID] == 1
    # the buffer is the volume per distance of the newest B ticks with trades
    newest = [t for t in per_tick if t][-B:]
    want: dict[float, float] = {}
    for trades in newest:
        for price, qty in trades:
            dd = round(abs(price - mid), 9)
            want[dd] = want.get(dd, 0.0) + qty
    d_buf, v_buf = intensity_buffer(ss)
    assert list(d_buf) == pytest.approx(sorted(want)) and list(v_buf) == [want[k] for k in sorted(want)]
    assert ss[E.S_ALPHA] == pytest.approx(alpha, rel=0.05) and ss[E.S_KAPPA] == pytest.approx(kappa, rel=0.05)



@pytest.mark.parametrize("cap", [12, 40, 4096])
def test_distance_table_with_gaps_matches_a_reference_of_the_buffer(cap):
    """A churning stream (distances enter and leave the buffer every tick, some far, some new): after every tick the
    table without its gaps is the volume per distance of the newest B ticks with trades, sorted; a trade that needs a
    new distance while ``cap`` distances are held is dropped and counted; gaps fill again, compaction keeps order."""
    B = 5
    p = HummingbotASParams(trading_intensity_buffer_size=B, volatility_buffer_size=5,
                           intensity_max_distances=cap, intensity_records_per_tick=1000).to_array()
    ss = init_state(p)
    rng = np.random.default_rng(cap)
    mid = 100.0
    ticks: list[dict[float, float]] = []  # the records of the ticks with trades, oldest first
    drops = 0
    max_gaps = 0
    for k in range(400):
        on_tick(p, ss, DAY0 + k * S, mid)
        ticks = ticks[-B:]
        cur: dict[float, float] = {}
        for frac in np.sort(rng.uniform(0.01, 0.99, rng.integers(0, 12))):
            d = round(0.005 + 0.01 * int(rng.geometric(0.08)), 9) if rng.random() < 0.9 else round(rng.uniform(0, 30), 9)
            qty = float(rng.integers(1, 4))
            held = set(cur).union(*ticks)
            if d not in held and len(held) >= cap:
                drops += 1
                assert not on_trade(p, ss, DAY0 + k * S + int(frac * S), mid + d, qty)
                continue
            assert on_trade(p, ss, DAY0 + k * S + int(frac * S), mid + d, qty)
            cur[d] = cur.get(d, 0.0) + qty
        if cur:
            ticks.append(cur)
        if k % 3 == 0:  # at a tick: the buffer trimmed to the newest B ticks with trades
            on_tick(p, ss, DAY0 + k * S + S - 1, mid)
            ticks = ticks[-B:]
            want: dict[float, float] = {}
            for t in ticks:
                for d, v in t.items():
                    want[d] = want.get(d, 0.0) + v
            d_buf, v_buf = intensity_buffer(ss)
            assert list(d_buf) == sorted(want)
            assert list(v_buf) == pytest.approx([want[d] for d in sorted(want)], abs=1e-9)
            assert ss[E.S_HIST_LIVE] == len(want) and ss[E.S_HIST_N] <= cap
            assert ss[E.S_DROP_FULL] == drops
            max_gaps = max(max_gaps, int(ss[E.S_HIST_N] - ss[E.S_HIST_LIVE]))
    assert max_gaps > 0  # emptied distances were kept as gaps
    if cap == 12:
        assert drops > 0  # the small table was full at times


# ---- §1.3–§1.6: the proposal ---------------------------------------------------------------------------------

BASE = dict(trading_intensity_buffer_size=1, volatility_buffer_size=10, order_amount=0.1, risk_factor=0.5,
            order_optimization_enabled=False)


def test_quotes_follow_the_formulas_with_levels_and_quantization():
    params = HummingbotASParams(**BASE, order_levels=3, level_distances=50.0, starting_base=3.0,
                                starting_quote=100.0)
    p, ss, t = ready_state(params)
    status, out = quote(p, ss, t, bid=99.0, ask=101.0)
    assert status == Q_OK
    sigma = 0.02 * math.sqrt(0.9)
    q = (3 - 4 * 0.5) / 4  # inventory 3 + 100/100 = 4 base, target 2
    r, delta, ask, bid = reservation_and_spread(0.5, sigma, 20.0, q, 1.0, 100.0, 0.0)
    assert r == pytest.approx(100 - q * 0.5 * sigma)
    assert delta == pytest.approx(0.5 * sigma + 4 * math.log(1 + 0.5 / 20))
    step = delta / 2 * 0.5
    for i in range(3):
        assert out[4 * i] == pytest.approx(math.floor((bid - i * step) / 0.01 + 1e-9) * 0.01)
        assert out[4 * i + 2] == pytest.approx(math.floor((ask + i * step) / 0.01 + 1e-9) * 0.01)
        assert out[4 * i + 1] == out[4 * i + 3] == pytest.approx(0.1)  # η = 0: no shaping
    assert out[0] > out[4] > out[8] and out[2] < out[6] < out[10]


@pytest.mark.parametrize("base, quote_, sign", [(3.0, 100.0, 1), (1.0, 300.0, -1)])
def test_eta_shapes_the_side_against_the_target(base, quote_, sign):
    params = HummingbotASParams(**BASE, order_amount_shape_factor=0.6, starting_base=base, starting_quote=quote_)
    p, ss, t = ready_state(params)
    status, out = quote(p, ss, t, bid=99.0, ask=101.0)
    q = ss[E.S_Q]
    assert status == Q_OK and np.sign(q) == sign and abs(q) == pytest.approx(0.25)
    if q > 0:  # too much base: smaller buys
        assert out[1] == pytest.approx(0.1 * math.exp(-0.6 * q)) and out[3] == pytest.approx(0.1)
    else:  # too little base: smaller sells
        assert out[3] == pytest.approx(0.1 * math.exp(0.6 * q)) and out[1] == pytest.approx(0.1)


def test_min_spread_clamps_both_sides_around_the_mid():
    params = HummingbotASParams(**BASE, min_spread=1.0)  # 1 % of 100: ask ≥ 100.5, bid ≤ 99.5
    p, ss, t = ready_state(params, kappa=2000.0)  # δ ≈ 0.01, far below the minimum of 1
    status, out = quote(p, ss, t, bid=99.0, ask=101.0)
    assert status == Q_OK and ss[E.S_SPREAD] < 0.02 and ss[E.S_OPT_ASK] == pytest.approx(100.5)
    assert (out[0], out[2]) == pytest.approx((99.5, 100.5))


def test_order_optimization_caps_at_one_tick_inside_the_best_and_never_crosses():
    on = HummingbotASParams(**{**BASE, "order_optimization_enabled": True})
    p, ss, t = ready_state(on, kappa=2000.0, sigma_step=0.0002)  # optimal bid/ask within 0.01 of the mid
    status, out = quote(p, ss, t, bid=99.95, ask=100.05)
    assert status == Q_OK and (out[0], out[2]) == pytest.approx((99.96, 100.04))  # best_bid + tick, best_ask − tick
    off = HummingbotASParams(**BASE)
    p, ss, t = ready_state(off, kappa=2000.0, sigma_step=0.0002)
    status, out = quote(p, ss, t, bid=99.95, ask=100.05)
    assert status == Q_OK and (out[0], out[2]) == pytest.approx((99.99, 100.0))  # floored optimal prices
    for params in (on, off):  # a one-tick book: the floored ask would sit on the bid; post-only keeps it above
        p, ss, t = ready_state(params, kappa=2000.0, sigma_step=0.0002, mid=99.995)
        status, out = quote(p, ss, t, mid=99.995, bid=99.99, ask=100.0)
        assert status == Q_OK and out[0] == pytest.approx(99.99) and out[2] == pytest.approx(100.0)


def test_budget_limits_sizes_to_the_balances():
    params = HummingbotASParams(**{**BASE, "order_amount": 2.0}, order_levels=2, starting_base=1.0,
                                starting_quote=150.0)
    p, ss, t = ready_state(params)
    status, out = quote(p, ss, t, bid=99.0, ask=101.0)
    assert status == Q_OK
    assert out[1] == pytest.approx(150.0 / out[0]) and out[5] == 0.0  # 150 quote buys 1.5 base, none left
    assert out[3] == pytest.approx(1.0) and out[7] == 0.0  # 1 base to sell


# ---- §1.7: timers ------------------------------------------------------------------------------------------------

TIMERS = dict(BASE, order_refresh_time=5.0, order_optimization_enabled=False)


def test_refresh_keeps_orders_within_tolerance_and_replaces_them_outside():
    params = HummingbotASParams(**TIMERS, order_refresh_tolerance_pct=0.1)
    p, ss, t = ready_state(params)
    status, first = quote(p, ss, t)
    assert status == Q_OK
    for k in range(1, 5):  # refresh time not elapsed
        assert quote(p, ss, t + k * S)[0] == Q_HOLD
    assert quote(p, ss, t + 5 * S, mid=100.05)[0] == Q_HOLD  # 0.05 % away: within the 0.1 % tolerance
    assert quote(p, ss, t + 9 * S, mid=101.0)[0] == Q_HOLD  # timers pushed to t + 10
    assert quote(p, ss, t + 10 * S, mid=101.0)[0] == Q_CANCEL  # 1 % away: cancelled; create_ts = now, not < now
    status, out = quote(p, ss, t + 11 * S, mid=101.0)
    assert status == Q_OK and out[0] == pytest.approx(first[0] + 1.0, abs=0.011)


def test_zero_tolerance_refreshes_on_any_change():
    params = HummingbotASParams(**TIMERS)
    p, ss, t = ready_state(params)
    assert quote(p, ss, t)[0] == Q_OK
    assert quote(p, ss, t + 5 * S)[0] == Q_HOLD  # same prices: kept even at tolerance 0
    assert quote(p, ss, t + 10 * S, mid=100.02)[0] == Q_CANCEL
    assert quote(p, ss, t + 11 * S, mid=100.02)[0] == Q_OK


def test_filled_order_delay_after_a_complete_fill():
    params = HummingbotASParams(**TIMERS, filled_order_delay=60.0, starting_base=5.0, starting_quote=500.0)
    p, ss, t = ready_state(params)
    status, out = quote(p, ss, t)
    assert status == Q_OK
    assert not on_fill(p, ss, t + S // 10, 0, 0, out[0], 0.04, 0.0)  # partial: no delay
    assert on_fill(p, ss, t + 3 * S // 10, 0, 0, out[0], 0.06, 0.01)  # complete at t + 0.3 s
    assert ss[E.S_CASH] == pytest.approx(-out[0] * 0.1 - 0.01) and ss[E.S_N_LIVE] == 1
    for k in (1, 5, 30, 60):  # no refresh, no new orders before t + 60.3 s; the ask stays live
        assert quote(p, ss, t + k * S, position=0.1)[0] == Q_HOLD
    status, new = quote(p, ss, t + 61 * S, position=0.1)
    assert status == Q_OK and new[1] > 0 and new[3] > 0  # the ask is cancelled and both sides placed again
    base, quote_ = 5.0 + 0.1, 500.0 - out[0] * 0.1 - 0.01  # balances: start + position, start + our fills' flow
    inventory = base + quote_ / 100.0
    assert ss[E.S_Q] == pytest.approx((base - 0.5 * inventory) / inventory)


def test_max_order_age_cancels_orders_kept_by_the_tolerance():
    params = HummingbotASParams(**TIMERS, order_refresh_tolerance_pct=1.0, max_order_age=10.0)
    p, ss, t = ready_state(params)
    assert quote(p, ss, t)[0] == Q_OK
    assert quote(p, ss, t + 5 * S)[0] == Q_HOLD
    assert quote(p, ss, t + 10 * S)[0] == Q_HOLD  # age 10 s, not above 10; timers pushed to t + 15
    assert quote(p, ss, t + 11 * S)[0] == Q_CANCEL  # too old; the create timer is still ahead
    for k in range(12, 16):
        assert quote(p, ss, t + k * S)[0] == Q_HOLD and ss[E.S_N_LIVE] == 0
    assert quote(p, ss, t + 16 * S)[0] == Q_OK


# ---- warm-up and the execution window ----------------------------------------------------------------------------

def test_no_quotes_until_both_buffers_are_full():
    params = HummingbotASParams(volatility_buffer_size=5, trading_intensity_buffer_size=3)
    p = params.to_array()
    ss = init_state(p)
    for k in range(8):
        on_tick(p, ss, DAY0 + k * S, 100.0 + 0.01 * (k % 2))
        assert quote(p, ss, DAY0 + k * S)[0] == Q_WARMUP  # σ full from k = 4, no trades yet
    for k in range(8, 11):
        on_trade(p, ss, DAY0 + k * S - S // 2, 100.02, 1.0)
        on_trade(p, ss, DAY0 + k * S - S // 3, 99.95, 0.3)
        on_tick(p, ss, DAY0 + k * S, 100.0)
        status = quote(p, ss, DAY0 + k * S)[0]
        assert status == (Q_WARMUP if k < 10 else Q_OK), k  # the third tick with trades fills the buffer
    # the other way round: the intensity buffer full first, σ's still filling
    p = HummingbotASParams(volatility_buffer_size=6, trading_intensity_buffer_size=2).to_array()
    ss = init_state(p)
    for k in range(6):
        if k:
            on_trade(p, ss, DAY0 + k * S - S // 2, 100.02, 1.0)
            on_trade(p, ss, DAY0 + k * S - S // 3, 99.95, 0.3)
        on_tick(p, ss, DAY0 + k * S, 100.0 + 0.01 * (k % 2))
        assert ss[E.S_KAPPA] > 0 if k >= 2 else ss[E.S_KAPPA] == 0
        assert quote(p, ss, DAY0 + k * S)[0] == (Q_WARMUP if k < 5 else Q_OK), k


def test_daily_between_times_window():
    params = HummingbotASParams(**BASE, execution_timeframe="daily_between_times", start_time="10:00:00",
                                end_time="11:00:00")
    p = params.to_array()
    assert time_left_fraction(p, DAY0 + 10 * 3600 * S) == (True, 1.0)
    assert time_left_fraction(p, DAY0 + 86_400 * S + 10 * 3600 * S + 1800 * S) == (True, 0.5)
    assert time_left_fraction(p, DAY0 + 11 * 3600 * S) == (False, 0.0)
    p, ss, t = ready_state(params, t0=DAY0 + 9 * 3600 * S)
    assert quote(p, ss, t)[0] == Q_OUTSIDE_HOURS  # 09:00:09
    status, _ = quote(p, ss, DAY0 + 10 * 3600 * S + 1800 * S)
    assert status == Q_OK and ss[E.S_TFRAC] == 0.5
    sigma = 0.02 * math.sqrt(0.9)
    assert ss[E.S_SPREAD] == pytest.approx(0.5 * sigma * 0.5 + 4 * math.log(1 + 0.5 / 20))
    assert quote(p, ss, DAY0 + 11 * 3600 * S)[0] == Q_OUTSIDE_HOURS and ss[E.S_N_LIVE] == 0


def test_from_date_to_date_window():
    params = HummingbotASParams(**BASE, execution_timeframe="from_date_to_date",
                                start_time="2019-01-01 00:00:00", end_time="2019-01-03 00:00:00")
    p = params.to_array()
    assert time_left_fraction(p, DAY0 - 1) == (False, 0.0)
    assert time_left_fraction(p, DAY0 + 86_400 * S) == (True, 0.5)
    assert time_left_fraction(p, DAY0 + 2 * 86_400 * S) == (False, 0.0)


# ---- parameters ------------------------------------------------------------------------------------------------

def test_parameters_round_trip_and_defaults():
    d = {"risk_factor": 0.8, "order_levels": 2, "level_distances": 10.0, "execution_timeframe": "daily_between_times",
         "start_time": "07:00:00", "end_time": "19:00:00", "starting_base": 0.5, "starting_quote": 10_000.0}
    params = HummingbotASParams.from_dict(d)
    assert HummingbotASParams.from_dict(params.to_dict()) == params
    p = params.to_array()
    assert p[E.P_START_NS] == 7 * 3600 * S and p[E.P_END_NS] == 19 * 3600 * S and p[E.P_LEVELS] == 2
    default = HummingbotASParams()
    assert (default.risk_factor, default.volatility_buffer_size, default.trading_intensity_buffer_size,
            default.filled_order_delay, default.max_order_age, default.inventory_target_base_pct,
            default.tick_seconds) == (1.0, 200, 200, 60.0, 1800.0, 50.0, 1.0)


def test_auto_balances_start_at_the_target():
    p = HummingbotASParams(order_amount=0.01, inventory_target_base_pct=30.0).to_array()
    ss = init_state(p)
    on_tick(p, ss, DAY0, 20_000.0)
    assert ss[E.S_BASE0] == pytest.approx(20 * 0.01 * 0.3) and ss[E.S_QUOTE0] == pytest.approx(20 * 0.01 * 20_000 * 0.7)


@pytest.mark.parametrize("bad, key", [
    ({"risk_factor": 0.0}, "risk_factor"),
    ({"order_amount": -1.0}, "order_amount"),
    ({"min_spread": -0.1}, "min_spread"),
    ({"order_levels": 0}, "order_levels"),
    ({"level_distances": -1.0}, "level_distances"),
    ({"order_amount_shape_factor": 1.5}, "order_amount_shape_factor"),
    ({"order_refresh_tolerance_pct": 11.0}, "order_refresh_tolerance_pct"),
    ({"inventory_target_base_pct": 101.0}, "inventory_target_base_pct"),
    ({"volatility_buffer_size": 0}, "volatility_buffer_size"),
    ({"trading_intensity_buffer_size": 10_001}, "trading_intensity_buffer_size"),
    ({"filled_order_delay": 0.0}, "filled_order_delay"),
    ({"tick_seconds": 0.0}, "tick_seconds"),
    ({"risk_factor": math.nan}, "risk_factor"),
    ({"order_refresh_time": math.inf}, "order_refresh_time"),
    ({"execution_timeframe": "weekly"}, "execution_timeframe"),
    ({"execution_timeframe": "daily_between_times", "start_time": "25:00:00", "end_time": "26:00:00"},
     "start_time"),
    ({"execution_timeframe": "daily_between_times", "start_time": "12:00:00", "end_time": "11:00:00"}, "end_time"),
    ({"execution_timeframe": "from_date_to_date", "start_time": "2019-01-01", "end_time": "yesterday"}, "end_time"),
    ({"start_time": "10:00:00"}, "start_time"),
    ({"starting_base": 1.0}, "starting_quote"),
    ({"order_levels": "3"}, "order_levels"),
    ({"gamma": 0.5}, "gamma"),
])
def test_bad_parameters_are_one_line_naming_the_field(bad, key):
    with pytest.raises(InputError) as e:
        HummingbotASParams.from_dict(bad, source="params.json")
    msg = str(e.value)
    assert "\n" not in msg and key in msg and msg.startswith("params.json")
