"""The canonical store (authors' layout), the reading API, the L2 book and the snapshot sampler."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alpha_as.cli import main
from alpha_as.data import store
from alpha_as.data.book import ASK, BID, L2Book, SnapshotSampler
from alpha_as.errors import InputError

DAY = dt.date(2020, 12, 9)
T7 = int(dt.datetime(2020, 12, 9, 7, tzinfo=dt.timezone.utc).timestamp() * 1000)


def _write_day(root, n=5, levels=3):
    ts = T7 - 2000 + np.arange(n, dtype=np.int64) * 1000  # 06:59:58 ...
    bid = 100.0 - np.arange(levels)[None, :] * 0.01 + np.arange(n)[:, None]
    ask = bid + 0.01 + np.arange(levels)[None, :] * 0.01
    bq = np.full((n, levels), 1.5)
    aq = np.full((n, levels), 2.5)
    bq[0, 2] = np.nan  # an empty deep level
    bid[0, 2] = np.nan
    store.write_depth(root, "x", DAY, ts, bid, ask, bq, aq)
    store.write_trades(root, "x", DAY, ts + 1, bid[:, 0], np.full(n, 0.1), np.array([1, -1, 1, -1, 1][:n]))
    return ts, bid


def test_layout_paths_and_columns(tmp_path):
    _write_day(tmp_path)
    p = tmp_path / "type=depth" / "instrument=x" / "date=20201209" / "data.parquet"
    assert p.is_file()
    assert pq.read_schema(p).names == store.depth_columns(3)
    assert store.depth_columns(2) == ["timestamp", "bidPrice0", "bidPrice1", "askPrice0", "askPrice1",
                                      "bidQuantity0", "bidQuantity1", "askQuantity0", "askQuantity1"]
    assert pq.read_schema(p).field("timestamp").type == pa.int64()
    assert store.list_instruments(tmp_path) == ["x"]
    assert store.list_dates(tmp_path, "x") == [DAY]
    assert store.list_dates(tmp_path, "x", store.TRADE) == [DAY]


def test_load_day_arrays_are_contiguous_ns_and_float(tmp_path):
    ts, bid = _write_day(tmp_path)
    day = store.load_day(tmp_path, "x", DAY)
    assert day.depth_ts.dtype == np.int64 and day.depth_ts[0] == ts[0] * 1_000_000
    assert day.bid_px.shape == (5, 3) and day.bid_px.flags.c_contiguous and day.bid_px.dtype == np.float64
    assert np.isnan(day.bid_px[0, 2]) and day.bid_px[1, 2] == bid[1, 2]
    assert day.has_side and day.trade_side.dtype == np.int8 and list(day.trade_side) == [1, -1, 1, -1, 1]
    np.testing.assert_allclose(day.mid, (day.bid_px[:, 0] + day.ask_px[:, 0]) / 2)


def test_load_day_time_window_cuts_both_streams(tmp_path):
    _write_day(tmp_path)
    day = store.load_day(tmp_path, "x", DAY, start=dt.time(7), end=dt.time(19))
    assert day.n_depth == 3 and day.depth_ts[0] == T7 * 1_000_000
    assert day.n_trades == 3 and day.trade_ts[0] == (T7 + 1) * 1_000_000
    day = store.load_day(tmp_path, "x", DAY, end=dt.time(7))
    assert day.n_depth == 2


def test_load_day_fewer_levels_and_too_many(tmp_path):
    _write_day(tmp_path)
    assert store.load_day(tmp_path, "x", DAY, levels=1).levels == 1
    with pytest.raises(InputError, match="asked for 4 levels"):
        store.load_day(tmp_path, "x", DAY, levels=4)


def test_missing_unreadable_and_malformed_files_name_the_file(tmp_path):
    with pytest.raises(InputError, match="date=20201209"):
        store.load_day(tmp_path, "x", DAY)
    _write_day(tmp_path)
    tpath = store.partition_path(tmp_path, store.TRADE, "x", DAY)
    pq.write_table(pa.table({"timestamp": pa.array([1, 2], pa.int64()), "price": [1.0, 2.0]}), tpath)
    with pytest.raises(InputError, match="missing column 'quantity'") as e:
        store.load_day(tmp_path, "x", DAY)
    assert str(tpath) in str(e.value)
    tpath.write_bytes(b"not a parquet file")
    with pytest.raises(InputError, match="unreadable or corrupt"):
        store.load_day(tmp_path, "x", DAY)
    tpath.unlink()
    with pytest.raises(InputError, match="no trade data"):
        store.load_day(tmp_path, "x", DAY)
    assert store.load_day(tmp_path, "x", DAY, require_trades=False).n_trades == 0


def test_unsorted_timestamps_are_refused_with_the_row(tmp_path):
    ts = np.array([3, 1, 2], dtype=np.int64) + T7
    m = np.array([[1.0], [1.0], [1.0]])
    store.write_depth(tmp_path, "x", DAY, ts, m, m + 1, m, m)
    store.write_trades(tmp_path, "x", DAY, ts, m[:, 0], m[:, 0])
    with pytest.raises(InputError, match="row 1: timestamps are not sorted"):
        store.load_day(tmp_path, "x", DAY)


def test_authors_sample_files_load_unchanged(shared_data):
    base = shared_data / "hftframework_lambda_data"
    ts, price, qty, side = store.read_trade_table(
        base / "type=trade/instrument=btcusdt_binance/date=20220115/data.parquet")
    assert len(ts) == 451_466 and side is None
    assert 42_000 < price.min() and price.max() < 44_000 and (qty > 0).all()
    # Darwinex EURUSD: levels 1-4 stored as null strings -> one level
    ts, bid, ask, bq, aq = store.read_depth_table(
        base / "type=depth/instrument=eurusd_darwinex/date=20220131/data.parquet")
    assert bid.shape == (144_725, 1) and np.nanmedian(ask[:, 0] - bid[:, 0]) >= 0


def test_utc_date_slices():
    ms = np.array([86_400_000 - 1, 86_400_000, 86_400_000 + 5, 3 * 86_400_000], dtype=np.int64)
    out = store.utc_date_slices(ms)
    assert [(d.isoformat(), s.start, s.stop) for d, s in out] == [
        ("1970-01-01", 0, 1), ("1970-01-02", 1, 3), ("1970-01-04", 3, 4)]
    assert store.utc_date_slices(np.array([], dtype=np.int64)) == []


def test_parse_date():
    assert store.parse_date("2020-12-09") == DAY == store.parse_date("20201209")
    with pytest.raises(InputError, match="bad date"):
        store.parse_date("09/12/2020")


# ---------------------------------------------------------------------------------- book and sampler

@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([BID, ASK]), st.integers(0, 30), st.sampled_from([0.0, 0.5, 1.0, 2.0])),
                max_size=80))
def test_cached_top_always_equals_a_full_sort(ops):
    book = L2Book()
    for side, p, q in ops:
        book.set_level(side, float(p), q)
        bp, bq, ap, aq = book.top(3)
        want_b = sorted(book.bids, reverse=True)[:3]
        want_a = sorted(book.asks)[:3]
        assert bp == want_b and ap == want_a
        assert bq == [book.bids[x] for x in want_b] and aq == [book.asks[x] for x in want_a]


def test_book_add_removes_empty_levels():
    book = L2Book()
    book.add(BID, 10.0, 1.0)
    book.add(BID, 10.0, -1.0)
    assert book.bids == {}
    book.set_level(ASK, 11.0, 1.0)
    book.set_level(BID, 11.0, 1.0)
    assert book.is_crossed()


def test_sampler_grid_takes_the_book_as_of_each_grid_time():
    book = L2Book()
    s = SnapshotSampler(levels=2, interval_ms=1000)
    book.set_level(BID, 99.0, 1.0)
    book.set_level(ASK, 101.0, 1.0)
    s.start(500)  # first grid time 1000
    for ts, price in [(1000, 100.0), (1500, 100.5), (3200, 100.7)]:
        s.advance(ts, book)
        book.set_level(BID, price, 2.0)
    s.advance(4001, book)
    ts, bid, ask, bq, aq = s.arrays()
    assert list(ts) == [1000, 2000, 3000, 4000]
    assert list(bid[:, 0]) == [100.0, 100.5, 100.5, 100.7]  # the event at exactly 1000 is included at 1000
    assert bid[0, 1] == 99.0 and ask[0, 0] == 101.0 and np.isnan(ask[0, 1])


def test_sampler_change_mode_skips_crossed_and_empty():
    book = L2Book()
    s = SnapshotSampler(levels=1, interval_ms=0)
    book.set_level(BID, 99.0, 1.0)
    s.on_change(1, book)  # empty ask side
    book.set_level(ASK, 98.0, 1.0)
    s.on_change(2, book)  # crossed
    book.set_level(ASK, 98.0, 0.0)
    book.set_level(ASK, 100.0, 1.0)
    s.on_change(3, book)
    s.on_change(4, book)  # unchanged: nothing
    ts, *_ = s.arrays()
    assert list(ts) == [3] and s.skipped_empty == 1 and s.skipped_crossed == 1


# ---------------------------------------------------------------------------------- CLI basics

def test_cli_help_and_one_line_errors(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    for argv in (["nope"], ["data"], ["data", "import", "binance"], ["data", "synth", "--hours", "x", "--out", "d"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "error" in err[0]


def test_cli_import_missing_source_is_one_line(tmp_path, capsys):
    assert main(["data", "import", "binance", str(tmp_path / "none.gz"), "--out", str(tmp_path),
                 "--instrument", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.gz" in err[0] and "file not found" in err[0]
