"""One automation: lifecycle, trigger handling, pending list, send decisions.

Theory of operation. Every method takes the current instant `now` and the
subscriber store it should read; nothing reads a clock. Methods change this
object's state, append rows to `events` and return what the caller must do
(a `SendBatch` to hand to a transport). A refused command raises
`NotAllowed`/`ConfigError` before anything changes.

Time-driven rules (scheduled start, `end_at`, `not_opened` deadlines,
anniversaries) happen in `tick(now)`; `next_wakeup()` says when that is next
needed, so a virtual clock can jump straight there.

The automation is made of parts with one rule family each, over the state they share
(`base`): `lifecycle` (L1-L10 and the time-driven rules), `triggers` (T1-T6), `watching`
(not-opened and not-clicked deadlines) and `sends` (S1-S4, outcomes and engagement).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.anniversaries import Anniversaries
from core.automation.base import SendBatch
from core.automation.lifecycle import AutomationLifecycle
from core.automation.sends import SendRules
from core.automation.triggers import TriggerRules
from core.automation.watching import WatchRules
from core.columns import Column
from core.config import AutomationConfig
from core.errors import NotAllowed
from core.events import EventLog
from core.instants import Instant
from core.lifecycle import State
from core.pending import (
    CANCELLED,
    IN_FLIGHT,
    PendingList,
    PendingPage,
    Selection,
)
from core.series import Series
from core.stats import Stats, conservation_violations
from core.subscribers import SubscriberStore
from core.triggers import RateLimit, Trigger
from core.watches import Watches

__all__ = ["Automation", "SendBatch"]


class Automation(AutomationLifecycle, TriggerRules, WatchRules, SendRules):
    def __init__(self, config: AutomationConfig) -> None:
        self.config = config
        self.state = State.DRAFT
        self.deleted = False
        self.start_at: Instant | None = None
        self.end_at: Instant | None = None
        self.pending = PendingList()
        self.stats = Stats()
        self.events = EventLog()
        self.running_spans: list[list[float]] = []  # [start, end]; end inf while running
        self.overrides: dict[int, dict[str, Any]] = {}  # entry -> api field overrides (T2 api)
        self._last_accepted = Column(np.float64, fill=np.nan)
        self._fired: set[tuple[int, str]] = set()  # (subscriber, source occurrence) for NO_DUPLICATES
        self._combined: dict[int, int] = {}  # T4 all: subscriber -> bitmask of satisfied triggers
        self._series = Series()
        self._watches = Watches()
        self._api = RateLimit(config.api_limit)
        self._anniversaries = Anniversaries()
        self._decided: list[SendBatch] = []  # decided by `tick`, not yet handed over
        self._anniversary_of: AutomationConfig | None = None
        self._anniversary: Trigger | None = None

    # -- the operator's pending list (P3-P6) ------------------------------
    def query(self, store: SubscriberStore, **kwargs: Any) -> PendingPage:
        return self.pending.query(store, **kwargs)

    def send_now(self, selection: Selection, store: SubscriberStore, now: Instant) -> SendBatch:
        """P5: send the selection at once; S1 status and filter checks still apply."""
        if self.state is not State.RUNNING:
            raise NotAllowed(f"cannot send now while {self.state.value}: "
                             + ("resume it first" if self.state is State.PAUSED else "start it first"),
                             state=self.state.value, command="send_now")
        ids = self.pending.in_list_order(self.pending.remove(self.pending.resolve(selection, store), IN_FLIGHT))
        self.events.add_batch(now, "requeued", self.pending.subscriber[ids], ids, "send_now", now)
        return self._decide(ids, now, store)

    def delete_pending(self, selection: Selection, store: SubscriberStore, now: Instant) -> int:
        """P6: the selection leaves the list; its sends (and repeats) are cancelled."""
        ids = self.pending.in_list_order(self.pending.remove(self.pending.resolve(selection, store), CANCELLED))
        self.stats.cancelled += len(ids)
        subs = self.pending.subscriber[ids]
        self.events.add_batch(now, "cancelled", subs, ids, "operator", self.pending.due[ids])
        self._series.end(subs)
        return len(ids)

    # -- statistics (ST1, ST2) ---------------------------------------------
    def summary(self) -> dict[str, Any]:
        data = {"state": self.state.value, **self.stats.as_dict(len(self.pending))}
        data["has_statistics"] = self.has_statistics
        return data

    def violations(self, *, finished: bool = True) -> list[str]:
        return conservation_violations(self.stats, len(self.pending), finished=finished)
