"""The whole paper protocol at paper scale (features, GA, the baselines, the reference policies, the agents
trained + 30 test days, report), into a temporary folder, with the per-stage wall times (from timings.json) and
the peak memory.

    .venv/bin/python benchmarks/bench_replicate.py [--config experiments/paper.toml] [--keep DIR] [--until STAGE]

Targets (issue #6): <= 10 min wall on 2 cores, peak RSS of all processes together <= 2 GB. The store (data/) is
generated first if absent (about 15 s), outside the timed run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from alpha_as.experiments.protocol import load_protocol
from alpha_as.experiments.replicate import replicate, stage_data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="experiments/paper.toml")
    ap.add_argument("--keep", type=Path, help="write the results here instead of a temporary folder")
    ap.add_argument("--until", help="stop after this stage (e.g. references: everything before the agents)")
    args = ap.parse_args()
    p = load_protocol(args.config)
    stage_data(p, print, progress=False)  # outside the timing: a fresh machine generates the synthetic days first
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep.absolute() if args.keep else Path(tmp) / p.name
        t0 = time.perf_counter()
        rep = replicate(dataclasses.replace(p, out=out), force=True, progress=False, echo=lambda s: None,
                        until=args.until)
        wall = time.perf_counter() - t0
        timings = json.loads((out / "timings.json").read_text())
    print(f"{'stage':<11} {'status':<8} {'seconds':>8}")
    for stage, t in timings["stages"].items():
        print(f"{stage:<11} {t['status']:<8} {t['seconds']:>8.1f}")
    print(f"{'total':<11} {'':<8} {timings['total_seconds']:>8.1f}")
    print(f"replicate {p.name}: {wall:.1f} s wall (target <= 600 s), peak RSS {rep.peak_rss_mb:.0f} MB all "
          f"processes (target <= 2048 MB), {rep.peak_process_rss_mb:.0f} MB largest process")


if __name__ == "__main__":
    main()
