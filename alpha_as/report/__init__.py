"""The paper-style report of a results folder (``alpha-as report``): Tables 2-6 and an 8-like table, the
Kruskal-Wallis and post-hoc Mann-Whitney tests, the headline claims C1-C3 with bootstrap CIs, and plots.

Entry point: :func:`build_report`.
"""

from __future__ import annotations

from alpha_as.report.build import ReportResult, build, build_report
from alpha_as.report.load import Results, load_results

__all__ = ["ReportResult", "Results", "build", "build_report", "load_results"]
