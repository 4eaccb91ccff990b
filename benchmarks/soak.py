"""Soak: a real-clock run at steady load; memory must stay flat after warm-up.

    python -m benchmarks.soak [--minutes 10] [--warmup 2] [--out runs/soak]

Steady load: API requests on a fixed list (so the list itself does not grow),
five automations, each at its 3/s limit, for `minutes` of wall time (time
scale 1). RSS is sampled every 10 s from /proc/self/statm; the figure is the
growth from the end of warm-up to the end, in percent (target <= 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core import AutomationConfig, Duplicates, Kind, Start, Trigger
from sim.behaviour import BehaviourSpec
from sim.clock import wall_seconds
from sim.population import PopulationSpec
from sim.runner import run
from sim.spec import ActionSpec, LoadSpec, RunSpec
from sim.transport import TransportSpec


def rss_mb() -> float:
    with open("/proc/self/statm") as f:  # this process's own memory
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def soak_spec(minutes: float) -> RunSpec:
    ids = [f"a{i}" for i in range(5)]
    start = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    return RunSpec(
        name="soak", seed=5, start=start,
        duration=minutes * 60, clock="real", time_scale=1.0, tick=0.05,
        population=PopulationSpec(size=100_000),
        behaviour=BehaviourSpec(open=0.3, open_after=30.0, click=0.05, click_after=10.0, unsubscribe=0.0),
        transport=TransportSpec(rate=100.0, latency=0.05),
        automations=tuple(AutomationConfig(id=i, triggers=(Trigger(Kind.API),), subject="s",
                                           duplicates=Duplicates(allow=True)) for i in ids),
        loads=tuple(LoadSpec("api", rate=3.0, automation=i) for i in ids),
        actions=tuple(ActionSpec(Start(start.timestamp()), i, index=n) for n, i in enumerate(ids)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="real-clock soak: memory must stay flat")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=Path("runs/soak"))
    args = parser.parse_args(argv)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    began = wall_seconds()

    def sample() -> None:
        while not stop.wait(10.0):
            samples.append((wall_seconds() - began, rss_mb()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = run(soak_spec(args.minutes))
    stop.set()
    warm = [m for t, m in samples if t >= args.warmup * 60]
    growth = (warm[-1] - warm[0]) / warm[0] * 100 if len(warm) >= 2 else float("nan")
    sends = sum(a["sent"] for a in result.summary["automations"].values())
    figure = {"minutes": args.minutes, "warmup_minutes": args.warmup, "rss_mb_after_warmup": round(warm[0], 1),
              "rss_mb_end": round(warm[-1], 1), "growth_percent": round(growth, 2), "sends": sends,
              "latency_s": result.summary["latency_s"], "invariants_ok": result.summary["invariants"]["ok"],
              "samples": [(round(t), round(m, 1)) for t, m in samples]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(figure, indent=1))
    print(f"soak {args.minutes:g} min: RSS {figure['rss_mb_after_warmup']} MB after warm-up -> "
          f"{figure['rss_mb_end']} MB at the end ({growth:+.1f}%), {sends:,} sends, "
          f"invariants {'ok' if figure['invariants_ok'] else 'VIOLATED'}")
    return 0 if growth <= 10 and figure["invariants_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
