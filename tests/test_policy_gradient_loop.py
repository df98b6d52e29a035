"""The online-γ learner's compiled day is bit-identical to its Python loop (issue #16 §1): every epoch's γ, draw,
mean, std, reward and normalised reward, the learner's state and generator afterwards, the fills, grid, metrics
and parameters; AS and Hummingbot's AS, both rewards, learning off, a continued state, the risk module (frozen all
day, and a kill mid-day) and on-chain costs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from alpha_as.agents import policy_gradient as PG
from alpha_as.cli import main
from alpha_as.data import store as st
from alpha_as.engine.config import ChainConfig, EngineConfig
from alpha_as.engine.risk import RiskConfig
from alpha_as.strategies.avellaneda_stoikov import ASParams
from alpha_as.strategies.hummingbot_as import HummingbotASParams
from tests.engine_days import assert_same_result

INSTR = "btcusdt_synth"
ROWS = ("t", "gamma", "u", "mu", "std", "reward", "reward_norm")


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    root = tmp_path_factory.mktemp("pgloop") / "store"
    assert main(["data", "synth", "--out", str(root), "--start", "2020-12-09", "--end", "2020-12-10",
                 "--workers", "1"]) == 0
    return [st.load_window_day(root, INSTR, dt.date(2020, 12, d), "07:00-08:00") for d in (9, 10)]


def same(a: PG.LearnedGammaRun, b: PG.LearnedGammaRun) -> None:
    for k in ROWS:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)
    assert a.t.dtype == b.t.dtype == np.int64
    assert a.frozen == b.frozen
    assert a.learner.state.to_dict() == b.learner.state.to_dict()  # θ, ρ, traces, normalisers, generator
    assert a.learner.rng.bit_generator.state == b.learner.rng.bit_generator.state
    assert a.learner._pending == b.learner._pending
    ra, rb = a.result, b.result
    assert_same_result(ra, rb)
    assert ra.info["params"] == rb.info["params"]
    assert ra.info.get("risk") == rb.info.get("risk") and ra.info.get("chain") == rb.info.get("chain")
    assert PG.diagnostics(a) == PG.diagnostics(b)


def both(day, params, cfg, **kw) -> PG.LearnedGammaRun:
    """The compiled run, after checking it against the Python loop's; a state given is copied for each."""
    state = kw.pop("state", None)
    copy = (lambda: None) if state is None else (lambda: PG.LearnerState.from_dict(state.to_dict(), "state"))
    compiled = PG.run_day(day, params, cfg, state=copy(), loop="compiled", **kw)
    python = PG.run_day(day, params, cfg, state=copy(), loop="python", **kw)
    same(compiled, python)
    return compiled


def test_a_learning_day_and_the_next_from_its_state_are_identical_on_both_loops(days):
    params, cfg = ASParams(risk_aversion=0.3), PG.PolicyGradientConfig()
    first = both(days[0], params, cfg, seed=0)
    assert len(first.t) == 719 and first.learner.state.updates > 600 and np.ptp(np.log(first.gamma)) > 0.1
    assert np.isfinite(first.reward).all() and np.isfinite(first.reward_norm[-100:]).all()
    both(days[1], params, cfg, state=first.learner.state)


@pytest.mark.parametrize("which", ["asymmetric_dampened", "learn_off", "hummingbot"])
def test_the_other_rewards_learning_off_and_hummingbots_as_are_identical_on_both_loops(days, which):
    params = HummingbotASParams(risk_factor=0.5) if which == "hummingbot" else ASParams(risk_aversion=0.3)
    cfg = PG.PolicyGradientConfig(reward="asymmetric_dampened" if which == "asymmetric_dampened" else "mtm_inventory",
                                  learn=which != "learn_off", inventory_penalty=1e-3)
    run = both(days[0], params, cfg, seed=3)
    assert (run.learner.state.updates == 0) == (which == "learn_off")
    assert run.result.metrics.to_dict()["n_fills"] > 0


def test_the_risk_module_and_on_chain_costs_are_identical_on_both_loops(days):
    params, cfg = ASParams(risk_aversion=0.3), PG.PolicyGradientConfig()
    free = PG.run_day(days[0], params, cfg, seed=0)
    kill_loss = float(-np.minimum.accumulate(free.result.grid["total_pnl"])[len(free.result.grid_ts) // 3])
    killed = both(days[0], params, cfg, seed=0, engine=EngineConfig(risk=RiskConfig(kill_loss=kill_loss)))
    assert 0 < killed.frozen < len(killed.t)
    reducing = both(days[0], params, cfg, seed=0, engine=EngineConfig(risk=RiskConfig(trading_state="reducing")))
    assert reducing.frozen == len(reducing.t)
    chain = both(days[0], params, cfg, seed=0, engine=EngineConfig(chain=ChainConfig()))
    assert chain.result.info["chain"]["gas"] > 0


def test_an_unknown_loop_is_refused(days):
    with pytest.raises(ValueError, match="loop must be one of"):
        PG.run_day(days[0], ASParams(), PG.PolicyGradientConfig(), loop="fast")
