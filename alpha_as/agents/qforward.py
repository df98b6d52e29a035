"""The Q-network's per-state forward, compiled: the agents' acting path (Python and compiled decision loops).

:func:`export_weights` copies a :class:`~alpha_as.agents.dqn.QNetwork`'s weights to float32 arrays (matrices
transposed to (in, out)); :func:`q_forward` computes one state's 20 Q-values from them in float32, as
``QNetwork.forward`` does (input normaliser, Dense-ReLU, Dense-ReLU or an LSTM with gates i, f, g, o, output
layer, tanh). Each output is summed in index order with one accumulator per output, so the loops vectorise
without reassociating a sum: the result does not depend on a BLAS build or thread count, and the Python loop
(``QNetwork.numpy_forward``) and the compiled one (:mod:`alpha_as.agents.decision_loop`) get the same bits.
Against torch (or numpy's BLAS, used before issue #16) the Q-values differ in the last float32 bits.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from alpha_as.engine import jitcache

jitcache.invalidate_agents_if_stale()  # before the compiled functions below are first loaded

def export_weights(net) -> tuple[np.ndarray, ...]:
    """A QNetwork's weights for :func:`q_forward`: float32, C-ordered, matrices transposed to (in, out). The
    LSTM entries are 1×1 zeros for "ff", the dense middle layer's for "lstm"."""
    import torch  # here: the compiled loop's reference policies run without torch

    with torch.no_grad():
        w = {k: v.detach().numpy() for k, v in net.state_dict().items()}

    def t(k: str) -> np.ndarray:
        return np.ascontiguousarray(w[k].T, dtype=np.float32)

    def v(k: str) -> np.ndarray:
        return np.ascontiguousarray(w[k], dtype=np.float32)

    z2, z1 = np.zeros((1, 1), np.float32), np.zeros(1, np.float32)
    if "mid.weight" in w:
        mid = (t("mid.weight"), v("mid.bias"))
        lstm = (z2, z1, z2, z1)
    else:
        mid = (z2, z1)
        lstm = (t("lstm.weight_ih_l0"), v("lstm.bias_ih_l0"), t("lstm.weight_hh_l0"), v("lstm.bias_hh_l0"))
    return (v("mean"), v("std"), t("inp.weight"), v("inp.bias"), *mid, *lstm, t("out.weight"), v("out.bias"))


@njit(cache=True)
def _dense(x, wt, b, out, relu):
    """out = wt.T @ x + b (float32; each output summed in index order), ReLU'd when ``relu`` (NaN kept)."""
    n = out.shape[0]
    for i in range(n):
        out[i] = np.float32(0.0)
    for j in range(x.shape[0]):
        xj = x[j]
        row = wt[j]
        for i in range(n):
            out[i] += xj * row[i]
    for i in range(n):
        v = out[i] + b[i]
        out[i] = np.float32(0.0) if relu and v < np.float32(0.0) else v


@njit(cache=True, inline="always")
def _sigmoid32(x):
    return np.float32(1.0) / (np.float32(1.0) + np.float32(math.exp(-x)))


@njit(cache=True)
def q_forward(x, w, lstm, seq_len, n_inputs, tanh_out, q):
    """The Q-values of the flat float64 state ``x`` (oldest state first for the LSTM) into ``q`` (float64[20]):
    float32 arithmetic on :func:`export_weights`' arrays, as ``QNetwork.forward`` (the input normaliser, then
    Dense-ReLU, Dense-ReLU or LSTM (gates i, f, g, o), then the output layer, tanh'd when ``tanh_out``)."""
    mean, std, wi, bi, wm, bm, wih, bih, whh, bhh, wo, bo = w
    hdim = bi.shape[0]
    xi = np.empty(n_inputs, np.float32)
    z = np.empty(hdim, np.float32)
    if not lstm:
        for j in range(n_inputs):
            xi[j] = (np.float32(x[j]) - mean[j]) / std[j]
        _dense(xi, wi, bi, z, True)
        z2 = np.empty(hdim, np.float32)
        _dense(z, wm, bm, z2, True)
        h = z2
    else:
        h = np.zeros(hdim, np.float32)
        c = np.zeros(hdim, np.float32)
        g = np.empty(4 * hdim, np.float32)
        gh = np.empty(4 * hdim, np.float32)
        zero4 = np.zeros(4 * hdim, np.float32)
        for s in range(seq_len):
            for j in range(n_inputs):
                k = s * n_inputs + j
                xi[j] = (np.float32(x[k]) - mean[k]) / std[k]
            _dense(xi, wi, bi, z, True)
            _dense(z, wih, bih, g, False)
            if s > 0:  # h0 = 0: W_hh·h0 is 0 (the same as torch's one-step path)
                _dense(h, whh, zero4, gh, False)
                for i in range(4 * hdim):
                    g[i] += gh[i]
            for i in range(4 * hdim):
                g[i] += bhh[i]
            for i in range(hdim):
                ig = _sigmoid32(g[i])
                fg = _sigmoid32(g[hdim + i])
                gg = np.float32(math.tanh(g[2 * hdim + i]))
                og = _sigmoid32(g[3 * hdim + i])
                c[i] = fg * c[i] + ig * gg
                h[i] = og * np.float32(math.tanh(c[i]))
    out = np.empty(q.shape[0], np.float32)
    _dense(h, wo, bo, out, False)
    for i in range(q.shape[0]):
        q[i] = float(math.tanh(out[i])) if tanh_out else float(out[i])


