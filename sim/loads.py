"""Load generators: when triggers arrive.

A rate load is a Poisson process (the count over the span is Poisson, the
instants uniform), a count load is a burst at one instant. Scheduled actions
join the same time-ordered list; ties keep file order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.spec import ActionSpec, LoadSpec


def arrivals(loads: tuple[LoadSpec, ...], actions: tuple[ActionSpec, ...], t0: float, end: float,
             rng: np.random.Generator) -> list[tuple[float, int, Any]]:
    out: list[tuple[float, int, Any]] = []
    seq = 0
    for action in actions:
        out.append((action.at, seq, action))
        seq += 1
    for load in loads:
        start = t0 + load.start
        stop = min(end, t0 + load.until) if load.until is not None else end
        item = (load.kind, load.automation, load.source)
        if load.count is not None:
            out.append((start, seq, (*item, load.count)))
            seq += 1
        if load.rate:
            n = int(rng.poisson(load.rate * max(0.0, stop - start)))
            times = np.round(np.sort(rng.uniform(start, stop, n)), 3)
            values, counts = np.unique(times, return_counts=True)
            for at, count in zip(values.tolist(), counts.tolist(), strict=True):
                out.append((at, seq, (*item, count)))
                seq += 1
    return out
