"""Load generators: when triggers arrive, as columns.

A rate load is a Poisson process (the count over the span is Poisson, the
instants uniform, rounded to the millisecond), a count load is a burst at one
instant. Each load is one `LoadStream` of arrival times and counts, read by
the conductor a phase at a time (`take_until`), never an object per arrival.
Order at equal instants: scheduled actions first, then loads in file order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.replay import ReplayStream
from sim.spec import LoadSpec


@dataclass
class LoadStream:
    kind: str  # subscriber_added | api
    automation: str | None
    source: str
    times: np.ndarray  # sorted arrival instants
    counts: np.ndarray  # arrivals at each instant
    cursor: int = field(default=0)

    def next_time(self) -> float | None:
        return float(self.times[self.cursor]) if self.cursor < len(self.times) else None

    def take_until(self, limit: float, *, inclusive: bool) -> tuple[np.ndarray, np.ndarray]:
        """The arrivals before `limit` (or at it, if inclusive) not taken yet: (times, counts)."""
        end = int(np.searchsorted(self.times, limit, side="right" if inclusive else "left"))
        lo, self.cursor = self.cursor, max(self.cursor, end)
        return self.times[lo:self.cursor], self.counts[lo:self.cursor]


def streams(loads: tuple[LoadSpec, ...], t0: float, end: float,
            rng: np.random.Generator) -> list[LoadStream | ReplayStream]:
    out: list[LoadStream | ReplayStream] = []
    for load in loads:
        start = t0 + load.start
        stop = min(end, t0 + load.until) if load.until is not None else end
        if load.replay is not None:
            r = load.replay
            info = r.info
            assert info is not None  # the loader scanned it
            offset, origin = (0.0, 0.0) if r.landing is None else (t0 + r.landing, info.first)
            out.append(ReplayStream(r.file, offset, origin, r.speed, r.scale, (start, stop), load.automation,
                                    load.source, np.random.default_rng(rng.integers(2**63))))
            continue
        times, counts = np.zeros(0), np.zeros(0, np.int64)
        if load.count is not None:
            times, counts = np.array([start]), np.array([load.count], np.int64)
        if load.rate:
            n = int(rng.poisson(load.rate * max(0.0, stop - start)))
            drawn, many = np.unique(np.round(np.sort(rng.uniform(start, stop, n)), 3), return_counts=True)
            times, counts = np.concatenate([times, drawn]), np.concatenate([counts, many])
            order = np.argsort(times, kind="stable")  # a burst keeps its place before rate arrivals at its instant
            times, counts = times[order], counts[order]
        out.append(LoadStream(load.kind, load.automation, load.source, times, counts))
    return out
