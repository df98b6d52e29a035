"""Issue #13 §1: strategies are registered in one place; the engine's dispatch is generated from the registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alpha_as.cli import main
from alpha_as.errors import InputError
from alpha_as.strategies import registry

REPO = Path(__file__).resolve().parents[1]


def test_the_committed_dispatch_is_the_registrys():
    """`python -m alpha_as.strategies.registry` rewrites alpha_as/strategies/dispatch.py; it must be current."""
    assert registry.DISPATCH_FILE.read_text() == registry.dispatch_source(registry.BUILTIN)
    assert registry.names() == ["as", "fixed", "foic", "liic", "hummingbot-as", "glft", "depth"]
    from alpha_as.strategies.avellaneda_stoikov import ASParams
    from baselines import LIICParams

    assert registry.kind_of(None) == 0 and registry.kind_of(ASParams()) == 1 and registry.kind_of(LIICParams()) == 4
    with pytest.raises(TypeError, match="not in alpha_as.strategies.registry"):
        registry.kind_of(object())


TOY_RUN = """
import datetime as dt, json, sys
from alpha_as.data import store
from alpha_as.engine.backtest import Backtest
from tests.toy_strategy import ToyParams
day = store.load_window_day(sys.argv[1], "btcusdt_synth", dt.date(2020, 12, 9), "all")
res = Backtest(day, ToyParams(ticks=0.0, quantity=0.001)).run()
print(json.dumps({"fills": res.metrics.n_fills, "updates": res.counters["quote_updates"],
                  "snapshots": res.counters["snapshots"]}))
"""


def test_an_outside_strategy_gets_a_generated_dispatch_of_its_own(tmp_path, monkeypatch):
    """The quick cover of the slow test below: the extended registry's dispatch is generated under NUMBA_CACHE_DIR,
    keeps the built-in kinds, and its branch for the new kind calls the new strategy's quote function."""
    import numpy as np

    from alpha_as.engine.state import new_state
    from tests.toy_strategy import STRATEGY, ToyParams

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    strategies = registry.BUILTIN + (STRATEGY,)
    source = registry.dispatch_source(strategies)
    toy = len(registry.BUILTIN) + 1
    assert f"kind == {toy}:  # toy" in source and "kind == 1:  # as" in source
    path = registry._extended_file(source)
    assert path.parent == tmp_path / "numba" / "alpha_as_dispatch" and path.read_text() == source
    assert registry._extended_file(source) == path  # the same registry, the same file
    import importlib.util

    spec = importlib.util.spec_from_file_location("toy_dispatch_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    book = np.full((1, 1), 100.0)
    st = new_state(0)
    arrays = (st.si, st.sf, st.orders, st.mids, st.kq, st.ss)
    status, bp, bq, ap, aq = mod.quote(toy, ToyParams(ticks=2.0, quantity=0.5).to_array(), *arrays, 0, 100.0, 100.1,
                                       0.01, book, book, 0)
    assert status == 0 and (bp, bq, ap, aq) == (100.0 - 0.02, 0.5, 100.1 + 0.02, 0.5)
    assert mod.quote(0, np.zeros(1), *arrays, 0, 100.0, 100.1, 0.01, book, book, 0)[0] == 5  # no strategy: Q_NONE
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    with pytest.raises(InputError, match="set NUMBA_CACHE_DIR too"):
        registry._extended_file(source)


@pytest.mark.slow  # compiles the whole loop in a fresh cache (about a minute); the test above covers the dispatch
def test_a_strategy_registered_from_outside_runs_in_the_engine(tmp_path):
    root = tmp_path / "store"
    assert main(["data", "synth", "--out", str(root), "--start", "2020-12-09", "--end", "2020-12-09", "--hours", "0.1",
                 "--workers", "1"]) == 0
    env = {**os.environ, "ALPHA_AS_STRATEGIES": "tests.toy_strategy:STRATEGY", "PYTHONPATH": str(REPO)}
    env.pop("NUMBA_CACHE_DIR", None)
    bad = subprocess.run([sys.executable, "-c", TOY_RUN, str(root)], env=env, cwd=REPO, capture_output=True, text=True)
    assert bad.returncode != 0 and "set NUMBA_CACHE_DIR too" in bad.stderr  # kept apart from the package's cache
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")
    run = subprocess.run([sys.executable, "-c", TOY_RUN, str(root)], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["updates"] == out["snapshots"] > 100 and out["fills"] > 0  # quoting at the touch, every snapshot
    generated = list((tmp_path / "numba" / "alpha_as_dispatch").glob("dispatch_*.py"))
    assert len(generated) == 1 and "kind == 5:  # toy" in generated[0].read_text()
