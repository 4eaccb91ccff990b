"""Instants and calendar arithmetic in a time zone.

An instant is a float of POSIX seconds (UTC). The core never reads a clock:
callers pass `now`. Calendar steps (days, months, years) are wall-clock steps
in the automation's zone, so "1 day later" keeps 10:00 at 10:00 across a DST
change; minutes and hours are exact elapsed time.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError

Instant = float


@lru_cache(maxsize=64)
def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The zone called `name`, or a ConfigError naming `field`."""
    shown = name if len(name) <= 60 else name[:60] + "..."
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'America', a name too long
        raise ConfigError(field, f"unknown time zone {shown!r} (use an IANA name such as 'Asia/Seoul')") from None


def to_local(t: Instant, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(t, tz)


def from_local(wall: datetime, tz: ZoneInfo, not_before: Instant | None = None) -> Instant:
    """The instant at naive wall time `wall` in `tz`.

    A wall time skipped by a DST gap maps to the first instant after the gap
    (the moment the wall clock passes it). A wall time that happens twice maps
    to its first occurrence, or to the second if the first is before
    `not_before`.
    """
    first = wall.replace(tzinfo=tz, fold=0).timestamp()
    second = wall.replace(tzinfo=tz, fold=1).timestamp()
    if first > second:  # a gap: neither reading exists; find the transition
        lo, hi = second, first
        while hi - lo > 0.5:
            mid = (lo + hi) / 2
            if to_local(mid, tz).replace(tzinfo=None) >= wall:
                hi = mid
            else:
                lo = mid
        return float(round(hi))
    if not_before is not None and first < not_before <= second:
        return second
    return first


def add_months(d: date, months: int) -> date:
    """`d` plus whole months, the day clamped to the month's last day (R1)."""
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def wall_add(t: Instant, tz: ZoneInfo, *, days: int = 0, months: int = 0) -> Instant:
    """`t` moved by calendar days and months on the wall clock of `tz`."""
    local = to_local(t, tz)
    if not months:  # whole days to a wall time neither skipped nor doubled (both folds read one offset),
        later = local + timedelta(days=days)  # at the same UTC offset as `t`: the aware sum is exact
        offset = local.utcoffset()
        if later.utcoffset() == offset and later.replace(fold=1).utcoffset() == offset:
            return later.timestamp()
    d = add_months(local.date(), months) + timedelta(days=days)
    wall = time(local.hour, local.minute, local.second, local.microsecond)
    return from_local(datetime.combine(d, wall), tz)
