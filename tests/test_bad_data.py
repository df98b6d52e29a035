"""Bad and suspicious market data (issue #12): one clear line naming the file, or a SUSPECT warning.

Cases: a string / bool ``side``; timestamps in s, µs or ns (and a stray far-future row) without allocating by
the time range; Tardis files in ns and imports that produce no snapshot; trades after the book ends or shifted
by a day; a day spanning more than 26 h; a 0/1 side; many unknown sides; LOBSTER books not extended past the
last message.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alpha_as.cli import main
from alpha_as.data import store
from alpha_as.data.check import ERROR, SUSPECT, WARNING, Problem, validate_day
from alpha_as.data.importers import lobster, run_import
from alpha_as.data.stats import day_stats, moments
from alpha_as.errors import InputError

DAY = dt.date(2021, 2, 1)
INST = "x"
TRUST = "(pass --trust-data to replay it anyway)"
SUSPECT_END = "refuse this day unless given --trust-data"


def ms(h: int, m: int = 0, s: int = 0, date: dt.date = DAY) -> int:
    return int(dt.datetime(date.year, date.month, date.day, h, m, s, tzinfo=dt.timezone.utc).timestamp()) * 1000


def depth(n: int = 600, start: int | None = None, step: int = 1000) -> dict[str, np.ndarray]:
    """n valid 2-level snapshots every ``step`` ms from ``start`` (default 07:00)."""
    start = ms(7) if start is None else start
    return {"ts": start + step * np.arange(n, dtype=np.int64), "bid": np.tile([100.0, 99.5], (n, 1)),
            "ask": np.tile([100.5, 101.0], (n, 1)), "bq": np.ones((n, 2)), "aq": np.full((n, 2), 2.0)}


def trades(n: int = 600, start: int | None = None, step: int = 1000, side: np.ndarray | None = None) -> dict:
    start = ms(7) if start is None else start
    return {"ts": start + step * np.arange(n, dtype=np.int64), "px": np.full(n, 100.25), "qty": np.full(n, 0.1),
            "side": np.where(np.arange(n) % 2 == 0, 1, -1) if side is None else side}


def write_day(root: Path, d: dict | None = None, t: dict | None = None, date: dt.date = DAY) -> tuple[Path, Path]:
    d = depth() if d is None else d
    t = trades() if t is None else t
    dp = store.write_depth(root, INST, date, d["ts"], d["bid"], d["ask"], d["bq"], d["aq"])
    tp = store.write_trades(root, INST, date, t["ts"], t["px"], t["qty"], t.get("side"))
    return dp, tp


def check(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    rc = main(["data", "check", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err: str, path: Path | str) -> None:
    assert err.count("\n") == 1 and err.startswith("alpha-as: error: "), err
    assert str(path) in err and "Traceback" not in err, err


def by_kind(problems: list[Problem]) -> dict[str, Problem]:
    out = {p.kind: p for p in problems}
    assert len(out) == len(problems), problems
    return out


# --------------------------------------------------------------------------------------------- 1. side type


@pytest.mark.parametrize("kind", ["string", "bool"])
def test_side_stored_as_string_or_bool_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, kind: str) -> None:
    root = tmp_path / "s"
    dp, tp = write_day(root)
    t = trades()
    side = ["buy", "sell"] * 300 if kind == "string" else [True, False] * 300
    pq.write_table(pa.table({"timestamp": pa.array(t["ts"]), "price": pa.array(t["px"]),
                             "quantity": pa.array(t["qty"]), "side": pa.array(side)}), tp)
    want = f"column 'side' has type {kind}, expected int8 +1/-1/0 (0 = unknown)"
    [p] = validate_day(root, INST, DAY)
    assert (p.kind, p.severity, p.file) == ("bad_column", ERROR, tp)
    assert p.message.startswith(want)
    if kind == "bool":
        assert p.message == want + "; a bool buy flag must be stored as +1 (buy) / -1 (sell)"
    rc, out, err = check(capsys, root)
    assert rc == 2
    one_line(err, tp)
    assert want in err
    with pytest.raises(InputError) as info:
        store.load_day(root, INST, DAY)
    assert str(info.value).startswith(f"{tp}: {want}")


def test_side_half_is_refused_by_the_loader_not_truncated(tmp_path: Path) -> None:
    root = tmp_path / "s"
    _, tp = write_day(root)
    t = trades()
    pq.write_table(pa.table({"timestamp": pa.array(t["ts"]), "price": pa.array(t["px"]),
                             "quantity": pa.array(t["qty"]), "side": np.where(np.arange(600) == 7, 0.5, 1.0)}), tp)
    with pytest.raises(InputError, match=rf"{tp}: row 7: side must be \+1, -1 or 0, got 0.5"):
        store.load_day(root, INST, DAY)


# --------------------------------------------------------------------------------------------- 2. units


@pytest.mark.parametrize(("unit", "mul", "div", "median"), [("s", 1, 1000, "1.6e9"), ("µs", 1000, 1, "1.6e15"),
                                                            ("ns", 1_000_000, 1, "1.6e18")])
def test_timestamps_in_the_wrong_unit(tmp_path: Path, capsys: pytest.CaptureFixture, unit: str, mul: int, div: int,
                                      median: str) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    d, t = depth(7200), trades(7200)  # 2 h, whole seconds (exact in s)
    write_day(good, d, t)
    dp, tp = write_day(bad, {**d, "ts": d["ts"] * mul // div}, {**t, "ts": t["ts"] * mul // div})
    tracemalloc.start()
    t0 = time.perf_counter()
    problems = validate_day(bad, INST, DAY)
    rc, out, err = check(capsys, bad)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 5 and peak < 100e6  # never by the time range (ns used to allocate 22 GB)
    msg = f"timestamps look like {unit} (median {median}); the layout wants epoch ms"
    assert [(p.file, p.kind, p.severity, p.row, p.message) for p in problems] == [
        (dp, "timestamp_unit", ERROR, None, msg), (tp, "timestamp_unit", ERROR, None, msg)]
    assert rc == 2
    one_line(err, dp)
    assert f"{dp}: {msg} (--repair fixes it)" in err
    with pytest.raises(InputError) as info:  # `run` loads the day: the same words, not "no depth snapshots"
        store.load_day(bad, INST, DAY)
    assert str(info.value).startswith(f"{dp}: {msg}")
    # --repair rescales to epoch ms: the repaired day equals the day written in ms
    rc, out, err = check(capsys, bad, "--repair", "--repair-out", tmp_path / "fixed")
    assert rc == 0 and err == ""
    assert f"repair: {dp}: rescale the timestamps to epoch ms (s x 1000; µs and ns floored to ms): from {unit}: " \
        "7200 rows" in out
    a, b = store.load_day(good, INST, DAY), store.load_day(tmp_path / "fixed", INST, DAY)
    np.testing.assert_array_equal(a.depth_ts, b.depth_ts)
    np.testing.assert_array_equal(a.trade_ts, b.trade_ts)
    assert validate_day(tmp_path / "fixed", INST, DAY) == []


def test_a_stray_far_row_does_not_allocate_by_the_time_range(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    t = trades()
    t["ts"][-1] = t["ts"][-1] * 1_000_000  # one row in ns among ms rows: the median says ms
    root = tmp_path / "s"
    dp, tp = write_day(root, t=t)
    tracemalloc.start()
    t0 = time.perf_counter()
    rc, out, err = check(capsys, root, "--json")
    elapsed, peak = time.perf_counter() - t0, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 5 and peak < 100e6
    assert rc == 0 and err == ""
    [doc] = json.loads(out)
    kinds = {(p["kind"], p["severity"]) for p in doc["problems"]}
    assert kinds == {("off_date", WARNING), ("long_span", SUSPECT), ("trades_outside_depth", SUSPECT)}
    assert doc["stats"]["trades"] == 600 and doc["stats"]["ticks_per_5s"]["bins"] > 10**9


def test_sparse_bins_give_the_dense_moments() -> None:
    counts = np.array([6, 2, 1, 0, 0, 0, 2, 0, 0, 5], dtype=float)
    nz = counts[counts > 0]
    assert moments(nz, zeros=len(counts) - len(nz)) == pytest.approx(moments(counts), rel=1e-12)
    # a day whose 2 events are 10 years apart: counted without 6e7 empty bins
    md = store.MarketDay(INST, DAY, np.array([0, 10 * 365 * 86_400 * 10**9]), np.ones((2, 1)), np.full((2, 1), 2.0),
                         np.ones((2, 1)), np.ones((2, 1)), np.empty(0, np.int64), np.empty(0), np.empty(0),
                         np.empty(0, np.int8), False, None, None)
    t5 = day_stats(md)["ticks_per_5s"]
    assert t5["bins"] == 63_072_001 and t5["mean"] == pytest.approx(2 / 63_072_001)


# --------------------------------------------------------------------------------------------- 3. tardis

BOOK_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
TRADE_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
B_US = 1_723_161_600_000_000  # 2024-08-09 00:00 UTC in µs


def tardis_files(folder: Path, scale: int = 1, crossed: bool = False) -> list[Path]:
    """A Tardis book (snapshot + updates over 5 s) and trades file, timestamps in µs x ``scale``."""
    folder.mkdir(parents=True, exist_ok=True)

    def t(us: int) -> int:
        return (B_US + us) * scale

    ask = 99 if crossed else 101
    book = [f"x,BTC,{t(100_000)},{t(102_000)},true,bid,100,1", f"x,BTC,{t(100_000)},{t(102_000)},true,ask,{ask},1"]
    if not crossed:
        book += [f"x,BTC,{t(s * 1_000_000 + 300)},{t(s * 1_000_000 + 900)},false,bid,100,{s + 1}" for s in range(1, 6)]
    (folder / "book.csv").write_text("\n".join([BOOK_HEADER, *book]) + "\n")
    tr = [f"x,BTC,{t(s * 1_000_000 + 500)},{t(s * 1_000_000 + 700)},{s},buy,100.5,0.1" for s in range(5)]
    (folder / "trades.csv").write_text("\n".join([TRADE_HEADER, *tr]) + "\n")
    return [folder / "book.csv", folder / "trades.csv"]


@pytest.mark.parametrize("interval", [0, 1000])
def test_tardis_ns_files_are_converted(tmp_path: Path, capsys: pytest.CaptureFixture, interval: int) -> None:
    us, ns = tardis_files(tmp_path / "us"), tardis_files(tmp_path / "ns", scale=1000)
    run_import("tardis", us, tmp_path / "a", INST, interval_ms=interval)
    rc = main(["data", "import", "tardis", *map(str, ns), "--out", str(tmp_path / "b"), "--instrument", INST,
               "--interval-ms", str(interval)])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    assert f"note: {ns[0]}: timestamps are epoch ns, not µs as Tardis writes them: converted" in out
    day = dt.date(2024, 8, 9)
    a, b = store.load_day(tmp_path / "a", INST, day), store.load_day(tmp_path / "b", INST, day)
    assert a.n_depth > 0
    for k in ("depth_ts", "bid_qty", "trade_ts", "trade_side"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert validate_day(tmp_path / "b", INST, day) == []


def test_tardis_timestamp_in_no_unit_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    book.write_text(f"{BOOK_HEADER}\nx,BTC,12345,12345,true,bid,100,1\n")
    with pytest.raises(InputError, match=rf"^{book}: row 2: timestamp 12345 is not an epoch time in µs"):
        run_import("tardis", [book], tmp_path / "out", INST)


@pytest.mark.parametrize(("interval", "cause"), [
    (0, "all 2 sampled books had an empty side (0) or a crossed top (2)"),  # after each book change
    (1000, "all 1 sampled books had an empty side (0) or a crossed top (1)"),  # at 00:00:01
])
def test_no_depth_snapshots_names_the_files_and_the_cause(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                          interval: int, cause: str) -> None:
    files = tardis_files(tmp_path / "src", crossed=True)
    (tmp_path / "src" / "book.csv").write_text((tmp_path / "src" / "book.csv").read_text()
                                               + f"x,BTC,{B_US + 2_000_000},{B_US + 2_000_100},false,bid,50,1\n")
    rc = main(["data", "import", "tardis", *map(str, files), "--out", str(tmp_path / "out"), "--instrument", INST,
               "--interval-ms", str(interval)])
    out, err = capsys.readouterr()
    assert rc == 2
    one_line(err, files[0])
    assert f"{files[0]}, {files[1]}: the source produced no depth snapshots: {cause}" in err
    assert "note: 0 snapshots at" in out and "crossed skipped" in out  # the skip notes are printed


def test_no_depth_snapshot_on_a_short_grid(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    book = tmp_path / "book.csv"
    book.write_text(f"{BOOK_HEADER}\nx,BTC,{B_US + 100_000},{B_US + 100_000},true,bid,100,1\n"
                    f"x,BTC,{B_US + 100_000},{B_US + 100_000},true,ask,101,1\n"
                    f"x,BTC,{B_US + 400_000},{B_US + 400_000},false,ask,101,2\n")
    rc = main(["data", "import", "tardis", str(book), "--out", str(tmp_path / "out"), "--instrument", INST])
    out, err = capsys.readouterr()
    assert rc == 2
    one_line(err, book)
    assert "no depth snapshots: the book rows from the first snapshot block (2024-08-09 00:00:00) to the last " \
        "(2024-08-09 00:00:00 UTC) span no 1000 ms grid time: give more data or --interval-ms 0" in err
    assert "note: " in out


def test_utc_date_slices_out_of_range_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"^a\.csv: timestamp 1723161600000000000 \(1\.7e18\) is out of the epoch-ms "
                       r"range \(years 1677-2262\); timestamps look like ns \(median 1\.7e18\)"):
        store.utc_date_slices(np.array([B_US * 1000]), source="a.csv")
    assert store.utc_date_slices(np.array([0, 86_400_000])) == [(dt.date(1970, 1, 1), slice(0, 1)),
                                                                (dt.date(1970, 1, 2), slice(1, 2))]


# --------------------------------------------------------------------------------------------- 4. looks fine, is not


def test_trades_after_the_book_ends(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "s"
    d = depth(228, start=ms(0))  # the book stops at 00:03:47
    t = trades(751, start=ms(0), step=10_000)  # trades every 10 s to 02:05
    dp, tp = write_day(root, d, t)
    late = t["ts"] > ms(0, 4, 47)
    p = by_kind(validate_day(root, INST, DAY))["trades_outside_depth"]
    assert (p.file, p.severity, p.count, p.row) == (tp, SUSPECT, int(late.sum()), int(np.argmax(late)))
    assert p.row == 29 and p.count == 722
    line = (f"{tp}: row 29: trades more than 60 s outside the depth snapshots' time range 2021-02-01 00:00:00 to "
            "2021-02-01 00:03:47 UTC (0 before, 722 after): they would fill against a stale or missing book: "
            f"722 rows (--repair fixes it; pass --trust-data to replay it anyway)")
    assert p.line() == line
    rc, out, err = check(capsys, root)
    assert rc == 0 and err == ""
    assert f"  SUSPECT: {line}" in out
    assert out.splitlines()[-1].startswith("SUSPECT: 1 suspect problem on 1 day(s)") and SUSPECT_END in out
    rc, out, err = check(capsys, root, "--repair")
    assert rc == 0 and err == ""
    assert f"repair: {tp}: drop trades more than 60 s before the first or after the last depth snapshot: 722 rows" in out
    fixed = tmp_path / "s-repaired"
    assert validate_day(fixed, INST, DAY) == []
    assert store.load_day(fixed, INST, DAY).n_trades == 29


def test_trade_file_shifted_by_a_day(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    t = trades()
    t["ts"] += 86_400_000
    root = tmp_path / "s"
    dp, tp = write_day(root, t=t)
    found = by_kind(validate_day(root, INST, DAY))
    assert set(found) == {"trades_outside_depth", "wrong_date"}
    assert all(p.severity == SUSPECT and p.file == tp and p.line().endswith("pass --trust-data to replay it anyway)")
               for p in found.values())
    assert found["wrong_date"].line() == (f"{tp}: row 0: 100% of the timestamps fall outside the partition's date "
                                          f"2021-02-01 UTC (a shifted or mislabelled file?): 600 rows {TRUST}")
    assert found["trades_outside_depth"].count == 600
    rc, out, err = check(capsys, root)
    assert rc == 0 and "SUSPECT: 2 suspect problems on 1 day(s)" in out


def test_a_day_spanning_more_than_26_hours(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "s"
    dp, tp = write_day(root, depth(31, start=ms(0), step=3_600_000), trades(24, start=ms(0), step=3_600_000))
    [p] = validate_day(root, INST, DAY)
    assert (p.kind, p.severity, p.file, p.row) == ("long_span", SUSPECT, dp, None)
    assert p.line() == (f"{dp}: timestamps span 30.0 h (2021-02-01 00:00:00 to 2021-02-02 06:00:00 UTC), far more "
                        f"than one day's 26 h: a wrong unit, or several days in one file? {TRUST}")
    rc, out, err = check(capsys, root)
    assert rc == 0 and f"  SUSPECT: {p.line()}" in out


def test_side_holding_a_0_1_buy_flag(tmp_path: Path) -> None:
    root = tmp_path / "s"
    dp, tp = write_day(root, t=trades(side=np.arange(600) % 2))
    [p] = validate_day(root, INST, DAY)
    assert (p.kind, p.severity, p.file) == ("side_01", SUSPECT, tp)
    assert p.line() == (f"{tp}: side holds only 0 and 1 (300 zeros, 300 ones, no -1): it looks like a 0/1 buy flag; "
                        f"the layout wants +1 buyer-initiated, -1 seller-initiated, 0 unknown {TRUST}")


@pytest.mark.parametrize(("n", "zeros", "flagged"), [(1000, 20, True), (1000, 10, False), (100, 9, False)])
def test_unknown_side_share(tmp_path: Path, n: int, zeros: int, flagged: bool) -> None:
    side = np.where(np.arange(n) % 2 == 0, 1, -1)
    side[5:5 + zeros] = 0
    root = tmp_path / "s"
    dp, tp = write_day(root, depth(n), trades(n, side=side))
    problems = validate_day(root, INST, DAY)
    if not flagged:
        assert problems == []
        return
    [p] = problems
    assert (p.kind, p.severity, p.row, p.count) == ("unknown_side", SUSPECT, 5, 20)
    assert p.line() == f"{tp}: row 5: unknown side (0 or null) on 2.0% of the trades, more than 1%: 20 rows {TRUST}"


def test_suspects_exit_0_but_errors_still_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "s"
    write_day(root, t=trades(side=np.arange(600) % 2))
    day2 = DAY + dt.timedelta(days=1)
    d = depth(start=ms(7, date=day2))
    d["bid"][3, 0] = -1.0  # an error on the second day
    dp, _ = write_day(root, d, trades(start=ms(7, date=day2)), date=day2)
    rc, out, err = check(capsys, root)
    assert rc == 2
    one_line(err, dp)
    assert "SUSPECT: 1 suspect problem on 1 day(s)" in out
    rc, out, err = check(capsys, root, "--json", "--end", str(DAY))
    assert rc == 0 and err == ""
    [doc] = json.loads(out)
    assert [(p["kind"], p["severity"]) for p in doc["problems"]] == [("side_01", "suspect")]


def test_lobster_book_stops_at_the_last_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stem = "TINY_2012-06-21_34200000_57600000"  # the file names a 09:30-16:00 session; messages cover 49 s
    msg, ob = tmp_path / f"{stem}_message_1.csv", tmp_path / f"{stem}_orderbook_1.csv"
    msg.write_text("34200.5,1,1,100,1000000,1\n34200.9,1,2,50,1010000,-1\n34249.0,4,2,10,1010000,-1\n")
    ob.write_text("9999999999,0,1000000,100\n1010000,50,1000000,100\n1010000,40,1000000,100\n")
    res = lobster.read([msg, ob], levels=1, interval_ms=1000)
    t0 = int(dt.datetime(2012, 6, 21, 13, 30, tzinfo=dt.timezone.utc).timestamp()) * 1000
    assert res.depth_ts.tolist() == [t0 + s * 1000 for s in range(1, 50)]  # to 09:30:49, not 6.5 h to 16:00
    assert "TINY 2012-06-21: the messages stop at 09:30:49, 23,351 s before the session end 16:00:00 named in the " \
        "file (New York time): the book is not extended past the last message" in res.notes
    assert main(["data", "import", "lobster", str(msg), str(ob), "--out", str(tmp_path / "s"),
                 "--instrument", INST]) == 0
    capsys.readouterr()
    assert validate_day(tmp_path / "s", INST, dt.date(2012, 6, 21)) == []
