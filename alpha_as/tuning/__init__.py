"""Parameter tuning: Gen-AS, the Avellaneda–Stoikov strategy tuned by a genetic algorithm (spec §4)."""

from alpha_as.tuning.genas import DEFAULT_GENES, GAConfig, TuneResult, tune

__all__ = ["DEFAULT_GENES", "GAConfig", "TuneResult", "tune"]
