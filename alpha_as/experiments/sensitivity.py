"""``alpha-as replicate-sensitivity``: a base protocol run under several variants, then the robustness table.

A sensitivity file (``experiments/sensitivity.toml``) names a base protocol and lists its variants. Schema
(every key checked; one error line naming the file, the variant and the key)::

    [sensitivity]
    base = "experiments/paper.toml"   # the base protocol file (required)
    name = "sensitivity"              # default: the file's stem
    out = "results/sensitivity"       # default results/<name>; each variant writes <out>/<variant>/
    models = ["foic", "liic", ...]    # optional: the models of every variant (default: the base's)

    [[variant]]
    name = "benign"                   # [A-Za-z0-9_-]+, unique (required)
    description = "..."               # optional, shown in robustness.md
    synth = { informed = 0.0 }        # any table of the protocol file, merged key by key into the base's:
    engine = { fill_model = "queue" } #   protocol, engine, features, genas, agents, sound, baselines, synth
    baselines = { clamp = "on_grid" } #   (shared keys of both baselines; or baselines = { foic = {...} })

A variant without tables is the base as is. A variant's ``protocol`` table may not set ``name``, ``out`` or
``data``: the variants share the base's store (variants of the synthetic market get their own instrument in
it, :class:`~alpha_as.data.synthetic.SynthOptions`), and each has its own results folder
``<out>/<variant>/`` (``<out>-quick/<variant>/`` with ``--quick``) and the protocol name ``<base>-<variant>``.

Each variant is a full :func:`~alpha_as.experiments.replicate.replicate` — resumable exactly as ``alpha-as
replicate`` (its ``protocol.json`` refuses a changed variant unless ``--force``) — run one after the other.
Then :mod:`alpha_as.report.robustness` writes ``<out>/robustness.md`` and ``robustness.json`` from the variants'
``claims.json``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from alpha_as.atomic import check_out_dir
from alpha_as.errors import InputError
from alpha_as.experiments.config import NAME_RE, build, read_toml
from alpha_as.experiments.protocol import TABLES, Protocol, load_protocol, protocol_from_doc
from alpha_as.report.robustness import VariantInfo, changes_text, write_robustness

VARIANT_FIXED = ("name", "out", "data")
"""[protocol] keys a variant may not set."""


@dataclass(frozen=True)
class SensitivityTable:
    """The ``[sensitivity]`` table as written."""

    base: str
    """The base protocol file (relative to the current directory)."""
    name: str = ""
    """[A-Za-z0-9_-]+; default: the file's stem."""
    out: str = ""
    """Output folder; default results/<name>."""
    models: list[str] = field(default_factory=list)
    """The models of every variant; empty: the base protocol's."""


@dataclass(frozen=True)
class Variant:
    """A variant, resolved: its protocol and what it changes."""

    name: str
    description: str
    changes: dict
    """The variant's tables as written (merged into the base's)."""
    protocol: Protocol


@dataclass(frozen=True)
class Sensitivity:
    path: Path
    name: str
    base: Path
    out: Path
    variants: tuple[Variant, ...]


