"""The LOBSTER importer: real NASDAQ samples (../shared/data), a handmade pair with exact values, errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from alpha_as.data import store
from alpha_as.data.importers import lobster
from alpha_as.errors import InputError

SAMPLES = "lobster_samples_20120621"
GOOG5 = "LOBSTER_SampleFile_GOOG_2012-06-21_5.zip"
AAPL1 = "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
UTC = dt.timezone.utc
D = 9_999_999_999


def utc_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=UTC).timestamp() * 1000)


# --------------------------------------------------------------------------------------------- real samples


@pytest.fixture(scope="module")
def goog_zip(shared_data: Path) -> Path:
    return shared_data / SAMPLES / GOOG5


@pytest.fixture(scope="module")
def goog(goog_zip: Path):
    return lobster.read([goog_zip], levels=5, interval_ms=1000)


@pytest.fixture(scope="module")
def goog_csv(goog_zip: Path) -> tuple[list[list[str]], list[list[str]]]:
    """The zip's message and orderbook rows, parsed independently with the csv module."""
    with zipfile.ZipFile(goog_zip) as zf:
        names = zf.namelist()
        msg = next(n for n in names if "_message_" in n)
        ob = next(n for n in names if "_orderbook_" in n)
        rows = [list(csv.reader(io.TextIOWrapper(zf.open(n), encoding="ascii"))) for n in (msg, ob)]
    return rows[0], rows[1]


def test_goog_level5_snapshots(goog) -> None:
    days = store.utc_date_slices(goog.depth_ts)
    assert [d for d, _ in days] == [dt.date(2012, 6, 21)]
    # first grid second after the first message (09:30:00.015 EDT), last = the last grid second at or before the
    # last message (15:59:59.871 EDT): the book is not extended to the session end 16:00 named in the file
    assert goog.depth_ts[0] == utc_ms(2012, 6, 21, 13, 30, 1)
    assert goog.depth_ts[-1] == utc_ms(2012, 6, 21, 19, 59, 59)
    assert len(goog.depth_ts) == 23_399
    assert (np.diff(goog.depth_ts) == 1000).all()
    assert goog.bid_px.shape == (23_399, 5)
    for m in (goog.bid_px, goog.ask_px, goog.bid_qty, goog.ask_qty):
        assert m.dtype == np.float64 and m.flags.c_contiguous and not np.isnan(m).any()
    assert (goog.bid_px[:, 0] < goog.ask_px[:, 0]).all()
    assert (np.diff(goog.bid_px, axis=1) < 0).all() and (np.diff(goog.ask_px, axis=1) > 0).all()
    assert 500 < goog.bid_px.min() and goog.ask_px.max() < 700  # USD, not USD*1e4
    assert (goog.bid_qty > 0).all()


def test_goog_trades_match_messages(goog, goog_csv) -> None:
    msg, _ = goog_csv
    execs = [r for r in msg if r[1] in ("4", "5", "6")]
    assert len(goog.trade_ts) == len(execs) == 11_678
    assert goog.trade_px.tolist() == [int(r[4]) / 1e4 for r in execs]
    assert goog.trade_qty.tolist() == [float(r[3]) for r in execs]
    assert goog.trade_side.tolist() == [-int(r[5]) for r in execs]
    assert set(goog.trade_side.tolist()) == {-1, 1}
    assert (np.diff(goog.trade_ts) >= 0).all()
    assert goog.trade_ts[0] == utc_ms(2012, 6, 21, 13, 30, 0) + 16  # 34200.015105074 s, rounded up


def test_goog_aggressor_side_matches_quotes(goog_csv) -> None:
    """A buyer-initiated visible execution trades at the previous best ask; a seller-initiated one at the bid."""
    msg, ob = goog_csv
    checked = 0
    for i in range(1, len(msg)):
        if msg[i][1] == "4":
            side = -int(msg[i][5])
            quote = int(ob[i - 1][0]) if side == 1 else int(ob[i - 1][2])
            assert int(msg[i][4]) == quote, f"row {i + 1}"
            checked += 1
    assert checked == 7_764


def test_interval_zero_gives_more_snapshots(goog_zip: Path, goog) -> None:
    res = lobster.read([goog_zip], levels=5, interval_ms=0)
    assert len(res.depth_ts) > 2 * len(goog.depth_ts)
    assert (np.diff(res.depth_ts) > 0).all()
    both = np.hstack([res.bid_px, res.ask_px, res.bid_qty, res.ask_qty])
    assert (both[1:] != both[:-1]).any(axis=1).all()  # every snapshot is a change
    assert len(res.trade_ts) == len(goog.trade_ts)


