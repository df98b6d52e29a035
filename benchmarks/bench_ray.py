"""Ray scaling of ``alpha-as replicate``'s agents stage (issue #16 §3): the same agent chains on a local Ray instance
of 1 CPU, then of 2 CPUs; the speed-up = stage wall(1) / wall(2). Target: >= 1.8x.

    .venv/bin/python benchmarks/bench_ray.py [--config experiments/paper.toml] [--data DIR] [--seeds 2]
                                             [--models alpha-as-1] [--iterations 8] [--repeat N] [--full]
                                             [--keep DIR]

The protocol (default: the paper's, ``--quick`` unless ``--full``) is cut to FOIC, Gen-AS and the agent models of
``--models`` on ``--seeds`` seeds (default: alpha-as-1 on 2 seeds: two chains of about the same length, so that
two workers can halve the stage), each chain trained for ``--iterations`` iterations. Everything before the agents stage is prepared once on the local executor,
outside the timing; then each run starts its Ray instance (outside the timing), copies the prepared folder and
times the agents stage alone (Ray's workers start inside it, as in a replication). The two runs' session files
are compared byte for byte. A machine check first says how much parallel CPU the machine gives right now (two
spinning processes against one): on a machine shared with other work, the speed-up is bounded by it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import filecmp
import shutil
import tempfile
import time
from pathlib import Path

from alpha_as.experiments.protocol import load_protocol, quick
from alpha_as.experiments.replicate import replicate, stage_data


def _spin(seconds: float) -> int:
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        n += 1
    return n


def free_cores(seconds: float = 2.0) -> float:
    """How much more CPU-bound work two processes do than one, now: ~2 on an idle 2-core machine, ~1 when
    other processes hold a core (then no executor can scale from 1 to 2 workers)."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_spin, [0.1, 0.1]))  # both workers started
        one = pool.submit(_spin, seconds).result()
        two = sum(pool.map(_spin, [seconds, seconds]))
    return two / one


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="experiments/paper.toml")
    ap.add_argument("--data", type=Path, help="store root (default: the protocol's)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--models", default="alpha-as-1", help="agent models, comma-separated")
    ap.add_argument("--iterations", type=int, default=8,
                    help="training iterations of each chain (default 8; --quick's 2 make chains too short to time)")
    ap.add_argument("--full", action="store_true", help="the protocol as written, not its --quick variant")
    ap.add_argument("--repeat", type=int, default=1, help="time each worker count this many times (alternating) "
                    "and keep the fastest: on a shared machine, the least disturbed run")
    ap.add_argument("--executor", choices=("ray", "local"), default="ray",
                    help="local: the same on the local process pools, for comparison")
    ap.add_argument("--keep", type=Path, help="work here instead of a temporary folder")
    args = ap.parse_args()
    from alpha_as.experiments.executors import ray_session
    from alpha_as.experiments.replicate_agents import stage_agents

    p = load_protocol(args.config)
    agents = [m.strip() for m in args.models.split(",") if m.strip()]
    p = dataclasses.replace(p, models=("foic", "gen-as", *agents), seeds=tuple(range(args.seeds)),
                            **({"data": args.data.absolute()} if args.data else {}))
    if not args.full:
        p = quick(p)
    stage_data(p, print, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep.absolute() if args.keep else Path(tmp)
        prep = root / "prepared"
        t0 = time.perf_counter()
        replicate(dataclasses.replace(p, out=prep, executor="local"), progress=False, echo=lambda s: None,
                  until="references")  # resumes (skips) a prepared --keep folder
        print(f"prepared the stages before the agents in {time.perf_counter() - t0:.1f} s")
        print(f"machine check: 2 processes do {free_cores():.2f}x the CPU-bound work of 1 (an idle 2-core machine: "
              "~2x)")
        walls: dict[int, float] = {}
        for workers in (1, 2) * max(1, args.repeat):
            out = root / f"ray-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            shutil.copytree(prep, out)
            q = dataclasses.replace(p, out=out, executor=args.executor, workers=workers,
                                    agents={**p.agents, "iterations": args.iterations})
            with ray_session(workers, None) if args.executor == "ray" else contextlib.nullcontext():
                t0 = time.perf_counter()  # Ray started as a replication starts it, outside the timing
                stage_agents(q, lambda s: None, progress=False)
                wall = time.perf_counter() - t0
            walls[workers] = min(wall, walls.get(workers, wall))
            print(f"agents stage, {len(agents) * args.seeds} chain(s) ({', '.join(agents)} x {args.seeds} seed(s), "
                  f"{args.iterations} training iterations + {len(p.test)} test sessions each), {args.executor} "
                  f"executor with {workers} worker(s): {wall:.1f} s")
        files = sorted(f.relative_to(root / "ray-1") for f in (root / "ray-1" / "runs").rglob("*.parquet")
                       if any(f.parts[-4] == a for a in agents))
        same = all(filecmp.cmp(root / "ray-1" / f, root / "ray-2" / f, shallow=False) for f in files)
        print(f"fastest: {walls[1]:.1f} s (1 worker), {walls[2]:.1f} s (2 workers); "
              f"speed-up 1 -> 2 {args.executor} workers: {walls[1] / walls[2]:.2f}x (target >= 1.8x); the {len(files)} session "
              f"files of the two runs are {'identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
