"""Parameter tuning: Gen-AS, the Avellaneda–Stoikov strategy (or any registered strategy with genes) tuned by a
genetic algorithm (spec §4)."""

from alpha_as.tuning.genas import DEFAULT_GENES, GAConfig, TuneResult, read_best_params, tune
from alpha_as.tuning.genes import default_genes

__all__ = ["DEFAULT_GENES", "GAConfig", "TuneResult", "default_genes", "read_best_params", "tune"]
