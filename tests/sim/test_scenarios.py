"""Every built-in scenario runs, keeps every invariant and meets its expectations."""

from __future__ import annotations

import numpy as np
import pytest

from core import KINDS, REASONS
from sim.runner import run
from sim.scenarios.library import builtin_path, builtins
from sim.scenarios.loader import load

NAMES = [name for name, _ in builtins()]


def test_library_covers_every_rule_group() -> None:
    assert len(NAMES) >= 12


@pytest.mark.parametrize("name", NAMES)
def test_builtin_scenario(name: str) -> None:
    spec = load(builtin_path(name))
    assert spec.expects, "a scenario must say what it expects"
    result = run(spec)
    assert result.summary["invariants"]["ok"], result.summary["invariants"]["violations"]
    failed = [e for e in result.summary["expectations"] if not e["ok"]]
    assert failed == []


def test_invariant_check_catches_a_send_while_paused() -> None:
    from sim import invariants

    result = run(load(builtin_path("pause-boundary")))
    cols = {k: v.copy() for k, v in result.events.items()}
    assert invariants.check(result.wiring.automations, cols, result.wiring.initial_status,
                            [], result.wiring.conductor.t0) == []
    is_pause = (cols["kind"] == KINDS.index("state")) & (cols["reason"] == REASONS.index("paused"))
    paused = int(np.flatnonzero(is_pause)[0])
    sent = int(np.flatnonzero(cols["kind"] == KINDS.index("in_flight"))[-1])
    assert sent > paused
    cols["kind"][paused + 1] = KINDS.index("in_flight")  # pretend a send was decided right after the pause
    problems = invariants.check(result.wiring.automations, cols, result.wiring.initial_status, [],
                                result.wiring.conductor.t0)
    assert any("while not running" in p for p in problems)


def test_st2_conservation_is_checked_from_the_event_log_alone() -> None:
    """A row lost from the log (the data loss of issue 14) is caught even when every counter adds up."""
    from sim import invariants

    result = run(load(builtin_path("pause-boundary")))
    w = result.wiring
    cols = {k: v.copy() for k, v in result.events.items()}
    assert invariants.check(w.automations, cols, w.initial_status, [], w.conductor.t0) == []
    lost = int(np.flatnonzero(cols["kind"] == KINDS.index("sent"))[0])
    keep = np.arange(len(cols["kind"])) != lost
    problems = invariants.check(w.automations, {k: v[keep] for k, v in cols.items()}, w.initial_status, [],
                                w.conductor.t0)
    assert "welcome: event log: 29 sent rows != counter 30" in problems
    assert any("queued rows !=" in p for p in problems)


def test_t5_a_batch_dispatched_twice_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe of issue 14: the same batch handed to the transport twice. The outcomes are logged
    once (a repeated outcome is dropped), so only what was handed over can show it."""
    from sim.conductor import Conductor

    original = Conductor._dispatch

    def twice(self: Conductor, t: float, batches: list) -> None:  # type: ignore[type-arg]
        original(self, t, batches)
        original(self, t, batches)

    monkeypatch.setattr(Conductor, "_dispatch", twice)
    result = run(load(builtin_path("pause-boundary")))
    violations = result.summary["invariants"]["violations"]
    assert "welcome: 30 sends handed to the transport twice (same entry and occurrence)" in violations
    assert "welcome: 30 subscribers sent the same occurrence twice (T5)" in violations


def test_smtp_messages_are_checked_against_what_was_handed_over() -> None:
    from sim import invariants
    from sim.transport import message_id

    result = run(load(builtin_path("pause-boundary")))
    sent = result.wiring.conductor.metrics.sent
    rows = sent["welcome"].all()
    ids = [message_id("welcome", int(e), int(o)) for e, o in zip(rows["entry"], rows["occurrence"], strict=True)]
    assert invariants.handed_over(sent, {"welcome"}, ids) == []
    assert invariants.handed_over(sent, {"welcome"}, [*ids, ids[0]]) == [
        "smtp: 1 messages received twice (same Message-ID)"]
    assert invariants.handed_over(sent, {"welcome"}, [*ids, "<welcome.999999.0@dripsim.local>"]) == [
        "smtp: 1 messages received that no send handed over"]


def test_memory_follows_the_work_not_duration_over_tick() -> None:
    """400 days at a 1 ms tick is 3.5e10 ticks: a per-tick array would need 276 GB and fail at once."""
    from sim.scenarios.loader import loads

    text = """
name = "fine tick, long run"
start = "2026-03-02T08:00:00+09:00"
duration = "400d"
[population]
size = 10
[dispatcher]
tick = "1ms"
[[automation]]
id = "a"
trigger = { kind = "subscriber_added" }
start = "+0s"
[[load]]
kind = "subscriber_added"
count = 3
from = "+200d"
"""
    result = run(loads(text, "fine.toml"))
    assert result.ok, result.failures
    assert result.summary["automations"]["a"]["sent"] == 3
    from sim import timeseries

    series = timeseries.build(result.spec, result.wiring.conductor.metrics, result.wiring.conductor.t0)
    assert len(series["edges_s"]) <= timeseries.MAX_BUCKETS + 2
    assert series["headline"]["stretches_at_capacity"] == 0
