"""One run reduced to the numbers a capacity planner compares (a sweep's point).

Module-level and picklable, so a process pool or a Dask worker can call it;
`reports.sweep` receives it from the command line instead of importing the
simulator itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sim.runner import run
from sim.scenarios.loader import loads


def measure(text: str, name: str, overrides: tuple[str, ...], seed: int) -> dict[str, Any]:
    """Run the scenario `text` with `overrides` and `seed`; one row of figures."""
    spec = dataclasses.replace(loads(text, name, list(overrides)), seed=seed)
    result = run(spec)
    s = result.summary
    autos = s["automations"].values()
    sent = sum(a["sent"] for a in autos)
    queued = sum(a["queued"] for a in autos)
    row: dict[str, Any] = {
        "seed": seed, "rate": spec.transport.rate,
        "offered_per_s": queued / spec.duration, "throughput_per_s": sent / spec.duration,
        "sent": sent, "queued": queued,
        "dropped": sum(sum(a["dropped"].values()) for a in autos),
        "unsent_at_end": sum(a["pending"] for a in autos),
        "overdue_at_end": sum(a["overdue_at_end"] for a in autos),
        "failed": sum(sum(a["failed"].values()) for a in autos),
        "wall_seconds": s["wall_seconds"], "invariants_ok": s["invariants"]["ok"],
    }
    row.update({f"latency_{k}_s": v for k, v in s["latency_s"].items()})  # queue: due -> handed over
    row.update({f"delivery_{k}_s": v for k, v in s["delivery_latency_s"].items()})  # due -> delivered
    return row


def validate(text: str, name: str, overrides: tuple[str, ...]) -> str:
    """Load only (fail fast before any worker starts); the scenario's name."""
    return loads(text, name, list(overrides)).name
