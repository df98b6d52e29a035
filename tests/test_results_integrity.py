"""Results are verified, never destroyed (issue #12): output hashes in the manifests, checked on resume; agent
checkpoints that keep the previous one; the lock taken before ``--force`` deletes and naming its holder; an
unreadable protocol.json; the output folder checked up front; a full disk as one line."""

from __future__ import annotations

import csv
import dataclasses
import errno
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alpha_as.atomic import WriteError, check_out_dir, verify_folder, write_text_atomic
from alpha_as.cli import main
from alpha_as.errors import InputError
from alpha_as.experiments import replicate as rep
from alpha_as.experiments import replicate_agents as agents_stage
from alpha_as.experiments import runner
from alpha_as.experiments.runner import TMP_MARK

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "experiments" / "paper.toml"
INSTRUMENT = "btcusdt_synth"
DAYS = ("2020-12-09", "2020-12-10")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("integrity") / "store"
    assert main(["data", "synth", "--out", str(root), "--start", "2020-12-08", "--end", DAYS[-1], "--hours", "0.1",
                 "--workers", "1"]) == 0
    return root


def experiment(path: Path, store: Path, out: Path, models: str = '[models.foic]\nkind = "foic"\n'
               '[models.liic]\nkind = "liic"\n') -> Path:
    days = json.dumps(list(DAYS))
    path.write_text(f'[experiment]\ndata = "{store}"\ninstrument = "{INSTRUMENT}"\nout = "{out}"\ndays = {days}\n'
                    f"workers = 1\n{models}")
    return path


def runs(capsys, cfg: Path, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["runs", "--config", str(cfg), "--no-progress", *extra])
    out, err = capsys.readouterr()
    return rc, out, err


def job(out: Path, model: str = "foic", day: str = DAYS[0]) -> Path:
    return out / model / day / "seed=0"


def stable(folder: Path) -> dict:
    doc = json.loads((folder / "metrics.json").read_text())
    return {k: v for k, v in doc.items() if k not in runner.TIMING_KEYS}


def no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if TMP_MARK in p.name or p.name.endswith(".tmp")]


# ------------------------------------------------------------------------------------------ job outputs


