"""`dripsim capacity`: the smallest dispatcher rate that meets the SLOs, found by bisection.

A grid answers only as finely as it was written, and spends most runs far
from the answer. The search runs every seed at the upper bound (if even
that fails, no rate in range will), then at the lower bound (if that meets
it, the answer is below the range), then halves the interval between a
failing and a meeting rate until it is narrower than the precision. Each
probe runs its seeds in parallel, locally or on a Dask cluster.

It assumes more capacity never makes latency worse, which holds for the
dispatcher rate: the same sends, handed over no later. The answer is the
smallest rate seen to meet the SLOs; the largest seen to fail is reported
beside it, so the true threshold lies between the two, with the spread of
each objective's latency across the seeds at the answer. No rate is run
twice: every probe's runs are kept, and are the table and the charts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reports.capacity import build_capacity_report
from reports.sweep import (
    HEADROOM_WARNING,
    RATE,
    Measure,
    Slo,
    Validate,
    execute,
    headroom,
    points,
    table,
    verdict,
    write,
)


def parse_precision(text: str) -> tuple[float, float]:
    """'2%' (relative to the rate) or '0.5' (sends per second): (absolute, relative)."""
    raw = text.strip()
    try:
        value = float(raw.removesuffix("%"))
    except ValueError:
        raise ValueError(f"--precision {text!r}: expected e.g. 2% or 0.5 (sends per second)") from None
    if not (math.isfinite(value) and value > 0) or (raw.endswith("%") and value >= 100):
        raise ValueError(f"--precision {text!r}: must be positive (and under 100%)")
    return (0.0, value / 100) if raw.endswith("%") else (value, 0.0)


def _rounded(rate: float, step: float) -> float:
    """A probe rate with no more digits than the precision needs (the table stays readable)."""
    digits = max(0, -math.floor(math.log10(step)) + 1) if step > 0 else 3
    return round(rate, digits)


def planned_probes(low: float, high: float, precision: tuple[float, float]) -> int:
    """How many probes the search runs at most: both bounds, then one per halving."""
    step = max(precision[0], precision[1] * low, 1e-9)
    return 2 + max(0, math.ceil(math.log2(max(high - low, step) / step)))


def search(measure: Measure, validate: Validate, path: Path, slos: list[Slo], seeds: int, low: float, high: float,
           precision: tuple[float, float], workers: int | None, scheduler: str | None, out: Path,
           base_seed: int = 0, base: tuple[str, ...] = (),
           on_probe: Callable[[float, str | None, list[dict[str, Any]]], None] | None = None) -> dict[str, Any]:
    """Bisect the dispatcher rate in [low, high]; `on_probe(rate, why_failed, rows)` hears each probe."""
    if not slos:
        raise ValueError("capacity: give at least one --slo, e.g. --slo p95=15m")
    if not 0 < low < high:
        raise ValueError(f"capacity: need 0 < --min < --max, got {low:g} and {high:g}")
    text = path.read_text(encoding="utf-8")
    name = validate(text, str(path), (*base, f"{RATE}={high}"))
    workers = (os.cpu_count() or 1) if workers is None else workers
    rows: list[dict[str, Any]] = []
    tried: dict[float, str | None] = {}

    def probe(rate: float) -> bool:
        todo = points({RATE: [f"{rate:g}"]}, seeds, base_seed, base)
        got = execute(measure, text, str(path), todo, workers, scheduler)
        rows.extend(got)
        tried[rate] = verdict(got, slos)
        if on_probe is not None:
            on_probe(rate, tried[rate], got)
        return tried[rate] is None

    absolute, relative = precision
    if not probe(high):
        rate, note = None, f"even {high:g}/s fails ({tried[high]}): raise --max, or look at what else limits it"
    elif probe(low):
        rate, note = low, f"{low:g}/s, the lower bound, already meets it: the answer may be lower (lower --min)"
    else:
        lo, hi = low, high
        while hi - lo > max(absolute, relative * hi):
            mid = _rounded((lo + hi) / 2, max(absolute, relative * lo))
            if mid in (lo, hi):
                break
            lo, hi = (lo, mid) if probe(mid) else (mid, hi)
        rate, note = hi, ""
    failing = [r for r, why in tried.items() if why is not None]
    answer: dict[str, Any] = {
        "slo": " and ".join(map(str, slos)), "rate": rate, "largest_failing": max(failing) if failing else None,
        "failed": {f"{r:g}": why for r, why in sorted(tried.items()) if why is not None}, "note": note,
        "varied": [RATE]}
    if rate is not None:
        at_answer = [r for r in rows if float(r["rate"]) == rate]
        answer["spread"] = {s.name: [min(float(r[s.column]) for r in at_answer),
                                     max(float(r[s.column]) for r in at_answer)] for s in slos}
        answer["headroom"], said = headroom(at_answer, slos)
        if answer["headroom"] < HEADROOM_WARNING and not note:
            answer["note"] = (f"{rate:g}/s meets the SLO with {answer['headroom']:.0%} headroom ({said}): "
                              "a busier day may not fit")
    result: dict[str, Any] = {
        "scenario": name, "set": list(base), "grid": {RATE: [f"{r:g}" for r in sorted(tried)]}, "seeds": seeds,
        "workers": workers, "scheduler": scheduler, "answer": answer,
        "search": {"min": low, "max": high, "precision": max(absolute, relative * (rate or high)),
                   "probes": len(tried)},
        "slos": [{"name": s.name, "limit_s": s.limit, "column": s.column} for s in slos]}
    result["table"] = table(rows, slos)
    write(rows, result, out)
    build_capacity_report(rows, result, out)
    return result
