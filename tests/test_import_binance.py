"""The Binance raw-capture importer: the real hftbacktest samples and tiny hand-written captures."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest

from alpha_as.cli import main
from alpha_as.data import store
from alpha_as.data.importers import ImportResult, binance
from alpha_as.errors import InputError

SUB = "hftbacktest_binance_examples"
SPOT = ("spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz")
USDM = ("usdm/btcusdt_20240718.gz", "usdm/btcusdt_20240719.gz")
USDM_2023 = ("usdm/btcusdt_20230404.dat.gz", "usdm/btcusdt_20230405.dat.gz")
SPOT_NO_SNAPSHOT = "spot/btcusdt_20230405.dat.gz"


def _paths(shared_data: Path, names: tuple[str, ...]) -> list[Path]:
    return [shared_data / SUB / n for n in names]


# ------------------------------------------------------------------ real samples (each imported once)


@pytest.fixture(scope="module")
def spot_1s(shared_data: Path) -> ImportResult:
    return binance.read(_paths(shared_data, SPOT), levels=5, interval_ms=1000)


@pytest.fixture(scope="module")
def spot_every(shared_data: Path) -> ImportResult:
    return binance.read(_paths(shared_data, SPOT), levels=5, interval_ms=0)


@pytest.fixture(scope="module")
def usdm_cli(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, str]:
    """The futures pair through the whole CLI (``data import binance``) into a store."""
    out = tmp_path_factory.mktemp("usdm_store")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["data", "import", "binance", *map(str, _paths(shared_data, USDM)), "--out", str(out),
                   "--instrument", "btcusdt_binance"])
    return rc, out, buf.getvalue()


def _check_depth(r: ImportResult) -> None:
    assert np.all(np.diff(r.depth_ts) > 0)
    assert np.all(r.bid_px[:, 0] < r.ask_px[:, 0])
    assert np.all(np.diff(r.bid_px, axis=1) < 0) and np.all(np.diff(r.ask_px, axis=1) > 0)
    assert np.all(r.bid_qty > 0) and np.all(r.ask_qty > 0)
    assert np.all(np.diff(r.trade_ts) >= 0)


def test_spot_pair_counts(spot_1s: ImportResult) -> None:
    r = spot_1s
    # 2024-08-08 23:54:16 .. 2024-08-09 00:05:05 UTC: ~10.8 min on a 1 s grid
    assert len(r.depth_ts) == 650
    assert np.all(r.depth_ts % 1000 == 0)
    days = [d for d, _ in store.utc_date_slices(r.depth_ts)]
    assert days == [dt.date(2024, 8, 8), dt.date(2024, 8, 9)]
    # README: 19,904 trade messages; the one stamped before the first synced book is dropped
    assert len(r.trade_ts) == 19_903
    assert any("1 dropped before the first synced book" in n for n in r.notes)
    assert any("6,493 depth diffs applied, 2 stale diffs dropped" in n for n in r.notes)
    assert any("bookTicker 73,174" in n for n in r.notes)


def test_spot_pair_values(spot_1s: ImportResult) -> None:
    r = spot_1s
    _check_depth(r)
    assert r.bid_px.shape == (650, 5)
    assert 55_000 < r.bid_px.min() and r.ask_px.max() < 70_000
    assert 55_000 < r.trade_px.min() and r.trade_px.max() < 70_000
    assert set(np.unique(r.trade_side)) == {-1, 1}
    assert r.trade_side.dtype == np.int8
    assert np.all(r.trade_qty > 0)
    assert r.trade_ts[0] >= r.depth_ts[0] - 1000 and r.trade_ts[-1] < r.depth_ts[-1] + 1000
    # trades print inside (or at) the sampled spread most of the time
    mid = (r.bid_px[:, 0] + r.ask_px[:, 0]) / 2
    k = np.searchsorted(r.depth_ts, r.trade_ts, side="right") - 1
    ok = k >= 0
    assert np.median(np.abs(r.trade_px[ok] - mid[k[ok]]) / mid[k[ok]]) < 1e-3


def test_spot_every_change(spot_every: ImportResult, spot_1s: ImportResult) -> None:
    r = spot_every
    assert len(r.depth_ts) > 5 * len(spot_1s.depth_ts)
    assert len(r.depth_ts) == 6_487
    _check_depth(r)
    assert r.depth_ts[0] <= spot_1s.depth_ts[0]
    assert len(r.trade_ts) == len(spot_1s.trade_ts)
    # the 1 s grid is the change-mode book as of each grid time
    k = np.searchsorted(r.depth_ts, spot_1s.depth_ts, side="right") - 1
    np.testing.assert_array_equal(r.bid_px[k], spot_1s.bid_px)
    np.testing.assert_array_equal(r.ask_qty[k], spot_1s.ask_qty)


def test_usdm_pair_through_cli(usdm_cli: tuple[int, Path, str]) -> None:
    rc, out, printed = usdm_cli
    assert rc == 0
    assert "9,017 depth diffs applied" in printed  # futures `pu` chain: the spot rule would find gaps
    assert store.list_dates(out, "btcusdt_binance") == [dt.date(2024, 7, 18), dt.date(2024, 7, 19)]
    days = [store.load_day(out, "btcusdt_binance", d) for d in store.list_dates(out, "btcusdt_binance")]
    assert all(day.has_side for day in days)
    assert sum(day.n_trades for day in days) == 10_701
    assert sum(day.n_depth for day in days) == 480
    for day in days:
        assert day.levels == 5
        assert np.all(day.bid_px[:, 0] < day.ask_px[:, 0])
        assert set(np.unique(day.trade_side)) == {-1, 1}
        assert 55_000 < day.trade_px.min() and day.trade_px.max() < 70_000


def test_usdm_2023_microsecond_captures(shared_data: Path) -> None:
    r = binance.read(_paths(shared_data, USDM_2023), levels=5, interval_ms=1000)
    days = [d for d, _ in store.utc_date_slices(r.depth_ts)]
    assert days == [dt.date(2023, 4, 4), dt.date(2023, 4, 5)]
    assert [d for d, _ in store.utc_date_slices(r.trade_ts)] == days
    assert len(r.depth_ts) == 514 and len(r.trade_ts) == 12_929
    _check_depth(r)
    assert 25_000 < r.bid_px.min() and r.ask_px.max() < 32_000
    assert any("markPrice 514" in n for n in r.notes)
    assert any("1 trades are not MARKET" in n for n in r.notes)


def test_no_snapshot_refused(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = shared_data / SUB / SPOT_NO_SNAPSHOT
    with pytest.raises(InputError, match="missing REST depth snapshot") as e:
        binance.read([src], levels=5, interval_ms=1000)
    assert e.value.path == src and e.value.row == 34  # the first depth diff
    assert main(["data", "import", "binance", str(src), "--out", str(tmp_path), "--instrument", "x"]) == 2
    assert "missing REST depth snapshot" in capsys.readouterr().err


# ------------------------------------------------------------------ tiny hand-written captures

B = 1_723_161_600_000  # 2024-08-09 00:00:00 UTC in ms


def _line(e_ms: int, msg: dict) -> str:
    local_ns = (B + e_ms - 1_300) * 1_000_000  # the collector's clock runs behind the exchange's
    return f"{local_ns} {json.dumps(msg, separators=(',', ':'))}\n"


def _diff(e: int, first: int, last: int, bids=(), asks=(), pu: int | None = None) -> dict:
    data = {"e": "depthUpdate", "E": B + e, "s": "BTCUSDT", "U": first, "u": last,
            "b": [[str(p), str(q)] for p, q in bids], "a": [[str(p), str(q)] for p, q in asks]}
    if pu is not None:
        data["pu"] = pu
    return {"stream": "btcusdt@depth@100ms", "data": data}


def _trade(t: int, px: float, qty: float, maker_buyer: bool) -> dict:
    return {"stream": "btcusdt@trade", "data": {"e": "trade", "E": B + t, "s": "BTCUSDT", "t": 1, "p": str(px),
                                                "q": str(qty), "T": B + t, "m": maker_buyer}}


def _snapshot(last_id: int, bids, asks) -> dict:
    return {"lastUpdateId": last_id, "bids": [[str(p), str(q)] for p, q in bids],
            "asks": [[str(p), str(q)] for p, q in asks]}


def _write(path: Path, lines: list[tuple[int, dict]]) -> Path:
    text = "".join(_line(e, m) for e, m in lines)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _spot_capture(tmp_path: Path) -> Path:
    return _write(tmp_path / "tiny_spot.gz", [
        (1000, _diff(1000, 1, 5, bids=[(100, 9)])),  # before the snapshot and stale (u <= 10): dropped
        (1500, _trade(1500, 100.5, 1, True)),  # before the first synced book: dropped
        (1600, _snapshot(10, bids=[(100, 1), (99, 2), (98, 3)], asks=[(101, 1), (102, 2)])),
        (1900, _diff(1900, 8, 10, bids=[(100, 50)])),  # stale: u <= lastUpdateId
        (2000, _diff(2000, 9, 12, bids=[(100, 1.5), (98, 0)], asks=[(101.5, 0.5)])),  # bridges 11
        (2100, _trade(2100, 101, 0.25, False)),
        (2200, {"stream": "btcusdt@bookTicker", "data": {"u": 12, "s": "BTCUSDT", "b": "100", "B": "1",
                                                          "a": "101", "A": "1"}}),
        (2600, _diff(2600, 13, 15, bids=[(99.5, 2)], asks=[(101.5, 0), (103, 4)])),
        (2700, _trade(2700, 100, 0.5, True)),
        (3200, _diff(3200, 16, 16, bids=[(100, 0)])),
    ])


def test_tiny_spot_grid(tmp_path: Path) -> None:
    r = binance.read([_spot_capture(tmp_path)], levels=3, interval_ms=1000)
    nan = np.nan
    np.testing.assert_array_equal(r.depth_ts, [B + 2000, B + 3000])
    np.testing.assert_array_equal(r.bid_px, [[100, 99, nan], [100, 99.5, 99]])
    np.testing.assert_array_equal(r.bid_qty, [[1.5, 2, nan], [1.5, 2, 2]])
    np.testing.assert_array_equal(r.ask_px, [[101, 101.5, 102], [101, 102, 103]])
    np.testing.assert_array_equal(r.ask_qty, [[1, 0.5, 2], [1, 2, 4]])
    np.testing.assert_array_equal(r.trade_ts, [B + 2100, B + 2700])
    np.testing.assert_array_equal(r.trade_px, [101, 100])
    np.testing.assert_array_equal(r.trade_qty, [0.25, 0.5])
    np.testing.assert_array_equal(r.trade_side, [1, -1])
    text = "\n".join(r.notes)
    assert "3 depth diffs applied, 2 stale diffs dropped" in text
    assert "1 dropped before the first synced book" in text
    assert "bookTicker 1" in text and "-1,300 ms" in text


def test_tiny_spot_every_change(tmp_path: Path) -> None:
    r = binance.read([_spot_capture(tmp_path)], levels=2, interval_ms=0)
    np.testing.assert_array_equal(r.depth_ts, [B + 2000, B + 2600, B + 3200])
    np.testing.assert_array_equal(r.bid_px, [[100, 99], [100, 99.5], [99.5, 99]])
    np.testing.assert_array_equal(r.ask_px, [[101, 101.5], [101, 102], [101, 102]])


def test_tiny_futures_pu_rule(tmp_path: Path) -> None:
    snap = _snapshot(10, bids=[(100, 1)], asks=[(101, 1)]) | {"E": B + 1000, "T": B + 1000}
    src = _write(tmp_path / "tiny_usdm.txt", [  # plain text works too
        (900, _diff(900, 5, 9, bids=[(100, 7)], pu=4)),  # u < lastUpdateId: dropped
        (1000, snap),
        (1100, _diff(1100, 9, 12, bids=[(100, 2)], pu=8)),  # U <= 10 <= u: first applied
        (1200, _diff(1200, 14, 20, asks=[(101, 3)], pu=12)),  # pu == previous u (U is not u + 1: fine)
    ])
    r = binance.read([src], levels=1, interval_ms=0)
    np.testing.assert_array_equal(r.depth_ts, [B + 1100, B + 1200])
    np.testing.assert_array_equal(r.bid_qty[:, 0], [2, 2])
    np.testing.assert_array_equal(r.ask_qty[:, 0], [1, 3])
    assert "2 depth diffs applied, 1 stale diffs dropped" in r.notes[0]


def test_sequence_gap_refused(tmp_path: Path) -> None:
    src = _write(tmp_path / "gap.gz", [
        (1000, _snapshot(10, bids=[(100, 1)], asks=[(101, 1)])),
        (1100, _diff(1100, 11, 12, bids=[(100, 2)])),
        (1200, _trade(1200, 100, 1, True)),
        (1300, _diff(1300, 14, 15, bids=[(100, 3)])),  # 13 is missing
        (1400, _diff(1400, 16, 17, bids=[(100, 4)])),
    ])
    with pytest.raises(InputError, match=r"gap\.gz: row 4: depth sequence gap: expected U=13") as e:
        binance.read([src], levels=1, interval_ms=1000)
    assert e.value.path == src and e.value.row == 4


def test_first_diff_must_bridge_snapshot(tmp_path: Path) -> None:
    src = _write(tmp_path / "nobridge.gz", [
        (1000, _snapshot(10, bids=[(100, 1)], asks=[(101, 1)])),
        (1100, _diff(1100, 13, 14, bids=[(100, 2)])),  # 11..12 missing
    ])
    with pytest.raises(InputError, match="does not bridge") as e:
        binance.read([src], levels=1, interval_ms=1000)
    assert e.value.row == 2


def test_gap_reseeded_by_later_snapshot(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.gz", [
        (1000, _snapshot(10, bids=[(100, 1)], asks=[(101, 1)])),
        (1100, _diff(1100, 11, 12, bids=[(100, 2)])),
        (1300, _diff(1300, 14, 15, bids=[(100, 3)])),  # gap: out of sync, buffered
    ])
    second = _write(tmp_path / "b.gz", [
        (2400, _diff(2400, 16, 20, bids=[(99, 5)])),  # buffered; stale for the new snapshot
        (2500, _snapshot(20, bids=[(99, 5), (98, 1)], asks=[(102, 2)])),
        (2600, _diff(2600, 21, 21, asks=[(101.5, 1)])),  # re-syncs
        (3700, _diff(3700, 22, 22, bids=[(99, 6)])),
    ])
    r = binance.read([first, second], levels=2, interval_ms=1000)
    # 2000 lies in the outage and is not sampled; 3000 shows the re-seeded book
    np.testing.assert_array_equal(r.depth_ts, [B + 3000])
    np.testing.assert_array_equal(r.bid_px, [[99, 98]])
    np.testing.assert_array_equal(r.ask_px, [[101.5, 102]])
    text = "\n".join(r.notes)
    assert "sequence gap" in text and "a.gz:3" in text


def test_stale_snapshot_ignored(tmp_path: Path) -> None:
    src = _write(tmp_path / "c.gz", [
        (900, _snapshot(10, bids=[(100, 1)], asks=[(101, 1)])),
        (950, _diff(950, 11, 11, bids=[(100, 2)])),
        (1500, _snapshot(9, bids=[(1, 1)], asks=[(2, 1)])),  # older than the synced book: ignored
        (2500, _diff(2500, 12, 12, bids=[(100, 3)])),
    ])
    r = binance.read([src], levels=1, interval_ms=1000)
    np.testing.assert_array_equal(r.depth_ts, [B + 1000, B + 2000])
    np.testing.assert_array_equal(r.bid_qty[:, 0], [2, 2])
    assert any("1 REST snapshot(s) ignored" in n for n in r.notes)


def test_several_symbols_and_bad_lines(tmp_path: Path) -> None:
    eth = _diff(1200, 12, 12)
    eth["data"]["s"] = "ETHUSDT"
    src = _write(tmp_path / "mixed.gz", [
        (1000, _snapshot(10, bids=[(100, 1)], asks=[(101, 1)])),
        (1100, _diff(1100, 11, 11)),
        (1200, eth),
    ])
    with pytest.raises(InputError, match=r"row 3: several symbols .*BTCUSDT, ETHUSDT"):
        binance.read([src], levels=1, interval_ms=1000)
    bad = tmp_path / "bad.txt"
    bad.write_text(_line(1000, _snapshot(10, [(100, 1)], [(101, 1)])) + "1723161600000000000 {not json\n")
    with pytest.raises(InputError, match=r"row 2: bad JSON"):
        binance.read([bad], levels=1, interval_ms=1000)
    bad.write_text("12345 {}\n")
    with pytest.raises(InputError, match=r"row 1: local timestamp 12345 is not epoch"):
        binance.read([bad], levels=1, interval_ms=1000)
