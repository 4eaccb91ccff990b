"""Lifecycle rules L1-L10."""

from __future__ import annotations

import pytest

from core import TRANSITIONS, Automation, Command, ConfigError, Kind, NotAllowed, State, Trigger
from core.lifecycle import transition
from tests.core.builders import added, at, config, running, store_with

T0 = at("2026-03-02 08:00")


def test_l1_one_state_of_five_starting_in_draft() -> None:
    automation = Automation(config())
    assert automation.state is State.DRAFT
    assert {s.value for s in State} == {"draft", "scheduled", "running", "paused", "ended"}


def test_l2_start_schedule_reach_and_cancel() -> None:
    a = Automation(config())
    a.start(T0)
    assert a.state is State.RUNNING
    b = Automation(config())
    b.schedule(T0, T0 + 3600)
    assert b.state is State.SCHEDULED
    b.tick(T0 + 3599, store_with())
    assert b.state is State.SCHEDULED
    b.tick(T0 + 3600, store_with())
    assert b.state is State.RUNNING
    c = Automation(config())
    c.schedule(T0, T0 + 3600)
    c.cancel_schedule(T0 + 10)
    assert c.state is State.DRAFT
    c.tick(T0 + 7200, store_with())
    assert c.state is State.DRAFT


def test_l2_scheduled_start_happens_at_the_scheduled_instant() -> None:
    a = Automation(config())
    a.schedule(T0, T0 + 3600)
    a.tick(T0 + 5000, store_with())
    assert a.running_spans == [[T0 + 3600, float("inf")]]


def test_l3_pause_resume_end() -> None:
    a = running(T0)
    a.pause(T0 + 1)
    assert a.state is State.PAUSED
    a.resume(T0 + 2)
    assert a.state is State.RUNNING
    a.end(T0 + 3)
    assert a.state is State.ENDED
    b = running(T0)
    b.pause(T0 + 1)
    b.end(T0 + 2)
    assert b.state is State.ENDED


@pytest.mark.parametrize("command", ["edit", "resume", "start", "schedule", "pause"])
def test_l4_ended_is_final(command: str) -> None:
    a = running(T0)
    a.end(T0 + 1)
    calls = {"edit": lambda: a.edit(T0 + 2, subject="x"), "schedule": lambda: a.schedule(T0 + 2, T0 + 100),
             "resume": lambda: a.resume(T0 + 2), "pause": lambda: a.pause(T0 + 2),
             "start": lambda: a.start(T0 + 2)}
    with pytest.raises(NotAllowed, match="final"):
        calls[command]()
    assert a.state is State.ENDED


def test_l4_ended_automation_cannot_be_a_trigger_source() -> None:
    from core import Workspace

    ws = Workspace(store_with())
    ws.add(config(id="a"))
    ws["a"].start(T0)
    ws["a"].end(T0 + 1)
    with pytest.raises(ConfigError, match="ended"):
        ws.add(config(id="b", triggers=(Trigger(Kind.OPENED, email="a"),)))


def test_l5_end_at_ends_as_if_by_hand_and_purges() -> None:
    store = store_with(2)
    a = Automation(config(delay=__import__("core").Delay(2, "hours")))
    a.start(T0, end_at=T0 + 3600)
    a.observe(added(0, T0 + 60), store)
    assert len(a.pending) == 1
    a.tick(T0 + 3600, store)
    assert a.state is State.ENDED
    assert len(a.pending) == 0
    assert a.stats.dropped["ended"] == 1
    assert a.observe(added(1, T0 + 4000), store) == "ignored:not_running"


def test_l5_end_at_must_lie_after_start() -> None:
    a = Automation(config())
    with pytest.raises(ConfigError, match="end_at"):
        a.start(T0, end_at=T0)
    assert a.state is State.DRAFT
    with pytest.raises(ConfigError, match="end_at"):
        a.schedule(T0, T0 + 100, end_at=T0 + 50)
    assert a.state is State.DRAFT


def test_l5_without_end_at_runs_until_ended_by_hand() -> None:
    a = running(T0)
    a.tick(T0 + 10 * 365 * 86400, store_with())
    assert a.state is State.RUNNING


def test_l6_running_must_pause_before_edit() -> None:
    a = running(T0)
    with pytest.raises(NotAllowed, match="pause it first"):
        a.edit(T0, subject="new")
    assert a.config.subject == "Hello $%name%$"
    a.pause(T0 + 1)
    a.edit(T0 + 2, subject="new")
    assert a.config.subject == "new"


