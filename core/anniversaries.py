"""Anniversary triggers (T2): once a day at a local time, the subscribers whose date field matches.

`Anniversaries` only computes: which subscribers have an anniversary on a
given day, as signals, and when the next daily check is. The automation
decides what the signals mean, like any other signal.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from core.instants import Instant, from_local, to_local
from core.subscribers import SubscriberStore
from core.timing import parse_hhmm
from core.triggers import Kind, Signal, Trigger


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class Anniversaries:
    def __init__(self) -> None:
        self.next: Instant | None = None  # the next daily check, once armed

    def arm(self, trigger: Trigger | None, now: Instant, tz: ZoneInfo) -> None:
        """The first check at the trigger's time of day, today or tomorrow (once only)."""
        if trigger is None or self.next is not None:
            return
        minute = parse_hhmm(trigger.at, "trigger.at")
        local = to_local(now, tz)
        first = datetime.combine(local.date(), datetime.min.time()) + timedelta(minutes=minute)
        t = from_local(first, tz)
        self.next = t if t >= now else from_local(first + timedelta(days=1), tz)

    def fire(self, trigger: Trigger, store: SubscriberStore, tz: ZoneInfo) -> list[Signal]:
        """The signals of the check at `self.next`; moves `next` on by one local day."""
        assert self.next is not None
        at = self.next
        day = to_local(at, tz).date()
        target = day - timedelta(days=trigger.offset_days)
        wanted = [target.month * 100 + target.day]
        if target.month == 2 and target.day == 28 and not _leap(target.year):
            wanted.append(229)  # Feb 29 anniversaries fall on Feb 28 in other years
        codes = store.month_days(trigger.field)
        hits = np.flatnonzero(np.isin(codes, wanted)).tolist()
        self.next = from_local(to_local(at, tz).replace(tzinfo=None) + timedelta(days=1), tz)
        send_id = str(target.year)
        return [Signal(Kind.ANNIVERSARY, sid, at, send_id=send_id) for sid in hits]
