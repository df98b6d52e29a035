"""The PPO agent (issue #14 §2): training improves the episode reward on a toy day, save -> load gives the same
actions, seeding, the inventory-penalty reward, and the CLI."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")  # installed by `make install` (the "rl" extra); CI has it

from alpha_as.agents import ppo, toys  # noqa: E402
from alpha_as.cli import main  # noqa: E402
from alpha_as.data import store as st  # noqa: E402
from alpha_as.errors import InputError  # noqa: E402
from alpha_as.strategies.avellaneda_stoikov import ASParams  # noqa: E402

DATES = [dt.date(2021, 2, 1), dt.date(2021, 2, 2)]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Two 20-minute toy days in the wide regime: γ ≈ 0.1 with skew 0 is best (toys module docstring)."""
    root = tmp_path_factory.mktemp("ppo") / "store"
    toys.write_toy_days(root, DATES, minutes=20)
    return root, [st.load_window_day(root, toys.TOY_INSTRUMENT, d, "all") for d in DATES]


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("ppo-model")
    cfg = ppo.PPOConfig(total_timesteps=20_000, n_steps=128, learning_rate=1e-3, checkpoint_every=10_000, seed=1)
    model = ppo.train(toy[1], toys.TOY_PARAMS, cfg, out, progress=False)
    return out, model


def test_training_improves_the_episode_reward_over_the_untrained_policy(trained):
    """The stochastic policy's first 10 training episodes (≈ untrained) against its last 10: measured 0.112 ->
    0.220 (seed 1) and 0.107 -> 0.180 (seed 0); asserted: at least 1.3x. (The deterministic policy is not yet
    better than the untrained mean action, which already sits on a fair γ: README, a finding.)"""
    out, _ = trained
    rewards = [e["reward"] for e in json.loads((out / "curve.json").read_text())["episodes"]]
    assert len(rewards) >= 80
    first, last = float(np.mean(rewards[:10])), float(np.mean(rewards[-10:]))
    assert last > 1.3 * first > 0, (first, last)
    names = {p.name for p in (out / "checkpoints").iterdir()}
    assert {"ppo_10000_steps.zip", "ppo_20000_steps.zip", "ppo_vecnormalize_10000_steps.pkl"} <= names


def _constant_reward(day, cfg: ppo.PPOConfig, action) -> float:
    env = ppo.make_env(day, toys.TOY_PARAMS, cfg)
    env.reset(seed=0)
    total, done = 0.0, False
    while not done:
        _, r, done, *_ = env.step(np.asarray(action, dtype=np.float32))
        total += r
    return total


def test_the_depth_agent_learns_toward_the_toy_answer(toy, tmp_path):
    """(bid depth, ask depth, size) on the toy: trades print 7.50 USD (750 bps) from a fixed mid, so a quote is
    filled iff its depth is under 750 bps and earns its depth × size per fill; the best constant is both depths just
    under 750 bps at the largest size. With a 800-bps box the untrained mean action (400 bps, 1.25x size) earns
    0.598 a day; measured greedy after 12,000 steps 0.74 (seed 0) and 0.86 (seed 2), after 20,000 steps 1.11
    (seed 1), against 1.78 for the best constant; episode reward 0.33 -> 0.50 (seed 0). Asserted: better than
    the untrained policy, below the best constant, the curve up by a quarter."""
    cfg = ppo.PPOConfig(action="depth", max_depth_bps=800.0, total_timesteps=12_000, n_steps=128,
                        learning_rate=1e-3, checkpoint_every=0, seed=0)
    day = toy[1][0]
    untrained = _constant_reward(day, cfg, [0.0, 0.0, 0.0])  # the mean action of a fresh policy
    best = _constant_reward(day, cfg, [2 * 744 / 800 - 1, 2 * 744 / 800 - 1, 1.0])
    assert _constant_reward(day, cfg, [2 * 760 / 800 - 1, 2 * 760 / 800 - 1, 1.0]) == 0.0  # past D: never filled
    assert best > 2.5 * untrained > 0
    ppo.train(toy[1], toys.TOY_PARAMS, cfg, tmp_path, progress=False)
    rewards = [e["reward"] for e in json.loads((tmp_path / "curve.json").read_text())["episodes"]]
    assert np.mean(rewards[-10:]) > 1.25 * np.mean(rewards[:10]) > 0
    agent = ppo.load(tmp_path)
    result, actions, steps = ppo.run_day(agent, day)
    assert actions.shape == (239, 3) and ppo.day_summary(agent, actions, steps)["action"] == "depth"
    assert untrained < steps.sum() < best, (untrained, steps.sum(), best)
    assert (actions[:, :2] <= 800).all() and (actions[:, 2] <= 2 * toys.TOY_PARAMS.quantity + 1e-12).all()


