"""The Bitstamp ob-analytics importer: the real 2015-05-01 capture, and the rules on hand-written logs."""

from __future__ import annotations

import bz2
import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pytest

from alpha_as.data import store
from alpha_as.data.importers import ImportResult, bitstamp
from alpha_as.errors import InputError

CAPTURE = Path("bitstamp_btcusd_20150501_obanalytics") / "2015-05-01.log.bz2"
DAY = dt.date(2015, 5, 1)
T0 = 1430438400000                       # 2015-05-01 00:00 UTC, epoch ms
N_SNAPSHOTS = 85_999                     # 86,394 1-s grid times after the seed minus 395 crossed
N_TRADES = 4_251                         # no trade has a junk price


# --------------------------------------------------------------------------------------------- the real day


@pytest.fixture(scope="module")
def real(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ImportResult, list[dict]]:
    """The capture imported once (from a decompressed copy: also covers plain .log input) + its order_book messages."""
    text = bz2.decompress((shared_data / CAPTURE).read_bytes())
    plain = tmp_path_factory.mktemp("bitstamp") / "2015-05-01.log"
    plain.write_bytes(text)
    result = bitstamp.read([plain], levels=5, interval_ms=1000)
    books = []
    for line in text.decode().splitlines():
        ts, typ, js = line.split(" ", 2)
        if typ == "order_book":
            d = json.loads(js)
            books.append({"ts": int(ts), "bid": float(d["bids"][0][0]), "ask": float(d["asks"][0][0])})
    return result, books


def test_real_day_is_one_utc_day_of_1hz_snapshots(real: tuple[ImportResult, list[dict]]) -> None:
    r, _ = real
    assert [d for d, _ in store.utc_date_slices(r.depth_ts)] == [DAY]
    assert [d for d, _ in store.utc_date_slices(r.trade_ts)] == [DAY]
    assert len(r.depth_ts) == N_SNAPSHOTS >= 80_000
    assert np.all(r.depth_ts % 1000 == 0) and np.all(np.diff(r.depth_ts) > 0)


def test_real_snapshots_are_valid_books(real: tuple[ImportResult, list[dict]]) -> None:
    r, _ = real
    for m in (r.bid_px, r.ask_px, r.bid_qty, r.ask_qty):
        assert m.shape == (N_SNAPSHOTS, 5) and np.isfinite(m).all()
    assert np.all(r.bid_px[:, 0] < r.ask_px[:, 0])
    assert np.all(np.diff(r.ask_px, axis=1) > 0) and np.all(np.diff(r.bid_px, axis=1) < 0)
    assert np.all(r.bid_qty > 0) and np.all(r.ask_qty > 0)
    assert r.bid_px.min() > 200 and r.ask_px.max() < 300


def test_real_trades_are_sorted_and_signed(real: tuple[ImportResult, list[dict]]) -> None:
    r, _ = real
    assert len(r.trade_ts) == len(r.trade_px) == len(r.trade_qty) == N_TRADES
    assert np.all(np.diff(r.trade_ts) >= 0)
    assert r.trade_side is not None and r.trade_side.dtype == np.int8
    assert np.isin(r.trade_side, (-1, 0, 1)).all()
    assert np.mean(r.trade_side != 0) >= 0.9
    assert (r.trade_side == 1).sum() > 1000 and (r.trade_side == -1).sum() > 1000
    assert np.all((r.trade_px > 200) & (r.trade_px < 300)) and np.all(r.trade_qty > 0)


def test_real_notes_report_junk_unsigned_and_crossed(real: tuple[ImportResult, list[dict]]) -> None:
    notes = "\n".join(real[0].notes)
    assert "junk prices" in notes and "dropped 24 orders" in notes and "and 0 trades" in notes
    assert "0 unsigned" in notes
    assert "skipped 395 crossed" in notes
    m = re.search(r"best bid and ask prices matched the message in ([\d,]+)/([\d,]+)", notes)
    assert m, notes
    matched, total = (int(g.replace(",", "")) for g in m.groups())
    assert total == 29_991 and matched / total >= 0.99          # measured 99.8 %


def test_real_top_of_book_agrees_with_the_captures_order_book_messages(real: tuple[ImportResult, list[dict]]) -> None:
    """Independent check: each order_book message vs the nearest 1-s snapshot (measured 97.5 %)."""
    r, books = real
    t = np.array([b["ts"] for b in books[1:]])
    j = np.clip(np.searchsorted(r.depth_ts, t), 1, len(r.depth_ts) - 1)
    j = np.where(np.abs(r.depth_ts[j - 1] - t) <= np.abs(r.depth_ts[j] - t), j - 1, j)
    same = (r.bid_px[j, 0] == [b["bid"] for b in books[1:]]) & (r.ask_px[j, 0] == [b["ask"] for b in books[1:]])
    assert same.mean() >= 0.95


