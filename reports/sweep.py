"""Capacity sweeps: a grid of settings x seeds, run in parallel, one answer.

"How much dispatch capacity do we need?" Each point of the grid is run with
every seed (locally in a process pool, or on an existing Dask distributed
cluster with `scheduler`); the answer is the smallest dispatcher rate whose
p95 latency (due to sent) meets the SLO in every seed.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from reports.capacity import build_capacity_report
from reports.objectives import ALL, Slo, binding, figures, parse_slo, parse_slos, shown, verdict
from sim.files import create_text


@dataclass(frozen=True)
class Point:
    overrides: tuple[str, ...]
    values: tuple[tuple[str, str], ...]
    seed: int
    load: float = 1.0  # every load's arrivals times this (a margin's check: `sim.measure.scaled`)


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


def points(grid: dict[str, list[str]], seeds: int, base_seed: int, base: tuple[str, ...] = (),
           load: float = 1.0) -> list[Point]:
    """Every grid combination times `seeds`; `base` overrides (`--set`) come first, the grid's after."""
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        values = tuple(zip(keys, combo, strict=True))
        for s in range(seeds):
            out.append(Point(base + tuple(f"{k}={v}" for k, v in values), values, base_seed + s, load))
    return out


# (text, name, overrides, seed, load multiple, progress(share done)) -> one row of figures
Measure = Callable[[str, str, tuple[str, ...], int, float, Callable[[float], None]], dict[str, Any]]
Validate = Callable[[str, str, tuple[str, ...]], str]  # (text, name, overrides) -> scenario name


@dataclass(frozen=True)
class Sharding:
    """`--shards N`: a partitioned point's partitions run as N tasks of their own, merged into its row.
    The simulator's functions are passed in (`sim.measure`), as `measure` is."""

    shards: int
    groups: Callable[[str, str, tuple[str, ...], int], list[tuple[int, ...]]]  # a point's partitions, dealt
    part: Callable[..., Any]  # (text, name, overrides, seed, load, group, progress) -> its partitions' parts
    merge: Callable[..., dict[str, Any]]  # (text, name, overrides, seed, load, parts, wall, shards) -> row


@dataclass(frozen=True)
class _Task:
    slot: int  # its place in the shared progress array
    index: int  # its point's place in `todo`
    point: Point
    group: tuple[int, ...] | None = None  # a shard of the point, or the whole point


_PROGRESS: Any = None  # in a pool worker: the shared array of every task's simulated share done


def _run(measure: Measure, sharding: Sharding | None, text: str, name: str, task: _Task) -> Any:
    done, point = _PROGRESS, task.point

    def progress(share: float) -> None:
        if done is not None:
            done[task.slot] = share

    if task.group is None:
        return {**dict(point.values), **measure(text, name, point.overrides, point.seed, point.load, progress)}
    assert sharding is not None
    began = time.perf_counter()
    parts = sharding.part(text, name, point.overrides, point.seed, point.load, task.group, progress)
    return parts, time.perf_counter() - began


def _tasks(text: str, name: str, todo: list[Point], sharding: Sharding | None) -> list[_Task]:
    tasks: list[_Task] = []
    for index, point in enumerate(todo):
        dealt: list[tuple[int, ...] | None] = [*sharding.groups(text, name, point.overrides, sharding.shards)] \
            if sharding else []
        for group in dealt or [None]:
            tasks.append(_Task(len(tasks), index, point, group))
    return tasks


class _Rows:
    """Each point's row as its tasks come back: a whole point's at once, a sharded one's when its last
    shard is in (the shards' parts merged, the wall time its slowest shard's)."""

    def __init__(self, text: str, name: str, todo: list[Point], tasks: list[_Task], sharding: Sharding | None,
                 tell: Callable[[dict[str, Any]], None]) -> None:
        self.text, self.name, self.todo, self.sharding, self.tell = text, name, todo, sharding, tell
        self.rows: dict[int, dict[str, Any]] = {}
        self.waiting = {i: sum(t.index == i for t in tasks) for i in range(len(todo))}
        self.parts: dict[int, list[Any]] = {i: [] for i in range(len(todo))}
        self.walls: dict[int, float] = dict.fromkeys(range(len(todo)), 0.0)

    def add(self, task: _Task, got: Any) -> None:
        if task.group is None:
            self.rows[task.index] = got
            self.tell(got)
            return
        assert self.sharding is not None
        parts, wall = got
        self.parts[task.index].extend(parts)
        self.walls[task.index] = max(self.walls[task.index], wall)
        self.waiting[task.index] -= 1
        if self.waiting[task.index] == 0:
            p = self.todo[task.index]
            row = self.sharding.merge(self.text, self.name, p.overrides, p.seed, p.load,
                                      self.parts.pop(task.index), self.walls[task.index], self.sharding.shards)
            self.rows[task.index] = {**dict(p.values), **row}
            self.tell(self.rows[task.index])

    def ordered(self) -> list[dict[str, Any]]:
        return [self.rows[i] for i in range(len(self.todo))]


