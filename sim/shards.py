"""A partitioned run: K partitions run as N shards, each partition by an engine of its own, merged exactly.

`[dispatcher] partitions = K` splits the list and the dispatcher K ways
(`sim.partitions`). A partition's engine decides everything from the
scenario, the seed, its number and K, so how partitions are grouped into
shards (processes here, or workers of a Dask cluster) cannot change a byte
of what it logs. Each shard runs its partitions one after another and writes
each one's files under a temporary name, renamed when whole: a shard that is
run again (a lost worker) leaves no half file. Only a few numbers travel back.

The merge reads the partitions' files in partition order: counts are summed
as integers, latency percentiles come from every partition's latencies put
together (a percentile of a multiset does not depend on the order), the time
series from the sends and the backlog samples of all partitions (the sum of
step functions), and the event table is a Parquet dataset
`events/partition=k/part-0.parquet`. `event_digest` is the sha256 of the
partitions' own digests, in partition order.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import KINDS
from sim import timeseries
from sim.chunks import Chunks
from sim.conductor import Metrics
from sim.expectations import evaluate
from sim.files import create_bytes, create_text
from sim.spec import RunSpec

WORK = ".partitions"  # the partitions' own files while the run is merged (removed after)
CSV_ROWS = 5_000_000  # a merged events.csv.gz is written up to this many rows (the dataset always)
SENT = ("sent_at", "due", "done_at", "delivered")


def partition_spec(spec: RunSpec, k: int) -> RunSpec:
    """The engine of partition `k`: this partition's subscribers, a dispatcher at rate / K."""
    transport = dataclasses.replace(spec.transport, rate=spec.transport.rate / spec.partitions)
    return dataclasses.replace(spec, partition=k, transport=transport)


def groups(partitions: int, shards: int) -> list[tuple[int, ...]]:
    """Partitions dealt to shards round-robin (shard s runs s, s + N, s + 2N, ...)."""
    return [tuple(range(s, partitions, shards)) for s in range(min(shards, partitions))]


@dataclass(frozen=True)
class Shard:
    spec: RunSpec
    partitions: tuple[int, ...]
    folder: str  # the run's staging folder (shared with the workers: the same machine or a shared disk)
    csv: bool = False  # also keep each partition's CSV lines, for a merged events.csv.gz


def run_shard(shard: Shard) -> list[dict[str, Any]]:
    """Run a shard's partitions one after another; a small summary of each."""
    return [_run_partition(shard, k) for k in shard.partitions]


@dataclass
class Part:
    """What the merge needs of one partition: its summary and the rest as JSON, its sends as arrays."""

    data: dict[str, Any]
    arrays: dict[str, np.ndarray]


def _part(result: Any, digest: str, k: int) -> Part:
    m = result.wiring.conductor.metrics
    arrays: dict[str, np.ndarray] = {}
    for name in m.sent:
        rows = m.sent[name].all()
        arrays.update({f"sent/{name}/{c}": rows[c] for c in SENT})
    for name, samples in m.pending.items():
        arrays[f"pending/{name}"] = np.array(samples, np.float64).reshape(-1, 3)
    data = {"summary": dict(result.summary, event_digest=digest, partition=k), "states": dict(m.states),
            "snapshots": m.snapshots, "failures": result.failures, "rows": len(result.events["at"])}
    return Part(json.loads(json.dumps(data)), arrays)  # as it reads back from its file


def _run_partition(shard: Shard, k: int) -> dict[str, Any]:
    from sim.runner import run  # the runner imports the engine: only in the process that runs one

    result = run(partition_spec(shard.spec, k))
    w = result.wiring
    root = Path(shard.folder)
    final, tmp = root / WORK / f"partition={k}", root / WORK / f".partition={k}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log, tz = w.conductor.log, shard.spec.timezone
    log.write_parquet(tmp / "events.parquet", result.events, w.store.emails, tz)
    if shard.csv:
        lines: list[bytes] = []
        digest = log.digest(result.events, w.store.emails, tz, lambda piece: lines.append(bytes(piece)))
        create_bytes(tmp / "events.csv", b"".join(lines))
        np.save(tmp / "at.npy", result.events["at"])  # the canonical order's own key
    else:
        digest = log.digest(result.events, w.store.emails, tz)
    part = _part(result, digest, k)
    np.savez(tmp / "metrics.npz", **part.arrays)  # type: ignore[arg-type]
    create_text(tmp / "summary.json", json.dumps(part.data, ensure_ascii=False))
    shutil.rmtree(final, ignore_errors=True)  # a shard run again replaces what a lost one left
    os.replace(tmp, final)
    return {"partition": k, "digest": digest, "ok": result.ok, "wall": result.wall}


