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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.capacity import build_capacity_report
from reports.objectives import Slo, verdict, worst
from reports.sweep import RATE, Measure, Sharding, Validate, at_rate, execute, points, slo_table, table, write

FINEST = 1e-6  # the finest --precision: below it two probes would round to one rate


def parse_precision(text: str) -> tuple[float, float]:
    """'2%' (relative to the rate) or '0.5' (sends per second): (absolute, relative)."""
    raw = text.strip()
    try:
        value = float(raw.removesuffix("%"))
    except ValueError:
        raise ValueError(f"--precision {text!r}: expected e.g. 2% or 0.5 (sends per second)") from None
    if not (math.isfinite(value) and value > 0) or (raw.endswith("%") and value >= 100):
        raise ValueError(f"--precision {text!r}: must be positive (and under 100%)")
    if value < (FINEST * 100 if raw.endswith("%") else FINEST):
        raise ValueError(f"--precision {text!r}: finer than a capacity search can tell apart (at least "
                         f"{FINEST:g} sends/s, or {FINEST * 100:g}%)")
    return (0.0, value / 100) if raw.endswith("%") else (value, 0.0)


def _rounded(rate: float, step: float) -> float:
    """A probe rate with no more digits than the precision needs (the table stays readable)."""
    digits = max(0, -math.floor(math.log10(step)) + 1) if step > 0 else 3
    return round(rate, digits)


def planned_probes(low: float, high: float, precision: tuple[float, float]) -> int:
    """How many probes the search runs at most: both bounds, then one per halving."""
    step = max(precision[0], precision[1] * low, 1e-9)
    return 2 + max(0, math.ceil(math.log2(max(high - low, step) / step)))


ProbeHook = Callable[[float, str | None, list[dict[str, Any]]], None]
StartHook = Callable[[float, int, float], None]  # (rate, seeds, load multiple): a probe begins


@dataclass
class Probes:
    """Every probe's runs, kept as they finish: what an interrupted search still writes."""

    slos: list[Slo]
    expectations: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    tried: dict[tuple[float, float], str | None] = field(default_factory=dict)  # (load, rate) -> why failed

    def bracket(self, load: float = 1.0) -> tuple[float | None, float | None]:
        """(largest failing, smallest meeting) rate at this load multiple so far."""
        failing = [r for (x, r), why in self.tried.items() if x == load and why is not None]
        meeting = [r for (x, r), why in self.tried.items() if x == load and why is None]
        return (max(failing) if failing else None), (min(meeting) if meeting else None)

    def at_load(self, load: float) -> list[dict[str, Any]]:
        return [r for r in self.rows if float(r.get("load", 1.0)) == load]

    def at(self, rate: float, load: float = 1.0) -> list[dict[str, Any]]:
        return [r for r in self.rows if float(r["rate"]) == rate and float(r.get("load", 1.0)) == load]


def search(measure: Measure, validate: Validate, path: Path, slos: list[Slo], seeds: int, low: float, high: float,
           precision: tuple[float, float], workers: int | None, scheduler: str | None, out: Path,
           base_seed: int = 0, base: tuple[str, ...] = (), on_probe: ProbeHook | None = None, *,
           expectations: bool = True, margin: float = 0.0, on_start: StartHook | None = None,
           on_progress: Callable[[list[float]], None] | None = None,
           probes: Probes | None = None, sharding: Sharding | None = None) -> dict[str, Any]:
    """Bisect the dispatcher rate in [low, high]; `on_probe(rate, why_failed, rows)` hears each probe,
    `on_start(rate, seeds, load)` each one beginning, `on_progress(fractions)` the runs inside it.
    With `margin` (0.2: 20% of load), the rate meeting every objective at (1 + margin) x the load is
    searched for too, from the answer up. `probes` keeps what finished, should the search be interrupted
    (`partial` writes it)."""
    if not slos:
        raise ValueError("capacity: give at least one --slo, e.g. --slo p95=15m")
    if not 0 < low < high:
        raise ValueError(f"capacity: need 0 < --min < --max, got {low:g} and {high:g}")
    text = path.read_text(encoding="utf-8")
    name = validate(text, str(path), (*base, f"{RATE}={high}"))
    workers = (os.cpu_count() or 1) if workers is None else workers
    kept = probes if probes is not None else Probes(slos, expectations)

    def probe(rate: float, load: float = 1.0) -> bool:
        if on_start is not None:
            on_start(rate, seeds, load)
        todo = points({RATE: [repr(rate)]}, seeds, base_seed, base, load)  # exact: `:g` kept 6 digits
        got = execute(measure, text, str(path), todo, workers, scheduler, on_progress=on_progress,
                      sharding=sharding)
        kept.rows.extend(got)
        why = kept.tried[(load, rate)] = verdict(got, slos, expectations)
        if on_probe is not None:
            on_probe(rate, why, got)
        return why is None

    rate, note = _bisect(probe, low, high, precision, 1.0, kept)
    answer = _answer(kept, rate, note, slos)
    if rate is not None and margin > 0:
        answer["margin"] = _margin(probe, rate, high, precision, 1.0 + margin, kept)
    result = _result(name, base, seeds, workers, scheduler, kept, answer, (low, high), precision)
    result["shards"] = sharding.shards if sharding else 1
    write(kept.rows, result, out)
    build_capacity_report(kept.at_load(1.0), result, out)  # the charts by rate: the margin's runs apart
    return result


