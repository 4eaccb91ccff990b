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


def test_actor_threads_that_cannot_start_give_one_error_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a thread or memory limit `Thread.start` fails part-way through set-up; stopping the actors
    that did register must not wait forever for the one whose loop never ran."""
    import threading
    import time

    import pykka

    from sim.bootstrap import SetupError, build
    from sim.scenarios.loader import loads

    text = ('name = "many"\nstart = "2026-03-02T08:00:00+09:00"\nduration = "1h"\nclock = "real"\n'
            "[population]\nsize = 5\n"
            + "".join(f'[[automation]]\nid = "a{i}"\ntrigger = {{ kind = "api" }}\nstart = "+0s"\n' for i in range(6)))
    started = {"n": 0}
    real_start = threading.Thread.start

    def limited(self: threading.Thread) -> None:
        started["n"] += 1
        if started["n"] > 3:
            raise RuntimeError("can't start new thread")
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", limited)
    began = time.monotonic()
    with pytest.raises(SetupError, match="could not start the actors' threads"):
        build(loads(text, "many.toml"))
    assert time.monotonic() - began < 30
    assert pykka.ActorRegistry.get_all() == []
