"""``alpha-as replicate --config experiments/paper.toml``: the paper's protocol in one command;
``alpha-as replicate-sensitivity --config experiments/sensitivity.toml``: the protocol under several variants
(:mod:`alpha_as.experiments.sensitivity`).

Exit codes: 0 done, 2 bad input (one line on stderr). A rerun resumes where the previous one stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from alpha_as.data.validate import add_trust_argument
from alpha_as.errors import InputError

if TYPE_CHECKING:  # the CLI starts without loading the pipeline's modules
    from alpha_as.experiments.protocol import Protocol


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replicate", help="the paper's whole protocol: data, features, Gen-AS, Alpha-AS, test sessions, report",
        description="Run (or resume) the replication protocol of a protocol file: data (the synthetic market is "
        "generated if absent), feature selection on the FI session, the Gen-AS GA and the Alpha-AS training on the "
        "training session (and the GA of each -tuned strategy), the models on the test sessions (baselines, Gen-AS, "
        "Hummingbot's AS and GLFT when listed, the reference policies, the agents), "
        "then the report (report.md, claims.json, tables/, plots/) and timings.json under the protocol's out folder.",
    )
    p.add_argument("--config", required=True, type=Path, help="protocol file (TOML), e.g. experiments/paper.toml")
    p.add_argument("--quick", action="store_true",
                   help="CI variant: each session cut to at most its first hour inside its own window, 3 test "
                   "sessions, a small GA, 2 training iterations (writes <out>-quick)")
    p.add_argument("--seeds", type=int, metavar="N", help="repeat the stochastic stages with seeds 0..N-1")
    p.add_argument("--data", type=Path, help="store root of your own data (authors' layout); overrides the file")
    p.add_argument("--instrument", help="instrument in the store; overrides the file")
    p.add_argument("--out", type=Path, help="output folder (overrides the file)")
    p.add_argument("--workers", type=int, help="processes (0 = number of cores; overrides the file)")
    add_executor_arguments(p)
    p.add_argument("--until", metavar="STAGE", help="stop after this stage (data, features, genas, baselines, references, agents)")
    p.add_argument("--force", action="store_true", help="delete the earlier results in the out folder and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_trust_argument(p)
    p.set_defaults(func=_cmd_replicate)

    s = sub.add_parser(
        "replicate-sensitivity", help="the protocol under several variants (market, fills, baselines), then the "
        "robustness table of the claims",
        description="Run (or resume) each variant of a sensitivity file as its own full replication (results in "
        "<out>/<variant>/, resumable like `alpha-as replicate`, all sharing the base protocol's data store), then "
        "write <out>/robustness.md and robustness.json: each claim's verdict and key figure in each variant.",
    )
    s.add_argument("--config", required=True, type=Path, help="sensitivity file (TOML), e.g. experiments/sensitivity.toml")
    s.add_argument("--quick", action="store_true", help="every variant in the CI variant of `replicate --quick` "
                   "(writes <out>-quick/<variant>/)")
    s.add_argument("--variants", metavar="A,B", help="run only these variants (the table still lists every one)")
    s.add_argument("--seeds", type=int, metavar="N", help="repeat the stochastic stages with seeds 0..N-1")
    s.add_argument("--out", type=Path, help="output folder (overrides the file)")
    s.add_argument("--workers", type=int, help="processes (0 = number of cores; overrides the protocol)")
    add_executor_arguments(s)
    s.add_argument("--force", action="store_true", help="delete each variant's earlier results and start over")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_trust_argument(s)
    s.set_defaults(func=_cmd_sensitivity)


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    from alpha_as.experiments.executors import EXECUTORS

    p.add_argument("--executor", choices=EXECUTORS, help="where the stages' tasks run: local process pools or Ray "
                   "(overrides [protocol] executor)")
    p.add_argument("--ray-address", metavar="ADDR", help="the Ray cluster to connect to, e.g. auto or "
                   "ray://head:10001 (overrides [protocol] ray_address; implies --executor ray)")


def apply_overrides(p: Protocol, args: argparse.Namespace) -> Protocol:
    """The protocol with the command line's overrides applied."""
    import os

    from alpha_as.experiments.protocol import quick

    changes: dict = {}
    if args.seeds is not None:
        if args.seeds < 1:
            raise InputError(f"--seeds must be >= 1, got {args.seeds}")
        changes["seeds"] = tuple(range(args.seeds))
    if args.workers is not None:
        if args.workers < 0:
            raise InputError("--workers must be >= 0 (0 = number of cores)")
        changes["workers"] = args.workers or (os.cpu_count() or 1)
    if getattr(args, "executor", None) is not None:
        changes["executor"] = args.executor
    if getattr(args, "ray_address", None):
        changes["ray_address"] = args.ray_address
        if getattr(args, "executor", None) == "local":
            raise InputError("--ray-address needs the ray executor (not --executor local)")
        changes["executor"] = "ray"
    if args.data is not None or args.instrument is not None:
        data = args.data.absolute() if args.data is not None else p.data
        instrument = args.instrument or p.instrument
        if not data.is_dir():
            raise InputError(f"--data {data}: no such folder")
        own = data != p.data or instrument != p.instrument
        if own:
            from alpha_as.data.synthetic.calibration import SynthOptions

            changes.update(data=data, instrument=instrument, synthetic=False, synth=SynthOptions(),
                           data_note=f"Market data: instrument {instrument} from the store {data} (authors' parquet "
                           f"layout), run with the protocol of {p.path}.")
    p = dataclasses.replace(p, **changes)
    if args.quick:
        p = quick(p)
    if args.out is not None:
        p = dataclasses.replace(p, out=args.out.absolute())
    return p


def _cmd_replicate(args: argparse.Namespace) -> int:
    from alpha_as.experiments.protocol import load_protocol
    from alpha_as.experiments.replicate import replicate

    p = apply_overrides(load_protocol(args.config), args)
    rep = replicate(p, force=args.force, progress=not args.no_progress, until=args.until,
                    trust_data=args.trust_data)
    print(rep.table())
    print(f"wrote {p.out / 'timings.json'}")
    report = p.out / "report.md"
    if report.is_file() and rep.status.get("report") == "ran":
        print(f"report: {report}")
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from alpha_as.experiments.sensitivity import load_sensitivity, run_sensitivity, with_overrides

    s = with_overrides(load_sensitivity(args.config), quick=args.quick, seeds=args.seeds, workers=args.workers,
                       out=args.out, executor=args.executor, ray_address=args.ray_address)
    only = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
    done = run_sensitivity(s, only=only, force=args.force, progress=not args.no_progress, trust_data=args.trust_data)
    print(f"{'variant':<20} {'ran':<40} {'seconds':>8}")
    for v in s.variants:
        rep = done.get(v.name)
        if rep is not None:
            ran = ", ".join(k for k, st in rep.status.items() if st == "ran") or "-"
            print(f"{v.name:<20} {ran:<40} {rep.total_seconds:>8.1f}")
    print(f"robustness: {done['robustness']}")
    return 0
