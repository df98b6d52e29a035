"""Issue #12: windows and sessions (reversed / empty windows refused up front, `runs` takes replicate's session
syntax, `--quick` cuts a session inside its own window, overlapping train/test refused) and trading hours (the
strategies quote in the session's window by default; the paper protocol keeps the authors' 07-19 and its params
dicts, so its results keep their hashes)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alpha_as.cli import main
from alpha_as.data import store as st
from alpha_as.errors import InputError
from alpha_as.experiments import runner
from alpha_as.experiments.config import canonical, load_config, window_hours
from alpha_as.experiments.protocol import Session, cut_session, load_protocol, quick
from alpha_as.strategies.avellaneda_stoikov import NS_PER_HOUR, ASParams
from baselines import FOICParams

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "experiments" / "paper.toml"
INSTRUMENT = "btcusdt_synth"
DAY = "2020-12-09"
NIGHT = "btcusdt_night"
"""The synthetic day moved 5 hours earlier (its data from 02:00 UTC)."""


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A tiny synthetic store: 2020-12-09, 07:00-07:12 UTC; and the same day 5 hours earlier under NIGHT."""
    root = tmp_path_factory.mktemp("sessions") / "store"
    assert main(["data", "synth", "--out", str(root), "--start", DAY, "--end", DAY, "--hours", "0.2",
                 "--workers", "1"]) == 0
    for kind in (st.DEPTH, st.TRADE):
        t = pq.read_table(st.partition_path(root, kind, INSTRUMENT, st.parse_date(DAY)))
        ts = pa.array(t.column("timestamp").to_numpy() - 5 * 3_600_000, type=pa.int64())
        path = st.partition_path(root, kind, NIGHT, st.parse_date(DAY))
        path.parent.mkdir(parents=True)
        pq.write_table(t.set_column(t.schema.get_field_index("timestamp"), "timestamp", ts), path)
    return root


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    return lines[0]


def experiment(path: Path, data: Path, out: Path, *, days: str = f'days = ["{DAY}"]', extra: str = "",
               models: str = '[models.foic]\nkind = "foic"\n') -> Path:
    path.write_text(f'[experiment]\ndata = "{data}"\ninstrument = "{INSTRUMENT}"\nout = "{out}"\n{days}\n{extra}\n'
                    f"{models}")
    return path


def protocol(path: Path, body: str, tables: str = "") -> Path:
    path.write_text(f'[protocol]\ndata = "{path.parent / "data"}"\ninstrument = "x"\nout = "{path.parent / "out"}"\n'
                    f"{body}\n{tables}")
    return path


# ------------------------------------------------------------------------------------------------- windows


@pytest.mark.parametrize("window, what", [("19:00-07:00", "reversed"), ("08:00-08:00", "empty")])
def test_run_refuses_a_reversed_or_empty_window_up_front(tmp_path, capsys, window, what):
    out = tmp_path / "out"
    rc = main(["run", "foic", "--data", str(tmp_path / "no-store"), "--instrument", INSTRUMENT, "--day", DAY,
               "--out", str(out), "--window", window])
    line = one_line(capsys)
    assert rc == 2 and f"bad --window '{window}': the window is {what}" in line, line
    assert not out.exists()


@pytest.mark.parametrize("window", ["19:00-07:00", "08:00-08:00"])
def test_runs_refuses_a_reversed_or_empty_window(tmp_path, capsys, window):
    cfg = experiment(tmp_path / "e.toml", tmp_path / "no-store", tmp_path / "out", extra=f'window = "{window}"')
    assert main(["runs", "--config", str(cfg), "--no-progress"]) == 2
    line = one_line(capsys)
    assert f"{cfg} [experiment]: key 'window': bad window '{window}'" in line, line
    cfg = experiment(tmp_path / "s.toml", tmp_path / "no-store", tmp_path / "out", days=f'days = ["{DAY} {window}"]')
    assert main(["runs", "--config", str(cfg), "--no-progress"]) == 2
    line = one_line(capsys)
    assert f"{cfg} [experiment]: key 'days': session '{DAY} {window}': bad window '{window}'" in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("window", ["19:00-07:00", "08:00-08:00"])