def execute(measure: Measure, text: str, name: str, todo: list[Point], workers: int,
            scheduler: str | None, on_row: Callable[[dict[str, Any]], None] | None = None,
            on_progress: Callable[[list[float]], None] | None = None,
            sharding: Sharding | None = None) -> list[dict[str, Any]]:
    """Every point's row, in `todo`'s order; `on_row` hears each as it finishes. Local runs report the
    share of each run done into a shared array that `on_progress(shares)` reads from another thread
    (a cluster's runs report only when done). With `sharding`, a partitioned point is several tasks."""
    tasks = _tasks(text, name, todo, sharding)
    run = partial(_run, measure, sharding, text, name)
    rows = _Rows(text, name, todo, tasks, sharding, on_row or (lambda row: None))
    if scheduler:
        from distributed import Client, as_completed

        with Client(scheduler, timeout=30) as client:  # type: ignore[no-untyped-call]
            futures = client.map(run, tasks, pure=False)
            which = {f.key: t for f, t in zip(futures, tasks, strict=True)}
            try:
                for future in as_completed(futures):  # type: ignore[no-untyped-call]
                    rows.add(which[future.key], future.result())
                return rows.ordered()
            except BaseException:  # interrupted: nothing left running on the cluster for us
                client.cancel(futures)
                raise
    shares = multiprocessing.Array("d", len(tasks), lock=False)
    watcher = _Watcher(shares, on_progress, [[t.slot for t in tasks if t.index == i] for i in range(len(todo))])
    try:
        if workers == 0:  # in this process (debugging)
            _share(shares)
            for task in tasks:
                rows.add(task, run(task))
            return rows.ordered()
        # One worker is a pool of one: a fair baseline. Workers leave Ctrl-C to this process, and leaving
        # the `with` on an interrupt terminates them: no orphan keeps computing after the command is gone.
        with multiprocessing.Pool(min(workers, len(tasks)) or 1, initializer=_worker_init,
                                  initargs=(shares,)) as pool:
            for task, got in zip(tasks, pool.imap(run, tasks, chunksize=1), strict=True):
                rows.add(task, got)
            return rows.ordered()
    finally:
        watcher.stop()
        if workers == 0:
            _share(None)


