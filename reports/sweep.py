"""Capacity sweeps: a grid of settings x seeds, run in parallel, one answer.

"How much dispatch capacity do we need?" Each point of the grid is run with
every seed (locally in a process pool, or on an existing Dask distributed
cluster with `scheduler`); the answer is the smallest dispatcher rate whose
p95 latency (due to sent) meets the SLO in every seed.
"""

from __future__ import annotations

import csv
import itertools
import json
import multiprocessing
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from reports.capacity import build_capacity_report
from sim.scenarios.loader import parse_duration

SLO_KEYS = ("p50", "p95", "p99", "max")


@dataclass(frozen=True)
class Point:
    overrides: tuple[str, ...]
    values: tuple[tuple[str, str], ...]
    seed: int


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--grid {item!r}: expected key.path=v1,v2,...")
        key, values = item.split("=", 1)
        parsed = [v.strip() for v in values.split(",") if v.strip()]
        if not parsed:
            raise ValueError(f"--grid {item!r}: no values")
        grid[key.strip()] = parsed
    if not grid:
        raise ValueError("--grid: give at least one key.path=v1,v2,...")
    return grid


@dataclass(frozen=True)
class Slo:
    """One latency objective: `queue` (due -> handed to the transport) or `delivery` (due -> delivered,
    the transport's latency and retries included) at a percentile, within `limit` seconds."""

    latency: str
    percentile: str
    limit: float

    @property
    def column(self) -> str:
        """The measured row's column (`sim.measure`)."""
        return f"latency_{self.percentile}_s" if self.latency == "queue" else f"delivery_{self.percentile}_s"

    @property
    def name(self) -> str:
        return f"{self.latency}.{self.percentile}"

    def __str__(self) -> str:
        return f"{self.name} <= {self.limit:g}s"


LATENCIES = ("queue", "delivery")


def parse_slo(text: str) -> Slo:
    """``p95=15m`` (the queue latency), ``queue.p99=20m`` or ``delivery.p95=15m``."""
    key, _, value = text.partition("=")
    latency, _, percentile = key.strip().rpartition(".")
    latency = latency or "queue"
    accepted = ", ".join(f"{lat}.{p}" for lat in LATENCIES for p in SLO_KEYS)
    if latency not in LATENCIES or percentile not in SLO_KEYS or not value.strip():
        raise ValueError(f"--slo {text!r}: expected KEY=LIMIT such as p95=15m or delivery.p99=30m; "
                         f"keys: {accepted} (p50...max alone mean queue.)")
    try:
        return Slo(latency, percentile, parse_duration(value.strip()))
    except ValueError as err:
        raise ValueError(f"--slo {text!r}: {err}") from None


def parse_slos(items: list[str] | None) -> list[Slo]:
    slos = [parse_slo(item) for item in items or []]
    names = [s.name for s in slos]
    if len(set(names)) != len(names):
        raise ValueError(f"--slo: {next(n for n in names if names.count(n) > 1)} is given twice")
    return slos


def points(grid: dict[str, list[str]], seeds: int, base_seed: int, base: tuple[str, ...] = ()) -> list[Point]:
    """Every grid combination times `seeds`; `base` overrides (`--set`) come first, the grid's after."""
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        values = tuple(zip(keys, combo, strict=True))
        for s in range(seeds):
            out.append(Point(base + tuple(f"{k}={v}" for k, v in values), values, base_seed + s))
    return out


Measure = Callable[[str, str, tuple[str, ...], int], dict[str, Any]]  # (text, name, overrides, seed) -> row
Validate = Callable[[str, str, tuple[str, ...]], str]  # (text, name, overrides) -> scenario name


def _point(measure: Measure, text: str, name: str, point: Point) -> dict[str, Any]:
    return {**dict(point.values), **measure(text, name, point.overrides, point.seed)}


