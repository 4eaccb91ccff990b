"""Time series of a finished run, for reports: written as timeseries.json.

Buckets cover the run evenly (at most 240). Everything here is derived from
what the conductor recorded; the report reads only this file and
summary.json, so `dripsim report RUN_DIR` can rebuild it later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np

from core.columns import distinct
from core.instants import from_local, zone
from sim.conductor import Metrics
from sim.spec import MAX_BUCKETS, RunSpec, bucket_width  # noqa: F401  (MAX_BUCKETS: tests read it here)


def build(spec: RunSpec, metrics: Metrics, t0: float) -> dict[str, Any]:
    duration = spec.duration
    width = bucket_width(duration, spec.tick)
    edges = np.arange(0.0, duration + width, width)
    n = len(edges) - 1
    ids = [a.id for a in spec.automations]
    out: dict[str, Any] = {"bucket_s": width, "edges_s": edges.tolist(), "rate": spec.transport.rate,
                           "tick_s": spec.tick, "duration_s": duration, "start_epoch_s": t0,
                           "timezone": spec.timezone, "automations": {}}
    all_sent, all_lat = [], []
    backlog_area, total_sent, latency_sum = 0.0, 0, 0.0
    for name in ids:
        rows = metrics.sent[name].all() if name in metrics.sent else {"sent_at": np.zeros(0), "due": np.zeros(0)}
        sent_at = rows["sent_at"] - t0
        latency = rows["sent_at"] - rows["due"]
        all_sent.append(sent_at)
        all_lat.append(latency)
        total_sent += len(sent_at)
        latency_sum += float(latency.sum())
        counts, _ = np.histogram(sent_at, edges)
        samples = metrics.pending.get(name, [])
        times = np.array([s[0] - t0 for s in samples]) if samples else np.zeros(0)
        pending = np.array([s[1] for s in samples]) if samples else np.zeros(0)
        overdue = np.array([s[2] for s in samples]) if samples else np.zeros(0)
        at_end = np.searchsorted(times, edges[1:], side="right") - 1
        series = np.where(at_end >= 0, pending[np.clip(at_end, 0, None)] if len(pending) else 0, 0)
        if len(times):  # overdue is piecewise constant between phases: integrate it (Little's L)
            spans = np.diff(np.append(times, duration))
            backlog_area += float((overdue * np.clip(spans, 0, None)).sum())
        out["automations"][name] = {
            "sends_per_s": (counts / width).round(4).tolist(),
            "pending": [int(x) for x in series],
            "states": [(round(t - t0, 3), s) for t, s in metrics.states.get(name, [])],
        }
    sent_at = np.concatenate(all_sent) if all_sent else np.zeros(0)
    latency = np.concatenate(all_lat) if all_lat else np.zeros(0)
    # Peak rate: the busiest tick inside each bucket (a mean hides a burst at capacity). Only ticks that
    # sent something are counted: memory follows the sends, not duration / tick.
    ticks, counts = np.unique(np.clip((sent_at // spec.tick).astype(np.int64), 0, None), return_counts=True)
    per_tick = counts / spec.tick
    peak = np.zeros(n)
    np.maximum.at(peak, np.minimum((ticks * spec.tick // width).astype(np.int64), n - 1), per_tick)
    out["peak_per_s"] = peak.round(4).tolist()
    # "At capacity" is judged over spans that can hold whole sends: a tick, but at least a second and
    # at least one send's spacing (1 / rate); a 1 ms tick with one send in it is not the dispatcher flat out.
    rate = spec.transport.rate
    span = max(spec.tick, 1.0, 1.0 / rate if rate else 1.0)
    spans, in_span = np.unique(np.clip((sent_at // span).astype(np.int64), 0, None), return_counts=True)
    out["headline"] = _headline(spans, in_span / span, span, rate, metrics, t0)
    out["window_openings_s"] = window_openings(spec, t0)
    out["headline"]["drains"] = _drains(out["window_openings_s"], metrics, t0)
    which = np.clip(np.searchsorted(edges, sent_at, side="right") - 1, 0, max(n - 1, 0))
    order = np.argsort(which, kind="stable")  # each bucket's sends side by side: one slice per bucket
    bounds = np.searchsorted(which[order], np.arange(n + 1)).tolist()
    by_bucket = latency[order]
    pct: dict[str, list[float | None]] = {"p50": [], "p95": [], "p99": []}
    for lo, hi in pairwise(bounds):
        qs: list[float | None] = [None] * 3
        if hi > lo:
            qs = [round(q, 3) for q in np.percentile(by_bucket[lo:hi], [50, 95, 99]).tolist()]
        for key, q in zip(pct, qs, strict=True):
            pct[key].append(q)
    out["latency_s"] = pct
    throughput = total_sent / duration if duration else 0.0
    mean_latency = latency_sum / total_sent if total_sent else 0.0
    out["little"] = {"mean_backlog": round(backlog_area / duration, 4) if duration else 0.0,
                     "throughput_per_s": round(throughput, 6), "mean_latency_s": round(mean_latency, 4),
                     "throughput_x_latency": round(throughput * mean_latency, 4)}
    return out


def _headline(ticks: np.ndarray, per_tick: np.ndarray, tick: float, rate: float, metrics: Metrics,
              t0: float) -> dict[str, Any]:
    """The figures a planner reads first: how big the backlog got, how long the dispatcher ran flat out,
    and each stretch at capacity (a window opening onto a backlog drains in one). `ticks` are the
    indices of the ticks that sent something, `per_tick` their rates."""
    full = ticks[per_tick >= rate * 0.999 - 1e-9] if rate else ticks[:0]
    breaks = np.flatnonzero(np.diff(full) != 1) + 1  # consecutive full ticks form one stretch
    runs = [(int(part[0]) * tick, len(part) * tick) for part in np.split(full, breaks) if len(part)]
    runs.sort(key=lambda r: -r[1])
    times, total = _overdue(metrics)
    top = int(np.argmax(total)) if len(total) else -1
    return {
        "peak_overdue": int(total[top]) if top >= 0 else 0,
        "peak_overdue_at_s": round(float(times[top]) - t0, 3) if top >= 0 and total[top] else None,
        "minutes_at_capacity": round(len(full) * tick / 60, 1),
        "stretches_at_capacity": len(runs),
        "longest_stretches": [{"start_s": start, "length_s": length} for start, length in runs[:5]],
    }


def window_openings(spec: RunSpec, t0: float, limit: int = 400) -> list[float]:
    """When any automation's send window opens during the run (offsets from the start, local wall time
    through DST), for the report to mark: a backlog drains from each one."""
    openings: set[float] = set()
    for config in spec.automations:
        w = config.window
        if w is None:
            continue
        tz = zone(w.timezone)
        first = datetime.fromtimestamp(t0, tz)
        monday = datetime(first.year, first.month, first.day) - timedelta(days=first.weekday())
        for week in range(int(spec.duration // (7 * 86400)) + 2):
            for start, _ in w.intervals:
                at = from_local(monday + timedelta(weeks=week, minutes=start), tz) - t0
                if 0 <= at <= spec.duration:
                    openings.add(round(at, 3))
    return sorted(openings)[:limit]


def _overdue(metrics: Metrics) -> tuple[np.ndarray, np.ndarray]:
    """Sends due and waiting for capacity, all automations together, at every phase (each automation's
    count carried forward from its last sample): (times, totals)."""
    series = [(np.array([x[0] for x in v]), np.array([x[2] for x in v])) for v in metrics.pending.values() if v]
    times = distinct(np.concatenate([t for t, _ in series])) if series else np.zeros(0)
    total = np.zeros(len(times))
    for t, waiting in series:
        at = np.searchsorted(t, times, side="right") - 1
        total += np.where(at >= 0, waiting[np.clip(at, 0, None)], 0)
    return times, total


def _drains(openings: list[float], metrics: Metrics, t0: float, limit: int = 12) -> list[dict[str, Any]]:
    """For each window opening with sends waiting: how many, and how long until none was waiting."""
    times, total = _overdue(metrics)
    out = []
    for opening in openings:
        at = int(np.searchsorted(times, t0 + opening, side="left"))
        if at >= len(times) or not total[at]:
            continue
        empty = np.flatnonzero(total[at:] == 0)
        drained = float(times[at + empty[0]]) - t0 - opening if len(empty) else None
        out.append({"opening_s": opening, "waiting": int(total[at]), "drain_s": drained})
        if len(out) >= limit:
            break
    return out