def test_aapl_level1_file_pads_extra_levels(shared_data: Path) -> None:
    res = lobster.read([shared_data / SAMPLES / AAPL1], levels=5, interval_ms=1000)
    assert res.bid_px.shape == (23_399, 5)  # to the last message (15:59:59.913 EDT), not the session end
    assert not np.isnan(res.bid_px[:, 0]).any() and not np.isnan(res.ask_qty[:, 0]).any()
    for m in (res.bid_px, res.ask_px, res.bid_qty, res.ask_qty):
        assert np.isnan(m[:, 1:]).all()
    assert any("has 1 level(s); levels 2-5 are NaN" in n for n in res.notes)
    assert set(res.trade_side.tolist()) == {-1, 1}


def test_zip_members_as_csv_pair_in_either_order(goog_zip: Path, goog, tmp_path: Path) -> None:
    with zipfile.ZipFile(goog_zip) as zf:
        zf.extractall(tmp_path)
    ob = next(tmp_path.glob("*_orderbook_*.csv"))
    msg = next(tmp_path.glob("*_message_*.csv"))
    res = lobster.read([ob, msg], levels=5, interval_ms=1000)
    np.testing.assert_array_equal(res.depth_ts, goog.depth_ts)
    np.testing.assert_array_equal(res.ask_qty, goog.ask_qty)
    np.testing.assert_array_equal(res.trade_side, goog.trade_side)


def test_cli_end_to_end(goog_zip: Path, tmp_path: Path) -> None:
    from alpha_as.cli import main

    assert main(["data", "import", "lobster", str(goog_zip), "--out", str(tmp_path),
                 "--instrument", "goog_lobster"]) == 0
    day = store.load_day(tmp_path, "goog_lobster", dt.date(2012, 6, 21))
    assert day.has_side and day.levels == 5
    assert day.n_depth == 23_399 and day.n_trades == 11_678
    assert set(np.unique(day.trade_side).tolist()) == {-1, 1}


# --------------------------------------------------------------------------------------------- handmade pair

# time, type, order_id, size, price, direction
MESSAGES = [
    "34200.5,1,1,100,1000000,1",      # bid 100.00 x100 (ask side still empty)
    "34200.9,1,2,50,1010000,-1",      # ask 101.00 x50
    "34201.0,1,3,30,999000,1",        # bid 99.90 x30, exactly on the 09:30:01 grid time
    "34201.2504,4,2,20,1010000,-1",   # visible exec of the sell order -> buyer-initiated
    "34202.0001,5,0,10,1005000,1",    # hidden exec of a hidden buy order -> seller-initiated
    "34202.5,7,0,0,-1,-1",            # trading halt
    "34203.0,6,0,500,1002000,-1",     # cross trade -> side 0
    "34203.5,3,1,100,1000000,1",      # delete bid 100.00
    "34203.7,1,4,10,1020000,1",       # buy at 102.00: crossed book
    "34203.8,3,4,10,1020000,1",       # deleted again
]
# askP1, askS1, bidP1, bidS1, askP2, askS2, bidP2, bidS2
BOOK_A = f"1010000,30,1000000,100,{D},0,999000,30"
BOOK_B = f"1010000,30,999000,30,{D},0,-{D},0"
ORDERBOOK = [
    f"{D},0,1000000,100,{D},0,-{D},0",
    f"1010000,50,1000000,100,{D},0,-{D},0",
    f"1010000,50,1000000,100,{D},0,999000,30",
    BOOK_A, BOOK_A, BOOK_A, BOOK_A,
    BOOK_B,
    f"1010000,30,1020000,10,{D},0,999000,30",
    BOOK_B,
]


def write_pair(folder: Path, messages: list[str], orderbook: list[str], *, date: str = "2012-06-21",
               levels: int = 2, ticker: str = "TINY") -> tuple[Path, Path]:
    stem = f"{ticker}_{date}_34200000_34205000"
    msg = folder / f"{stem}_message_{levels}.csv"
    ob = folder / f"{stem}_orderbook_{levels}.csv"
    msg.write_text("\n".join(messages) + "\n")
    ob.write_text("\n".join(orderbook) + "\n")
    return msg, ob