def execute(measure: Measure, text: str, name: str, todo: list[Point], workers: int,
            scheduler: str | None, on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every point's row, in `todo`'s order; `on_row` hears each as it finishes (progress)."""
    run = partial(_point, measure, text, name)
    tell = on_row or (lambda row: None)
    if scheduler:
        from distributed import Client, as_completed

        with Client(scheduler, timeout=30) as client:  # type: ignore[no-untyped-call]
            futures = client.map(run, todo, pure=False)
            try:
                for future in as_completed(futures):  # type: ignore[no-untyped-call]
                    tell(future.result())
                return list(client.gather(futures))
            except BaseException:  # interrupted: nothing left running on the cluster for us
                client.cancel(futures)
                raise
    if workers == 0:  # in this process (debugging)
        rows = []
        for p in todo:
            rows.append(run(p))
            tell(rows[-1])
        return rows
    # One worker is a pool of one: a fair baseline. Workers leave Ctrl-C to this process, and leaving
    # the `with` on an interrupt terminates them: no orphan keeps computing after the command is gone.
    with multiprocessing.Pool(min(workers, len(todo)) or 1, initializer=_worker_ignores_interrupts) as pool:
        rows = []
        for row in pool.imap(run, todo, chunksize=1):
            rows.append(row)
            tell(row)
        return rows


def _worker_ignores_interrupts() -> None:
    """Ctrl-C is the parent's to handle; SIGTERM (the parent's terminate) kills, whatever handler
    the worker inherited from the parent when it was forked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def verdict(seeds: list[dict[str, Any]], slos: list[Slo]) -> str | None:
    """Why these runs (one point, every seed) miss the SLOs, or None when they meet them all.

    They meet them when, in every seed, each latency percentile is within its
    limit and nothing that came due before the end is still unsent. Mail not
    due yet at the end (the last hour's delays, next week's repeats) is no
    shortfall of capacity.
    """
    for slo in slos:
        idle = [int(x["seed"]) for x in seeds if x[slo.column] is None]
        if idle:  # no latency to judge: nothing was sent (or delivered)
            return f"nothing was {'sent' if slo.latency == 'queue' else 'delivered'} in seed {idle[0]}"
        worst = max(seeds, key=lambda x: float(x[slo.column]))
        if float(worst[slo.column]) > slo.limit:
            return f"{slo.name} {float(worst[slo.column]):g}s > {slo.limit:g}s (seed {int(worst['seed'])})"
    overdue = max(seeds, key=lambda x: int(x["overdue_at_end"]))
    if int(overdue["overdue_at_end"]):
        return (f"{int(overdue['overdue_at_end'])} sends came due and were still unsent at the end "
                f"(seed {int(overdue['seed'])})")
    return None


def headroom(seeds: list[dict[str, Any]], slos: list[Slo]) -> tuple[float, str]:
    """The smallest share of an SLO's limit left unused, and a phrase saying which."""
    least, said = 1.0, ""
    for slo in slos:
        worst = max(float(x[slo.column]) for x in seeds)
        room = (slo.limit - worst) / slo.limit if slo.limit else 0.0
        if room <= least:
            least, said = room, f"{slo.name} {worst:g}s against {slo.limit:g}s"
    return round(least, 4), said


RATE = "dispatcher.rate"


def _group(rows: list[dict[str, Any]], keys: list[str]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(str(r.get(k)) for k in keys), []).append(r)
    return groups


