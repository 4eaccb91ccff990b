"""capacity.html's charts: each automation against its objective, and a knee only where a rate falls behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reports.capacity import build_capacity_report, knee


def test_knee_is_measured_against_the_fastest_rate_not_the_offered_load() -> None:
    rates = np.array([0.5, 1.0, 2.0, 4.0])
    assert knee(rates, np.array([0.0391] * 4)) is None  # every rate under the offered load by the same sends
    assert knee(rates, np.array([0.5, 0.9, 1.2, 1.2])) == 1  # 1/s and below fall behind what 4/s delivers


def test_the_latency_chart_draws_every_automation_of_an_objective(tmp_path: Path) -> None:
    rows = [{"rate": rate, "seed": seed, "load": 1.0, "latency_p95_s": 60.0 / rate, "a:latency_p95_s": 30.0 / rate,
             "b:latency_p95_s": 300.0 / rate, "offered_per_s": 1.0, "throughput_per_s": 1.0, "dropped": 0,
             "overdue_at_end": 0, "sent": 100} for rate in (1.0, 2.0, 4.0) for seed in (1, 2)]
    slo = {"name": "queue.p95", "scope": "*", "limit_s": 120.0, "column": "latency_p95_s",
           "columns": [{"who": w, "column": f"{w}:latency_p95_s", "label": f"{w}.queue.p95"} for w in ("a", "b")]}
    result = {"scenario": "two", "set": [], "grid": {"dispatcher.rate": ["1", "2", "4"]}, "seeds": [1, 2],
              "answer": {"rate": 4.0, "slo": "queue.p95 <= 120s"}, "slos": [slo]}
    import matplotlib.axes

    drawn: list[str] = []
    original = matplotlib.axes.Axes.plot

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append(str(kwargs.get("label")))
        return original(self, *args, **kwargs)

    matplotlib.axes.Axes.plot = spy  # type: ignore[method-assign]
    try:
        html = build_capacity_report(rows, result, tmp_path).read_text()
    finally:
        matplotlib.axes.Axes.plot = original  # type: ignore[method-assign]
    assert drawn[:3] == ["a.queue.p95", "b.queue.p95", "all automations pooled (not the criterion)"]
    assert "queue.p95 of each automation against dispatcher rate" in html
    assert (tmp_path / "capacity-latency.png").stat().st_size > 0
