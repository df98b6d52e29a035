"""The compiled decision loop plays a day bit-identically to the Python loop (issue #16 §1): actions, rewards,
states, memory rows, RNG state, target copies, fills, grid and P&L; both variants, learning on."""

from __future__ import annotations

import copy
import functools
import json

import numpy as np
import pytest
import torch

from alpha_as.agents import decision_loop as dl
from alpha_as.agents.alpha_as import AlphaAS, AlphaASConfig, LearnerOptions, load_market_day, run_day
from alpha_as.agents.dqn import DQNAgent
from alpha_as.agents.features import PRIVATE_FEATURES, Normalizer
from alpha_as.cli import main
from alpha_as.engine import state as S
from alpha_as.strategies.avellaneda_stoikov import ASParams

INSTR = "btcusdt_synth"
DAY = "2020-12-08"
GENAS = ASParams(position_multiplier=1000.0, spread_multiplier=2.0)
HOUR_NS = 3_600_000_000_000


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("dloop")
    assert main(["data", "synth", "--out", str(root), "--start", DAY, "--end", "2020-12-09", "--hours", "0.5",
                 "--workers", "1"]) == 0
    return root


@pytest.fixture(scope="module")
def day(store):
    return load_market_day(store, INSTR, DAY, "all")


def same_runs(a, b) -> None:
    (ra, sa), (rb, sb) = a, b
    assert sa == sb
    for k in ("t", "actions", "rewards", "dones", "states"):
        np.testing.assert_array_equal(getattr(ra, k), getattr(rb, k), err_msg=k)
    if ra.max_abs_z is None:
        assert rb.max_abs_z is None
    else:
        np.testing.assert_array_equal(ra.max_abs_z, rb.max_abs_z)
    assert ra.target_copies == rb.target_copies
    np.testing.assert_array_equal(ra.result.fill_ts, rb.result.fill_ts)
    for k in ra.result.fills:
        np.testing.assert_array_equal(ra.result.fills[k], rb.result.fills[k], err_msg=k)
    for k in ra.result.grid:
        np.testing.assert_array_equal(ra.result.grid[k], rb.result.grid[k], err_msg=k)
    assert ra.result.counters == rb.result.counters
    assert ra.result.metrics.to_dict() == rb.result.metrics.to_dict()
    assert ra.result.info["params"] == rb.result.info["params"]


def same_agents(a: DQNAgent, b: DQNAgent) -> None:
    ma, mb = a.memory.to_arrays(), b.memory.to_arrays()
    for k in ma:
        np.testing.assert_array_equal(ma[k], mb[k], err_msg=k)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert a.target_fitted == b.target_fitted
    for k, v in a.target.state_dict().items():
        assert torch.equal(v, b.target.state_dict()[k]), k


def both(agent: DQNAgent, day, norm, eps, **kw):
    """The day on both loops from copies of ``agent``: (compiled agent, its run), (python agent, its run)."""
    a, b = copy.deepcopy(agent), copy.deepcopy(agent)
    ra = run_day(a, day, GENAS, cfg_features(), norm, eps, decision_loop="compiled", **kw)
    rb = run_day(b, day, GENAS, cfg_features(), norm, eps, decision_loop="python", **kw)
    return (a, ra), (b, rb)


def cfg_features():
    return AlphaASConfig().features


