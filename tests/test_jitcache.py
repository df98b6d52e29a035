"""The engine's numba cache is dropped when a source it inlines changes."""

from __future__ import annotations

from alpha_as.engine import jitcache
from alpha_as.strategies import registry


def test_stale_cache_files_are_removed_when_the_sources_hash_changes(tmp_path, monkeypatch):
    pkg = tmp_path / "alpha_as"
    (pkg / "engine" / "__pycache__").mkdir(parents=True)
    sources = [pkg / "engine" / "kernel.py", pkg / "strategies" / "fixed_quoter.py",
               tmp_path / "baselines" / "fixed_offset.py"]
    for src in sources:
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(f"# {src.name}\n")
    monkeypatch.setattr(jitcache, "PACKAGE", pkg)
    monkeypatch.setattr(jitcache, "source_files", lambda: sources)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    cached = pkg / "engine" / "__pycache__" / "kernel.run_until-1.py311.nbi"
    cached.write_text("x")
    inlined = tmp_path / "baselines" / "__pycache__" / "fixed_offset.foic_quotes-29.py311.1.nbc"
    inlined.parent.mkdir(parents=True)
    inlined.write_text("x")  # the baselines' quote functions inline baselines/common.py
    assert jitcache.invalidate_if_stale() is True  # no stamp yet: drop whatever is there
    assert not cached.exists() and not inlined.exists()
    cached.write_text("x")
    assert jitcache.invalidate_if_stale() is False  # same sources: keep
    assert cached.exists()
    inlined.write_text("x")
    (pkg / "strategies" / "fixed_quoter.py").write_text("# changed\n")
    assert jitcache.invalidate_if_stale() is True
    assert not cached.exists() and not inlined.exists()


def test_the_loop_depends_on_every_registered_strategy_and_what_it_inlines():
    files = {p.name for p in jitcache.source_files()}
    assert {"kernel.py", "dispatch.py", "avellaneda_stoikov.py", "fixed_quoter.py", "fixed_offset.py",
            "linear_inventory.py", "common.py", "base.py", "registry.py"} <= files
    assert len(registry.STRATEGIES) == len(registry.BUILTIN)


def test_the_decision_loop_cache_is_dropped_when_it_or_the_engine_changes(tmp_path, monkeypatch):
    pkg = tmp_path / "alpha_as"
    cache = pkg / "agents" / "__pycache__"
    cache.mkdir(parents=True)
    for rel in jitcache.AGENT_LOOP_SOURCES:
        (pkg / rel).write_text(f"# {rel}\n")
    engine = {"hash": "a"}
    monkeypatch.setattr(jitcache, "PACKAGE", pkg)
    monkeypatch.setattr(jitcache, "sources_hash", lambda: engine["hash"])
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    cached = cache / "decision_loop.day_loop-164.py311.nbi"
    engine_cached = pkg / "engine" / "__pycache__" / "kernel.run_until-1.py311.nbi"
    engine_cached.parent.mkdir(parents=True)
    engine_cached.write_text("x")
    cached.write_text("x")
    assert jitcache.invalidate_agents_if_stale() is True and not cached.exists()
    cached.write_text("x")
    assert jitcache.invalidate_agents_if_stale() is False and cached.exists()
    (pkg / "agents" / "features.py").write_text("# changed\n")  # a constant the loop reads
    assert jitcache.invalidate_agents_if_stale() is True and not cached.exists()
    cached.write_text("x")
    engine["hash"] = "b"  # the engine's loop, linked into the decision loop's cached code
    assert jitcache.invalidate_agents_if_stale() is True and not cached.exists()
    assert engine_cached.exists()  # the agents' stamp never drops the engine's cache