def test_a_protocol_refuses_a_reversed_or_empty_window(tmp_path, capsys, window):
    path = protocol(tmp_path / "p.toml", f'window = "{window}"')
    with pytest.raises(InputError, match=r"\[protocol\]: key 'window'"):
        load_protocol(path)
    path = protocol(tmp_path / "q.toml", f'test = ["2020-12-09 {window}"]')
    with pytest.raises(InputError, match=rf"\[protocol\]: key 'test': session '2020-12-09 {window}': bad window"):
        load_protocol(path)
    # refused before --quick could cut it (it used to become 19:00-20:00)
    for cfg in (tmp_path / "p.toml", path):
        assert main(["replicate", "--config", str(cfg), "--quick", "--no-progress"]) == 2
        line = one_line(capsys)
        assert str(cfg) in line and f"'{window}'" in line and "20:00" not in line, line
    assert not (tmp_path / "out").exists() and not (tmp_path / "out-quick").exists()


def test_window_syntax():
    assert st.parse_window("all") == (None, None)
    assert st.parse_window("22:00-24:00") == (dt.time(22), None) == st.parse_window("22:00-00:00")
    for bad in ("07:00Z-08:00", "7-19", "08:00-07:59"):
        with pytest.raises(InputError):
            st.parse_window(bad)


# --------------------------------------------------------------------------------------------- --quick


def test_quick_keeps_each_session_inside_its_own_window(tmp_path):
    path = protocol(tmp_path / "p.toml", 'fi = "2020-12-07 11:00-11:10"\ntrain = "2020-12-08 19:00-21:00"\n'
                    'test = ["2020-12-09 23:30-24:00", "2020-12-10", "2020-12-11 all", "2020-12-14"]')
    p = load_protocol(path)
    q = quick(p)
    assert q.fi.window == "11:00-11:10"  # a 10-minute session stays 10 minutes (it used to become 11:00-12:00)
    assert q.train.window == "19:00-20:00"
    assert [s.window for s in q.test] == ["23:30-24:00", "07:00-08:00", "00:00-01:00"]
    assert [s.label for s in q.sessions()] == [s.label for s in p.sessions()][:5]
    for a, b in zip(p.sessions(), q.sessions(), strict=False):  # inside the original window
        (a0, a1), (b0, b1) = (st.window_ns(s.date, *st.parse_window(s.window)) for s in (a, b))
        assert a0 <= b0 < b1 <= a1
    assert cut_session(Session(dt.date(2020, 12, 9), "07:00:30-09:00", "x")).window == "07:00:30-08:00:30"


