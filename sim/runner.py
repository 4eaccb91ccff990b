"""Run a scenario end to end and summarise it.

`run(spec)` wires the run (bootstrap), drives the conductor on the clock,
stops every actor whatever happens, checks the invariants and expectations,
and returns a `RunResult`; `write(result, out)` writes the outputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import KINDS, Edit
from core.triggers import NO_DUPLICATES
from sim import interrupts, invariants, timeseries
from sim.bootstrap import Wiring, build
from sim.clock import wall_seconds
from sim.expectations import evaluate, metric_table
from sim.files import create_text
from sim.replay import ReplayStream
from sim.scenarios.lint import lint
from sim.spec import RunSpec


@dataclass
class RunResult:
    spec: RunSpec
    wiring: Wiring
    summary: dict[str, Any]
    events: dict[str, np.ndarray]
    wall: float
    interrupted: bool = False
    signal: int = 0  # the signal that interrupted the run (SIGINT, SIGTERM), 0 if none or not known
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@contextmanager
def _interrupts(conductor: Any, enabled: bool) -> Iterator[list[int]]:
    """SIGINT and SIGTERM during a run, caught so that no phase is cut in half.

    A signal between phases (the conductor waiting for the next one) stops the
    run at once. A signal during a phase asks the conductor to stop after it,
    so the statistics stay whole (ST2). A second signal ends the process at
    once (`sim.interrupts`). A signal the caller ignores (a job started in
    the background) stays ignored. Only the command line asks for this
    (`signals=True`): a sweep's worker process must die of SIGTERM as any
    process does. Yields the signals caught, first first. After the run, a
    signal is only noted (`interrupts.received`): the outputs of a run that
    has ended are written whatever comes.
    """
    caught: list[int] = []
    if not enabled:
        yield caught
        return

    def on_signal(signum: int, frame: Any) -> None:
        interrupts.note(signum)
        caught.append(signum)
        if conductor.busy:
            conductor.stop_requested = True
        else:
            raise KeyboardInterrupt

    interrupts.install(on_signal)
    try:
        yield caught
    finally:
        # The run is over, its outputs not made yet (the log sorted, the summary, the files): a signal from
        # here on is noted, for the caller to act on once they are written. The caller restores its own
        # handlers (`cli.app`).
        interrupts.install(lambda signum, frame: interrupts.note(signum))


def run(spec: RunSpec, *, progress: Any = None, signals: bool = False, **wiring_options: Any) -> RunResult:
    """Run `spec` to its end; with `signals`, SIGINT and SIGTERM stop it cleanly (`_interrupts`)."""
    if spec.partitions > 1 and spec.partition is None:
        raise ValueError("a partitioned run is run by sim.shards, a partition at a time")
    began = wall_seconds()
    w = build(spec, **wiring_options)
    interrupted, caught = False, []
    try:
        with _interrupts(w.conductor, signals) as caught:
            conducting = w.clock.process(w.conductor.process())
            end, t = w.conductor.end, w.conductor.t0
            step = max(spec.duration / 200, spec.tick)  # progress, and a stop that comes early
            while t < end and conducting.is_alive:
                t = min(end, t + step)
                w.clock.run(t)
                if progress is not None:
                    progress(t - w.conductor.t0)
            if conducting.is_alive:
                w.clock.run(end + 1e-6)
            interrupted = bool(caught)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop(w)
    return conclude(spec, w, began, interrupted, caught[0] if caught else 0)


def stop(w: Wiring) -> None:
    """Stop every actor (also the dispatcher, which closes its SMTP connection) and the sink."""
    w.supervisor.stop_all()
    if w.sink is not None:
        w.sink.__exit__(None, None, None)


def conclude(spec: RunSpec, w: Wiring, began: float, interrupted: bool = False, signum: int = 0) -> RunResult:
    """A stopped run's result: its log in canonical order and its summary (invariants, expectations)."""
    events = w.conductor.log.canonical()
    result = RunResult(spec, w, {}, events, wall_seconds() - began, interrupted, signal=signum)
    result.summary = summarise(result)
    return result