def merge(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` merged in, tables key by key (recursively); other values replaced."""
    out = copy.deepcopy(base)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _variant(raw: object, i: int, file: str, base_doc: dict, base_path: Path, sens: SensitivityTable,
             out: Path, base_name: str) -> Variant:
    if not isinstance(raw, dict):
        raise InputError(f"{file}: [[variant]] number {i + 1} must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InputError(f"{file}: [[variant]] number {i + 1}: key 'name' must be a name of letters, digits, '_' and "
                         f"'-', got {name!r}")
    src = f"{file} [[variant]] {name!r}"
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise InputError(f"{src}: key 'description' must be a string")
    changes = {k: v for k, v in raw.items() if k not in ("name", "description")}
    unknown = sorted(set(changes) - set(TABLES))
    if unknown:
        raise InputError(f"{src}: unknown key(s) {', '.join(unknown)}; known: name, description, {', '.join(TABLES)}")
    for k, v in changes.items():
        if not isinstance(v, dict):
            raise InputError(f"{src}: key {k!r} must be a table of the protocol's [{k}] keys, e.g. {k} = {{ ... }}")
    fixed = sorted(set(changes.get("protocol", {})) & set(VARIANT_FIXED))
    if fixed:
        raise InputError(f"{src}: protocol key(s) {', '.join(fixed)} are set by the sensitivity file, not by a variant")
    doc = copy.deepcopy(base_doc)
    if sens.models:
        doc["protocol"]["models"] = list(sens.models)
    doc = merge(doc, changes)
    doc["protocol"]["name"] = f"{base_name}-{name}"
    doc["protocol"]["out"] = str(out / name)
    doc["protocol"]["notes"] = [*doc["protocol"].get("notes", []),
                                f"Sensitivity variant '{name}' of {base_path} ({file}), changes: "
                                f"{changes_text(changes)}."]
    return Variant(name, description, changes, protocol_from_doc(doc, base_path, src))


def load_sensitivity(path: str | Path) -> Sensitivity:
    """Read and validate a sensitivity file and its base protocol; every problem is one InputError line."""
    path = Path(path)
    file = str(path)
    doc = read_toml(path, ("sensitivity", "variant"), "sensitivity file")
    if not isinstance(doc.get("sensitivity"), dict):
        raise InputError(f"{file}: missing table [sensitivity]")
    t = build(SensitivityTable, doc["sensitivity"], f"{file} [sensitivity]")
    name = t.name or path.stem
    if not NAME_RE.match(name):
        raise InputError(f"{file} [sensitivity]: bad name {name!r}: use letters, digits, '_' and '-' only")
    base_path = Path(t.base)
    base = load_protocol(base_path)  # the base alone first: its own errors name its own file
    base_doc = read_toml(base_path, TABLES, "protocol file")
    if t.models:  # checked as the base's models would be
        protocol_from_doc(merge(base_doc, {"protocol": {"models": list(t.models)}}), base_path,
                          f"{file} [sensitivity] models")
    raw = doc.get("variant", [])
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{file}: no variants: add at least one [[variant]] table")
    out = Path(t.out or f"results/{name}").absolute()
    variants = tuple(_variant(r, i, file, base_doc, base_path, t, out, base.name) for i, r in enumerate(raw))
    names = [v.name for v in variants]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"{file}: variant name(s) {', '.join(dup)} given twice")
    return Sensitivity(path, name, base_path, out, variants)


def with_overrides(s: Sensitivity, *, quick: bool = False, seeds: int | None = None, workers: int | None = None,
                   out: Path | None = None, executor: str | None = None,
                   ray_address: str | None = None) -> Sensitivity:
    """The command line's options applied to every variant (``--quick`` writes ``<out>-quick/<variant>/``)."""
    from alpha_as.experiments.replicate_cli import apply_overrides

    root = out.absolute() if out is not None else (s.out.with_name(s.out.name + "-quick") if quick else s.out)
    ns = argparse.Namespace(seeds=seeds, workers=workers, data=None, instrument=None, quick=quick, out=None,
                            executor=executor, ray_address=ray_address)
    variants = tuple(dataclasses.replace(v, protocol=dataclasses.replace(apply_overrides(v.protocol, ns),
                                                                         out=root / v.name)) for v in s.variants)
    return dataclasses.replace(s, out=root, variants=variants)


def run_sensitivity(s: Sensitivity, *, only: list[str] | None = None, force: bool = False, progress: bool = True,
                    echo: Callable[[str], None] = print, trust_data: bool = False) -> dict:
    """Run (or resume) the variants of ``s`` in order (those named in ``only``, default all), then write the
    robustness table over all of them (a variant not run has "not run" cells). Returns {variant: Replication}
    and "robustness": the path of robustness.md."""
    from alpha_as.experiments.replicate import replicate

    names = [v.name for v in s.variants]
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise InputError(f"--variants: unknown variant(s) {', '.join(unknown)}; the file has {', '.join(names)}")
    todo = [v for v in s.variants if not only or v.name in only]
    check_out_dir(s.out, "output folder")
    done: dict = {}
    from alpha_as.experiments.executors import keep_ray

    with keep_ray():  # with executor = "ray": one Ray instance for every variant
        for k, v in enumerate(todo):
            echo(f"=== variant {v.name} ({k + 1}/{len(todo)}): "
                 f"changes {changes_text(v.changes)} -> {v.protocol.out}")
            rep = replicate(v.protocol, force=force, progress=progress, echo=echo, trust_data=trust_data)
            echo(rep.table())
            done[v.name] = rep
    cols = [VariantInfo(v.name, v.protocol.out, v.description, v.changes, v.protocol.instrument) for v in s.variants]
    done["robustness"], _ = write_robustness(s.out, s.name, str(s.base), cols)
    return done
