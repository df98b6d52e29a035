"""Double-DQN core of Alpha-AS-1 (feed-forward) and Alpha-AS-2 (LSTM), independent of the market.

One readable file in the CleanRL manner: the config first, then networks, replay memory, targets, fitting,
ε-greedy selection and checkpoints. The agent takes state vectors; the market loop (later) calls
``act`` → ``remember`` every step, ``fit`` when the protocol retrains and ``copy_target`` every 8 h of
market time (spec §6.5–6.6).

Two target rules (``q_target``):

* ``"double"`` (default): textbook double DQN (van Hasselt et al.). For each stored transition (s, a, r, s'),
  y = r + γd · Q_target(s', argmax_a' Q_online(s', a')); the targets are computed once from the networks as
  they are when ``fit`` starts. Only the taken action is regressed: in each mini-batch the other actions'
  targets are the online network's current (detached) predictions, so their error, and gradient, is 0.
* ``"authors"`` (spec §6.5, §9 #3, CONFIRMED-CODE ``DeepQLearning.java``): a tabular blend on a per-state row.
  The memory keeps one row per distinct state holding a 20-vector of Q-targets; ``remember`` updates it at once:
  if Q(s,a) == 0 (never set) Q(s,a) = r, else Q(s,a) ← (1−α)Q(s,a) + α(r + γd · max_a' Q_target(s', a'))
  (NaN → 0). Untried actions keep 0, and ``fit`` regresses the whole 20-vector (zeros included), as the
  authors' network does.

There are no terminal states inside a day (spec §6.4). The memory keeps a ``done`` flag per row all the same
(0 unless the caller marks a day's last transition terminal, the sound learner's ``day_end`` option); the
"double" targets then do not bootstrap it (y = r).

The repaired learner (preset "sound", not the paper's) adds, each as its own option (``DQNConfig`` docs):
``out_init_scale`` (small-initialised output), ``target_update = "polyak"`` (a target that lags the online net
within and across fits; the protocol's copies are ignored), ``bellman_iterations`` (fitted-Q iterations: the
targets recomputed from the lagged target after every ``epochs`` epochs) and ``loss = "huber"``.

Bootstrapping before training: until the target network is a copy of a fitted network, Q_target(s', ·) is
taken as 0 (the authors have no target model file before the first training), and until the online network is
fitted ``act`` picks uniformly at random (the authors' "no prediction yet").

Determinism: the agent owns a ``numpy.random.Generator`` (ε-greedy, shuffles, splits) and a
``torch.Generator`` (weight init) and never touches torch's global RNG. With ``deterministic=True`` it calls
``torch.use_deterministic_algorithms(True)``; CPU Linear/LSTM/MSE/SGD are then reproducible for a fixed thread
count. ``torch.set_num_threads`` is the caller's business: a different thread count may change float sums.
"""

from __future__ import annotations

import copy
import io
import json
import pickle
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from alpha_as.agents.actions import N_ACTIONS
from alpha_as.agents.config import DQNConfig
from alpha_as.agents.rows import unique_rows
from alpha_as.atomic import write_bytes_atomic
from alpha_as.errors import InputError


def use_determinism() -> None:
    """torch.use_deterministic_algorithms(True); a process-wide switch (harmless on CPU)."""
    torch.use_deterministic_algorithms(True)


# ALGO LOGIC: networks ------------------------------------------------------------------------------------