def test_handmade_grid_exact(tmp_path: Path) -> None:
    msg, ob = write_pair(tmp_path, MESSAGES, ORDERBOOK)
    res = lobster.read([msg, ob], levels=2, interval_ms=1000)
    t0 = utc_ms(2012, 6, 21, 13, 30, 0)  # 09:30 EDT
    # grid seconds up to the last message (09:30:03.8), not to the session end 09:30:05 named in the file
    assert res.depth_ts.tolist() == [t0 + s * 1000 for s in (1, 2, 3)]
    nan = np.nan
    np.testing.assert_array_equal(res.bid_px, [[100.0, 99.9]] * 3)
    np.testing.assert_array_equal(res.bid_qty, [[100.0, 30.0]] * 3)
    np.testing.assert_array_equal(res.ask_px, [[101.0, nan]] * 3)
    np.testing.assert_array_equal(res.ask_qty, [[50.0, nan]] + [[30.0, nan]] * 2)
    assert res.trade_ts.tolist() == [t0 + 1251, t0 + 2001, t0 + 3000]
    assert res.trade_px.tolist() == [101.0, 100.5, 100.2]
    assert res.trade_qty.tolist() == [20.0, 10.0, 500.0]
    assert res.trade_side.tolist() == [1, -1, 0]
    assert res.trade_side.dtype == np.int8
    notes = " | ".join(res.notes)
    assert "1 trading-halt messages" in notes and "1 cross trades (side 0" in notes
    assert "UTC-04:00" in notes


def test_handmade_every_change(tmp_path: Path) -> None:
    msg, ob = write_pair(tmp_path, MESSAGES, ORDERBOOK)
    res = lobster.read([ob, msg], levels=2, interval_ms=0)
    t0 = utc_ms(2012, 6, 21, 13, 30, 0)
    # rows 2, 3, 4, 8, 10 (row 1: empty ask side; row 9: crossed; rows 5-7 change nothing)
    assert res.depth_ts.tolist() == [t0 + ms for ms in (900, 1000, 1251, 3500, 3800)]
    assert res.bid_px[:, 0].tolist() == [100.0, 100.0, 100.0, 99.9, 99.9]
    assert res.ask_qty[:, 0].tolist() == [50.0, 50.0, 30.0, 30.0, 30.0]
    assert any("skipped 1 snapshots with an empty side and 1 crossed" in n for n in res.notes)


def test_handmade_winter_date_and_padding(tmp_path: Path) -> None:
    msg, ob = write_pair(tmp_path, MESSAGES, ORDERBOOK, date="2012-01-10")
    res = lobster.read([msg, ob], levels=3, interval_ms=1000)
    assert res.depth_ts[0] == utc_ms(2012, 1, 10, 14, 30, 1)  # 09:30 EST = 14:30 UTC
    assert res.bid_px.shape == (3, 3) and np.isnan(res.bid_px[:, 2]).all()
    assert any("has 2 level(s); level 3 is NaN" in n for n in res.notes)
    assert any("UTC-05:00" in n for n in res.notes)


