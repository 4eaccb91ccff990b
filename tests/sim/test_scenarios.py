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