def _bisect(probe: Callable[[float, float], bool], low: float, high: float, precision: tuple[float, float],
            load: float, kept: Probes) -> tuple[float | None, str]:
    """The smallest rate in [low, high] seen to meet the objectives at `load`, and a note."""
    absolute, relative = precision
    if not probe(high, load):
        return None, (f"even {high:g}/s fails ({kept.tried[(load, high)]}): raise --max, or look at what else "
                      "limits it")
    if probe(low, load):
        return low, f"{low:g}/s, the lower bound, already meets it: the answer may be lower (lower --min)"
    lo, hi = low, high
    while hi - lo > max(absolute, relative * hi):
        mid = _rounded((lo + hi) / 2, max(absolute, relative * lo))
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if probe(mid, load) else (mid, hi)
    return hi, ""


def _margin(probe: Callable[[float, float], bool], rate: float, high: float, precision: tuple[float, float],
            load: float, kept: Probes) -> dict[str, Any]:
    """The rate that meets every objective with `load` x the load: first at rate x load (capacity scaled
    with the load), then bisected from the answer (no less can do) or up to --max."""
    guess = min(_rounded(rate * load, max(precision[0], precision[1] * rate)), high)
    if probe(guess, load):
        lo, hi = rate, guess
    elif guess >= high:
        return {"load": load, "rate": None, "note": f"even {high:g}/s fails at {load:g}x the load: raise --max"}
    else:
        lo, hi = guess, high
        if not probe(high, load):
            return {"load": load, "rate": None, "note": f"even {high:g}/s fails at {load:g}x the load: raise --max"}
    absolute, relative = precision
    while hi - lo > max(absolute, relative * hi):
        mid = _rounded((lo + hi) / 2, max(absolute, relative * lo))
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if probe(mid, load) else (mid, hi)
    return {"load": load, "rate": hi, "note": "", **at_rate(kept.at(hi, load), kept.slos)}


def _answer(kept: Probes, rate: float | None, note: str, slos: list[Slo]) -> dict[str, Any]:
    failing, _ = kept.bracket()
    answer: dict[str, Any] = {
        "slo": " and ".join(map(str, slos)) + (" and the scenario's [[expect]]" if kept.expectations else ""),
        "rate": rate, "largest_failing": failing,
        "failed": {f"{r:g}": why for (x, r), why in sorted(kept.tried.items()) if x == 1.0 and why is not None},
        "note": note, "varied": [RATE]}
    if rate is not None:
        at_answer = kept.at(rate)
        answer["spread"] = {s.name: [min(w[0] for w in found), max(w[0] for w in found)]
                            for s in slos if (found := [w for r in at_answer if (w := worst(r, s)) is not None])}
        answer.update(at_rate(at_answer, slos))
    return answer


def _result(name: str, base: tuple[str, ...], seeds: int, workers: int, scheduler: str | None, kept: Probes,
            answer: dict[str, Any], bounds: tuple[float, float], precision: tuple[float, float]) -> dict[str, Any]:
    rates = sorted({r for (x, r) in kept.tried if x == 1.0})
    result: dict[str, Any] = {
        "scenario": name, "set": list(base), "grid": {RATE: [f"{r:g}" for r in rates]}, "seeds": seeds,
        "workers": workers, "scheduler": scheduler, "answer": answer, "expectations": kept.expectations,
        "complete": True,
        "search": {"min": bounds[0], "max": bounds[1],
                   "precision": max(precision[0], precision[1] * (answer.get("rate") or bounds[1])),
                   "probes": len(kept.tried)},
        "slos": slo_table(kept.slos, kept.rows)}
    result["table"] = table(kept.rows, kept.slos)
    return result


def partial(kept: Probes, name: str, base: tuple[str, ...], seeds: int, workers: int, scheduler: str | None,
            bounds: tuple[float, float], precision: tuple[float, float], out: Path) -> dict[str, Any] | None:
    """An interrupted search's outputs: the probes that finished, marked incomplete, with the bracket
    so far (the answer lies above the largest failing rate and at or below the smallest meeting one)."""
    if not kept.rows:
        return None
    failing, meeting = kept.bracket()
    answer = {"slo": " and ".join(map(str, kept.slos)), "rate": None, "largest_failing": failing,
              "smallest_meeting": meeting, "varied": [RATE],
              "failed": {f"{r:g}": why for (x, r), why in sorted(kept.tried.items()) if x == 1.0 and why is not None},
              "note": "interrupted: the search is incomplete; the answer lies in "
                      f"({'-' if failing is None else format(failing, 'g')}, "
                      f"{'-' if meeting is None else format(meeting, 'g')}] sends/s"}
    result = _result(name, base, seeds, workers, scheduler, kept, answer, bounds, precision)
    result["complete"] = False
    write(kept.rows, result, out)
    build_capacity_report(kept.at_load(1.0), result, out)  # the charts by rate: the margin's runs apart
    return result
