"""Phases merged ahead decide exactly what the phases one by one decide."""

from __future__ import annotations

from typing import Any

import pytest

from sim.runner import RunResult, digest_of
from sim.scenarios.library import builtin_path, builtins
from sim.scenarios.loader import load
from tests.sim.switched import run_switched

NEWSLETTER = builtin_path("welcome-tour").parent.parent.parent / "benchmarks" / "newsletter.toml"


def _run(spec: Any, ahead: bool) -> RunResult:
    return run_switched(spec, can_look_ahead=ahead)


def _decisions(result: RunResult) -> dict[str, Any]:
    keep = ("triggered", "queued", "sent", "failed", "dropped", "cancelled", "pending", "ignored", "opens")
    return {n: {k: a[k] for k in keep} for n, a in result.summary["automations"].items()}


@pytest.mark.parametrize("overrides", [
    ['duration="2d12h"', "population.size=5000", 'load.rate="400/h"', "expect.value=0"],  # nudges after day 2
    ['duration="2d12h"', "population.size=2000", 'load.rate="300/h"', "expect.value=0",  # nudges at any hour
     'automation.nudge.window={days=["mon","tue","wed"],from="00:00",to="23:59"}'],
    ['duration="2d12h"', "population.size=2000", 'load.rate="300/h"', "expect.value=0",  # opens near deadlines
     'behaviour.open_after="2d"', 'automation.nudge.window={days=["mon","tue","wed"],from="00:00",to="23:59"}'],
    ['duration="8d"', "population.size=1000", 'load.rate="100/h"', "expect.value=0",  # weekly repeats dropped
     "behaviour.unsubscribe=0.1", "dispatcher.tick='10s'"],
])
def test_s1_sends_and_deadlines_decided_ahead_match_one_phase_at_a_time(overrides: list[str]) -> None:
    spec = load(NEWSLETTER, overrides)
    merged, one_by_one = _run(spec, True), _run(spec, False)
    assert merged.summary["phases"] < one_by_one.summary["phases"] / 3
    assert merged.summary["invariants"]["ok"], merged.summary["invariants"]["violations"]
    assert _decisions(merged) == _decisions(one_by_one)
    assert merged.summary["automations"]["nudge"]["sent"] > 0
    # Draws are keyed by the send (sim/draws.py), so batching ahead changes not one byte of the log.
    assert digest_of(merged) == digest_of(one_by_one)


def test_t2_an_open_waiting_for_release_beats_a_deadline_decided_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """The step ahead applies opens that happened by each instant before that instant's deadlines."""
    import numpy as np

    from core import AutomationConfig, Kind, Signal, Signals, SubscriberStore, Trigger
    from core.automation import Automation
    from sim.actors.automation import ahead
    from sim.messages import Ahead

    store = SubscriberStore()
    store.add("a@example.kr", 0.0)
    t0 = 1_772_409_600.0

    def nudge(cancels: tuple[Signals, ...]) -> int:
        a = Automation(AutomationConfig(id="nudge", triggers=(Trigger(Kind.NOT_OPENED, email="welcome",
                                                                      within=60.0),), subject="s"))
        a.start(t0)
        a.observe(Signal(Kind.EMAIL_SENT, 0, t0 + 1, email="welcome", send_id="welcome:7", sent_at=t0 + 1), store)
        result = ahead(a, store, Ahead((t0 + 30.0, t0 + 61.0, t0 + 62.0), frozenset(), cancels))
        return sum(len(b) for b in result.batches)

    def open_at(at: float) -> Signals:  # the open of send welcome:7, as the conductor passes it (columns)
        return Signals(Kind.OPENED, np.array([at]), np.array([0]), email="welcome", entry=np.array([7]),
                       sent_at=np.array([t0 + 1]))

    opened, late = open_at(t0 + 40.0), open_at(t0 + 70.0)
    for one_pass in (True, False):  # columns (`advance_many`), then a phase at a time
        if not one_pass:
            monkeypatch.setattr(Automation, "advance_many", lambda *args: None)
        assert nudge(()) == 1
        assert nudge((opened,)) == 0  # opened at +40 s, before the +61 s deadline
        assert nudge((late,)) == 1  # too late to beat it


