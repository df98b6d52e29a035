"""The two non-AS baselines of the paper (spec §5, after Gašperov & Kostanjčar 2021), compiled into the
engine loop: fixed offset with inventory constraints (FOIC) and linear in inventory with inventory
constraints (LIIC)."""

from baselines.fixed_offset import FOICParams
from baselines.linear_inventory import LIICParams

__all__ = ["FOICParams", "LIICParams"]
