"""Alpha-AS runtime, protocols and CLI on a short synthetic store (6 min a day, 72 decisions)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from alpha_as.agents.actions import action_to_params
from alpha_as.agents.alpha_as import AlphaAS, AlphaASConfig, authors_schedule, load_market_day, run_day
from alpha_as.agents.dqn import DQNAgent
from alpha_as.cli import main
from alpha_as.errors import InputError
from alpha_as.strategies.avellaneda_stoikov import ASParams

INSTR = "btcusdt_synth"
DAY = "2020-12-08"
GENAS = ASParams(position_multiplier=1000.0, spread_multiplier=2.0)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("aas")
    store = root / "store"
    assert main(["data", "synth", "--out", str(store), "--start", "2020-12-08", "--end", "2020-12-10",
                 "--hours", "0.1", "--workers", "1"]) == 0
    ga = root / "ga"
    ga.mkdir()
    (ga / "best.json").write_text(json.dumps({"params": GENAS.to_dict()}))
    return {"root": root, "store": store, "ga": ga}


def small_config(**kw) -> AlphaASConfig:
    return AlphaASConfig(**{"iterations": 2, "runs": 2, "epochs": 3, "seed": 7, **kw})


def train(env, folder, stop_after=None, **kw) -> AlphaAS:
    m = AlphaAS(folder, small_config(**kw), GENAS)
    m.train(env["store"], INSTR, DAY, stop_after=stop_after)
    return m


def same_model(a: AlphaAS, b: AlphaAS) -> None:
    for k, v in a.agent.online.state_dict().items():
        assert torch.equal(v, b.agent.online.state_dict()[k]), k
    for k, v in a.agent.target.state_dict().items():
        assert torch.equal(v, b.agent.target.state_dict()[k]), k
    ma, mb = a.agent.memory.to_arrays(), b.agent.memory.to_arrays()
    for k in ma:
        np.testing.assert_array_equal(ma[k], mb[k], err_msg=k)
    np.testing.assert_array_equal(a.normalizer.mean, b.normalizer.mean)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert a.agent.rng.bit_generator.state == b.agent.rng.bit_generator.state


@pytest.fixture(scope="module")
def trained(env):
    return train(env, env["root"] / "m_ref")


def test_training_is_seeded_and_independent_of_workers(env, trained):
    assert trained.iterations_done == 2 and len(trained.agent.memory) > 100
    assert trained.agent.fitted and trained.agent.target_fitted
    same_model(trained, train(env, env["root"] / "m_again"))
    same_model(trained, train(env, env["root"] / "m_w2", workers=2))
    other = train(env, env["root"] / "m_seed", seed=8)
    assert not np.array_equal(other.agent.memory.actions, trained.agent.memory.actions)


def test_resume_after_a_kill_is_identical(env, trained):
    folder = env["root"] / "m_resume"
    first = train(env, folder, stop_after=1)
    assert first.iterations_done == 1
    del first  # "killed": continue from the checkpoint in a fresh object
    resumed = AlphaAS.load(folder)
    assert resumed.iterations_done == 1
    resumed.train(env["store"], INSTR, DAY)
    same_model(trained, resumed)
    same_model(trained, AlphaAS.load(folder))
    assert len(list(folder.glob("agent-*.pt"))) == 1


def test_stored_reward_is_the_asymmetric_dampened_pnl_change(env):
    day = load_market_day(env["store"], INSTR, DAY, "07:00-19:00")
    agent = DQNAgent(small_config().dqn_config())
    run, _ = run_day(agent, day, GENAS, small_config().features, None, 1.0, learn=True)
    n = len(run.actions)
    assert len(agent.memory) == n > 50
    np.testing.assert_array_equal(agent.memory.rewards[:n], run.rewards)
    g = run.result.grid
    measure = dict(zip(run.result.grid_ts.tolist(),
                       (g["realized_pnl"] + np.minimum(g["unrealized_pnl"], 0.0)).tolist(), strict=True))
    ts = list(run.t) + [run.t[-1] + 5_000_000_000]
    k = [i for i in range(n) if ts[i] in measure and ts[i + 1] in measure]
    assert len(k) > n - 3 and np.any(run.rewards != 0)
    expect = np.array([measure[ts[i + 1]] - measure[ts[i]] for i in k])
    np.testing.assert_allclose(run.rewards[k], expect, atol=1e-12)


def test_actions_change_gamma_and_skew(env):
    day = load_market_day(env["store"], INSTR, DAY, "07:00-19:00")
    quotes = {}
    for a in (0, 19):
        agent = DQNAgent(small_config().dqn_config())
        agent.act = lambda s, eps, a=a: a
        run, _ = run_day(agent, day, GENAS, small_config().features, None, 1.0, learn=False)
        assert np.all(run.actions == a)
        quotes[a] = run.result.grid["bid_quote"]
        assert run.result.info["params"]["risk_aversion"] == action_to_params(a)["risk_aversion"]
        assert run.result.info["params"]["skew"] == action_to_params(a)["skew"]
        assert run.result.info["params"]["window_tick"] == 25  # the authors' override, not the GA's
    assert not np.allclose(np.nan_to_num(quotes[0]), np.nan_to_num(quotes[19]))


def test_run_agent_end_to_end_learns_and_writes_actions(env, tmp_path, capsys):
    model = tmp_path / "m"
    assert main(["train", "alpha-as-1", "--data", str(env["store"]), "--instrument", INSTR, "--day", DAY,
                 "--genas", str(env["ga"]), "--out", str(model), "--iterations", "1", "--runs", "2",
                 "--epochs", "3"]) == 0
    rows0 = len(AlphaAS.load(model).agent.memory)
    out = tmp_path / "r"
    base = ["run-agent", "alpha-as-1", "--model", str(model), "--data", str(env["store"]), "--instrument", INSTR,
            "--day", "2020-12-09"]
    assert main([*base, "--out", str(out), "--no-learn"]) == 0
    assert len(AlphaAS.load(model).agent.memory) == rows0 and AlphaAS.load(model).test_days == []
    assert main([*base, "--out", str(out)]) == 0
    m = AlphaAS.load(model)
    assert len(m.agent.memory) > rows0 and m.test_days == ["2020-12-09"]
    for f in ("fills.parquet", "grid.parquet", "metrics.json"):
        assert (out / f).is_file()
    grid = pq.read_table(out / "grid.parquet").to_pandas()
    assert {"action", "risk_aversion", "skew", "bid_quote", "total_pnl"} <= set(grid.columns)
    acted = grid[grid.action >= 0]
    assert len(acted) > 50 and acted.action.nunique() > 1
    for a, g, s in acted[["action", "risk_aversion", "skew"]].itertuples(index=False):
        assert action_to_params(a) == {"risk_aversion": g, "skew": s}
    assert json.loads((out / "metrics.json").read_text())["learn"] is True
    # the form of the same command: alpha-as run alpha-as-1 --model DIR ...
    out2 = tmp_path / "r2"
    assert main(["run", "alpha-as-1", "--model", str(model), "--data", str(env["store"]), "--instrument", INSTR,
                 "--day", "2020-12-09", "--out", str(out2), "--no-learn"]) == 0
    assert "action" in pq.read_table(out2 / "grid.parquet").column_names
    # an agent replays its model's window: another --window is refused, not silently ignored (issue #12)
    capsys.readouterr()
    assert main(["run", "alpha-as-1", "--model", str(model), "--data", str(env["store"]), "--instrument", INSTR,
                 "--day", "2020-12-09", "--out", str(tmp_path / "r3"), "--no-learn", "--window", "10:00-11:00"]) == 2
    err = capsys.readouterr().err
    assert "--window 10:00-11:00: alpha-as-1 replays the window its model was trained in" in err


@pytest.mark.parametrize("argv", [
    ["train", "alpha-as-3", "--data", "S", "--instrument", INSTR, "--day", DAY, "--genas", "G", "--out", "O"],
    ["train", "alpha-as-1", "--data", "S", "--instrument", INSTR, "--day", DAY, "--genas", "nowhere", "--out", "O"],
    ["train", "alpha-as-1", "--data", "S", "--instrument", "nope", "--day", DAY, "--genas", "G", "--out", "O"],
    ["train", "alpha-as-1", "--data", "S", "--instrument", INSTR, "--day", "2020-13-01", "--genas", "G", "--out", "O"],
    ["train", "alpha-as-1", "--data", "S", "--instrument", INSTR, "--day", DAY, "--genas", "G", "--out", "O",
     "--workers", "0"],
    ["run-agent", "alpha-as-1", "--model", "nowhere", "--data", "S", "--instrument", INSTR, "--day", DAY,
     "--out", "O"],
    ["run", "alpha-as-1", "--data", "S", "--instrument", INSTR, "--day", DAY, "--out", "O"],
    ["run", "as", "--model", "G", "--data", "S", "--instrument", INSTR, "--day", DAY, "--out", "O"],
    ["train", "alpha-as-1", "--data", "S", "--instrument", INSTR, "--day", DAY, "--genas", "G", "--out", "O",
     "--features", "F"],
])
def test_bad_cli_input_exits_2(env, tmp_path, argv, capsys):
    bad_features = tmp_path / "f.json"
    bad_features.write_text('{"features": ["bid_price_0", "no_such_feature_3"]}')
    sub = {"S": str(env["store"]), "G": str(env["ga"]), "O": str(tmp_path / "o"), "F": str(bad_features)}
    argv = [sub.get(a, a) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_config_accepts_both_timings_and_refuses_bad_values():
    assert AlphaASConfig(timing="authors").timing == "authors"
    with pytest.raises(InputError, match="timing"):
        AlphaASConfig(timing="sometimes")
    with pytest.raises(InputError):
        AlphaASConfig(agent="alpha-as-9")
    assert AlphaASConfig(agent="alpha-as-2").dqn_config().variant == "lstm"
    assert AlphaASConfig(q_target="authors").dqn_config().q_target == "authors"
    with pytest.raises(InputError):
        AlphaASConfig(q_target="triple")
    assert AlphaASConfig.from_dict(AlphaASConfig().to_dict()) == AlphaASConfig()


def test_authors_schedule_waits_6_s_then_acts_at_the_next_snapshot():
    s = 1_000_000_000
    depth_ts = np.array([0, 1, 2, 5, 6, 7, 8, 13, 14, 20, 21], dtype=np.int64) * s
    acts, rews = authors_schedule(depth_ts, 0)
    # act 0 -> reward at the first snapshot >= 6 s (6) -> act at the next (7) -> reward >= 13 (13) -> act 14 -> 20
    assert list(acts // s) == [0, 7, 14] and list(rews // s) == [6, 13, 20]


def test_authors_timing_rewards_span_action_to_reward_snapshot(env):
    day = load_market_day(env["store"], INSTR, DAY, "07:00-19:00")
    cfg = small_config()
    agent = DQNAgent(cfg.dqn_config())
    run, _ = run_day(agent, day, GENAS, cfg.features, None, 1.0, learn=True, timing="authors")
    acts, rews = authors_schedule(day.depth_ts, int(run.t[0]))
    assert np.array_equal(run.t, acts) and len(run.actions) == len(acts) > 10
    gaps = np.diff(acts) / 1e9
    assert gaps.min() >= 6.0 and np.median(gaps) >= 6.5  # the authors' ~7-s cycle
    assert len(agent.memory) == len(acts)
