"""The run report: one self-contained HTML file (charts embedded), from a run folder.

Templated with Jinja2 autoescaping: every subscriber-derived string (emails,
names in subjects, pending-list rows) is escaped.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from reports.painters import CHARTS, KEYS, SELF_CHECKS, Painter
from sim.files import create_bytes, create_text, read_bytes


def _env() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"),
                      autoescape=select_autoescape(["html"], default=True))
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else (f"{v:,.3f}" if isinstance(v, float) else v)
    return env


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else _minutes(seconds)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def headline(summary: dict[str, Any], ts: dict[str, Any], zone: ZoneInfo) -> list[tuple[str, str]]:
    """The figures a planner reads first, as (label, value) pairs in plain words."""
    h = ts.get("headline") or {}
    start = float(ts.get("start_epoch_s", 0.0))

    def when(offset: float) -> str:
        return datetime.fromtimestamp(start + offset, zone).strftime("%a %d %b %H:%M")

    sends = summary.get("sends", sum(a["sent"] for a in summary["automations"].values()))
    out = [("sends", f"{sends:,} at up to {summary['dispatcher']['rate']:g}/s")]
    autos = summary["automations"].values()
    dropped: dict[str, int] = {}
    for a in autos:
        for reason, n in a["dropped"].items():
            dropped[reason] = dropped.get(reason, 0) + n
    failed = sum(sum(a["failed"].values()) for a in autos)
    out.append(("failed, dropped", f"{failed:,} failed; " + (", ".join(
        f"{n:,} {reason}" for reason, n in sorted(dropped.items()) if n) or "none dropped")))
    ignored: dict[str, int] = {}
    for a in autos:
        for reason, n in a.get("ignored", {}).items():
            ignored[reason] = ignored.get(reason, 0) + int(n)
    out.append(("triggers ignored", ", ".join(f"{n:,} {reason}" for reason, n in
                                              sorted(ignored.items(), key=lambda kv: -kv[1]) if n) or "none"))
    for key, name in (("latency_s", "queue latency p95 / p99"), ("delivery_latency_s", "delivery latency p95 / p99")):
        lat = summary.get(key, {})
        if lat.get("p95") is not None:
            out.append((name, f"{_seconds(lat['p95'])} / {_seconds(lat['p99'])}"))
    if h:
        peak = h["peak_overdue"]
        out.append(("peak backlog (due, waiting for capacity)",
                    f"{peak:,} sends" + (f" at {when(h['peak_overdue_at_s'])}" if peak else "")))
        out.append(("time at full capacity", f"{_minutes(h['minutes_at_capacity'] * 60)} in "
                    f"{h['stretches_at_capacity']} stretch{'es' if h['stretches_at_capacity'] != 1 else ''}"))
        for i, d in enumerate(h.get("drains", [])[:5]):
            took = "not drained by the end" if d["drain_s"] is None else f"drained in {_minutes(d['drain_s'])}"
            out.append(("after each window opens" if i == 0 else "",
                        f"{when(d['opening_s'])}: {d['waiting']:,} waiting, {took}"))
        if not h.get("drains"):
            for i, run in enumerate(h["longest_stretches"][:3]):
                out.append(("longest stretches at capacity" if i == 0 else "",
                            f"{_minutes(run['length_s'])} from {when(run['start_s'])}"))
    overdue = sum(a.get("overdue_at_end", 0) for a in summary["automations"].values())
    later = sum(a.get("not_yet_due", 0) for a in summary["automations"].values())
    end = "when it was interrupted" if summary.get("interrupted") else "at the end"
    out.append((f"overdue {end} (came due, unsent)", f"{overdue:,}"))
    out.append((f"pending, not yet due {end}", f"{later:,}"))
    return out


def simulated(summary: dict[str, Any]) -> str:
    """'24.0 h simulated', or, for an interrupted run, how far it got of how far it was to go."""
    planned = float(summary["duration_s"]) / 3600
    reached = float(summary.get("simulated_s", summary["duration_s"])) / 3600
    if summary.get("interrupted"):
        return f"{reached:.1f} h of {planned:.1f} h simulated (interrupted)"
    return f"{planned:.1f} h simulated"


def build_report(run_dir: Path, painter: Painter | None = None) -> Path:
    """Read summary.json, timeseries.json, pending_pages.json; write report.html and PNGs. The charts
    are drawn by `painter` (started ahead by the caller), or by a painter started here."""
    run_dir = Path(run_dir)
    summary = _json(run_dir / "summary.json")
    series = _json(run_dir / "timeseries.json")
    pages_file = run_dir / "pending_pages.json"
    pages = _json(pages_file) if pages_file.exists() or pages_file.is_symlink() else []
    zone = ZoneInfo(summary.get("timezone", "Asia/Seoul"))
    for page in pages:
        page["when"] = datetime.fromtimestamp(page["at"], zone).strftime("%Y-%m-%d %H:%M")
        for row in page["rows"]:
            row["due_text"] = datetime.fromtimestamp(row["due"], zone).strftime("%Y-%m-%d %H:%M:%S")
    if painter is None:
        with Painter() as started:
            images = started.draw(summary, series)
    else:
        images = painter.draw(summary, series)
    for key in KEYS:
        create_bytes(run_dir / f"chart-{key}.png", images[key])
    titles = {**CHARTS, **SELF_CHECKS}
    figures = {k: {"key": k, "title": titles[k], "src": "data:image/png;base64," + base64.b64encode(png).decode()}
               for k, png in images.items()}
    html = _env().get_template("report.html").render(
        s=summary, ts=series, pages=pages, headline=headline(summary, series, zone), simulated=simulated(summary),
        charts=[figures[k] for k in CHARTS], checks=[figures[k] for k in SELF_CHECKS])
    out = run_dir / "report.html"
    create_text(out, html)  # a new file in a new folder (`dripsim report` rebuilds into one and swaps)
    return out


MAX_JSON_BYTES = 256 * 2**20


def _json(path: Path) -> Any:
    """A run folder's JSON: a regular file (no link, FIFO or device), bounded, read once."""
    return json.loads(read_bytes(path, MAX_JSON_BYTES, "file"))

