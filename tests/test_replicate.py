"""``alpha-as replicate``: the protocol file, the quick pipeline end to end, resume after kill -9, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alpha_as.cli import main
from alpha_as.errors import InputError
from alpha_as.experiments.protocol import MODELS, load_protocol, parse_session, quick

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "experiments" / "paper.toml"
TABLES = ("sharpe", "sortino", "max_drawdown", "pnl_to_map")


def protocol_file(tmp: Path, data: Path, out: Path, extra: str = "") -> Path:
    """experiments/paper.toml with the store and the output folder moved to ``tmp``."""
    text = PAPER.read_text().replace('data = "data"', f'data = "{data}"').replace(
        'out = "results/paper"', f'out = "{out}"')
    if extra:
        text = text.replace("[protocol]\n", f"[protocol]\n{extra}\n", 1)
    path = tmp / "paper.toml"
    path.write_text(text)
    return path


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------------------------------ the protocol


def test_the_paper_protocol():
    p = load_protocol(PAPER)
    assert p.name == "paper" and p.models == MODELS and p.seeds == (0,)
    assert p.fi.label == "2020-12-07" and p.train.label == "2020-12-08"
    assert len(p.test) == 30 and p.test[0].label == "2020-12-09" and p.test[-1].label == "2021-01-08"
    assert "2020-12-31" not in {s.label for s in p.test}
    assert all(s.window == "07:00-19:00" for s in p.sessions())
    assert p.ga_config(3).seed == 3 and p.ga_config(3).generations == 10 and p.ga_config(3).population == 45
    cfg = p.agent_config("alpha-as-2", 1, ["midprice_0"])
    assert (cfg.agent, cfg.seed, cfg.iterations, cfg.runs, cfg.workers) == ("alpha-as-2", 1, 10, 5, 1)
    assert p.out == (Path.cwd() / "results" / "paper")


def test_the_bitstamp_protocol_uses_two_hour_windows_of_one_day():
    p = load_protocol(REPO / "experiments" / "bitstamp_2015.toml")
    assert (p.fi.window, p.train.window) == ("00:00-02:00", "02:00-04:00")
    assert [s.label for s in p.test][:2] == ["2015-05-01_0400-0600", "2015-05-01_0600-0800"]
    assert len(p.test) == 10 and p.test[-1].window == "22:00-24:00"
    assert p.baselines["foic"].first_hour == 0 and p.baselines["liic"].last_hour == 24
    assert p.ga_config(0).base_params == {"first_hour": 0, "last_hour": 24}
    assert not p.synthetic and "not the paper's" in p.data_note


def test_sessions_and_quick_mode():
    assert parse_session("2020-12-09", "07:00-19:00", "x").label == "2020-12-09"
    s = parse_session("2015-05-01 04:00-06:00", "07:00-19:00", "x")
    assert (s.window, s.label) == ("04:00-06:00", "2015-05-01_0400-0600")
    q = quick(load_protocol(PAPER))
    assert q.quick and len(q.test) == 3 and all(s.window == "07:00-08:00" for s in q.sessions())
    assert q.test[0].label == "2020-12-09" and q.out.name == "paper-quick"
    assert q.ga_config(0).generations == 2 and q.agent_config("alpha-as-1", 0, ["x"]).iterations == 2
    assert q.identity_hash() != load_protocol(PAPER).identity_hash()


@pytest.mark.parametrize("protocol, tables, message", [
    ("bogus = 1", "", "[protocol]: unknown key(s) bogus"),
    ('fi = "2020-13-07"', "", "key 'fi': bad session '2020-13-07'"),
    ('test = ["2020-12-09 7-19"]', "", "key 'test': session '2020-12-09 7-19'"),
    ("test = []", "", "key 'test' must be"),
    ('models = ["foic", "dqn"]', "", "key 'models' must list some of"),
    ('models = ["foic", "alpha-as-1"]', "", "the Alpha-AS agents build on Gen-AS"),
    ("seeds = [1, 1]", "", "key 'seeds' must list distinct integers"),
    ("", "[agents]\nseed = 3", "[agents]: key(s) seed are set by the protocol"),
    ("", '[agents]\nepochs = "many"', "key 'epochs' must be"),
    ("", "[genas]\npopulation = 1.5", "key 'population' must be int"),
    ("", "[baselines.fixed]", "[baselines]: unknown model(s) fixed"),
    ("", '[engine]\nlatency_ms = "x"', "[engine]: key 'latency_ms' must be float"),
    ("", "[nonsense]", "unknown table(s) nonsense"),
    ("", "", "missing required key(s) instrument"),
])
def test_a_bad_protocol_is_one_error_line(tmp_path, capsys, protocol, tables, message):
    head = 'data = "data"\n' + ("" if "instrument" in message else 'instrument = "x"\n')
    path = tmp_path / "bad.toml"
    path.write_text(f"[protocol]\n{head}{protocol}\n{tables}\n")
    with pytest.raises(InputError) as e:
        load_protocol(path)
    assert message in str(e.value) and "\n" not in str(e.value)
    rc, _, err = cli(capsys, "replicate", "--config", str(path), "--no-progress")
    assert rc == 2 and err.count("\n") == 1 and message in err


def test_missing_user_data_and_bad_options_are_one_line(tmp_path, capsys):
    (tmp_path / "store").mkdir()
    rc, _, err = cli(capsys, "replicate", "--config", str(PAPER), "--data", str(tmp_path / "store"),
                     "--instrument", "mine", "--out", str(tmp_path / "out"), "--no-progress")
    assert rc == 2 and err.count("\n") == 1
    assert "day 2020-12-07 is not in the store" in err and "instrument=mine" in err
    rc, _, err = cli(capsys, "replicate", "--config", str(PAPER), "--seeds", "0")
    assert rc == 2 and "--seeds must be >= 1" in err
    rc, _, err = cli(capsys, "replicate", "--config", str(tmp_path / "none.toml"))
    assert rc == 2 and "none.toml not found" in err


# ------------------------------------------------------------------------------------ the quick pipeline


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One uninterrupted quick run (the synthetic days generated into a temporary store)."""
    tmp = tmp_path_factory.mktemp("replicate")
    cfg = protocol_file(tmp, tmp / "data", tmp / "whole")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "alpha_as", "replicate", "--config", str(cfg), "--quick",
                           "--no-progress"], capture_output=True, text=True, cwd=tmp, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"tmp": tmp, "cfg": cfg, "out": tmp / "whole-quick", "stdout": proc.stdout,
            "seconds": time.perf_counter() - t0}


