"""The bad-input suite of issue #12 §6: every (bad input, command) pair, run through the CLI in-process and
classified the way the fault-injection trial did.

* ``clear``: exit code 2 and exactly one line on stderr that names the file (and row) or the key at fault;
* ``vague``: exit code 2 and one line, but it does not name the cause;
* ``bad``: anything else (a traceback, several lines, exit 0 on bad input: a silent wrong result).

Data cases corrupt one day (:data:`BAD_DAY`) of a small synthetic store and run it through every command that
replays data (``run``, ``runs``, ``tune``, ``features``, ``train``, ``replicate``) and ``data check``; config
and command-line cases run through the command they belong to. :func:`run_matrix` returns one
:class:`Outcome` per pair; ``tests/test_bad_input_suite.py`` asserts that each is ``clear`` and reports the
count in the pytest summary.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from alpha_as.cli import main
from alpha_as.data import store as st

INSTRUMENT = "btcusdt_synth"
GOOD_DAY = "2020-12-09"
BAD_DAY = "2020-12-10"
REPLAY_COMMANDS = ("run", "runs", "tune", "features", "train", "replicate", "data check")


@dataclass(frozen=True)
class Outcome:
    case: str
    command: str
    rc: int
    stderr: str
    needle: str
    verdict: str

    def line(self) -> str:
        err = self.stderr.strip().replace("\n", " | ")
        return f"{self.verdict:<5} {self.case} / {self.command}: rc {self.rc}: {err[:300]}"


def classify(rc: int, stderr: str, needles: tuple[str, ...]) -> str:
    lines = [x for x in stderr.splitlines() if x.strip()]
    if rc != 2 or len(lines) != 1 or "Traceback" in stderr:
        return "bad"
    return "clear" if all(n in lines[0] for n in needles) else "vague"


def call(argv: list[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stderr, stdout). An escaping exception counts as a traceback."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = int(e.code) if isinstance(e.code, int) else 1
        except BaseException as e:  # noqa: BLE001 - the suite records it as "bad"
            import traceback

            err.write("Traceback (most recent call last):\n" + "".join(traceback.format_exception(e)))
            rc = 1
    return rc, err.getvalue(), out.getvalue()


# ------------------------------------------------------------------------------------------ data cases


def _path(root: Path, kind: str, day: str = BAD_DAY) -> Path:
    return st.partition_path(root, kind, INSTRUMENT, st.parse_date(day))


def _set(root: Path, kind: str, name: str, fn: Callable[[np.ndarray], np.ndarray | pa.Array]) -> None:
    path = _path(root, kind)
    t = pq.read_table(path)
    col = fn(t.column(name).to_numpy().copy())
    arr = col if isinstance(col, pa.Array) else pa.array(col)
    pq.write_table(t.set_column(t.schema.get_field_index(name), name, arr), path)


def _at(row: int, value: float) -> Callable[[np.ndarray], np.ndarray]:
    def f(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        x[row] = value
        return x
    return f


def _trade_rows(root: Path, keep: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    path = _path(root, st.TRADE)
    t = pq.read_table(path)
    mask = keep(t.column("timestamp").to_numpy(), pq.read_table(_path(root, st.DEPTH)).column("timestamp").to_numpy())
    pq.write_table(t.filter(pa.array(mask)), path)


def _cut_depth(root: Path) -> None:
    """The book stops after its first quarter while the trades go on (a stale book)."""
    path = _path(root, st.DEPTH)
    t = pq.read_table(path)
    pq.write_table(t.slice(0, len(t) // 4), path)


def _shift_trades(root: Path) -> None:
    _set(root, st.TRADE, "timestamp", lambda x: x + 86_400_000)


def _side(fn: Callable[[np.ndarray], np.ndarray | pa.Array]) -> Callable[[Path], None]:
    return lambda root: _set(root, st.TRADE, "side", fn)


def _unknown_side(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.int8)
    x[::20] = 0  # 5 % unknown
    return x


def _truncate(root: Path) -> None:
    p = _path(root, st.DEPTH)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


DATA_CASES: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    # case -> (corruption of BAD_DAY, what the line must name besides the file)
    "negative price": (lambda r: _set(r, st.DEPTH, "bidPrice0", _at(7, -18387.0)), ("row 7",)),
    "NaN price": (lambda r: _set(r, st.DEPTH, "askPrice0", _at(8, np.nan)), ("row 8",)),
    "inf price": (lambda r: _set(r, st.DEPTH, "askPrice0", _at(9, np.inf)), ("row 9",)),
    "zero price": (lambda r: _set(r, st.DEPTH, "bidPrice0", _at(10, 0.0)), ("row 10",)),
    "negative size": (lambda r: _set(r, st.DEPTH, "bidQuantity0", _at(11, -1.0)), ("row 11",)),
    "zero size": (lambda r: _set(r, st.DEPTH, "askQuantity0", _at(12, 0.0)), ("row 12",)),
    "crossed book": (lambda r: _set(r, st.DEPTH, "bidPrice0", _at(13, 1e6)), ("row 13",)),
    "locked book": (lambda r: _set(r, st.DEPTH, "bidPrice0", lambda x: _locked(r, x)), ("row 14",)),
    "non-monotone levels": (lambda r: _set(r, st.DEPTH, "bidPrice1", _at(15, 1e6)), ("row 15",)),
    "bad trade price": (lambda r: _set(r, st.TRADE, "price", _at(16, -5.0)), ("row 16",)),
    "bad trade size": (lambda r: _set(r, st.TRADE, "quantity", _at(17, 0.0)), ("row 17",)),
    "side 0.5": (_side(_at(18, 0.5)), ("row 18",)),
    "side as string": (_side(lambda x: pa.array([str(int(v)) for v in x])), ("side",)),
    "side as bool": (_side(lambda x: pa.array(x > 0)), ("side",)),
    "timestamps in ns": (lambda r: [_set(r, k, "timestamp", lambda x: x * 1_000_000) for k in (st.DEPTH, st.TRADE)],
                         ("ns",)),
    "timestamps in s": (lambda r: [_set(r, k, "timestamp", lambda x: x // 1000) for k in (st.DEPTH, st.TRADE)],
                        (" s",)),
    "timestamps in us": (lambda r: [_set(r, k, "timestamp", lambda x: x * 1000) for k in (st.DEPTH, st.TRADE)],
                         ("µs",)),
    "unsorted": (lambda r: _set(r, st.DEPTH, "timestamp", lambda x: np.concatenate([x[:20], x[20:40][::-1], x[40:]])),
                 ("unsorted",)),
    "corrupt parquet": (_truncate, ("unreadable",)),
    "missing trade file": (lambda r: _path(r, st.TRADE).unlink(), ()),
    "trades after the book ends": (_cut_depth, ("trade",)),
    "trades shifted by +24 h": (_shift_trades, ("trade",)),
    "side 0/1": (_side(lambda x: np.where(x < 0, 0, x).astype(np.int8)), ("side",)),
    "unknown side > 1 %": (_side(_unknown_side), ("side",)),
}


def _locked(root: Path, bid: np.ndarray) -> np.ndarray:
    ask = pq.read_table(_path(root, st.DEPTH)).column("askPrice0").to_numpy()
    bid = bid.astype(np.float64)
    bid[14] = ask[14]
    return bid


def make_clean_store(root: Path) -> Path:
    rc, err, _ = call(["data", "synth", "--out", str(root), "--start", GOOD_DAY, "--end", BAD_DAY, "--hours", "0.1",
                       "--workers", "1"])
    if rc != 0:
        raise RuntimeError(f"could not make the test store: {err}")
    return root


def _file_needle(case: str, root: Path) -> str:
    if case in ("missing trade file",):
        return str(_path(root, st.TRADE))
    if "trade" in case or "side" in case:
        return str(_path(root, st.TRADE).parent)
    return str(_path(root, st.DEPTH).parent.parent.parent)  # the store: either file may be named


def _replay_argv(command: str, root: Path, work: Path) -> list[str]:
    common = ["--data", str(root), "--instrument", INSTRUMENT, "--day", BAD_DAY]
    if command == "run":
        return ["run", "foic", *common, "--out", str(work / "run")]
    if command == "tune":
        return ["tune", *common, "--out", str(work / "tune"), "--generations", "1", "--population", "2",
                "--workers", "1", "--no-progress"]
    if command == "features":
        return ["features", *common, "--out", str(work / "features.json")]
    if command == "train":
        return ["train", "alpha-as-1", *common, "--genas", str(work / "no-genas"), "--out", str(work / "model")]
    if command == "runs":
        cfg = work / "runs.toml"
        cfg.write_text(f'[experiment]\ndata = "{root}"\ninstrument = "{INSTRUMENT}"\nout = "{work / "runs"}"\n'
                       f'days = ["{GOOD_DAY}", "{BAD_DAY}"]\nworkers = 1\n[models.foic]\nkind = "foic"\n')
        return ["runs", "--config", str(cfg), "--no-progress"]
    if command == "replicate":
        cfg = work / "protocol.toml"
        cfg.write_text(f'[protocol]\nname = "bad"\ndata = "{root}"\ninstrument = "{INSTRUMENT}"\nsynthetic = false\n'
                       f'out = "{work / "rep"}"\nfi = "{GOOD_DAY}"\ntrain = "{GOOD_DAY}"\ntest = ["{BAD_DAY}"]\n'
                       'models = ["foic", "liic", "gen-as"]\nworkers = 1\n')
        return ["replicate", "--config", str(cfg), "--no-progress"]
    if command == "data check":
        return ["data", "check", str(root), "--instrument", INSTRUMENT, "--start", BAD_DAY, "--end", BAD_DAY]
    raise ValueError(command)


SUSPECT_CASES = ("trades after the book ends", "trades shifted by +24 h", "side 0/1", "unknown side > 1 %")
"""Data that reads fine but is not: ``data check`` prints them as SUSPECT (exit 0); replaying refuses them."""


def data_outcomes(clean: Path, work: Path, cases: list[str] | None = None) -> list[Outcome]:
    from alpha_as.data import validate

    out = []
    for case in cases or list(DATA_CASES):
        corrupt, extra = DATA_CASES[case]
        root = work / _slug(case) / "store"
        shutil.rmtree(root.parent, ignore_errors=True)
        shutil.copytree(clean, root)
        corrupt(root)
        for command in REPLAY_COMMANDS:
            validate.clear_memo()
            w = root.parent / _slug(command)
            w.mkdir(parents=True, exist_ok=True)
            rc, err, stdout = call(_replay_argv(command, root, w))
            needles = (_file_needle(case, root), *extra)
            if command == "data check" and case in SUSPECT_CASES:
                verdict = "clear" if rc == 0 and "SUSPECT" in err + stdout and "Traceback" not in err else "bad"
            else:
                verdict = classify(rc, err, needles)
            out.append(Outcome(case, command, rc, err, " & ".join(needles), verdict))
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


# ------------------------------------------------------------------------------ config and option cases


def option_cases(clean: Path, work: Path) -> list[tuple[str, str, list[str], tuple[str, ...]]]:
    """(case, command, argv, needles) for the bad options and config values of issue #12 §2, §5."""
    day = ["--data", str(clean), "--instrument", INSTRUMENT, "--day", GOOD_DAY]
    work.mkdir(parents=True, exist_ok=True)
    best = work / "best.json"
    best.write_text('{"params": {"risk_aversion": 0.3, "window_')
    genas = work / "genas"
    genas.mkdir(exist_ok=True)
    (genas / "best.json").write_text('{"params": {"risk_aversion": 0.3}}')
    feats = work / "features.json"
    feats.write_text('{"features": ["bid_price_0", ')
    a_file = work / "a-file"
    a_file.write_text("x")

    def runs_toml(name: str, experiment: str = "", engine: str = "") -> str:
        p = work / f"{name}.toml"
        p.write_text(f'[experiment]\ndata = "{clean}"\ninstrument = "{INSTRUMENT}"\nout = "{work / name}"\n'
                     f'days = ["{GOOD_DAY}"]\nworkers = 1\n{experiment}\n'
                     + (f"[engine]\n{engine}\n" if engine else "") + '[models.foic]\nkind = "foic"\n')
        return str(p)

    def protocol(name: str, protocol_keys: str = "", tables: str = "") -> str:
        p = work / f"{name}.toml"
        p.write_text(f'[protocol]\nname = "{name}"\ndata = "{clean}"\ninstrument = "{INSTRUMENT}"\nsynthetic = false\n'
                     f'out = "{work / name}"\nfi = "{GOOD_DAY}"\ntrain = "{GOOD_DAY}"\ntest = ["{BAD_DAY}"]\n'
                     f'models = ["foic", "liic", "gen-as"]\nworkers = 1\n{protocol_keys}\n{tables}\n')
        return str(p)

    run = ["run", "foic", *day]
    out = str(work / "o")
    return [
        ("latency nan", "run", [*run, "--out", out, "--latency-ms", "nan"], ("latency",)),
        ("latency inf", "run", [*run, "--out", out, "--latency-ms", "inf"], ("latency",)),
        ("maker fee nan", "run", [*run, "--out", out, "--maker-fee", "nan"], ("maker",)),
        ("taker fee inf", "run", [*run, "--out", out, "--taker-fee", "inf"], ("taker",)),
        ("params Infinity", "run", [*run, "--out", out, "--params", '{"quantity": Infinity}'], ("quantity",)),
        ("params NaN", "run", ["run", "as", *day, "--out", out, "--params", '{"risk_aversion": NaN}'], ("risk_aversion",)),
        ("params negative", "run", [*run, "--out", out, "--params", '{"quantity": -1}'], ("quantity",)),
        ("params missing file", "run", [*run, "--out", out, "--params", "/missing.json"], ("/missing.json", "no such file")),
        ("truncated best.json", "run", ["run", "as", *day, "--out", out, "--params", str(best)], (str(best),)),
        ("truncated features.json", "train", ["train", "alpha-as-1", *day, "--genas", str(genas), "--features",
                                              str(feats), "--out", str(work / "m")], (str(feats),)),
        ("reversed window", "run", [*run, "--out", out, "--window", "19:00-07:00"], ("19:00-07:00",)),
        ("empty window", "run", [*run, "--out", out, "--window", "08:00-08:00"], ("08:00-08:00",)),
        ("reversed window", "runs", ["runs", "--config", runs_toml("rw", 'window = "19:00-07:00"'), "--no-progress"],
         ("rw.toml", "window")),
        ("reversed window", "replicate", ["replicate", "--config", protocol("pw", 'window = "19:00-07:00"'),
                                          "--no-progress"], ("pw.toml", "window")),
        ("reversed window --quick", "replicate", ["replicate", "--config", protocol("pq", 'window = "19:00-07:00"'),
                                                  "--quick", "--no-progress"], ("pq.toml", "window")),
        ("engine latency nan", "runs", ["runs", "--config", runs_toml("el", engine="latency_ms = nan"),
                                        "--no-progress"], ("el.toml", "latency_ms")),
        ("engine latency nan", "replicate", ["replicate", "--config", protocol("pl", tables="[engine]\nlatency_ms = nan"),
                                             "--no-progress"], ("pl.toml", "[engine]", "latency_ms")),
        ("features horizon 0", "replicate", ["replicate", "--config", protocol("ph", tables="[features]\nhorizon_s = 0"),
                                             "--no-progress"], ("ph.toml", "[features]", "horizon_s")),
        ("genas generations 0", "replicate", ["replicate", "--config", protocol("pg", tables="[genas]\ngenerations = 0"),
                                              "--no-progress"], ("pg.toml", "[genas]", "generations")),
        ("agents iterations 0", "replicate", ["replicate", "--config", protocol("pa", tables="[agents]\niterations = 0"),
                                           "--no-progress"], ("pa.toml", "[agents]", "iterations")),
        ("--out is a file", "run", [*run, "--out", str(a_file)], (str(a_file),)),
        ("--out under a file", "run", [*run, "--out", str(a_file / "sub")], (str(a_file),)),
        ("--out is a file", "runs", ["runs", "--config", runs_toml("of"), "--out", str(a_file), "--no-progress"],
         (str(a_file),)),
        ("--out is a file", "replicate", ["replicate", "--config", protocol("po"), "--out", str(a_file),
                                          "--no-progress"], (str(a_file),)),
        ("--out is a file", "tune", ["tune", *day, "--out", str(a_file), "--generations", "1", "--population", "2",
                                     "--workers", "1", "--no-progress"], (str(a_file),)),
    ]


def option_outcomes(clean: Path, work: Path) -> list[Outcome]:
    from alpha_as.data import validate

    out = []
    for case, command, argv, needles in option_cases(clean, work):
        validate.clear_memo()
        rc, err, _ = call(argv)
        out.append(Outcome(case, command, rc, err, " & ".join(needles), classify(rc, err, needles)))
    return out


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    c = {"clear": 0, "vague": 0, "bad": 0}
    for o in outcomes:
        c[o.verdict] += 1
    return c


def run_matrix(work: Path) -> list[Outcome]:
    clean = make_clean_store(work / "clean")
    return data_outcomes(clean, work / "data") + option_outcomes(clean, work / "options")


if __name__ == "__main__":  # pragma: no cover - `python -m tests.bad_inputs DIR` prints the whole matrix
    import sys
    import tempfile

    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    os.makedirs(base, exist_ok=True)
    res = run_matrix(base)
    for o in res:
        print(o.line())
    c = counts(res)
    print(json.dumps(c), f"of {len(res)} (bad input, command) pairs")