def run_parts(spec: RunSpec, partitions: tuple[int, ...],
              progress: Callable[[float], None] | None = None) -> list[Part]:
    """Some partitions in this process, one after another: what the merge needs of each, without files."""
    from sim.runner import digest_of, run

    parts = []
    for i, k in enumerate(partitions):
        share = (lambda e, i=i: progress((i + e / spec.duration) / len(partitions))) if progress else None
        result = run(partition_spec(spec, k), progress=share)
        parts.append(_part(result, digest_of(result), k))
        del result
    return parts


def run_in_memory(spec: RunSpec, progress: Callable[[float], None] | None = None) -> Merged:
    """Every partition in this process, one after another, merged without files (a sweep's point)."""
    from sim.clock import wall_seconds

    began = wall_seconds()
    parts = run_parts(spec, tuple(range(spec.partitions)), progress)
    return combine(spec, parts, {"shards": 1, "where": "in process"}, wall_seconds() - began)


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's; its terminate kills
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def execute(shards: list[Shard], scheduler: str | None = None, timeout: float = 10.0,
            on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run every shard: in this process when there is one, on a local process pool, or on a Dask cluster
    (explicit keys, `pure=False`, retries: a lost worker costs a rerun of its shard)."""
    tell = on_done or (lambda row: None)
    out: list[dict[str, Any]] = []
    if scheduler:
        from distributed import Client, as_completed

        token = hashlib.sha256(os.urandom(8)).hexdigest()[:12]
        with Client(scheduler, timeout=timeout) as client:  # type: ignore[no-untyped-call]
            futures = [client.submit(run_shard, s, key=f"dripsim-shard-{i}-{token}", pure=False, retries=2)
                       for i, s in enumerate(shards)]
            try:
                for future in as_completed(futures):  # type: ignore[no-untyped-call]
                    for row in future.result():
                        out.append(row)
                        tell(row)
            except BaseException:
                client.cancel(futures)  # interrupted: nothing of ours left running on the cluster
                raise
        return out
    if len(shards) == 1:
        for k in shards[0].partitions:
            out.append(_run_partition(shards[0], k))
            tell(out[-1])
        return out
    with multiprocessing.Pool(len(shards), initializer=_worker_init) as pool:  # leaving it terminates them
        for rows in pool.imap_unordered(run_shard, shards):
            for row in rows:
                out.append(row)
                tell(row)
    return out


@dataclass
class Merged:
    """What a partitioned run gives the command line: the summary and where its files are."""

    spec: RunSpec
    summary: dict[str, Any]
    series: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


def _add(a: Any, b: Any) -> Any:
    """Two partitions' numbers together: integers summed, tables key by key; anything else is the first's."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _add(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in {**a, **b}}
    if isinstance(a, bool) or isinstance(b, bool):
        return a or b
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    return a


def _steps(samples: list[np.ndarray]) -> list[tuple[float, int, int]]:
    """The sum of several step functions sampled at their own instants (pending, overdue), at every instant."""
    parts = [s for s in samples if len(s)]
    if not parts:
        return []
    times = np.unique(np.concatenate([s[:, 0] for s in parts]))
    total = np.zeros((len(times), 2))
    for s in parts:
        at = np.searchsorted(s[:, 0], times, side="right") - 1
        total += np.where((at >= 0)[:, None], s[np.clip(at, 0, None), 1:], 0)
    return [(float(t), int(p), int(o)) for t, (p, o) in zip(times, total, strict=True)]


def _metrics(spec: RunSpec, parts: list[Part]) -> Metrics:
    """The partitions' sends and backlog samples as one run's `Metrics` (for the time series)."""
    metrics = Metrics()
    samples: dict[str, list[np.ndarray]] = {}
    for part in parts:
        data = part.arrays
        for a in spec.automations:
            if f"sent/{a.id}/sent_at" in data:
                if a.id not in metrics.sent:
                    metrics.sent[a.id] = Chunks(*SENT)
                metrics.sent[a.id].add(**{c: data[f"sent/{a.id}/{c}"] for c in SENT})
            if f"pending/{a.id}" in data:
                samples.setdefault(a.id, []).append(data[f"pending/{a.id}"])
    for name, pieces in samples.items():
        metrics.pending[name] = _steps(pieces)
    states = parts[0].data["states"]  # lifecycle actions are global: the same in every partition
    metrics.states.update({n: [(float(t), str(x)) for t, x in s] for n, s in states.items()})
    return metrics


def _automations(summaries: list[dict[str, Any]], metrics: Metrics) -> dict[str, Any]:
    from sim.runner import latency

    automations: dict[str, Any] = {}
    for name in summaries[0]["automations"]:
        data = summaries[0]["automations"][name]
        for s in summaries[1:]:
            data = _add(data, s["automations"][name])
        sent = int(data["sent"])
        data["open_rate"] = round(data["opens"]["unique"] / sent, 6) if sent else 0.0
        data["click_rate"] = round(data["clicks"]["unique"] / sent, 6) if sent else 0.0
        mine = [metrics.sent[name]] if name in metrics.sent else []
        data["latency_s"], data["delivery_latency_s"] = latency(mine), latency(mine, "delivery")
        automations[name] = data
    return automations


def merge(spec: RunSpec, folder: Path, layout: dict[str, Any], wall: float, events: str) -> Merged:
    """Merge the partitions' files under `folder` into the run's outputs there; the work files go."""
    work = folder / WORK
    parts = []
    for k in range(spec.partitions):
        with np.load(work / f"partition={k}" / "metrics.npz") as arrays:
            parts.append(Part(json.loads((work / f"partition={k}" / "summary.json").read_text()), dict(arrays)))
    merged = combine(spec, parts, layout, wall)
    _events(spec, folder, work, merged.rows, events)
    shutil.rmtree(work)
    create_text(folder / "timeseries.json", json.dumps(merged.series))
    create_text(folder / "summary.json", json.dumps(merged.summary, ensure_ascii=False, indent=2))
    return merged


def combine(spec: RunSpec, parts: list[Part], layout: dict[str, Any], wall: float) -> Merged:
    """The partitions' summaries and sends as one run's summary and time series."""
    from sim.runner import latency

    summaries = [p.data["summary"] for p in parts]
    first = summaries[0]
    metrics = _metrics(spec, parts)
    automations = _automations(summaries, metrics)
    refused = list(dict.fromkeys(r for s in summaries for r in s["refused"]))
    violations = [f"partition {s['partition']}: {v}" for s in summaries for v in s["invariants"]["violations"]]
    restarts = [{**r, "partition": s["partition"]} for s in summaries for r in s["restarts"]]
    subscribers = sum(int(s["subscribers"]) for s in summaries)
    snapshots: dict[str, Any] = {}
    for p in parts:
        for label, autos in p.data["snapshots"].items():
            snapshots[label] = _add(snapshots[label], autos) if label in snapshots else autos
    expectations = evaluate(spec.expects, _table(automations, subscribers, len(restarts), len(refused)), snapshots)
    kinds: dict[str, int] = {}
    for s in summaries:
        kinds = _add(kinds, s["events"])
    sends = sum(a["sent"] + sum(a["failed"].values()) for a in automations.values())
    every = list(metrics.sent.values())
    summary = {
        **{k: first[k] for k in ("scenario", "source", "seed", "clock", "start", "duration_s", "timezone",
                                 "simulated_s")},
        "event_digest": hashlib.sha256("\n".join(s["event_digest"] for s in summaries).encode()).hexdigest(),
        "wall_seconds": round(wall, 3), "interrupted": False,
        "subscribers": subscribers, "phases": sum(s["phases"] for s in summaries),
        "events": {k: kinds[k] for k in KINDS if k in kinds},
        "automations": automations,
        "latency_s": latency(every), "delivery_latency_s": latency(every, "delivery"),
        "dispatcher": {"rate": spec.transport.rate, "tick_s": spec.tick, "partitions": spec.partitions},
        "refused": refused, "smtp_messages": _sum_or_none(s["smtp_messages"] for s in summaries),
        "restarts": restarts, "invariants": {"ok": not violations, "violations": violations},
        "expectations": expectations, "sends": sends, "replay": _replays(summaries), "empty": sends == 0,
        "warnings": first["warnings"], "notes": first["notes"],
        "partitions": [{"partition": s["partition"], "event_digest": s["event_digest"], "sends": s["sends"],
                        "subscribers": s["subscribers"]} for s in summaries],
        "layout": layout,
    }
    failures = [f"partition {s['partition']}: {f}" for p, s in zip(parts, summaries, strict=True)
                for f in p.data["failures"] if f.startswith("invariant: ")]
    failures += [f"expectation: {e['metric']} {e['op']} {e['value']}" + (f" at +{e['at_s']:.0f}s" if "at_s" in e
                 else "") + f" (was {e['actual']})" for e in expectations if not e["ok"]]
    series = timeseries.build(spec, metrics, spec.start.timestamp())
    return Merged(spec, summary, series, failures, rows=sum(int(p.data["rows"]) for p in parts))


def _replays(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows replayed and skipped are the whole file's in every partition; unknown and refused its own."""
    replays: list[dict[str, Any]] = summaries[0]["replay"]
    for s in summaries[1:]:
        replays = [{**r, **{k: r[k] + o[k] for k in ("unknown", "duplicate_signup", "scale_clash")}}
                   for r, o in zip(replays, s["replay"], strict=True)]
    return replays


def _sum_or_none(values: Any) -> int | None:
    got = [v for v in values if v is not None]
    return sum(got) if got else None


def _table(automations: dict[str, Any], subscribers: int, restarts: int, refused: int) -> dict[str, float]:
    from sim.expectations import _flatten

    table: dict[str, float] = {}
    for name, data in automations.items():
        _flatten(name, data, table)
        table[f"{name}.state.{data['state']}"] = 1.0
    table.update(subscribers=float(subscribers), restarts=float(restarts), refused=float(refused))
    return table


def _events(spec: RunSpec, folder: Path, work: Path, rows: int, events: str) -> None:
    """The event table as a dataset by partition; a merged events.csv.gz too when asked and not too big,
    rows in (time, partition, order within the partition)."""
    dataset = folder / "events"
    dataset.mkdir()
    for k in range(spec.partitions):
        target = dataset / f"partition={k}"
        target.mkdir()
        os.replace(work / f"partition={k}" / "events.parquet", target / "part-0.parquet")
    if events not in ("csv", "both") or rows > CSV_ROWS:
        return
    at = [np.load(work / f"partition={k}" / "at.npy") for k in range(spec.partitions)]
    which = np.concatenate([np.full(len(a), k, np.int32) for k, a in enumerate(at)])
    order = np.argsort(np.concatenate(at), kind="stable")  # ties keep partition order, then each one's own
    lines = [(work / f"partition={k}" / "events.csv").read_bytes().splitlines(keepends=True)[1:]
             for k in range(spec.partitions)]
    header = (work / "partition=0" / "events.csv").read_bytes().split(b"\n", 1)[0] + b"\n"
    cursor = [0] * spec.partitions
    with open(os.open(folder / "events.csv.gz", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644),
              "wb") as raw, gzip.GzipFile("", "wb", 2, raw, mtime=0) as out:
        out.write(header)
        for k in which[order].tolist():
            out.write(lines[k][cursor[k]])
            cursor[k] += 1


__all__ = ["Merged", "Shard", "execute", "groups", "merge", "partition_spec", "run_shard"]
