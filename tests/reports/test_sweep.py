"""Capacity sweeps: grid x seeds, local pool or a Dask cluster on 127.0.0.1, one answer."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from reports.sweep import Slo, answer, parse_grid, parse_slo, parse_slos, sweep
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
    # each automation's latency, and what was left undone; no throughput chart, since every rate
    # delivers the same sends over the run (the knee is against the fastest rate, not the offered load)
    assert html.count("data:image/png;base64,") == 2
    assert (out / "capacity-latency.png").exists()
    assert not (out / "capacity-throughput.png").exists()
    return data  # type: ignore[no-any-return]


def test_local_sweep_answers_the_capacity_question(tmp_path: Path) -> None:
    result = sweep(measure, validate, builtin_path("pause-boundary"), GRID, 2, parse_slos(["p95=60s"]), 2, None,
                   tmp_path)
    data = _check_outputs(tmp_path, 6)
    # 30 sends due at once: 0.2/s needs 150 s (p95 > 60 s), 1/s about 30 s, 50/s under a second.
    assert result["answer"]["rate"] == 1.0
    assert data["answer"] == result["answer"]


def test_sweep_on_a_dask_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(host="127.0.0.1", n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        result = sweep(measure, validate, builtin_path("pause-boundary"), GRID, 1, parse_slos(["p95=60s"]), None,
                       cluster.scheduler_address, tmp_path)
    _check_outputs(tmp_path, 3)
    assert result["answer"]["rate"] == 1.0
    assert result["scheduler"].startswith("tcp://127.0.0.1:")


def test_answer_needs_every_seed_to_meet_the_slo() -> None:
    rows = [{"rate": 10, "seed": 1, "latency_p95_s": 100, "overdue_at_end": 0},
            {"rate": 10, "seed": 2, "latency_p95_s": 1000, "overdue_at_end": 0},   # one seed misses it
            {"rate": 20, "seed": 1, "latency_p95_s": 50, "overdue_at_end": 0},
            {"rate": 20, "seed": 2, "latency_p95_s": 60, "overdue_at_end": 0},
            {"rate": 40, "seed": 1, "latency_p95_s": 1, "overdue_at_end": 0}]
    assert answer(rows, parse_slos(["p95=15m"]))["rate"] == 20
    assert answer(rows, parse_slos(["p95=0.5s"]))["rate"] is None


def test_sweep_arguments_are_validated() -> None:
    assert parse_grid(["dispatcher.rate=50,100"]) == {"dispatcher.rate": ["50", "100"]}
    assert parse_slo("p95=15m") == Slo("queue", "p95", 900.0)
    assert parse_slo("delivery.p99=30m") == Slo("delivery", "p99", 1800.0)
    with pytest.raises(ValueError, match="grid"):
        parse_grid(["dispatcher.rate"])
    with pytest.raises(ValueError, match=r"keys: queue.p50, queue.p95, .*delivery.max"):
        parse_slo("p90=1m")
    with pytest.raises(ValueError, match="given twice"):
        parse_slos(["p95=1m", "queue.p95=2m"])


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
    result = answer(rows, parse_slos(["p95=1h"]))
    assert result["rate"] == 1.0
    assert "came due and were still unsent" in result["failed"]["0.01"]


def test_sweep_exit_code_says_whether_a_rate_met_the_slo(tmp_path: Path) -> None:
    from cli import main

    base = ["sweep", "pause-boundary", "--grid", "dispatcher.rate=0.2,1", "--seeds", "1", "--workers", "1"]
    assert main([*base, "--slo", "p95=60s", "--out", str(tmp_path / "met")]) == 0
    assert main([*base, "--slo", "p95=1s", "--out", str(tmp_path / "not-met")]) == 1


def test_answer_names_the_binding_objective_and_no_headroom_noise() -> None:
    rows = [{"rate": 30, "latency_p95_s": 893, "overdue_at_end": 0, "seed": 0, "sent": 1},
            {"rate": 50, "latency_p95_s": 400, "overdue_at_end": 0, "seed": 0, "sent": 1}]
    tight = answer(rows, parse_slos(["p95=15m"]))
    assert tight["rate"] == 30
    assert tight["note"] == ""  # bisection lands just under the limit by construction: no warning
    assert tight["binding"]["objective"] == "queue.p95"
    assert tight["binding"]["worst_s"] == 893


PER_AUTOMATION = [  # the planner's shop day: a large, fast order stream dilutes the welcome at risk
    {"rate": 13, "seed": 0, "latency_p95_s": 843, "welcome:latency_p95_s": 2115, "order:latency_p95_s": 40,
     "overdue_at_end": 0, "sent": 1},
    {"rate": 18, "seed": 0, "latency_p95_s": 300, "welcome:latency_p95_s": 870, "order:latency_p95_s": 10,
     "overdue_at_end": 0, "sent": 1}]


def test_slo_p95_means_every_automation_and_all_means_pooled() -> None:
    every = answer(PER_AUTOMATION, parse_slos(["p95=15m"]))
    assert every["rate"] == 18
    assert every["failed"]["13"] == "welcome.queue.p95 2115s > 900s (seed 0)"
    assert every["binding"]["objective"] == "welcome.queue.p95"
    assert answer(PER_AUTOMATION, parse_slos(["all.p95=15m"]))["rate"] == 13  # the pooled figure, as asked
    assert answer(PER_AUTOMATION, parse_slos(["order.p95=1m"]))["rate"] == 13


def test_per_automation_slo_keys_are_parsed_and_checked() -> None:
    assert parse_slo("welcome.p95=15m") == Slo("queue", "p95", 900.0, "welcome")
    assert parse_slo("order.delivery.p99=2m") == Slo("delivery", "p99", 120.0, "order")
    assert parse_slo("all.p95=15m").scope == "all"
    with pytest.raises(ValueError, match=r"no automation called 'welcom' \(did you mean 'welcome'\?\)"):
        parse_slos(["welcom.p95=15m"], ["welcome", "order"])


def test_the_scenarios_expectations_are_part_of_the_criterion() -> None:
    rows = [dict(r, expect_failed="welcome.latency_s.p95 < 900 (was 950.0)" if r["rate"] < 25 else "")
            for r in PER_AUTOMATION] + [{**PER_AUTOMATION[1], "rate": 25, "expect_failed": ""}]
    assert answer(rows, parse_slos(["all.p95=15m"]))["rate"] == 25
    assert "expectation welcome.latency_s.p95" in answer(rows, parse_slos(["all.p95=15m"]))["failed"]["18"]
    assert answer(rows, parse_slos(["all.p95=15m"]), expectations=False)["rate"] == 13


def test_capacity_search_lands_where_a_fine_grid_says(tmp_path: Path) -> None:
    """The bisection answer lies between the grid's largest failing and smallest meeting rate."""
    from reports.search import search
    from reports.sweep import parse_slos

    slos = parse_slos(["p95=15m"])
    grid = sweep(measure, validate, builtin_path("monday-burst"), {"dispatcher.rate": ["18", "19", "20", "21"]},
                 2, slos, 2, None, tmp_path / "grid", 21)
    found = search(measure, validate, builtin_path("monday-burst"), slos, 2, 1.0, 100.0, (0.0, 0.01), 2, None,
                   tmp_path / "search", 21)
    assert grid["answer"]["rate"] == 20.0
    assert 19.0 < found["answer"]["rate"] <= 20.0
    assert 19.0 <= found["answer"]["largest_failing"] < found["answer"]["rate"]
    assert found["search"]["probes"] <= 12  # far fewer runs than a grid as fine
    assert (tmp_path / "search" / "capacity.html").exists()


