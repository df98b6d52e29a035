"""Peak memory of a run and of the worker processes it starts (Linux /proc; getrusage elsewhere)."""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


def _pss_kb(pid: int) -> int:
    """Proportional set size in kB of ``pid`` (its shared pages, e.g. the torch and LLVM libraries that every worker
    maps, counted once across the processes that share them), from /proc/PID/smaps_rollup; 0 when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _tree_rss_kb(root: int, pss: bool = False) -> tuple[int, int, int]:
    """(sum, max) resident set size in kB of ``root`` and all its descendants, and (``pss``) their summed
    proportional set size (0 otherwise), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, ValueError, IndexError):
            continue
        pid = int(d.name)
        children.setdefault(ppid, []).append(pid)
        rss[pid] = pages * PAGE_KB
    total = peak = pss_total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        kb = rss.get(pid, 0)
        total += kb
        peak = max(peak, kb)
        if pss and kb:
            pss_total += _pss_kb(pid)
        stack.extend(children.get(pid, []))
    return total, peak, pss_total


class PeakRSS:
    """Context manager sampling the process tree's memory every ``interval`` s: ``peak_total_mb`` (RSS of all
    processes at once; the libraries that every worker maps are counted once per process), ``peak_pss_mb`` (the
    same as proportional set sizes: shared pages counted once; Linux only, 0 elsewhere) and ``peak_process_mb``
    (the largest single process, also from getrusage). :meth:`mark` starts a window whose own peaks it returns
    (the per-stage figures)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_total_kb = 0
        self.peak_process_kb = 0
        self.peak_pss_kb = 0
        self._window = [0, 0]  # (RSS sum, PSS sum) peaks since the last mark()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc = Path("/proc/self/stat").exists()
        self._pss = Path("/proc/self/smaps_rollup").exists()

    def sample(self) -> None:
        total = peak = pss = 0
        if self._proc:
            total, peak, pss = _tree_rss_kb(os.getpid(), pss=self._pss)
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        with self._lock:
            self.peak_total_kb = max(self.peak_total_kb, total, own)
            self.peak_process_kb = max(self.peak_process_kb, peak, own, kids)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self._window = [max(self._window[0], total), max(self._window[1], pss)]

    def mark(self) -> tuple[float, float]:
        """(RSS sum, PSS sum) peaks in MB since the previous mark (or the start), then a new window."""
        self.sample()
        with self._lock:
            rss, pss = self._window
            self._window = [0, 0]
        return rss / 1024, pss / 1024

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakRSS:
        self.sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    @property
    def peak_total_mb(self) -> float:
        self.sample()
        return self.peak_total_kb / 1024

    @property
    def peak_process_mb(self) -> float:
        return self.peak_process_kb / 1024

    @property
    def peak_pss_mb(self) -> float:
        return self.peak_pss_kb / 1024


def _glibc(name: str):
    """glibc's function ``name`` (``malloc_trim``, ``mallopt``), or None where there is no glibc."""
    import ctypes

    try:
        return getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def release_memory() -> None:
    """Collect garbage and hand the freed heap back to the OS (glibc ``malloc_trim``; a no-op elsewhere): a
    long-lived worker that loads one day after another otherwise keeps the high-water mark of every day."""
    import gc

    gc.collect()
    if (trim := _glibc("malloc_trim")) is not None:
        trim(0)


MMAP_THRESHOLD = 1 << 20
"""Bytes: allocations from this size up get their own mapping, returned to the OS when freed."""


def cap_mmap_threshold(nbytes: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold (``mallopt(M_MMAP_THRESHOLD)``; a no-op elsewhere) for a process that trains
    networks: glibc otherwise raises the threshold to the largest block freed so far (up to 32 MB), after which
    torch's per-batch tensors come from the heap, whose top is rarely trimmed, and a long chain's heap grows to
    400-500 MB. Where an allocation comes from changes no result. True when it was set."""
    mallopt = _glibc("mallopt")
    return mallopt is not None and bool(mallopt(-3, int(nbytes)))  # M_MMAP_THRESHOLD = -3
