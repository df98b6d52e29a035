"""Strategies compiled into the engine loop: Avellaneda-Stoikov and a fixed two-sided quoter."""

from alpha_as.strategies.avellaneda_stoikov import ASParams
from alpha_as.strategies.fixed_quoter import FixedQuoterParams

__all__ = ["ASParams", "FixedQuoterParams"]
