"""group `dispatch`: sends per second through the actor pipeline, against the reference peer.

Run: .venv/bin/pytest benchmarks/test_dispatch.py --benchmark-enable
"""

from __future__ import annotations

import statistics

import pytest

from benchmarks.reference import run_reference
from benchmarks.workloads import real_clock_lateness, run_saturated

pytestmark = pytest.mark.benchmark(group="dispatch")


@pytest.mark.parametrize("n", [100_000, 1_000_000])
def test_dripsim_saturated(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    walls: list[float] = []

    def once() -> None:
        walls.append(run_saturated(n)[0])

    benchmark.pedantic(once, rounds=3, iterations=1)
    rate = n / statistics.median(walls)
    benchmark.extra_info["sends_per_s_median"] = round(rate)
    print(f"\ndripsim saturated, {n:,} sends: median {rate:,.0f} sends/s")


def test_reference_peer(benchmark) -> None:  # type: ignore[no-untyped-def]
    n = 100_000
    walls: list[float] = []
    benchmark.pedantic(lambda: walls.append(run_reference(n)), rounds=3, iterations=1)
    rate = n / statistics.median(walls)
    benchmark.extra_info["sends_per_s_median"] = round(rate)
    print(f"\nreference peer, {n:,} sends: median {rate:,.0f} sends/s")


def test_ratio_to_reference_same_run() -> None:
    """Alternate the two designs on the same workload; compare medians (ratio, not time)."""
    n = 100_000
    ours, theirs = [], []
    for _ in range(3):
        ours.append(n / run_saturated(n)[0])
        theirs.append(n / run_reference(n))
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"\ndripsim {statistics.median(ours):,.0f}/s vs reference {statistics.median(theirs):,.0f}/s: "
          f"{ratio:.1f}x")
    assert ratio >= 10


@pytest.mark.parametrize("subscribers", [10_000, 100_000, 1_000_000])
def test_cost_per_send_by_list_size(benchmark, subscribers: int) -> None:  # type: ignore[no-untyped-def]
    """The same 200,000 sends to lists of 10k, 100k and 1M subscribers: per-send cost must not grow."""
    walls: list[float] = []
    benchmark.pedantic(lambda: walls.append(run_saturated(200_000, subscribers=subscribers)[0]),
                       rounds=3, iterations=1)
    per_send = statistics.median(walls) / 200_000 * 1e6
    benchmark.extra_info["us_per_send_median"] = round(per_send, 3)
    print(f"\n{subscribers:,} subscribers: {per_send:.2f} us per send")


def test_real_clock_lateness_at_1000_per_s(benchmark) -> None:  # type: ignore[no-untyped-def]
    results = []
    benchmark.pedantic(lambda: results.append(real_clock_lateness(rate=1000.0, seconds=10.0)),
                       rounds=3, iterations=1)
    p50 = statistics.median(r["p50"] for r in results)
    p99 = statistics.median(r["p99"] for r in results)
    benchmark.extra_info.update({"lateness_p50_ms": round(p50 * 1e3, 2), "lateness_p99_ms": round(p99 * 1e3, 2),
                                 "sends": results[0]["sends"]})
    print(f"\nreal clock, 1,000 sends/s offered: lateness p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")
