"""The one place strategies are registered: name → parameter dataclass and compiled quote function.

The engine has two compiled loops (:mod:`alpha_as.engine.kernel`): the paper's (one order per side, quotes at every
snapshot, no hooks) calls ``dispatch.quote(kind, params, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i)``; the general
one (:mod:`alpha_as.engine.kernel_general`: order levels, a strategy clock, hooks), for strategies registered with
``general=True``, calls ``dispatch.quote_general`` and, for the strategies that have them, ``dispatch.on_trade``
and ``dispatch.on_fill``. These are if-chains over the registered
strategies generated from :data:`BUILTIN` into ``alpha_as/strategies/dispatch.py`` (committed;
``python -m alpha_as.strategies.registry`` rewrites it, and a test checks it is current). A strategy's kind is
its position in the registry + 1 (0 = no strategy). Generated code keeps numba's on-disk cache usable: the
loop is compiled once per registry, with the quote functions inlined, as fast as a hand-written branch.

**Strategies outside the package** (plugins, tests): set ``ALPHA_AS_STRATEGIES="pkg.module:NAME,..."`` (each
``NAME`` a :class:`Strategy`) *and* a separate ``NUMBA_CACHE_DIR`` before the engine is imported. The dispatch
of the extended registry is then generated under that cache folder and the loop compiled against it; the
separate cache keeps it apart from the package's own compiled loop.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from alpha_as.errors import InputError

ENV = "ALPHA_AS_STRATEGIES"
DISPATCH_FILE = Path(__file__).with_name("dispatch.py")


@dataclass(frozen=True)
class Strategy:
    """A registered strategy."""

    name: str
    """Its name on the command line and in config files (``alpha-as run NAME``, ``kind = "NAME"``)."""
    params: str
    """``module:Class`` of its frozen parameter dataclass (``from_dict``/``to_dict``/``to_array``)."""
    quote: str
    """``module:function`` of its compiled quote function (signature in :mod:`alpha_as.strategies.base`)."""
    inlines: tuple[str, ...] = ()
    """Modules whose compiled functions the quote function inlines (numba's cache does not track them; the
    engine's cache check does: :mod:`alpha_as.engine.jitcache`)."""
    on_trade: str = ""
    """``module:function``, optional: compiled ``on_trade(params, ss, t, price, qty, side, tick)`` called for every
    public trade, in time order, before it is matched against our orders (``side`` +1 buyer, −1 seller, 0 unknown)."""
    on_fill: str = ""
    """``module:function``, optional: compiled ``on_fill(params, ss, t, side, level, price, qty, fee)`` called after
    each fill of one of our orders (side 0 bid, 1 ask; ``fee`` in quote currency, > 0 paid)."""
    keep_after_fill: bool = False
    """False (the paper's engine, the authors' ``unquoteSide``): after a fill the rest of that side is cancelled and
    requoted at the next snapshot. True (Hummingbot, hftbacktest): a partly filled order stays live."""
    genes: str = ""
    """``module:NAME``, optional: the strategy's default gene table ``{field: [min, max]}`` for ``alpha-as tune``."""
    general: bool = False
    """True: the strategy runs in the general loop (needed for hooks, ``keep_after_fill``, several order levels per
    side or a strategy clock). False: the paper's loop (one order per side, a quote at every snapshot), which is
    faster and inlines only the strategies registered without ``general``."""

    def __post_init__(self) -> None:
        if (self.on_trade or self.on_fill or self.keep_after_fill) and not self.general:
            raise InputError(f"strategy {self.name!r}: on_trade, on_fill and keep_after_fill need general=True "
                             "(they exist in the general loop only)")

    @property
    def params_class(self) -> type:
        module, name = self.params.split(":")
        return getattr(importlib.import_module(module), name)

    @property
    def gene_table(self) -> dict[str, list[float]]:
        """The default gene table (``genes``); an InputError line when the strategy has none."""
        if not self.genes:
            raise InputError(f"strategy {self.name!r} has no gene table: give [genes] in the GA config")
        module, name = self.genes.split(":")
        return dict(getattr(importlib.import_module(module), name))


BUILTIN: tuple[Strategy, ...] = (
    Strategy("as", "alpha_as.strategies.avellaneda_stoikov:ASParams", "alpha_as.strategies.avellaneda_stoikov:quote",
             genes="alpha_as.strategies.avellaneda_stoikov:GENES"),
    Strategy("fixed", "alpha_as.strategies.fixed_quoter:FixedQuoterParams", "alpha_as.strategies.fixed_quoter:quote"),
    Strategy("foic", "baselines.fixed_offset:FOICParams", "baselines.fixed_offset:quote", ("baselines.common",)),
    Strategy("liic", "baselines.linear_inventory:LIICParams", "baselines.linear_inventory:quote", ("baselines.common",)),
    Strategy("hummingbot-as", "alpha_as.strategies.hummingbot_as:HummingbotASParams",
             "alpha_as.strategies.hummingbot_engine:quote",
             ("alpha_as.strategies.hummingbot_as", "alpha_as.strategies.hummingbot_estimators"),
             on_trade="alpha_as.strategies.hummingbot_engine:on_trade",
             on_fill="alpha_as.strategies.hummingbot_engine:on_fill", keep_after_fill=True,
             genes="alpha_as.strategies.hummingbot_as:GENES", general=True),
    Strategy("glft", "alpha_as.strategies.glft:GLFTParams", "alpha_as.strategies.glft_engine:quote",
             ("alpha_as.strategies.glft", "alpha_as.strategies.glft_calibration"),
             on_trade="alpha_as.strategies.glft_engine:on_trade", keep_after_fill=True,
             genes="alpha_as.strategies.glft:GENES", general=True),
    Strategy("depth", "alpha_as.strategies.depth_quoter:DepthQuoterParams", "alpha_as.strategies.depth_quoter:quote"),
)
"""The package's strategies, in kind order (kind = index + 1); append new ones at the end."""


def _extras() -> tuple[Strategy, ...]:
    out = []
    for item in filter(None, (x.strip() for x in os.environ.get(ENV, "").split(","))):
        module, _, attr = item.partition(":")
        try:
            s = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise InputError(f"{ENV}: cannot load {item!r} ({e})") from None
        if not isinstance(s, Strategy):
            raise InputError(f"{ENV}: {item!r} is not an alpha_as.strategies.registry.Strategy")
        out.append(s)
    return tuple(out)


STRATEGIES: tuple[Strategy, ...] = BUILTIN + _extras()
"""Every registered strategy, in kind order."""
_names = [s.name for s in STRATEGIES]
if len(set(_names)) != len(_names):
    raise InputError(f"{ENV}: strategy names must be unique, got {', '.join(_names)}")


def names() -> list[str]:
    return [s.name for s in STRATEGIES]


def by_name(name: str) -> Strategy:
    for s in STRATEGIES:
        if s.name == name:
            return s
    raise InputError(f"unknown strategy {name!r}; known: {', '.join(names())}")


def kind_of(params: object) -> int:
    """The loop's kind for a parameter object (its class registered), 0 for None."""
    if params is None:
        return 0
    for k, s in enumerate(STRATEGIES, start=1):
        if type(params) is s.params_class:
            return k
    raise TypeError(f"unknown strategy parameters {type(params).__name__} (not in alpha_as.strategies.registry)")


def _module_fn(ref: str) -> tuple[str, str]:
    module, fn = ref.split(":")
    return module, fn


def dispatch_source(strategies: tuple[Strategy, ...]) -> str:
    """The source of the dispatch module for ``strategies``: ``quote`` (the paper loop's strategies),
    ``quote_general`` (the general loop's), ``on_trade`` and ``on_fill``, each an if-chain over the strategies that
    have that function."""
    lines = ['"""Generated by ``python -m alpha_as.strategies.registry`` from the strategy registry: do not edit."""',
             "", "# ruff: noqa: I001", "from numba import njit", "", "from alpha_as.strategies.base import Q_NONE"]
    hooks = {"quote": [], "quote_general": [], "on_trade": [], "on_fill": []}
    for k, s in enumerate(strategies, start=1):
        for hook in ("quote", "on_trade", "on_fill"):
            ref = getattr(s, hook)
            if ref:
                module, fn = _module_fn(ref)
                lines.append(f"from {module} import {fn} as {hook}_{k}")
                key = "quote_general" if hook == "quote" and s.general else hook
                hooks[key].append((k, s.name))
    quote_args = "params, si, sf, orders, mids, kq, ss, t, bid0, ask0, tick, bid_px, ask_px, i"
    signatures = {
        "quote": (quote_args, "The quotes of the registered strategy ``kind`` of the paper loop (see "
                  "alpha_as.strategies.base).", "return Q_NONE, 0.0, 0.0, 0.0, 0.0"),
        "quote_general": (quote_args, "The quotes of the registered strategy ``kind`` of the general loop.",
                          "return Q_NONE, 0.0, 0.0, 0.0, 0.0"),
        "on_trade": ("params, ss, t, price, qty, side, tick", "A public trade, for the strategies that watch trades "
                     "(ss: the strategy's state).", "return"),
        "on_fill": ("params, ss, t, side, level, price, qty, fee", "One of our fills, for the strategies that "
                    "watch them.", "return"),
    }
    for hook, (args, doc, default) in signatures.items():
        # the quote functions are inlined into their loop; the hooks are called (one small call site each)
        quote = hook.startswith("quote")
        deco = "@njit(cache=True, inline=\"always\")" if quote else "@njit(cache=True)"
        lines += ["", "", deco, f"def {hook}(kind, {args}):", f'    """{doc}"""']
        for j, (k, name) in enumerate(hooks[hook]):
            call = f"{'quote' if quote else hook}_{k}({args})"
            lines += [f"    {'if' if j == 0 else 'elif'} kind == {k}:  # {name}",
                      f"        return {call}" if quote else f"        {call}"]
        lines.append(f"    {default}")
    lines.append("")
    return "\n".join(lines)


def _extended_file(source: str) -> Path:
    cache = os.environ.get("NUMBA_CACHE_DIR")
    if not cache:
        raise InputError(f"{ENV} is set: set NUMBA_CACHE_DIR too (a folder of its own), so that the engine compiled "
                         "for the extended registry is cached apart from the package's")
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    path = Path(cache) / "alpha_as_dispatch" / f"dispatch_{digest}.py"
    if not path.is_file() or path.read_text() != source:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    return path


def dispatch_path() -> Path:
    """The dispatch module's file for the current registry."""
    return DISPATCH_FILE if STRATEGIES == BUILTIN else _extended_file(dispatch_source(STRATEGIES))


def dispatch_module() -> ModuleType:
    """The compiled dispatch of the current registry (the package's own module for the built-in registry)."""
    if STRATEGIES == BUILTIN:
        return importlib.import_module("alpha_as.strategies.dispatch")
    path = dispatch_path()
    name = f"alpha_as_dispatch_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    """Rewrite ``alpha_as/strategies/dispatch.py`` from :data:`BUILTIN`."""
    DISPATCH_FILE.write_text(dispatch_source(BUILTIN))
    print(f"wrote {DISPATCH_FILE} ({len(BUILTIN)} strategies)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
