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