def test_capacity_search_says_when_the_range_is_wrong(tmp_path: Path) -> None:
    from reports.search import search
    from reports.sweep import parse_slos

    slos = parse_slos(["p95=15m"])
    high = search(measure, validate, builtin_path("monday-burst"), slos, 1, 1.0, 5.0, (0.5, 0.0), 1, None,
                  tmp_path / "a", 21)
    assert high["answer"]["rate"] is None
    assert "even 5/s fails" in high["answer"]["note"]
    low = search(measure, validate, builtin_path("monday-burst"), slos, 1, 50.0, 100.0, (0.5, 0.0), 1, None,
                 tmp_path / "b", 21)
    assert low["answer"]["rate"] == 50.0
    assert "lower bound" in low["answer"]["note"]


def test_several_named_slos_must_all_hold() -> None:
    from reports.sweep import parse_slos

    rows = [{"rate": 10, "seed": 0, "latency_p95_s": 100, "delivery_p95_s": 2000, "overdue_at_end": 0},
            {"rate": 20, "seed": 0, "latency_p95_s": 50, "delivery_p95_s": 600, "overdue_at_end": 0}]
    assert answer(rows, parse_slos(["p95=15m"]))["rate"] == 10
    both = answer(rows, parse_slos(["p95=15m", "delivery.p95=15m"]))
    assert both["rate"] == 20
    assert both["failed"]["10"].startswith("delivery.p95 2000s > 900s")
    assert both["slo"] == "queue.p95 <= 900s in each automation and delivery.p95 <= 900s in each automation"


