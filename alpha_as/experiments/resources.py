"""Peak memory of a run and of the worker processes it starts (Linux /proc; getrusage elsewhere)."""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


def _tree_rss_kb(root: int) -> tuple[int, int]:
    """(sum, max) resident set size in kB of ``root`` and all its descendants, from /proc."""
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
    total = peak = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        kb = rss.get(pid, 0)
        total += kb
        peak = max(peak, kb)
        stack.extend(children.get(pid, []))
    return total, peak


class PeakRSS:
    """Context manager sampling the process tree's RSS every ``interval`` s: ``peak_total_mb`` (all processes
    at once) and ``peak_process_mb`` (the largest single process, also from getrusage)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_total_kb = 0
        self.peak_process_kb = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc = Path("/proc/self/stat").exists()

    def sample(self) -> None:
        if self._proc:
            total, peak = _tree_rss_kb(os.getpid())
            self.peak_total_kb = max(self.peak_total_kb, total)
            self.peak_process_kb = max(self.peak_process_kb, peak)
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.peak_process_kb = max(self.peak_process_kb, own, kids)
        self.peak_total_kb = max(self.peak_total_kb, own)

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


def release_memory() -> None:
    """Collect garbage and hand the freed heap back to the OS (glibc ``malloc_trim``; a no-op elsewhere): a
    long-lived worker that loads one day after another otherwise keeps the high-water mark of every day."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
