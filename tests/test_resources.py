"""Memory accounting of a run (PeakRSS: RSS and PSS of the process tree, per-window peaks) and the allocator cap."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from alpha_as.experiments.resources import PeakRSS, _pss_kb, _tree_rss_kb

LINUX = Path("/proc/self/smaps_rollup").exists()


@pytest.mark.skipif(not LINUX, reason="/proc/PID/smaps_rollup is Linux's")
def test_tree_memory_counts_a_child_and_pss_never_exceeds_rss():
    alone, _, _ = _tree_rss_kb(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(64 << 20); time.sleep(30)"])
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            total, peak, pss = _tree_rss_kb(os.getpid(), pss=True)
            if total - alone > 60 * 1024:  # the child's 64 MB buffer is resident
                break
            time.sleep(0.1)
        assert total - alone > 60 * 1024, (alone, total)
        assert 0 < pss <= total and peak <= total
        assert 0 < _pss_kb(child.pid) <= total
    finally:
        child.kill()
        child.wait()
    assert _tree_rss_kb(os.getpid(), pss=False)[2] == 0  # PSS only when asked (it reads one more file per process)


@pytest.mark.skipif(not LINUX, reason="/proc/PID/smaps_rollup is Linux's")
def test_mark_returns_each_windows_own_peak():
    with PeakRSS(interval=0.05) as mem:
        mem.mark()
        big = np.ones(200 << 17)  # 200 MB of float64, touched
        time.sleep(0.2)
        rss_big, pss_big = mem.mark()
        del big
        time.sleep(0.2)
        rss_small, pss_small = mem.mark()
    assert rss_big - rss_small > 150, (rss_big, rss_small)
    assert 0 < pss_small <= rss_small and 0 < pss_big <= rss_big
    assert mem.peak_total_mb >= rss_big and mem.peak_pss_mb >= pss_big


def test_cap_mmap_threshold_is_accepted_by_glibc_and_a_no_op_elsewhere():
    code = ("import sys; from alpha_as.experiments.resources import cap_mmap_threshold as c; "
            "print(c(), c(1 << 19))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    glibc = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None
    assert out.stdout.split() == (["True", "True"] if glibc else ["False", "False"])