def test_other_grid_keys_get_an_answer_each() -> None:
    from reports.sweep import parse_slos

    rows = [{"rate": r, "seed": 0, "latency_p95_s": p, "overdue_at_end": 0, "dispatcher.latency": lat}
            for r, p, lat in ((10, 800, "80ms"), (20, 400, "80ms"), (10, 1000, "2s"), (20, 500, "2s"))]
    grid = {"dispatcher.rate": ["10", "20"], "dispatcher.latency": ["80ms", "2s"]}
    a = answer(rows, parse_slos(["p95=15m"]), grid)
    assert [(b["point"], b["rate"]) for b in a["by"]] == [({"dispatcher.latency": "80ms"}, 10.0),
                                                         ({"dispatcher.latency": "2s"}, 20.0)]
    assert a["rate"] == 20.0  # enough for every combination
    fixed = answer([r for r in rows if r["rate"] == 10], parse_slos(["p95=15m"]),
                   {"dispatcher.latency": ["80ms", "2s"]})
    assert fixed["rate"] is None
    assert [(p["point"]["dispatcher.latency"], p["meets"]) for p in fixed["points"]] == [("80ms", True),
                                                                                         ("2s", False)]
    assert "not in the grid" in fixed["note"]


def test_capacity_page_answers_first_and_shows_its_evidence(tmp_path: Path) -> None:
    """The structure a planner reads: the answer, the threshold's other side, the spread, the latency chart
    with the SLO, and one row per run with rounded figures."""
    from reports.search import search
    from reports.sweep import parse_slos

    found = search(measure, validate, builtin_path("monday-burst"), parse_slos(["p95=15m"]), 2, 1.0, 100.0,
                   (0.0, 0.05), 2, None, tmp_path, 21)
    html = (tmp_path / "capacity.html").read_text(encoding="utf-8")
    assert html.index('id="answer"') < html.index("<figure") < html.index("<h2>Runs</h2>")
    assert f"<strong>{found['answer']['rate']:g} sends/s</strong>" in html
    assert "The largest rate seen to fail" in html
    assert "Across the seeds at the answer: queue.p95" in html
    assert "queue.p95 of each automation against dispatcher rate" in html
    runs = html[html.index("<h2>Runs</h2>"):]
    assert runs.count("<tr>") == 1 + 2 * found["search"]["probes"]  # header + a row per run
    assert re.search(r"<td[^>]*>\d+\.\d{5,}</td>", runs) is None  # no 17-digit floats


def _without_wall(rows: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]


def test_a_sharded_sweep_gives_the_same_rows_as_one_task_per_run(tmp_path: Path) -> None:
    """`--shards`: a partitioned run's partitions as tasks of their own, merged into the same row."""
    from reports.sweep import Sharding
    from sim.measure import groups_of, measure_partitions, merge_partitions

    grid = {"dispatcher.rate": ["0.5", "50"]}
    base = ("dispatcher.partitions=4",)
    path = builtin_path("pause-boundary")
    rows = {}
    for shards in (1, 3):
        sharding = Sharding(shards, groups_of, measure_partitions, merge_partitions) if shards > 1 else None
        out = tmp_path / f"s{shards}"
        result = sweep(measure, validate, path, grid, 2, parse_slos(["p95=60s"]), 2, None, out, base=base,
                       sharding=sharding)
        rows[shards] = json.loads((out / "sweep.json").read_text())["rows"]
        assert result["shards"] == shards
    assert len(rows[1]) == 4
    assert _without_wall(rows[1]) == _without_wall(rows[3])
    assert {r["sent"] for r in rows[3]} != {0}