def answer(rows: list[dict[str, Any]], slos: list[Slo], grid: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The smallest dispatcher rate that meets every SLO in every seed, per combination of the other
    grid keys (`by`); the top-level `rate` is the largest of those, enough for every combination.
    Without the rate in the grid, each point simply meets the SLOs or not (`points`)."""
    if not slos:
        return {"slo": None, "rate": None, "note": "no --slo given"}
    others = [k for k in (grid or {}) if k != RATE]
    out: dict[str, Any] = {"slo": " and ".join(map(str, slos)), "varied": list(grid or {RATE: []})}
    if grid is not None and RATE not in grid:
        points = [{"point": dict(zip(others, key, strict=True)), "meets": (why := verdict(seeds, slos)) is None,
                   "why": why or ""} for key, seeds in _group(rows, others).items()]
        out.update(rate=None, points=points, note=f"{RATE} is not in the grid: each point meets the SLO or not")
        return out
    by = []
    for key, group in _group(rows, others).items():
        one = _rate_answer(group, slos)
        by.append({"point": dict(zip(others, key, strict=True)), **one})
    if not others:
        out.update(by[0])
        out.pop("point")
        return out
    rates = [b["rate"] for b in by]
    out["by"] = by
    out["rate"] = None if None in rates else max(rates)
    out["failed"] = {}
    out["note"] = ("" if out["rate"] is not None else
                   "no rate in the grid meets the SLO in every seed for " + ", ".join(
                       ", ".join(f"{k}={v}" for k, v in b["point"].items()) for b in by if b["rate"] is None))
    return out


def _rate_answer(rows: list[dict[str, Any]], slos: list[Slo]) -> dict[str, Any]:
    by_rate: dict[float, list[dict[str, Any]]] = {}
    for r in rows:
        by_rate.setdefault(float(r["rate"]), []).append(r)
    failed = {rate: why for rate, seeds in by_rate.items() if (why := verdict(seeds, slos)) is not None}
    meeting = sorted(set(by_rate) - set(failed))
    out: dict[str, Any] = {"rate": meeting[0] if meeting else None,
                           "failed": {f"{rate:g}": why for rate, why in sorted(failed.items())},
                           "note": "" if meeting else "no rate in the grid meets the SLO in every seed"}
    if meeting:
        out["headroom"], said = headroom(by_rate[meeting[0]], slos)
        if out["headroom"] < HEADROOM_WARNING:
            out["note"] = (f"{meeting[0]:g}/s meets the SLO with {out['headroom']:.0%} headroom "
                           f"({said}): a busier day may not fit")
    return out


HEADROOM_WARNING = 0.10


def table(rows: list[dict[str, Any]], slos: list[Slo], grid: dict[str, list[str]] | None = None) -> list[str]:
    """One line per run, by the grid's values then seed: the figures the answer was made from."""
    shown = slos or [Slo("queue", "p95", 0.0)]
    others = [k for k in (grid or {}) if k != RATE]
    head = "".join(f" {k.split('.')[-1][:14]:>14}" for k in others)
    head += "".join(f" {s.name + ' (s)':>18}" for s in shown)
    lines = [f"  {'rate/s':>8} {'seed':>5}{head} {'overdue':>8} {'sent':>8}"]
    for r in sorted(rows, key=lambda x: (*(str(x.get(k)) for k in others), float(x["rate"]), int(x["seed"]))):
        cells = "".join(f" {str(r.get(k))[:14]:>14}" for k in others)
        cells += "".join(f" {'-' if r[s.column] is None else format(float(r[s.column]), '.1f'):>18}" for s in shown)
        lines.append(f"  {float(r['rate']):>8g} {int(r['seed']):>5}{cells} "
                     f"{int(r['overdue_at_end']):>8} {int(r['sent']):>8}")
    return lines


def write(rows: list[dict[str, Any]], result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fields = list(rows[0]) if rows else []
    with (out / "sweep.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    (out / "sweep.json").write_text(json.dumps({**result, "rows": rows}, indent=1))


def sweep(measure: Measure, validate: Validate, path: Path, grid: dict[str, list[str]], seeds: int,
          slos: list[Slo], workers: int | None, scheduler: str | None, out: Path,
          base_seed: int = 0, base: tuple[str, ...] = (),
          on_row: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run every grid point with `seeds` seeds through `measure` (the simulator, passed in);
    `base` are `--set` overrides applied to every point."""
    text = path.read_text(encoding="utf-8")
    name = validate(text, str(path), base)  # fail fast on a bad file, before any worker starts
    for point in points(grid, 1, base_seed, base):  # and on a bad grid value
        validate(text, str(path), point.overrides)
    todo = points(grid, seeds, base_seed, base)
    workers = (os.cpu_count() or 1) if workers is None else workers
    rows = execute(measure, text, str(path), todo, workers, scheduler, on_row)
    result = {"scenario": name, "set": list(base), "grid": grid, "seeds": seeds, "workers": workers,
              "scheduler": scheduler, "answer": answer(rows, slos, grid),
              "slos": [{"name": x.name, "limit_s": x.limit, "column": x.column} for x in slos]}
    result["table"] = table(rows, slos, grid)
    write(rows, result, out)
    build_capacity_report(rows, result, out)
    return result