def latency(sent: list[Any], kind: str = "queue") -> dict[str, float | None]:
    """Percentiles over the given `Chunks` of sends; null when nothing was sent (no latency at all is
    not a latency of 0).

    queue: due -> handed to the transport (the engine's own capacity: queueing for `rate`, the tick).
    delivery: due -> delivered (queue, plus the transport's latency and retries), delivered sends only.
    """
    parts = [c.all() for c in sent if c]
    if kind == "queue":
        lat = np.concatenate([p["sent_at"] - p["due"] for p in parts]) if parts else np.empty(0)
    else:
        lat = np.concatenate([(p["done_at"] - p["due"])[p["delivered"].astype(bool)] for p in parts]) \
            if parts else np.empty(0)
    if not len(lat):
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3),
            "max": round(float(lat.max()), 3)}


def summarise(result: RunResult) -> dict[str, Any]:
    w, spec = result.wiring, result.spec
    # Where the simulated clock stopped: the end, or the instant an interrupt stopped it. "Overdue" is
    # what had come due by then; what was due later is "not yet due", never a shortfall.
    reached = min(w.conductor.end, max(w.conductor.t0, w.clock.now()))
    automations: dict[str, Any] = {}
    for a in w.automations:
        data = a.summary()
        ignored = data.pop("ignored")
        data["ignored"] = {k: ignored.get(k, 0) for k in ("not_running", "duplicate", "filtered",
                                                          "not_subscribed", "rate_limited")}
        data["ignored"].update({k: v for k, v in ignored.items() if k not in data["ignored"]})
        dropped = data.pop("dropped")
        data["dropped"] = {k: dropped.get(k, 0) for k in ("paused", "ended", "unsubscribed",
                                                          "auto_deleted", "deleted", "filtered")}
        # Came due before the end and still unsent (waiting for capacity): what a capacity answer
        # must count. Pending entries not due yet (delays, repeats) are not a shortfall.
        data["overdue_at_end"] = a.pending.due_count(reached)
        data["not_yet_due"] = len(a.pending) - data["overdue_at_end"]
        mine = [w.conductor.metrics.sent[a.id]] if a.id in w.conductor.metrics.sent else []
        data["latency_s"] = latency(mine)
        data["delivery_latency_s"] = latency(mine, "delivery")
        automations[a.id] = data
    problems = invariants.check(w.automations, result.events, w.initial_status,
                                w.conductor.metrics.status_log, w.conductor.t0)
    edited = {a.automation for a in spec.actions if isinstance(a.command, Edit)}
    # Once per subscriber (T5) where duplicates are off, except where each source occurrence fires anew
    # (a yearly anniversary, an email_sent of a repeated email): the core keys those by occurrence.
    once = {c.id for c in spec.automations if not c.duplicates.allow and c.id not in edited
            and not any(t.kind in NO_DUPLICATES for t in c.triggers)}
    received = [str(m["Message-ID"]) for _, m in w.sink.messages] if w.sink is not None else None
    problems += invariants.handed_over(w.conductor.metrics.sent, once, received)
    if result.interrupted:
        problems = [p for p in problems if "in flight" not in p]
    table = metric_table(automations, w)
    expectations = evaluate(spec.expects, table, w.conductor.metrics.snapshots)
    result.failures = [f"invariant: {p}" for p in problems] + [
        f"expectation: {e['metric']} {e['op']} {e['value']}"
        + (f" at +{e['at_s']:.0f}s" if "at_s" in e else "") + f" (was {e['actual']})"
        for e in expectations if not e["ok"]]
    sends = sum(a["sent"] + sum(a["failed"].values()) for a in automations.values())
    kinds = np.bincount(result.events["kind"].astype(np.int64), minlength=len(KINDS)) \
        if len(result.events["kind"]) else np.zeros(len(KINDS), np.int64)
    return {
        "scenario": spec.name, "source": spec.source, "seed": spec.seed, "clock": spec.clock,
        "start": spec.start.isoformat(), "duration_s": spec.duration, "timezone": spec.timezone,
        "simulated_s": round(reached - w.conductor.t0, 3),
        "event_digest": None, "wall_seconds": round(result.wall, 3), "interrupted": result.interrupted,
        "subscribers": len(w.store), "phases": w.conductor.metrics.phases,
        "events": {k: int(n) for k, n in zip(KINDS, kinds.tolist(), strict=True) if n},
        "automations": automations,
        "latency_s": latency(list(w.conductor.metrics.sent.values())),
        "delivery_latency_s": latency(list(w.conductor.metrics.sent.values()), "delivery"),
        "dispatcher": {"rate": spec.transport.rate, "tick_s": spec.tick},
        "refused": [f"{t - w.conductor.t0:.0f}s {m}" for t, m in w.conductor.metrics.refused],
        "smtp_messages": len(w.sink.messages) if w.sink is not None else None,
        "restarts": [{"at_s": round(t - w.conductor.t0, 3), "actor": a, "reason": r}
                     for t, a, r in w.conductor.metrics.restarts],
        "invariants": {"ok": not problems, "violations": problems},
        "expectations": expectations,
        "sends": sends,
        "replay": [{"file": str(load.path), "replayed": load.replayed, "skipped_outside_run": load.skipped,
                    "unknown": load.unknown, "duplicate_signup": load.refused.get("duplicate_signup", 0),
                    "scale_clash": load.refused.get("scale_clash", 0)}
                   for load in w.conductor.loads if isinstance(load, ReplayStream)],
        "empty": sends == 0,  # a run that sent nothing: said on stderr too
        "warnings": [p.line(spec.source) for p in lint(spec) if p.level == "warning"],
        "notes": [p.line(spec.source) for p in lint(spec) if p.level == "note"],
    }


