"""Issue #13 §4: ``alpha-as replicate`` runs Hummingbot's AS and GLFT beside the paper's models (``hummingbot-as``,
``glft`` with ``[strategies.<name>]``; ``-tuned``: on their own GA's best.json), the identity of a protocol
without them is unchanged, and the report lists them (role ``strategy``) with the paper's claims unchanged."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest

import alpha_as.engine  # noqa: F401 - first: importing alpha_as.strategies before the engine is circular
from alpha_as.cli import main
from alpha_as.errors import InputError
from alpha_as.experiments import replicate as rep
from alpha_as.experiments.config import canonical
from alpha_as.experiments.protocol import (
    DEFAULT_MODELS,
    LABELS,
    MODELS,
    PAPER_MODELS,
    ROLES,
    STRATEGY_MODELS,
    load_protocol,
    quick,
)
from alpha_as.experiments.replicate_strategies import strategy_genas_config, strategy_genas_dir
from alpha_as.report import build
from alpha_as.strategies import registry
from alpha_as.strategies.glft import GLFTParams
from alpha_as.strategies.hummingbot_as import HummingbotASParams
from tests.test_report import make_main, read_csv, write_run

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "experiments" / "paper.toml"
INSTRUMENT = "btcusdt_synth"
OLD_MODELS = ("foic", "liic", "gen-as", "alpha-as-1", "alpha-as-2", "random", "constant-train", "constant-oracle",
              "alpha-as-1-sound", "alpha-as-2-sound")
"""MODELS before the strategy models: the default ``models`` of a protocol file."""
OLD_KEYS = {"data", "instrument", "fi", "train", "test", "models", "seeds", "map_over", "engine", "features", "genas",
            "agents", "baselines", "quick", "sound", "synthetic_generator"}
"""The identity keys of experiments/paper.toml before the strategy models."""
PAPER_HASH = "800a75610812a29720de822963985315a2db7a3bb6e24f1d5c462ad5882f7e5a"
PAPER_QUICK_HASH = "afa0149db210b6c82185d075299b2f788c7ddb89ad07cf7db8fca1b7d9ff87e8"
"""sha256 of the identity of experiments/paper.toml (and of its --quick variant) with ``data`` set to "data",
computed with the protocol module of before the strategy models (git HEAD of issue #13 §4)."""


def protocol(tmp: Path, body: str = "", tables: str = "", name: str = "p.toml") -> Path:
    path = tmp / name
    path.write_text(f'[protocol]\ndata = "{tmp / "data"}"\ninstrument = "x"\nout = "{tmp / "out"}"\n{body}\n{tables}')
    return path


def portable_hash(p) -> str:
    """The identity hash without the store's absolute path (which depends on the current directory)."""
    return hashlib.sha256(json.dumps({**p.identity(), "data": "data"}, sort_keys=True).encode()).hexdigest()


# ------------------------------------------------------------------------------------------ the protocol


def test_the_strategy_models_and_their_tables(tmp_path):
    assert MODELS[:len(PAPER_MODELS)] == PAPER_MODELS
    assert MODELS[len(PAPER_MODELS):len(PAPER_MODELS) + 4] == tuple(STRATEGY_MODELS)  # after the paper's five
    assert {m: (LABELS[m], ROLES[m]) for m in STRATEGY_MODELS} == {
        "hummingbot-as": ("Hummingbot AS", "strategy"), "hummingbot-as-tuned": ("Hummingbot AS (tuned)", "strategy"),
        "glft": ("GLFT", "strategy"), "glft-tuned": ("GLFT (tuned)", "strategy")}
    p = load_protocol(protocol(
        tmp_path, 'models = ["foic", "hummingbot-as", "hummingbot-as-tuned", "glft", "glft-tuned"]\n'
        'train = "2020-12-08 10:00-10:30"\ntest = ["2020-12-09 11:00-11:30"]',
        "[genas]\ngenerations = 3\npopulation = 4\ngenes = {risk_aversion = [0.1, 0.5]}\n"
        "base_params = {quantity = 0.0002}\n[strategies.glft]\ngamma = 0.1\n"
        "[strategies.hummingbot-as]\nrisk_factor = 0.5\n"))
    assert p.strategies_run == tuple(STRATEGY_MODELS) and p.tuned_strategies == ("hummingbot-as", "glft")
    assert p.strategy_params("glft") == canonical(GLFTParams(gamma=0.1))
    assert p.strategy_params("hummingbot-as") == canonical(HummingbotASParams(risk_factor=0.5))
    for strategy, base in (("glft", {"gamma": 0.1}), ("hummingbot-as", {"risk_factor": 0.5})):
        ga = p.strategy_ga_config(strategy, 2)
        assert (ga.strategy, ga.seed, ga.generations, ga.population) == (strategy, 2, 3, 4)
        assert ga.genes == registry.by_name(strategy).gene_table and ga.base_params == base  # not [genas]' AS keys
        assert ga.window == "10:00-10:30" and ga.base_params == base  # the training session's, no hours added
    assert p.ga_config(0).genes == {"risk_aversion": [0.1, 0.5]}  # Gen-AS's GA keeps [genas] as it is
    # no trading hours for Hummingbot's AS and GLFT: their params pass through (the window limits the replay)
    s = p.test[0]
    assert p.hours("foic", s) == {"first_hour": 11, "last_hour": 11.5}
    for model in STRATEGY_MODELS:  # the models' names and the runner kinds "hummingbot-as", "glft"
        assert p.hours(model, s) == {}
    params = p.strategy_params("glft")
    assert p.session_params("glft", s, params) == params
    job = rep.make_job(p, lambda _s: ({}, {}), "glft-tuned", "glft", params, s, 0, tmp_path / "j")
    assert job.config["params"] == params and job.config["kind"] == "glft" and job.config["window"] == "11:00-11:30"
    assert p.identity()["strategies"] == {"glft": {"gamma": 0.1}, "hummingbot-as": {"risk_factor": 0.5}}
    assert quick(p).strategy_ga_config("glft", 0).generations == 2  # --quick's small GA for every GA
    # the strategy models need no Gen-AS, and a table of a strategy the protocol does not run stays out
    only = load_protocol(protocol(tmp_path, 'models = ["glft"]', "[strategies.glft]\ngamma = 0.2\n"
                                  "[strategies.hummingbot-as]\nrisk_factor = 0.5\n", "only.toml"))
    assert only.identity()["strategies"] == {"glft": {"gamma": 0.2}} and only.tuned_strategies == ()


@pytest.mark.parametrize("protocol_keys, tables, message", [
    ("", "[strategies.glft]\nbogus = 1", "[strategies.glft]: unknown key(s) bogus; known:"),
    ("", '[strategies.glft]\ngamma = "x"', "[strategies.glft]: key 'gamma' must be float"),
    ("", "[strategies.glft]\ngamma = -1.0", "[strategies.glft]: GLFT parameters: gamma must be > 0"),
    ("", "[strategies.hummingbot-as]\nrisk_factor = 0.0",
     "[strategies.hummingbot-as]: hummingbot-as parameters: risk_factor must be > 0"),
    ("", "[strategies.hummingbot-as]\nfirst_hour = 7", "[strategies.hummingbot-as]: unknown key(s) first_hour"),
    ("", "[strategies.hummingbot]\nrisk_factor = 1.0", "[strategies]: unknown strategy 'hummingbot'; known: "
     "hummingbot-as, glft"),
    ("", "[strategies]\nglft = 1", "[strategies]: 'glft' must be a table [strategies.glft]"),
    ('models = ["glft-tuned", "hummingbot"]', "", "key 'models' must list some of"),
    ('models = ["glft-tuned"]', "[strategies.glft]\nwindow_s = 0.05",
     "[strategies.glft]: GLFT parameters: window_s must be"),
])
def test_a_bad_strategies_table_is_one_line_naming_file_table_and_key(tmp_path, capsys, protocol_keys, tables,
                                                                      message):
    path = protocol(tmp_path, protocol_keys, tables)
    with pytest.raises(InputError) as e:
        load_protocol(path)
    assert str(e.value).startswith(str(path)) and message in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert main(["replicate", "--config", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_protocol_without_the_strategies_keeps_its_identity(tmp_path):
    p = load_protocol(PAPER)
    assert p.models == OLD_MODELS and set(p.identity()) == OLD_KEYS and "strategies" not in p.identity()
    assert portable_hash(p) == PAPER_HASH and portable_hash(quick(p)) == PAPER_QUICK_HASH
    # a [strategies] table alone (no strategy model) does not enter the identity
    text = PAPER.read_text()
    with_table = tmp_path / "paper.toml"
    with_table.write_text(text + "\n[strategies.glft]\ngamma = 0.2\n")
    plain = tmp_path / "plain" / "paper.toml"
    plain.parent.mkdir()
    plain.write_text(text)
    assert load_protocol(with_table).identity_hash() == load_protocol(plain).identity_hash()
    # a file without `models` runs the models of before (so its identity is unchanged), not the strategies
    bare = load_protocol(protocol(tmp_path, "", "", "bare.toml"))
    assert bare.models == DEFAULT_MODELS == OLD_MODELS and "strategies" not in bare.identity()
    # Gen-AS's GA config (its stage manifest) has no strategy key and no job of the protocol is a strategy's
    assert "strategy" not in rep.genas_config(p, 0)["ga"] and p.strategies_run == () and p.tuned_strategies == ()
    # a protocol with them has another identity
    more = dataclasses.replace(p, models=(*p.models, "glft"))
    assert more.identity_hash() != p.identity_hash() and more.identity()["strategies"] == {}


# ------------------------------------------------------------------------------------------ the report


STRATEGIES_IN_REPORT = {"hummingbot-as": ("Hummingbot AS", "strategy"), "glft-tuned": ("GLFT (tuned)", "strategy")}


def test_the_report_lists_the_strategies_and_the_paper_claims_do_not_change(tmp_path):
    base = make_main(tmp_path / "base")
    with_strategies = tmp_path / "with"
    shutil.copytree(base, with_strategies)
    exp = json.loads((with_strategies / "experiment.json").read_text())
    exp["models"].update({m: {"label": lab, "role": role} for m, (lab, role) in STRATEGIES_IN_REPORT.items()})
    (with_strategies / "experiment.json").write_text(json.dumps(exp))
    days = sorted(d.name for d in (base / "runs" / "foic").iterdir())
    for k, model in enumerate(STRATEGIES_IN_REPORT):
        for j, day in enumerate(days):  # the best Sharpe of every day, the worst Max DD
            write_run(with_strategies / "runs", model, day, 0,
                      {"sharpe": 2.0 + k + 0.01 * j, "sortino": 3.0, "max_drawdown": 50.0, "pnl_to_map": 5.0,
                       "final_total_pnl": 0.1})
    a, b = build(base, tmp_path / "report-a"), build(with_strategies, tmp_path / "report-b")
    claims_a = [c for c in a.claims if c["id"] in ("C1", "C2", "C3")]
    claims_b = [c for c in b.claims if c["id"] in ("C1", "C2", "C3")]
    assert claims_a == claims_b and [c["verdict"] for c in claims_a]
    out_a, out_b = tmp_path / "report-a", tmp_path / "report-b"
    assert (out_a / "tables" / "table6.csv").read_text() == (out_b / "tables" / "table6.csv").read_text()
    assert (out_a / "tables" / "table8.csv").read_text() == (out_b / "tables" / "table8.csv").read_text()
    for ind in ("sharpe", "max_drawdown", "beyond_mtm_pnl"):  # the paper's tables and those beyond the paper
        header = list(read_csv(out_b / "tables" / f"{ind}.csv")[0])
        assert header[-2:] == list(STRATEGIES_IN_REPORT), (ind, header)
        assert list(read_csv(out_a / "tables" / f"{ind}.csv")[0]) == header[:-2]
    report = (out_b / "report.md").read_text()
    assert "| Hummingbot AS | `hummingbot-as` | market-making strategy (beyond the paper) |" in report
    assert "| Date | FOIC | LIIC | Gen-AS | Alpha-AS-1 | Alpha-AS-2 | Hummingbot AS | GLFT (tuned) |" in report
    assert "| 2021-01-09 | 0.1500 | 0.2500 | 0.3500 | 0.5500⁺ | 0.3000 | 2.050⁺ | **3.050⁺** |" in report  # bold: best
    assert "role 'other' or 'strategy' are not in the group" in report
    assert "role 'other' or 'strategy'" not in (out_a / "report.md").read_text()


# ------------------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny store (6 minutes of 2020-12-08 and 2020-12-09), a protocol running Hummingbot's AS with defaults and
    GLFT tuned by a 1 x 2 GA, replicated once."""
    tmp = tmp_path_factory.mktemp("strategies")
    store = tmp / "store"
    assert main(["data", "synth", "--out", str(store), "--start", "2020-12-08", "--end", "2020-12-09", "--hours",
                 "0.1", "--workers", "1"]) == 0
    cfg = tmp / "tiny.toml"
    cfg.write_text(f'[protocol]\ndata = "{store}"\ninstrument = "{INSTRUMENT}"\nout = "{tmp / "out"}"\n'
                   'window = "07:00-07:06"\nfi = "2020-12-08"\ntrain = "2020-12-08"\ntest = ["2020-12-09"]\n'
                   'models = ["hummingbot-as", "glft-tuned"]\nworkers = 1\n'
                   "[genas]\ngenerations = 1\npopulation = 2\n"
                   "[strategies.glft]\nwindow_s = 60.0\n[strategies.hummingbot-as]\norder_refresh_time = 5.0\n")
    p = load_protocol(cfg)
    lines: list[str] = []
    r = rep.replicate(p, progress=False, echo=lines.append)
    return {"p": p, "cfg": cfg, "rep": r, "lines": lines}


def test_replicate_runs_the_strategies_and_their_ga(tiny):
    p, out = tiny["p"], tiny["p"].out
    assert tiny["rep"].status["genas"] == "ran" and tiny["rep"].status["baselines"] == "ran"
    assert not (out / "genas").exists()  # no Gen-AS in the protocol: no AS GA
    ga = strategy_genas_dir(p, "glft", 0)
    assert ga == out / "genas-glft" / "seed=0" and not (out / "genas-hummingbot-as").exists()
    best = json.loads((ga / "best.json").read_text())
    assert best["strategy"] == "glft" and best["generations"] == 1 and best["population"] == 2
    assert best["window"] == "07:00-07:06" and best["params"]["window_s"] == 60.0  # [strategies.glft] as base
    manifest = json.loads((ga / "manifest.json").read_text())
    assert manifest["config"] == rep.plain_json(strategy_genas_config(p, "glft", 0))
    assert rep.stage_item_state(ga, "best.json", strategy_genas_config(p, "glft", 0)) == ""
    for model, kind in (("hummingbot-as", "hummingbot-as"), ("glft-tuned", "glft")):
        run = out / "runs" / model / "2020-12-09" / "seed=0"
        m = json.loads((run / "metrics.json").read_text())
        assert m["kind"] == kind and m["window"] == "07:00-07:06" and (run / "manifest.json").is_file()
        want = best["params"] if model == "glft-tuned" else canonical(HummingbotASParams(order_refresh_time=5.0))
        assert m["params"] == want, model
    exp = json.loads((out / "experiment.json").read_text())["models"]
    assert exp == {"hummingbot-as": {"label": "Hummingbot AS", "role": "strategy"},
                   "glft-tuned": {"label": "GLFT (tuned)", "role": "strategy"}}
    header = list(read_csv(out / "tables" / "sharpe.csv")[0])
    assert header == ["date", "hummingbot-as", "glft-tuned"]
    report = (out / "report.md").read_text()
    assert "| Date | Hummingbot AS | GLFT (tuned) |" in report
    assert any("glft seed 0: Gen-AS [glft] best fitness" in line for line in tiny["lines"]), tiny["lines"]


def test_a_rerun_skips_and_a_changed_ga_file_redoes_that_ga(tiny, capsys):
    p = tiny["p"]
    runs = sorted((p.out / "runs").rglob("metrics.json"))
    before = {f: f.stat().st_mtime_ns for f in runs}
    lines: list[str] = []
    again = rep.replicate(p, progress=False, echo=lines.append, until="baselines")
    assert again.status["genas"] == "skipped" and again.status["baselines"] == "skipped", lines
    assert {f: f.stat().st_mtime_ns for f in runs} == before
    history = strategy_genas_dir(p, "glft", 0) / "history.parquet"
    history.write_bytes(history.read_bytes() + b"edited")
    lines.clear()
    rep.replicate(p, progress=False, echo=lines.append, until="genas")
    assert "glft seed 0: redoing the GA: history.parquet changed since it was written" in lines, lines
    best = json.loads((strategy_genas_dir(p, "glft", 0) / "best.json").read_text())
    m = json.loads((p.out / "runs" / "glft-tuned" / "2020-12-09" / "seed=0" / "metrics.json").read_text())
    assert m["params"] == best["params"]  # the same seeded GA: the same best, the run still stands
