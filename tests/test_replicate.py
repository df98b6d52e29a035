"""``alpha-as replicate``: the protocol file, the quick pipeline end to end, resume after kill -9, bad input."""

from __future__ import annotations

import dataclasses
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
from alpha_as.experiments.protocol import DEFAULT_MODELS, PAPER_MODELS, load_protocol, parse_session, quick

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "experiments" / "paper.toml"
TABLES = ("sharpe", "sortino", "max_drawdown", "pnl_to_map")
STAGES = ["data", "features", "genas", "baselines", "references", "agents", "report"]


def protocol_file(tmp: Path, data: Path, out: Path, extra: str = "", tables: str = "") -> Path:
    """experiments/paper.toml with the store and the output folder moved to ``tmp``."""
    text = PAPER.read_text().replace('data = "data"', f'data = "{data}"').replace(
        'out = "results/paper"', f'out = "{out}"')
    if extra:
        text = text.replace("[protocol]\n", f"[protocol]\n{extra}\n", 1)
    text += tables
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
    assert p.name == "paper" and p.models == DEFAULT_MODELS and p.seeds == (0,)
    assert p.fi.label == "2020-12-07" and p.train.label == "2020-12-08"
    assert len(p.test) == 30 and p.test[0].label == "2020-12-09" and p.test[-1].label == "2021-01-08"
    assert "2020-12-31" not in {s.label for s in p.test}
    assert all(s.window == "07:00-19:00" for s in p.sessions())
    assert p.ga_config(3).seed == 3 and p.ga_config(3).generations == 10 and p.ga_config(3).population == 45
    cfg = p.agent_config("alpha-as-2", 1, ["midprice_0"])
    assert (cfg.agent, cfg.seed, cfg.iterations, cfg.runs, cfg.workers) == ("alpha-as-2", 1, 10, 5, 1)
    assert p.out == (Path.cwd() / "results" / "paper")
    assert p.agents_run == ("alpha-as-1", "alpha-as-2", "alpha-as-1-sound", "alpha-as-2-sound")
    assert p.references_run == ("random", "constant-train", "constant-oracle") and p.decision_seconds == 5.0


def test_sound_models_take_the_agents_table_without_its_learner_settings(tmp_path):
    p = load_protocol(PAPER)
    paper_cfg, sound = p.agent_config("alpha-as-1", 0, ["midprice_0"]), p.agent_config("alpha-as-2-sound", 0, ["x"])
    assert (paper_cfg.preset, paper_cfg.inputs, paper_cfg.z_clip) == ("default", "paper", None)
    assert (sound.agent, sound.preset, sound.q_target, sound.inputs, sound.day_end) == \
        ("alpha-as-2", "sound", "double", "stationary", "terminal_unwind")
    assert (sound.epochs, sound.batch_size, sound.iterations, sound.runs, sound.test_epsilon) == (None, None, 10, 5, 0.2)
    q = quick(p)
    assert q.agent_config("alpha-as-1", 0, ["x"]).epochs == 10
    qs = q.agent_config("alpha-as-1-sound", 0, ["x"])
    assert qs.epochs is None and (qs.iterations, qs.runs) == (2, 2)  # the preset's 1 epoch x 10 Bellman iterations
    path = protocol_file(tmp_path, tmp_path / "d", tmp_path / "o", tables="\n[sound]\nz_clip = 3.0\niterations = 4\n")
    t = load_protocol(path)
    assert t.agent_config("alpha-as-1-sound", 0, ["x"]).z_clip == 3.0
    assert t.agent_config("alpha-as-1", 0, ["x"]).z_clip is None
    assert quick(t).agent_config("alpha-as-2-sound", 0, ["x"]).iterations == 2
    assert t.identity_hash() != dataclasses.replace(p, path=t.path, out=t.out, data=t.data).identity_hash()


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
    ('models = ["foic", "alpha-as-1"]', "", "alpha-as-1 builds on Gen-AS"),
    ('models = ["foic", "random"]', "", "random builds on Gen-AS"),
    ('models = ["foic", "alpha-as-2-sound"]', "", "alpha-as-2-sound builds on Gen-AS"),
    ('models = ["gen-as", "constant"]', "", "key 'models' must list some of"),
    ("", "[sound]\nseed = 3", "[sound]: key(s) seed are set by the protocol"),
    ("", "[sound]\nbogus = 1", "[sound]: unknown key(s) bogus"),
    ("", '[sound]\nz_clip = "x"', "[sound]: key 'z_clip' must be"),
    ("", "[sound]\ntest_epsilon = 2.0", "[sound]: Alpha-AS config: test_epsilon must be in [0, 1]"),
    ("", "[agents]\niterations = 0", "[agents]: Alpha-AS config: iterations, runs, workers must be >= 1"),
    ("seeds = [1, 1]", "", "key 'seeds' must list distinct integers"),
    ("", "[agents]\nseed = 3", "[agents]: key(s) seed are set by the protocol"),
    ("", '[agents]\nepochs = "many"', "key 'epochs' must be"),
    ("", "[genas]\npopulation = 1.5", "key 'population' must be int"),
    ("", "[baselines.fixed]", "[baselines]: unknown model(s) fixed"),
    ("", '[engine]\nlatency_ms = "x"', "[engine]: key 'latency_ms' must be float"),
    ("", "[nonsense]", "unknown table(s) nonsense"),
    ("notes = [3]", "", "key 'notes' must be"),
    ("", "[synth]\ninformed = -1.0", "[synth]: synthetic market: informed must be a number in [0, 10]"),
    ("", "[synth]\nbogus = 1", "[synth]: unknown key(s) bogus"),
    ("", "[synth]\ninformed = 0.0", "[synth]: a market variant needs synthetic = true"),
    ("", '[baselines]\nclamp = "inside"', "[baselines]: FOIC: clamp must be one of authors, on_grid, got 'inside'"),
    ("", "[baselines]\nbogus = 1", "[baselines]: unknown key(s) bogus"),
    ("", "[baselines]\nfoic = 1", "[baselines]: 'foic' must be a table [baselines.foic]"),
    ("", '[baselines.liic]\nclamp = "inside"', "[baselines.liic]: LIIC: clamp must be one of"),
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
    assert list(timings["stages"]) == STAGES
    assert all(v["status"] == "ran" for v in timings["stages"].values()), timings
    assert timings["peak_rss_mb"] > 0 and "peak RSS" in stdout and "report:" in stdout
    # the proportional set sizes count the shared libraries once: never above the RSS; per stage, within the run's
    assert 0 < timings["peak_pss_mb"] <= timings["peak_rss_mb"] and "peak PSS" in stdout
    for stage, t in timings["stages"].items():
        assert 0 < t["peak_pss_mb"] <= t["peak_rss_mb"] <= timings["peak_rss_mb"], (stage, t)
    assert (out / "features" / "seed=0" / "features.json").is_file()
    assert (out / "genas" / "seed=0" / "best.json").is_file()
    for model in DEFAULT_MODELS:  # paper.toml's: every model but the strategies
        days = sorted(p.name for p in (out / "runs" / model).iterdir())
        assert days == ["2020-12-09", "2020-12-10", "2020-12-11"], model
        for d in days:
            m = json.loads((out / "runs" / model / d / "seed=0" / "metrics.json").read_text())
            assert m["date"] == d and m["metrics"]["n_fills"] >= 0
    for model in ("alpha-as-1", "alpha-as-2-sound"):
        state = json.loads((out / "models" / model / "seed=0" / "alpha_as.json").read_text())
        assert state["iterations_done"] == 2 and len(state["test_days"]) == 3
        assert state["config"]["preset"] == ("sound" if model.endswith("sound") else "default")
    header = (out / "tables" / "sharpe.csv").read_text().splitlines()[0]
    assert header.split(",")[:6] == ["date", *PAPER_MODELS]
    for name in TABLES:
        assert len((out / "tables" / f"{name}.csv").read_text().splitlines()) == 4
    report = (out / "report.md").read_text()
    assert "not the paper's data" in report
    notes = load_protocol(PAPER).notes
    assert notes and all(f"- {n}" in report for n in notes)  # the protocol's notes (e.g. on seeds) in the setup
    for section in ("Beyond the paper", "Does the agent learn?", "C2b"):
        assert section in report, section
    claims = json.loads((out / "claims.json").read_text())
    assert claims and (out / "experiment.json").is_file()