def test_a_training_session_overlapping_a_test_session_is_refused(tmp_path):
    path = protocol(tmp_path / "p.toml", 'train = "2020-12-09 07:00-12:00"\ntest = ["2020-12-09 11:00-13:00"]')
    with pytest.raises(InputError) as e:
        load_protocol(path)
    msg = str(e.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    assert ("the training session '2020-12-09 07:00-12:00' (key 'train') overlaps the test session "
            "'2020-12-09 11:00-13:00' (key 'test')") in msg
    path = protocol(tmp_path / "f.toml", 'fi = "2020-12-09"\ntest = ["2020-12-09 08:00-09:00"]')
    with pytest.raises(InputError, match=r"the FI session '2020-12-09 07:00-19:00' \(key 'fi'\) overlaps the test "
                                         r"session '2020-12-09 08:00-09:00'"):
        load_protocol(path)
    # the same day in disjoint windows is fine (the Bitstamp protocol), and so is FI = training session
    ok = load_protocol(protocol(tmp_path / "ok.toml", 'fi = "2020-12-09 00:00-02:00"\ntrain = "2020-12-09 00:00-02:00"\n'
                                                      'test = ["2020-12-09 02:00-04:00"]'))
    assert ok.fi == ok.train


def test_the_shipped_protocols_load_and_have_no_overlap():
    for name in ("paper", "bitstamp_2015"):
        p = load_protocol(REPO / "experiments" / f"{name}.toml")
        assert quick(p).sessions()


# ------------------------------------------------------------------------------------------------ runs


@pytest.mark.skipif(not hasattr(runner.Job, "session"),
                    reason="needs the runner's per-session plan_jobs (reported to the lead)")
def test_runs_takes_a_session_with_its_own_window(store, tmp_path, capsys):
    out = tmp_path / "out"
    cfg = experiment(tmp_path / "e.toml", store, out, days=f'days = ["{DAY} 07:00-07:05", "{DAY}"]',
                     models='[models.foic]\nkind = "foic"\n[models.as]\nkind = "as"\n')
    exp = load_config(cfg)
    assert [s.label for s in exp.sessions] == [DAY, f"{DAY}_0700-0705"] and exp.dates == (dt.date(2020, 12, 9),)
    assert main(["runs", "--config", str(cfg), "--no-progress"]) == 0
    capsys.readouterr()
    whole, part = out / "foic" / DAY / "seed=0", out / "foic" / f"{DAY}_0700-0705" / "seed=0"
    m_whole, m_part = (json.loads((d / "manifest.json").read_text()) for d in (whole, part))
    assert m_whole["config"]["window"] == "07:00-19:00" and m_part["config"]["window"] == "07:00-07:05"
    assert (m_whole["config"]["params"]["first_hour"], m_whole["config"]["params"]["last_hour"]) == (7, 19)
    assert (m_part["config"]["params"]["first_hour"], m_part["config"]["params"]["last_hour"]) == window_hours(
        "07:00-07:05")
    end = st.window_ns(dt.date(2020, 12, 9), dt.time(7), dt.time(7, 5))[1]
    grid = pq.read_table(part / "grid.parquet").column("timestamp").to_numpy()
    assert len(grid) and grid.max() < end
    assert m_part["metrics"]["n_fills"] < m_whole["metrics"]["n_fills"]
    assert (out / "as" / f"{DAY}_0700-0705" / "seed=0" / "metrics.json").is_file()
    rows = (out / "summary.csv").read_text().splitlines()
    assert len(rows) == 5 and any(r.startswith(f"foic,{DAY}_0700-0705,0,") for r in rows)


def test_runs_refuses_fractional_hours_with_hhmm(tmp_path, capsys):
    cfg = experiment(tmp_path / "e.toml", tmp_path / "no-store", tmp_path / "out",
                     days=f'days = ["{DAY} 11:00-11:30"]',
                     models='[models.a]\nkind = "as"\nparams = { tt_mode = "hhmm" }\n')
    assert main(["runs", "--config", str(cfg), "--no-progress"]) == 2
    line = one_line(capsys)
    assert f"{cfg} [models.a]: trading hours 11-11.5 of the window '11:00-11:30'" in line and \
        "tt_mode 'hhmm' (the authors' HHMM arithmetic) needs whole first_hour and last_hour" in line, line
    # with the authors' hours (or hours set in the params) it is fine
    experiment(cfg, tmp_path / "no-store", tmp_path / "out", days=f'days = ["{DAY} 11:00-11:30"]',
               extra='trading_hours = "authors"\nquote_currency = "USDT"',
               models='[models.a]\nkind = "as"\nparams = { tt_mode = "hhmm" }\n')
    exp = load_config(cfg, check_data=False)
    assert exp.models["a"].params.first_hour == 7 and exp.quote_currency == "USDT"


# ------------------------------------------------------------------------------------------- trading hours


def test_a_window_outside_the_authors_hours_trades(store, tmp_path, capsys):
    common = ["--data", str(store), "--instrument", NIGHT, "--day", DAY, "--window", "02:00-04:00"]
    assert main(["run", "foic", "--out", str(tmp_path / "w"), *common]) == 0
    assert main(["run", "foic", "--out", str(tmp_path / "a"), "--trading-hours", "authors", *common]) == 0
    capsys.readouterr()
    window, authors = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("w", "a"))
    assert window["metrics"]["n_fills"] > 0 and authors["metrics"]["n_fills"] == 0  # 0 fills before issue #12
    # hours set in the params stand
    assert main(["run", "foic", "--out", str(tmp_path / "p"), "--params", '{"first_hour": 7, "last_hour": 19}',
                 *common]) == 0
    assert json.loads((tmp_path / "p" / "metrics.json").read_text())["metrics"]["n_fills"] == 0


