"""group `e2e`: workloads a user would write, timed from the command to the files on disk.

    .venv/bin/pytest benchmarks/test_end_to_end.py --benchmark-enable -s
    DRIPSIM_E2E_QUICK=1 ...   # smaller sizes (minutes become seconds)

Each case runs the `dripsim` command in its own process (`benchmarks/e2e.py`)
and prints the medians; docs/performance.md has the figures and the bars.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.e2e import HERE, phase_cost, scenario, signups_ratio

pytestmark = pytest.mark.benchmark(group="e2e")
QUICK = bool(os.environ.get("DRIPSIM_E2E_QUICK"))


def _once(benchmark, measure):  # type: ignore[no-untyped-def]
    box = []
    benchmark.pedantic(lambda: box.append(measure()), rounds=1, iterations=1)
    benchmark.extra_info.update(box[0])
    return box[0]


def test_signups_against_the_naive_design(benchmark) -> None:  # type: ignore[no-untyped-def]
    n = 20_000 if QUICK else 200_000
    r = _once(benchmark, lambda: signups_ratio(n, rounds=3))
    print(f"\n{n:,} sign-ups -> sends, end to end: dripsim {r['dripsim_s']:.2f} s "
          f"({r['dripsim_sends_per_s']:,.0f}/s), naive {r['naive_s']:.2f} s, ratio {r['ratio']:.2f}x")
    assert r["ratio"] > 0


@pytest.mark.parametrize("name", ["month", "newsletter"])
def test_scenario(benchmark, name: str) -> None:  # type: ignore[no-untyped-def]
    extra = ("--set", "duration=\"1d\"", "--set", "expect.value=0") if QUICK else ()
    if QUICK and name == "month":
        extra = ("--set", "population.size=100000", "--set", 'load.rate="2000/d"', "--set", "expect.value=0")
    r = _once(benchmark, lambda: scenario(HERE / f"{name}.toml", 3, False, *extra))
    print(f"\n{name}: median {r['wall_s']:.1f} s, peak RSS {r['peak_mb']:,.0f} MB, {r['sends']:,.0f} sends, "
          f"{r['signals']:,.0f} signals, {r['phases']:,.0f} phases")
    assert r["sends"] > 0


def test_phase_cost(benchmark) -> None:  # type: ignore[no-untyped-def]
    r = _once(benchmark, lambda: phase_cost(7))
    benchmark.extra_info.update(r)
    print(f"\none API arrival at its own tick, nothing due: {r['us_per_arrival']:.0f} us end to end "
          f"({r['phases_busy']:.0f} phases for {r['arrivals_busy']:.0f} arrivals); a phase that cannot be merged "
          f"({r['arrivals_per_lone_phase']:.2f} arrivals): {r['us_per_lone_phase']:.0f} us")


def test_report_added_time(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plain = _once(benchmark, lambda: scenario("welcome-tour", 3))
    with_report = scenario("welcome-tour", 3, True)
    print(f"\nreport adds {with_report['wall_s'] - plain['wall_s']:.2f} s to welcome-tour")


@pytest.mark.parametrize("size", [10_000, 100_000, 1_000_000])
def test_cost_per_signal_and_send(benchmark, size: int) -> None:  # type: ignore[no-untyped-def]
    if QUICK and size > 100_000:
        pytest.skip("DRIPSIM_E2E_QUICK")
    r = _once(benchmark, lambda: scenario(HERE / "month.toml", 1, False, "--set", f"population.size={size}",
                                          "--set", f'load.rate="{size // 50}/d"', "--set", "expect.value=0"))
    print(f"\nmonth at {size:,}: {r['wall_s'] / r['signals'] * 1e6:.1f} us per signal, "
          f"{r['wall_s'] / r['sends'] * 1e6:.1f} us per send (whole run over each)")
