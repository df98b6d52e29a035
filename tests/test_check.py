"""``alpha-as data check``: statistics against hand-computed values, one test per bad-input case, --repair,
--json, --compare-paper and the authors' sample files."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.stats

from alpha_as.cli import main
from alpha_as.data import store
from alpha_as.data.check import day_stats, paper_comparison, validate_day
from alpha_as.data.stats import moments
from alpha_as.data.store import load_day

DAY = dt.date(2021, 2, 1)  # not one of the paper's days
INST = "x"


def ms(date: dt.date, h: int, m: int = 0, s: float = 0.0) -> int:
    """Epoch ms of ``date`` at h:m:s UTC."""
    return int(dt.datetime(date.year, date.month, date.day, h, m, tzinfo=dt.timezone.utc).timestamp()) * 1000 \
        + round(s * 1000)


def base_depth(date: dt.date = DAY, n: int = 10) -> dict[str, np.ndarray]:
    """n valid 3-level snapshots, one per second from 07:00."""
    return {
        "ts": ms(date, 7) + 1000 * np.arange(n, dtype=np.int64),
        "bid": np.tile([100.0, 99.5, 99.0], (n, 1)),
        "ask": np.tile([100.5, 101.0, 101.5], (n, 1)),
        "bq": np.ones((n, 3)),
        "aq": np.full((n, 3), 2.0),
    }


def base_trades(date: dt.date = DAY, n: int = 10) -> dict[str, np.ndarray]:
    return {
        "ts": ms(date, 7) + 500 + 1000 * np.arange(n, dtype=np.int64),
        "px": np.full(n, 100.25),
        "qty": np.full(n, 0.1),
        "side": np.where(np.arange(n) % 2 == 0, 1, -1).astype(np.int64),
    }


def write_day(root: Path, date: dt.date = DAY, depth: dict | None = None, trades: dict | None = None,
              instrument: str = INST) -> tuple[Path, Path]:
    d = base_depth(date) if depth is None else depth
    t = base_trades(date) if trades is None else trades
    dp = store.write_depth(root, instrument, date, d["ts"], d["bid"], d["ask"], d["bq"], d["aq"])
    tp = store.write_trades(root, instrument, date, t["ts"], t["px"], t["qty"], t.get("side"))
    return dp, tp


def run(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    rc = main(["data", "check", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line(err: str, path: Path, row: int | None = None) -> None:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("alpha-as: error: ")
    assert str(path) in err, err
    if row is not None:
        assert f"{path}: row {row}: " in err, err
    assert "Traceback" not in err


# --------------------------------------------------------------------------------------------- statistics


def hand_day(tmp_path: Path) -> Path:
    """A day whose statistics are computed by hand in test_day_stats_exact."""
    t0 = ms(DAY, 7)  # 07:00:00 is on a 5-s boundary
    d = {
        "ts": t0 + np.array([0, 1000, 2000, 72000, 72000]),
        "bid": np.array([[100.0], [100.0], [100.5], [101.0], [101.0]]),
        "ask": np.array([[100.5], [101.0], [101.0], [101.5], [103.0]]),
        "bq": np.ones((5, 1)), "aq": np.ones((5, 1)),
    }
    t = {"ts": t0 + np.array([500, 500, 4999, 5000, 9999, 12000]), "px": np.full(6, 100.5), "qty": np.ones(6),
         "side": np.array([1, 1, -1, 0, 1, -1])}
    root = tmp_path / "store"
    write_day(root, DAY, d, t)
    return root


def test_day_stats_exact(tmp_path: Path) -> None:
    s = day_stats(load_day(hand_day(tmp_path), INST, DAY))
    assert s["depth_snapshots"] == 5 and s["trades"] == 6
    assert s["depth_duplicate_ts"] == 1 and s["trade_duplicate_ts"] == 1
    # 5-s bins from 07:00:00 to 07:01:10: [0,5 s) 3 snapshots + 3 trades, [5,10) 2 trades, [10,15) 1 trade,
    # 11 empty bins, [70,75) 2 snapshots
    counts = np.array([6, 2, 1] + [0] * 11 + [2], dtype=float)
    t5 = s["ticks_per_5s"]
    assert t5["bins"] == 15
    assert t5["mean"] == pytest.approx(11 / 15, rel=1e-12)
    n, mean = 15, 11 / 15
    assert t5["std"] == pytest.approx(math.sqrt(((counts - mean) ** 2).sum() / (n - 1)), rel=1e-12)
    g1 = ((counts - mean) ** 3).mean() / ((counts - mean) ** 2).mean() ** 1.5
    assert t5["skew"] == pytest.approx(g1 * math.sqrt(n * (n - 1)) / (n - 2), rel=1e-12)
    assert t5["skew"] == pytest.approx(scipy.stats.skew(counts, bias=False), rel=1e-12)
    assert t5["depth_mean"] == pytest.approx(5 / 15) and t5["trades_mean"] == pytest.approx(6 / 15)
    # spreads 0.5, 1, 0.5, 0.5, 2 -> median 0.5, mean 0.9; mids 100.25 100.5 100.75 101.25 102
    assert s["spread"] == {"median": 0.5, "mean": pytest.approx(0.9)}
    assert s["mid"] == {"open": 100.25, "close": 102.0, "min": 100.25, "max": 102.0}
    assert s["gaps_over_60s"] == 1 and s["longest_gap_s"] == 70.0
    assert s["span_hours"] == pytest.approx(72 / 3600)
    assert s["first_event"] == "2021-02-01T07:00:00.000Z" and s["last_event"] == "2021-02-01T07:01:12.000Z"
    assert s["has_side"] and s["buy_fraction"] == pytest.approx(3 / 5) and s["unknown_side_trades"] == 1
    assert s["levels"] == 1


def test_day_stats_in_json_and_human_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = hand_day(tmp_path)
    rc, out, err = run(capsys, root, "--json")
    assert rc == 0 and err == ""
    doc = json.loads(out)
    assert [(d["instrument"], d["date"]) for d in doc] == [(INST, "2021-02-01")]
    assert doc[0]["problems"] == [] and doc[0]["stats"]["ticks_per_5s"]["bins"] == 15
    rc, out, err = run(capsys, root)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    day_line = next(ln for ln in lines if ln.startswith(f"{INST} 2021-02-01"))
    std = float(np.std([6, 2, 1] + [0] * 11 + [2], ddof=1))
    assert day_line.split()[2:7] == ["5", "6", "1/1", "0.73", f"{std:.2f}"]
    assert day_line.split()[8:15] == ["0.5", "0.9", "100.25", "102", "100.25", "102", "1"]
    assert lines[0].startswith("day") and "t5 mean" in lines[0]
    assert lines[-1].startswith("total: 1 day(s)")


def test_day_stats_empty_sides_and_constant_bins() -> None:
    z = np.empty(0)
    day = store.MarketDay(INST, DAY, np.array([0, 5_000_000_000], dtype=np.int64), np.array([[1.0], [1.0]]),
                          np.array([[2.0], [2.0]]), np.ones((2, 1)), np.ones((2, 1)), np.empty(0, np.int64), z, z,
                          np.empty(0, np.int8), False, None, None)
    s = day_stats(day)
    assert s["ticks_per_5s"]["mean"] == 1.0 and s["ticks_per_5s"]["std"] == 0.0
    assert s["ticks_per_5s"]["skew"] is None and s["buy_fraction"] is None and s["trades"] == 0
    json.dumps(s, allow_nan=False)


def test_moments_match_scipy() -> None:
    x = np.random.default_rng(1).poisson(40, 5000).astype(float)
    mean, std, skew = moments(x)
    assert mean == pytest.approx(x.mean()) and std == pytest.approx(x.std(ddof=1))
    assert skew == pytest.approx(scipy.stats.skew(x, bias=False), rel=1e-10)


def test_duplicate_timestamps_are_legal_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    d, t = base_depth(), base_trades()
    d["ts"][3] = d["ts"][2]
    t["ts"][5:8] = t["ts"][4]
    write_day(tmp_path, DAY, d, t)
    assert validate_day(tmp_path, INST, DAY) == []
    rc, out, err = run(capsys, tmp_path, "--json")
    assert rc == 0 and err == ""
    stats = json.loads(out)[0]["stats"]
    assert stats["depth_duplicate_ts"] == 1 and stats["trade_duplicate_ts"] == 3


# --------------------------------------------------------------------------------------------- bad input, repairable

DROP0 = "drop snapshots with a missing, non-finite or <= 0 level-0 price"
TRUNC = "truncate the book side at the first bad deeper level"


def _set(key: str, idx: tuple, value: float):
    def f(d: dict) -> None:
        d[key][idx] = value
    return f


def _both(*fs):
    def f(d: dict) -> None:
        for g in fs:
            g(d)
    return f


def _swap(i: int, j: int):
    def f(d: dict) -> None:
        d["ts"][[i, j]] = d["ts"][[j, i]]
    return f


# (case, table, mutation, first bad row, bad rows, words in the message, repair rule)
REPAIRABLE = [
    ("nan_price0", "depth", _set("bid", (3, 0), np.nan), 3, 1, "level-0 price", DROP0),
    ("inf_price0", "depth", _set("ask", (2, 0), np.inf), 2, 1, "level-0 price", DROP0),
    ("nonpositive_price0", "depth", _both(_set("bid", (4, 0), 0.0), _set("ask", (5, 0), -1.0)), 4, 2,
     "level-0 price", DROP0),
    ("negative_size0", "depth", _set("bq", (1, 0), -1.0), 1, 1, "level-0 size",
     "drop snapshots with a NaN, non-finite or <= 0 level-0 size"),
    ("nan_size0", "depth", _set("aq", (6, 0), np.nan), 6, 1, "level-0 size",
     "drop snapshots with a NaN, non-finite or <= 0 level-0 size"),
    ("crossed_and_locked", "depth", _both(_set("bid", (5, 0), 101.0), _set("bid", (7, 0), 100.5)), 5, 2,
     "crossed book", "drop crossed snapshots (bidPrice0 >= askPrice0)"),
    ("unsorted_depth", "depth", _swap(3, 4), 4, 1, "unsorted", "sort by timestamp (stable)"),
    ("deep_bad_price", "depth", _set("ask", (2, 1), np.inf), 2, 1, "deeper-level price", TRUNC),
    ("deep_bad_size", "depth", _set("bq", (3, 2), -2.0), 3, 1, "deeper-level size", TRUNC),
    ("deep_non_monotone", "depth", _set("bid", (4, 1), 100.2), 4, 1, "not strictly", TRUNC),
    ("deep_level_after_empty_one", "depth", _set("ask", (6, 1), np.nan), 6, 1, "after an empty level", TRUNC),
    ("unsorted_trades", "trade", _swap(5, 6), 6, 1, "unsorted", "sort by timestamp (stable)"),
    ("bad_trade_price", "trade", _both(_set("px", (2,), np.nan), _set("px", (3,), -5.0)), 2, 2, "trade price",
     "drop trades with a missing, non-finite or <= 0 price"),
    ("bad_trade_size", "trade", _both(_set("qty", (4,), 0.0), _set("qty", (8,), np.nan)), 4, 2, "trade size",
     "drop trades with a NaN, non-finite or <= 0 size"),
    ("bad_side", "trade", _set("side", (1,), 3), 1, 1, "side not", "set an invalid side to 0 (unknown)"),
]


@pytest.mark.parametrize(("case", "table", "mutate", "row", "count", "words", "rule"), REPAIRABLE,
                         ids=[c[0] for c in REPAIRABLE])
def test_bad_input_repairable(tmp_path: Path, capsys: pytest.CaptureFixture, case: str, table: str, mutate,
                              row: int, count: int, words: str, rule: str) -> None:
    d, t = base_depth(), base_trades()
    mutate(d if table == "depth" else t)
    root = tmp_path / "store"
    dp, tp = write_day(root, DAY, d, t)
    path = dp if table == "depth" else tp
    rc, out, err = run(capsys, root)
    assert rc == 2
    assert_one_line(err, path, row)
    assert words in err and f": {count} row" in err
    [p] = [p for p in validate_day(root, INST, DAY) if p.severity == "error"]
    assert (p.file, p.row, p.count) == (path, row, count)

    rc, out, err = run(capsys, root, "--repair")
    assert rc == 0 and err == ""
    assert f"repair: {path}: {rule}: {count} rows" in out.splitlines()
    assert f"repair total: {rule}: {count} rows" in out
    assert "1 repaired" in out and "1 copied unchanged" in out
    rc, out, err = run(capsys, root, "--repair", "--json")
    [rec] = json.loads(out)
    assert rc == 0 and [(p["kind"], p["repaired"]) for p in rec["problems"]] == [(p.kind, True)]
    assert rec["repairs"] == [{"file": str(path), "rule": rule, "count": count}]
    repaired = tmp_path / "store-repaired"
    assert run(capsys, repaired)[0] == 0
    assert validate_day(repaired, INST, DAY) == []
    other = (tp if table == "depth" else dp).relative_to(root)
    assert (repaired / other).read_bytes() == (root / other).read_bytes()  # copied unchanged


def test_repair_lists_every_rule(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    d, t = base_depth(n=12), base_trades(n=12)
    d["bid"][1, 0] = np.nan       # dropped: bad level-0 price
    d["bid"][2, 0] = 100.5        # dropped: locked
    d["ask"][3, 2] = 100.9        # truncated: ask2 < ask1
    d["ts"][[8, 9]] = d["ts"][[9, 8]]
    t["qty"][0] = -1.0            # dropped
    root = tmp_path / "s"
    dp, tp = write_day(root, DAY, d, t)
    out_dir = tmp_path / "fixed"
    rc, out, err = run(capsys, root, "--repair", "--repair-out", out_dir)
    assert rc == 0 and err == ""
    assert [ln for ln in out.splitlines() if ln.startswith("repair: /")] == [
        f"repair: {dp}: {DROP0}: 1 rows",
        f"repair: {dp}: drop crossed snapshots (bidPrice0 >= askPrice0): 1 rows",
        f"repair: {dp}: {TRUNC}: 1 rows",
        f"repair: {dp}: sort by timestamp (stable): 1 rows",
        f"repair: {tp}: drop trades with a NaN, non-finite or <= 0 size: 1 rows",
    ]
    assert "2 repaired" in out
    day = load_day(out_dir, INST, DAY)
    assert day.n_depth == 10 and day.n_trades == 11 and day.levels == 3
    assert day.ask_px[1, :2].tolist() == [100.5, 101.0] and np.isnan(day.ask_px[1, 2])  # row 3 became row 1
    assert (np.diff(day.depth_ts) > 0).all()


def test_null_timestamp(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dp, tp = write_day(tmp_path / "s")
    table = pq.read_table(tp)
    ts = table.column("timestamp").to_numpy()
    mask = np.zeros(len(ts), bool)
    mask[[4, 7]] = True
    pq.write_table(table.set_column(0, "timestamp", pa.array(ts, mask=mask)), tp)
    rc, out, err = run(capsys, tmp_path / "s")
    assert rc == 2
    assert_one_line(err, tp, 4)
    assert "null timestamp: 2 rows" in err
    rc, out, err = run(capsys, tmp_path / "s", "--repair")
    assert rc == 0 and f"repair: {tp}: drop rows with a null timestamp: 2 rows" in out
    assert run(capsys, tmp_path / "s-repaired")[0] == 0


# --------------------------------------------------------------------------------------------- bad input, fatal


def test_corrupt_parquet(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dp, tp = write_day(tmp_path / "s")
    dp.write_bytes(b"PAR1 this is not parquet")
    for extra in ((), ("--repair",)):
        rc, out, err = run(capsys, tmp_path / "s", *extra)
        assert rc == 2
        assert_one_line(err, dp)
        assert "unreadable or corrupt parquet" in err


def test_truncated_parquet(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dp, tp = write_day(tmp_path / "s")
    tp.write_bytes(tp.read_bytes()[: len(tp.read_bytes()) // 2])
    rc, out, err = run(capsys, tmp_path / "s")
    assert rc == 2
    assert_one_line(err, tp)
    assert "unreadable or corrupt parquet" in err


def test_missing_trade_column(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dp, tp = write_day(tmp_path / "s")
    pq.write_table(pq.read_table(tp).drop_columns(["quantity"]), tp)
    for extra in ((), ("--repair",)):
        rc, out, err = run(capsys, tmp_path / "s", *extra)
        assert rc == 2
        assert_one_line(err, tp)
        assert "missing column 'quantity'" in err


def test_missing_depth_column(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dp, tp = write_day(tmp_path / "s")
    pq.write_table(pq.read_table(dp).drop_columns(["askQuantity0", "askPrice0"]), dp)
    rc, out, err = run(capsys, tmp_path / "s")
    assert rc == 2
    assert_one_line(err, dp)
    assert "missing columns 'askPrice0', 'askQuantity0'" in err


def test_wrong_column_type(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dp, tp = write_day(tmp_path / "s")
    table = pq.read_table(tp)
    pq.write_table(table.set_column(1, "price", pa.array(["abc"] * table.num_rows)), tp)
    rc, out, err = run(capsys, tmp_path / "s")
    assert rc == 2
    assert_one_line(err, tp)
    assert "'price' is not numeric" in err


def test_empty_depth_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    d = {k: v[:0] for k, v in base_depth().items()}
    dp, tp = write_day(tmp_path / "s", DAY, d)
    rc, out, err = run(capsys, tmp_path / "s")
    assert rc == 2
    assert_one_line(err, dp)
    assert "empty day" in err


def test_empty_trade_file_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    t = {k: v[:0] for k, v in base_trades().items()}
    dp, tp = write_day(tmp_path / "s", DAY, None, t)
    rc, out, err = run(capsys, tmp_path / "s")
    assert rc == 0 and err == ""
    assert f"warning: {tp}: trade file has no rows" in out


def test_off_date_timestamps_are_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    t = base_trades()
    t["ts"][-1] += 3 * 86_400_000
    dp, tp = write_day(tmp_path / "s", DAY, None, t)
    rc, out, err = run(capsys, tmp_path / "s")
    assert rc == 0 and err == ""
    assert f"warning: {tp}: row 9: timestamp outside the partition date" in out


def test_missing_trade_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dp, tp = write_day(tmp_path / "s")
    tp.unlink()
    for extra in ((), ("--repair",)):
        rc, out, err = run(capsys, tmp_path / "s", *extra)
        assert rc == 2
        assert_one_line(err, tp)
        assert "no trade file" in err


def test_missing_depth_file_for_trades_only_instrument(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dp, tp = write_day(tmp_path / "s")
    dp.unlink()
    rc, out, err = run(capsys, tmp_path / "s")
    assert rc == 2
    assert_one_line(err, dp)
    assert "no depth file" in err


def test_missing_day_calendar_all(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "s"
    for day in (DAY, DAY + dt.timedelta(days=2)):
        write_day(root, day)
    assert run(capsys, root)[0] == 0
    rc, out, err = run(capsys, root, "--start", "2021-02-01", "--end", "2021-02-03")
    assert rc == 2
    assert_one_line(err, store.partition_path(root, "depth", INST, DAY + dt.timedelta(days=1)))
    assert "no data for instrument 'x' on 2021-02-02" in err and "--calendar all" in err
    assert run(capsys, root, "--start", "2021-02-03", "--end", "2021-02-03")[0] == 0


def test_missing_day_calendar_paper(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "s"
    for day in (dt.date(2020, 12, 30), dt.date(2021, 1, 1)):
        write_day(root, day)
    # 31 Dec 2020 is not a paper day
    assert run(capsys, root, "--calendar", "paper", "--start", "2020-12-30", "--end", "2021-01-01")[0] == 0
    rc, out, err = run(capsys, root, "--start", "2020-12-30", "--end", "2021-01-01")
    assert rc == 2
    assert_one_line(err, store.partition_path(root, "depth", INST, dt.date(2020, 12, 31)))
    rc, out, err = run(capsys, root, "--calendar", "paper", "--start", "2020-12-30", "--end", "2021-01-02")
    assert rc == 2
    assert_one_line(err, store.partition_path(root, "depth", INST, dt.date(2021, 1, 2)))
    assert "--calendar paper" in err


def test_empty_store_and_unknown_instrument(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    rc, out, err = run(capsys, tmp_path / "empty")
    assert rc == 2 and err.count("\n") == 1 and "no market data" in err
    write_day(tmp_path / "s")
    rc, out, err = run(capsys, tmp_path / "s", "--instrument", "nope")
    assert rc == 2 and err.count("\n") == 1 and "'nope' is not in the store" in err
    rc, out, err = run(capsys, tmp_path / "missing")
    assert rc == 2 and err.count("\n") == 1 and "not found" in err
    rc, out, err = run(capsys, tmp_path / "s", "--start", "2021-02-02", "--end", "2021-02-01")
    assert rc == 2 and "before --start" in err


def test_json_with_errors_still_parses(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    d = base_depth()
    d["bid"][2, 0] = 101.0
    root = tmp_path / "s"
    dp, _ = write_day(root, DAY, d)
    write_day(root, DAY + dt.timedelta(days=1))
    rc, out, err = run(capsys, root, "--json", "--compare-paper")
    assert rc == 2
    assert_one_line(err, dp, 2)
    doc = json.loads(out)
    assert [x["stats"] is None for x in doc] == [True, False]
    assert doc[0]["problems"][0]["kind"] == "crossed" and doc[0]["problems"][0]["count"] == 1
    assert doc[1]["paper"] is None  # not a paper day


# --------------------------------------------------------------------------------------------- paper comparison


def short_paper_day(root: Path, date: dt.date = dt.date(2020, 12, 9)) -> None:
    """07:00-09:00: one snapshot a second (+1 before 07:00), ten trades a second."""
    n = 7200
    d = base_depth(date, n + 1)
    d["ts"] = np.concatenate([[ms(date, 6, 59, 59)], ms(date, 7) + 1000 * np.arange(n)])
    t = {"ts": ms(date, 7) + 100 * np.arange(10 * n), "px": np.full(10 * n, 100.25), "qty": np.full(10 * n, 0.1)}
    write_day(root, date, d, t)


def test_compare_paper_scales_a_short_window(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "s"
    short_paper_day(root)
    write_day(root, DAY)
    rc, out, err = run(capsys, root, "--compare-paper")
    assert rc == 0 and err == ""
    assert "covered_hours/12" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("x 2020-12-09") and "*" in ln)
    # paper 2020-12-09: 42,485 snapshots, 382,755 trades, 49.22 ticks/5 s; covered 2 h -> counts x 2/12
    assert line.split() == ["x", "2020-12-09", "2.00*", "7,200", "7,081", f"{(7200 / (42485 / 6) - 1) * 100:+.1f}%",
                            "72,000", "63,792", f"{(72000 / (382755 / 6) - 1) * 100:+.1f}%",
                            "55.00", "49.22", f"{(55 / 49.22 - 1) * 100:+.1f}%"]
    assert "x 2021-02-01" in out and "not one of the paper's days" in out
    summary = next(ln for ln in out.splitlines() if ln.startswith("summary:"))
    assert summary.startswith("summary: 1 day(s) compared; snapshots: max |err| 1.7%, mean |err| 1.7%, 1/1 within ±10%")
    assert "trades: max |err| 12.9%" in summary and "0/1 within ±10%" in summary

    rc, out, err = run(capsys, root, "--compare-paper", "--json", "--instrument", "x")
    cmp = json.loads(out)[0]["paper"]
    assert cmp["covered_hours"] == 2.0 and cmp["scale"] == pytest.approx(1 / 6)
    assert cmp["depth_snapshots"] == {"ours": 7200, "paper": pytest.approx(42485 / 6),
                                      "rel_err": pytest.approx(7200 / (42485 / 6) - 1)}
    assert cmp["ticks_per_5s"]["ours"] == pytest.approx(55.0)


def test_paper_comparison_window_and_rounding() -> None:
    date = dt.date(2020, 12, 8)
    ns = store.NS_PER_MS

    def day(depth_ms: list[int], trade_ms: list[int], on: dt.date = date) -> store.MarketDay:
        nd, nt = len(depth_ms), len(trade_ms)
        return store.MarketDay(INST, on, np.array(depth_ms, np.int64) * ns, np.ones((nd, 1)), np.full((nd, 1), 2.0),
                               np.ones((nd, 1)), np.ones((nd, 1)), np.array(trade_ms, np.int64) * ns, np.ones(nt),
                               np.ones(nt), np.zeros(nt, np.int8), False, None, None)

    full = paper_comparison(day([ms(date, 6), ms(date, 7), ms(date, 18, 59, 59.999)], [ms(date, 19), ms(date, 23)]))
    assert full["covered_hours"] == 12 and full["scale"] == 1
    assert full["depth_snapshots"]["ours"] == 2 and full["trades"]["ours"] == 0
    assert full["depth_snapshots"]["paper"] == 41882
    part = paper_comparison(day([ms(date, 7)], [ms(date, 9, 0, 30)]))
    assert part["covered_hours"] == pytest.approx(2 + 1 / 60)
    assert paper_comparison(day([ms(date, 6)], []))["covered_hours"] == 0
    assert paper_comparison(day([ms(DAY, 7)], [], DAY)) is None  # not a paper day


# --------------------------------------------------------------------------------------------- authors' samples


def test_authors_samples(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = shared_data / "hftframework_lambda_data"
    rc, out, err = run(capsys, root)
    assert rc == 2
    assert_one_line(err, store.partition_path(root, "depth", "btcusdt_binance", dt.date(2022, 1, 15)))
    assert "no depth file" in err
    assert "451,466" in next(ln for ln in out.splitlines() if ln.startswith("btcusdt_binance 2022-01-15"))

    # eurusd_darwinex: depth only (no trade file); one snapshot without an ask and 7,159 locked snapshots
    depth = store.partition_path(root, "depth", "eurusd_darwinex", dt.date(2022, 1, 31))
    trade = store.partition_path(root, "trade", "eurusd_darwinex", dt.date(2022, 1, 31))
    rc, out, err = run(capsys, root, "--instrument", "eurusd_darwinex")
    assert rc == 2
    assert_one_line(err, depth, 0)
    rc, out, err = run(capsys, root, "--instrument", "eurusd_darwinex", "--repair", "--repair-out", tmp_path / "r")
    assert rc == 2
    assert_one_line(err, trade)
    assert "no trade file" in err
    assert f"repair: {depth}: {DROP0}: 1 rows" in out
    assert f"repair: {depth}: drop crossed snapshots (bidPrice0 >= askPrice0): 7159 rows" in out
    assert "137,565" in out