def test_window_hours_are_exact_for_the_kernels():
    assert window_hours("07:00-19:00") == (7, 19) and all(type(h) is int for h in window_hours("07:00-19:00"))
    assert window_hours("11:00-11:30") == (11, 11.5) and window_hours("all") == (0, 24)
    for m in range(1, 1440):  # a snapshot at the window's exact start is inside the trading hours
        first, _ = window_hours(f"{m // 60:02d}:{m % 60:02d}-24:00")
        assert first * NS_PER_HOUR <= m * 60_000_000_000 < first * NS_PER_HOUR + 1
    assert ASParams(first_hour=7.0, last_hour=19.0).to_dict()["first_hour"] == 7
    assert type(FOICParams(first_hour=7.0).first_hour) is int
    with pytest.raises(InputError, match="tt_mode 'hhmm'"):
        ASParams(tt_mode="hhmm", first_hour=11, last_hour=11.5)


def test_the_paper_protocol_params_and_hashes_are_unchanged():
    p = load_protocol(PAPER)
    assert p.trading_hours == "authors" and "trading_hours" not in p.identity() and p.quote_currency == "USD"
    old = {"foic": {"level": 0, "quantity": 0.0001, "inventory_limit": 0.001, "first_hour": 7, "last_hour": 19},
           "as": {"risk_aversion": 0.68, "window_tick": 25, "position_multiplier": 335.35, "spread_multiplier": 5.0,
                  "minutes_change_k": 1, "k_default": -1.0, "quantity": 0.0001, "skew": 0.0, "skew_mode": "authors",
                  "tt_mode": "linear", "first_hour": 7, "last_hour": 19, "half_tick": "keep",
                  "target_position": 0.0}}
    for q in (p, quick(p)):
        s = q.test[0]
        for model, params in (("foic", canonical(q.baselines["foic"])), ("gen-as", canonical(ASParams()))):
            new = q.session_params(model, s, params)
            want = old["foic" if model == "foic" else "as"]
            assert json.dumps(new, sort_keys=True) == json.dumps(want, sort_keys=True)
            args = (canonical(q.engine), q.instrument, s.window, q.map_over, s.date.isoformat(), 0)
            assert runner.hash_config(runner.job_config(model, new, *args)) == \
                runner.hash_config(runner.job_config(model, want, *args))
        assert q.ga_config(0).base_params == {}
    # the runs of experiments/demo.toml (07:00-19:00, trading hours from the window): the same params dicts
    demo = load_config(REPO / "experiments" / "demo.toml", check_data=False)
    assert demo.job_params("foic", demo.sessions[0]) == old["foic"]
    assert json.dumps(demo.job_params("as-default", demo.sessions[0]), sort_keys=True) == json.dumps(old["as"],
                                                                                                   sort_keys=True)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_window_hours_in_a_protocol(tmp_path):
    text = PAPER.read_text().replace('trading_hours = "authors"', "")
    p, w = load_protocol(PAPER), load_protocol(_write(tmp_path / "paper.toml", text))
    assert w.trading_hours == "window" and w.hours("foic", w.test[0]) == {"first_hour": 7, "last_hour": 19}
    assert w.identity_hash() == load_protocol(_write(tmp_path / "paper.toml", PAPER.read_text())).identity_hash()
    assert p.identity() == {**w.identity(), "data": p.identity()["data"]}
    # quick cuts the sessions to 07:00-08:00: in window mode the hours follow (and the identity says so)
    assert quick(w).hours("liic", quick(w).test[0]) == {"first_hour": 7, "last_hour": 8}
    assert quick(w).identity()["trading_hours"] == "window" and "trading_hours" not in quick(p).identity()
    # a protocol on other hours: every model quotes in each session's window unless the file sets its hours
    path = protocol(tmp_path / "b.toml", 'fi = "2015-05-01 00:00-02:00"\ntrain = "2015-05-01 02:00-04:00"\n'
                    'test = ["2015-05-01 04:00-06:00", "2015-05-01 10:30-11:00"]\nquote_currency = "USD"',
                    "[baselines.liic]\nfirst_hour = 0\nlast_hour = 24\n")
    b = load_protocol(path)
    assert b.fixed_hours == frozenset({"liic"})
    assert b.hours("foic", b.test[1]) == {"first_hour": 10.5, "last_hour": 11} and b.hours("liic", b.test[1]) == {}
    assert b.session_params("gen-as", b.test[0], {"first_hour": 7, "last_hour": 19, "skew": 0.0}) == \
        {"first_hour": 4, "last_hour": 6, "skew": 0.0}
    assert b.ga_config(0).base_params == {"first_hour": 2, "last_hour": 4}
    assert b.identity()["trading_hours"] == "window"
    authors = load_protocol(protocol(tmp_path / "c.toml", 'trading_hours = "authors"\nquote_currency = "EUR"'))
    assert authors.hours("foic", authors.test[0]) == {} and authors.quote_currency == "EUR"
    with pytest.raises(InputError, match=r"\[protocol\]: key 'trading_hours' must be one of window, authors"):
        load_protocol(protocol(tmp_path / "d.toml", 'trading_hours = "market"'))
    with pytest.raises(InputError, match=r"\[protocol\]: key 'quote_currency' must be a currency code"):
        load_protocol(protocol(tmp_path / "e.toml", 'quote_currency = "US dollar"'))


