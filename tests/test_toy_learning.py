"""Does the agent learn? Toy markets with known answers on the real engine (alpha_as.agents.toys).

The sound learner (``-sound`` models) must find the best action on the one-regime toy, read the regime flag on
the switching toy and beat the best constant action there on held-out days (a majority of five training seeds:
one seed's outcome depends on the CPU's float paths), and its Q-values must track
Monte-Carlo returns. The paper's preset runs through the same toys; its outcome is printed in the test
session's summary (see ``conftest.py``), whatever it is, and not asserted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from alpha_as.agents.alpha_as import AlphaAS, load_market_day
from alpha_as.agents.config import SOUND, AlphaASConfig
from alpha_as.agents.toys import (
    BEST_ACTION,
    TOY_FEATURES,
    TOY_INSTRUMENT,
    TOY_PARAMS,
    constant_pnls,
    play_greedy,
    regime_best_actions,
    write_toy_days,
)
from tests.conftest import report_line

TRAIN = dt.date(2021, 1, 4)
HELD_OUT = [dt.date(2021, 1, 5), dt.date(2021, 1, 6)]
MINUTES = 20


@pytest.fixture(scope="module")
def toys(tmp_path_factory):
    root = tmp_path_factory.mktemp("toys")
    one = root / "one"
    switching = root / "switching"
    write_toy_days(one, [TRAIN, *HELD_OUT], minutes=MINUTES)
    write_toy_days(switching, [TRAIN, *HELD_OUT], minutes=MINUTES, switch_seconds=60)
    return {"one": one, "switching": switching, "root": root}


def toy_config(agent: str, sound: bool, **kw) -> AlphaASConfig:
    return AlphaASConfig(agent=agent, iterations=8, runs=2, features=TOY_FEATURES, window="all", seed=0,
                         **(SOUND if sound else {}), **kw)


_TRAINED: dict[tuple, AlphaAS] = {}


def trained(root, store, agent: str, sound: bool) -> AlphaAS:
    """Train once per (toy, agent, learner) in this module (the models are only read afterwards)."""
    key = (str(store), agent, sound)
    if key not in _TRAINED:
        m = AlphaAS(root / f"{store.name}-{agent}-{'sound' if sound else 'paper'}", toy_config(agent, sound), TOY_PARAMS)
        m.train(store, TOY_INSTRUMENT, TRAIN.isoformat())
        _TRAINED[key] = m
    return _TRAINED[key]


def test_toy_answers_hold_for_constant_actions(toys):
    """The toy's stated answers: action 7 is the best constant on the one-regime day, clearly."""
    day = load_market_day(toys["one"], TOY_INSTRUMENT, TRAIN, "all")
    pnl = constant_pnls(day)
    assert int(np.argmax(pnl)) == BEST_ACTION["wide"]
    second = np.sort(pnl)[-2]
    assert pnl[BEST_ACTION["wide"]] > 1.2 * second > 0


@pytest.mark.parametrize("agent", ["alpha-as-1", "alpha-as-2"])
def test_sound_agent_finds_the_best_action(toys, agent):
    m = trained(toys["root"], toys["one"], agent, True)
    shares = []
    for d in HELD_OUT:
        _, run = play_greedy(m, toys["one"], d)
        shares.append(float(np.mean(run.actions == BEST_ACTION["wide"])))
    report_line(f"toy one-regime, {agent}-sound: greedy picks the best action (7) on "
                f"{', '.join(f'{100 * s:.0f} %' for s in shares)} of held-out steps")
    assert min(shares) >= 0.8
    # its values track returns on its own transitions, right after training
    check = m.diagnostics["checks"][-1]
    assert check["phase"] == "train" and check["q_mc_corr"] > 0.3


SEEDS = range(5)
"""Training seeds judged on the switching toy: one seed's outcome is a coin toss at the bit level (the LSTM agent's
seed 0 reads the regime with numpy's AVX-512 kernels and not with its AVX2 ones), so the test counts seeds."""