def test_edited_truncated_or_deleted_outputs_are_rerun_and_the_table_shows_the_true_value(tmp_path, store, capsys):
    out = tmp_path / "out"
    cfg = experiment(tmp_path / "e.toml", store, out)
    assert runs(capsys, cfg)[0] == 0
    folder = job(out)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(manifest["outputs"]) == ["fills.parquet", "grid.parquet", "metrics.json"]
    assert verify_folder(folder) == ""
    true = stable(folder)
    fills = (folder / "fills.parquet").read_bytes()

    doc = json.loads((folder / "metrics.json").read_text())
    doc["metrics"]["sharpe"] = 999.0
    (folder / "metrics.json").write_text(json.dumps(doc))
    assert verify_folder(folder) == "metrics.json changed since it was written"
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0 and "rerunning 1 job(s) of model foic: metrics.json changed since it was written" in text, text
    assert "skipped 3 finished job(s)" in text
    assert stable(folder) == true

    (folder / "fills.parquet").write_bytes(fills[: len(fills) // 2])
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0 and "rerunning 1 job(s) of model foic: fills.parquet changed since it was written" in text, text
    assert (folder / "fills.parquet").read_bytes() == fills

    (job(out, "liic", DAYS[1]) / "fills.parquet").unlink()
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0 and "rerunning 1 job(s) of model liic: fills.parquet is missing" in text, text
    assert (job(out, "liic", DAYS[1]) / "fills.parquet").is_file()

    doc["metrics"]["sharpe"] = 999.0  # edited again, then the resumed run puts the true value in the tables
    (folder / "metrics.json").write_text(json.dumps(doc))
    assert runs(capsys, cfg)[0] == 0
    assert main(["report", str(out)]) == 0
    with open(out / "tables" / "sharpe.csv") as f:
        rows = {r["date"]: r for r in csv.DictReader(f)}
    assert float(rows[DAYS[0]]["foic"]) == pytest.approx(true["metrics"]["sharpe"], abs=1e-3)
    assert all(abs(float(r["foic"])) < 999 for r in rows.values())


def test_manifests_without_output_hashes_still_count_as_done(tmp_path, store, capsys):
    out = tmp_path / "out"
    cfg = experiment(tmp_path / "e.toml", store, out)
    assert runs(capsys, cfg)[0] == 0
    for m in out.glob("*/*/seed=*/manifest.json"):  # as written before the hashes were recorded
        doc = json.loads(m.read_text())
        del doc["outputs"]
        m.write_text(json.dumps(doc, indent=1))
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0 and "skipped 4 finished job(s)" in text and "rerunning" not in text, text
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == before
    assert verify_folder(job(out)) == ""  # nothing recorded, nothing to check
    (job(out) / "grid.parquet").unlink()  # but a missing file is still seen
    rc, text, _ = runs(capsys, cfg)
    assert rc == 0 and "rerunning 1 job(s) of model foic: grid.parquet is missing" in text, text


def test_stage_files_of_replicate_are_verified(tmp_path):
    folder = tmp_path / "genas" / "seed=0"
    folder.mkdir(parents=True)
    config = {"seed": 0, "window": "07:00-08:00", "genes": (1, 2)}
    assert rep.stage_item_state(folder, "best.json", config) == "new"
    (folder / "best.json").write_text(json.dumps({"params": {"gamma": 0.1}}))
    (folder / "history.parquet").write_bytes(b"rows")
    rep.write_stage_manifest(folder, config)
    assert rep.stage_item_state(folder, "best.json", config) == ""
    assert rep.stage_item_state(folder, "best.json", {**config, "seed": 1}) == "config changed"
    (folder / "history.parquet").write_bytes(b"rows, edited")
    assert rep.stage_item_state(folder, "best.json", config) == "history.parquet changed since it was written"
    (folder / "manifest.json").unlink()  # a file written before manifests were recorded counts when readable
    assert rep.stage_item_state(folder, "best.json", config) == ""
    (folder / "best.json").write_text('{"params": {"gam')
    assert rep.stage_item_state(folder, "best.json", config) == "best.json is unreadable (truncated?)"


# ------------------------------------------------------------------------------------------ checkpoints


@pytest.fixture(scope="module")
def agents(store, tmp_path_factory):
    """An agent chain as replicate's agents stage runs it (2 training iterations, 2 test sessions), uninterrupted."""
    from alpha_as.agents.alpha_as import AlphaASConfig
    from alpha_as.strategies.avellaneda_stoikov import ASParams

    root = tmp_path_factory.mktemp("agents")
    cfg = AlphaASConfig(iterations=2, runs=2, epochs=3, seed=7)
    genas = ASParams(position_multiplier=1000.0, spread_multiplier=2.0)

    def spec(name: str) -> dict:
        return {"agent": "alpha-as-1", "seed": 0, "config": cfg.to_dict(), "genas": genas.to_dict(),
                "data": str(store), "instrument": INSTRUMENT, "train": "2020-12-08",
                "test": [{"date": d, "window": "07:00-19:00", "label": d} for d in DAYS],
                "model": str(root / name / "models" / "seed=0"), "runs": str(root / name / "runs")}

    whole = spec("whole")
    agents_stage.agent_job(whole)
    return {"root": root, "spec": spec, "whole": whole, "config": cfg, "genas": genas, "store": store}


def _same_chain(a: dict, b: dict) -> None:
    for d in DAYS:
        fa, fb = (Path(s["runs"]) / d / "seed=0" for s in (a, b))
        for name in ("fills.parquet", "grid.parquet"):
            assert (fa / name).read_bytes() == (fb / name).read_bytes(), (d, name)
        assert stable(fa) == stable(fb)
    ma, mb = (json.loads((Path(s["model"]) / "alpha_as.json").read_text()) for s in (a, b))
    for key in ("iterations_done", "test_days", "since_copy_ns", "rng", "agent_sha256", "checkpoint"):
        assert ma[key] == mb[key], key


def test_a_checkpoint_keeps_the_previous_one(agents):
    folder = Path(agents["whole"]["model"])
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["agent-0003.pt.prev", "agent-0004.pt", "alpha_as.json", "alpha_as.json.prev", "diagnostics.json"]
    latest, prev = (json.loads((folder / n).read_text()) for n in ("alpha_as.json", "alpha_as.json.prev"))
    assert (latest["checkpoint"], len(latest["test_days"])) == (4, 2)
    assert (prev["checkpoint"], len(prev["test_days"])) == (3, 1)


@pytest.mark.parametrize("damage", ["truncated agent file", "truncated alpha_as.json", "deleted agent file"])
def test_an_unreadable_checkpoint_falls_back_to_the_previous_one_and_resumes_identically(agents, capsys, damage):
    spec = agents["spec"](damage.replace(" ", "-"))
    agents_stage.agent_job(spec)
    folder = Path(spec["model"])
    target = folder / ("alpha_as.json" if "json" in damage else "agent-0004.pt")
    if damage.startswith("deleted"):
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    capsys.readouterr()
    agents_stage.check_agent(spec)  # the sessions the checkpoint counts are all there
    agents_stage.agent_job(spec)  # loads the previous checkpoint, replays the last test session, saves
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("alpha-as: warning: "), err
    assert "resuming from the previous checkpoint (2 training iteration(s), 1 test session(s) done)" in lines[0]
    assert str(target) in lines[0]
    _same_chain(agents["whole"], spec)


def test_a_truncated_training_checkpoint_resumes_identically(agents):
    from alpha_as.agents.alpha_as import AlphaAS

    def trained(name: str) -> AlphaAS:
        m = AlphaAS(agents["root"] / name, agents["config"], agents["genas"])
        m.train(agents["store"], INSTRUMENT, "2020-12-08")
        return m

    ref = trained("train-whole")
    folder = trained("train-truncated").folder
    f = folder / "agent-0002.pt"
    f.write_bytes(f.read_bytes()[:100])
    warned: list[str] = []
    resumed = AlphaAS.load(folder, warn=warned.append)
    assert resumed.iterations_done == 1 and len(warned) == 1 and str(f) in warned[0]
    resumed.train(agents["store"], INSTRUMENT, "2020-12-08")
    for a, b in ((ref.agent.online, resumed.agent.online), (ref.agent.target, resumed.agent.target)):
        for k, v in a.state_dict().items():
            assert np.array_equal(v.numpy(), b.state_dict()[k].numpy()), k
    ma, mb = ref.agent.memory.to_arrays(), resumed.agent.memory.to_arrays()
    for k in ma:
        np.testing.assert_array_equal(ma[k], mb[k], err_msg=k)
    assert ref.rng.bit_generator.state == resumed.rng.bit_generator.state
    assert ref.agent.rng.bit_generator.state == resumed.agent.rng.bit_generator.state
    assert (folder / "agent-0002.pt").read_bytes() == (ref.folder / "agent-0002.pt").read_bytes()


def test_no_usable_checkpoint_says_how_to_recover(agents):
    from alpha_as.agents.alpha_as import AlphaAS

    folder = agents["root"] / "first-only"
    m = AlphaAS(folder, agents["config"], agents["genas"])
    m.train(agents["store"], INSTRUMENT, "2020-12-08", stop_after=1)
    (folder / "agent-0001.pt").write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError) as e:
        AlphaAS.load(folder)
    msg = str(e.value)
    assert "\n" not in msg and "agent-0001.pt" in msg and f"delete {folder} to retrain the model" in msg


def test_a_changed_or_missing_agent_session_stops_with_one_line(agents, tmp_path):
    spec = agents["spec"]("sessions")
    agents_stage.agent_job(spec)
    agents_stage.check_agent(spec)
    session = Path(spec["runs"]) / DAYS[0] / "seed=0"
    assert verify_folder(session) == ""
    doc = json.loads((session / "metrics.json").read_text())
    doc["metrics"]["sharpe"] = 999.0
    (session / "metrics.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"metrics.json changed since it was written; an agent's test session "
                       r"cannot be redone alone .* delete .*models/seed=0 to retrain alpha-as-1 \(seed 0\)"):
        agents_stage.check_agent(spec)
    shutil.rmtree(session)
    with pytest.raises(InputError, match=r"seed=0: is missing; an agent's test session"):
        agents_stage.check_agent(spec)
    other = agents["spec"]("sessions")
    other["config"] = {**other["config"], "epochs": 4}
    with pytest.raises(InputError, match="the checkpoint was made with another agent config"):
        agents_stage.check_agent(other)
    legacy = Path(spec["runs"]) / DAYS[1] / "seed=0"
    (legacy / "manifest.json").unlink()  # an agent session written before the hashes were recorded
    shutil.copytree(Path(agents["whole"]["runs"]) / DAYS[0] / "seed=0", session)
    agents_stage.check_agent(spec)


# ---------------------------------------------------------------------------------- the lock, --force


def _replicate_folder(tmp_path: Path) -> tuple[Path, Path]:
    cfg_text = PAPER.read_text().replace('data = "data"', f'data = "{tmp_path / "data"}"').replace(
        'out = "results/paper"', f'out = "{tmp_path / "res"}"')
    cfg = tmp_path / "paper.toml"
    cfg.write_text(cfg_text)
    out = tmp_path / "res-quick"
    for name in ("features/seed=0", "genas/seed=0", "runs/foic/2020-12-09/seed=0", "models/alpha-as-1/seed=0"):
        (out / name).mkdir(parents=True)
        (out / name / "x.json").write_text("{}")
    (out / "protocol.json").write_text(json.dumps({"hash": "of another protocol"}))
    return cfg, out


def test_replicate_force_on_a_locked_folder_deletes_nothing_and_names_the_holder(tmp_path, capsys):
    cfg, out = _replicate_folder(tmp_path)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
                               "from alpha_as.experiments.runner import locked\n"
                               f"with locked(Path({str(out)!r}), 'alpha-as replicate'):\n"
                               "    print('held', flush=True)\n    time.sleep(120)\n"],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        rc = main(["replicate", "--config", str(cfg), "--quick", "--force", "--no-progress"])
        err = capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert rc == 2 and err.count("\n") == 1, err
    assert f"another 'alpha-as replicate' (pid {holder.pid}) is writing to {out} (lock {out / '.runs.lock'})" in err
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.name != ".runs.lock") == \
        [p for p in before if p.name != ".runs.lock"]


