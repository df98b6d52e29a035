"""The Tardis.dev CSV importer on small hand-written files in the documented format."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import numpy as np
import pytest

from alpha_as.cli import main
from alpha_as.data import store
from alpha_as.data.importers import tardis
from alpha_as.errors import InputError

BOOK_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
TRADE_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
B_US = 1_723_161_600_000_000  # 2024-08-09 00:00:00 UTC in µs
B = B_US // 1000
nan = np.nan


def _book_row(us: int, snap: bool, side: str, price: float, amount: float, symbol: str = "BTCUSDT") -> str:
    return f"binance-futures,{symbol},{B_US + us},{B_US + us + 2_500},{str(snap).lower()},{side},{price},{amount}"


def _trade_row(us: int, tid: int, side: str, price: float, amount: float) -> str:
    return f"binance-futures,BTCUSDT,{B_US + us},{B_US + us + 3_000},{tid},{side},{price},{amount}"


def _write(path: Path, header: str, rows: list[str]) -> Path:
    text = "\n".join([header, *rows]) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    book1 = _write(tmp_path / "binance-futures_incremental_book_L2_2024-08-09_BTCUSDT.csv", BOOK_HEADER, [
        _book_row(50_000, False, "bid", 100, 9),  # before the first snapshot: dropped
        _book_row(100_500, True, "bid", 100, 1),
        _book_row(100_500, True, "bid", 99, 2),
        _book_row(100_500, True, "ask", 101, 1),
        _book_row(100_500, True, "ask", 102, 3),
        _book_row(100_900, False, "bid", 100, 1.5),  # same ms as the snapshot: applied with it
        _book_row(700_000, False, "ask", 101, 0),  # 0 removes the level
        _book_row(700_000, False, "ask", 101.5, 0.5),
        _book_row(1_000_000, False, "bid", 99.5, 4),  # on the grid time: included in the 1000 ms snapshot
        _book_row(1_000_999, False, "bid", 98, 1),  # floors to 1000 ms: included too
        _book_row(2_500_000, False, "bid", 100, 0),
    ])
    book2 = _write(tmp_path / "book_part2.csv.gz", BOOK_HEADER, [
        _book_row(3_200_000, True, "bid", 90, 5),  # a snapshot block after updates: the book is rebuilt
        _book_row(3_200_000, True, "ask", 91, 6),
        _book_row(3_250_000, True, "ask", 92, 7),  # same block (stamped 3200 ms): no second reset
        _book_row(4_100_000, False, "bid", 90, 0.5),
    ])
    trades = _write(tmp_path / "binance-futures_trades_2024-08-09_BTCUSDT.csv", TRADE_HEADER, [
        _trade_row(40_000, 1, "buy", 100.5, 1),  # before the first snapshot: dropped
        _trade_row(150_000, 2, "buy", 101, 0.1),
        _trade_row(1_000_500, 3, "sell", 100, 0.2),
        _trade_row(3_300_000, 5, "unknown", 90.5, 0.4),
        _trade_row(2_000_000, 4, "buy", 101.5, 0.3),  # out of order: sorted
    ])
    return book1, book2, trades


def test_grid_1000ms(files: tuple[Path, Path, Path]) -> None:
    book1, book2, trades = files
    r = tardis.read([trades, book1, book2], levels=3, interval_ms=1000)
    np.testing.assert_array_equal(r.depth_ts, [B + 1000, B + 2000, B + 3000, B + 4000])
    np.testing.assert_array_equal(r.bid_px, [[100, 99.5, 99], [100, 99.5, 99], [99.5, 99, 98], [90, nan, nan]])
    np.testing.assert_array_equal(r.bid_qty, [[1.5, 4, 2], [1.5, 4, 2], [4, 2, 1], [5, nan, nan]])
    np.testing.assert_array_equal(r.ask_px, [[101.5, 102, nan], [101.5, 102, nan], [101.5, 102, nan],
                                             [91, 92, nan]])
    np.testing.assert_array_equal(r.ask_qty, [[0.5, 3, nan], [0.5, 3, nan], [0.5, 3, nan], [6, 7, nan]])
    np.testing.assert_array_equal(r.trade_ts, [B + 150, B + 1000, B + 2000, B + 3300])
    np.testing.assert_array_equal(r.trade_px, [101, 100, 101.5, 90.5])
    np.testing.assert_array_equal(r.trade_qty, [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_array_equal(r.trade_side, [1, -1, 1, 0])
    assert r.trade_side.dtype == np.int8
    text = "\n".join(r.notes)
    assert "2 snapshot block(s)" in text
    assert "1 book rows before the first snapshot block dropped" in text
    assert "4 trades kept from 1 trades file(s), 1 dropped" in text and "1 with unknown side" in text


def test_every_change(files: tuple[Path, Path, Path]) -> None:
    book1, book2, trades = files
    r = tardis.read([book1, trades, book2], levels=2, interval_ms=0)
    np.testing.assert_array_equal(r.depth_ts, B + np.array([100, 700, 1000, 2500, 3200, 4100]))
    np.testing.assert_array_equal(r.bid_px, [[100, 99], [100, 99], [100, 99.5], [99.5, 99], [90, nan], [90, nan]])
    np.testing.assert_array_equal(r.bid_qty, [[1.5, 2], [1.5, 2], [1.5, 4], [4, 2], [5, nan], [0.5, nan]])
    np.testing.assert_array_equal(r.ask_px, [[101, 102], [101.5, 102], [101.5, 102], [101.5, 102], [91, 92],
                                             [91, 92]])
    assert len(r.trade_ts) == 4


def test_snapshot_reset_within_one_file(tmp_path: Path) -> None:
    src = _write(tmp_path / "reset.csv", BOOK_HEADER, [
        _book_row(0, True, "bid", 10, 1),
        _book_row(0, True, "ask", 11, 1),
        _book_row(500_000, False, "bid", 9, 2),
        _book_row(500_000, True, "bid", 8, 3),  # same ms, new block: wipes 10 and 9 and the ask
        _book_row(500_000, True, "ask", 12, 4),
        _book_row(800_000, False, "ask", 12.5, 1),
        _book_row(800_000, True, "ask", 13, 1),  # another block: the book is only {13} now (no bid)
        _book_row(1_200_000, False, "bid", 7, 1),
    ])
    r = tardis.read([src], levels=2, interval_ms=0)
    np.testing.assert_array_equal(r.depth_ts, [B, B + 500, B + 1200])
    np.testing.assert_array_equal(r.bid_px, [[10, nan], [8, nan], [7, nan]])
    np.testing.assert_array_equal(r.ask_px, [[11, nan], [12, nan], [13, nan]])
    assert any("1 empty" in n for n in r.notes)  # the bid-less book at 800 ms is not emitted
    assert any("3 snapshot block(s)" in n for n in r.notes)


def test_exchange_time_steps_back(tmp_path: Path) -> None:
    src = _write(tmp_path / "back.csv", BOOK_HEADER, [
        _book_row(0, True, "bid", 10, 1),
        _book_row(0, True, "ask", 11, 1),
        _book_row(900_000, False, "bid", 10, 2),
        _book_row(800_000, False, "bid", 10, 3),  # earlier exchange time (rows are in local order)
        _book_row(1_500_000, False, "bid", 10, 4),
    ])
    r = tardis.read([src], levels=1, interval_ms=0)
    np.testing.assert_array_equal(r.depth_ts, [B, B + 900, B + 1500])
    np.testing.assert_array_equal(r.bid_qty[:, 0], [1, 3, 4])
    assert any("1 book rows had an exchange timestamp earlier" in n for n in r.notes)


def test_bad_header(tmp_path: Path) -> None:
    src = _write(tmp_path / "x.csv", "a,b,c", ["1,2,3"])
    with pytest.raises(InputError, match=r"x\.csv: row 1: unrecognised header 'a,b,c'"):
        tardis.read([src], levels=1, interval_ms=0)
    src = _write(tmp_path / "y.csv.gz", "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price",
                 ["binance,BTCUSDT,1,1,true,bid,10"])
    with pytest.raises(InputError, match=r"y\.csv\.gz: row 1: missing column\(s\) amount"):
        tardis.read([src], levels=1, interval_ms=0)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty file"):
        tardis.read([empty], levels=1, interval_ms=0)


@pytest.mark.parametrize(("row", "message"), [
    ("binance-futures,BTCUSDT,{t},{t},true,bid,abc,1", r"row 3: unparsable price 'abc'"),
    ("binance-futures,BTCUSDT,{t},{t},true,bid,10,-1", r"row 3: bad amount '-1'"),
    ("binance-futures,BTCUSDT,12.5x,{t},true,bid,10,1", r"row 3: unparsable timestamp '12.5x'"),
    ("binance-futures,BTCUSDT,{t},{t},yes,bid,10,1", r"row 3: unknown is_snapshot 'yes'"),
    ("binance-futures,BTCUSDT,{t},{t},true,buy,10,1", r"row 3: unknown side 'buy': expected one of bid, ask"),
    ("binance-futures,BTCUSDT,{t},{t},true,bid,10", r"row 3: expected 8 fields, got 7"),
    ("binance-futures,ETHUSDT,{t},{t},true,bid,10,1", r"row 3: several instruments .*BTCUSDT.*ETHUSDT"),
])
def test_bad_book_rows(tmp_path: Path, row: str, message: str) -> None:
    src = _write(tmp_path / "bad.csv", BOOK_HEADER, [_book_row(0, True, "ask", 11, 1), row.format(t=B_US)])
    with pytest.raises(InputError, match=message) as e:
        tardis.read([src], levels=1, interval_ms=0)
    assert e.value.path == src and e.value.row == 3


def test_bad_trade_rows_and_sources(tmp_path: Path, files: tuple[Path, Path, Path]) -> None:
    book1, book2, _ = files
    bad = _write(tmp_path / "t.csv", TRADE_HEADER, [_trade_row(1, 1, "buy", 1, 1), _trade_row(2, 2, "short", 1, 1)])
    with pytest.raises(InputError, match=r"t\.csv: row 3: unknown side 'short': expected one of buy, sell, unknown"):
        tardis.read([book1, bad], levels=1, interval_ms=0)
    with pytest.raises(InputError, match="no incremental_book_L2 file"):
        tardis.read([bad], levels=1, interval_ms=0)
    with pytest.raises(InputError, match=r"BTCUSDT\.csv: row 2: book files are not in time order: this file starts before book_part2"):
        tardis.read([book2, book1], levels=1, interval_ms=0)
    no_snap = _write(tmp_path / "nosnap.csv", BOOK_HEADER, [_book_row(0, False, "bid", 1, 1)])
    with pytest.raises(InputError, match="no is_snapshot=true rows"):
        tardis.read([no_snap], levels=1, interval_ms=0)


def test_cli_end_to_end(tmp_path: Path, files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    book1, book2, trades = files
    out = tmp_path / "store"
    rc = main(["data", "import", "tardis", str(trades), str(book1), str(book2), "--out", str(out),
               "--instrument", "btcusdt_tardis", "--levels", "3"])
    assert rc == 0, capsys.readouterr().err
    assert "4 trades kept" in capsys.readouterr().out
    day = store.load_day(out, "btcusdt_tardis", dt.date(2024, 8, 9))
    assert day.has_side and day.levels == 3
    np.testing.assert_array_equal(day.depth_ts // store.NS_PER_MS, [B + 1000, B + 2000, B + 3000, B + 4000])
    np.testing.assert_array_equal(day.trade_side, [1, -1, 1, 0])
    np.testing.assert_array_equal(day.bid_px[3], [90, nan, nan])
    bad = _write(tmp_path / "bad.csv", "a,b", [])
    assert main(["data", "import", "tardis", str(bad), "--out", str(out), "--instrument", "x"]) == 2
    assert "unrecognised header" in capsys.readouterr().err
