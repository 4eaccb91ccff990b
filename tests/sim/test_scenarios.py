"""Every built-in scenario runs, keeps every invariant and meets its expectations."""

from __future__ import annotations

import pytest

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
