"""``alpha-as replicate-sensitivity``: the sensitivity file, the market variant of a protocol, a 2-variant quick
run end to end (robustness table, the variant's own instrument, resume), and ``alpha-as data synth``'s flags."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alpha_as.cli import main
from alpha_as.errors import InputError
from alpha_as.experiments.protocol import load_protocol
from alpha_as.experiments.replicate_cli import apply_overrides
from alpha_as.experiments.sensitivity import load_sensitivity, with_overrides
from alpha_as.report.robustness import verdict_class

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "experiments" / "paper.toml"
SENSITIVITY = REPO / "experiments" / "sensitivity.toml"
STAGES = ["data", "features", "genas", "baselines", "references", "agents", "report"]
MODELS = ["foic", "liic", "gen-as", "alpha-as-1", "random"]
"""The test's models: enough for every claim (C1-C3 need the baselines, Gen-AS and an agent; C2b a policy)."""


def base_protocol(tmp: Path, data: Path) -> Path:
    """experiments/paper.toml with the store in ``tmp``, two test days and no feature selection; the sensitivity
    file then cuts the models (the quick pattern of tests/test_replicate.py, smaller: each variant's quick run
    takes about 15 s with one worker, most of it the agent and the synthetic days)."""
    text = PAPER.read_text().replace('data = "data"', f'data = "{data}"').replace(
        "horizon_s = 5.0", "enabled = false").replace('test = "paper"', 'test = ["2020-12-09", "2020-12-10"]')
    path = tmp / "paper.toml"
    path.write_text(text)
    return path


def sensitivity_file(tmp: Path, base: Path, variants: str, head: str = "") -> Path:
    path = tmp / "sens.toml"
    path.write_text(f'[sensitivity]\nbase = "{base}"\nout = "{tmp / "sens"}"\nmodels = {json.dumps(MODELS)}\n{head}\n'
                    f"{variants}")
    return path


TWO = '[[variant]]\nname = "calibrated"\n\n[[variant]]\nname = "benign"\nsynth = { informed = 0.0 }\n'


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------------------------------ the files


def test_the_sensitivity_file():
    s = load_sensitivity(SENSITIVITY)
    assert [v.name for v in s.variants] == ["calibrated", "benign", "queue-fills", "on-grid-baselines"]
    assert s.out == Path.cwd() / "results" / "sensitivity"
    by = {v.name: v.protocol for v in s.variants}
    assert by["calibrated"].instrument == "btcusdt_synth" and by["benign"].instrument == "btcusdt_synth_inf0"
    assert by["benign"].synth.informed == 0.0 and by["calibrated"].synth.is_default
    assert by["queue-fills"].engine.fill_model == "queue" and by["calibrated"].engine.fill_model == "paper"
    assert {k: p.clamp for k, p in by["on-grid-baselines"].baselines.items()} == {"foic": "on_grid", "liic": "on_grid"}
    assert by["calibrated"].baselines["foic"].clamp == "authors"
    assert all(p.data == by["calibrated"].data for p in by.values())  # one shared store
    assert [p.out.name for p in by.values()] == list(by) and by["benign"].name == "paper-benign"
    paper = load_protocol(PAPER)
    assert by["calibrated"].models == tuple(m for m in paper.models if not m.endswith("-sound"))
    assert len({p.identity_hash() for p in by.values()}) == 4
    assert "informed = 0.0" in by["benign"].data_note and "variant 'benign'" in by["benign"].notes[-1]
    q = with_overrides(s, quick=True)
    assert q.out.name == "sensitivity-quick" and all(v.protocol.quick for v in q.variants)
    assert [v.protocol.out for v in q.variants] == [q.out / v.name for v in q.variants]


def test_a_market_variant_is_part_of_the_protocol_identity(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PAPER.read_text() + "\n[synth]\nstale_sweep = 0.5\n")
    p, paper = load_protocol(path), load_protocol(PAPER)
    assert p.instrument == "btcusdt_synth_sw0p5" and p.identity()["synth"]["stale_sweep"] == 0.5
    assert "synth" not in paper.identity()  # the calibrated market leaves the identity of earlier protocols as it was
    path.write_text(PAPER.read_text() + "\n[synth]\ninformed = 1.0\n")
    assert load_protocol(path).identity_hash() == paper.identity_hash()
    path.write_text(PAPER.read_text().replace("[baselines.foic]", '[baselines]\nclamp = "on_grid"\n\n[baselines.foic]'
                                              ).replace("[baselines.liic]", '[baselines.liic]\nclamp = "authors"'))
    b = load_protocol(path).baselines
    assert (b["foic"].clamp, b["liic"].clamp) == ("on_grid", "authors")  # shared key, overridden per model
    # your own data (--data/--instrument): the store's instrument as given, no variant
    path.write_text(PAPER.read_text() + "\n[synth]\ninformed = 0.0\n")
    (tmp_path / "mine").mkdir()
    args = argparse.Namespace(seeds=None, workers=None, data=tmp_path / "mine", instrument="x", quick=False, out=None)
    own = apply_overrides(load_protocol(path), args)
    assert (own.instrument, own.synthetic, own.synth.is_default) == ("x", False, True)