class QNetwork(nn.Module):
    """Alpha-AS-1 ("ff") or Alpha-AS-2 ("lstm") Q-network with an input normaliser kept in its buffers.

    The LSTM variant takes flat states of seq_len·n_inputs values (oldest state first), applies the dense
    ReLU layer per time step, runs an LSTM(H) and maps its last hidden state to the 20 outputs. Deviation:
    the authors' DL4J LSTM uses ReLU activations; torch's LSTM uses tanh.
    """

    def __init__(self, cfg: DQNConfig, generator: torch.Generator) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.register_buffer("mean", torch.zeros(cfg.state_dim))
        self.register_buffer("std", torch.ones(cfg.state_dim))
        self.inp = nn.Linear(cfg.n_inputs, h)
        if cfg.variant == "ff":
            self.mid = nn.Linear(h, h)
        else:
            self.lstm = nn.LSTM(h, h, batch_first=True)
        self.out = nn.Linear(h, N_ACTIONS)
        for p in self.parameters():  # Xavier (DL4J XAVIER is Gaussian), zero biases
            if p.dim() > 1:
                nn.init.xavier_normal_(p, generator=generator)
            else:
                nn.init.zeros_(p)
        if cfg.out_init_scale != 1.0:
            with torch.no_grad():
                self.out.weight.mul_(cfg.out_init_scale)
        if cfg.variant == "lstm":  # DL4J forgetGateBiasInit = 1; torch gate order i, f, g, o
            with torch.no_grad():
                self.lstm.bias_ih_l0[h : 2 * h] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        if self.cfg.variant == "ff":
            z = torch.relu(self.mid(torch.relu(self.inp(x))))
        else:
            z = torch.relu(self.inp(x.view(x.shape[0], self.cfg.seq_len, self.cfg.n_inputs)))
            z = self._lstm_step(z[:, 0, :]) if self.cfg.seq_len == 1 else self.lstm(z)[0][:, -1, :]
        q = self.out(z)
        return torch.tanh(q) if self.cfg.output_activation == "tanh" else q


    def numpy_forward(self, x: np.ndarray) -> np.ndarray:
        """Q-values of one state (float64 out) from a float32 copy of the weights, with the compiled forward
        :func:`alpha_as.agents.qforward.q_forward` (the one the compiled decision loop uses, so both loops act
        alike to the bit): ~10× quicker than a torch call for a single state (the agent's per-step ``act``). The
        copy is refreshed whenever a parameter or buffer changed (torch's in-place version counters), e.g. after a
        fit or ``load_state_dict``."""
        from alpha_as.agents.qforward import export_weights, q_forward

        if not hasattr(self, "_np_tensors"):  # modules keep their tensor objects; only their data changes
            self._np_tensors = (*self.parameters(), *self.buffers())
        key = tuple(t._version for t in self._np_tensors)
        if getattr(self, "_np_key", None) != key:
            self._np, self._np_key = export_weights(self), key
        cfg = self.cfg
        q = np.empty(N_ACTIONS)
        q_forward(np.ascontiguousarray(x, dtype=np.float64).reshape(-1), self._np, cfg.variant == "lstm",
                  cfg.seq_len if cfg.variant == "lstm" else 1, cfg.n_inputs, cfg.output_activation == "tanh", q)
        return q

    def _lstm_step(self, z: torch.Tensor) -> torch.Tensor:
        """One LSTM step from h0 = c0 = 0, with the LSTM's own weights: identical to ``self.lstm`` on
        sequences of length 1 (W_hh·h0 = 0 and f·c0 = 0 drop out), about twice as fast as torch.nn.LSTM on CPU."""
        gates = nn.functional.linear(z, self.lstm.weight_ih_l0, self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0)
        i, _f, g, o = gates.chunk(4, dim=1)
        return torch.sigmoid(o) * torch.tanh(torch.sigmoid(i) * torch.tanh(g))


class StateWindow:
    """The last L states as one flat vector (oldest first, zeros before the first L states): LSTM input."""

    def __init__(self, n_inputs: int, seq_len: int) -> None:
        self.buf = np.zeros((seq_len, n_inputs))

    def push(self, state: np.ndarray) -> np.ndarray:
        self.buf = np.roll(self.buf, -1, axis=0)
        self.buf[-1] = state
        return self.buf.reshape(-1).copy()


# ALGO LOGIC: replay memory -------------------------------------------------------------------------------


