"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the project (real market-data samples). CI has it; skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data samples not found at {SHARED_DATA}")
    return SHARED_DATA


_REPORT: list[str] = []


def report_line(text: str) -> None:
    """A finding that a test measures but does not assert (e.g. the paper preset on the toy markets): printed in
    the session's summary, so that every `make test` shows it."""
    _REPORT.append(text)


def pytest_terminal_summary(terminalreporter) -> None:
    if _REPORT:
        terminalreporter.section("measured, reported (not asserted: tests/test_toy_learning.py; counted: tests/test_bad_input_suite.py)")
        for line in _REPORT:
            terminalreporter.write_line(line)