def test_l6_scheduled_must_cancel_schedule_before_edit() -> None:
    a = Automation(config())
    a.schedule(T0, T0 + 100)
    with pytest.raises(NotAllowed, match="cancel its schedule first"):
        a.edit(T0, subject="new")
    a.cancel_schedule(T0 + 1)
    a.edit(T0 + 2, subject="new")
    assert a.config.subject == "new"


def test_l7_running_cannot_be_deleted() -> None:
    a = running(T0)
    with pytest.raises(NotAllowed, match="pause or end it first"):
        a.delete(T0)
    assert not a.deleted
    a.pause(T0 + 1)
    a.delete(T0 + 2)
    assert a.deleted


def test_l7_deleting_a_scheduled_automation_cancels_its_start() -> None:
    store = store_with(1)
    a = Automation(config())
    a.schedule(T0, T0 + 3600)
    a.delete(T0 + 600)
    assert a.next_wakeup() is None
    a.tick(T0 + 7200, store)  # the scheduled start passes: nothing happens, nothing is raised
    assert a.state is State.SCHEDULED
    assert a.deleted


def test_l7_deleting_a_paused_automation_cancels_its_end_at() -> None:
    """Found by the wide fault mix: end_at came round after a delete and raised NotAllowed mid-run."""
    store = store_with(1)
    a = Automation(config())
    a.start(T0, end_at=T0 + 3600)
    a.pause(T0 + 60)
    a.delete(T0 + 600)
    assert a.next_wakeup() is None
    a.tick(T0 + 7200, store)  # end_at passes: nothing happens, nothing is raised
    assert a.state is State.PAUSED
    assert a.deleted


def test_l8_start_needs_every_step_and_names_the_missing_ones() -> None:
    a = Automation(config(triggers=(), subject=""))
    with pytest.raises(NotAllowed, match="trigger, content"):
        a.start(T0)
    with pytest.raises(NotAllowed, match="trigger, content"):
        a.schedule(T0, T0 + 10)
    assert a.state is State.DRAFT


ILLEGAL = [(s, c) for s in State for c in Command if (s, c) not in TRANSITIONS]


@pytest.mark.parametrize(("state", "command"), ILLEGAL)
def test_l9_illegal_transition_is_refused_with_advice_and_changes_nothing(
        state: State, command: Command) -> None:
    with pytest.raises(NotAllowed) as info:
        transition(state, command)
    message = str(info.value)
    assert state.value in message
    assert ":" in message
    assert len(message.split(":", 1)[1].strip()) > 5


def test_l9_refused_command_leaves_the_automation_untouched() -> None:
    a = running(T0)
    before = (a.state, len(a.events), list(map(list, a.running_spans)))
    for call in (lambda: a.start(T0), lambda: a.resume(T0), lambda: a.cancel_schedule(T0),
                 lambda: a.edit(T0, subject="x"), lambda: a.delete(T0)):
        with pytest.raises(NotAllowed):
            call()
    assert (a.state, len(a.events), list(map(list, a.running_spans))) == before


def test_l10_no_statistics_in_draft_or_scheduled() -> None:
    a = Automation(config())
    assert not a.has_statistics
    a.schedule(T0, T0 + 10)
    assert not a.has_statistics
    a.tick(T0 + 10, store_with())
    assert a.has_statistics
    a.pause(T0 + 11)
    assert a.has_statistics


def test_st2_sends_decided_at_end_at_are_handed_over() -> None:
    """L5 + ST2: what came due before end_at is decided at end_at and must reach the transport."""
    from core import Workspace
    from core.commands import Start

    ws = Workspace(store_with(3))
    ws.add(config(delay=__import__("core").Delay(1770, "seconds")))
    ws.execute("welcome", Start(T0, end_at=T0 + 3600))
    for sid in range(3):
        ws.signal(added(sid, T0 + 1800))  # due T0 + 3570, 30 s before the end
    (batch,) = ws.advance(T0 + 3600)  # the first look after the due time is the end itself
    assert len(batch) == 3
    ws.deliver(batch)
    a = ws["welcome"]
    assert a.state is State.ENDED
    assert (a.stats.sent, a.stats.in_flight) == (3, 0)
