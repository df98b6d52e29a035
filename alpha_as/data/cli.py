"""``alpha-as data ...``: import real captures, generate the synthetic market, check a store."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from alpha_as.atomic import check_out_dir
from alpha_as.configs import finite_float
from alpha_as.data import paper, store
from alpha_as.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="market data: import, synth, check",
                          description="Market data in the paper authors' parquet layout.")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", parser_class=type(data))
    dsub.required = True

    from alpha_as.data.importers import FORMATS

    imp = dsub.add_parser(
        "import", help="convert real exchange captures into the store",
        description="Convert exchange captures into ROOT/type=depth|trade/instrument=I/date=YYYYMMDD/data.parquet. "
        "Formats: " + "; ".join(f"{k}: {v}" for k, v in FORMATS.items()),
    )
    imp.add_argument("format", choices=sorted(FORMATS), metavar="FORMAT", help=f"one of {', '.join(FORMATS)}")
    imp.add_argument("sources", nargs="+", metavar="SRC", help="capture files, in time order")
    imp.add_argument("--out", required=True, type=Path, help="store root to write")
    imp.add_argument("--instrument", required=True, help="instrument name in the store, e.g. btcusdt_binance")
    imp.add_argument("--levels", type=int, default=store.DEFAULT_LEVELS, help="levels per side (1-20, default 5)")
    imp.add_argument("--interval-ms", type=int, default=1000,
                     help="snapshot interval in ms (default 1000, as the paper's data; 0 = every book change)")
    imp.set_defaults(func=_cmd_import)

    syn = dsub.add_parser(
        "synth", help="generate the built-in synthetic BTC market",
        description="Generate the synthetic BTCUSDT-like market calibrated to the paper's 32 days (spec §12). "
        "Deterministic per (seed, date); existing days are skipped.",
    )
    syn.add_argument("--out", required=True, type=Path, help="store root to write")
    syn.add_argument("--instrument", default="btcusdt_synth", help="instrument name (default btcusdt_synth)")
    syn.add_argument("--start", default=str(paper.FI_DAY), help="first day, YYYY-MM-DD (default 2020-12-07)")
    syn.add_argument("--end", default=str(paper.PAPER_DAYS[-1].date), help="last day (default 2021-01-08)")
    syn.add_argument("--hours", type=finite_float, default=12.0,
                     help="length of each day's window from 07:00 UTC (default 12; shorten for quick runs)")
    syn.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    syn.add_argument("--workers", type=int, default=0, help="worker processes (default: number of cores)")
    syn.add_argument("--force", action="store_true", help="regenerate days that already exist")
    syn.add_argument("--informed", type=finite_float, default=1.0, metavar="X",
                     help="market variant: informed order flow as a multiple of the calibrated strength (default 1; "
                     "0 = benign). A variant is written under its own instrument, e.g. btcusdt_synth_inf0")
    syn.add_argument("--stale-sweep", type=finite_float, default=1.0, metavar="Y",
                     help="market variant: rate at which stale levels are swept rather than cancelled, as a multiple "
                     "of the calibrated rate (default 1; 0 = only cancelled)")
    syn.set_defaults(func=_cmd_synth)

    chk = dsub.add_parser(
        "check", help="validate a store and print per-day statistics",
        description="Validate every day of a store and print per-day statistics. Bad data ends with exit "
        "code 2 and one line naming the file (and row). --repair writes repaired copies and lists every repair.",
    )
    chk.add_argument("root", type=Path, help="store root")
    chk.add_argument("--instrument", help="instrument (default: every instrument in the store)")
    chk.add_argument("--start", help="first day that must be present, YYYY-MM-DD")
    chk.add_argument("--end", help="last day that must be present, YYYY-MM-DD")
    chk.add_argument("--calendar", choices=("all", "paper"), default="all",
                     help="days --start/--end require: every calendar day (default) or the paper's days only")
    chk.add_argument("--json", action="store_true", help="print the statistics as JSON")
    chk.add_argument("--compare-paper", action="store_true",
                     help="print each day's figures beside the paper's (spec §12) with the relative error")
    chk.add_argument("--repair", action="store_true", help="write repaired copies instead of failing")
    chk.add_argument("--repair-out", type=Path, help="where --repair writes (default: ROOT-repaired)")
    chk.set_defaults(func=_cmd_check)

    ms = dsub.add_parser(
        "microstructure", help="market-microstructure statistics of a store, side by side with others",
        description="Spread, trade flow, walking orders, mid-change variance ratios, trade-sign autocorrelation, "
        "impact and realized spread per taker order, tick-rule accuracy and the engine's touch-quoter markout, "
        "each with a 95 %% block-bootstrap interval. Definitions: alpha_as/data/microstructure.py.",
    )
    ms.add_argument("root", help="store root (or ROOT:INSTRUMENT)")
    ms.add_argument("--instrument", help="instrument (default: the only one in the store)")
    ms.add_argument("--start", help="first day, YYYY-MM-DD (default: the first; ROOT only)")
    ms.add_argument("--end", help="last day, YYYY-MM-DD (default: the last; ROOT only)")
    ms.add_argument("--window", help="UTC window of each day, HH:MM-HH:MM (default: whole days; ROOT only)")
    ms.add_argument("--compare", nargs="+", default=[], metavar="OTHER_ROOT[:INSTRUMENT]",
                    help="more stores, one column each, measured on all their days")
    ms.add_argument("--tick", type=finite_float, default=0.01, help="price tick in USD (default 0.01)")
    ms.add_argument("--fill", choices=("paper", "queue"), default="paper",
                    help="fill model of the touch quoter (default paper)")
    ms.add_argument("--latency-ms", type=finite_float, default=65.0, help="touch quoter's latency (default 65 ms)")
    ms.add_argument("--no-engine", action="store_true", help="skip the touch quoter (faster)")
    ms.add_argument("--json", action="store_true", help="print a JSON document (one entry per store)")
    ms.set_defaults(func=_cmd_microstructure)


def _cmd_import(args: argparse.Namespace) -> int:
    from alpha_as.data.importers import ImportFailed, run_import

    t0 = time.perf_counter()
    check_out_dir(args.out)
    try:
        result, days = run_import(args.format, args.sources, args.out, args.instrument,
                                  levels=args.levels, interval_ms=args.interval_ms)
    except ImportFailed as e:  # the reader's notes say why rows were skipped; the error line follows
        for note in e.notes:
            print(f"note: {note}")
        raise
    for note in result.notes:
        print(f"note: {note}")
    for d in days:
        print(f"{d.date}  depth {d.depth_rows:>9,}  trades {d.trade_rows:>9,}  -> {d.depth_path.parent.parent.parent.parent}")
    print(f"imported {args.format}: {len(days)} day(s) in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from alpha_as.data.synthetic import SynthOptions, generate_market

    start, end = store.parse_date(args.start), store.parse_date(args.end)
    if end < start:
        raise InputError(f"--end {end} is before --start {start}")
    if not 0 < args.hours <= 12:
        raise InputError(f"--hours must be in (0, 12], got {args.hours}")
    try:
        options = SynthOptions(informed=args.informed, stale_sweep=args.stale_sweep)
    except InputError as e:
        raise InputError(f"--informed / --stale-sweep: {e}") from None
    instrument = options.instrument(args.instrument)
    check_out_dir(args.out)
    report = generate_market(args.out, instrument=instrument, start=start, end=end, hours=args.hours,
                             seed=args.seed, workers=args.workers or None, force=args.force, progress=True,
                             options=options)
    print(report.summary())
    print(f"instrument: {instrument}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from alpha_as.data.check import check_command

    start = store.parse_date(args.start) if args.start else None
    end = store.parse_date(args.end) if args.end else None
    return check_command(args.root, instrument=args.instrument, start=start, end=end, calendar=args.calendar,
                         as_json=args.json,
                         compare_paper=args.compare_paper, repair=args.repair, repair_out=args.repair_out)


def _cmd_microstructure(args: argparse.Namespace) -> int:
    import json

    from alpha_as.data import microstructure as ms
    from alpha_as.engine.config import EngineConfig

    start = store.parse_date(args.start) if args.start else None
    end = store.parse_date(args.end) if args.end else None
    if args.window:
        store.parse_window(args.window)
    engine = None
    if not args.no_engine:
        engine = EngineConfig(fill_model=args.fill, latency_ms=args.latency_ms, tick=args.tick)
    root, inst = ms.parse_store_spec(str(args.root))
    specs = [(root, args.instrument or inst, start, end, args.window)]
    specs += [(*ms.parse_store_spec(c), None, None, None) for c in args.compare]
    resolved = [(root, *ms.resolve(root, inst, a, b)[:2], win) for root, inst, a, b, win in specs]
    results = [ms.measure(root, inst, dates, win, args.tick, engine) for root, inst, dates, win in resolved]
    if args.json:
        print(json.dumps({"stores": results}, indent=1))
    else:
        print(ms.format_table(results))
    return 0