def test_the_lock_message_names_the_command_that_holds_it(tmp_path, store, capsys):
    out = tmp_path / "out"
    out.mkdir()
    cfg = experiment(tmp_path / "e.toml", store, out)
    with runner.locked(out, "alpha-as replicate"):
        rc, _, err = runs(capsys, cfg)
    assert rc == 2 and f"another 'alpha-as replicate' (pid {os.getpid()}) is writing to {out}" in err, err
    with runner.locked(out):
        rc, _, err = runs(capsys, cfg)
    assert rc == 2 and f"another 'alpha-as runs' (pid {os.getpid()}) is writing to {out}" in err, err


def test_a_truncated_protocol_json_is_not_another_protocol(tmp_path, capsys):
    from alpha_as.experiments.protocol import load_protocol, quick

    cfg, out = _replicate_folder(tmp_path)
    (out / "protocol.json").write_text('{"identity": {"data": "/x", "instr')
    capsys.readouterr()
    rc = main(["replicate", "--config", str(cfg), "--quick", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert f"{out / 'protocol.json'} is unreadable (truncated?)" in err and "different protocol" not in err
    assert "--force to rewrite it for this protocol and keep the results" in err
    p = dataclasses.replace(quick(load_protocol(cfg)), out=out)
    said: list[str] = []
    rep.check_identity(p, True, said.append)  # --force: the identity rewritten, every result kept
    assert json.loads((out / "protocol.json").read_text())["hash"] == p.identity_hash()
    assert all((out / n / "x.json").is_file() for n in ("features/seed=0", "genas/seed=0", "models/alpha-as-1/seed=0"))
    assert len(said) == 1 and "was unreadable: rewritten for this protocol" in said[0]


# ------------------------------------------------------------------------------------ the output folder


@pytest.mark.parametrize("case", ["is a file", "lies under the file", "is not writable"])
def test_a_bad_out_folder_is_one_line(tmp_path, store, capsys, case):
    blocker = tmp_path / "blocker"
    if case == "is not writable":
        if os.geteuid() == 0:
            pytest.skip("root may write anywhere")
        blocker.mkdir()
        blocker.chmod(0o500)
        out = blocker / "out"
    else:
        blocker.write_text("a file")
        out = blocker if case == "is a file" else blocker / "sub" / "out"
    cfg = experiment(tmp_path / "e.toml", store, out)
    protocol = tmp_path / "paper.toml"
    protocol.write_text(PAPER.read_text().replace('out = "results/paper"', f'out = "{out}"'))
    try:
        for argv in (["runs", "--config", str(cfg)], ["replicate", "--config", str(protocol), "--out", str(out)]):
            capsys.readouterr()
            rc = main([*argv, "--no-progress"])
            err = capsys.readouterr().err
            assert rc == 2 and err.count("\n") == 1 and f"output folder {out}: {case}" in err, err
    finally:
        if blocker.is_dir():
            blocker.chmod(0o700)
    with pytest.raises(InputError, match=f"^--out {out}: {case}"):
        check_out_dir(out)


def test_check_out_dir_creates_the_folder(tmp_path):
    assert check_out_dir(tmp_path / "a" / "b").is_dir()
    assert check_out_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not list((tmp_path / "a" / "b").iterdir())


# ---------------------------------------------------------------------------------------- a full disk


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path, store, capsys, monkeypatch):
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    cfg = experiment(tmp_path / "e.toml", store, out, models='[models.foic]\nkind = "foic"\n')
    real = pq.write_table

    def full(table, where, **kw):
        if Path(where).name.startswith(".grid.parquet"):
            Path(where).write_bytes(b"half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", full)
    rc, _, err = runs(capsys, cfg)
    assert rc == 2 and err.count("\n") == 1, err
    final = job(out) / "grid.parquet"
    assert f"cannot write {final}: No space left on device (disk full); results written so far are kept" in err
    assert not job(out).exists() and no_temp_files(out)
    monkeypatch.setattr(pq, "write_table", real)
    assert runs(capsys, cfg)[0] == 0 and (job(out) / "grid.parquet").is_file()


def test_write_errors_name_the_final_file_and_remove_the_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "doc.json"
    target.write_text("old")

    def efbig(self, text, encoding=None):
        Path(self).write_bytes(b"par")  # a partial file, then the error
        raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(Path, "write_text", efbig, raising=True)
    with pytest.raises(WriteError) as e:
        write_text_atomic("new", target)
    monkeypatch.undo()
    assert e.value.filename == str(target) and e.value.errno == errno.EFBIG
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["doc.json"]
    from alpha_as.cli import os_error_line

    assert os_error_line(e.value) == (f"cannot write {target}: File too large (disk full or file size limit); "
                                      "results written so far are kept")
    assert os_error_line(FileNotFoundError(errno.ENOENT, "No such file", "x")) is None


def test_a_file_size_limit_is_one_line_in_a_real_process(tmp_path, store):
    import signal

    assert signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN  # so a write fails with EFBIG, not a kill
    out = tmp_path / "out"
    cfg = experiment(tmp_path / "e.toml", store, out, models='[models.foic]\nkind = "foic"\n')
    assert main(["runs", "--config", str(cfg), "--no-progress"]) == 0
    size = max(p.stat().st_size for p in out.rglob("grid.parquet"))
    shutil.rmtree(out)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, resource.RLIM_INFINITY))

    proc = subprocess.run([sys.executable, "-m", "alpha_as", "runs", "--config", str(cfg), "--no-progress"],
                          capture_output=True, text=True, cwd=tmp_path, preexec_fn=limit, timeout=600)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "File too large (disk full or file size limit); results written so far are kept" \
        in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and no_temp_files(out)
    assert not [p for p in out.rglob("seed=0") if p.is_dir()]