def write(result: RunResult, out: Path, events: str = "csv",
          before_log: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> Path:
    """summary.json, the event log (events.csv.gz, events.parquet or both) and the saved
    pending-list pages; returns the folder. The digest is of the canonical CSV text either way.
    `before_log` is given the summary (without the digest) and the time series, as they read back
    from their JSON, before the log is written: the report's charts are drawn meanwhile."""
    out.mkdir(parents=True, exist_ok=True)
    w = result.wiring
    log, tz = w.conductor.log, result.spec.timezone
    series = json.dumps(timeseries.build(result.spec, w.conductor.metrics, w.conductor.t0))
    if before_log is not None:
        before_log(json.loads(json.dumps(result.summary)), json.loads(series))
    if events in ("csv", "both"):
        digest = log.write(out / "events.csv.gz", result.events, w.store.emails, tz)
    else:
        digest = log.digest(result.events, w.store.emails, tz)
    if events in ("parquet", "both"):
        log.write_parquet(out / "events.parquet", result.events, w.store.emails, tz)
    result.summary["event_digest"] = digest
    pages = [{"label": p.label, "at": p.at, "automation": p.label.split("@")[0], "page": p.page.page,
              "pages": p.page.pages, "total": p.page.total, "sort": p.page.sort, "search": p.page.search,
              "rows": [{"email": r.email, "due": r.due, "why": r.why, "occurrence": r.occurrence}
                       for r in p.page.rows]} for p in w.conductor.metrics.pages]
    if pages:
        create_text(out / "pending_pages.json", json.dumps(pages, ensure_ascii=False, indent=1))
    create_text(out / "timeseries.json", series)
    create_text(out / "summary.json", json.dumps(result.summary, ensure_ascii=False, indent=2))
    return out


def digest_of(result: RunResult) -> str:
    """The event digest without writing files (the canonical CSV's sha256)."""
    w = result.wiring
    return w.conductor.log.digest(result.events, w.store.emails, result.spec.timezone)
