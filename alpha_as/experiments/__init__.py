"""Experiments: sets of (model, day, seed) backtests described by a TOML file (``alpha-as runs``).

* :mod:`alpha_as.experiments.config` — the TOML schema (typed, validated; one error line per problem).
* :mod:`alpha_as.experiments.runner` — jobs, their atomic outputs and manifests, resume, the local and Ray
  executors, the summary.
"""

from alpha_as.experiments.config import Experiment, ModelSpec, load_config
from alpha_as.experiments.runner import Job, RunReport, plan_jobs, run_experiment

__all__ = ["Experiment", "Job", "ModelSpec", "RunReport", "load_config", "plan_jobs", "run_experiment"]
