"""The paper-style report of a results folder (``alpha-as report``): Tables 2-6 and an 8-like table, the
Kruskal-Wallis and post-hoc Mann-Whitney tests, the headline claims C1-C3 with bootstrap CIs and paired
tests, and plots; beyond the paper, the marked-to-market indicators of every model, claim C2b (agents vs
the reference policies), the distance to the oracle (:mod:`alpha_as.report.beyond`) and the agents'
learning diagnostics (:mod:`alpha_as.report.learning`).

Entry point: :func:`build_report`.
"""

from __future__ import annotations

from alpha_as.report.build import ReportResult, build, build_report
from alpha_as.report.load import Results, load_results

__all__ = ["ReportResult", "Results", "build", "build_report", "load_results"]