@pytest.mark.parametrize("agent", ["alpha-as-1", "alpha-as-2"])
def test_sound_agent_reads_the_regime_and_beats_the_best_constant(toys, agent):
    """On held-out days of the switching toy, a majority of training seeds beat the best constant action on every
    day while playing the regime's best action on >= 80 % of steps; every seed's outcome is reported."""
    lines, wins = [], 0
    for seed in SEEDS:
        m = AlphaAS(toys["root"] / f"switching-{agent}-sound-seed{seed}",
                    dataclasses.replace(toy_config(agent, True), seed=seed), TOY_PARAMS)
        m.train(toys["switching"], TOY_INSTRUMENT, TRAIN.isoformat())
        days, ok = [], True
        for d in HELD_OUT:
            day, run = play_greedy(m, toys["switching"], d)
            consts = constant_pnls(day)
            match = float(np.mean(run.actions == regime_best_actions(day, run.t)))
            pnl = run.result.metrics.final_total_pnl
            days.append(f"{pnl:.4f} vs {consts.max():.4f} ({100 * match:.0f} %)")
            ok = ok and pnl > consts.max() and match >= 0.8
        wins += ok
        lines.append(f"seed {seed} {'beats' if ok else 'MISSES'}: {', '.join(days)}")
    report_line(f"toy switching, {agent}-sound, held-out {', '.join(map(str, HELD_OUT))}: P&L vs best constant "
                f"(regime-best action share); {wins} of {len(SEEDS)} seeds beat it: " + "; ".join(lines))
    assert wins > len(SEEDS) / 2


def test_paper_preset_on_the_toys_is_reported(toys):
    """The paper's Alpha-AS-1 through the same toys: outcome printed, not asserted (it is a finding)."""
    out = []
    for kind in ("one", "switching"):
        m = trained(toys["root"], toys[kind], "alpha-as-1", False)
        for d in HELD_OUT[:1]:
            day, run = play_greedy(m, toys[kind], d)
            consts = constant_pnls(day)
            top = np.bincount(run.actions, minlength=20)
            check = m.diagnostics["checks"][-1]
            out.append(f"{kind}: greedy top action {int(top.argmax())} on {100 * top.max() / top.sum():.0f} % of steps "
                       f"(best: {BEST_ACTION['wide'] if kind == 'one' else 'by regime'}), P&L "
                       f"{run.result.metrics.final_total_pnl:.4f} vs best constant {consts.max():.4f}, "
                       f"Q/MC corr {check['q_mc_corr']:+.2f}")
            assert len(run.actions) == MINUTES * 12 - 1 and np.isfinite(run.result.metrics.final_total_pnl)
    report_line("toy, paper preset alpha-as-1 (not asserted): " + "; ".join(out))


def test_paper_target_equals_online_at_every_training_fit_but_sound_lags(toys):
    """The issue's cause 2, measured: with the paper's protocol the target is the online net whenever targets
    are computed (gap 0 after the first fit); the sound learner's Polyak target differs from the online net."""
    paper = trained(toys["root"], toys["one"], "alpha-as-1", False)
    gaps = [f["target_online_gap"] for f in paper.diagnostics["fits"]]
    assert gaps[0] is None and all(g == 0.0 for g in gaps[1:])
    sound = trained(toys["root"], toys["one"], "alpha-as-1", True)
    sgaps = [f["target_online_gap"] for f in sound.diagnostics["fits"]]
    assert all(g is not None and g > 0 for g in sgaps[1:])
    # and the protocol's copy calls leave the Polyak target alone
    before = {k: v.clone() for k, v in sound.agent.target.state_dict().items()}
    sound.agent.copy_target()
    assert all((before[k] == v).all() for k, v in sound.agent.target.state_dict().items())
    assert any((sound.agent.target.state_dict()[k] != v).any() for k, v in sound.agent.online.state_dict().items()
               if v.dtype.is_floating_point)
