"""group `sweep`: two workers must finish a sweep at least 1.7x faster than one.

Run: .venv/bin/pytest benchmarks/test_sweep_speedup.py --benchmark-enable
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from reports.sweep import sweep
from sim.clock import wall_seconds
from sim.measure import measure, validate
from sim.scenarios.library import builtin_path

pytestmark = pytest.mark.benchmark(group="sweep")
GRID = {"dispatcher.rate": ["2", "5", "10", "20"]}


def _timed(workers: int, out: Path) -> float:
    began = wall_seconds()
    sweep(measure, validate, builtin_path("email-chain"), GRID, 1, ("p95", 600.0), workers, None, out)
    return wall_seconds() - began


def test_two_workers_speedup(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    one, two = [], []

    def pair() -> None:
        one.append(_timed(1, tmp_path / f"one{len(one)}"))
        two.append(_timed(2, tmp_path / f"two{len(two)}"))

    benchmark.pedantic(pair, rounds=3, iterations=1)
    speedup = statistics.median(one) / statistics.median(two)
    benchmark.extra_info.update({"one_worker_s": round(statistics.median(one), 2),
                                 "two_workers_s": round(statistics.median(two), 2), "speedup": round(speedup, 2)})
    print(f"\nsweep of 4 runs: 1 worker {statistics.median(one):.1f}s, 2 workers {statistics.median(two):.1f}s, "
          f"speedup {speedup:.2f}x")
    assert speedup >= 1.7
