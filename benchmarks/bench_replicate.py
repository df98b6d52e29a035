"""The whole paper protocol at paper scale (features, GA, 2 agents trained + 30 test days x 5 models, report),
into a temporary folder, with the stage timings and the peak memory.

    .venv/bin/python benchmarks/bench_replicate.py [--config experiments/paper.toml] [--keep DIR]

Targets (issue #6): <= 10 min wall on 2 cores, peak RSS of all processes together <= 2 GB. The store (data/) is
generated first if absent (about 15 s), outside the timed run.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from alpha_as.experiments.protocol import load_protocol
from alpha_as.experiments.replicate import replicate, stage_data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="experiments/paper.toml")
    ap.add_argument("--keep", type=Path, help="write the results here instead of a temporary folder")
    args = ap.parse_args()
    p = load_protocol(args.config)
    stage_data(p, print, progress=False)  # outside the timing: a fresh machine generates the synthetic days first
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep.absolute() if args.keep else Path(tmp) / p.name
        t0 = time.perf_counter()
        rep = replicate(dataclasses.replace(p, out=out), force=True, progress=False, echo=lambda s: None)
        wall = time.perf_counter() - t0
    print(rep.table())
    print(f"replicate {p.name}: {wall:.1f} s wall (target <= 600 s), peak RSS {rep.peak_rss_mb:.0f} MB all "
          f"processes (target <= 2048 MB), {rep.peak_process_rss_mb:.0f} MB largest process")


if __name__ == "__main__":
    main()
