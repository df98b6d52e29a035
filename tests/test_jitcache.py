"""The engine's numba cache is dropped when a source it inlines changes."""

from __future__ import annotations

from alpha_as.engine import jitcache


def test_stale_cache_files_are_removed_when_the_sources_hash_changes(tmp_path, monkeypatch):
    pkg = tmp_path / "alpha_as"
    (pkg / "engine" / "__pycache__").mkdir(parents=True)
    (pkg / "strategies").mkdir()
    for rel in jitcache.SOURCES:
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(f"# {rel}\n")
    cached = pkg / "engine" / "__pycache__" / "kernel.run_until-1.py311.nbi"
    monkeypatch.setattr(jitcache, "PACKAGE", pkg)
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
