"""DQN core: actions, targets by hand, memory, fitting, ε-greedy, checkpoints and determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alpha_as.agents.actions import INITIAL_PARAMS, N_ACTIONS, action_to_params, params_to_action
from alpha_as.agents.dqn import (
    DQNAgent,
    DQNConfig,
    QNetwork,
    ReplayMemory,
    StateWindow,
    authors_update,
    double_dqn_targets,
    merge_memories,
)
from alpha_as.errors import InputError

SMALL = {"n_inputs": 4, "epochs": 10, "batch_size": 50, "min_rows": 100}


def toy_transitions(n, dim, seed=0):
    rng = np.random.default_rng(seed)
    s = np.round(rng.normal(size=(n, dim)), 3)
    a = rng.integers(N_ACTIONS, size=n)
    r = 0.1 * np.tanh(s[:, 0]) * (a % 2 * 2 - 1)
    s2 = np.round(rng.normal(size=(n, dim)), 3)
    return s, a, r, s2


def fill(agent, n, seed=0):
    for s, a, r, s2 in zip(*toy_transitions(n, agent.cfg.state_dim, seed), strict=True):
        agent.remember(s, int(a), float(r), s2)


def test_actions_grid():
    gammas, skews = (0.01, 0.1, 0.2, 0.9), (-0.1, -0.05, 0.0, 0.05, 0.1)
    assert N_ACTIONS == 20
    for i in range(20):
        p = action_to_params(i)
        assert p == {"risk_aversion": gammas[i // 5], "skew": skews[i % 5]}
        assert params_to_action(p["risk_aversion"], p["skew"]) == i
    assert action_to_params(0) == {"risk_aversion": 0.01, "skew": -0.1}
    assert action_to_params(19) == {"risk_aversion": 0.9, "skew": 0.1}
    assert params_to_action(0.2, 0.0) == 12
    assert INITIAL_PARAMS == {"risk_aversion": 0.9, "window_tick": 25}
    with pytest.raises(ValueError):
        action_to_params(20)
    with pytest.raises(ValueError):
        params_to_action(0.5, 0.0)


def test_config_validation_and_presets():
    assert DQNConfig().hidden == 104
    nb = DQNConfig.preset("notebook")
    assert (nb.alpha, nb.discount, nb.batch_size, nb.epochs) == (0.95, 0.95, 5000, 300)
    d = DQNConfig.preset("default")
    assert (d.alpha, d.discount, d.batch_size, d.epochs, d.lr, d.momentum) == (0.85, 0.75, 500, 75, 0.01, 0.5)
    with pytest.raises(InputError, match="unknown"):
        DQNConfig.preset("nope")
    with pytest.raises(InputError, match="q_target"):
        DQNConfig(q_target="max")
    with pytest.raises(InputError, match="bogus"):
        DQNConfig.from_dict({"bogus": 1})


def test_double_dqn_target_by_hand():
    r = np.array([1.0, -0.5])
    q_online_next = np.array([[0.1, 0.9, 0.3], [0.7, 0.2, 0.7]])  # argmax 1, then 0 (first on ties)
    q_target_next = np.array([[5.0, 2.0, 9.0], [4.0, 8.0, 1.0]])
    y = double_dqn_targets(r, q_online_next, q_target_next, 0.5)
    np.testing.assert_allclose(y, [1.0 + 0.5 * 2.0, -0.5 + 0.5 * 4.0])  # not max of target (9, 8)


def test_double_dqn_training_targets_in_agent(monkeypatch):
    agent = DQNAgent(DQNConfig(n_inputs=2, discount=0.5))
    s = np.array([[0.0, 0.0], [1.0, 0.0]])
    s2 = np.array([[0.0, 1.0], [1.0, 1.0]])
    for i in range(2):
        agent.remember(s[i], [3, 7][i], [1.0, 2.0][i], s2[i])
    agent.target_fitted = True
    online = {(0.0, 0.0): 0.1, (1.0, 0.0): 0.2, (0.0, 1.0): 0.3, (1.0, 1.0): 0.4}

    def fake_predict(net, x):
        x = np.asarray(x).reshape(-1, 2)
        out = np.zeros((len(x), N_ACTIONS))
        for i, row in enumerate(x):
            if net is agent.online:
                out[i] = online[tuple(row)]
                out[i, int(row[0]) + 5] = 1.0  # argmax on s': action 5 or 6
            else:
                out[i] = np.arange(N_ACTIONS) * (1 + row[0])
        return out

    monkeypatch.setattr(agent, "_predict", fake_predict)
    x, y, mask = agent.training_targets()
    np.testing.assert_array_equal(x, s)
    assert mask.sum() == 2 and mask[0, 3] and mask[1, 7]
    assert y[0, 3] == pytest.approx(1.0 + 0.5 * 5.0)  # Q_target(s'0, 5) = 5
    assert y[1, 7] == pytest.approx(2.0 + 0.5 * 12.0)  # Q_target(s'1, 6) = 6·2
    assert y[0, 0] == 0.1 and y[1, 7 - 1] == 1.0  # other actions: the online predictions


def test_authors_rule_by_hand():
    q = np.zeros(N_ACTIONS)
    q1 = authors_update(q, 2, 0.3, np.full(N_ACTIONS, 9.0), alpha=0.85, discount=0.75)
    assert q1[2] == 0.3 and np.count_nonzero(q1) == 1  # first visit: Q = r, no bootstrap
    nxt = np.zeros(N_ACTIONS)
    nxt[[4, 5]] = [0.2, np.nan]
    q2 = authors_update(q1, 2, 0.1, nxt, alpha=0.85, discount=0.75)
    assert q2[2] == pytest.approx(0.15 * 0.3 + 0.85 * (0.1 + 0.75 * 0.2))  # max over target, NaN → 0
    # in the agent: one row per state, untried actions stay 0, target = 0 before a fitted copy
    agent = DQNAgent(DQNConfig(n_inputs=2, q_target="authors"))
    s, s2 = np.array([0.5, 0.5]), np.array([1.0, 1.0])
    agent.remember(s, 2, 0.3, s2)
    agent.remember(s, 2, 0.1, s2)
    agent.remember(s, 4, -0.2, s2)
    assert len(agent.memory) == 1
    row = agent.memory.q[0]
    assert row[2] == pytest.approx(0.15 * 0.3 + 0.85 * 0.1) and row[4] == -0.2 and np.count_nonzero(row) == 2


def test_memory_ring_wraparound_and_save(tmp_path):
    m = ReplayMemory(5, 2)
    for i in range(7):
        m.add(np.full(2, i), i, float(i), np.full(2, i + 1))
    assert len(m) == 5 and m.pos == 2
    assert sorted(m.rewards.tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]
    m.save(tmp_path / "m.npz")
    m2 = ReplayMemory.load(tmp_path / "m.npz")
    assert (m2.size, m2.pos) == (5, 2) and np.array_equal(m2.states, m.states)
    # merging rows: a repeated state updates its row; the ring evicts the oldest state and its index entry
    mm = ReplayMemory(2, 1, merge_states=True)
    assert [mm.add([v], 0, 0.0, [0.0]) for v in (1.0, 2.0, 1.0, 3.0)] == [0, 1, 0, 0]
    assert sorted(mm._index) == sorted([np.array([3.0]).tobytes(), np.array([2.0]).tobytes()])


def test_merge_rule():
    a, b = ReplayMemory(10, 1, merge_states=True), ReplayMemory(10, 1, merge_states=True)
    a.add([1.0], 0, 0.0, [5.0]); a.q[0, :3] = [0.5, 0.0, -0.2]  # noqa: E702
    b.add([1.0], 1, 0.0, [7.0]); b.q[0, :3] = [0.1, -0.3, -0.4]  # noqa: E702
    b.add([2.0], 2, 0.0, [1.0]); b.q[1, 2] = 0.9  # noqa: E702
    m = merge_memories([a, b], np.random.default_rng(0))
    assert len(m) == 2 and m.merge_states
    i = int(np.flatnonzero(m.states[:2, 0] == 1.0)[0])
    np.testing.assert_allclose(m.q[i, :3], [0.5, -0.3, -0.2])  # zeros are missing: -0.3 beats an untried 0
    assert m.next_states[i, 0] == 7.0 and m.actions[i] == 1
    # subsampling to the capacity is seeded
    many = ReplayMemory(50, 1, merge_states=True)
    for v in range(50):
        many.add([float(v)], 0, 0.0, [0.0])
    picks = [merge_memories([many], np.random.default_rng(3), capacity=10).states[:10, 0] for _ in range(2)]
    assert len(set(picks[0])) == 10 and np.array_equal(*picks)
    # transitions: exact duplicates dropped
    t = ReplayMemory(10, 1)
    for _ in range(3):
        t.add([1.0], 4, 0.5, [2.0])
    t.add([1.0], 5, 0.5, [2.0])
    assert len(merge_memories([t, t], np.random.default_rng(0))) == 2


def test_fit_reduces_loss_and_skips_small():
    agent = DQNAgent(DQNConfig(**{**SMALL, "q_target": "authors", "output_activation": "linear", "epochs": 40}))
    fill(agent, 50)
    assert agent.fit().skipped and not agent.fitted
    # toy regression: the row's 20 targets are fixed functions of the state
    rng = np.random.default_rng(1)
    for s in np.round(rng.normal(size=(400, 4)), 3):
        row = agent.memory.add(s, 0, 0.0, s)
        agent.memory.q[row] = 0.3 * np.tanh(s[0] * np.linspace(-1, 1, N_ACTIONS) + s[1])
    res = agent.fit()
    assert not res.skipped and agent.fitted and res.rows == 450
    assert res.last_train_loss < 0.5 * res.first_train_loss
    assert 0 < res.best_epoch <= res.epochs == 40


def test_epsilon_greedy_statistics():
    agent = DQNAgent(DQNConfig(n_inputs=3, seed=7))
    s = np.zeros(3)
    assert len({agent.act(s, 0.0) for _ in range(200)}) > 10  # not fitted: random
    agent.fitted = True
    greedy = int(np.argmax(agent.q_values(s)))
    picks = np.array([agent.act(s, 0.2) for _ in range(4000)])
    share = np.mean(picks == greedy)
    assert share == pytest.approx(0.8 + 0.2 / 20, abs=0.03)
    assert np.all(np.bincount(picks, minlength=20)[np.arange(20) != greedy] > 10)
    again = DQNAgent(DQNConfig(n_inputs=3, seed=7))
    [again.act(s, 0.0) for _ in range(200)]  # noqa: B018
    again.fitted = True
    assert np.array_equal(picks, [again.act(s, 0.2) for _ in range(4000)])


def test_ignore_zero_outputs(monkeypatch):
    agent = DQNAgent(DQNConfig(n_inputs=2, ignore_zero_outputs=True))
    agent.fitted = True
    q = np.full(N_ACTIONS, -0.5)
    q[[3, 9]] = [0.0, -0.1]
    monkeypatch.setattr(agent, "q_values", lambda s: q)
    assert agent.act(np.zeros(2), 0.0) == 9


def weights(agent):
    return torch.cat([p.detach().flatten() for p in agent.online.parameters()])


@pytest.mark.parametrize("rule", ["double", "authors"])
def test_checkpoint_resume_is_identical(tmp_path, rule):
    cfg = DQNConfig(**SMALL, q_target=rule, seed=3)

    def phase1(agent):
        fill(agent, 150, seed=0)
        agent.fit()
        agent.copy_target()

    def phase2(agent):
        s, _, r, s2 = toy_transitions(120, 4, seed=1)
        for i in range(120):
            agent.remember(s[i], agent.act(s[i], 0.3), float(r[i]), s2[i])
        agent.fit()
        agent.copy_target()

    straight = DQNAgent(cfg)
    phase1(straight)
    phase2(straight)
    first = DQNAgent(cfg)
    phase1(first)
    first.save(tmp_path / "agent.pt")
    assert not list(tmp_path.glob(".*.tmp"))
    resumed = DQNAgent.load(tmp_path / "agent.pt")
    phase2(resumed)
    assert torch.equal(weights(straight), weights(resumed))
    assert all(torch.equal(a, b) for a, b in zip(straight.target.state_dict().values(),
                                                 resumed.target.state_dict().values(), strict=True))
    for k, v in straight.memory.to_arrays().items():
        assert np.array_equal(v, resumed.memory.to_arrays()[k]), k
    assert straight.rng.random() == resumed.rng.random()


def test_seeded_determinism():
    runs = []
    for seed in (5, 5, 6):
        agent = DQNAgent(DQNConfig(**SMALL, seed=seed))
        fill(agent, 200)
        agent.fit()
        runs.append(weights(agent))
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_lstm_shapes_backward_and_fit():
    cfg = DQNConfig(**{**SMALL, "variant": "lstm", "seq_len": 3, "epochs": 30, "output_activation": "linear"})
    assert cfg.state_dim == 12
    net = QNetwork(cfg, torch.Generator().manual_seed(0))
    x = torch.randn(7, 12)
    q = net(x)
    assert q.shape == (7, N_ACTIONS)
    q.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    win = StateWindow(4, 3)
    np.testing.assert_array_equal(win.push(np.ones(4)), np.r_[np.zeros(8), np.ones(4)])
    np.testing.assert_array_equal(win.push(np.full(4, 2.0))[4:], np.r_[np.ones(4), np.full(4, 2.0)])
    agent = DQNAgent(cfg)
    fill(agent, 300)
    res = agent.fit()
    assert res.last_train_loss < res.first_train_loss
    assert 0 <= agent.act(np.zeros(12), 0.0) < N_ACTIONS


def test_single_step_lstm_path_equals_torch_lstm():
    """seq_len 1 (default) uses a hand-written step from zero state: same values and gradients as nn.LSTM."""
    cfg = DQNConfig(**{**SMALL, "variant": "lstm"})
    assert cfg.seq_len == 1 and cfg.state_dim == 4
    net = QNetwork(cfg, torch.Generator().manual_seed(3))
    with torch.no_grad():  # non-zero biases so that b_hh and the forget gate are exercised
        net.lstm.bias_hh_l0.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(4))
    x = torch.randn(9, 4, generator=torch.Generator().manual_seed(5))
    fast = net(x)
    z = torch.relu(net.inp(x)).unsqueeze(1)
    ref = torch.tanh(net.out(net.lstm(z)[0][:, -1, :]))
    torch.testing.assert_close(fast, ref, rtol=1e-6, atol=1e-6)
    g_fast = torch.autograd.grad(fast.sum(), net.lstm.weight_ih_l0)[0]
    g_ref = torch.autograd.grad(ref.sum(), net.lstm.weight_ih_l0)[0]
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant, seq_len", [("ff", 1), ("lstm", 1), ("lstm", 3)])
def test_numpy_forward_matches_torch_and_follows_weight_changes(variant, seq_len):
    cfg = DQNConfig(**{**SMALL, "variant": variant, "seq_len": seq_len})
    agent = DQNAgent(cfg)
    x = np.random.default_rng(1).normal(size=cfg.state_dim)
    torch_q = agent._predict(agent.online, x)[0]
    np.testing.assert_allclose(agent.q_values(x), torch_q, rtol=1e-5, atol=1e-6)
    fill(agent, 200)
    agent.fit()  # in-place optimizer steps and load_state_dict: the numpy copy must be refreshed
    np.testing.assert_allclose(agent.q_values(x), agent._predict(agent.online, x)[0], rtol=1e-5, atol=1e-6)
    other = DQNAgent(DQNConfig(**{**SMALL, "variant": variant, "seq_len": seq_len, "seed": 7}))
    agent.online.load_state_dict(other.online.state_dict())
    np.testing.assert_allclose(agent.q_values(x), other.q_values(x), rtol=1e-6, atol=1e-7)
