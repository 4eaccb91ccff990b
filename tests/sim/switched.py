"""A run with some of the conductor's look-ahead switched off, for tests comparing it with the default."""

from __future__ import annotations

from typing import Any

from sim.bootstrap import build
from sim.runner import RunResult, summarise


def run_switched(spec: Any, **switches: bool) -> RunResult:
    """Run `spec` with conductor flags set (`can_look_ahead`, `api_ahead`), then summarise it."""
    w = build(spec)
    for name, value in switches.items():
        assert hasattr(w.conductor, name), name
        setattr(w.conductor, name, value)
    try:
        w.clock.process(w.conductor.process())
        w.clock.run(w.conductor.end + 1e-6)
    finally:
        w.supervisor.stop_all()
    result = RunResult(spec, w, {}, w.conductor.log.canonical(), 0.0)
    result.summary = summarise(result)
    return result