# --------------------------------------------------------------------------------------------- the rules


def _order(ts: int, kind: str, oid: int, side: int, price: str, amount: str, created: int | None = None) -> str:
    """One order event; ``created`` is the order's creation time in ms (default: ``ts``)."""
    d = {"price": price, "amount": amount, "datetime": str((ts if created is None else created) // 1000),
         "id": oid, "order_type": side}
    return f"{ts} order_{kind} {json.dumps(d)}"


def _book(ts: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> str:
    return f"{ts} order_book {json.dumps({'bids': bids, 'asks': asks})}"


def _trade(ts: int, price: float, amount: float, tid: int = 1) -> str:
    return f"{ts} trade {json.dumps({'price': price, 'amount': amount, 'id': tid})}"


SEED = _book(T0 + 1000, [("100.00", "1.00000000"), ("99.00", "2.00000000")],
             [("101.00", "1.50000000"), ("102.00", "3.00000000")])
BID, ASK = 0, 1


def _read(tmp_path: Path, lines: list[str], *, levels: int = 2, interval_ms: int = 0, name: str = "x.log") -> ImportResult:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return bitstamp.read([path], levels=levels, interval_ms=interval_ms)


def _rows(r: ImportResult) -> list[tuple]:
    return [(int(t) - T0, list(bp), list(bq), list(ap), list(aq))
            for t, bp, bq, ap, aq in zip(r.depth_ts, r.bid_px, r.bid_qty, r.ask_px, r.ask_qty, strict=True)]


def test_seed_create_change_delete_give_the_expected_levels(tmp_path: Path) -> None:
    r = _read(tmp_path, [
        _order(T0 + 500, "created", 9, BID, "100.00", "0.25000000"),      # before the seed: already in it
        SEED,
        _order(T0 + 1100, "created", 10, BID, "100.00", "0.50000000"),
        _order(T0 + 1200, "changed", 10, BID, "100.00", "0.20000000"),
        _order(T0 + 1300, "created", 11, ASK, "101.50", "0.70000000"),
        _order(T0 + 1400, "deleted", 10, BID, "100.00", "0.20000000"),
        _order(T0 + 1500, "deleted", 5, BID, "99.00", "0.50000000", created=T0 - 60_000),   # resting since before
        _order(T0 + 1600, "deleted", 11, ASK, "101.50", "0.70000000"),
        _order(T0 + 1700, "deleted", 9, BID, "100.00", "0.25000000"),
    ])
    assert _rows(r) == [
        (1000, [100.0, 99.0], [1.0, 2.0], [101.0, 102.0], [1.5, 3.0]),
        (1100, [100.0, 99.0], [1.5, 2.0], [101.0, 102.0], [1.5, 3.0]),
        (1200, [100.0, 99.0], [1.2, 2.0], [101.0, 102.0], [1.5, 3.0]),
        (1300, [100.0, 99.0], [1.2, 2.0], [101.0, 101.5], [1.5, 0.7]),
        (1400, [100.0, 99.0], [1.0, 2.0], [101.0, 101.5], [1.5, 0.7]),
        (1500, [100.0, 99.0], [1.0, 1.5], [101.0, 101.5], [1.5, 0.7]),
        (1600, [100.0, 99.0], [1.0, 1.5], [101.0, 102.0], [1.5, 3.0]),
        (1700, [100.0, 99.0], [0.75, 1.5], [101.0, 102.0], [1.5, 3.0]),
    ]
    assert any("1 deletes" in n for n in r.notes)


def test_grid_snapshots_hold_the_book_as_of_each_grid_time(tmp_path: Path) -> None:
    r = _read(tmp_path, [SEED, _order(T0 + 1500, "created", 10, BID, "100.50", "1.00000000"),
                         _order(T0 + 2000, "deleted", 10, BID, "100.50", "1.00000000"), _trade(T0 + 3500, 101.0, 0.1)],
              interval_ms=1000)
    assert list(r.depth_ts - T0) == [1000, 2000, 3000]
    assert list(r.bid_px[:, 0]) == [100.0, 100.0, 100.0]     # the delete at 2000 counts for the 2000 grid time


def test_junk_priced_orders_are_dropped_and_counted(tmp_path: Path) -> None:
    r = _read(tmp_path, [
        SEED,
        _order(T0 + 1100, "created", 20, BID, "0.01", "5.00000000"),
        _order(T0 + 1200, "created", 21, ASK, "99999.99", "1.00000000"),
        _order(T0 + 1300, "created", 22, ASK, "101.00", "1.00000000"),
        _order(T0 + 1400, "deleted", 20, BID, "0.01", "5.00000000"),
    ], levels=5)
    assert 0.01 not in r.bid_px and 99999.99 not in r.ask_px
    assert r.ask_qty[-1, 0] == 2.5
    assert any("dropped 2 orders (3 events) and 0 trades" in n for n in r.notes), r.notes


def test_trade_sides_from_the_maker_then_the_touch(tmp_path: Path) -> None:
    r = _read(tmp_path, [
        SEED,
        _order(T0 + 1100, "created", 30, ASK, "101.00", "1.00000000"),             # maker ask, rests
        _order(T0 + 2000, "created", 31, BID, "101.00", "0.40000000"),             # taker bid at the same price
        _order(T0 + 2010, "changed", 30, ASK, "101.00", "0.60000000"),
        _order(T0 + 2011, "deleted", 31, BID, "101.00", "0.00000000"),
        _trade(T0 + 2020, 101.0, 0.4, 1),                                          # -> +1 (maker ask)
        _order(T0 + 3000, "created", 32, ASK, "99.50", "0.30000000"),              # taker ask below the bid
        _order(T0 + 3010, "deleted", 4, BID, "100.00", "0.00000000", created=T0 - 1000),   # unseen maker bid filled
        _order(T0 + 3011, "deleted", 32, ASK, "99.50", "0.00000000"),
        _trade(T0 + 3020, 100.0, 0.3, 2),                                          # -> -1 (maker bid)
        _trade(T0 + 5000, 102.0, 0.1, 3),                                          # no fill: touch, >= ask -> +1
        _trade(T0 + 6000, 100.5, 0.1, 4),                                          # inside the spread -> 0
    ])
    assert list(r.trade_side) == [1, -1, 1, 0]
    assert list(r.trade_ts - T0) == [2020, 3020, 5000, 6000]
    assert r.bid_qty[-1, 0] == pytest.approx(0.7)              # the unseen bid's fill was sized by its trade
    assert any("2 of 4 trades signed by their maker" in n and "1 by the touch rule, 1 unsigned" in n
               for n in r.notes), r.notes


def test_events_delivered_before_their_create_are_not_counted_twice(tmp_path: Path) -> None:
    r = _read(tmp_path, [
        SEED,
        _order(T0 + 1100, "deleted", 40, BID, "100.00", "2.00000000"),             # delete first (created after seed)
        _order(T0 + 1101, "created", 40, BID, "100.00", "2.00000000"),             # late create: ignored
        _order(T0 + 1200, "deleted", 40, BID, "100.00", "2.00000000"),             # repeated delete: ignored
    ])
    assert r.bid_qty[-1, 0] == 1.0 and r.bid_px[-1, 0] == 100.0
    assert any("1 events before their order's create, 1 late creates and 1 events after" in n for n in r.notes)


def test_reseed_restores_levels_the_events_never_showed(tmp_path: Path) -> None:
    later = _book(T0 + 4000, [("100.00", "1.00000000"), ("99.50", "4.00000000")],
                  [("101.00", "1.50000000"), ("102.00", "3.00000000")])
    r = _read(tmp_path, [SEED, later, _trade(T0 + 5000, 101.0, 0.1)], levels=3)
    assert list(r.depth_ts - T0) == [1000, 4000]
    assert list(r.bid_px[1, :2]) == [100.0, 99.5] and list(r.bid_qty[1, :2]) == [1.0, 4.0]
    assert np.isnan(r.bid_px[1, 2])        # a message shorter than 20 levels shows the whole side: 99.00 is gone
    assert list(r.ask_px[1, :2]) == [101.0, 102.0] and any("re-seeded" in n for n in r.notes)


def test_a_log_without_order_book_is_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nobook\.log.*no order_book snapshot"):
        _read(tmp_path, [_order(T0 + 1100, "created", 10, BID, "100.00", "0.50000000")], name="nobook.log")


def test_orders_csv_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.bz2"
    path.write_bytes(bz2.compress(b"id,timestamp,exchange.timestamp,price,volume,action,direction\n"))
    with pytest.raises(InputError, match=r"orders\.csv\.bz2.*pass the raw capture \(\.log or \.log\.bz2\)"):
        bitstamp.read([path], levels=5, interval_ms=1000)


def test_bad_lines_and_time_going_back_name_the_row(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"bad\.log: row 2: not a"):
        _read(tmp_path, [SEED, "garbage"], name="bad.log")
    with pytest.raises(InputError, match=r"back\.log: row 3: timestamp"):
        _read(tmp_path, [SEED, _trade(T0 + 2000, 101.0, 0.1), _trade(T0 + 1500, 101.0, 0.1)], name="back.log")
    with pytest.raises(InputError, match=r"row 2: bad 'order_created' message"):
        _read(tmp_path, [SEED, _order(T0 + 1100, "created", 10, 7, "100.00", "0.5")], name="side.log")
