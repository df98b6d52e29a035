"""Keep numba's on-disk cache of the engine consistent with the sources it inlines.

numba keys a cached function on its own source file only. The replay loop in ``kernel.py`` inlines the
strategies and estimators from other modules, and the baselines' quote functions inline ``baselines/common.py``,
so an edit there would leave a stale compiled function in the cache. Before the kernel is imported, this hashes
every source the loop depends on and, when the hash changed since the cache was written, deletes the cached
functions of all of them (the loop's and every inlined module's) so numba compiles them afresh.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
SOURCES = ("engine/kernel.py", "engine/accounting.py", "engine/estimators.py", "engine/state.py", "engine/config.py",
           "strategies/avellaneda_stoikov.py", "strategies/fixed_quoter.py", "../baselines/common.py",
           "../baselines/fixed_offset.py", "../baselines/linear_inventory.py")


def sources_hash() -> str:
    h = hashlib.sha256()
    for rel in SOURCES:
        path = PACKAGE / rel
        if path.is_file():
            h.update(rel.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def invalidate_if_stale() -> bool:
    """Delete the cached engine loop when its sources changed; True when something was deleted."""
    cache_dir = PACKAGE / "engine" / "__pycache__"
    stamp = cache_dir / "alpha_as_engine_sources.hash"
    digest = sources_hash()
    try:
        if stamp.is_file() and stamp.read_text() == digest:
            return False
        removed = False
        for rel in ("engine/kernel.py", *SOURCES):
            src = PACKAGE / rel
            pycache = src.parent / "__pycache__"
            if not pycache.is_dir():
                continue
            for f in list(pycache.glob(f"{src.stem}.*.nbi")) + list(pycache.glob(f"{src.stem}.*.nbc")):
                f.unlink(missing_ok=True)
                removed = True
        cache_dir.mkdir(exist_ok=True)
        stamp.write_text(digest)
        return removed
    except OSError:  # a read-only install: numba falls back to its own cache location
        return False
