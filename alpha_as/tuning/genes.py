"""Gene tables of the GA (``alpha-as tune``): which fields of a registered strategy's parameter class can be genes,
their default ranges, and the parameters of a gene vector.

A gene is a numeric field of the strategy's frozen parameter dataclass: an ``int`` or ``float`` field (or a union of
numbers, e.g. ``int | float``, ``float | None``: a float gene). An ``int`` field keeps the raw float gene in the
GA's history and is rounded half up into [ceil(min), floor(max)] when the parameters are built; ``bool`` and
``str`` fields cannot be genes. The default gene table of a strategy is the registry's (``Strategy.genes``); for
AS :data:`DEFAULT_GENES` (``alpha_as.strategies.avellaneda_stoikov.GENES``, INFERRED: spec §9 #13).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing

import numpy as np

import alpha_as.engine  # noqa: F401 - before the strategies: importing those first is circular
from alpha_as.configs import from_dict
from alpha_as.errors import InputError
from alpha_as.strategies import registry
from alpha_as.strategies.avellaneda_stoikov import GENES as DEFAULT_GENES  # noqa: F401 - the AS table, by its GA name

DEFAULT_STRATEGY = "as"


@dataclasses.dataclass(frozen=True)
class ParamSpace:
    """The gene-able fields of one strategy's parameter class."""

    strategy: str
    cls: type
    numeric: tuple[str, ...]
    """Fields that can be genes, in declaration order."""
    ints: tuple[str, ...]
    """The integer ones among them (rounded half up)."""
    others: dict[str, str]
    """The other fields and their type names (bool, str, ...)."""


def _number_kind(hint: object) -> type | None:
    """int or float for a field that can be a gene, None otherwise (bool, str, a list, ...)."""
    if hint in (int, float):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if args and all(a in (int, float) for a in args):
            return int if set(args) == {int} else float
    return None


@functools.cache
def param_space(strategy: str = DEFAULT_STRATEGY) -> ParamSpace:
    """The :class:`ParamSpace` of a registered strategy (InputError for an unknown name)."""
    cls = registry.by_name(strategy).params_class
    hints = typing.get_type_hints(cls)
    kinds = {f.name: _number_kind(hints[f.name]) for f in dataclasses.fields(cls)}
    others = {n: getattr(hints[n], "__name__", str(hints[n])) for n, k in kinds.items() if k is None}
    return ParamSpace(strategy, cls, tuple(n for n, k in kinds.items() if k is not None),
                      tuple(n for n, k in kinds.items() if k is int), others)


def check_strategy(strategy: object, source: str = "GA config") -> None:
    """One InputError line naming the key when ``strategy`` is not a registered strategy's name."""
    if not isinstance(strategy, str) or strategy not in registry.names():
        known = ", ".join(registry.names())
        raise InputError(f"{source}: key 'strategy': unknown strategy {strategy!r}; known: {known}")


def default_genes(strategy: str = DEFAULT_STRATEGY) -> dict[str, list[float]]:
    """A copy of the strategy's default gene table (the registry's ``genes``). InputError, one line naming the
    strategy, when it has none."""
    return {k: list(v) for k, v in registry.by_name(strategy).gene_table.items()}


def build_params(d: dict, strategy: str = DEFAULT_STRATEGY, *, source: str) -> object:
    """The strategy's parameter object from a dict (unknown keys, wrong types and bad values: one line)."""
    cls = param_space(strategy).cls
    build = getattr(cls, "from_dict", None)  # the baselines' classes have none
    return build(d, source=source) if build is not None else from_dict(cls, d, source=source)


def params_dict(params: object) -> dict:
    """A parameter object as a dict (its ``to_dict`` where it has one)."""
    return params.to_dict() if hasattr(params, "to_dict") else dataclasses.asdict(params)


def base_params_of(base_params: dict, strategy: str = DEFAULT_STRATEGY) -> object:
    """The strategy's parameters with the fixed (non-gene) ``base_params`` over its defaults."""
    return build_params(base_params, strategy, source="GA base_params")


def check_gene_table(genes: dict, base_params: dict | None = None,
                     strategy: str = DEFAULT_STRATEGY) -> dict[str, tuple[float, float]]:
    """Validate a gene table of ``strategy``; InputError names the gene at fault. Returns {name: (min, max)}."""
    space = param_space(strategy)
    if not isinstance(genes, dict) or not genes:
        raise InputError("gene table: expected a non-empty object {name: [min, max]}")
    table: dict[str, tuple[float, float]] = {}
    for name, rng in genes.items():
        if name not in space.numeric:
            why = (f": {space.cls.__name__}.{name} is a {space.others[name]} field, and only int or float fields "
                   "can be genes" if name in space.others else "")
            raise InputError(f"gene table: unknown gene {name!r}{why}; allowed: {', '.join(space.numeric)}")
        ok = isinstance(rng, list | tuple) and len(rng) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in rng)
        if not ok:
            raise InputError(f"gene table: {name} must be [min, max] (two finite numbers), got {rng!r}")
        lo, hi = float(rng[0]), float(rng[1])
        if not lo < hi:
            raise InputError(f"gene table: {name} needs min < max, got [{rng[0]}, {rng[1]}]")
        if name in space.ints and math.ceil(lo) > math.floor(hi):
            raise InputError(f"gene table: integer gene {name} range [{lo}, {hi}] holds no integer")
        table[name] = (lo, hi)
    names, lo, hi = list(table), np.array([v[0] for v in table.values()]), np.array([v[1] for v in table.values()])
    base_params_of(base_params or {}, strategy)
    for what, probe in (("minima", lo), ("maxima", hi), ("midpoints", (lo + hi) / 2)):
        # the bounds and the middle must make valid parameters
        genes_to_params(probe, names, lo, hi, base_params or {}, source=f"gene table (the genes' {what})",
                        strategy=strategy)
    return table


def genes_to_params(genes, names, lo, hi, base_params: dict, *, source: str = "GA individual",
                    strategy: str = DEFAULT_STRATEGY):
    """The parameters of a gene vector: integer fields rounded half up into [ceil(min), floor(max)]."""
    d = dict(base_params)
    d.update({n: param_value(n, g, a, b, strategy) for n, g, a, b in zip(names, genes, lo, hi, strict=True)})
    return build_params(d, strategy, source=source)


def param_value(name: str, gene: float, lo: float, hi: float, strategy: str = DEFAULT_STRATEGY) -> int | float:
    """The parameter value of one gene: integer fields rounded half up into [ceil(lo), floor(hi)]."""
    if name in param_space(strategy).ints:
        return int(min(max(math.floor(float(gene) + 0.5), math.ceil(lo)), math.floor(hi)))
    return float(gene)

