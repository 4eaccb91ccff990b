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
