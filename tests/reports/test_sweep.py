"""Capacity sweeps: grid x seeds, local pool or a Dask cluster on 127.0.0.1, one answer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from reports.sweep import answer, parse_grid, parse_slo, sweep
from sim.measure import measure, validate
from sim.scenarios.library import builtin_path

GRID = {"dispatcher.rate": ["0.2", "1", "50"]}


def _check_outputs(out: Path, runs: int) -> dict:  # type: ignore[type-arg]
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert len(rows) == runs
    assert all(r["invariants_ok"] == "True" for r in rows)
    data = json.loads((out / "sweep.json").read_text())
    html = (out / "capacity.html").read_text()
    assert 'id="answer"' in html
    assert html.count("data:image/png;base64,") == 3
    return data  # type: ignore[no-any-return]


def test_local_sweep_answers_the_capacity_question(tmp_path: Path) -> None:
    result = sweep(measure, validate, builtin_path("pause-boundary"), GRID, 2, ("p95", 60.0), 2, None, tmp_path)
    data = _check_outputs(tmp_path, 6)
    # 30 sends due at once: 0.2/s needs 150 s (p95 > 60 s), 1/s about 30 s, 50/s under a second.
    assert result["answer"]["rate"] == 1.0
    assert data["answer"] == result["answer"]


def test_sweep_on_a_dask_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(host="127.0.0.1", n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        result = sweep(measure, validate, builtin_path("pause-boundary"), GRID, 1, ("p95", 60.0), None,
                       cluster.scheduler_address, tmp_path)
    _check_outputs(tmp_path, 3)
    assert result["answer"]["rate"] == 1.0
    assert result["scheduler"].startswith("tcp://127.0.0.1:")


def test_answer_needs_every_seed_to_meet_the_slo() -> None:
    rows = [{"rate": 10, "latency_p95_s": 100, "overdue_at_end": 0},
            {"rate": 10, "latency_p95_s": 1000, "overdue_at_end": 0},   # one seed misses it
            {"rate": 20, "latency_p95_s": 50, "overdue_at_end": 0},
            {"rate": 20, "latency_p95_s": 60, "overdue_at_end": 0},
            {"rate": 40, "latency_p95_s": 1, "overdue_at_end": 0}]
    assert answer(rows, ("p95", 900.0))["rate"] == 20
    assert answer(rows, ("p95", 0.5))["rate"] is None


def test_sweep_arguments_are_validated() -> None:
    assert parse_grid(["dispatcher.rate=50,100"]) == {"dispatcher.rate": ["50", "100"]}
    assert parse_slo("p95=15m") == ("p95", 900.0)
    with pytest.raises(ValueError, match="grid"):
        parse_grid(["dispatcher.rate"])
    with pytest.raises(ValueError, match="slo"):
        parse_slo("p42=1m")


def test_sweep_command_line(tmp_path: Path) -> None:
    from cli import main

    args = ["sweep", "pause-boundary", "--grid", "dispatcher.rate=1,50", "--seeds", "1", "--slo", "p95=60s",
            "--workers", "1", "--out", str(tmp_path)]
    assert main(args) == 0
    assert (tmp_path / "capacity.html").exists()
    assert main(["sweep", "pause-boundary", "--grid", "dispatcher.rate=fast", "--out", str(tmp_path)]) == 2


LATE_SIGNUPS = """
name = "late sign-ups"
seed = 5
start = "2026-03-02T08:00:00+09:00"
duration = "3h"
[population]
size = 0
[behaviour]
open = 0.0
click = 0.0
unsubscribe = 0.0
[[automation]]
id = "welcome"
trigger = { kind = "subscriber_added" }
delay = "1h"
start = "+0s"
[[load]]
kind = "subscriber_added"
count = 300
from = "+1h"
[[load]]
kind = "subscriber_added"
count = 50
from = "+2h30m"
"""


def test_capacity_answer_ignores_mail_not_due_yet_but_counts_mail_left_unsent() -> None:
    # 300 due at +2h, 50 more not due until +3h30m (after the end). 1/s clears the 300 in 5 minutes;
    # 0.01/s leaves most of them overdue at the end.
    rows = [{"rate": float(rate), **measure(LATE_SIGNUPS, "late.toml", (f"dispatcher.rate={rate}",), 5)}
            for rate in (0.01, 1)]
    slow, fast = rows
    assert fast["unsent_at_end"] == 50  # not due yet: the case that used to fail every rate
    assert fast["overdue_at_end"] == 0
    assert slow["overdue_at_end"] > 200
    result = answer(rows, ("p95", 3600.0))
    assert result["rate"] == 1.0
    assert "came due and were still unsent" in result["failed"]["0.01"]


def test_sweep_exit_code_says_whether_a_rate_met_the_slo(tmp_path: Path) -> None:
    from cli import main

    base = ["sweep", "pause-boundary", "--grid", "dispatcher.rate=0.2,1", "--seeds", "1", "--workers", "1"]
    assert main([*base, "--slo", "p95=60s", "--out", str(tmp_path / "met")]) == 0
    assert main([*base, "--slo", "p95=1s", "--out", str(tmp_path / "not-met")]) == 1


def test_answer_warns_when_it_leaves_under_ten_percent_headroom() -> None:
    rows = [{"rate": 30, "latency_p95_s": 893, "overdue_at_end": 0, "seed": 0, "sent": 1},
            {"rate": 50, "latency_p95_s": 400, "overdue_at_end": 0, "seed": 0, "sent": 1}]
    tight = answer(rows, ("p95", 900.0))
    assert tight["rate"] == 30
    assert tight["headroom"] < 0.01
    assert "headroom" in tight["note"]
    roomy = answer(rows[1:], ("p95", 900.0))
    assert roomy["note"] == ""