def test_quick_pipeline_runs_the_reference_policies(quick_run):
    out = quick_run["out"]
    train = json.loads((out / "references" / "seed=0" / "constant_train.json").read_text())
    oracle = json.loads((out / "references" / "constant_oracle.json").read_text())["seeds"]["0"]
    assert train["action"] == max(range(20), key=lambda a: (train["fitness"][a], -a))
    assert oracle["action"] == max(range(20), key=lambda a: (oracle["mean"][a], -a))
    for model, action in (("constant-train", train["action"]), ("constant-oracle", oracle["action"])):
        for d in ("2020-12-09", "2020-12-10", "2020-12-11"):
            m = json.loads((out / "runs" / model / d / "seed=0" / "metrics.json").read_text())
            assert m["action"] == action and m["kind"] == "constant"
    m = json.loads((out / "runs" / "random" / "2020-12-09" / "seed=0" / "metrics.json").read_text())
    assert m["kind"] == "random" and m["window"] == "07:00-08:00"
    models = json.loads((out / "experiment.json").read_text())["models"]
    assert {k: v["role"] for k, v in models.items() if k in ("random", "constant-oracle", "alpha-as-1-sound")} == \
        {"random": "policy", "constant-oracle": "oracle", "alpha-as-1-sound": "variant"}
    assert "references" in quick_run["stdout"] and "constant-train: action" in quick_run["stdout"]


def test_rerun_skips_everything_and_a_changed_protocol_is_refused(quick_run, capsys):
    cfg = str(quick_run["cfg"])
    before = {p: p.stat().st_mtime_ns for p in (quick_run["out"] / "runs").rglob("metrics.json")}
    before.update({p: p.stat().st_mtime_ns for p in (quick_run["out"] / "references").rglob("*.json")})
    rc, out, _ = cli(capsys, "replicate", "--config", cfg, "--quick", "--no-progress", "--until", "agents")
    assert rc == 0
    assert all(f"{s:<10} skipped" in out for s in STAGES[:-1]), out
    after = {p: p.stat().st_mtime_ns for p in (quick_run["out"] / "runs").rglob("metrics.json")}
    after.update({p: p.stat().st_mtime_ns for p in (quick_run["out"] / "references").rglob("*.json")})
    assert after == before
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
        ("the references' first selection runs", lambda: any((out / "references").glob("test/*/*/seed=0/manifest.json"))),
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
    for name in ("seed=0/constant_train.json", "constant_oracle.json"):
        assert (out / "references" / name).read_bytes() == (whole / "references" / name).read_bytes(), name
    for model in ("random", "constant-train", "constant-oracle", "alpha-as-1-sound"):
        for f in ("fills.parquet", "grid.parquet"):
            a, b = (o / "runs" / model / "2020-12-11" / "seed=0" / f for o in (out, whole))
            assert a.read_bytes() == b.read_bytes(), (model, f)
    assert (out / "report.md").read_text().replace(str(tmp / "killed"), "X") == \
        (whole / "report.md").read_text().replace(str(tmp / "whole"), "X")
    assert not list(out.glob("runs/*/*/*.tmp-*"))
