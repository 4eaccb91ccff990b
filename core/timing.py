"""When a send goes out: delay (D1), send window (W1, W2), repeat (R1-R3).

All three are immutable value objects built from validated settings; every
invalid setting raises `ConfigError` naming its field. Windows are weekly
intervals of wall-clock minutes in the automation's zone, so DST changes move
the instants, never the wall-clock hours.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from core.errors import ConfigError
from core.instants import Instant, from_local, to_local, wall_add, zone

WEEK_MINUTES = 7 * 1440
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_EXACT_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}
_CALENDAR_UNITS = {"days": (1, 0), "weeks": (7, 0), "months": (0, 1), "years": (0, 12)}


@dataclass(frozen=True, slots=True)
class Delay:
    """D1: send at once (amount 0) or after `amount` `unit`s."""

    amount: int = 0
    unit: str = "minutes"

    def __post_init__(self) -> None:
        if self.unit not in _EXACT_UNITS and self.unit not in _CALENDAR_UNITS:
            known = ", ".join([*_EXACT_UNITS, *_CALENDAR_UNITS])
            raise ConfigError("delay.unit", f"unknown unit {self.unit!r} (use one of {known})")
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise ConfigError("delay.amount", f"must be a whole number, got {self.amount!r}")
        if self.amount < 0:
            raise ConfigError("delay.amount", f"must not be negative, got {self.amount}")

    def at_least(self) -> float:
        """A lower bound of the delay in seconds (calendar steps can be an hour short across DST)."""
        if self.unit in _EXACT_UNITS:
            return float(self.amount * _EXACT_UNITS[self.unit])
        days = {"days": 1, "weeks": 7, "months": 28, "years": 365}[self.unit] * self.amount
        return max(0.0, days * 86400.0 - 3600.0)

    def after_many(self, t: np.ndarray[Any, Any], tz: ZoneInfo) -> np.ndarray[Any, Any]:
        """`after` for every instant of `t`."""
        if self.amount == 0:
            return t.copy()
        if self.unit in _EXACT_UNITS:
            return t + self.amount * _EXACT_UNITS[self.unit]
        return np.fromiter((self.after(x, tz) for x in t.tolist()), np.float64, count=len(t))

    def after(self, t: Instant, tz: ZoneInfo) -> Instant:
        if self.amount == 0:
            return t
        if self.unit in _EXACT_UNITS:
            return t + self.amount * _EXACT_UNITS[self.unit]
        days, months = _CALENDAR_UNITS[self.unit]
        return wall_add(t, tz, days=days * self.amount, months=months * self.amount)


def parse_hhmm(text: str, field: str) -> int:
    try:
        hh, mm = text.strip().split(":")
        h, m = int(hh), int(mm)
    except (ValueError, AttributeError):
        raise ConfigError(field, f"expected HH:MM, got {text!r}") from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ConfigError(field, f"{text!r} is not a time of day")
    return h * 60 + m


def _parse_day(text: str, field: str) -> int:
    key = str(text).strip().lower()[:3]
    if key not in DAY_NAMES:
        raise ConfigError(field, f"unknown weekday {text!r} (use mon..sun)")
    return DAY_NAMES.index(key)


@dataclass(frozen=True, slots=True)
class SendWindow:
    """W1/W2: sending allowed only inside weekly wall-clock intervals.

    `intervals` are (start, end) minutes of the week, end exclusive; the end
    minute the user typed is inside (W2: 09:00 sends, 09:01 waits), so `end`
    is that minute plus one. Intervals may run past the end of the week.
    """

    intervals: tuple[tuple[int, int], ...]
    timezone: str = "Asia/Seoul"

    def __post_init__(self) -> None:
        if not self.intervals:
            raise ConfigError("window.days", "a send window needs at least one day")
        zone(self.timezone, "window.timezone")

    @classmethod
    def daily(cls, days: list[str] | tuple[str, ...], start: str, end: str,
              timezone: str = "Asia/Seoul") -> SendWindow:
        """The same range on each chosen day; start after end wraps past midnight."""
        if not days:
            raise ConfigError("window.days", "a send window needs at least one day")
        s, e = parse_hhmm(start, "window.from"), parse_hhmm(end, "window.to")
        if s == e:
            raise ConfigError("window.to", "equals window.from; use 00:00-23:59 for all day")
        length = (e - s) % 1440 + 1
        chosen = sorted({_parse_day(d, "window.days") for d in days})
        return cls(tuple((d * 1440 + s, d * 1440 + s + length) for d in chosen), timezone)

    @classmethod
    def span(cls, start: str, end: str, timezone: str = "Asia/Seoul") -> SendWindow:
        """One weekly span such as "mon 15:00" to "tue 09:00" (W2)."""
        def parse(text: str, field: str) -> int:
            parts = str(text).split()
            if len(parts) != 2:
                raise ConfigError(field, f"expected 'DAY HH:MM', got {text!r}")
            return _parse_day(parts[0], field) * 1440 + parse_hhmm(parts[1], field)

        s, e = parse(start, "window.from"), parse(end, "window.to")
        if s == e:
            raise ConfigError("window.to", "equals window.from")
        return cls(((s, s + (e - s) % WEEK_MINUTES + 1),), timezone)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def _position(self, local: datetime) -> float:
        return (local.weekday() * 1440 + local.hour * 60 + local.minute
                + (local.second + local.microsecond / 1e6) / 60)

    def _open_at(self, pos: float) -> bool:
        return any(s <= p < e for s, e in self.intervals for p in (pos, pos + WEEK_MINUTES))

    def is_open(self, t: Instant) -> bool:
        return self._open_at(self._position(to_local(t, self.tz)))

    def next_open_many(self, t: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """`next_open` for every instant of `t`, computed once per distinct minute.

        Window edges are whole local minutes, so within one minute either every
        instant is inside (the instant itself) or every one waits for the same
        opening, which lies after the minute.
        """
        minutes, inverse = np.unique(np.floor(t / 60.0), return_inverse=True)
        opens = np.empty(len(minutes))
        inside = np.empty(len(minutes), bool)
        for k, m in enumerate(minutes.tolist()):
            inside[k], opens[k] = _minute(self, int(m))
        return np.where(inside[inverse], t, np.maximum(t, opens[inverse]))

    def is_open_many(self, t: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """`is_open` for every instant, computed once per distinct minute (edges are whole minutes)."""
        minutes, inverse = np.unique(np.floor(np.asarray(t) / 60.0), return_inverse=True)
        inside = np.fromiter((self.is_open(m * 60.0) for m in minutes.tolist()), bool, count=len(minutes))
        out: np.ndarray[Any, Any] = inside[inverse]
        return out

    def open_throughout(self, start: Instant, end: Instant) -> bool:
        """Is the window open at every instant from `start` to `end`? (No offset change between.)"""
        if end < start or to_local(start, self.tz).utcoffset() != to_local(end, self.tz).utcoffset():
            return False
        p0 = self._position(to_local(start, self.tz))
        p1 = p0 + (end - start) / 60.0
        return any(s <= p < e and s <= p + (p1 - p0) < e
                   for s, e in self.intervals for p in (p0, p0 + WEEK_MINUTES))

    def next_open(self, t: Instant) -> Instant:
        """`t` if the window is open then, else the instant it next opens (W1).

        Decided once per local minute (edges are whole minutes: within one
        minute every instant is inside, or every one waits for the same
        opening), as `next_open_many` does for a batch.
        """
        inside, opening = _minute(self, math.floor(t / 60.0))
        return t if inside else max(t, opening)

    def _next_open(self, t: Instant) -> Instant:
        local = to_local(t, self.tz)
        pos = self._position(local)
        if self._open_at(pos):
            return t
        starts = sorted({s % WEEK_MINUTES for s, _ in self.intervals})
        minute = int(pos)
        i = bisect.bisect_right(starts, minute)
        wait = starts[i] - minute if i < len(starts) else starts[0] + WEEK_MINUTES - minute
        base = local.replace(tzinfo=None, second=0, microsecond=0)
        found = max(t, from_local(base + timedelta(minutes=wait), self.tz, not_before=t))
        offset = local.utcoffset()
        if offset is not None and (after := to_local(found, self.tz).utcoffset()) is not None \
                and after < offset:
            # The clock falls back before `found`: the repeated hour may hold an opening.
            lo, hi = t, found
            while hi - lo > 1:
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if to_local(mid, self.tz).utcoffset() == offset else (lo, mid)
            if hi < found:
                return min(found, self._next_open(float(math.ceil(hi))))
        return found


@lru_cache(maxsize=65536)
def _minute(window: SendWindow, minute: int) -> tuple[bool, float]:
    """(open at the start of this minute, when it next opens from there): one calendar computation per
    window and minute, however many sends ask."""
    start = minute * 60.0
    return (True, start) if window.is_open(start) else (False, window._next_open(start))


_PERIODS = {"daily": (1, 0), "weekly": (7, 0), "monthly": (0, 1), "yearly": (0, 12)}


@dataclass(frozen=True, slots=True)
class Repeat:
    """R1: repeat every period after the first send, counted from an anchor.

    `period` is daily/weekly/monthly/yearly (wall-clock) or a number of
    seconds. Occurrence n is anchor + n periods computed from the anchor, not
    from the previous occurrence, so a monthly repeat from the 31st returns to
    the 31st after a short month.
    """

    period: str | float

    def __post_init__(self) -> None:
        if isinstance(self.period, str):
            if self.period not in _PERIODS:
                raise ConfigError("repeat", f"unknown period {self.period!r} "
                                  f"(use {', '.join(_PERIODS)} or a duration)")
        elif not self.period > 0:
            raise ConfigError("repeat", f"period must be positive, got {self.period!r}")

    def at_least(self) -> float:
        """A lower bound of the period in seconds (a calendar day can be an hour short)."""
        if isinstance(self.period, str):
            days, months = _PERIODS[self.period]
            return max(0.0, (days + 28 * months) * 86400.0 - 3600.0)
        return float(self.period)

    def occurrence(self, anchor: Instant, n: int, tz: ZoneInfo) -> Instant:
        if isinstance(self.period, str):
            days, months = _PERIODS[self.period]
            return wall_add(anchor, tz, days=days * n, months=months * n)
        return anchor + self.period * n
