"""Compile the engine's loops and the agents' decision loop into numba's on-disk cache once, before pytest-xdist's
workers start (tests/conftest.py calls :func:`warm` in the controller). On a clean checkout the cache is empty, and
without this both workers, and the subprocesses of the first end-to-end tests, compile the same functions at once
(a cold `make test` took 11.5 min against 6 min warm). With a warm cache it only loads them (a few seconds)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
import time


def warm(part: str = "all") -> float:
    """Replay a 6-minute synthetic day on the paper loop (AS) and the compiled decision loop (the random reference
    policy: the same compiled day loop as the agents) for ``part`` "paper", on the general loop (Hummingbot's AS)
    for "general", both for "all"; returns the seconds. (A cold compile here: about 100 s for "paper" and 80 s for
    "general", so :func:`warm_in_parallel` runs the two parts in two processes.)"""
    t0 = time.perf_counter()
    import numpy as np

    from alpha_as.agents.decision_loop import run_random
    from alpha_as.cli import main
    from alpha_as.data import store
    from alpha_as.engine import Backtest
    from alpha_as.strategies import ASParams
    from alpha_as.strategies.hummingbot_as import HummingbotASParams

    with tempfile.TemporaryDirectory(prefix="alpha-as-warm-") as root:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(["data", "synth", "--out", root, "--start", "2020-12-09", "--end", "2020-12-09",
                         "--hours", "0.1", "--workers", "1"])
        if code != 0:
            raise RuntimeError(f"warm-up: data synth exited {code}")
        day = store.load_window_day(root, "btcusdt_synth", store.parse_date("2020-12-09"), "all")
        if part in ("paper", "all"):
            Backtest(day, ASParams()).run()
            run_random(day, ASParams(), np.random.default_rng(0))
        if part in ("general", "all"):
            Backtest(day, HummingbotASParams()).run()
    return time.perf_counter() - t0


def warm_in_parallel() -> str:
    """:func:`warm`'s two parts in two processes at once; a one-line summary (a failure here is not a test's: the
    tests then compile what they need themselves)."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, __file__, part], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for part in ("paper", "general")]
    outs = [p.communicate()[0].strip().splitlines() for p in procs]
    failed = [f"{part}: {(out or ['no output'])[-1]}" for part, p, out in zip(("paper", "general"), procs, outs, strict=True)
              if p.returncode != 0]
    took = f"{time.perf_counter() - t0:.1f} s"
    return f"numba cache warm-up {took}" + (f" (failed: {'; '.join(failed)})" if failed else "")


if __name__ == "__main__":
    print(f"warm-up ({sys.argv[1] if len(sys.argv) > 1 else 'all'}): {warm(*sys.argv[1:2]):.1f} s")
