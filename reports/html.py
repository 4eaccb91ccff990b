"""The run report: one self-contained HTML file (charts embedded), from a run folder.

Templated with Jinja2 autoescaping: every subscriber-derived string (emails,
names in subjects, pending-list rows) is escaped.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from reports.charts import CHARTS, render_all


def _env() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"),
                      autoescape=select_autoescape(["html"], default=True))
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else (f"{v:,.3f}" if isinstance(v, float) else v)
    return env


def build_report(run_dir: Path) -> Path:
    """Read summary.json, timeseries.json, pending_pages.json; write report.html and PNGs."""
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    series = json.loads((run_dir / "timeseries.json").read_text(encoding="utf-8"))
    pages_file = run_dir / "pending_pages.json"
    pages = json.loads(pages_file.read_text(encoding="utf-8")) if pages_file.exists() else []
    zone = ZoneInfo(summary.get("timezone", "Asia/Seoul"))
    for page in pages:
        page["when"] = datetime.fromtimestamp(page["at"], zone).strftime("%Y-%m-%d %H:%M")
        for row in page["rows"]:
            row["due_text"] = datetime.fromtimestamp(row["due"], zone).strftime("%Y-%m-%d %H:%M:%S")
    images = render_all(summary, series, run_dir)
    charts = [{"key": k, "title": CHARTS[k][0], "src": "data:image/png;base64,"
               + base64.b64encode(png).decode()} for k, png in images.items()]
    html = _env().get_template("report.html").render(s=summary, ts=series, charts=charts, pages=pages)
    out = run_dir / "report.html"
    partial = out.with_name(".report.html.partial")  # a rebuild never leaves half a report
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, out)
    return out