def test_save_then_load_gives_identical_actions(trained, toy):
    out, model = trained
    a, b = ppo.load(out), ppo.load(out)
    ra, acts_a, rew_a = ppo.run_day(a, toy[1][0])
    _, acts_b, rew_b = ppo.run_day(b, toy[1][0])
    np.testing.assert_array_equal(acts_a, acts_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    assert len(acts_a) == 239 and ra.metrics.n_fills > 0
    # and the loaded agent acts as the model in memory did, on the training statistics
    venv = model.get_env()
    obs = np.random.default_rng(0).normal(size=(5, venv.observation_space.shape[0])).astype(np.float32)
    for x in obs:
        want, _ = model.predict(venv.normalize_obs(x), deterministic=True)
        np.testing.assert_allclose(a.act(x), want, rtol=0, atol=1e-6)


def test_training_is_seeded(toy, tmp_path):
    import torch

    cfg = ppo.PPOConfig(total_timesteps=256, n_steps=128, checkpoint_every=0, seed=3)
    m1 = ppo.train(toy[1][:1], toys.TOY_PARAMS, cfg, tmp_path / "a", progress=False)
    m2 = ppo.train(toy[1][:1], toys.TOY_PARAMS, cfg, tmp_path / "b", progress=False)
    m3 = ppo.train(toy[1][:1], toys.TOY_PARAMS, ppo.PPOConfig(**{**cfg.to_dict(), "seed": 4}), tmp_path / "c",
                   progress=False)
    p1, p2, p3 = (m.policy.state_dict() for m in (m1, m2, m3))
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert not all(torch.equal(p1[k], p3[k]) for k in p1)


def test_the_inventory_penalty_reward(toy):
    """The wrapped reward is Δ total P&L − φ·q²·Δt with q the position in lots after the step."""
    cfg = ppo.PPOConfig(reward="inventory_penalty", inventory_penalty=1e-3)
    plain = ppo.PPOConfig(reward="inventory_penalty", inventory_penalty=0.0)
    env, ref = ppo.make_env(toy[1][0], toys.TOY_PARAMS, cfg), ppo.make_env(toy[1][0], toys.TOY_PARAMS, plain)
    env.reset(seed=0)
    ref.reset(seed=0)
    held = 0
    for k in range(60):
        a = np.array([0.2, 1.0 if k % 2 else -1.0], dtype=np.float32)  # skewed quotes: one side fills, q moves
        _, r, *_, info = env.step(a)
        _, r0, *_ = ref.step(a)
        q = info["position"] / toys.TOY_PARAMS.quantity
        assert r == pytest.approx(r0 - 1e-3 * q * q * 5.0, abs=1e-12)
        held += q != 0
    assert held > 0


def test_cli_trains_and_runs_ppo(toy, tmp_path, capsys):
    root = toy[0]
    genas = tmp_path / "genas"
    genas.mkdir()
    (genas / "best.json").write_text(json.dumps({"params": toys.TOY_PARAMS.to_dict(), "strategy": "as"}))
    common = ["--data", str(root), "--instrument", toys.TOY_INSTRUMENT, "--window", "all"]
    assert main(["train", "ppo", "--days", "2021-02-01,2021-02-02", "--genas", str(genas), "--timesteps", "512",
                 "--ppo-config", '{"n_steps": 128, "checkpoint_every": 256}', "--out", str(tmp_path / "m"),
                 *common]) == 0
    out = capsys.readouterr().out
    assert "ppo trained on toy 2021-02-01, 2021-02-02: 512 steps" in out
    assert {"model.zip", "vecnormalize.pkl", "config.json", "curve.json"} <= {p.name for p in (tmp_path / "m").iterdir()}
    assert main(["run", "ppo", "--model", str(tmp_path / "m"), "--day", "2021-02-01", "--out", str(tmp_path / "r"),
                 *common]) == 0
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["kind"] == "ppo" and m["ppo"]["steps"] == 239
    assert len(json.loads((tmp_path / "r" / "actions.json").read_text())["risk_aversion"]) == 239
    cfg = tmp_path / "r.toml"  # ppo as a runs model, on a chain: its reward (the P&L) is then net of gas
    cfg.write_text(f'[experiment]\nname = "r"\ndata = "{root}"\ninstrument = "{toys.TOY_INSTRUMENT}"\n'
                   f'out = "{tmp_path / "runs"}"\ndays = ["2021-02-02"]\nwindow = "all"\nworkers = 1\n'
                   f'[engine.chain]\nblock_seconds = 2.0\n[models.ppo]\nkind = "ppo"\nmodel = "{tmp_path / "m"}"\n')
    assert main(["runs", "--config", str(cfg)]) == 0
    job = tmp_path / "runs" / "ppo" / "2021-02-02" / "seed=0"
    man = json.loads((job / "manifest.json").read_text())
    assert set(man["config"]["ppo_model_sha256"]) == {"model.zip", "vecnormalize.pkl"}
    assert ASParams(**man["config"]["params"]) == toys.TOY_PARAMS  # the base parameters the agent was trained on
    m2 = json.loads((job / "metrics.json").read_text())
    assert m2["ppo"]["steps"] == 239 and m2["chain"]["actions"] > 0
    capsys.readouterr()
    for args, needle in [
        (["train", "ppo", "--day", "2021-02-01", "--genas", str(genas), "--ppo-config", '{"reward": "pnl"}',
          "--out", str(tmp_path / "x")], "reward must be one of"),
        (["run", "ppo", "--day", "2021-02-01", "--out", str(tmp_path / "y")], "ppo needs --model"),
        (["run", "ppo", "--model", str(tmp_path), "--day", "2021-02-01", "--out", str(tmp_path / "z")],
         "not a PPO model folder"),
    ]:
        assert main([*args, *common]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, err
    cfg.write_text(cfg.read_text().replace(f'model = "{tmp_path / "m"}"', f'model = "{tmp_path}"'))
    assert main(["runs", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no model.zip" in err, err


def test_replicate_trains_ppo_per_seed_and_plays_the_test_sessions(tmp_path):
    """A protocol with "ppo": one agent per seed trained on the training session on that seed's Gen-AS parameters
    with [ppo], then its greedy actions on each test session; a rerun retrains nothing, a changed [ppo] retrains."""
    from alpha_as.experiments import replicate as rep
    from alpha_as.experiments.protocol import load_protocol
    from alpha_as.experiments.replicate_ppo import ppo_dir

    store = tmp_path / "store"
    assert main(["data", "synth", "--out", str(store), "--start", "2020-12-08", "--end", "2020-12-09", "--hours",
                 "0.1", "--workers", "1"]) == 0
    cfg = tmp_path / "ppo.toml"
    cfg.write_text(f'[protocol]\ndata = "{store}"\ninstrument = "btcusdt_synth"\nout = "{tmp_path / "out"}"\n'
                   'window = "07:00-07:06"\nfi = "2020-12-08"\ntrain = "2020-12-08"\ntest = ["2020-12-09"]\n'
                   'models = ["gen-as", "ppo"]\nworkers = 1\nseeds = [0, 1]\n'
                   '[genas]\ngenerations = 1\npopulation = 2\n'
                   '[ppo]\ntotal_timesteps = 128\nn_steps = 64\ncheckpoint_every = 0\naction = "depth"\n')
    p = load_protocol(cfg)
    assert p.identity()["ppo"]["total_timesteps"] == 128 and "seed" not in p.identity()["ppo"]
    lines: list[str] = []
    rep.replicate(p, progress=False, echo=lines.append)
    assert any("training ppo on 2020-12-08" in line for line in lines), lines
    best = json.loads((p.out / "genas" / "seed=1" / "best.json").read_text())["params"]
    for seed in (0, 1):
        model = json.loads((ppo_dir(p, seed) / "config.json").read_text())
        assert model["config"]["seed"] == seed and model["days"] == ["2020-12-08"]
        run = p.out / "runs" / "ppo" / "2020-12-09" / f"seed={seed}"
        man = json.loads((run / "manifest.json").read_text())
        assert set(man["config"]["ppo_model_sha256"]) == {"model.zip", "vecnormalize.pkl"}
        m = json.loads((run / "metrics.json").read_text())
        assert m["ppo"]["action"] == "depth" and m["ppo"]["steps"] > 50
    assert model["base_params"]["quantity"] == best["quantity"] and model["base_params"]["last_hour"] == 7.1
    assert "PPO" in (p.out / "report.md").read_text()
    stamp = (ppo_dir(p, 0) / "model.zip").stat().st_mtime_ns
    again = rep.replicate(p, progress=False, echo=lambda _line: None)
    assert again.status["agents"] == "skipped" and (ppo_dir(p, 0) / "model.zip").stat().st_mtime_ns == stamp
    (ppo_dir(p, 1) / "model.zip").write_bytes(b"damaged")
    lines.clear()
    rep.replicate(p, progress=False, echo=lines.append)
    assert any("ppo seed 1: retraining: model.zip changed" in line for line in lines), lines
    assert (ppo_dir(p, 0) / "model.zip").stat().st_mtime_ns == stamp  # seed 0 was not touched
    for text, message in [("n_steps = 0", r"\[ppo\].*n_steps must be >= 1"), ("seed = 3", r"\[ppo\]: key\(s\) seed"),
                          ("nsteps = 1", r"\[ppo\].*nsteps")]:
        bad = tmp_path / "bad.toml"
        bad.write_text(cfg.read_text().replace("n_steps = 64", text))
        with pytest.raises(InputError, match=message):
            load_protocol(bad)