@pytest.mark.parametrize(("variant", "seq_len"), [("ff", 1), ("lstm", 1), ("lstm", 3)])
def test_a_learning_day_is_identical_on_both_loops(day, variant, seq_len, monkeypatch):
    # a small fill buffer: the compiled loop returns to Python to grow it many times during the day
    monkeypatch.setattr(S, "new_state", functools.partial(S.new_state, fill_capacity=64))
    cfg = AlphaASConfig(agent="alpha-as-1" if variant == "ff" else "alpha-as-2", epochs=2, seed=3,
                        dqn={"memory_size": 300} | ({"seq_len": seq_len} if variant == "lstm" else {}))
    agent = DQNAgent(cfg.dqn_config())
    # training iteration 0: random actions (unfitted), raw states with NaN, no normaliser
    (a, ra), (b, rb) = both(agent, day, None, 1.0, learn=True)
    same_runs(ra, rb)
    same_agents(a, b)
    assert len(ra[0].actions) > 300 and ra[0].result.metrics.n_fills > 20  # the memory ring wrapped; it traded
    raw = a.memory.states[: len(a.memory), -cfg.n_inputs:]
    norm = Normalizer.fit(raw, list(cfg.features) + list(PRIVATE_FEATURES))
    a.memory.states[:] = np.nan_to_num(a.memory.states)
    a.memory.next_states[:] = np.nan_to_num(a.memory.next_states)
    a.fit()
    a.copy_target()
    # a test day: ε 0.2 on the fitted network, learning on, target copies every 6 minutes of market time
    (c, rc), (d, rd) = both(a, day, norm, 0.2, learn=True, copy_every_ns=HOUR_NS // 10, since_copy_ns=5)
    same_runs(rc, rd)
    same_agents(c, d)
    assert rc[0].target_copies >= 4
    # frozen (no learning), greedy: the network alone chooses
    (e, re), (f, rf) = both(a, day, norm, 0.0, learn=False)
    same_runs(re, rf)
    same_agents(e, f)
    assert len(e.memory) == len(a.memory)


def test_the_sound_reward_and_state_options_are_identical_on_both_loops(day):
    cfg = AlphaASConfig(epochs=2, seed=5)
    agent = DQNAgent(cfg.dqn_config())
    (a, _), _ = both(agent, day, None, 1.0, learn=True)
    norm = Normalizer.fit(a.memory.states[: len(a.memory)], list(cfg.features) + list(PRIVATE_FEATURES))
    a.memory.states[:] = np.nan_to_num(a.memory.states)
    a.memory.next_states[:] = np.nan_to_num(a.memory.next_states)
    a.fit()
    for inputs, day_end in (("paper", "terminal"), ("stationary", "terminal_unwind")):
        opt = LearnerOptions(inputs=inputs, z_clip=0.5, day_end=day_end, reward_unit="bps", reward_scale=0.37)
        (c, rc), (d, rd) = both(a, day, norm, 0.3, learn=True, options=opt)
        same_runs(rc, rd)
        same_agents(c, d)
        assert rc[0].dones[-1] == 1.0 and rc[0].dones[:-1].sum() == 0
        assert np.abs(rc[0].states).max() <= 0.5


def test_test_day_and_training_runs_use_the_compiled_loop_identically(store, day, tmp_path):
    models = {}
    for loop in ("compiled", "python"):
        cfg = AlphaASConfig(iterations=2, runs=2, epochs=2, seed=7, window="all", decision_loop=loop)
        m = AlphaAS(tmp_path / loop, cfg, GENAS)
        m.train(store, INSTR, DAY)
        run = m.test_day(load_market_day(store, INSTR, "2020-12-09", "all"), save=False)
        models[loop] = (m, run)
    (mc, rc), (mp, rp) = models["compiled"], models["python"]
    same_agents(mc.agent, mp.agent)
    for k, v in mc.agent.online.state_dict().items():
        assert torch.equal(v, mp.agent.online.state_dict()[k]), k
    np.testing.assert_array_equal(rc.actions, rp.actions)
    np.testing.assert_array_equal(rc.rewards, rp.rewards)
    assert rc.result.metrics.to_dict() == rp.result.metrics.to_dict()
    strip = {"fit_seconds", "wall_seconds"}
    hc = [{k: v for k, v in h.items() if k not in strip} for h in mc.history]
    hp = [{k: v for k, v in h.items() if k not in strip} for h in mp.history]
    assert json.dumps(hc) == json.dumps(hp)


def test_uncovered_configurations_fall_back_to_the_python_loop():
    ff = DQNAgent(AlphaASConfig(q_target="authors").dqn_config())
    assert "q_target" in dl.fallback_reason(ff, "grid", "paper", "continue")
    plain = DQNAgent(AlphaASConfig().dqn_config())
    assert "timing" in dl.fallback_reason(plain, "authors", "paper", "continue")
    assert dl.fallback_reason(plain, "grid", "stationary", "continue") is None
    assert dl.fallback_reason(plain, "grid", "paper", "terminal_unwind") is None
    plain.act = lambda s, eps: 0
    assert "act" in dl.fallback_reason(plain, "grid", "paper", "continue")


def test_the_random_reference_policy_is_identical_on_both_loops(day, monkeypatch):
    import subprocess
    import sys

    from alpha_as.agents import reference as R

    monkeypatch.setattr(S, "new_state", functools.partial(S.new_state, fill_capacity=64))
    a = R.run_random(day, GENAS, 4)
    b = R.run_random(day, GENAS, 4, decision_loop="python")
    for k in ("t", "actions", "rewards"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)
    for k in a.result.fills:
        np.testing.assert_array_equal(a.result.fills[k], b.result.fills[k], err_msg=k)
    for k in a.result.grid:
        np.testing.assert_array_equal(a.result.grid[k], b.result.grid[k], err_msg=k)
    assert a.result.metrics.to_dict() == b.result.metrics.to_dict() and a.info == b.info
    assert len(np.unique(a.actions)) == 20
    code = "import sys; import alpha_as.agents.decision_loop; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # the reference policies run in the runner's workers without torch


def test_the_compiled_stationary_private_features_are_the_numpy_formula():
    from alpha_as.agents.features import asymmetric_dampened
    from alpha_as.agents.observation import slog
    from alpha_as.agents.private import private_stationary_of

    rng = np.random.default_rng(1)
    fills = np.zeros((12, S.NFF))
    fills[:, S.F_POSITION] = np.cumsum(rng.choice([-0.01, 0.01], 12))
    fills[:, S.F_PRICE] = 30_000 + rng.normal(size=12)
    fills[:, S.F_REALIZED] = np.cumsum(rng.normal(size=12))
    fills[:, S.F_UNREALIZED] = rng.normal(size=12)
    fills[3, S.F_UNREALIZED] = np.nan
    q = 0.01
    for n in range(13):  # the numpy formula of observation.private_stationary before it was compiled
        k = min(n, 5)
        want = np.zeros(10)
        if k:
            rows = fills[n - k : n]
            want[5 - k : 5] = slog(rows[:, S.F_POSITION] / q)
            score = asymmetric_dampened(fills[max(n - k - 1, 0) : n, S.F_REALIZED],
                                        fills[max(n - k - 1, 0) : n, S.F_UNREALIZED])
            if n - k - 1 < 0:
                score = np.concatenate([[0.0], score])
            with np.errstate(all="ignore"):
                d = np.diff(score) / (q * rows[:, S.F_PRICE]) * 1e4
            want[10 - k :] = slog(np.where(np.isfinite(d), d, 0.0))
        np.testing.assert_allclose(private_stationary_of(fills, n, q), want, rtol=1e-15, atol=0)


def test_unique_rows_is_numpys_unique_over_rows():
    from alpha_as.agents.rows import unique_rows

    rng = np.random.default_rng(2)
    for n in (0, 1, 7, 40, 3000):
        key = rng.choice([-1.0, -0.0, 0.0, 0.5, np.nan], size=(n, 5))
        key = np.concatenate([key, key[: n // 3]])[rng.permutation(n + n // 3)]
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        f, i = unique_rows(key)
        np.testing.assert_array_equal(f, first)
        np.testing.assert_array_equal(i, inv.reshape(-1))
