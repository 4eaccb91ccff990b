"""Time series of a finished run, for reports: written as timeseries.json.

Buckets cover the run evenly (at most 240). Everything here is derived from
what the conductor recorded; the report reads only this file and
summary.json, so `dripsim report RUN_DIR` can rebuild it later.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.conductor import Metrics
from sim.spec import RunSpec

MAX_BUCKETS = 240


def build(spec: RunSpec, metrics: Metrics, t0: float) -> dict[str, Any]:
    duration = spec.duration
    width = max(duration / MAX_BUCKETS, spec.tick)
    edges = np.arange(0.0, duration + width, width)
    n = len(edges) - 1
    ids = [a.id for a in spec.automations]
    out: dict[str, Any] = {"bucket_s": width, "edges_s": edges.tolist(), "rate": spec.transport.rate,
                           "tick_s": spec.tick, "duration_s": duration, "automations": {}}
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
    # Peak rate: the busiest tick inside each bucket (a mean hides a burst at capacity).
    per_tick = np.bincount(np.clip((sent_at // spec.tick).astype(np.int64), 0, None),
                           minlength=int(duration // spec.tick) + 1) / spec.tick
    bucket_of_tick = np.minimum((np.arange(len(per_tick)) * spec.tick // width).astype(np.int64), n - 1)
    peak = np.zeros(n)
    np.maximum.at(peak, bucket_of_tick, per_tick)
    out["peak_per_s"] = peak.round(4).tolist()
    which = np.clip(np.searchsorted(edges, sent_at, side="right") - 1, 0, max(n - 1, 0))
    pct: dict[str, list[float | None]] = {"p50": [], "p95": [], "p99": []}
    for b in range(n):
        lat = latency[which == b]
        for key, q in (("p50", 50), ("p95", 95), ("p99", 99)):
            pct[key].append(round(float(np.percentile(lat, q)), 3) if len(lat) else None)
    out["latency_s"] = pct
    throughput = total_sent / duration if duration else 0.0
    mean_latency = latency_sum / total_sent if total_sent else 0.0
    out["little"] = {"mean_backlog": round(backlog_area / duration, 4) if duration else 0.0,
                     "throughput_per_s": round(throughput, 6), "mean_latency_s": round(mean_latency, 4),
                     "throughput_x_latency": round(throughput * mean_latency, 4)}
    return out
