"""``alpha-as features``: random-forest feature selection of the market state (spec §6.2, López de Prado).

Samples: the depth snapshots of the window (features computed on the whole day, so lags have their history),
rows with any NaN candidate dropped, then — when more than ``--max-rows`` remain — an evenly spaced
deterministic subsample. Label: mid(t + h) − mid(t) > 0 with mid(t + h) the mid of the last snapshot <= t + h;
rows whose t + h is past the day's last snapshot are dropped. Candidates: the 107 columns of
:func:`~alpha_as.agents.features.fi_candidates`, with ``std`` the pandas sample std as in the notebook.

Model: ``RandomForestClassifier(criterion='entropy', bootstrap=False, class_weight='balanced_subsample',
max_depth=12, n_estimators=1)`` (the authors' grid-search best). Importances: MDI (fit on all rows), MDA
(permutation of each column on the test fold of a chronological KFold(4), log-loss, mlfinlab's relative
formula (base − permuted)/(−permuted) on −log-loss scores), SFI (one model per single column, accuracy on the same
folds). Top int(107·0.35·0.25) MDI, the same number of MDA and int(107·0.35·0.5) SFI; the union is written in
candidate order.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from alpha_as.agents.features import fi_candidates, market_features, parse_feature
from alpha_as.atomic import check_out_dir
from alpha_as.configs import REMEDIES, read_json_file
from alpha_as.data.store import load_day, parse_date, parse_window, window_ns
from alpha_as.data.validate import add_trust_argument, require_sessions
from alpha_as.engine.backtest import write_json_atomic
from alpha_as.errors import InputError

COLUMNS_TO_TAKE_PCT = 0.35
N_FOLDS = 4


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "features", help="random-forest feature selection of the market state (MDI, MDA, SFI)",
        description="Select the Alpha-AS market features of one day with a random forest as the authors did "
        "(spec §6.2): label mid(t+h) > mid(t) at each depth snapshot, 107 candidate columns, union of the top "
        "MDI, MDA and SFI features. Writes a JSON file with the selected features and all importances.",
    )
    p.add_argument("--data", required=True, type=Path, help="store root (authors' layout)")
    p.add_argument("--instrument", required=True, help="instrument in the store")
    p.add_argument("--day", required=True, help="the day, YYYY-MM-DD (paper: 2020-12-07)")
    p.add_argument("--out", required=True, type=Path, help="output JSON file")
    p.add_argument("--horizon-s", type=float, default=5.0, help="label horizon in seconds (default 5, notebook v1)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the forest and permutations (default 0)")
    p.add_argument("--window", default="07:00-19:00",
                   help="UTC window of the sampled rows, HH:MM-HH:MM or 'all' (default 07:00-19:00)")
    p.add_argument("--max-rows", type=int, default=200_000,
                   help="at most this many rows (evenly spaced subsample; default 200000)")
    p.add_argument("--n-estimators", type=int, default=1, help="trees in the forest (default 1, the authors' best)")
    p.add_argument("--max-depth", type=int, default=12, help="tree depth (default 12, the authors' best)")
    add_trust_argument(p)
    p.set_defaults(func=_cmd_features)


def _forest(seed: int, n_estimators: int, max_depth: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(criterion="entropy", bootstrap=False, class_weight="balanced_subsample",
                                  max_depth=max_depth, n_estimators=n_estimators, random_state=seed, n_jobs=1)


def _log_loss(y: np.ndarray, p1: np.ndarray) -> float:
    p = np.clip(np.where(y, p1, 1.0 - p1), 1e-15, 1.0)
    return float(-np.mean(np.log(p)))


def _p1(clf, X: np.ndarray) -> np.ndarray:
    proba = clf.predict_proba(X)
    classes = list(clf.classes_)
    return proba[:, classes.index(True)] if True in classes else np.zeros(len(X))


def importances(X: np.ndarray, y: np.ndarray, *, seed: int = 0, n_estimators: int = 1,
                max_depth: int = 12) -> dict[str, np.ndarray]:
    """MDI, MDA and SFI of each column of X for the boolean label y (chronological KFold(4))."""
    from sklearn.model_selection import KFold

    clf = _forest(seed, n_estimators, max_depth).fit(X, y)
    mdi = clf.feature_importances_.astype(float)
    rng = np.random.default_rng(seed)
    folds = list(KFold(N_FOLDS, shuffle=False).split(X))
    mda = np.zeros((len(folds), X.shape[1]))
    sfi = np.zeros((len(folds), X.shape[1]))
    for f, (tr, te) in enumerate(folds):
        m = _forest(seed, n_estimators, max_depth).fit(X[tr], y[tr])
        base = -_log_loss(y[te], _p1(m, X[te]))
        Xp = X[te].copy()
        for j in range(X.shape[1]):
            col = Xp[:, j].copy()
            Xp[:, j] = rng.permutation(col)
            perm = -_log_loss(y[te], _p1(m, Xp))
            Xp[:, j] = col
            mda[f, j] = (base - perm) / (-perm) if perm != 0 else 0.0
        for j in range(X.shape[1]):
            s = _forest(seed, n_estimators, max_depth).fit(X[tr, j:j + 1], y[tr])
            sfi[f, j] = float(np.mean(s.predict(X[te, j:j + 1]) == y[te]))
    return {"mdi": mdi, "mda": mda.mean(axis=0), "sfi": sfi.mean(axis=0)}


def select(names: list[str], imp: dict[str, np.ndarray], pct: float = COLUMNS_TO_TAKE_PCT) -> list[str]:
    """Union of the top int(n·pct·0.25) MDI, the same of MDA and int(n·pct·0.5) SFI, in candidate order."""
    n = len(names)
    take = {"mdi": int(n * pct * 0.25), "mda": int(n * pct * 0.25), "sfi": int(n * pct * 0.5)}
    chosen: set[int] = set()
    for k, m in take.items():
        order = np.argsort(-imp[k], kind="stable")  # ties: earlier candidate first
        chosen.update(int(i) for i in order[:m])
    return [names[i] for i in sorted(chosen)]


MAX_HORIZON_S = 86_400.0
"""Longest label horizon accepted (a day)."""


def check_selection_options(*, horizon_s: float, max_rows: int, n_estimators: int, max_depth: int,
                            source: str | None = None) -> None:
    """Validate the feature-selection settings; InputError names the one at fault.

    ``source`` None: the messages name the command-line options (``--horizon-s must be > 0, got 0``); a string:
    the keys, after ``source`` when it is not empty (``experiments/x.toml [features]: key 'horizon_s' must be >
    0, got 0``; a ``[features]`` table's ``__post_init__`` passes "" and the protocol loader adds the file and
    table)."""
    h_ok = isinstance(horizon_s, int | float) and not isinstance(horizon_s, bool)
    checks = [
        ("horizon_s", horizon_s, h_ok and 0 < horizon_s <= MAX_HORIZON_S,
         "> 0" if h_ok and horizon_s <= 0 else f"a finite number > 0, at most {MAX_HORIZON_S:.0f} (a day)"),
        ("max_rows", max_rows, max_rows >= 100, ">= 100"),
        ("n_estimators", n_estimators, n_estimators >= 1, ">= 1"),
        ("max_depth", max_depth, max_depth >= 1, ">= 1"),
    ]
    for key, value, ok, need in checks:
        if not ok:
            if source is None:
                where = "--" + key.replace("_", "-")
            else:
                where = f"{source}: key {key!r}" if source else f"key {key!r}"
            raise InputError(f"{where} must be {need}, got {value!r}")


def run_selection(data: Path, instrument: str, day: str, *, horizon_s: float = 5.0, seed: int = 0,
                  window: str = "07:00-19:00", max_rows: int = 200_000, n_estimators: int = 1,
                  max_depth: int = 12) -> dict:
    check_selection_options(horizon_s=horizon_s, max_rows=max_rows, n_estimators=n_estimators, max_depth=max_depth)
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    date = parse_date(day)
    start, end = parse_window(window)
    d = load_day(data, instrument, date)
    lo, hi = window_ns(date, start, end)
    h_ns = int(round(horizon_s * 1e9))
    ts = d.depth_ts
    last = ts[-1] if len(ts) else np.iinfo(np.int64).min
    rows = np.flatnonzero((ts >= lo) & (ts < hi) & (ts <= last - h_ns))  # a future mid must exist
    times = ts[rows]
    names = fi_candidates()
    X = market_features(d, times, names, std_kind="sample_std").X
    mid = d.mid
    j = np.searchsorted(ts, times + h_ns, side="right") - 1
    dm = mid[j] - mid[rows]
    ok = np.all(np.isfinite(X), axis=1) & np.isfinite(dm)
    X, dm, times = X[ok], dm[ok], times[ok]
    if len(X) > max_rows:
        keep = np.unique(np.linspace(0, len(X) - 1, max_rows).round().astype(np.int64))
        X, dm, times = X[keep], dm[keep], times[keep]
    y = dm > 0
    if len(X) < 100:
        raise InputError(f"only {len(X)} usable rows for {instrument} on {date} in the window {window}; need >= 100")
    if y.all() or not y.any():
        raise InputError(f"the label is constant on {date} ({instrument}); cannot rank features")
    imp = importances(X, y, seed=seed, n_estimators=n_estimators, max_depth=max_depth)
    return {
        "features": select(names, imp),
        "importances": {k: {n: float(v) for n, v in zip(names, a, strict=True)} for k, a in imp.items()},
        "label_horizon_s": horizon_s, "day": str(date), "instrument": instrument, "seed": seed,
        "n_rows": int(len(X)), "positive_fraction": float(y.mean()), "window": window,
        "candidates": names, "model": {"criterion": "entropy", "bootstrap": False,
                                       "class_weight": "balanced_subsample", "max_depth": max_depth,
                                       "n_estimators": n_estimators},
        "cv": f"KFold({N_FOLDS}, shuffle=False)", "columns_to_take_pct": COLUMNS_TO_TAKE_PCT,
    }


def read_features_file(path: str | Path, *, remedy: str | None = None) -> tuple[str, ...]:
    """The selected features of a feature-selection output (``alpha-as features``' JSON, replicate's
    ``features.json``): one InputError line naming the file when it is missing, truncated or not valid JSON (with
    ``remedy``, default ``REMEDIES["features.json"]``: delete it and rerun the feature selection), or without a
    ``"features"`` list of known feature names."""
    path = Path(path)
    doc = read_json_file(path, "the feature-selection output",
                         remedy=REMEDIES["features.json"] if remedy is None else remedy)
    feats = doc.get("features")
    if not isinstance(feats, list) or not feats or not all(isinstance(f, str) for f in feats):
        raise InputError(f'{path}: expected {{"features": [names...]}} (a feature-selection output)')
    for name in feats:
        try:
            parse_feature(name)
        except InputError as e:
            raise InputError(f"{path}: {e}") from None
    return tuple(feats)


def _cmd_features(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    parse_window(args.window)
    require_sessions(args.data, args.instrument, [(parse_date(args.day), args.window)], trust=args.trust_data)
    out: Path = args.out
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give a file name")
    check_out_dir(out.parent, f"--out {out}: its folder")
    doc = run_selection(args.data, args.instrument, args.day, horizon_s=args.horizon_s, seed=args.seed,
                        window=args.window, max_rows=args.max_rows, n_estimators=args.n_estimators,
                        max_depth=args.max_depth)
    write_json_atomic(json.loads(json.dumps(doc)), out)
    print(f"{len(doc['features'])} features selected from {len(doc['candidates'])} on {doc['n_rows']} rows "
          f"(positive {doc['positive_fraction']:.3f}) in {time.perf_counter() - t0:.1f} s: "
          f"{', '.join(doc['features'])}")
    print(f"wrote {out}")
    return 0
