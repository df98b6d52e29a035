"""The online-learned risk aversion (issue #14 §1, spec §3): the score function, the learner on a known-answer toy,
seeding, resuming, and the ``risk_aversion = "policy_gradient"`` run."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from alpha_as.agents import policy_gradient as PG
from alpha_as.cli import main
from alpha_as.data import store as st
from alpha_as.errors import InputError
from alpha_as.strategies.avellaneda_stoikov import ASParams

INSTR = "btcusdt_synth"


# ------------------------------------------------------------------------------------------ the gradient

@pytest.mark.parametrize(("u", "mu", "rho"), [(0.3, -0.2, -1.0), (-2.0, -2.5, 0.2), (1.0, 1.0, -3.0)])
def test_score_matches_finite_differences_of_the_log_density(u, mu, rho):
    g_mu, g_rho = PG.log_normal_score(u, mu, rho)
    h = 1e-6
    fd_mu = (PG.log_normal_density(u, mu + h, rho) - PG.log_normal_density(u, mu - h, rho)) / (2 * h)
    fd_rho = (PG.log_normal_density(u, mu, rho + h) - PG.log_normal_density(u, mu, rho - h)) / (2 * h)
    assert g_mu == pytest.approx(fd_mu, rel=1e-6, abs=1e-6)
    assert g_rho == pytest.approx(fd_rho, rel=1e-6, abs=1e-6)


# ---------------------------------------------------------------------------------- a known-answer toy

U_STAR = math.log(0.1)  # the best log γ when the context feature is 0
SLOPE = 0.8             # ... and it moves by this per unit of the standardised inventory feature


def toy_reward(log_gamma: float, regime: float, rng: np.random.Generator) -> float:
    """A stationary toy whose best γ is known: the reward is −(log γ − (U_STAR + SLOPE·regime))² plus noise."""
    return -(log_gamma - (U_STAR + SLOPE * regime)) ** 2 + 0.05 * float(rng.standard_normal())


def run_toy(gamma0: float, epochs: int, seed: int, *, contextual: bool, cfg: PG.PolicyGradientConfig | None = None):
    """The learner on the toy: the inventory feature is ±5 lots (regime ±1) when ``contextual``, else 0. Returns
    the learner, the mean reward over the last quarter of the epochs and the policy's mean log γ at the end."""
    cfg = cfg or PG.PolicyGradientConfig(lr_mean=0.05, max_log_gamma_change=2.0, gamma_min=1e-3, gamma_max=10.0,
                                         initial_log_std=-1.0, trace_decay=0.0)
    learner = PG.PolicyGradientGamma(cfg, gamma0, seed=seed)
    env = np.random.default_rng(seed + 1000)
    rewards = []
    for k in range(epochs):
        regime = (1.0 if env.random() < 0.5 else -1.0) if contextual else 0.0
        x = learner.features(5.0 * regime, 100.0, 1.0, 0.0, k / epochs)
        gamma, _, _, _ = learner.act(x)
        r = toy_reward(math.log(gamma), regime, env)
        learner.learn(r)
        rewards.append(r)
    return learner, float(np.mean(rewards[-epochs // 4:])), float(learner.state.theta @ x)


@pytest.mark.parametrize("gamma0", [0.01, 1.0])
def test_the_learned_mean_converges_toward_the_known_best_gamma_from_both_sides(gamma0):
    """Started 2.3 log-units below or above the best γ (0.1), the policy's mean log γ ends within 0.4 of log 0.1
    (measured: 0.26 from below, 0.11 from above)."""
    learner, _, mu = run_toy(gamma0, 3000, seed=3, contextual=False)
    err0 = abs(math.log(gamma0) - U_STAR)
    assert abs(mu - U_STAR) < 0.4 < err0, (gamma0, mu)
    assert learner.state.updates > 2900


def test_it_beats_a_random_policy_and_the_best_constant_when_the_best_gamma_depends_on_the_context():
    """Regimes ±1 (the standardised inventory): the best constant γ is 0.1 (loss SLOPE² = 0.64 a step); a
    random log γ in [log 0.01, log 1] loses ≈ 0.64 + 1.77; the learner, which can read the regime, loses less."""
    learner, tail, _ = run_toy(0.3, 4000, seed=5, contextual=True)
    best_constant = -SLOPE ** 2
    rng = np.random.default_rng(9)
    random_policy = np.mean([toy_reward(rng.uniform(math.log(0.01), math.log(1.0)), rng.choice([-1.0, 1.0]), rng)
                             for _ in range(4000)])
    assert tail > best_constant + 0.2 > random_policy, (tail, best_constant, random_policy)
    assert learner.state.theta[1] > 0.4  # it learned that γ rises with the regime feature


def test_learning_off_acts_without_changing_the_policy():
    cfg = PG.PolicyGradientConfig(learn=False)
    learner, _, _ = run_toy(0.5, 200, seed=1, contextual=False, cfg=cfg)
    assert learner.state.updates == 0 and learner.state.theta[0] == pytest.approx(math.log(0.5))
    assert learner.state.rho == cfg.initial_log_std and not learner.state.e_theta.any()


def test_the_applied_gamma_is_capped_per_epoch_and_clipped():
    cfg = PG.PolicyGradientConfig(max_log_gamma_change=0.1, gamma_min=0.05, gamma_max=0.5, initial_log_std=0.0)
    learner = PG.PolicyGradientGamma(cfg, 0.2, seed=2)
    x = learner.features(0.0, 100.0, 1.0, 0.0, 0.0)
    logs = [math.log(learner.act(x)[0]) for _ in range(300)]
    assert np.abs(np.diff(logs)).max() <= 0.1 + 1e-12
    assert min(logs) >= math.log(0.05) - 1e-12 and max(logs) <= math.log(0.5) + 1e-12


# ------------------------------------------------------------------------------------- config and state

def test_config_validation_and_the_params_split():
    with pytest.raises(InputError, match="gamma_min < gamma_max"):
        PG.PolicyGradientConfig(gamma_min=1.0, gamma_max=0.5)
    with pytest.raises(InputError, match="reward must be one of"):
        PG.PolicyGradientConfig(reward="pnl")
    raw, cfg = PG.split_policy_gradient({"risk_aversion": "policy_gradient", "window_tick": 20,
                                         "policy_gradient": {"lr_mean": 0.1}}, "--params")
    assert raw == {"window_tick": 20} and cfg.lr_mean == 0.1
    assert PG.split_policy_gradient({"risk_aversion": 0.3}, "x") == ({"risk_aversion": 0.3}, None)
    with pytest.raises(InputError, match="needs risk_aversion"):
        PG.split_policy_gradient({"risk_aversion": 0.3, "policy_gradient": {}}, "x")
    with pytest.raises(InputError, match=r"\[policy_gradient\]: unknown key"):
        PG.split_policy_gradient({"risk_factor": "policy_gradient", "policy_gradient": {"lr": 1}}, "x")


def test_state_round_trips_through_json_and_bad_state_is_one_line(tmp_path):
    learner, _, _ = run_toy(0.3, 100, seed=4, contextual=True)
    path = PG.save_state(learner, tmp_path)
    back = PG.load_state(tmp_path)
    assert json.dumps(back.to_dict(), sort_keys=True) == json.dumps(learner.state.to_dict(), sort_keys=True)
    doc = json.loads(path.read_text())
    del doc["state"]["theta"]
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="not a policy-gradient learner state"):
        PG.load_state(path)


# ------------------------------------------------------------------------------------------ on the engine

@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("pg") / "store"
    assert main(["data", "synth", "--out", str(root), "--start", "2020-12-09", "--end", "2020-12-10",
                 "--workers", "1"]) == 0
    return root


@pytest.fixture(scope="module")
def days(store):
    return [st.load_window_day(store, INSTR, dt.date(2020, 12, d), "07:00-08:00") for d in (9, 10)]


def test_a_day_is_seeded_and_continuing_from_a_saved_state_is_identical(days, tmp_path):
    params, cfg = ASParams(risk_aversion=0.3), PG.PolicyGradientConfig()
    a = PG.run_day(days[0], params, cfg, seed=0)
    assert len(a.t) == 719 and np.all(np.diff(a.t) == 5_000_000_000)  # 07:00:05 ... 07:59:55
    assert a.learner.state.updates > 600 and np.ptp(np.log(a.gamma)) > 0.1
    again = PG.run_day(days[0], params, cfg, seed=0)
    np.testing.assert_array_equal(a.gamma, again.gamma)
    assert a.result.metrics == again.result.metrics
    assert not np.array_equal(a.gamma, PG.run_day(days[0], params, cfg, seed=1).gamma)
    # day 2 from the state in memory, and from the state saved to disk: identical
    in_memory = PG.run_day(days[1], params, cfg, state=a.learner.state)
    PG.save_state(again.learner, tmp_path)
    from_disk = PG.run_day(days[1], params, cfg, state=PG.load_state(tmp_path))
    np.testing.assert_array_equal(in_memory.gamma, from_disk.gamma)
    np.testing.assert_array_equal(in_memory.learner.state.theta, from_disk.learner.state.theta)
    assert in_memory.result.metrics == from_disk.result.metrics


def test_the_reward_is_the_change_of_total_pnl_minus_the_inventory_penalty(days):
    """Epoch k's reward = total P&L at t_{k+1} − at t_k (the grid rows at the decision times) − φ·q²·5 s, with q the
    position in lots at t_{k+1}."""
    params = ASParams(risk_aversion=0.3)
    phi = 1e-3
    free = PG.run_day(days[0], params, PG.PolicyGradientConfig(inventory_penalty=0.0, learn=False), seed=0)
    pen = PG.run_day(days[0], params, PG.PolicyGradientConfig(inventory_penalty=phi, learn=False), seed=0)
    np.testing.assert_array_equal(pen.gamma, free.gamma)  # not learning: the same draws, the same trading
    grid, ts = free.result.grid, free.result.grid_ts
    row = np.searchsorted(ts, free.t)
    inside = free.t[1:] <= ts[-1]
    assert inside.sum() > 700 and np.array_equal(ts[row], free.t)
    total, lots = grid["total_pnl"][row], grid["position"][row] / params.quantity
    np.testing.assert_allclose(free.reward[:-1][inside], np.diff(total)[inside], rtol=0, atol=1e-12)
    np.testing.assert_allclose((free.reward - pen.reward)[:-1][inside], (phi * lots[1:] ** 2 * 5.0)[inside],
                               rtol=1e-9, atol=1e-15)
    assert np.abs(lots).max() > 0  # the penalty was tested on a day that holds inventory


def test_cli_runs_as_with_policy_gradient_and_continues_the_learner(store, tmp_path, capsys):
    common = ["--data", str(store), "--instrument", INSTR, "--window", "07:00-08:00"]
    params = json.dumps({"risk_aversion": "policy_gradient", "policy_gradient": {"initial_gamma": 0.2}})
    assert main(["run", "as", "--day", "2020-12-09", "--params", params, "--out", str(tmp_path / "d1"), *common]) == 0
    grid = pq.read_table(tmp_path / "d1" / "grid.parquet").to_pydict()
    assert set(PG.GRID_COLUMNS) <= set(grid) and math.isnan(grid["risk_aversion"][0])
    assert all(0.01 <= g <= 2.0 for g in grid["risk_aversion"][1:])
    m = json.loads((tmp_path / "d1" / "metrics.json").read_text())
    d = m["policy_gradient"]
    assert d["epochs"] == 719 and d["config"]["initial_gamma"] == 0.2 and d["updates"] > 600
    assert d["gamma_p10"] <= d["gamma_median"] <= d["gamma_p90"] and len(d["theta"]) == 6
    assert d["entropy_first"] == pytest.approx(0.5 * math.log(2 * math.pi * math.e) - 1.5)  # ρ₀ = −1.5
    assert -1 <= d["corr_deviation_reward"] <= 1 and set(d["feature_means"]) == set(PG.FEATURES[1:5])
    assert (tmp_path / "d1" / "policy_gradient.json").is_file()
    assert main(["run", "as", "--day", "2020-12-10", "--params", params, "--policy-state", str(tmp_path / "d1"),
                 "--out", str(tmp_path / "d2"), *common]) == 0
    s1 = PG.load_state(tmp_path / "d1")
    s2 = PG.load_state(tmp_path / "d2")
    assert s2.epochs == s1.epochs + 719
    capsys.readouterr()
    for args, needle in [
        (["run", "foic", "--params", params], "applies to AS and Hummingbot's AS"),
        (["run", "as", "--policy-state", str(tmp_path / "d1")], "--policy-state needs --params"),
        (["run", "as", "--params", json.dumps({"risk_aversion": "policy_gradient",
                                               "policy_gradient": {"gamma_max": -1}})], "gamma_max must be > 0"),
    ]:
        rc = main([*args, "--day", "2020-12-09", "--out", str(tmp_path / "bad"), *common])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and needle in err, err


def test_the_learner_module_does_not_import_torch():
    import subprocess

    code = "import sys, alpha_as.agents.policy_gradient; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_runs_accepts_a_policy_gradient_model_and_its_results_are_seeded(store, tmp_path, capsys):
    cfg = tmp_path / "pg.toml"
    best = tmp_path / "best.json"
    best.write_text(json.dumps({"params": ASParams(risk_aversion=0.25, window_tick=20).to_dict()}))
    cfg.write_text(f"""
[experiment]
name = "pg"
data = "{store}"
instrument = "{INSTR}"
out = "{tmp_path / 'out'}"
days = ["2020-12-09"]
window = "07:00-08:00"
seeds = [0, 1]
workers = 1

[models.as]
kind = "as"

[models.gen-as-pg]
kind = "gen-as"
params_file = "{best}"
params = {{ risk_aversion = "policy_gradient" }}

[models.gen-as-pg.policy_gradient]
lr_mean = 0.05
""")
    assert main(["runs", "--config", str(cfg)]) == 0
    out = tmp_path / "out"
    manifests = {s: json.loads((out / "gen-as-pg" / "2020-12-09" / f"seed={s}" / "manifest.json").read_text())
                 for s in (0, 1)}
    assert manifests[0]["config"]["policy_gradient"]["lr_mean"] == 0.05
    assert "policy_gradient" not in json.loads((out / "as" / "2020-12-09" / "seed=0" / "manifest.json").read_text())[
        "config"]
    assert manifests[0]["config"]["params"]["risk_aversion"] == 0.25  # the GA's γ is the warm start
    grids = {s: pq.read_table(out / "gen-as-pg" / "2020-12-09" / f"seed={s}" / "grid.parquet").to_pydict()
             for s in (0, 1)}
    assert grids[0]["risk_aversion"][1:] != grids[1]["risk_aversion"][1:]
    day = st.load_window_day(store, INSTR, dt.date(2020, 12, 9), "07:00-08:00")
    from alpha_as.engine.config import EngineConfig

    c = manifests[1]["config"]  # the job rerun by hand from its manifest: the same γ path
    again = PG.run_day(day, ASParams(**c["params"]), PG.PolicyGradientConfig(**c["policy_gradient"]), seed=1,
                       engine=EngineConfig(**c["engine"]))
    np.testing.assert_array_equal(np.array(grids[1]["risk_aversion"][1:]), again.gamma[:len(grids[1]["risk_aversion"]) - 1])
    assert main(["report", str(out)]) == 0  # the report plots the γ path of the learning model only
    assert (out / "plots" / "gamma_gen-as-pg.png").stat().st_size > 1000 and not (out / "plots" / "gamma_as.png").exists()
    assert "plots/gamma_gen-as-pg.png" in (out / "report.md").read_text()
    capsys.readouterr()
    cfg.write_text(cfg.read_text().replace('kind = "as"\n', 'kind = "foic"\npolicy_gradient = { lr_mean = 0.1 }\n'))
    assert main(["runs", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[models.as]" in err and "needs risk_aversion" in err, err


def test_hummingbots_risk_factor_can_be_learned_too(days):
    from alpha_as.engine.backtest import Backtest
    from alpha_as.strategies.hummingbot_as import HummingbotASParams

    params = HummingbotASParams(risk_factor=0.5)
    run = PG.run_day(days[0], params, PG.PolicyGradientConfig(), seed=0)
    assert run.learner.state.updates > 600 and np.ptp(np.log(run.gamma)) > 0.1
    assert run.result.info["params"]["risk_factor"] == run.gamma[-1]  # the last epoch's γ is the one in force
    fixed = Backtest(days[0], params).run()
    assert run.result.metrics != fixed.metrics  # γ moved, and with it the quotes


def test_replicate_runs_gen_as_with_gamma_learned_online(tmp_path):
    """A protocol with "gen-as-pg": Gen-AS's GA parameters per seed as the warm start, [policy_gradient] in the
    job and in the protocol's identity; the report plots its γ path."""
    from alpha_as.experiments import replicate as rep
    from alpha_as.experiments.protocol import load_protocol

    store = tmp_path / "store"
    assert main(["data", "synth", "--out", str(store), "--start", "2020-12-08", "--end", "2020-12-09", "--hours",
                 "0.1", "--workers", "1"]) == 0
    cfg = tmp_path / "pg.toml"
    cfg.write_text(f'[protocol]\ndata = "{store}"\ninstrument = "{INSTR}"\nout = "{tmp_path / "out"}"\n'
                   'window = "07:00-07:06"\nfi = "2020-12-08"\ntrain = "2020-12-08"\ntest = ["2020-12-09"]\n'
                   'models = ["gen-as", "gen-as-pg"]\nworkers = 1\n'
                   "[genas]\ngenerations = 1\npopulation = 2\n[policy_gradient]\nlr_mean = 0.04\n")
    p = load_protocol(cfg)
    assert p.identity()["policy_gradient"]["lr_mean"] == 0.04
    rep.replicate(p, progress=False, echo=lambda _line: None)
    out = p.out
    best = json.loads((out / "genas" / "seed=0" / "best.json").read_text())["params"]
    run = out / "runs" / "gen-as-pg" / "2020-12-09" / "seed=0"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["policy_gradient"]["lr_mean"] == 0.04
    assert manifest["config"]["params"]["risk_aversion"] == best["risk_aversion"]  # the GA's γ: the warm start
    assert (run / "policy_gradient.json").is_file()
    grid = pq.read_table(run / "grid.parquet").to_pydict()
    assert len(set(grid["risk_aversion"][1:])) > 10
    assert (out / "plots" / "gamma_gen-as-pg.png").is_file()
    assert "Gen-AS (γ learned online)" in (out / "report.md").read_text()
    cfg.write_text(cfg.read_text().replace('"gen-as", "gen-as-pg"', '"gen-as-pg"'))
    with pytest.raises(InputError, match="gen-as-pg builds on Gen-AS"):
        load_protocol(cfg)
    cfg.write_text(cfg.read_text().replace('"gen-as-pg"]', '"gen-as", "gen-as-pg"]').replace("lr_mean = 0.04",
                                                                                           "lr_mean = -1"))
    with pytest.raises(InputError, match=r"\[policy_gradient\].*lr_mean must be > 0"):
        load_protocol(cfg)


def test_learning_is_frozen_while_the_risk_module_is_not_active(days):
    """REDUCING all day: every epoch acts on the policy's mean and nothing is learned. A kill switch mid-day: the
    learner learns until the kill and nothing after it (HALTED), and the day's diagnostics count the frozen epochs."""
    from alpha_as.engine.config import EngineConfig
    from alpha_as.engine.risk import RiskConfig

    params, cfg = ASParams(risk_aversion=0.3), PG.PolicyGradientConfig()
    free = PG.run_day(days[0], params, cfg, seed=0)
    assert free.frozen == 0 and "frozen_epochs" not in PG.diagnostics(free)
    # a risk module whose checks are all off changes nothing: the same draws, updates and γ path
    off = PG.run_day(days[0], params, cfg, seed=0, engine=EngineConfig(risk=RiskConfig()))
    np.testing.assert_array_equal(off.gamma, free.gamma)
    assert off.learner.state.updates == free.learner.state.updates
    reducing = PG.run_day(days[0], params, cfg, seed=0, engine=EngineConfig(risk=RiskConfig(trading_state="reducing")))
    s = reducing.learner.state
    assert reducing.frozen == len(reducing.t) == 719 and s.updates == 0
    np.testing.assert_array_equal(reducing.u, reducing.mu)  # no exploration
    np.testing.assert_array_equal(s.theta, PG.PolicyGradientGamma(cfg, 0.3, 0).state.theta)
    assert PG.diagnostics(reducing)["frozen_epochs"] == 719
    lows = np.minimum.accumulate(free.result.grid["total_pnl"])
    kill_loss = float(-lows[len(lows) // 3])  # a loss the free run reaches about a third into the day
    assert kill_loss > 0
    killed = PG.run_day(days[0], params, cfg, seed=0, engine=EngineConfig(risk=RiskConfig(kill_loss=kill_loss)))
    k = killed.learner.state
    assert 0 < killed.frozen < len(killed.t) and 0 < k.updates < free.learner.state.updates
    after = killed.t >= killed.t[len(killed.t) - killed.frozen]
    assert np.all(killed.u[after] == killed.mu[after]) and np.all(np.isnan(killed.reward_norm[after]))
    kill = killed.result.info["risk"]["kill"]
    assert kill["cause"] == "kill_loss" and killed.t[after][0] - 5_000_000_000 <= kill["time_ns"] < killed.t[after][0]
