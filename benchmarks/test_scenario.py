"""group `scenario`: end to end, 1M subscribers, 5 automations, 30 simulated days.

    .venv/bin/pytest benchmarks/test_scenario.py --benchmark-enable -s
    DRIPSIM_MONTH_SIZE=100000 ...   # a smaller list (sign-ups scale with it)

Targets: <= 60 s wall, peak RSS <= 2 GB (docs/performance.md has the figures
and what bounds them).
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from sim.runner import run, write
from sim.scenarios.loader import load

pytestmark = pytest.mark.benchmark(group="scenario")
MONTH = Path(__file__).parent / "month.toml"


def test_month_at_scale(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    size = int(os.environ.get("DRIPSIM_MONTH_SIZE", "1000000"))
    spec = load(MONTH, [f"population.size={size}", f'load.rate="{size // 50}/d"'])
    results = []

    def once() -> None:
        result = run(spec)
        write(result, tmp_path / "month")  # end to end: outputs included
        results.append(result)

    benchmark.pedantic(once, rounds=1, iterations=1)
    result = results[0]
    sends = sum(a["sent"] + sum(a["failed"].values()) for a in result.summary["automations"].values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    benchmark.extra_info.update({"subscribers": size, "sends": sends, "wall_s": round(result.wall, 1),
                                 "peak_rss_mb": round(peak_mb), "phases": result.summary["phases"]})
    print(f"\nmonth at {size:,} subscribers: {result.wall:.1f} s run, {sends:,} sends, "
          f"{result.wall / max(sends, 1) * 1e6:.0f} us per send, peak RSS {peak_mb:,.0f} MB")
    assert result.summary["invariants"]["ok"], result.summary["invariants"]["violations"]