def test_two_days_concatenate(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    files = [*write_pair(a, MESSAGES, ORDERBOOK, date="2012-06-22"), *write_pair(b, MESSAGES, ORDERBOOK)]
    res = lobster.read(files, levels=2, interval_ms=1000)
    assert [d for d, _ in store.utc_date_slices(res.depth_ts)] == [dt.date(2012, 6, 21), dt.date(2012, 6, 22)]
    assert len(res.trade_ts) == 6 and (np.diff(res.trade_ts) > 0).all()


# --------------------------------------------------------------------------------------------- errors


def _error(sources: list[Path], levels: int = 2) -> InputError:
    with pytest.raises(InputError) as info:
        lobster.read(sources, levels=levels, interval_ms=1000)
    return info.value


def test_zip_without_message_or_orderbook(tmp_path: Path) -> None:
    msg, ob = write_pair(tmp_path, MESSAGES, ORDERBOOK)
    for kind, members in (("message", [ob]), ("orderbook", [msg]), ("message or orderbook", [])):
        kind_name = kind.replace(" ", "_")
        z = tmp_path / f"no_{kind_name}.zip"
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr("LOBSTER_SampleFiles_ReadMe.txt", "readme")
            for p in members:
                zf.write(p, p.name)
        err = _error([z])
        assert err.path == z and f"no LOBSTER {kind} file" in str(err)


def test_row_count_mismatch(tmp_path: Path) -> None:
    msg, ob = write_pair(tmp_path, MESSAGES, ORDERBOOK[:-1])
    err = _error([msg, ob])
    assert err.path == ob and "row-count mismatch" in str(err) and "9 orderbook rows but 10 messages" in str(err)


@pytest.mark.parametrize("which, row, text", [
    ("message", 1, "bad column count: expected 6"),
    ("message", 4, "bad column count: expected 6, got 5"),
    ("orderbook", 1, "bad column count: expected 8"),
    ("orderbook", 7, "bad column count: expected 8, got 9"),
])
def test_bad_column_count(tmp_path: Path, which: str, row: int, text: str) -> None:
    messages, orderbook = list(MESSAGES), list(ORDERBOOK)
    rows = messages if which == "message" else orderbook
    if row == 1:
        rows[:] = [r.rsplit(",", 1)[0] for r in rows]
    else:
        rows[row - 1] += ",1" if which == "orderbook" else ""
        if which == "message":
            rows[row - 1] = rows[row - 1].rsplit(",", 1)[0]
    msg, ob = write_pair(tmp_path, messages, orderbook)
    err = _error([msg, ob])
    assert err.path == (msg if which == "message" else ob) and err.row == row and text in str(err)


@pytest.mark.parametrize("which, row, bad", [
    ("message", 3, "34201.0,1,3,30,99x000,1"),
    ("message", 5, "oops,5,0,10,1005000,1"),
    ("message", 2, "nan,1,2,50,1010000,-1"),
    ("orderbook", 8, f"1010000,30,999000,30.5,{D},0,-{D},0"),
    ("orderbook", 2, f"1010000,,1000000,100,{D},0,-{D},0"),
])
def test_unparsable_numbers(tmp_path: Path, which: str, row: int, bad: str) -> None:
    messages, orderbook = list(MESSAGES), list(ORDERBOOK)
    (messages if which == "message" else orderbook)[row - 1] = bad
    msg, ob = write_pair(tmp_path, messages, orderbook)
    err = _error([msg, ob])
    assert err.path == (msg if which == "message" else ob) and err.row == row
    assert "unparsable number" in str(err)


def test_errors_inside_a_zip_name_the_member(tmp_path: Path) -> None:
    messages = list(MESSAGES)
    messages[5] = "34202.5,7,0,0,-1"
    msg, ob = write_pair(tmp_path, messages, ORDERBOOK)
    z = tmp_path / "bad.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(msg, msg.name)
        zf.write(ob, ob.name)
    err = _error([z])
    assert f"bad.zip:{msg.name}: row 6: bad column count" in str(err) and err.row == 6


def test_unpaired_or_foreign_files(tmp_path: Path) -> None:
    msg, ob = write_pair(tmp_path, MESSAGES, ORDERBOOK)
    err = _error([msg])
    assert err.path == msg and "no matching orderbook file" in str(err)
    err = _error([ob])
    assert err.path == ob and "no matching message file" in str(err)
    other = tmp_path / "notes.csv"
    other.write_text("1,2\n")
    assert "not a LOBSTER file" in str(_error([other]))
    fake = tmp_path / "fake.zip"
    fake.write_text("not a zip")
    assert "not a readable zip" in str(_error([fake]))
    undated = tmp_path / "undated"
    undated.mkdir()
    m4, o4 = undated / "TINY_message_2.csv", undated / "TINY_orderbook_2.csv"
    m4.write_text("\n".join(MESSAGES))
    o4.write_text("\n".join(ORDERBOOK))
    assert "no date in the file name" in str(_error([m4, o4]))


@pytest.mark.parametrize("row, bad, text", [
    (5, "34200.1,5,0,10,1005000,1", "time goes backwards"),
    (3, "34201.0,9,3,30,999000,1", "unknown message type 9"),
    (4, "34201.2504,4,2,20,1010000,0", "direction must be 1 or -1"),
])
def test_bad_message_values(tmp_path: Path, row: int, bad: str, text: str) -> None:
    messages = list(MESSAGES)
    messages[row - 1] = bad
    msg, ob = write_pair(tmp_path, messages, ORDERBOOK)
    err = _error([msg, ob])
    assert err.path == msg and err.row == row and text in str(err)