def test_quick_pipeline_writes_every_stage_and_the_report(quick_run):
    out = quick_run["out"]
    stdout = quick_run["stdout"]
    timings = json.loads((out / "timings.json").read_text())
    assert list(timings["stages"]) == ["data", "features", "genas", "baselines", "agents", "report"]
    assert all(v["status"] == "ran" for v in timings["stages"].values()), timings
    assert timings["peak_rss_mb"] > 0 and "peak RSS" in stdout and "report:" in stdout
    assert (out / "features" / "seed=0" / "features.json").is_file()
    assert (out / "genas" / "seed=0" / "best.json").is_file()
    for model in MODELS:
        days = sorted(p.name for p in (out / "runs" / model).iterdir())
        assert days == ["2020-12-09", "2020-12-10", "2020-12-11"], model
        for d in days:
            m = json.loads((out / "runs" / model / d / "seed=0" / "metrics.json").read_text())
            assert m["date"] == d and m["metrics"]["n_fills"] >= 0
    state = json.loads((out / "models" / "alpha-as-1" / "seed=0" / "alpha_as.json").read_text())
    assert state["iterations_done"] == 2 and len(state["test_days"]) == 3
    header = (out / "tables" / "sharpe.csv").read_text().splitlines()[0]
    assert header == "date," + ",".join(MODELS)
    for name in TABLES:
        assert len((out / "tables" / f"{name}.csv").read_text().splitlines()) == 4
    report = (out / "report.md").read_text()
    assert "not the paper's data" in report
    claims = json.loads((out / "claims.json").read_text())
    assert claims and (out / "experiment.json").is_file()


def test_rerun_skips_everything_and_a_changed_protocol_is_refused(quick_run, capsys):
    cfg = str(quick_run["cfg"])
    before = {p: p.stat().st_mtime_ns for p in (quick_run["out"] / "runs").rglob("metrics.json")}
    rc, out, _ = cli(capsys, "replicate", "--config", cfg, "--quick", "--no-progress", "--until", "agents")
    assert rc == 0
    assert all(f"{s:<10} skipped" in out for s in ("data", "features", "genas", "baselines", "agents")), out
    assert {p: p.stat().st_mtime_ns for p in (quick_run["out"] / "runs").rglob("metrics.json")} == before
    rc, _, err = cli(capsys, "replicate", "--config", cfg, "--quick", "--seeds", "2", "--no-progress")
    assert rc == 2 and "holds results of a different protocol" in err


def _wait_for(proc: subprocess.Popen, cond, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_kill_9_at_two_moments_then_resume_gives_bit_identical_tables(quick_run):
    tmp = quick_run["tmp"]
    (tmp / "k").mkdir()
    cfg = protocol_file(tmp / "k", tmp / "data", tmp / "killed")
    out = tmp / "killed-quick"
    cmd = [sys.executable, "-m", "alpha_as", "replicate", "--config", str(cfg), "--quick", "--no-progress"]
    model = out / "models" / "alpha-as-2" / "seed=0"
    moments = [
        ("the first training checkpoint", lambda: (model / "alpha_as.json").is_file()),
        ("the first test session", lambda: any((out / "runs" / "alpha-as-1").glob("*/seed=0/metrics.json"))),
    ]
    for what, cond in moments:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        try:
            _wait_for(proc, cond, what)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert not (out / "report.md").exists()
    time.sleep(1.0)  # the killed run's workers notice their parent is gone and exit
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    whole = quick_run["out"]
    for name in TABLES:
        assert (out / "tables" / f"{name}.csv").read_bytes() == (whole / "tables" / f"{name}.csv").read_bytes(), name
    assert (out / "claims.json").read_bytes() == (whole / "claims.json").read_bytes()
    assert (out / "report.md").read_text().replace(str(tmp / "killed"), "X") == \
        (whole / "report.md").read_text().replace(str(tmp / "whole"), "X")
    assert not list(out.glob("runs/*/*/*.tmp-*"))
