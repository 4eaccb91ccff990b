"""Workloads shared by the benchmark suites and the CI gate."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from core import AutomationConfig, Kind, Start, Trigger, Why
from sim.behaviour import BehaviourSpec
from sim.bootstrap import build
from sim.clock import wall_seconds
from sim.population import PopulationSpec
from sim.runner import RunResult, summarise
from sim.spec import ActionSpec, LoadSpec, RunSpec
from sim.transport import TransportSpec

START = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Seoul"))


def saturated_spec(n_sends: int, n_automations: int = 5, subscribers: int | None = None) -> RunSpec:
    """Sends already due at the start, capacity above demand: the pipeline is the limit."""
    return RunSpec(
        name="saturated dispatch", seed=1, start=START, duration=60.0, tick=1.0,
        population=PopulationSpec(size=subscribers or n_sends),
        behaviour=BehaviourSpec(open=0.3, click=0.05, unsubscribe=0.0),
        transport=TransportSpec(rate=1e9, latency=0.05, soft_bounce=0.005, hard_bounce=0.005),
        automations=tuple(AutomationConfig(id=f"a{i}", triggers=(Trigger(Kind.API),), subject="s")
                          for i in range(n_automations)))


def run_saturated(n_sends: int, n_automations: int = 5, subscribers: int | None = None) -> tuple[float, RunResult]:
    """dripsim's pipeline on the virtual clock; returns (wall seconds of the run, result)."""
    spec = saturated_spec(n_sends, n_automations, subscribers)
    w = build(spec)
    t0 = spec.start.timestamp()
    size = subscribers or n_sends
    subs = (np.arange(n_sends, dtype=np.int64) * 7919 % size).astype(np.int32)  # spread over the list
    for i, a in enumerate(w.automations):  # actors are idle: wiring-time setup
        a.start(t0 - 1)
        mine = subs[i::n_automations]
        ids = a.pending.add_many(mine, np.full(len(mine), t0), Why.IMMEDIATE)
        a.stats.accepted = a.stats.queued = len(mine)
        a.events.add_batch(t0 - 1, "triggered", mine, ids)  # the log says what the counters say (ST2 twice)
        a.events.add_batch(t0 - 1, "queued", mine, ids, "immediate", t0)
        w.conductor.wakeups[a.id] = a.next_wakeup()
    began = wall_seconds()
    try:
        w.clock.process(w.conductor.process())
        w.clock.run(w.conductor.end + 1e-6)
    finally:
        w.supervisor.stop_all()
    elapsed = wall_seconds() - began
    result = RunResult(spec, w, {}, w.conductor.log.canonical(), elapsed)
    result.summary = summarise(result)
    sent = sum(x["sent"] + sum(x["failed"].values()) for x in result.summary["automations"].values())
    assert sent == n_sends, (sent, n_sends)
    assert result.summary["invariants"]["ok"], result.summary["invariants"]["violations"]
    return elapsed, result


def real_clock_lateness(rate: float, seconds: float, seed: int = 1) -> dict[str, float]:
    """Sign-ups at `rate` per second on the real clock (scale 1), each sent at once.

    Lateness = when the send really left (wall clock) minus its due time.
    """
    spec = RunSpec(
        name="real-clock lateness", seed=seed, start=START, duration=seconds + 2.0, clock="real",
        time_scale=1.0, tick=0.005, population=PopulationSpec(size=0),
        behaviour=BehaviourSpec(open=0.0, click=0.0, unsubscribe=0.0),
        transport=TransportSpec(rate=rate * 5, latency=0.01),
        automations=(AutomationConfig(id="welcome", triggers=(Trigger(Kind.SUBSCRIBER_ADDED),), subject="s"),),
        loads=(LoadSpec("subscriber_added", start=1.0, until=1.0 + seconds, rate=rate),),
        actions=(ActionSpec(Start(START.timestamp()), "welcome"),))
    from sim.runner import run

    result = run(spec)
    lat = result.summary["automations"]["welcome"]["latency_s"]
    return {"p50": lat["p50"], "p99": lat["p99"], "max": lat["max"],
            "sends": result.summary["automations"]["welcome"]["sent"]}


__all__ = ["real_clock_lateness", "run_saturated", "saturated_spec"]
