"""Capacity objectives: what a rate must meet, per automation, and how a set of runs is judged.

`--slo p95=15m` means *every* automation's queue p95 within 15 minutes: a
pooled percentile lets a large, fast stream (order confirmations) dilute the
automation at risk (a welcome waiting for its window), and an answer sized
on it under-provisions. The pooled figure stays available as `all.p95`, and
one automation's as `welcome.p95` or `order.delivery.p99`.

A run is judged on its row (`sim.measure`): per automation the columns
`<id>:latency_p95_s` (queue: due -> handed over) and `<id>:delivery_p95_s`
(due -> delivered), pooled `latency_p95_s` and `delivery_p95_s`, the sends
still overdue at the end, and the scenario's own `[[expect]]` that failed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sim.scenarios.loader import parse_duration

SLO_KEYS = ("p50", "p95", "p99", "max")
LATENCIES = ("queue", "delivery")
EVERY = "*"  # every automation, each on its own
ALL = "all"  # the pooled percentile over every send of the run


@dataclass(frozen=True)
class Slo:
    """One latency objective: `queue` (due -> handed to the transport) or `delivery` (due -> delivered,
    the transport's latency and retries included) at a percentile, within `limit` seconds, for `scope`:
    every automation (`EVERY`), the pooled run (`ALL`) or one automation by id."""

    latency: str
    percentile: str
    limit: float
    scope: str = EVERY

    @property
    def column(self) -> str:
        """The pooled column of a measured row (`sim.measure`)."""
        return f"latency_{self.percentile}_s" if self.latency == "queue" else f"delivery_{self.percentile}_s"

    @property
    def metric(self) -> str:
        return f"{self.latency}.{self.percentile}"

    @property
    def name(self) -> str:
        return self.metric if self.scope == EVERY else f"{self.scope}.{self.metric}"

    def __str__(self) -> str:
        return f"{self.name} <= {self.limit:g}s" + (" in each automation" if self.scope == EVERY else "")

    def columns(self, rows: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
        """(who, column) pairs judged: one per automation for EVERY (the pooled column where the rows
        have no per-automation figures, as a sweep.csv from before them), else the one named."""
        if self.scope == ALL:
            return [(ALL, self.column)]
        if self.scope != EVERY:
            return [(self.scope, f"{self.scope}:{self.column}")]
        suffix = f":{self.column}"
        found = sorted({k[: -len(suffix)] for r in rows for k in r if k.endswith(suffix)})
        return [(who, f"{who}{suffix}") for who in found] or [(ALL, self.column)]

    def label(self, who: str) -> str:
        return self.metric if who == ALL and self.scope != ALL else (
            self.name if who == ALL else f"{who}.{self.metric}")


def parse_slo(text: str, automations: Iterable[str] | None = None) -> Slo:
    """``p95=15m`` (every automation's queue latency), ``delivery.p99=30m``, ``all.p95=15m`` (pooled),
    ``welcome.p95=15m`` or ``order.delivery.p99=2m`` (one automation). With `automations`, a named
    one must exist."""
    key, _, value = text.partition("=")
    parts = key.strip().split(".")
    scope, latency = EVERY, "queue"
    percentile = parts.pop() if parts else ""
    if parts and parts[-1] in LATENCIES:
        latency = parts.pop()
    if len(parts) == 1:
        scope = parts.pop()
    accepted = ", ".join(f"{lat}.{p}" for lat in LATENCIES for p in SLO_KEYS)
    if parts or percentile not in SLO_KEYS or not value.strip() or not scope:
        raise ValueError(f"--slo {text!r}: expected [AUTOMATION.][queue.|delivery.]PERCENTILE=LIMIT such as "
                         f"p95=15m, welcome.p95=15m, order.delivery.p99=2m or all.p95=15m (pooled); "
                         f"keys: {accepted} (p50...max alone mean queue.)")
    if automations is not None and scope not in (EVERY, ALL):
        known = list(automations)
        if scope not in known:
            close = difflib.get_close_matches(scope, known, n=1)
            raise ValueError(f"--slo {text!r}: no automation called {scope!r}"
                             + (f" (did you mean {close[0]!r}?)" if close else f" (automations: {', '.join(known)})"))
    try:
        return Slo(latency, percentile, parse_duration(value.strip()), scope)
    except ValueError as err:
        raise ValueError(f"--slo {text!r}: {err}") from None


def parse_slos(items: list[str] | None, automations: Iterable[str] | None = None) -> list[Slo]:
    known = None if automations is None else list(automations)
    slos = [parse_slo(item, known) for item in items or []]
    names = [s.name for s in slos]
    if len(set(names)) != len(names):
        raise ValueError(f"--slo: {next(n for n in names if names.count(n) > 1)} is given twice")
    return slos


def _latency_verdict(seeds: list[dict[str, Any]], slo: Slo) -> str | None:
    for who, column in slo.columns(seeds):
        sent = [x for x in seeds if x.get(column) is not None]
        if not sent:
            if slo.scope == EVERY and who != ALL:
                continue  # an automation that sent nothing in any seed (a draft, a trigger that never came)
            return f"nothing was {'sent' if slo.latency == 'queue' else 'delivered'} in seed {int(seeds[0]['seed'])}" \
                + ("" if who == ALL else f" by {who}")
        if slo.scope not in (EVERY, ALL) and len(sent) < len(seeds):
            idle = next(x for x in seeds if x.get(column) is None)
            return f"nothing was sent by {who} in seed {int(idle['seed'])}"
        worst = max(sent, key=lambda x: float(x[column]))
        if float(worst[column]) > slo.limit:
            return f"{slo.label(who)} {float(worst[column]):g}s > {slo.limit:g}s (seed {int(worst['seed'])})"
    return None


def verdict(seeds: list[dict[str, Any]], slos: list[Slo], expectations: bool = True) -> str | None:
    """Why these runs (one point, every seed) miss the objectives, or None when they meet them all.

    They meet them when, in every seed, each latency percentile is within its
    limit (per automation, pooled or for the one named), nothing that came due
    before the end is still unsent, and (unless `expectations` is off) every
    `[[expect]]` of the scenario holds. Mail not due yet at the end (the last
    hour's delays, next week's repeats) is no shortfall of capacity.
    """
    for slo in slos:
        why = _latency_verdict(seeds, slo)
        if why is not None:
            return why
    overdue = max(seeds, key=lambda x: int(x["overdue_at_end"]))
    if int(overdue["overdue_at_end"]):
        return (f"{int(overdue['overdue_at_end'])} sends came due and were still unsent at the end "
                f"(seed {int(overdue['seed'])})")
    if expectations:
        for x in seeds:
            if x.get("expect_failed"):
                return f"expectation {x['expect_failed']} (seed {int(x['seed'])})"
    return None


def figures(seeds: list[dict[str, Any]], slos: list[Slo]) -> list[dict[str, Any]]:
    """Every judged figure at one point, worst seed first: who, objective, worst value, limit, share of it."""
    out = []
    for slo in slos:
        for who, column in slo.columns(seeds):
            values = [float(x[column]) for x in seeds if x.get(column) is not None]
            if values:
                worst = max(values)
                out.append({"who": who, "objective": slo.label(who), "worst_s": worst, "limit_s": slo.limit,
                            "share": worst / slo.limit if slo.limit else float("inf")})
    return sorted(out, key=lambda f: -f["share"])


def worst(row: dict[str, Any], slo: Slo) -> tuple[float, str] | None:
    """The objective's worst figure in one run, and whose it is (an automation, or ALL)."""
    found = [(float(row[c]), who) for who, c in slo.columns([row]) if row.get(c) is not None]
    return max(found) if found else None


def shown(row: dict[str, Any], slo: Slo) -> str:
    """`2115.0s welcome` or `843.0s` (pooled), `-` when nothing was sent: one run's figure as printed."""
    found = worst(row, slo)
    if found is None:
        return "-"
    return f"{found[0]:.1f}s" + ("" if found[1] == ALL else f" {found[1]}")


def binding(seeds: list[dict[str, Any]], slos: list[Slo]) -> dict[str, Any] | None:
    """The objective closest to its limit at these runs: what decides the answer."""
    found = figures(seeds, slos)
    return found[0] if found else None


__all__ = ["ALL", "EVERY", "LATENCIES", "SLO_KEYS", "Slo", "binding", "figures", "parse_slo", "parse_slos",
           "shown", "verdict", "worst"]