@pytest.mark.parametrize("variants, head, message", [
    ('[[variant]]\nname = "a"\nbogus = { x = 1 }', "", "[[variant]] 'a': unknown key(s) bogus"),
    ('[[variant]]\nname = "a"\nengine = "queue"', "", "[[variant]] 'a': key 'engine' must be a table"),
    ('[[variant]]\nname = "a b"', "", "[[variant]] number 1: key 'name' must be"),
    ('[[variant]]\ndescription = "x"', "", "[[variant]] number 1: key 'name' must be"),
    ('[[variant]]\nname = "a"\n[[variant]]\nname = "a"', "", "variant name(s) a given twice"),
    ('[[variant]]\nname = "a"\nprotocol = { out = "x" }', "", "protocol key(s) out are set by the sensitivity file"),
    ('[[variant]]\nname = "a"\nsynth = { informed = -1.0 }', "", "[[variant]] 'a' [synth]: synthetic market: informed"),
    ('[[variant]]\nname = "a"\nsynth = { bogus = 1.0 }', "", "[[variant]] 'a' [synth]: unknown key(s) bogus"),
    ('[[variant]]\nname = "a"\nbaselines = { clamp = "inside" }', "",
     "[[variant]] 'a' [baselines]: FOIC: clamp must be one of authors, on_grid"),
    ('[[variant]]\nname = "a"\nengine = { fill_model = "magic" }', "", "[[variant]] 'a' [engine]"),
    ('[[variant]]\nname = "a"\nprotocol = { synthetic = false }\nsynth = { informed = 0.0 }', "",
     "a market variant needs synthetic = true"),
    ("", "", "no variants"),
    ('[[variant]]\nname = "a"', "bogus = 1", "[sensitivity]: unknown key(s) bogus"),
    ('[[variant]]\nname = "a"', 'name = "a b"', "bad name 'a b'"),
])
def test_a_bad_sensitivity_file_is_one_error_line(tmp_path, capsys, variants, head, message):
    path = sensitivity_file(tmp_path, PAPER, variants, head)
    with pytest.raises(InputError) as e:
        load_sensitivity(path)
    assert message in str(e.value) and "\n" not in str(e.value)
    rc, _, err = cli(capsys, "replicate-sensitivity", "--config", str(path), "--no-progress")
    assert rc == 2 and err.count("\n") == 1 and message in err


