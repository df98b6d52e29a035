"""Issue #12 §1: every command that replays data validates the days it reads first, with the one line of
``data check`` (file, row, cause, the --repair hint), exit 2, before it spends time; verdicts are cached by the
files' hashes in the results folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alpha_as.cli import main
from alpha_as.data import store as st
from alpha_as.data import validate

INSTRUMENT = "btcusdt_synth"
DAYS = ("2020-12-09", "2020-12-10")
BAD_DAY = "2020-12-10"
BAD_ROW = 7


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("validate") / "store"
    assert main(["data", "synth", "--out", str(root), "--start", DAYS[0], "--end", DAYS[-1], "--hours", "0.1",
                 "--workers", "1"]) == 0
    return root


def _depth_file(root: Path, day: str) -> Path:
    return st.partition_path(root, st.DEPTH, INSTRUMENT, st.parse_date(day))


@pytest.fixture(scope="module")
def broken(clean, tmp_path_factory) -> Path:
    """The clean store with a negative level-0 bid at row BAD_ROW of BAD_DAY's depth file."""
    root = tmp_path_factory.mktemp("validate_broken") / "store"
    shutil.copytree(clean, root)
    path = _depth_file(root, BAD_DAY)
    t = pq.read_table(path)
    bid = t.column("bidPrice0").to_numpy().copy()
    bid[BAD_ROW] = -bid[BAD_ROW]
    pq.write_table(t.set_column(t.schema.get_field_index("bidPrice0"), "bidPrice0", pa.array(bid)), path)
    return root


@pytest.fixture(autouse=True)
def _fresh_memo():
    validate.clear_memo()
    yield
    validate.clear_memo()


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _assert_data_line(line: str, root: Path) -> None:
    assert str(_depth_file(root, BAD_DAY)) in line
    assert f"row {BAD_ROW}" in line and "level-0 price" in line and "--repair" in line


def test_run_refuses_a_bad_day_with_data_checks_line(broken, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["run", "foic", "--data", str(broken), "--instrument", INSTRUMENT, "--day", BAD_DAY, "--out", str(out)])
    assert rc == 2
    _assert_data_line(_one_line(capsys), broken)
    assert not out.exists()
    # the clean day of the same store still runs
    assert main(["run", "foic", "--data", str(broken), "--instrument", INSTRUMENT, "--day", DAYS[0],
                 "--out", str(out)]) == 0


@pytest.mark.parametrize("argv", [
    ["tune", "--generations", "1", "--population", "2", "--workers", "1", "--no-progress"],
    ["features"],
    ["train", "alpha-as-1", "--genas", "missing-genas-folder"],
], ids=["tune", "features", "train"])
def test_other_replaying_commands_refuse_it_before_any_work(broken, tmp_path, capsys, argv):
    out = tmp_path / ("out.json" if argv[0] == "features" else "out")
    rc = main([argv[0], *(argv[1:2] if argv[0] == "train" else []), "--data", str(broken), "--instrument", INSTRUMENT,
               "--day", BAD_DAY, "--out", str(out), *(argv[1:] if argv[0] != "train" else argv[2:])])
    assert rc == 2
    _assert_data_line(_one_line(capsys), broken)
    assert not out.exists()


def _runs_config(path: Path, root: Path, out: Path) -> Path:
    path.write_text(f'[experiment]\ndata = "{root}"\ninstrument = "{INSTRUMENT}"\nout = "{out}"\n'
                    f'days = {json.dumps(list(DAYS))}\nworkers = 1\n[models.foic]\nkind = "foic"\n')
    return path


def test_runs_refuses_before_any_job_and_caches_verdicts_by_hash(broken, clean, tmp_path, capsys, monkeypatch):
    out = tmp_path / "bad"
    assert main(["runs", "--config", str(_runs_config(tmp_path / "b.toml", broken, out)), "--no-progress"]) == 2
    _assert_data_line(_one_line(capsys), broken)
    assert not list(out.glob("foic/*/seed=*"))  # not even the clean day's job ran

    good = tmp_path / "good"
    cfg = _runs_config(tmp_path / "g.toml", clean, good)
    assert main(["runs", "--config", str(cfg), "--no-progress"]) == 0
    cache = json.loads((good / validate.CACHE_FILE).read_text())
    assert cache["rules"] == validate.RULES_VERSION and len(cache["verdicts"]) == len(DAYS)
    assert all(v == {"errors": [], "suspects": []} for v in cache["verdicts"].values())

    # a resumed run with new jobs takes the verdicts from the cache: the checker is not called again
    import alpha_as.data.check as check

    validate.clear_memo()
    monkeypatch.setattr(check, "validate_day", lambda *a, **k: pytest.fail("re-validated an unchanged day"))
    cfg.write_text(cfg.read_text() + '[models.liic]\nkind = "liic"\n')
    assert main(["runs", "--config", str(cfg), "--no-progress"]) == 0


def test_a_changed_file_is_validated_again(clean, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(clean, root)
    cache: dict = {}
    d = st.parse_date(BAD_DAY)
    assert validate.day_verdict(root, INSTRUMENT, d, cache).ok
    path = _depth_file(root, BAD_DAY)
    t = pq.read_table(path)
    ask = t.column("askPrice0").to_numpy().copy()
    ask[3] = np.nan
    pq.write_table(t.set_column(t.schema.get_field_index("askPrice0"), "askPrice0", pa.array(ask)), path)
    v = validate.day_verdict(root, INSTRUMENT, d, cache)
    assert not v.ok and "row 3" in v.errors[0] and len(cache) == 2


def _protocol(path: Path, root: Path, out: Path, *, test: list[str]) -> Path:
    path.write_text(
        f'[protocol]\nname = "mini"\ndata = "{root}"\ninstrument = "{INSTRUMENT}"\nsynthetic = false\n'
        f'out = "{out}"\nfi = "{DAYS[0]}"\ntrain = "{DAYS[0]}"\ntest = {json.dumps(test)}\n'
        'models = ["foic", "liic", "gen-as"]\nworkers = 1\n')
    return path


def test_replicate_validates_every_session_in_its_data_stage(broken, clean, tmp_path, capsys):
    out = tmp_path / "rep"
    cfg = _protocol(tmp_path / "p.toml", broken, out, test=[BAD_DAY])
    assert main(["replicate", "--config", str(cfg), "--no-progress"]) == 2
    _assert_data_line(_one_line(capsys), broken)
    for stage_output in ("features", "genas", "runs"):
        assert not (out / stage_output).exists()

    # a test session whose window holds no data: named with the file and the span it does cover
    out2 = tmp_path / "rep2"
    cfg2 = _protocol(tmp_path / "p2.toml", clean, out2, test=[f"{DAYS[1]} 21:00-22:00"])
    assert main(["replicate", "--config", str(cfg2), "--no-progress"]) == 2
    line = _one_line(capsys)
    assert str(_depth_file(clean, DAYS[1])) in line and "no depth snapshot in the session" in line
    assert "21:00-22:00" in line and "it covers" in line
    assert not (out2 / "genas").exists()
