"""How far a phase may take a replay's rows ahead of their ticks without changing a decision.

The per-instant engine gives every tick with a replayed row a phase of its own: the rows of the tick are
applied (list changes, then the signals they raise), the automations step, due sends go out. A phase at
`t` may instead take the rows of later ticks too, each still decided at its own instant (a signal keeps
its time; the automations decide by it), as long as nothing the per-instant engine would do between `t`
and those ticks could see the difference. `Conductor._replay_horizon` bounds the window by everything
else that happens (a wakeup, a due send, a release from the transport, an action, a time-driven rule,
another load's arrival, the reach); this module adds what the rows themselves imply:

- **what they queue**: a row may trigger an automation (by its kind: a sign-up, a field change, a group
  addition, an API request) and queue a send, due no sooner than the row's instant plus the
  automation's least delay, moved to its send window's next opening. The window stops before the tick
  of the first such due instant, so no send is decided while a later row is already applied;
- **who they touch**: a row about a subscriber already named by a row of an earlier tick in the window
  stops it before its own tick. What an automation reads when it decides (the filter's fields and
  groups, the subscriber's status) is the subscriber's own, so once every subscriber is named at one
  tick of the window only, each decision reads what it read at its own instant.

A row kind no trigger listens to (an unsubscribe) queues nothing, and its subscriber rule above keeps
the status every other row of the window reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from core.config import AutomationConfig
from core.timing import SendWindow
from core.triggers import Kind

# The row kinds of a replay, and the trigger kind each one raises (an unsubscribe raises none).
RAISES = {"subscriber_added": Kind.SUBSCRIBER_ADDED, "set_field": Kind.FIELD_UPDATED,
          "add_to_group": Kind.GROUP_ADDED, "api": Kind.API}
PEEK = 128  # rows looked at per phase: the scan is paid every phase, and most windows end sooner


def reached(configs: Mapping[str, AutomationConfig]) -> dict[str, tuple[tuple[float, SendWindow | None], ...]]:
    """Per row kind, the (least delay, send window) of each automation whose triggers listen to it."""
    return {row: tuple((c.delay.at_least(), c.window) for c in configs.values()
                       if any(tr.kind is raised for tr in c.triggers))
            for row, raised in RAISES.items()}


def window_end(at: np.ndarray, kinds: list[str], emails: list[str], limit: float, seen_all: bool,
               reach: Mapping[str, tuple[tuple[float, SendWindow | None], ...]],
               quantize: Callable[[float], float], tick: float) -> float:
    """The last tick (inclusive) whose rows may be taken now, at most `limit`: the rows are the replay's
    next ones in time order (those of the current tick first), `seen_all` says whether they are every
    row up to `limit` (else the tick of the last one is not taken: rows after it are unseen). `reach`
    is `reached(configs)`. Rows are read one by one, and the reading stops where the window does."""
    if not len(at):
        return limit
    end = limit if seen_all else min(limit, quantize(float(at[-1])) - tick)
    first_tick: dict[str, float] = {}
    for k, a in enumerate(at.tolist()):
        row_tick = quantize(a)
        if row_tick > end:
            break
        if first_tick.setdefault(emails[k], row_tick) < row_tick:
            return min(end, row_tick - tick)  # named again at a later tick: stop before it
        for delay, window in reach.get(kinds[k], ()):
            soonest = a + delay if window is None else window.next_open(a + delay)
            end = min(end, quantize(soonest) - tick)
    return end
