"""Keep numba's on-disk cache of the engine consistent with the sources it inlines.

numba keys a cached function on its own source file only. The replay loop in ``kernel.py`` inlines the
strategies and estimators from other modules, and the baselines' quote functions inline ``baselines/common.py``,
so an edit there would leave a stale compiled function in the cache. Before the kernel is imported, this hashes
every source the loop depends on and, when the hash changed since the cache was written, deletes the cached
functions of all of them (the loop's and every inlined module's) so numba compiles them afresh.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
ENGINE_SOURCES = ("engine/kernel.py", "engine/kernel_general.py", "engine/accounting.py", "engine/estimators.py", "engine/state.py",
                  "engine/config.py", "engine/chain.py",
                  "engine/orders.py", "engine/risk.py", "strategies/base.py", "strategies/registry.py")


def _module_file(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin) if spec is not None and spec.origin else None


def source_files() -> list[Path]:
    """Every source the compiled loop depends on: the engine's, the dispatch module of the current registry, and
    each registered strategy's quote module and the modules it declares it inlines."""
    from alpha_as.strategies import registry

    files = [PACKAGE / rel for rel in ENGINE_SOURCES] + [registry.dispatch_path()]
    for s in registry.STRATEGIES:
        hooks = [ref.split(":")[0] for ref in (s.quote, s.on_trade, s.on_fill) if ref]
        for module in (*hooks, *s.inlines):
            f = _module_file(module)
            if f is not None and f not in files:
                files.append(f)
    return files


def sources_hash() -> str:
    h = hashlib.sha256()
    for path in source_files():
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _cache_files(src: Path) -> list[Path]:
    """numba's cache files of the module ``src``: beside it, or under NUMBA_CACHE_DIR when that is set."""
    root = os.environ.get("NUMBA_CACHE_DIR")
    dirs = [Path(root)] if root else [src.parent / "__pycache__"]
    out: list[Path] = []
    for d in dirs:
        if d.is_dir():
            pattern = "**/" if root else ""
            out += list(d.glob(f"{pattern}{src.stem}.*.nbi")) + list(d.glob(f"{pattern}{src.stem}.*.nbc"))
    return out


def _invalidate(cache_dir: Path, stamp_name: str, digest: str, sources: list[Path]) -> bool:
    """Delete the cached functions of ``sources`` unless ``cache_dir/stamp_name`` holds ``digest``; then write it.
    True when something was deleted; False too on a read-only install (numba falls back to its own location)."""
    stamp = cache_dir / stamp_name
    try:
        if stamp.is_file() and stamp.read_text() == digest:
            return False
        removed = False
        for src in sources:
            for f in _cache_files(src):
                f.unlink(missing_ok=True)
                removed = True
        cache_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
        return removed
    except OSError:
        return False


def _cache_dir(default: Path) -> Path:
    root = os.environ.get("NUMBA_CACHE_DIR")
    return Path(root) if root else default


def invalidate_if_stale() -> bool:
    """Delete the cached engine loop when its sources changed; True when something was deleted."""
    return _invalidate(_cache_dir(PACKAGE / "engine" / "__pycache__"), "alpha_as_engine_sources.hash", sources_hash(),
                       source_files())


AGENT_LOOP_SOURCES = ("agents/qforward.py", "agents/decision_loop.py", "agents/private.py", "agents/features.py",
                      "agents/actions.py")
"""The compiled decision loop's own sources (:mod:`alpha_as.agents.decision_loop` links the engine's loop and the
Q forward into its cached code, and reads the private-feature constants of ``features.py``)."""


def invalidate_agents_if_stale() -> bool:
    """Delete the cached decision loop and Q forward when they or the engine's sources changed (the agents' stamp
    is its own, so an edit of the agents does not drop the engine's cache); True when something was deleted."""
    h = hashlib.sha256(sources_hash().encode())
    for rel in AGENT_LOOP_SOURCES:
        p = PACKAGE / rel
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return _invalidate(_cache_dir(PACKAGE / "agents" / "__pycache__"), "alpha_as_agents_sources.hash",
                       h.hexdigest()[:16], [PACKAGE / rel for rel in AGENT_LOOP_SOURCES[:3]])