def _replicate_jobs_take_session_hours() -> bool:
    """Whether replicate.make_job applies Protocol.session_params (the change reported to the lead)."""
    from alpha_as.experiments import replicate

    p = load_protocol(REPO / "experiments" / "bitstamp_2015.toml")
    p = dataclasses.replace(p, fixed_hours=frozenset())
    job = replicate.make_job(p, lambda s: ({}, {}), "foic", "foic", {"first_hour": 7, "last_hour": 19}, p.test[0], 0,
                             Path("unused"))
    return job.config["params"]["first_hour"] != 7


@pytest.mark.skipif(not _replicate_jobs_take_session_hours(),
                    reason="needs replicate.make_job to apply Protocol.session_params (reported to the lead)")
def test_replicate_jobs_quote_in_their_session_window(tmp_path):
    from alpha_as.experiments import replicate

    path = protocol(tmp_path / "b.toml", 'fi = "2015-05-01 00:00-02:00"\ntrain = "2015-05-01 02:00-04:00"\n'
                    'test = ["2015-05-01 04:00-06:00", "2015-05-01 10:30-11:00"]')
    b = load_protocol(path)
    genas = canonical(ASParams())
    for kind, params in (("foic", canonical(b.baselines["foic"])), ("gen-as", genas), ("constant", genas)):
        job = replicate.make_job(b, lambda s: ({}, {}), kind, kind, params, b.test[1], 0, tmp_path / "j", action=3)
        assert (job.config["params"]["first_hour"], job.config["params"]["last_hour"]) == (10.5, 11)
    p = load_protocol(PAPER)  # the authors' hours: the params as given
    job = replicate.make_job(p, lambda s: ({}, {}), "foic", "foic", canonical(p.baselines["foic"]), p.test[0], 0,
                             tmp_path / "k")
    assert job.config["params"] == canonical(p.baselines["foic"])


def test_the_summary_line_says_why_a_run_traded_little(store, tmp_path, capsys):
    """Issue #12 §5: 0 fills outside the trading hours, or with every quote skipped, is explained on the line."""
    argv = ["run", "foic", "--data", str(store), "--instrument", INSTRUMENT, "--day", DAY, "--out", str(tmp_path / "o")]
    capsys.readouterr()
    assert main([*argv, "--params", '{"first_hour": 12, "last_hour": 13}']) == 0
    line = capsys.readouterr().out
    assert "fills 0 " in line and "(0 fills:" in line and "outside the trading hours 12-13 UTC" in line
    assert main(["run", "as", *argv[2:], "--params", '{"window_tick": 1000}']) == 0
    line = capsys.readouterr().out
    assert "(0 fills: quote updates skipped:" in line and "(warm-up: too few mids for window_tick)" in line
    assert main(argv) == 0  # a run that trades says nothing more
    line = capsys.readouterr().out
    assert "fills:" not in line.split("wall")[-1]

    import numpy as np

    from alpha_as.engine.backtest import BacktestResult
    from alpha_as.metrics import day_metrics

    empty = np.zeros(0)
    counters = {"snapshots": 42_465, "trades": 1, "quote_updates": 0, "skipped_k_invalid": 19_775, "skipped_warmup": 12}
    r = BacktestResult(empty, {}, empty, {}, counters, day_metrics(empty, empty, empty), hours=(7, 19))
    assert r.why_quiet() == "0 fills: quote updates skipped: 19,775 (k invalid), 12 (warm-up: too few mids for window_tick)"
