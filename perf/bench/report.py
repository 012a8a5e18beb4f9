"""Tables (plain data, JSON-ready) and the Markdown of RESULTS.md."""

from __future__ import annotations

import math
from typing import Any

from bench.stats import Samples, ratio, ratio_ci, summary


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def table(title: str, columns: list[str], rows: list[list[Any]], notes: list[str] | None = None):
    return {"title": title, "columns": columns, "rows": rows, "notes": notes or []}


def latency_table(
    title: str,
    samples: Samples,
    baseline: str,
    *,
    extra: dict[str, list[float]] | None = None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """p50/p95/p99 per variant, ratio of medians and Δp50 against ``baseline``."""
    allv = {**samples, **(extra or {})}
    base = allv[baseline]
    base_p50 = summary(base)["p50"]
    rows = []
    stats = {}
    for name, values in allv.items():
        s = summary(values)
        r = ratio(values, base)
        lo, hi = ratio_ci(values, base) if name != baseline else (1.0, 1.0)
        stats[name] = {**s, "ratio": r, "ci95": [lo, hi]}
        rows.append(
            [
                name + (" (baseline)" if name == baseline else ""),
                s["n"],
                s["p50"],
                s["p95"],
                s["p99"],
                r,
                f"{lo:.3f}-{hi:.3f}" if name != baseline else "",
                s["p50"] - base_p50,
            ]
        )
    t = table(
        title,
        ["variant", "n", "p50 ms", "p95 ms", "p99 ms", "÷ baseline p50", "95% CI", "Δp50 ms"],
        rows,
        notes,
    )
    t["stats"] = stats
    return t


def render_table(t: dict[str, Any]) -> str:
    lines = [f"#### {t['title']}", ""]
    lines.append("| " + " | ".join(t["columns"]) + " |")
    lines.append("|" + "|".join(" --- " for _ in t["columns"]) + "|")
    for row in t["rows"]:
        lines.append("| " + " | ".join(fmt(c) for c in row) + " |")
    for note in t.get("notes", []):
        lines.append("")
        lines.append(note)
    lines.append("")
    return "\n".join(lines)


def render_targets(targets: list[dict[str, Any]]) -> str:
    lines = [
        "| figure | target | measured | 95% CI | met | detail |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for t in targets:
        met = {True: "**met**", False: "**missed**", None: "not measured"}[t["met"]]
        ci = f"{t['ci95'][0]:.3f}-{t['ci95'][1]:.3f}" if t.get("ci95") else ""
        if t.get("ci95") and t["met"] is not None and t["ci95"][0] <= t["limit"] <= t["ci95"][1]:
            met += " (within noise: the interval holds the limit)"
        measured = "—" if t["measured"] is None else f"{t['measured']:.3f}"
        lines.append(
            f"| {t['figure']} | {t['target']} | {measured} | {ci} | {met} | {t['detail']} |"
        )
    return "\n".join(lines) + "\n"