def test_bad_base_and_models_are_one_line(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(f'[sensitivity]\nbase = "{tmp_path / "none.toml"}"\n[[variant]]\nname = "a"\n')
    rc, _, err = cli(capsys, "replicate-sensitivity", "--config", str(path))
    assert rc == 2 and "none.toml not found" in err and err.count("\n") == 1
    path.write_text(f'[sensitivity]\nbase = "{PAPER}"\nmodels = ["foic", "dqn"]\n[[variant]]\nname = "a"\n')
    rc, _, err = cli(capsys, "replicate-sensitivity", "--config", str(path))
    assert rc == 2 and "[sensitivity] models" in err and "key 'models' must list" in err
    path.write_text(f'[sensitivity]\nbase = "{PAPER}"\n[[variant]]\nname = "a"\n')
    rc, _, err = cli(capsys, "replicate-sensitivity", "--config", str(path), "--variants", "b")
    assert rc == 2 and "unknown variant(s) b" in err


def test_synth_cli_writes_a_variant_under_its_own_instrument(tmp_path, capsys):
    rc, out, _ = cli(capsys, "data", "synth", "--out", str(tmp_path), "--start", "2020-12-09", "--end", "2020-12-09",
                     "--hours", "0.05", "--workers", "1", "--informed", "0", "--stale-sweep", "2.5")
    assert rc == 0 and "instrument: btcusdt_synth_inf0_sw2p5" in out
    assert (tmp_path / "type=depth" / "instrument=btcusdt_synth_inf0_sw2p5" / "date=20201209" / "data.parquet").is_file()
    assert not (tmp_path / "type=depth" / "instrument=btcusdt_synth").exists()
    rc, _, err = cli(capsys, "data", "synth", "--out", str(tmp_path), "--informed", "-1")
    assert rc == 2 and err.count("\n") == 1 and "informed must be a number in [0, 10]" in err


# ------------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def sens_run(tmp_path_factory):
    """A 2-variant quick sensitivity (calibrated, benign) into a temporary store."""
    tmp = tmp_path_factory.mktemp("sensitivity")
    cfg = sensitivity_file(tmp, base_protocol(tmp, tmp / "data"), TWO)
    t0 = time.perf_counter()
    # one worker: the GA, baselines and references run in this process (on a quick run, spawning pools of workers
    # costs more than the runs themselves)
    proc = subprocess.run([sys.executable, "-m", "alpha_as", "replicate-sensitivity", "--config", str(cfg), "--quick",
                           "--workers", "1", "--no-progress"], capture_output=True, text=True, cwd=tmp, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"tmp": tmp, "cfg": cfg, "out": tmp / "sens-quick", "stdout": proc.stdout,
            "seconds": time.perf_counter() - t0}


def test_quick_sensitivity_writes_the_robustness_table(sens_run):
    out = sens_run["out"]
    doc = json.loads((out / "robustness.json").read_text())
    assert [v["name"] for v in doc["variants"]] == ["calibrated", "benign"] and all(v["has_claims"] for v in doc["variants"])
    claims = json.loads((out / "calibrated" / "claims.json").read_text())["claims"]
    assert [r["id"] for r in doc["claims"]] == [c["id"] for c in claims] == ["C1", "C2", "C3", "C2b"]
    for row in doc["claims"]:
        for v in ("calibrated", "benign"):
            cell = row["cells"][v]
            assert cell["verdict"] and cell["class"] == verdict_class(cell["verdict"]), (row["id"], v)
            assert cell["figure"], (row["id"], v)  # every claim is tested with these models
    md = (out / "robustness.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Claim |"))
    assert "| calibrated |" in header and "| benign |" in header
    for cid in ("C1", "C2", "C3", "C2b"):
        assert sum(line.startswith(f"| {cid}: ") for line in md.splitlines()) == 1, cid
    assert "[calibrated/report.md](calibrated/report.md)" in md and "btcusdt_synth_inf0" in md
    assert f"robustness: {out / 'robustness.md'}" in sens_run["stdout"]
    print(f"quick 2-variant sensitivity: {sens_run['seconds']:.1f} s")


def test_the_benign_variant_has_its_own_instrument_store(sens_run):
    out, data = sens_run["out"], sens_run["tmp"] / "data"
    instruments = {"calibrated": "btcusdt_synth", "benign": "btcusdt_synth_inf0"}
    for v, inst in instruments.items():
        assert json.loads((out / v / "experiment.json").read_text())["instrument"] == inst
        manifest = json.loads((out / v / "runs" / "foic" / "2020-12-09" / "seed=0" / "manifest.json").read_text())
        assert manifest["config"]["instrument"] == inst
        folder = data / "type=depth" / f"instrument={inst}"
        days = sorted(p.name for p in folder.glob("date=*"))
        assert days == ["date=20201207", "date=20201208", "date=20201209", "date=20201210"]
        stamp = json.loads((folder / "synthetic.json").read_text())  # the generator's record of its options
        assert stamp["options"]["informed"] == (0.0 if v == "benign" else 1.0)
    identity = {v: json.loads((out / v / "protocol.json").read_text())["identity"] for v in instruments}
    assert "synth" not in identity["calibrated"] and identity["benign"]["synth"]["informed"] == 0.0
    a, b = ((data / "type=trade" / f"instrument={i}" / "date=20201209" / "data.parquet").read_bytes()
            for i in instruments.values())
    assert a != b  # a different market, not a copy


def test_a_rerun_resumes_and_a_changed_variant_is_refused(sens_run, capsys):
    out, cfg = sens_run["out"], sens_run["cfg"]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("metrics.json")}
    rc, text, _ = cli(capsys, "replicate-sensitivity", "--config", str(cfg), "--quick", "--workers", "1",
                      "--no-progress")
    assert rc == 0
    tables = text.split("=== variant ")[1:]
    assert len(tables) == 2
    for t in tables:
        assert all(f"{s:<10} skipped" in t for s in STAGES[:-1]), t
    assert {p: p.stat().st_mtime_ns for p in out.rglob("metrics.json")} == before
    cfg.write_text(cfg.read_text().replace("informed = 0.0", "informed = 0.5"))
    rc, _, err = cli(capsys, "replicate-sensitivity", "--config", str(cfg), "--quick", "--no-progress",
                     "--variants", "benign")
    assert rc == 2 and "holds results of a different protocol" in err and "benign" in err
