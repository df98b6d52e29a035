"""``alpha-as runs``: config validation, outputs and manifests, resume (also after kill -9), failures, Ray."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alpha_as.cli import main
from alpha_as.experiments.runner import TIMING_KEYS, TMP_MARK

INSTRUMENT = "btcusdt_synth"
DAYS = ("2020-12-09", "2020-12-10", "2020-12-11")
FILES = ("fills.parquet", "grid.parquet", "manifest.json", "metrics.json")
MODELS3 = {"as-default": 'kind = "as"', "foic": 'kind = "foic"', "liic": 'kind = "liic"'}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runner") / "store"
    assert main(["data", "synth", "--out", str(root), "--start", DAYS[0], "--end", DAYS[-1], "--hours", "0.2",
                 "--workers", "1"]) == 0
    return root


def config(path: Path, store: Path, out: Path, *, models: dict[str, str] = MODELS3, experiment: str = "",
           engine: str = "", days: str = f"days = {list(DAYS)!r}".replace("'", '"')) -> Path:
    text = f'[experiment]\ndata = "{store}"\ninstrument = "{INSTRUMENT}"\nout = "{out}"\n{days}\n{experiment}\n'
    if engine:
        text += f"[engine]\n{engine}\n"
    for name, body in models.items():
        text += f"[models.{name}]\n{body}\n"
    path.write_text(text)
    return path


def runs(capsys, cfg: Path, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["runs", "--config", str(cfg), "--no-progress", *extra])
    out, err = capsys.readouterr()
    return rc, out, err


def job_dirs(out: Path) -> list[Path]:
    """Final job folders (not temp ones)."""
    return sorted(p for p in out.glob("*/*/seed=*") if TMP_MARK not in p.name)


def read_summary(out: Path) -> list[dict]:
    with open(out / "summary.csv") as f:
        return list(csv.DictReader(f))


def stable_metrics(folder: Path) -> dict:
    doc = json.loads((folder / "metrics.json").read_text())
    return {k: v for k, v in doc.items() if k not in TIMING_KEYS}


def assert_same_results(a: Path, b: Path) -> None:
    dirs_a, dirs_b = job_dirs(a), job_dirs(b)
    assert [p.relative_to(a) for p in dirs_a] == [p.relative_to(b) for p in dirs_b]
    for da, db in zip(dirs_a, dirs_b, strict=True):
        for name in ("fills.parquet", "grid.parquet"):
            assert (da / name).read_bytes() == (db / name).read_bytes(), da / name
        assert stable_metrics(da) == stable_metrics(db)
        ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (da, db))
        for key in ("config_hash", "data_hashes", "metrics", "job"):
            assert ma[key] == mb[key]
    assert (a / "summary.csv").read_bytes() == (b / "summary.csv").read_bytes()


# ------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("kw", "needle"), [
    ({"experiment": "colour = 1"}, "[experiment]: unknown key(s) colour"),
    ({"engine": "latency = 1"}, "[engine]: unknown key(s) latency"),
    ({"models": {"a": 'kind = "as"\nfoo = 1'}}, "[models.a]: unknown key(s) foo"),
    ({"models": {"a": 'kind = "as"\nparams = { gamma = 0.1 }'}}, "[models.a] params: unknown key(s) gamma"),
    ({"experiment": "[colours]"}, "unknown table(s) colours"),
    ({"experiment": 'seeds = "0"'}, "key 'seeds' must be"),
    ({"experiment": "seeds = [0, 1.5]"}, "key 'seeds' must be a list of int"),
    ({"experiment": 'workers = "2"'}, "key 'workers' must be int"),
    ({"engine": 'latency_ms = "65"'}, "[engine]: key 'latency_ms' must be float"),
    ({"engine": 'fill_model = "magic"'}, "fill_model must be one of"),
    ({"models": {"a": 'kind = "as"\nparams = { window_tick = 2.5 }'}}, "key 'window_tick' must be int"),
    ({"models": {"a": 'kind = "magic"'}}, "[models.a]: key 'kind' must be one of"),
    ({"models": {"a": 'params = {}'}}, "[models.a]: missing required key(s) kind"),
    ({"models": {"a": 'kind = "gen-as"'}}, "needs 'params_file'"),
    ({"models": {"a": 'kind = "gen-as"\nparams_file = "nope/best.json"'}}, "nope/best.json not found"),
    ({"models": {'"a b"': 'kind = "as"'}}, "bad model name 'a b'"),
    ({"models": {"a": 'kind = "constant"\nparams = { spread_multiplier = 2.0 }'}}, "kind 'constant' needs key 'action'"),
    ({"models": {"a": 'kind = "constant"\naction = 20\nparams = { spread_multiplier = 2.0 }'}},
     "[models.a]: key 'action' must be in 0..19, got 20"),
    ({"models": {"a": 'kind = "constant"\naction = 2.5\nparams = { spread_multiplier = 2.0 }'}},
     "[models.a]: key 'action' must be int"),
    ({"models": {"a": 'kind = "as"\naction = 3'}}, "key 'action' applies to kind 'constant' only, not 'as'"),
    ({"models": {"a": 'kind = "random"'}}, "kind 'random' needs Gen-AS's parameters"),
    ({"models": {}}, "no models"),
    ({"days": 'days = ["2020-12-09", "2020-12-12"]'},
     f"expected depth file {{store}}/type=depth/instrument={INSTRUMENT}/date=20201212/data.parquet is missing"),
    ({"days": 'days = ["2020-13-01"]'}, "bad date '2020-13-01'"),
    ({"days": 'start = "2020-12-09"'}, "both 'start' and 'end'"),
    ({"days": 'start = "2020-12-09"\nend = "2020-12-11"\ncalendar = "moon"'}, "key 'calendar' must be one of"),
    ({"experiment": 'window = "7-19"'}, "bad window '7-19'"),
    ({"experiment": 'executor = "slurm"'}, "key 'executor' must be one of local, ray"),
    ({"experiment": "days = 3 ="}, "not valid TOML"),
])
def test_bad_config_is_one_line_exit_2(tmp_path, store, capsys, kw, needle):
    cfg = config(tmp_path / "bad.toml", store, tmp_path / "out", **kw)
    rc, out, err = runs(capsys, cfg)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(cfg) in lines[0] and needle.replace("{store}", str(store)) in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_missing_data_key_and_missing_config_file(tmp_path, capsys):
    cfg = tmp_path / "x.toml"
    cfg.write_text('[experiment]\ninstrument = "i"\n[models.a]\nkind = "as"\n')
    rc, _, err = runs(capsys, cfg)
    assert rc == 2 and "[experiment]: missing required key(s) data" in err and len(err.splitlines()) == 1
    rc, _, err = runs(capsys, tmp_path / "nope.toml")
    assert rc == 2 and "nope.toml not found" in err


def test_params_file_and_inline_params(tmp_path, store):
    from alpha_as.experiments import load_config

    best = tmp_path / "best.json"
    best.write_text(json.dumps({"params": {"risk_aversion": 0.3, "skew": 0.01}, "fitness": 1.0}))
    cfg = config(tmp_path / "c.toml", store, tmp_path / "out", models={
        "g": f'kind = "gen-as"\nparams_file = "{best}"\nparams = {{ skew = 0.02 }}'})
    p = load_config(cfg).models["g"].params
    assert (p.risk_aversion, p.skew, p.window_tick) == (0.3, 0.02, 25)


def test_config_hash_ignores_int_versus_float_and_the_model_name(tmp_path, store):
    from alpha_as.experiments import load_config, plan_jobs

    a = config(tmp_path / "a.toml", store, tmp_path / "out", engine="latency_ms = 65",
               models={"x": 'kind = "as"\nparams = { risk_aversion = 1 }'})
    b = config(tmp_path / "b.toml", store, tmp_path / "out", engine="latency_ms = 65.0",
               models={"y": 'kind = "as"\nparams = { risk_aversion = 1.0 }'})
    ha, hb = ([j.config_hash for j in plan_jobs(load_config(c))] for c in (a, b))
    assert ha == hb and len(set(ha)) == len(DAYS)


# ------------------------------------------------------------------------------------------- running


def test_local_run_skip_and_rerun_of_a_changed_model(tmp_path, store, capsys):
    out = tmp_path / "out"
    cfg = config(tmp_path / "c.toml", store, out, experiment="workers = 2")
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0, text
    dirs = job_dirs(out)
    assert len(dirs) == 9 and all((d / f).is_file() for d in dirs for f in FILES)
    assert not list(out.glob(f"*/*/*{TMP_MARK}*"))
    rows = read_summary(out)
    assert [(r["model"], r["date"], r["seed"]) for r in rows] == [(m, d, "0") for m in sorted(MODELS3) for d in DAYS]
    manifest = json.loads((out / "foic" / DAYS[1] / "seed=0" / "manifest.json").read_text())
    assert set(manifest["data_hashes"]) == {"depth", "trade"} and len(manifest["config_hash"]) == 64
    assert manifest["metrics"]["n_fills"] == int(rows[4]["n_fills"]) > 0
    mtimes = {p: p.stat().st_mtime_ns for d in dirs for p in d.iterdir()}

    rc, text, _ = runs(capsys, cfg)
    assert rc == 0 and "skipped 9 finished job(s)" in text and "0 ran" in text
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes

    config(cfg, store, out, experiment="workers = 1", models={**MODELS3, "foic": 'kind = "foic"\nparams = { level = 1 }'})
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0 and "rerunning 3 job(s) of model foic: config changed" in text and "3 ran, 6 skipped" in text
    changed = {p for p in mtimes if p.stat().st_mtime_ns != mtimes[p]}
    assert changed and all(p.parts[-4] == "foic" for p in changed)
    new = json.loads((out / "foic" / DAYS[1] / "seed=0" / "manifest.json").read_text())
    assert new["config_hash"] != manifest["config_hash"] and new["config"]["params"]["level"] == 1
    assert len(read_summary(out)) == 9


def test_reference_policy_kinds_run_resume_and_record_their_actions(tmp_path, store, capsys):
    import pyarrow.parquet as pq

    from alpha_as.agents.reference import run_constant
    from alpha_as.data.store import load_window_day
    from alpha_as.strategies.avellaneda_stoikov import ASParams

    genas = ASParams(risk_aversion=0.4, position_multiplier=5000.0, spread_multiplier=2.0)
    best = tmp_path / "best.json"
    best.write_text(json.dumps({"params": genas.to_dict(), "fitness": 0.0}))
    out = tmp_path / "out"
    models = {"rand": f'kind = "random"\nparams_file = "{best}"',
              "const": f'kind = "constant"\naction = 7\nparams_file = "{best}"'}
    cfg = config(tmp_path / "c.toml", store, out, experiment="seeds = [0, 1]\nworkers = 2", models=models)
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0 and "12 ran" in text, text
    m = json.loads((out / "const" / DAYS[0] / "seed=0" / "manifest.json").read_text())
    assert (m["config"]["kind"], m["config"]["action"], m["config"]["decision_seconds"]) == ("constant", 7, 5.0)
    day = load_window_day(store, INSTRUMENT, dt.date.fromisoformat(DAYS[0]), "07:00-19:00")
    assert m["metrics"] == run_constant(day, genas, 7).result.metrics.to_dict()
    grid = {(model, s): pq.read_table(out / model / DAYS[0] / f"seed={s}" / "grid.parquet").to_pydict()
            for model in models for s in (0, 1)}
    assert set(grid["const", 0]["action"]) == {-1, 7}
    for name in ("fills.parquet", "grid.parquet"):  # the constant policy takes no seed
        assert (out / "const" / DAYS[0] / "seed=0" / name).read_bytes() == \
            (out / "const" / DAYS[0] / "seed=1" / name).read_bytes()
    assert grid["rand", 0]["action"] != grid["rand", 1]["action"]  # seeded by the job's seed
    assert set(grid["rand", 0]["action"][1:]) <= set(range(20)) and grid["rand", 0]["action"][0] == -1
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0 and "skipped 12 finished job(s)" in text
    config(cfg, store, out, experiment="seeds = [0, 1]\nworkers = 1",
           models={**models, "const": f'kind = "constant"\naction = 8\nparams_file = "{best}"'})
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0 and "rerunning 6 job(s) of model const: config changed" in text and "6 ran, 6 skipped" in text


def test_failed_jobs_are_reported_and_the_others_finish(tmp_path, store, capsys):
    broken = tmp_path / "store"
    shutil.copytree(store, broken)
    (broken / "type=trade" / f"instrument={INSTRUMENT}" / "date=20201210" / "data.parquet").write_bytes(b"junk")
    out = tmp_path / "out"
    cfg = config(tmp_path / "c.toml", broken, out, experiment="workers = 2",
                 models={"as-default": 'kind = "as"', "foic": 'kind = "foic"'})
    # the up-front data check refuses this store (tests/test_validate_replay.py); a forged "clean" verdict in the
    # verdict cache lets the jobs meet the corrupt file themselves, to test the executors' failure path
    from alpha_as.data import validate

    validate.clear_memo()
    key = validate._key(broken, INSTRUMENT, dt.date(2020, 12, 10))
    out.mkdir()
    (out / validate.CACHE_FILE).write_text(json.dumps({"rules": validate.RULES_VERSION,
                                                        "verdicts": {key: {"errors": [], "suspects": []}}}))
    rc, text, _ = runs(capsys, cfg)
    validate.clear_memo()
    assert rc == 1
    for model in ("as-default", "foic"):
        assert f"FAILED {model} 2020-12-10 seed=0: InputError:" in text and "unreadable or corrupt parquet" in text
        assert not (out / model / "2020-12-10").exists() or not job_dirs(out / model / "2020-12-10")
    assert "2 job(s) failed" in text and "4 ran" in text
    assert len(job_dirs(out)) == 4 and len(read_summary(out)) == 4
    assert not list(out.glob(f"*/*/*{TMP_MARK}*"))


def test_a_second_run_on_the_same_folder_is_refused(tmp_path, store, capsys):
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    cfg = config(tmp_path / "c.toml", store, out, models={"foic": 'kind = "foic"'})
    with open(out / ".runs.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        rc, _, err = runs(capsys, cfg)
    assert rc == 2 and "another 'alpha-as runs' is writing to" in err


def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path, store, capsys):
    seeds = list(range(50))
    out = tmp_path / "killed"
    cfg = config(tmp_path / "c.toml", store, out, experiment=f"seeds = {seeds}\nworkers = 1",
                 models={"as-default": 'kind = "as"', "foic": 'kind = "foic"'})
    total = 2 * len(DAYS) * len(seeds)
    proc = subprocess.Popen([sys.executable, "-m", "alpha_as", "runs", "--config", str(cfg), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180  # a fresh process may compile the engine first
        while not any((d / "manifest.json").exists() for d in job_dirs(out)):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no job finished in time"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    finished = job_dirs(out)
    assert 0 < len(finished) < total, len(finished)
    for d in finished:  # no final folder is partial: only complete ones or temp ones
        assert all((d / f).is_file() for f in FILES), d
    (finished[0].parent / f"seed=99{TMP_MARK}deadbeef").mkdir()  # a leftover from a job in flight

    rc, text, _ = runs(capsys, cfg)
    assert rc == 0, text
    assert f"skipped {len(finished)} finished job(s)" in text and "unfinished job folder(s)" in text
    assert len(job_dirs(out)) == total and not list(out.glob(f"*/*/*{TMP_MARK}*"))

    whole = tmp_path / "whole"
    rc, _, _ = runs(capsys, cfg, "--out", str(whole))
    assert rc == 0
    assert_same_results(out, whole)


def test_ray_executor_on_a_local_two_worker_cluster(tmp_path, store, capsys):
    pytest.importorskip("ray")
    models = {"as-default": 'kind = "as"', "liic": 'kind = "liic"'}
    cfg = config(tmp_path / "c.toml", store, tmp_path / "ray", experiment='executor = "ray"\nworkers = 2',
                 models=models)
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0, text
    assert "on the ray executor with 2 worker(s)" in text and "6 ran" in text
    rc, _, _ = runs(capsys, cfg, "--executor", "local", "--workers", "1", "--out", str(tmp_path / "local"))
    assert rc == 0
    assert_same_results(tmp_path / "ray", tmp_path / "local")
