"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

# One intra-op thread for torch and the BLAS, as the agents run (AlphaASConfig.torch_threads = 1, the workers set 1):
# the tests that drive DQNAgent directly would otherwise run on torch's default (every core) or on whatever thread
# count an earlier test left behind (results that depend on the test order), and torch's spinning threads on these
# small networks make a fit up to 10x slower on a loaded 2-core machine. Subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the project (real market-data samples). CI has it; skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data samples not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_configure(config) -> None:
    import torch

    torch.set_num_threads(1)
    # pytest-xdist's controller (``make test``): fill numba's on-disk cache once before the workers start, so that they
    # and their subprocesses load the compiled loops instead of each compiling them (tests/warm_cache.py)
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        from tests.warm_cache import warm_in_parallel

        _REPORT.append(warm_in_parallel())


_REPORT: list[str] = []


def report_line(text: str) -> None:
    """A finding that a test measures but does not assert (e.g. the paper preset on the toy markets): printed in
    the session's summary, so that every `make test` shows it."""
    _REPORT.append(text)


def pytest_sessionfinish(session) -> None:
    """Under pytest-xdist (``make test`` runs two workers): a worker hands its report lines to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["alpha_as_report"] = list(_REPORT)


_FROM_WORKERS: dict[str, list[str]] = {}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """The controller collects each worker's report lines (printed by worker, in each worker's order)."""
    _FROM_WORKERS[node.gateway.id] = list(getattr(node, "workeroutput", {}).get("alpha_as_report", []))


def pytest_terminal_summary(terminalreporter) -> None:
    for worker in sorted(_FROM_WORKERS):
        _REPORT.extend(_FROM_WORKERS[worker])
    if _REPORT:
        terminalreporter.section("measured, reported (not asserted: tests/test_toy_learning.py; counted: tests/test_bad_input_suite.py)")
        for line in _REPORT:
            terminalreporter.write_line(line)
