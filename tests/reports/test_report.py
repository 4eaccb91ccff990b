"""The run report: parses, every chart present and not blank, escaped, numbers match."""

from __future__ import annotations

import io
import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from reports.html import build_report
from sim.runner import run, write
from sim.scenarios.loader import loads

EVIL = "<script>alert(1)</script>"
SCENARIO = f"""
name = "report check {EVIL}"
seed = 5
start = "2026-03-02T08:00:00+09:00"
duration = "2d"

[population]
size = 300
fields = {{ plan = ["free", "pro"] }}
subscribers = [{{ email = "evil@example.kr", name = "{EVIL}", plan = "pro" }},
               {{ email = "kim@example.kr", name = "김", plan = "pro" }}]

[dispatcher]
rate = 2

[[automation]]
id = "welcome"
subject = "Hi $%name%$"
trigger = {{ kind = "api" }}
delay = "1h"
window = {{ days = ["mon", "tue"], from = "09:00", to = "18:00" }}
start = "+0s"

[[automation]]
id = "signup"
trigger = {{ kind = "subscriber_added" }}
start = "+0s"

[[load]]          # a burst the dispatcher needs minutes to clear: a real backlog
kind = "subscriber_added"
count = 1500
from = "+2h"

[[action]]
at = "+1m"
do = "api"
automation = "welcome"
who = {{ emails = ["evil@example.kr"] }}

[[action]]
at = "+2m"
do = "pending.query"
automation = "welcome"
label = "{EVIL}"

[[action]]
at = "+1d"
do = "pause"
automation = "welcome"

[[load]]
kind = "api"
automation = "welcome"
rate = "600/h"
until = "+20h"

[[expect]]
metric = "welcome.sent"
op = ">"
value = 10
"""


class _Doc(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "img", "br", "link"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open, f"</{tag}> closes nothing"
        assert self.open[-1] == tag, f"unbalanced </{tag}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("run")
    result = run(loads(SCENARIO, "check.toml"))
    write(result, out)
    path = build_report(out)
    return out, path.read_text(encoding="utf-8"), json.loads((out / "summary.json").read_text())


def test_report_html_parses(report) -> None:  # type: ignore[no-untyped-def]
    _, html, _ = report
    doc = _Doc()
    doc.feed(html)
    doc.close()
    assert doc.open == []
    assert any(tag == "table" and attrs.get("id") == "automations" for tag, attrs in doc.tags)


def test_every_chart_is_present_and_not_blank(report) -> None:  # type: ignore[no-untyped-def]
    out, html, _ = report
    keys = re.findall(r'<figure id="chart-([a-z]+)">', html)
    assert keys == ["throughput", "backlog", "latency", "outcomes", "engagement", "little"]
    for key in keys:
        pixels = imread(io.BytesIO((out / f"chart-{key}.png").read_bytes()))
        assert pixels.std() > 0.01, f"chart {key} is blank"
        drawn = (pixels[..., :3] < 0.9).any(axis=2).mean()
        assert drawn > 0.01, f"chart {key} has almost nothing drawn"
    assert html.count('src="data:image/png;base64,') == 6  # self-contained


def test_subscriber_strings_are_escaped(report) -> None:  # type: ignore[no-untyped-def]
    _, html, _ = report
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_report_numbers_equal_summary(report) -> None:  # type: ignore[no-untyped-def]
    _, html, summary = report
    for name, a in summary["automations"].items():
        row = re.search(rf'<tr data-automation="{name}">(.*?)</tr>', html, re.S)
        assert row is not None
        for key in ("triggered", "sent", "pending"):
            cell = re.search(rf'<td class="{key}">([\d,]+)</td>', row.group(1))
            assert cell is not None
            assert int(cell.group(1).replace(",", "")) == a[key]
    assert summary["event_digest"] in html
    text = unescape(html)
    for e in summary["expectations"]:
        assert f"{e['metric']} {e['op']} {e['value']}" in text


def test_little_law_holds_roughly(report) -> None:  # type: ignore[no-untyped-def]
    out, _, _ = report
    law = json.loads((out / "timeseries.json").read_text())["little"]
    assert law["throughput_x_latency"] > 0
    assert np.isclose(law["mean_backlog"], law["throughput_x_latency"], rtol=0.25)


def test_report_command_rebuilds_and_refuses_non_run_folders(report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cli import main

    out, _, _ = report
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").exists()
    assert main(["report", str(tmp_path)]) == 2


def test_the_headline_gives_a_planner_the_figures_first(tmp_path: Path) -> None:
    """Peak backlog, time at capacity, and the drain after the Monday 09:00 window opens, in local time."""
    from cli import main

    out = tmp_path / "mb"
    assert main(["run", "monday-burst", "--quiet", "--out", str(out)]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    headline = html[html.index('id="headline"'):html.index("</dl>")]
    assert "peak backlog (due, waiting for capacity)</dt><dd>17,601 sends at Mon 09 Mar 09:00" in headline
    assert "time at full capacity</dt><dd>15 min in 1 stretch" in headline
    assert "after each window opens</dt><dd>Mon 09 Mar 09:00: 17,601 waiting, drained in 15 min" in headline
    assert "delivery latency p95 / p99" in headline
    assert html.index('id="headline"') < html.index("<h2>Charts</h2>") < html.index("<h2>Self-checks</h2>")
    assert html.index("<h2>Self-checks</h2>") < html.index('id="chart-little"')
    text = re.sub(r'src="data:[^"]*"', "", html)  # the PNGs' base64 may hold any letters
    assert "ST2" not in text  # rule ids are for engineers, not chart titles
    assert "(T4" not in text