@pytest.mark.parametrize("seed", range(6))
def test_t2_sends_and_opens_tracked_together_match_their_interleaved_pieces(seed: int) -> None:
    """`TrackMany` (sends and opens that only arm and cancel a nudge's watches, as one input) leaves the
    automation exactly as the pieces `_ordered` would cut them into, observed one after another, even
    with deadlines passing between the rows."""
    import numpy as np

    from core import (
        AutomationConfig,
        Context,
        Effects,
        Kind,
        ObserveMany,
        Signals,
        SubscriberStore,
        TrackMany,
        Trigger,
        handle,
    )
    from core.automation import Automation
    from sim.steps import ordered as _ordered

    rng = np.random.default_rng(seed)
    t0 = 1_772_409_600.0
    store = SubscriberStore()
    for i in range(40):
        store.add(f"s{i}@example.kr", 0.0)

    def sent(entries: np.ndarray, at: np.ndarray) -> Signals:
        return Signals(Kind.EMAIL_SENT, at, entries % 40, email="welcome", entry=entries, sent_at=at)

    def fresh() -> Automation:
        a = Automation(AutomationConfig(id="nudge", triggers=(Trigger(Kind.NOT_OPENED, email="welcome",
                                                                      within=20.0),), subject="s"))
        a.start(t0)
        early = np.arange(30)  # armed before the phase: deadlines fall among the phase's rows
        a.observe_many(sent(early, t0 + 1 + np.sort(rng.uniform(0, 20, 30))), store)
        return a

    state = rng.bit_generator.state
    later = np.arange(30, 60)
    sends = sent(later, np.sort(t0 + 15 + rng.uniform(0, 15, 30)))
    opened = rng.choice(60, 25, replace=False)  # an open comes after its send (the behaviour model's rule)
    open_at = np.where(opened >= 30, sends.at[np.clip(opened - 30, 0, 29)] + rng.uniform(0, 5, 25),
                       t0 + 15 + rng.uniform(0, 15, 25))
    order = np.argsort(open_at)
    opens = Signals(Kind.OPENED, open_at[order], opened[order] % 40, email="welcome", entry=opened[order],
                    sent_at=np.full(25, t0))
    inputs = [(float(sends.at.min()), 1, ObserveMany(sends)), (float(opens.at.min()), 2, ObserveMany(opens))]
    outcomes = []
    for together in (True, False):
        rng.bit_generator.state = state
        a = fresh()
        commands = _ordered(inputs, (lambda s: True) if together else (lambda s: False))
        assert any(isinstance(c, TrackMany) for c in commands) is together
        ctx = Context(store, frozenset())
        for c in commands:
            handle(a, c, ctx, Effects())
        a.tick(t0 + 100, store)  # the rest of the deadlines pass
        rows = [tuple("nan" if isinstance(x, float) and x != x else x for x in r) for r in a.events.drain().rows()]
        outcomes.append((rows, a.summary(), len(a.pending)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1]["triggered"] > 0  # deadlines passed, and some were beaten by opens


@pytest.mark.parametrize("name", [n for n, _ in builtins()])
def test_st2_every_builtin_gives_one_event_log_with_and_without_the_look_ahead(name: str) -> None:
    """`--no-look-ahead` (a phase at every instant anything happens) and the default (sign-ups and API
    calls taken ahead, happenings waiting for their slack, sends decided ahead) log the same bytes.
    This found three ways the grouping leaked into a run: pacing rounded per batch, a tick's sends
    ordered by share rounds, and group membership drawn per call instead of per block."""
    import dataclasses

    from sim.runner import run

    spec = load(builtin_path(name))
    ahead, plain = run(spec), run(dataclasses.replace(spec, look_ahead=False))
    assert plain.summary["phases"] >= ahead.summary["phases"]
    assert digest_of(ahead) == digest_of(plain)
