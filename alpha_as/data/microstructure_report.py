"""The text table of ``alpha-as data microstructure``: one column per store, one row per statistic.

Takes the dicts of :func:`alpha_as.data.microstructure.measure`; imports nothing from that module.
"""

from __future__ import annotations

import math

_H = ("1", "5", "30", "60")
_Q = (("p50", "median"), ("p90", "p90"), ("p99", "p99"))

# (section, [(label, key, sub-key or None)])
ROWS: list[tuple[str, list[tuple[str, str, str | None]]]] = [
    ("spread (per snapshot)", [
        ("median, ticks", "spread", "median_ticks"), ("mean, ticks", "spread", "mean_ticks"),
        ("median, bps", "spread", "median_bps"), ("mean, bps", "spread", "mean_bps"),
        ("share at 1 tick", "spread", "one_tick_share"),
    ]),
    ("trade flow", [
        ("prints / s", "prints_per_s", None), ("taker orders / s", "orders_per_s", None),
        *[(f"print size {lab}, BTC", "print_size_quantiles", k) for k, lab in _Q],
        *[(f"order size {lab}, BTC", "order_size_quantiles", k) for k, lab in _Q],
        ("walking orders, share of orders", "walking_order_share", None),
        ("walking orders, share of volume", "walking_volume_share", None),
    ]),
    ("mid changes (1-s grid)", [
        *[(f"sd over {h} s, bps", "mid_change_sd_bps", h) for h in ("1", "5", "60")],
        ("VR(5s/1s)", "vr_5_1", None), ("VR(60s/5s)", "vr_60_5", None),
        ("1-s intervals with no change", "zero_change_share_1s", None),
    ]),
    ("trade-sign autocorrelation", [
        *[(f"prints, lag {k}", "sign_acf_prints", k) for k in ("1", "10", "100")],
        *[(f"orders, lag {k}", "sign_acf_orders", k) for k in ("1", "10", "100")],
    ]),
    ("impact per taker order", [
        *[(f"impact {h} s, bps", "impact_bps", h) for h in _H],
        ("impact(1s) / impact(30s)", "impact_ratio_1_30", None),
        ("impact 5 s walking, bps", "impact_walking_bps_5", None),
        ("impact 5 s touch-only, bps", "impact_touch_bps_5", None),
        ("walking / touch-only", "walking_markout_ratio", None),
        ("impact 5 s largest third, bps", "impact_large_bps_5", None),
        ("impact 5 s smallest third, bps", "impact_small_bps_5", None),
        ("largest / smallest third", "size_toxicity_ratio", None),
    ]),
    ("realized spread of a touch maker", [
        *[(f"{h} s, bps", "realized_spread_bps", h) for h in _H],
        *[(f"{h} s, ticks", "realized_spread_ticks", h) for h in _H],
        ("5 s / sd(5-s mid change)", "realized_spread_over_sd5", None),
    ]),
    ("tape", [
        ("tick-rule accuracy", "tick_rule_accuracy", None), ("zero-tick share", "zero_tick_share", None),
    ]),
    ("engine touch quoter (per maker fill)", [
        *[(f"markout {h} s, bps", "touch_quoter_markout_bps", h) for h in _H],
        ("maker fills", "touch_quoter_fills", None),
    ]),
]


def fmt(v: float | None) -> str:
    """Integers exactly, else three significant digits (no exponent for ordinary magnitudes); n/a for None."""
    if v is None or not math.isfinite(v):
        return "n/a"
    if abs(v) < 1e15 and abs(v - round(v)) <= 1e-9 * max(1.0, abs(v)):
        return f"{round(v):,}"
    v = float(f"{v:.3g}")
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a < 1e-4:
        return f"{v:.2g}"
    return f"{v:.{max(0, 2 - math.floor(math.log10(a)))}f}"


def cell(e: dict) -> str:
    if e["value"] is None:
        return "n/a"
    if e["lo"] is None:
        return fmt(e["value"])
    return f"{fmt(e['value'])} [{fmt(e['lo'])}, {fmt(e['hi'])}]"


def _dates(dates: list[str]) -> str:
    if not dates:
        return "no days"
    if len(dates) == 1:
        return dates[0]
    return f"{dates[0]}..{dates[-1]} ({len(dates)} days)"


def header(i: int, m: dict) -> str:
    label = m.get("label") or m["instrument"]
    win = f", window {m['window']}" if m.get("window") else ""
    return (f"[{i}] {label}: {_dates(m['dates'])}{win}, {m['hours']:.2f} h measured in {m['segments']} "
            f"segment(s); {m['snapshots']:,} snapshots, {m['prints']:,} prints, {m['orders']:,} orders; "
            f"mid from {m['mid_source']}, side from {m['side_source']}")


def format_table(results: list[dict]) -> str:
    """Stores side by side: a header line per store, the table, the footnotes."""
    lines = ["market microstructure, 95 % intervals in brackets"]
    lines += [header(i, r["meta"]) for i, r in enumerate(results, 1)]
    table = []
    for section, rows in ROWS:
        table.append((section, None))
        for label, key, sub in rows:
            entries = [r[key] if sub is None else r[key][sub] for r in results]
            table.append(("  " + label, [cell(e) for e in entries]))
    lw = max(len(t[0]) for t in table)
    widths = [max(len(f"[{i}]"), *(len(c[i - 1]) for _, c in table if c)) for i in range(1, len(results) + 1)]
    lines.append("")
    lines.append(" " * lw + "".join(f"  {f'[{i}]':>{w}}" for i, w in enumerate(widths, 1)))
    for label, cells in table:
        if cells is None:
            lines.append(label)
        else:
            lines.append(f"{label:<{lw}}" + "".join(f"  {c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    lines.append("")
    lines += footnotes(results)
    return "\n".join(lines)


def footnotes(results: list[dict]) -> list[str]:
    blocks = []
    for i, r in enumerate(results, 1):
        ci = r["meta"]["ci"]
        what = f"{ci['blocks']} blocks of {ci['block_seconds']:.0f} s on average"
        if not ci["resamples"]:
            what += " (too few: no interval)"
        blocks.append(f"[{i}] {what}")
    out = ["intervals: block bootstrap over time, 1000 resamples of blocks (each >= max(60 s, span / 20)), "
           "percentile; " + "; ".join(blocks)]
    out.append("orders = consecutive prints with one timestamp and side; walking = more than one price; "
               "mid(t-) = last snapshot strictly before the order; no horizon crosses a data gap > 60 s")
    eng = next((r["meta"]["engine"] for r in results if r["meta"].get("engine")), None)
    if eng:
        out.append(f"touch quoter: fill model {eng['fill_model']}, latency {eng['latency_ms']:g} ms, joins the "
                   f"touch (offset 0), {eng['quoter']['quantity']:g} BTC, requoted at every snapshot")
    for i, r in enumerate(results, 1):
        m = r["meta"]
        notes = list(m["notes"])
        if m.get("taker_fills"):
            notes.append(f"{m['taker_fills']} taker fill(s) of the touch quoter left out")
        out += [f"[{i}] {n}" for n in notes]
    return out