class ReplayMemory:
    """Ring buffer of at most ``capacity`` rows (s, a, r, s', done, q): numpy arrays, float64 states.

    With ``merge_states`` (the authors' rule) a transition whose state equals (bit for bit) a stored row's
    updates that row (its a, r, s' become the latest) instead of adding one; ``q`` holds the row's 20
    Q-targets. States should already be rounded, as the authors' features are (spec §6.2).
    """

    def __init__(self, capacity: int, state_dim: int, *, merge_states: bool = False) -> None:
        self.capacity, self.state_dim, self.merge_states = capacity, state_dim, merge_states
        self.states = np.zeros((capacity, state_dim))
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity)
        self.next_states = np.zeros((capacity, state_dim))
        self.dones = np.zeros(capacity)
        self.q = np.zeros((capacity, N_ACTIONS))
        self.size = 0
        self.pos = 0  # next row to write (the oldest row once full)
        self._index: dict[bytes, int] = {}

    def __len__(self) -> int:
        return self.size

    def add(self, s: np.ndarray, a: int, r: float, s2: np.ndarray, done: bool = False) -> int:
        """Store a transition; returns its row (an existing row for a known state when merging)."""
        s = np.asarray(s, dtype=np.float64).reshape(self.state_dim)
        key = s.tobytes()
        row = self._index.get(key) if self.merge_states else None
        if row is None:
            row = self.pos
            if self.merge_states and self.size == self.capacity:
                del self._index[self.states[row].tobytes()]
            self.states[row] = s
            self.q[row] = 0.0
            if self.merge_states:
                self._index[key] = row
            self.pos = (self.pos + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)
        self.actions[row], self.rewards[row], self.dones[row] = a, r, float(done)
        self.next_states[row] = np.asarray(s2, dtype=np.float64).reshape(self.state_dim)
        return row

    def trimmed(self) -> ReplayMemory:
        """A copy holding only the stored rows (capacity = size), in storage order; unchanged when full. What a
        training run hands back to be merged: the same rows in the same order, without the empty capacity."""
        if self.size == self.capacity:
            return self
        m = ReplayMemory(max(self.size, 1), self.state_dim, merge_states=self.merge_states)
        for k in ("states", "actions", "rewards", "next_states", "dones", "q"):
            getattr(m, k)[: self.size] = getattr(self, k)[: self.size]
        m.size, m.pos = self.size, self.size % m.capacity
        if m.merge_states:
            m._index = {m.states[i].tobytes(): i for i in range(m.size)}
        return m

    def to_arrays(self) -> dict[str, np.ndarray]:
        meta = np.array([self.capacity, self.state_dim, int(self.merge_states), self.size, self.pos])
        return {"meta": meta, "states": self.states, "actions": self.actions, "rewards": self.rewards,
                "next_states": self.next_states, "dones": self.dones, "q": self.q}

    @classmethod
    def from_arrays(cls, d: dict[str, np.ndarray]) -> ReplayMemory:
        capacity, state_dim, merge, size, pos = (int(v) for v in d["meta"])
        m = cls(capacity, state_dim, merge_states=bool(merge))
        for k in ("states", "actions", "rewards", "next_states", "q"):
            getattr(m, k)[...] = d[k]
        if "dones" in d:  # checkpoints written before the flag existed hold no terminal rows
            m.dones[...] = d["dones"]
        m.size, m.pos = size, pos
        if m.merge_states:
            m._index = {m.states[i].tobytes(): i for i in range(size)}
        return m

    def save(self, path: str | Path) -> None:
        """Atomic .npz (temp file + rename)."""
        buf = io.BytesIO()
        np.savez(buf, **self.to_arrays())
        _atomic_write(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> ReplayMemory:
        with np.load(path) as z:
            return cls.from_arrays({k: z[k] for k in z.files})


def merge_memories(memories: list[ReplayMemory], rng: np.random.Generator, capacity: int = 10_000) -> ReplayMemory:
    """Merge the memories of parallel backtests (spec §6.6, the authors' ``merge_q_matrix``).

    Authors' rows (``merge_states``): Q-targets equal to 0 count as missing; rows are grouped by identical state
    and every column takes its max over the group (missing ignored; all missing → 0); the next state is likewise
    the column-wise max (the authors' groupby-max; a synthetic vector if the group's next states differ);
    a and r (unused by the authors' rule) are those of the group's last row. Transition rows (no merging):
    exact duplicates of (s, a, r, s') are dropped. Then, above ``capacity`` rows, a seeded random subsample
    of ``capacity`` rows is kept (in group order, i.e. sorted by state).
    """
    if not memories:
        raise ValueError("nothing to merge")
    merge, dim = memories[0].merge_states, memories[0].state_dim
    if any(m.merge_states != merge or m.state_dim != dim for m in memories):
        raise ValueError("memories differ in state_dim or merge rule")
    order = [np.r_[m.pos : m.size, 0 : m.pos] if m.size == m.capacity else np.arange(m.size) for m in memories]
    cat = {k: np.concatenate([getattr(m, k)[o] for m, o in zip(memories, order, strict=True)])
           for k in ("states", "actions", "rewards", "next_states", "dones", "q")}
    key = cat["states"] if merge else np.column_stack([cat["states"], cat["actions"], cat["rewards"],
                                                       cat["next_states"], cat["dones"]])
    first, inv = unique_rows(key)  # np.unique(key, axis=0, return_index=True, return_inverse=True), compiled
    g = len(first)
    out = {"states": cat["states"][first]}
    if merge:
        q = np.full((g, N_ACTIONS), np.nan)
        np.fmax.at(q, inv, np.where(cat["q"] == 0, np.nan, cat["q"]))
        out["q"] = np.nan_to_num(q, nan=0.0)
        nxt = np.full((g, dim), -np.inf)
        np.maximum.at(nxt, inv, cat["next_states"])
        out["next_states"] = nxt
        last = np.zeros(g, dtype=np.int64)
        last[inv] = np.arange(len(inv))  # later rows overwrite: the group's last row
        out["actions"], out["rewards"], out["dones"] = cat["actions"][last], cat["rewards"][last], cat["dones"][last]
    else:
        out.update({k: cat[k][first] for k in ("actions", "rewards", "next_states", "dones", "q")})
    keep = np.sort(rng.choice(g, capacity, replace=False)) if g > capacity else np.arange(g)
    n = len(keep)
    m = ReplayMemory(capacity, dim, merge_states=merge)
    for k, v in out.items():
        getattr(m, k)[:n] = v[keep]
    m.size, m.pos = n, n % capacity
    if merge:
        m._index = {m.states[i].tobytes(): i for i in range(n)}
    return m


# ALGO LOGIC: targets -------------------------------------------------------------------------------------


def double_dqn_targets(rewards: np.ndarray, q_online_next: np.ndarray, q_target_next: np.ndarray,
                       discount: float, dones: np.ndarray | None = None) -> np.ndarray:
    """y = r + γd · (1 − done) · Q_target(s', argmax_a' Q_online(s', a')) for a batch (first argmax on ties)."""
    best = np.argmax(q_online_next, axis=1)
    boot = q_target_next[np.arange(len(rewards)), best]
    if dones is not None and np.any(dones):
        boot = np.where(dones > 0, 0.0, boot)
    return rewards + discount * boot


def authors_update(q_row: np.ndarray, action: int, reward: float, q_target_next: np.ndarray,
                   alpha: float, discount: float) -> np.ndarray:
    """The authors' tabular blend on one stored 20-vector (returns a new vector)."""
    q = q_row.copy()
    if q[action] == 0:
        q[action] = reward
    else:
        boot = np.nan_to_num(np.asarray(q_target_next, dtype=np.float64), nan=0.0).max()
        q[action] = (1 - alpha) * q[action] + alpha * (reward + discount * boot)
    return q


@dataclass(frozen=True)
class FitResult:
    """What one ``fit`` did."""

    rows: int
    skipped: bool
    epochs: int = 0
    best_epoch: int = 0
    first_train_loss: float = float("nan")
    last_train_loss: float = float("nan")
    best_val_rmse: float = float("nan")
    seconds: float = 0.0
    bellman_iterations: int = 1
    target_online_gap: float = float("nan")
    """Mean |Q_target(s') − Q_online(s')| over the memory's next states when the (first) targets of the fit were
    computed; 0 means the "double" bootstrap used the online network itself. NaN before the target is fitted."""


# ALGO LOGIC: agent ---------------------------------------------------------------------------------------


class DQNAgent:
    """Online + target Q-networks, replay memory, ε-greedy selection, fitting and checkpoints."""

    def __init__(self, config: DQNConfig | None = None) -> None:
        cfg = config or DQNConfig()
        self.cfg = cfg
        if cfg.deterministic:
            use_determinism()
        # TRY NOT TO MODIFY: seeding
        self.torch_gen = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.online = QNetwork(cfg, self.torch_gen)
        self.target = copy.deepcopy(self.online)
        self.target.requires_grad_(False)
        self.optim = self._make_optimizer()
        self.memory = ReplayMemory(cfg.memory_size, cfg.state_dim, merge_states=cfg.q_target == "authors")
        self.fitted = False  # online net trained at least once
        self.target_fitted = False  # target net is a copy of a trained online net
        self.n_fits = 0

    def _make_optimizer(self) -> torch.optim.Optimizer:
        if self.cfg.optimizer == "adam":
            return torch.optim.Adam(self.online.parameters(), lr=self.cfg.lr)
        return torch.optim.SGD(self.online.parameters(), lr=self.cfg.lr, momentum=self.cfg.momentum, nesterov=True)

    # -- predictions
    def _predict(self, net: QNetwork, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.as_tensor(np.asarray(x, dtype=np.float32).reshape(-1, self.cfg.state_dim))).double().numpy()

    def q_values(self, state: np.ndarray) -> np.ndarray:
        """Online-network Q-values of one state (20), computed with numpy (``QNetwork.numpy_forward``)."""
        return self.online.numpy_forward(state)

    def _q_target_next(self, s2: np.ndarray) -> np.ndarray:
        if not self.target_fitted:
            return np.zeros((len(s2), N_ACTIONS))
        return self._predict(self.target, s2)

    # -- acting
    def act(self, state: np.ndarray, epsilon: float) -> int:
        """ε-greedy from the online network; random before the first fit (one uniform draw per call always)."""
        explore = self.rng.random() < epsilon
        if explore or not self.fitted:
            return int(self.rng.integers(N_ACTIONS))
        q = self.q_values(state)
        if self.cfg.ignore_zero_outputs:
            q = np.where(q == 0, -np.inf, q)
            if np.all(np.isneginf(q)):
                return int(self.rng.integers(N_ACTIONS))
        return int(np.argmax(q))

    def remember(self, s: np.ndarray, a: int, r: float, s2: np.ndarray, done: bool = False) -> None:
        """Store (s, a, r, s', done); the authors' rule also updates the state's Q-target row now."""
        if not 0 <= a < N_ACTIONS:
            raise ValueError(f"action {a} outside 0..{N_ACTIONS - 1}")
        row = self.memory.add(s, a, r, s2, done)
        if self.cfg.q_target == "authors":
            qn = self._q_target_next(self.memory.next_states[row : row + 1])[0]
            self.memory.q[row] = authors_update(self.memory.q[row], a, r, qn, self.cfg.alpha, self.cfg.discount)

    def copy_target(self) -> None:
        """Target ← online (the protocol calls this every 8 h of market time); a no-op with
        ``target_update = "polyak"``, whose target follows the online net inside ``fit``."""
        if self.cfg.target_update == "polyak":
            return
        self.target.load_state_dict(self.online.state_dict())
        self.target_fitted = self.fitted

    def _polyak(self) -> None:
        """target ← (1 − τ)·target + τ·online, parameters and buffers (the input normaliser) alike."""
        tau = self.cfg.tau
        with torch.no_grad():
            tgt = self.target.state_dict()
            for k, v in self.online.state_dict().items():
                if v.dtype.is_floating_point:
                    tgt[k].mul_(1.0 - tau).add_(v, alpha=tau)
        self.target_fitted = True

    def target_online_gap(self, states: np.ndarray) -> float:
        """Mean |Q_target(s) − Q_online(s)| over ``states`` (NaN before the target is a fitted network)."""
        if not self.target_fitted or len(states) == 0:
            return float("nan")
        return float(np.mean(np.abs(self._predict(self.target, states) - self._predict(self.online, states))))

    # -- fitting
    def training_targets(self, fill_untaken: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X, Y, mask) for the memory rows: mask marks the regressed entries of Y (all for "authors"). The
        unmasked entries of Y are the online predictions (``fill_untaken``) or 0: the fit never reads them (their
        targets are the online net's own outputs during the fit), so 0 saves a forward pass and changes nothing."""
        m, n = self.memory, len(self.memory)
        x = m.states[:n]
        if self.cfg.q_target == "authors":
            return x, m.q[:n].copy(), np.ones((n, N_ACTIONS), dtype=bool)
        s2 = m.next_states[:n]
        y = self._predict(self.online, x) if fill_untaken else np.zeros((n, N_ACTIONS))
        y_taken = double_dqn_targets(m.rewards[:n], self._predict(self.online, s2), self._q_target_next(s2),
                                     self.cfg.discount, m.dones[:n])
        y[np.arange(n), m.actions[:n]] = y_taken
        mask = np.zeros((n, N_ACTIONS), dtype=bool)
        mask[np.arange(n), m.actions[:n]] = True
        return x, y, mask

    def _loss(self, q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.cfg.loss == "huber":
            return nn.functional.smooth_l1_loss(q, target)
        return nn.functional.mse_loss(q, target)

    def _epoch(self, xt: torch.Tensor, yt: torch.Tensor, mt: torch.Tensor) -> float:
        """One pass over the training split in seeded mini-batches; returns the mean training loss."""
        order = torch.as_tensor(self.rng.permutation(len(xt)))
        total = 0.0
        for k in range(0, len(xt), self.cfg.batch_size):
            b = order[k : k + self.cfg.batch_size]
            q = self.online(xt[b])
            target = torch.where(mt[b], yt[b], q.detach())  # untaken actions: zero error ("double")
            loss = self._loss(q, target)
            self.optim.zero_grad()
            loss.backward()
            self.optim.step()
            total += loss.item() * len(b)
        return total / len(xt)

    def _val_rmse(self, xv: torch.Tensor, yv: torch.Tensor, mv: torch.Tensor) -> float:
        with torch.no_grad():
            err = (self.online(xv) - yv)[mv]
            rmse = float(torch.sqrt(torch.mean(err.double() ** 2)))
        if self.cfg.early_stop_decimals is not None:
            rmse = round(rmse, self.cfg.early_stop_decimals)
        return rmse

    def fit(self) -> FitResult:
        """Fit the online network on the memory.

        ``bellman_iterations = 1`` (paper): one regression of the targets computed when the fit starts (MSE,
        early stopping on a seeded 25 % split, best model kept). ``> 1``: fitted-Q iterations, each recomputing
        the targets from the current networks and training ``epochs`` epochs, with a Polyak step of the target
        after each (``target_update = "polyak"``); the last model is kept."""
        cfg, n = self.cfg, len(self.memory)
        if n < cfg.min_rows:
            return FitResult(rows=n, skipped=True)
        t0 = time.perf_counter()
        gap = self.target_online_gap(self.memory.next_states[:n]) if cfg.q_target == "double" else float("nan")
        x, y, mask = self.training_targets()
        perm = self.rng.permutation(n)
        n_val = max(1, int(round(n * cfg.val_fraction)))
        iv, it = perm[:n_val], perm[n_val:]
        xt = torch.as_tensor(x[it], dtype=torch.float32)
        xv = torch.as_tensor(x[iv], dtype=torch.float32)
        mt = torch.as_tensor(mask[it])
        mv = torch.as_tensor(mask[iv])
        if cfg.normalize:
            std = xt.std(dim=0, unbiased=False)
            self.online.mean.copy_(xt.mean(dim=0))
            self.online.std.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        if cfg.bellman_iterations > 1:
            return self._fit_iterated(x, y, mask, it, iv, xt, xv, mt, mv, gap, t0)
        yt = torch.as_tensor(y[it], dtype=torch.float32)
        yv = torch.as_tensor(y[iv], dtype=torch.float32)
        best = (float("inf"), 0, copy.deepcopy(self.online.state_dict()))
        first_loss = last_loss = float("nan")
        epoch = 0
        for epoch in range(1, cfg.epochs + 1):
            last_loss = self._epoch(xt, yt, mt)
            if epoch == 1:
                first_loss = last_loss
            out_of_time = cfg.max_fit_seconds is not None and time.perf_counter() - t0 > cfg.max_fit_seconds
            if epoch % cfg.eval_every == 0 or epoch == cfg.epochs or out_of_time:
                rmse = self._val_rmse(xv, yv, mv)
                if rmse < best[0]:
                    best = (rmse, epoch, copy.deepcopy(self.online.state_dict()))
            if out_of_time:
                break
        self.online.load_state_dict(best[2])
        if cfg.target_update == "polyak":
            self._polyak()
        self.fitted = True
        self.n_fits += 1
        return FitResult(rows=n, skipped=False, epochs=epoch, best_epoch=best[1], first_train_loss=first_loss,
                         last_train_loss=last_loss, best_val_rmse=best[0], seconds=time.perf_counter() - t0,
                         target_online_gap=gap)

    def _fit_iterated(self, x, y, mask, it, iv, xt, xv, mt, mv, gap: float, t0: float) -> FitResult:
        """Fitted-Q iterations (see ``fit``): the split and the input normaliser are fixed for the whole fit."""
        cfg = self.cfg
        first_loss = last_loss = rmse = float("nan")
        epochs = 0
        for k in range(cfg.bellman_iterations):
            if k:  # targets from the networks as they are now (the target lags by the Polyak steps)
                x, y, mask = self.training_targets(fill_untaken=False)
            yt = torch.as_tensor(y[it], dtype=torch.float32)
            yv = torch.as_tensor(y[iv], dtype=torch.float32)
            for _ in range(cfg.epochs):
                last_loss = self._epoch(xt, yt, mt)
                epochs += 1
                if epochs == 1:
                    first_loss = last_loss
            rmse = self._val_rmse(xv, yv, mv)
            self.fitted = True
            if cfg.target_update == "polyak":
                self._polyak()
            if cfg.max_fit_seconds is not None and time.perf_counter() - t0 > cfg.max_fit_seconds:
                break
        self.n_fits += 1
        return FitResult(rows=len(x), skipped=False, epochs=epochs, best_epoch=epochs, first_train_loss=first_loss,
                         last_train_loss=last_loss, best_val_rmse=rmse, seconds=time.perf_counter() - t0,
                         bellman_iterations=k + 1, target_online_gap=gap)

    # -- checkpoints
    def set_memory(self, memory: ReplayMemory) -> None:
        """Replace the memory (e.g. by a merged one); it must match state_dim and the merge rule."""
        if memory.state_dim != self.cfg.state_dim or memory.merge_states != (self.cfg.q_target == "authors"):
            raise ValueError("memory does not match the agent's state_dim or q_target rule")
        self.memory = memory

    def save(self, path: str | Path) -> None:
        """One atomic torch file: networks, optimizer, memory, config, RNG states and counters."""
        ckpt = {
            "config": json.dumps(asdict(self.cfg)),
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optim": self.optim.state_dict(),
            "memory": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.memory.to_arrays().items()},
            "numpy_rng": json.dumps(self.rng.bit_generator.state),
            "torch_rng": self.torch_gen.get_state(),
            "flags": torch.tensor([int(self.fitted), int(self.target_fitted), self.n_fits]),
        }
        buf = io.BytesIO()
        torch.save(ckpt, buf)
        _atomic_write(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> DQNAgent:
        try:
            ckpt = torch.load(path, weights_only=True)
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as e:  # e.g. a truncated file
            why = (str(e).strip().splitlines() or [type(e).__name__])[0].split(". ")[0] or type(e).__name__
            raise InputError(f"cannot read DQN checkpoint (truncated or corrupt?): {why}", path=path) from None
        try:
            agent = cls(DQNConfig.from_dict(json.loads(ckpt["config"]), source=f"{path}: config"))
            agent.online.load_state_dict(ckpt["online"])
            agent.target.load_state_dict(ckpt["target"])
            agent.optim.load_state_dict(ckpt["optim"])
            agent.memory = ReplayMemory.from_arrays({k: v.numpy() for k, v in ckpt["memory"].items()})
            agent.rng.bit_generator.state = json.loads(ckpt["numpy_rng"])
            agent.torch_gen.set_state(ckpt["torch_rng"])
            fitted, target_fitted, n_fits = (int(v) for v in ckpt["flags"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
            why = (str(e).strip().splitlines() or [""])[0]
            raise InputError(f"bad DQN checkpoint: {type(e).__name__}: {why}", path=path) from None
        agent.fitted, agent.target_fitted, agent.n_fits = bool(fitted), bool(target_fitted), n_fits
        return agent


def _atomic_write(path: Path, data: bytes) -> None:
    write_bytes_atomic(data, path, fsync=True)
