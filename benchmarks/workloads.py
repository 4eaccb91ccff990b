"""Workloads shared by the benchmark suites and the CI gate."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from core import AutomationConfig, Kind, Trigger, Why
from sim.behaviour import BehaviourSpec
from sim.bootstrap import build
from sim.clock import wall_seconds
from sim.population import PopulationSpec
from sim.runner import RunResult, summarise
from sim.spec import RunSpec
from sim.transport import TransportSpec

START = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Seoul"))


def saturated_spec(n_sends: int, n_automations: int = 5) -> RunSpec:
    """Sends already due at the start, capacity above demand: the pipeline is the limit."""
    return RunSpec(
        name="saturated dispatch", seed=1, start=START, duration=60.0, tick=1.0,
        population=PopulationSpec(size=n_sends),
        behaviour=BehaviourSpec(open=0.3, click=0.05, unsubscribe=0.0),
        transport=TransportSpec(rate=1e9, latency=0.05, soft_bounce=0.005, hard_bounce=0.005),
        automations=tuple(AutomationConfig(id=f"a{i}", triggers=(Trigger(Kind.API),), subject="s")
                          for i in range(n_automations)))


def run_saturated(n_sends: int, n_automations: int = 5) -> tuple[float, RunResult]:
    """dripsim's pipeline on the virtual clock; returns (wall seconds of the run, result)."""
    spec = saturated_spec(n_sends, n_automations)
    w = build(spec)
    t0 = spec.start.timestamp()
    subs = np.arange(n_sends, dtype=np.int32)
    for i, a in enumerate(w.automations):  # actors are idle: wiring-time setup
        a.start(t0 - 1)
        mine = subs[i::n_automations]
        a.pending.add_many(mine, np.full(len(mine), t0), Why.IMMEDIATE)
        a.stats.accepted = a.stats.queued = len(mine)
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


__all__ = ["replace", "run_saturated", "saturated_spec"]
