"""Lifecycle of an automation (RULES L1-L10) as one transition table.

Theory of operation: an automation is in exactly one `State` (L1). A
`Command` either maps (state, command) to a new state through `TRANSITIONS`,
or is refused with `NotAllowed`, whose message says what to do instead (L9).
Nothing here knows about time or I/O; the clock-driven commands
(`reach_start`, `reach_end`) are issued by whoever owns the clock.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import NotAllowed


class State(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"


class Command(StrEnum):
    START = "start"
    SCHEDULE = "schedule"
    CANCEL_SCHEDULE = "cancel_schedule"
    REACH_START = "reach_start"  # the clock reached the scheduled start (L2)
    PAUSE = "pause"
    RESUME = "resume"
    END = "end"
    REACH_END = "reach_end"  # the clock reached end_at (L5)
    EDIT = "edit"
    DELETE = "delete"


S, C = State, Command

# Every legal move, and nothing else. Edit and delete keep the state; the
# aggregate applies their effect (L6, L7).
TRANSITIONS: dict[tuple[State, Command], State] = {
    (S.DRAFT, C.START): S.RUNNING,
    (S.DRAFT, C.SCHEDULE): S.SCHEDULED,
    (S.DRAFT, C.EDIT): S.DRAFT,
    (S.DRAFT, C.DELETE): S.DRAFT,
    (S.SCHEDULED, C.REACH_START): S.RUNNING,
    (S.SCHEDULED, C.CANCEL_SCHEDULE): S.DRAFT,
    (S.SCHEDULED, C.DELETE): S.SCHEDULED,
    (S.RUNNING, C.PAUSE): S.PAUSED,
    (S.RUNNING, C.END): S.ENDED,
    (S.RUNNING, C.REACH_END): S.ENDED,
    (S.PAUSED, C.RESUME): S.RUNNING,
    (S.PAUSED, C.END): S.ENDED,
    (S.PAUSED, C.REACH_END): S.ENDED,
    (S.PAUSED, C.EDIT): S.PAUSED,
    (S.PAUSED, C.DELETE): S.PAUSED,
    (S.ENDED, C.DELETE): S.ENDED,
}

# What to tell the user when a move is refused (L9). Looked up by exact pair
# first, then by command, then by state.
_ADVICE: dict[tuple[State, Command], str] = {
    (S.RUNNING, C.EDIT): "pause it first",
    (S.SCHEDULED, C.EDIT): "cancel its schedule first",
    (S.RUNNING, C.DELETE): "pause or end it first",
    (S.RUNNING, C.START): "it is already running",
    (S.RUNNING, C.SCHEDULE): "it is already running",
    (S.RUNNING, C.RESUME): "it is already running",
    (S.PAUSED, C.START): "resume it instead",
    (S.PAUSED, C.SCHEDULE): "resume it instead",
    (S.PAUSED, C.PAUSE): "it is already paused",
    (S.SCHEDULED, C.START): "cancel its schedule first, or wait for the scheduled start",
    (S.SCHEDULED, C.SCHEDULE): "cancel its schedule first to pick another time",
    (S.SCHEDULED, C.PAUSE): "cancel its schedule instead; it has not started",
    (S.SCHEDULED, C.RESUME): "it has not started; wait for the scheduled start",
    (S.SCHEDULED, C.END): "cancel its schedule instead; it has not started",
    (S.DRAFT, C.PAUSE): "start it first",
    (S.DRAFT, C.RESUME): "start it first",
    (S.DRAFT, C.END): "it has not started; delete it instead",
    (S.DRAFT, C.CANCEL_SCHEDULE): "it is not scheduled",
}
_ENDED_ADVICE = "an ended automation is final (L4); copy it into a new automation instead"


def advice(state: State, command: Command) -> str:
    """The what-to-do-instead part of a refusal."""
    if state is S.ENDED:
        return _ENDED_ADVICE
    return _ADVICE.get((state, command), f"'{command.value}' is not possible while {state.value}")


def transition(state: State, command: Command) -> State:
    """The state after `command`, or `NotAllowed` naming what to do instead."""
    try:
        return TRANSITIONS[(state, command)]
    except KeyError:
        raise NotAllowed(
            f"cannot {command.value} a {state.value} automation: {advice(state, command)}",
            state=state.value,
            command=command.value,
        ) from None


def has_statistics(state: State) -> bool:
    """L10: draft and scheduled automations have no performance statistics yet."""
    return state not in (S.DRAFT, S.SCHEDULED)
