"""One run reduced to the numbers a capacity planner compares (a sweep's point).

Module-level and picklable, so a process pool or a Dask worker can call it;
`reports.sweep` receives it from the command line instead of importing the
simulator itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sim.runner import run
from sim.scenarios.loader import loads
from sim.spec import LoadSpec, RunSpec

PERCENTILES = ("p50", "p95", "p99", "max")


def capacity_bound(e: dict[str, Any]) -> bool:
    """An expectation more capacity helps meet: an upper bound on a latency or on what is overdue.
    Those join a capacity search's criterion; others (`sent > 0`, a latency that must build up) do not,
    or no rate could meet them."""
    return e["op"] in ("<", "<=") and any(k in e["metric"] for k in ("latency", "overdue"))


def scaled(spec: RunSpec, load: float) -> RunSpec:
    """The scenario with every load's arrivals times `load`: Poisson rates, burst counts (rounded) and
    a replay's happenings per row. Actions (an operator's, a scripted API call) stay as written."""
    if load == 1.0:
        return spec

    def one(x: LoadSpec) -> LoadSpec:
        replay = dataclasses.replace(x.replay, scale=x.replay.scale * load) if x.replay is not None else None
        return dataclasses.replace(x, rate=None if x.rate is None else x.rate * load,
                                   count=None if x.count is None else max(1, round(x.count * load)), replay=replay)

    return dataclasses.replace(spec, loads=tuple(one(x) for x in spec.loads))


def _spec(text: str, name: str, overrides: tuple[str, ...], seed: int, load: float) -> RunSpec:
    return scaled(dataclasses.replace(loads(text, name, list(overrides)), seed=seed), load)


def measure(text: str, name: str, overrides: tuple[str, ...], seed: int, load: float = 1.0,
            progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Run the scenario `text` with `overrides`, `seed` and its load times `load`; one row of figures:
    pooled, and per automation (`<id>:latency_p95_s`...), with the scenario's failed `[[expect]]`."""
    spec = _spec(text, name, overrides, seed, load)
    duration = spec.duration
    if spec.partitions > 1:  # every partition in this process (the points of a sweep run in parallel)
        from sim.shards import run_in_memory

        s = run_in_memory(spec, progress).summary
    else:
        s = run(spec, progress=None if progress is None else
                (lambda elapsed: progress(min(1.0, elapsed / duration)))).summary
    return row_of(spec, s, load)


def groups_of(text: str, name: str, overrides: tuple[str, ...], shards: int) -> list[tuple[int, ...]]:
    """How a point's partitions are dealt to `shards` tasks (none when it has one partition)."""
    from sim.shards import groups

    partitions = loads(text, name, list(overrides)).partitions
    return groups(partitions, shards) if partitions > 1 and shards > 1 else []


def measure_partitions(text: str, name: str, overrides: tuple[str, ...], seed: int, load: float,
                       group: tuple[int, ...], progress: Callable[[float], None] | None = None) -> Any:
    """One shard of a point: its partitions run here, what the merge needs of each (`merge_partitions`)."""
    from sim.shards import run_parts

    return run_parts(_spec(text, name, overrides, seed, load), group, progress)


def merge_partitions(text: str, name: str, overrides: tuple[str, ...], seed: int, load: float,
                     parts: list[Any], wall: float, shards: int) -> dict[str, Any]:
    """A point's row from every partition's part, whichever shard ran it."""
    from sim.shards import combine

    spec = _spec(text, name, overrides, seed, load)
    ordered = sorted(parts, key=lambda p: int(p.data["summary"]["partition"]))
    return row_of(spec, combine(spec, ordered, {"shards": shards, "where": "sweep"}, wall).summary, load)


def row_of(spec: RunSpec, s: dict[str, Any], load: float) -> dict[str, Any]:
    """A run's summary as a sweep's row (`load`: the multiple of the scenario's load it ran)."""
    seed = spec.seed
    autos = s["automations"].values()
    sent = sum(a["sent"] for a in autos)
    queued = sum(a["queued"] for a in autos)
    row: dict[str, Any] = {
        "seed": seed, "rate": spec.transport.rate, "load": load,
        "offered_per_s": queued / spec.duration, "throughput_per_s": sent / spec.duration,
        "sent": sent, "queued": queued,
        "dropped": sum(sum(a["dropped"].values()) for a in autos),
        "ignored": sum(sum(a["ignored"].values()) for a in autos),
        "unsent_at_end": sum(a["pending"] for a in autos),
        "overdue_at_end": sum(a["overdue_at_end"] for a in autos),
        "failed": sum(sum(a["failed"].values()) for a in autos),
        "wall_seconds": s["wall_seconds"], "invariants_ok": s["invariants"]["ok"],
        "expect_failed": "; ".join(f"{e['metric']} {e['op']} {e['value']:g} (was {e['actual']})"
                                   for e in s["expectations"] if not e["ok"] and capacity_bound(e)),
    }
    row.update({f"latency_{k}_s": v for k, v in s["latency_s"].items()})  # queue: due -> handed over
    row.update({f"delivery_{k}_s": v for k, v in s["delivery_latency_s"].items()})  # due -> delivered
    for aid, a in s["automations"].items():
        row.update({f"{aid}:latency_{k}_s": a["latency_s"].get(k) for k in PERCENTILES})
        row.update({f"{aid}:delivery_{k}_s": a["delivery_latency_s"].get(k) for k in PERCENTILES})
        row[f"{aid}:sent"] = a["sent"]
    return row


def validate(text: str, name: str, overrides: tuple[str, ...]) -> str:
    """Load only (fail fast before any worker starts); the scenario's name."""
    return loads(text, name, list(overrides)).name