class _Watcher:
    """Reads the shared shares every second on a thread of its own and hands them to `on_progress`."""

    def __init__(self, shares: Any, on_progress: Callable[[list[float]], None] | None,
                 slots: list[list[int]]) -> None:
        import threading

        self._stop = threading.Event()
        self._thread = None
        if on_progress is not None:
            def watch() -> None:
                while not self._stop.wait(1.0):
                    on_progress([sum(shares[j] for j in js) / len(js) for js in slots])
            self._thread = threading.Thread(target=watch, name="sweep-progress", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def _share(shares: Any) -> None:
    global _PROGRESS
    _PROGRESS = shares


def _worker_init(shares: Any) -> None:
    _share(shares)
    _worker_ignores_interrupts()


def _worker_ignores_interrupts() -> None:
    """Ctrl-C is the parent's to handle; SIGTERM (the parent's terminate) kills, whatever handler
    the worker inherited from the parent when it was forked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


RATE = "dispatcher.rate"


def _group(rows: list[dict[str, Any]], keys: list[str]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(str(r.get(k)) for k in keys), []).append(r)
    return groups


def answer(rows: list[dict[str, Any]], slos: list[Slo], grid: dict[str, list[str]] | None = None,
           expectations: bool = True) -> dict[str, Any]:
    """The smallest dispatcher rate that meets every SLO in every seed, per combination of the other
    grid keys (`by`); the top-level `rate` is the largest of those, enough for every combination.
    Without the rate in the grid, each point simply meets the SLOs or not (`points`)."""
    if not slos:
        return {"slo": None, "rate": None, "note": "no --slo given"}
    others = [k for k in (grid or {}) if k != RATE]
    out: dict[str, Any] = {"slo": " and ".join(map(str, slos)), "varied": list(grid or {RATE: []})}
    if grid is not None and RATE not in grid:
        points = [{"point": dict(zip(others, key, strict=True)),
                   "meets": (why := verdict(seeds, slos, expectations)) is None,
                   "why": why or ""} for key, seeds in _group(rows, others).items()]
        out.update(rate=None, points=points, note=f"{RATE} is not in the grid: each point meets the SLO or not")
        return out
    by = []
    for key, group in _group(rows, others).items():
        one = _rate_answer(group, slos, expectations)
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


def _rate_answer(rows: list[dict[str, Any]], slos: list[Slo], expectations: bool = True) -> dict[str, Any]:
    by_rate: dict[float, list[dict[str, Any]]] = {}
    for r in rows:
        by_rate.setdefault(float(r["rate"]), []).append(r)
    failed = {rate: why for rate, seeds in by_rate.items() if (why := verdict(seeds, slos, expectations)) is not None}
    meeting = sorted(set(by_rate) - set(failed))
    out: dict[str, Any] = {"rate": meeting[0] if meeting else None,
                           "failed": {f"{rate:g}": why for rate, why in sorted(failed.items())},
                           "note": "" if meeting else "no rate in the grid meets the SLO in every seed"}
    if meeting:
        out.update(at_rate(by_rate[meeting[0]], slos))
    return out


def at_rate(seeds: list[dict[str, Any]], slos: list[Slo]) -> dict[str, Any]:
    """What a planner reads beside an answer: the objective that binds it, and every judged figure there."""
    return {"binding": binding(seeds, slos), "figures": figures(seeds, slos)}


def table(rows: list[dict[str, Any]], slos: list[Slo], grid: dict[str, list[str]] | None = None) -> list[str]:
    """One line per run, by the grid's values then seed: the figures the answer was made from."""
    judged = slos or [Slo("queue", "p95", 0.0, ALL)]
    others = [k for k in (grid or {}) if k != RATE]
    head = "".join(f" {k.split('.')[-1][:14]:>14}" for k in others)
    head += "".join(f" {s.name:>24}" for s in judged)  # each objective's worst figure, and whose
    lines = [f"  {'rate/s':>8} {'seed':>5}{head} {'overdue':>8} {'sent':>8}"]
    for r in sorted(rows, key=lambda x: (*(str(x.get(k)) for k in others), float(x["rate"]), int(x["seed"]))):
        cells = "".join(f" {str(r.get(k))[:14]:>14}" for k in others)
        cells += "".join(f" {shown(r, s)[:24]:>24}" for s in judged)
        lines.append(f"  {float(r['rate']):>8g} {int(r['seed']):>5}{cells} "
                     f"{int(r['overdue_at_end']):>8} {int(r['sent']):>8}")
    return lines


def slo_table(slos: list[Slo], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objectives as the outputs keep them: each with the columns it judged."""
    return [{"name": x.name, "scope": x.scope, "limit_s": x.limit, "column": x.column,
             "columns": [{"who": who, "column": c, "label": x.label(who)} for who, c in x.columns(rows)]}
            for x in slos]


def write(rows: list[dict[str, Any]], result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fields = list(rows[0]) if rows else []
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    create_text(out / "sweep.csv", text.getvalue())
    create_text(out / "sweep.json", json.dumps({**result, "rows": rows}, indent=1))


__all__ = ["RATE", "Measure", "Point", "Sharding", "Slo", "Validate", "answer", "at_rate", "execute", "parse_grid",
           "parse_slo", "parse_slos", "points", "slo_table", "sweep", "table", "verdict", "write"]


def sweep(measure: Measure, validate: Validate, path: Path, grid: dict[str, list[str]], seeds: int,
          slos: list[Slo], workers: int | None, scheduler: str | None, out: Path,
          base_seed: int = 0, base: tuple[str, ...] = (),
          on_row: Callable[[dict[str, Any]], None] | None = None, expectations: bool = True,
          sharding: Sharding | None = None) -> dict[str, Any]:
    """Run every grid point with `seeds` seeds through `measure` (the simulator, passed in);
    `base` are `--set` overrides applied to every point; `expectations` makes the scenario's
    `[[expect]]` part of the criterion."""
    text = path.read_text(encoding="utf-8")
    name = validate(text, str(path), base)  # fail fast on a bad file, before any worker starts
    for point in points(grid, 1, base_seed, base):  # and on a bad grid value
        validate(text, str(path), point.overrides)
    todo = points(grid, seeds, base_seed, base)
    workers = (os.cpu_count() or 1) if workers is None else workers
    rows = execute(measure, text, str(path), todo, workers, scheduler, on_row, sharding=sharding)
    result = {"scenario": name, "set": list(base), "grid": grid, "seeds": seeds, "workers": workers,
              "scheduler": scheduler, "shards": sharding.shards if sharding else 1,
              "answer": answer(rows, slos, grid, expectations),
              "expectations": expectations, "slos": slo_table(slos, rows)}
    result["table"] = table(rows, slos, grid)
    write(rows, result, out)
    build_capacity_report(rows, result, out)
    return result
