"""`[[expect]]` lines: a metric path, an operator, a value."""

from __future__ import annotations

import operator
from typing import Any

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
       "==": operator.eq, "!=": operator.ne}


def _flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, (bool, int, float)):
        out[prefix] = float(value)


# The numbers each automation reports (summary.json's "automations" entries), as dotted paths.
AUTOMATION_METRICS = (
    "triggered", "partial", "queued", "sent", "cancelled", "in_flight", "handed_over", "pending",
    "overdue_at_end", "not_yet_due",
    "open_rate", "click_rate", "has_statistics",
    *(f"ignored.{k}" for k in ("not_running", "duplicate", "filtered", "not_subscribed", "rate_limited",
                               "unknown_subscriber")),
    *(f"dropped.{k}" for k in ("paused", "ended", "unsubscribed", "auto_deleted", "deleted", "filtered")),
    "failed.soft", "failed.hard", "opens.unique", "opens.total", "clicks.unique", "clicks.total",
    *(f"{latency}.{k}" for latency in ("latency_s", "delivery_latency_s") for k in ("p50", "p95", "p99", "max")),
    *(f"state.{k}" for k in ("draft", "scheduled", "running", "paused", "ended")),
)
RUN_METRICS = ("subscribers", "restarts", "refused")


def metric_names(ids: list[str]) -> list[str]:
    """Every metric an `[[expect]]` may name in a run of these automations."""
    return [*RUN_METRICS, *(f"{a}.{m}" for a in ids for m in AUTOMATION_METRICS)]


def known_metric(metric: str, ids: list[str]) -> bool:
    head, _, rest = metric.partition(".")
    return metric in RUN_METRICS if not rest else head in ids and rest in AUTOMATION_METRICS


def metric_table(automations: dict[str, Any], wiring: Any) -> dict[str, float]:
    """Every number of the summary, by dotted path (``welcome.dropped.paused``)."""
    table: dict[str, float] = {}
    for name, data in automations.items():
        _flatten(name, data, table)
        table[f"{name}.state.{data['state']}"] = 1.0
    table["subscribers"] = float(len(wiring.store))
    table["restarts"] = float(len(wiring.conductor.metrics.restarts))
    table["refused"] = float(len(wiring.conductor.metrics.refused))
    return table


def evaluate(expects: Any, table: dict[str, float],
             snapshots: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Each expectation with its actual value; `at` ones read the snapshot taken then."""
    results = []
    for i, e in enumerate(expects):
        source = table
        if e.at is not None:
            source = {}
            for name, data in (snapshots or {}).get(f"expect[{i}]", {}).items():
                _flatten(name, data, source)
                source[f"{name}.state.{data['state']}"] = 1.0
        actual = source.get(e.metric, 0.0 if e.metric.split(".")[-2:-1] == ["state"] else None)
        ok = actual is not None and OPS[e.op](actual, e.value)
        row = {"metric": e.metric, "op": e.op, "value": e.value, "actual": actual, "ok": ok}
        if e.at is not None:
            row["at_s"] = e.at
        results.append(row)
    return results
