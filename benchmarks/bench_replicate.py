"""The whole paper protocol at paper scale (features, GA, the baselines, the reference policies, the agents
trained + 30 test days, report), into a temporary folder, with the per-stage wall times and memory peaks (from
timings.json) and the peak memory of the run.

    .venv/bin/python benchmarks/bench_replicate.py [--config experiments/paper.toml] [--seeds N] [--keep DIR]
        [--until STAGE]

``--seeds N`` runs seeds 0..N-1 instead of the config's. Targets (issue #16, 2 cores): 3 seeds <= 5 min wall and
<= 2 GB peak RSS of all processes together; 10 seeds <= 15 min. (Issue #6: the config's one seed <= 10 min.)
RSS counts the libraries every worker maps (torch, LLVM) once per process; PSS counts shared pages once. The store
(data/) is generated first if absent (about 15 s), outside the timed run.
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

TARGET_S = {1: 600, 3: 300, 10: 900}
"""Wall-time targets by number of seeds (issues #6 and #16)."""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="experiments/paper.toml")
    ap.add_argument("--seeds", type=int, help="run seeds 0..N-1 (default: the config's seeds)")
    ap.add_argument("--keep", type=Path, help="write the results here instead of a temporary folder")
    ap.add_argument("--until", help="stop after this stage (e.g. references: everything before the agents)")
    args = ap.parse_args()
    p = load_protocol(args.config)
    if args.seeds is not None:
        if args.seeds < 1:
            ap.error("--seeds must be >= 1")
        p = dataclasses.replace(p, seeds=tuple(range(args.seeds)))
    stage_data(p, print, progress=False)  # outside the timing: a fresh machine generates the synthetic days first
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep.absolute() if args.keep else Path(tmp) / p.name
        t0 = time.perf_counter()
        rep = replicate(dataclasses.replace(p, out=out), force=True, progress=False, echo=lambda s: None,
                        until=args.until)
        wall = time.perf_counter() - t0
        timings = json.loads((out / "timings.json").read_text())
    print(f"{'stage':<11} {'status':<8} {'seconds':>8} {'RSS MB':>7} {'PSS MB':>7}")
    for stage, t in timings["stages"].items():
        print(f"{stage:<11} {t['status']:<8} {t['seconds']:>8.1f} {t['peak_rss_mb']:>7.0f} {t['peak_pss_mb']:>7.0f}")
    print(f"{'total':<11} {'':<8} {timings['total_seconds']:>8.1f}")
    n = len(p.seeds)
    target = f" (target <= {TARGET_S[n]} s)" if n in TARGET_S else ""
    print(f"replicate {p.name}, {n} seed(s): {wall:.1f} s wall{target}, peak RSS {rep.peak_rss_mb:.0f} MB all "
          f"processes (target <= 2048 MB), {rep.peak_process_rss_mb:.0f} MB largest process, peak PSS "
          f"{rep.peak_pss_mb:.0f} MB all processes")


if __name__ == "__main__":
    main()
