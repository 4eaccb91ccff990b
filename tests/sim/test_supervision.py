"""Crashed actors are restarted from surviving state; nothing lost or sent twice (ST2)."""

from __future__ import annotations

import dataclasses

import pykka
import pytest

from sim.runner import run
from sim.scenarios.library import builtin_path
from sim.scenarios.loader import load
from sim.spec import CrashSpec


def counts(summary: dict) -> dict:  # type: ignore[type-arg]
    keep = ("triggered", "sent", "failed", "dropped", "cancelled", "pending", "opens", "clicks")
    return {n: {k: a[k] for k in keep} for n, a in summary["automations"].items()}


@pytest.mark.parametrize("crashes", [
    (CrashSpec("news", at=3600.0), CrashSpec("nudge", at=4 * 3600.0)),
    (CrashSpec("news", every=7),),
    (CrashSpec("dispatcher", every=5), CrashSpec("dispatcher", at=7200.0)),
])
def test_crash_and_restart_lose_nothing(crashes: tuple[CrashSpec, ...]) -> None:
    spec = load(builtin_path("email-chain"), ['load.rate="100/h"'])
    calm = run(spec)
    stormy = run(dataclasses.replace(spec, crashes=crashes))
    assert stormy.ok, stormy.failures
    assert stormy.summary["restarts"], "no crash happened"
    assert counts(stormy.summary) == counts(calm.summary)
    assert stormy.summary["invariants"]["ok"]


def test_crash_and_restart_appear_in_the_summary() -> None:
    spec = dataclasses.replace(load(builtin_path("pause-boundary")),
                               crashes=(CrashSpec("welcome", at=7200.0),))
    result = run(spec)
    assert [(r["actor"], r["reason"]) for r in result.summary["restarts"]] == [("welcome", "Crash")]


def test_no_actor_thread_left_when_the_run_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.conductor

    def boom(self, t):  # type: ignore[no-untyped-def]
        raise RuntimeError("conductor bug")

    monkeypatch.setattr(sim.conductor.Conductor, "_phase", boom)
    with pytest.raises(RuntimeError, match="conductor bug"):
        run(load(builtin_path("pause-boundary")))
    assert pykka.ActorRegistry.get_all() == []
