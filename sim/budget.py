"""How much memory a run will need, estimated before anything is allocated.

A run holds every subscriber (the list at the start plus every sign-up the
loads bring) and the events they cause, so its peak memory follows the
number of subscribers it will ever have. Measured on the built-in month
(1M subscribers, 30 days, 2.7M events: 1.28 GB peak) and the sign-ups
benchmark (200k arrivals: 0.31 GB), a subscriber costs about 1.2 KB over a
fixed 0.25 GB. The estimate is that line; a run over the limit is refused
before it starts, with the estimate, unless the limit is raised.
"""

from __future__ import annotations

import os
import re

from sim.spec import RunSpec

BASE_BYTES = 250 * 2**20
PER_SUBSCRIBER_BYTES = 1200
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.I)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def subscribers(spec: RunSpec) -> float:
    """Subscribers the run will ever hold: the list, the named ones, and the expected arrivals."""
    total = float(spec.population.size + len(spec.population.known))
    for load in spec.loads:
        if load.replay is not None and load.replay.info is not None:
            total += load.replay.info.kinds["subscriber_added"] * load.replay.scale
            continue
        if load.kind != "subscriber_added":
            continue
        if load.count is not None:
            total += load.count
        elif load.rate is not None:
            end = spec.duration if load.until is None else min(load.until, spec.duration)
            total += load.rate * max(0.0, end - load.start)
    return total


def estimate_bytes(spec: RunSpec) -> float:
    return BASE_BYTES + PER_SUBSCRIBER_BYTES * subscribers(spec)


def default_limit() -> int:
    """80% of this machine's memory (the limit when none is given)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.8)
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit we can know
        return 2**62


def parse_size(text: str) -> int:
    """'16G', '512M', '2.5GiB' as bytes."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"--max-memory {text!r}: expected a size such as 16G or 512M")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def human(n: float) -> str:
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 2**10:.0f} KB"


def partition_bytes(spec: RunSpec) -> float:
    """One partition's engine (`dispatcher.partitions`): a shard holds one partition at a time."""
    return BASE_BYTES + PER_SUBSCRIBER_BYTES * subscribers(spec) / spec.partitions


def check(spec: RunSpec, limit: int | None = None, shards: int = 1, cluster: bool = False) -> None:
    """Raise ValueError, naming the estimate and the limit, when the run would not fit: a partitioned run
    holds a partition per shard at once on this machine (on a cluster, one per worker)."""
    limit = default_limit() if limit is None else limit
    if spec.partitions > 1:
        per = partition_bytes(spec)
        at_once = 1 if cluster else min(shards, spec.partitions)
        if per * at_once > limit:
            fit = int(limit // per)
            hint = (f"--shards {fit} would fit" if fit >= 1 else "more dispatcher.partitions would make each smaller")
            raise ValueError(f"{spec.source}: each shard would need about {human(per)} (a partition of "
                             f"{subscribers(spec) / spec.partitions:,.0f} subscribers), {at_once} at once "
                             f"about {human(per * at_once)}, over the limit of {human(limit)}; {hint}, "
                             "or raise the limit with --max-memory")
        return
    need = estimate_bytes(spec)
    if need > limit:
        raise ValueError(f"{spec.source}: this run would need about {human(need)} "
                         f"({subscribers(spec):,.0f} subscribers at ~{PER_SUBSCRIBER_BYTES} B each), over the "
                         f"limit of {human(limit)}; lower the load or raise the limit with --max-memory")
