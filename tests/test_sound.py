"""The repaired learner's options, one by one, and the learning diagnostics (issue #10 §1, §3)."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
import torch

from alpha_as.agents import diagnostics as diag
from alpha_as.agents.alpha_as import AlphaAS, LearnerOptions, load_market_day, run_day
from alpha_as.agents.config import SOUND, AlphaASConfig, DQNConfig, model_agent
from alpha_as.agents.dqn import DQNAgent, ReplayMemory, double_dqn_targets, merge_memories
from alpha_as.agents.features import PRIVATE_FEATURES
from alpha_as.agents.observation import Observer, decision_times
from alpha_as.agents.toys import TOY_FEATURES, TOY_INSTRUMENT, TOY_PARAMS, write_toy_days
from alpha_as.cli import main
from alpha_as.engine.backtest import SteppedBacktest
from alpha_as.errors import InputError

DAY = dt.date(2021, 1, 4)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("sound")
    write_toy_days(root / "store", [DAY, DAY + dt.timedelta(days=1)], minutes=6)
    return root


def toy_day(toy):
    return load_market_day(toy / "store", TOY_INSTRUMENT, DAY, "all")


def test_model_names_and_presets():
    assert model_agent("alpha-as-2-sound") == ("alpha-as-2", SOUND)
    assert model_agent("alpha-as-1") == ("alpha-as-1", {})
    with pytest.raises(InputError, match="unknown agent model"):
        model_agent("alpha-as-3")
    paper = AlphaASConfig().dqn_config()
    assert (paper.output_activation, paper.target_update, paper.bellman_iterations, paper.loss) == \
        ("tanh", "copy", 1, "mse")
    sound = AlphaASConfig(**SOUND).dqn_config()
    assert (sound.output_activation, sound.target_update, sound.bellman_iterations, sound.loss) == \
        ("linear", "polyak", 10, "huber")
    for bad in ({"z_clip": 0.0}, {"day_end": "stop"}, {"reward_unit": "eur"}, {"inputs": "raw"},
                {"reward_scaling": "max"}):
        with pytest.raises(InputError):
            AlphaASConfig(**bad)
    with pytest.raises(InputError, match="tau"):
        DQNConfig(tau=0.0)


def test_terminal_rows_do_not_bootstrap_and_survive_merge_and_save(tmp_path):
    y = double_dqn_targets(np.array([1.0, 2.0]), np.array([[0.0, 5.0], [3.0, 0.0]]),
                           np.array([[10.0, 20.0], [30.0, 40.0]]), 0.5, np.array([0.0, 1.0]))
    np.testing.assert_allclose(y, [1.0 + 0.5 * 20.0, 2.0])
    m = ReplayMemory(10, 2)
    m.add(np.array([0.0, 1.0]), 1, 0.5, np.array([1.0, 1.0]))
    m.add(np.array([1.0, 1.0]), 2, 0.7, np.array([2.0, 1.0]), done=True)
    merged = merge_memories([m], np.random.default_rng(0), 10)
    assert sorted(merged.dones[: len(merged)].tolist()) == [0.0, 1.0]
    back = ReplayMemory.from_arrays(merged.to_arrays())
    np.testing.assert_array_equal(back.dones, merged.dones)
    old = {k: v for k, v in m.to_arrays().items() if k != "dones"}  # a checkpoint from before the flag
    assert not ReplayMemory.from_arrays(old).dones.any()


def test_polyak_target_lags_and_fitted_q_iterations_propagate_value():
    """A two-state chain s0 -> s1 (terminal), reward 0 then 1: fitted-Q iterations must carry the value back to
    s0 (Q(s0) -> γd), which one regression of one-step targets cannot do."""
    s0, s1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])

    def agent(**kw) -> DQNAgent:
        cfg = DQNConfig(n_inputs=2, output_activation="linear", optimizer="adam", lr=0.01, min_rows=2,
                        batch_size=64, val_fraction=0.25, normalize=False, discount=0.5, seed=3, **kw)
        a = DQNAgent(cfg)
        for _ in range(10):
            for act in range(20):
                a.remember(s0, act, 0.0, s1)
                a.remember(s1, act, 1.0, s0, done=True)
        return a

    it = agent(target_update="polyak", tau=0.5, bellman_iterations=30, epochs=10, out_init_scale=0.01)
    for _ in range(3):
        res = it.fit()
    assert res.bellman_iterations == 30 and res.target_online_gap > 0
    q0, q1 = it.q_values(s0), it.q_values(s1)
    assert abs(q1.mean() - 1.0) < 0.1 and abs(q0.mean() - 0.5) < 0.1
    one = agent(epochs=100)
    one.fit()
    assert abs(one.q_values(s0).mean()) < 0.1  # before any target copy the bootstrap is 0: no propagation
    assert not one.target_fitted and math.isnan(one.fit().target_online_gap)


def test_small_output_init():
    big = DQNAgent(DQNConfig(seed=1))
    small = DQNAgent(DQNConfig(seed=1, out_init_scale=0.01, output_activation="linear"))
    x = np.random.default_rng(0).normal(size=(200, 32))
    assert small._predict(small.online, x).std() < 0.05 * big._predict(big.online, x).std()


def test_stationary_inputs_rewards_in_bps_and_terminal_unwind(toy):
    day = toy_day(toy)
    cfg = AlphaASConfig(features=("midprice_0", "last_close_price_0", "bid_qty_0"), window="all")
    agent = DQNAgent(cfg.dqn_config())
    paper_run, _ = run_day(agent, day, TOY_PARAMS, cfg.features, None, 1.0, learn=False)
    agent = DQNAgent(cfg.dqn_config())
    opts = LearnerOptions(inputs="stationary", day_end="terminal_unwind", reward_unit="bps")
    run, _ = run_day(agent, day, TOY_PARAMS, cfg.features, None, 1.0, learn=True, options=opts)
    np.testing.assert_array_equal(run.actions, paper_run.actions)  # same seed, same draws: same play
    mid = 100.0
    # rewards: bps of the order's notional (flat mid 100, quantity 0.0001), the last one with the unwind
    bps = 1e4 / (TOY_PARAMS.quantity * mid)
    np.testing.assert_allclose(run.rewards[:-1], paper_run.rewards[:-1] * bps, rtol=1e-9, atol=1e-9)
    unreal = run.result.fills["unrealized_pnl"][-1] if run.result.metrics.n_fills else 0.0
    assert run.rewards[-1] == pytest.approx((paper_run.rewards[-1] + max(unreal, 0.0)) * bps)
    assert run.dones[-1] == 1.0 and not run.dones[:-1].any()
    assert agent.memory.dones[len(agent.memory) - 1] == 1.0
    s = run.states  # raw (no normaliser): midprice and last trade in bps of the mid, log-compressed
    assert np.all(s[1:, 0] == 0.0)
    np.testing.assert_allclose(np.abs(s[1:, 1]), np.log1p(750.0))  # the toy's trades print 7.5 % from the mid
    np.testing.assert_allclose(s[1:, 2], np.log1p(1.0))  # level-0 size 1 → log(1 + 1)
    inv = s[:, len(cfg.features) : len(cfg.features) + 5]
    pos = paper_run.states[:, len(cfg.features) : len(cfg.features) + 5] * 1e-4 / TOY_PARAMS.quantity
    np.testing.assert_allclose(inv, np.sign(pos) * np.log1p(np.abs(pos)))  # slog of the inventory in order sizes


def test_stationary_private_scores_are_per_fill_pnl_changes(toy):
    day = toy_day(toy)
    sb = SteppedBacktest(day, TOY_PARAMS.__class__(**{**TOY_PARAMS.to_dict(), "risk_aversion": 0.9}))
    sb.reset()
    for _ in range(30):
        sb.step()
    obs = Observer(sb.bt.day, decision_times(sb.bt.first_grid, sb.bt.last_event, sb.bt.grid_ns), TOY_FEATURES,
                   inputs="stationary", quantity=TOY_PARAMS.quantity)
    x = obs.raw(sb.bt, sb.bt.now)
    f = sb.bt.result().fills
    damp = f["realized_pnl"] + np.minimum(f["unrealized_pnl"], 0.0)
    want = np.diff(damp[-6:]) / (TOY_PARAMS.quantity * f["price"][-5:]) * 1e4
    np.testing.assert_allclose(x[-5:], np.sign(want) * np.log1p(np.abs(want)))
    pos = f["position"][-5:] / TOY_PARAMS.quantity
    np.testing.assert_allclose(x[len(TOY_FEATURES) : len(TOY_FEATURES) + 5], np.sign(pos) * np.log1p(np.abs(pos)))
    np.testing.assert_allclose(x[:2], np.log1p([1.0, 1.0]))  # sizes: log(1 + size)


def test_z_clip_bounds_the_states_and_drift_is_measured(toy, tmp_path):
    cfg = AlphaASConfig(features=TOY_FEATURES, window="all", iterations=1, runs=1, epochs=2, z_clip=0.5)
    m = AlphaAS(tmp_path / "m", cfg, TOY_PARAMS)
    m.train(toy / "store", TOY_INSTRUMENT, DAY.isoformat())
    assert np.abs(m.agent.memory.states[: len(m.agent.memory)]).max() <= 0.5
    run = m.test_day(toy_day(toy), learn=True)
    assert np.abs(run.states).max() <= 0.5
    assert run.max_abs_z.max() > 0.5  # the drift figure is taken before clipping
    doc = json.loads((tmp_path / "m" / "diagnostics.json").read_text())
    assert doc["format"] == diag.FORMAT and len(doc["days"]) == 1 and len(doc["fits"]) == 2
    day = doc["days"][0]
    assert set(day["max_abs_z_by_feature"]) == set(TOY_FEATURES) | set(PRIVATE_FEATURES)
    assert day["max_abs_z"] == max(day["max_abs_z_by_feature"].values())
    assert abs(sum(day["greedy_shares"]) - 1.0) < 1e-9 and 0 <= day["greedy_entropy_bits"] <= math.log2(20) + 1e-9
    assert day["saturated_share"] is not None  # tanh output
    assert [c["phase"] for c in doc["checks"]] == ["train", "test"]


def test_diagnostic_formulas_by_hand():
    np.testing.assert_allclose(diag.mc_returns(np.array([1.0, 2.0, 4.0]), 0.5), [1 + 0.5 * (2 + 0.5 * 4), 4.0, 4.0][:1]
                               + [2 + 0.5 * 4, 4.0])
    np.testing.assert_allclose(diag.mc_returns(np.array([1.0, 2.0, 4.0]), 0.5, np.array([0, 1, 0])), [2.0, 2.0, 4.0])
    assert diag.entropy_bits(np.full(20, 0.05)) == pytest.approx(math.log2(20))
    assert diag.entropy_bits(np.eye(20)[3]) == 0.0
    q = np.array([[0.995, 0.0] + [0.0] * 18, [0.0, 0.5] + [0.0] * 18])
    g = diag.greedy_stats(q, "tanh")
    assert g["greedy_top_share"] == 0.5 and g["saturated_share"] == pytest.approx(1 / 40)
    assert diag.greedy_stats(q, "linear")["saturated_share"] is None
    c = diag.q_vs_mc(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]), np.zeros(3))
    assert c["q_mc_corr"] == pytest.approx(1.0) and c["q_mc_bias"] == pytest.approx(-2.0)


def test_sound_checkpoint_resume_is_identical(toy, tmp_path):
    cfg = AlphaASConfig(features=TOY_FEATURES, window="all", iterations=3, runs=1, seed=5, **SOUND)
    whole = AlphaAS(tmp_path / "whole", cfg, TOY_PARAMS)
    whole.train(toy / "store", TOY_INSTRUMENT, DAY.isoformat())
    part = AlphaAS(tmp_path / "part", cfg, TOY_PARAMS)
    part.train(toy / "store", TOY_INSTRUMENT, DAY.isoformat(), stop_after=1)
    part = AlphaAS.load(tmp_path / "part")
    part.train(toy / "store", TOY_INSTRUMENT, DAY.isoformat())
    assert part.reward_scale == whole.reward_scale != 1.0
    for k, v in whole.agent.target.state_dict().items():
        assert torch.equal(v, part.agent.target.state_dict()[k]), k
    for k, v in whole.agent.online.state_dict().items():
        assert torch.equal(v, part.agent.online.state_dict()[k]), k


def test_diagnose_cli(toy, tmp_path, capsys):
    genas = tmp_path / "ga"
    genas.mkdir()
    (genas / "best.json").write_text(json.dumps({"params": TOY_PARAMS.to_dict()}))
    feats = tmp_path / "f.json"
    feats.write_text(json.dumps({"features": list(TOY_FEATURES)}))
    out = tmp_path / "model"
    assert main(["train", "alpha-as-1-sound", "--data", str(toy / "store"), "--instrument", TOY_INSTRUMENT,
                 "--day", DAY.isoformat(), "--genas", str(genas), "--out", str(out), "--iterations", "2",
                 "--runs", "1", "--features", str(feats), "--window", "all"]) == 0
    capsys.readouterr()
    day2 = (DAY + dt.timedelta(days=1)).isoformat()
    args = ["diagnose", str(out), "--data", str(toy / "store"), "--instrument", TOY_INSTRUMENT, "--day", day2]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "alpha-as-1-sound seed 0" in text and "Q vs MC return [train" in text and "greedy entropy" in text
    assert "target-online gap" in text
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "model" and doc["output_activation"] == "linear" and doc["played"]["steps"] > 0
    assert main(["diagnose", str(tmp_path / "none"), "--data", str(toy / "store"), "--instrument", TOY_INSTRUMENT,
                 "--day", day2]) == 2
    assert "no Alpha-AS model" in capsys.readouterr().err
    assert main([*args, "--epsilon", "2"]) == 2
    assert main(["train", "alpha-as-1-sound", "--preset", "notebook", "--data", str(toy / "store"), "--instrument",
                 TOY_INSTRUMENT, "--day", DAY.isoformat(), "--genas", str(genas), "--out", str(tmp_path / "x")]) == 2
    assert main(["run-agent", "alpha-as-1", "--model", str(out), "--data", str(toy / "store"), "--instrument",
                 TOY_INSTRUMENT, "--day", day2, "--out", str(tmp_path / "r")]) == 2
    assert "holds a alpha-as-1-sound model" in capsys.readouterr().err
    assert main(["run", "alpha-as-1-sound", "--model", str(out), "--data", str(toy / "store"), "--instrument",
                 TOY_INSTRUMENT, "--day", day2, "--out", str(tmp_path / "r"), "--no-learn"]) == 0
    assert "alpha-as-1-sound" in capsys.readouterr().out and (tmp_path / "r" / "grid.parquet").is_file()


def test_skipping_the_untaken_targets_changes_no_weight():
    """training_targets(fill_untaken=False) (the fitted-Q iterations' shortcut) trains the same network."""
    rng = np.random.default_rng(1)

    def agent() -> DQNAgent:
        a = DQNAgent(AlphaASConfig(features=TOY_FEATURES, **SOUND).dqn_config())
        for _ in range(300):
            a.remember(rng.normal(size=a.cfg.state_dim), int(rng.integers(20)), float(rng.normal()),
                       rng.normal(size=a.cfg.state_dim), bool(rng.random() < 0.05))
        return a

    rng = np.random.default_rng(1)
    fast = agent()
    rng = np.random.default_rng(1)
    full = agent()
    orig = full.training_targets
    full.training_targets = lambda fill_untaken=True: orig(True)
    for _ in range(2):
        fast.fit()
        full.fit()
    for k, v in fast.online.state_dict().items():
        assert torch.equal(v, full.online.state_dict()[k]), k


def test_dqn_overrides_in_a_protocol(tmp_path):
    from alpha_as.experiments.protocol import load_protocol

    path = tmp_path / "p.toml"
    path.write_text('[protocol]\ndata = "data"\ninstrument = "x"\n[agents]\ndqn = {lr = 0.003}\n'
                    "[sound]\ndqn = {bellman_iterations = 4}\n")
    p = load_protocol(path)
    assert p.agent_config("alpha-as-1", 0, ["bid_qty_0"]).dqn_config().lr == 0.003
    sound = p.agent_config("alpha-as-1-sound", 0, ["bid_qty_0"]).dqn_config()
    assert sound.bellman_iterations == 4 and sound.output_activation == "linear"
    path.write_text('[protocol]\ndata = "data"\ninstrument = "x"\n[agents]\ndqn = {bogus = 1}\n')
    with pytest.raises(InputError, match="bogus"):
        load_protocol(path)
    with pytest.raises(InputError, match="set by the agent config"):
        AlphaASConfig(dqn={"variant": "lstm"})
