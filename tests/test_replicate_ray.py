"""``alpha-as replicate`` on Ray (issue #16 §3): a tiny protocol on a local 2-worker Ray instance gives the local
executor's tables byte for byte, also after a ``kill -9`` and a resume; bad executor settings are one line.

One Ray instance serves the module (started here, ~5-10 s); the killed run is another driver connected to it
with ``--ray-address``; the resumed one runs in this process on that instance."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alpha_as.cli import main
from alpha_as.experiments.protocol import load_protocol
from alpha_as.experiments.replicate import replicate

DAYS = ("2020-12-07", "2020-12-08", "2020-12-09", "2020-12-10")
TABLES = ("sharpe", "sortino", "max_drawdown", "pnl_to_map")
PROTOCOL = """[protocol]
name = "tiny"
data = "{data}"
instrument = "btcusdt_synth"
out = "{out}"
window = "07:00-07:12"
fi = "2020-12-07"
train = "2020-12-08"
test = ["2020-12-09", "2020-12-10"]
models = ["foic", "gen-as", "alpha-as-1", "random", "constant-train"]
seeds = [0, 1]
{extra}
[features]
enabled = false

[genas]
generations = 2
population = 4

[agents]
iterations = 1
runs = 1
epochs = 2
"""


def protocol_file(path: Path, data: Path, out: Path, extra: str = "") -> Path:
    path.write_text(PROTOCOL.format(data=data, out=out, extra=extra))
    return path


@pytest.fixture(scope="module")
def ray_address():
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:  # as the executors start a local instance: workers at niceness 0
        os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The store (four 12-minute days) and the tiny protocol's results on the local executor, in this process
    (one worker: the agent chains one after the other)."""
    tmp = tmp_path_factory.mktemp("replicate_ray")
    data = tmp / "store"
    assert main(["data", "synth", "--out", str(data), "--start", DAYS[0], "--end", DAYS[-1], "--hours", "0.2",
                 "--workers", "2"]) == 0
    cfg = protocol_file(tmp / "tiny.toml", data, tmp / "local", extra="workers = 1")
    replicate(load_protocol(cfg), progress=False, echo=lambda s: None)
    return {"tmp": tmp, "data": data, "out": tmp / "local"}


def assert_same_results(out: Path, whole: Path) -> None:
    for name in TABLES:
        assert (out / "tables" / f"{name}.csv").read_bytes() == (whole / "tables" / f"{name}.csv").read_bytes(), name
    assert (out / "claims.json").read_bytes() == (whole / "claims.json").read_bytes()
    assert (out / "references" / "seed=1" / "constant_train.json").read_bytes() == \
        (whole / "references" / "seed=1" / "constant_train.json").read_bytes()
    runs = sorted(p.relative_to(whole) for p in (whole / "runs").rglob("*.parquet"))
    assert len(runs) == 5 * 2 * 2 * 2  # models x sessions x seeds x (fills, grid)
    for rel in runs:
        assert (out / rel).read_bytes() == (whole / rel).read_bytes(), rel
    assert not list(out.glob("runs/*/*/*.tmp-*"))


def test_a_ray_run_killed_and_resumed_gives_the_local_results_byte_for_byte(ray_address, local_run):
    """The run on Ray (2 workers: the GA's evaluations, the job stages, the two agent chains side by side) is a
    second driver, killed -9 while the agent chains are in flight, then resumed (on Ray) in this process: the
    tables, claims, selections and every run's files are those of the local executor's run (in one process)."""
    import ray

    tmp = local_run["tmp"]
    out = tmp / "ray"
    cfg = protocol_file(tmp / "ray.toml", local_run["data"], out, extra='executor = "ray"\nworkers = 2')
    p = load_protocol(cfg)
    assert (p.executor, p.ray_address) == ("ray", None) and p.identity_hash() == \
        load_protocol(tmp / "tiny.toml").identity_hash()  # where it runs is not what the results depend on
    cmd = [sys.executable, "-m", "alpha_as", "replicate", "--config", str(cfg), "--no-progress",
           "--ray-address", ray_address]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp)
    first = [out / "models" / "alpha-as-1" / f"seed={s}" / "alpha_as.json" for s in (0, 1)]
    deadline = time.monotonic() + 300
    try:
        while not any(f.is_file() for f in first):  # in the agents stage, its chains in flight
            assert proc.poll() is None, f"the run ended before the first agent checkpoint: {proc.stdout.read()}"
            assert time.monotonic() < deadline, "timed out waiting for the first agent checkpoint"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and not (out / "report.md").exists()
    time.sleep(1.0)  # Ray stops the dead driver's tasks
    lines: list[str] = []
    rep = replicate(p, progress=False, echo=lines.append)
    assert rep.status["agents"] == "ran" and rep.status["genas"] == "skipped", rep.status
    assert any("on the ray executor with 2 worker(s)" in line for line in lines), lines
    assert ray.is_initialized()  # this module's instance, used as it was and left running
    assert_same_results(out, local_run["out"])
    again = replicate(p, progress=False, echo=lambda s: None)  # a rerun on Ray skips everything
    assert all(again.status[s] == "skipped" for s in ("genas", "baselines", "references", "agents"))


@pytest.mark.parametrize(("extra", "args", "message"), [
    ('executor = "slurm"', (), "key 'executor' must be one of local, ray, got 'slurm'"),
    ("", ("--executor", "local", "--ray-address", "auto"), "--ray-address needs the ray executor"),
])
def test_bad_executor_settings_are_one_line(tmp_path, capsys, extra, args, message):
    cfg = protocol_file(tmp_path / "bad.toml", tmp_path, tmp_path / "out", extra=extra)
    rc = main(["replicate", "--config", str(cfg), "--no-progress", *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_ray_tasks_give_their_results_and_their_own_errors(ray_address):
    """The shared layer on Ray: results as the tasks finish, a task's exception as itself (an InputError from a Ray
    worker is an InputError here, one line for the CLI) or to ``on_error``; the pool's map in input order."""
    from alpha_as.data.store import parse_date
    from alpha_as.errors import InputError
    from alpha_as.experiments.executors import Executor

    ex = Executor("ray", 2)
    got: dict = {}
    ex.run(parse_date, ["2020-12-09", "2020-12-10", "2020-12-11"], got.__setitem__, inline=False)
    assert {k: v.isoformat() for k, v in got.items()} == {d: d for d in ("2020-12-09", "2020-12-10", "2020-12-11")}
    with pytest.raises(InputError, match="bad date 'x'"):
        ex.run(parse_date, ["2020-12-09", "x"], lambda *_: None, inline=False)
    errors: list = []
    ex.run(parse_date, ["y"], lambda *_: None, on_error=lambda item, e: errors.append((item, type(e))))
    assert errors == [("y", InputError)]
    with ex.pool() as pool:
        assert [d.day for d in pool.map(parse_date, ["2020-12-11", "2020-12-09", "2020-12-10"])] == [11, 9, 10]
