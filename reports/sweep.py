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


def parse_slo(text: str | None) -> tuple[str, float] | None:
    if not text:
        return None
    key, _, value = text.partition("=")
    if key not in SLO_KEYS or not value:
        raise ValueError(f"--slo {text!r}: expected e.g. p95=15m")
    return key, parse_duration(value)


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
            scheduler: str | None) -> list[dict[str, Any]]:
    run = partial(_point, measure, text, name)
    if scheduler:
        from distributed import Client

        with Client(scheduler, timeout=30) as client:  # type: ignore[no-untyped-call]
            futures = client.map(run, todo, pure=False)
            try:
                return list(client.gather(futures))
            except BaseException:  # interrupted: nothing left running on the cluster for us
                client.cancel(futures)
                raise
    if workers == 0:  # in this process (debugging)
        return [run(p) for p in todo]
    # One worker is a pool of one: a fair baseline. Workers leave Ctrl-C to this process, and leaving
    # the `with` on an interrupt terminates them: no orphan keeps computing after the command is gone.
    with multiprocessing.Pool(workers, initializer=_worker_ignores_interrupts) as pool:
        return pool.map(run, todo, chunksize=1)


def _worker_ignores_interrupts() -> None:
    """Ctrl-C is the parent's to handle; SIGTERM (the parent's terminate) kills, whatever handler
    the worker inherited from the parent when it was forked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def answer(rows: list[dict[str, Any]], slo: tuple[str, float] | None) -> dict[str, Any]:
    """The smallest rate that meets the SLO in every seed (or none meets it).

    A rate meets it when, in every seed, the latency percentile is within the
    limit and nothing that came due before the end is still unsent. Mail not
    due yet at the end (the last hour's delays, next week's repeats) is no
    shortfall of capacity.
    """
    if slo is None:
        return {"slo": None, "rate": None, "note": "no --slo given"}
    key, limit = slo
    by_rate: dict[float, list[dict[str, Any]]] = {}
    for r in rows:
        by_rate.setdefault(float(r["rate"]), []).append(r)
    failed: dict[float, str] = {}
    for rate, seeds in by_rate.items():
        idle = [int(x["seed"]) for x in seeds if x[f"latency_{key}_s"] is None]
        if idle:  # no latency to judge: the scenario sent nothing at this rate
            failed[rate] = f"nothing was sent in seed {idle[0]}"
            continue
        worst = max(float(x[f"latency_{key}_s"]) for x in seeds)
        overdue = max(int(x["overdue_at_end"]) for x in seeds)
        if worst > limit:
            failed[rate] = f"{key} {worst:g}s > {limit:g}s"
        elif overdue:
            failed[rate] = f"{overdue} sends came due and were still unsent at the end"
    meeting = sorted(set(by_rate) - set(failed))
    out: dict[str, Any] = {"slo": f"{key} <= {limit:g}s", "rate": meeting[0] if meeting else None,
                           "failed": {f"{rate:g}": why for rate, why in sorted(failed.items())},
                           "note": "" if meeting else "no rate in the grid meets the SLO in every seed"}
    if meeting:
        worst = max(float(x[f"latency_{key}_s"]) for x in by_rate[meeting[0]])
        out["headroom"] = round((limit - worst) / limit, 4) if limit else 0.0
        if out["headroom"] < HEADROOM_WARNING:
            out["note"] = (f"{meeting[0]:g}/s meets the SLO with {out['headroom']:.0%} headroom "
                           f"({key} {worst:g}s against {limit:g}s): a busier day may not fit")
    return out


HEADROOM_WARNING = 0.10


def table(rows: list[dict[str, Any]], slo: tuple[str, float] | None) -> list[str]:
    """One line per run, by rate then seed: the figures the answer was made from."""
    key = slo[0] if slo else "p95"
    lines = [f"  {'rate/s':>8} {'seed':>5} {key + ' (s)':>10} {'overdue':>8} {'sent':>8}"]
    for r in sorted(rows, key=lambda x: (float(x["rate"]), int(x["seed"]))):
        latency = r[f"latency_{key}_s"]
        shown = "-" if latency is None else f"{float(latency):.1f}"
        lines.append(f"  {float(r['rate']):>8g} {int(r['seed']):>5} {shown:>10} "
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
          slo: tuple[str, float] | None, workers: int | None, scheduler: str | None, out: Path,
          base_seed: int = 0, base: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run every grid point with `seeds` seeds through `measure` (the simulator, passed in);
    `base` are `--set` overrides applied to every point."""
    text = path.read_text(encoding="utf-8")
    name = validate(text, str(path), base)  # fail fast on a bad file, before any worker starts
    for point in points(grid, 1, base_seed, base):  # and on a bad grid value
        validate(text, str(path), point.overrides)
    todo = points(grid, seeds, base_seed, base)
    workers = (os.cpu_count() or 1) if workers is None else workers
    rows = execute(measure, text, str(path), todo, workers, scheduler)
    result = {"scenario": name, "set": list(base), "grid": grid, "seeds": seeds, "workers": workers,
              "scheduler": scheduler, "answer": answer(rows, slo)}
    result["table"] = table(rows, slo)
    write(rows, result, out)
    build_capacity_report(rows, result, out)
    return result
