"""Where a replay's rows land in the run: the alignment that applies, the instant the first row lands
at, the span they cover, and the refusals of a replay that would land outside the run or too densely.
"""

from __future__ import annotations

import math
from typing import Any

from sim.replay import ReplayInfo

MAX_ROWS_PER_SECOND = 1_000_000  # of the run: past it, a burst load (`count`) is the model


def check_peak(info: ReplayInfo, speed: float, scale: float, where: str) -> None:
    """Refuse a replay that would put more than `MAX_ROWS_PER_SECOND` happenings in a second of the run."""
    most = info.peak * math.ceil(max(speed, 1.0)) * max(scale, 1.0)
    if most > MAX_ROWS_PER_SECOND:
        raise ValueError(f"{where}.file: up to {most:,.0f} rows land in one second of the run (speed {speed:g}, "
                         f"scale {scale:g}); a replay puts at most {MAX_ROWS_PER_SECOND:,} in a second (for a "
                         "bigger burst, a load with `count`)")


ALIGNS = ("day", "from", "absolute")


def alignment(requested: str | None, info: ReplayInfo, where: str) -> str:
    """The alignment that applies: the one asked for (`start` is the older name of `from`), else by time kind."""
    if requested is None:
        return "day" if info.absolute else "from"
    if requested in ("absolute", "day") and not info.absolute:
        raise ValueError(f"{where}: {requested!r} needs ISO times with an offset (the file's are in seconds)")
    return "from" if requested == "start" else requested


def anchor(align: str, info: ReplayInfo, at: float, timezone: str) -> float | None:
    """The instant the first row lands at, for a load whose `from` is the instant `at` (None: absolute)."""
    if align == "absolute":
        return None
    if align == "from":
        return at
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    first = datetime.fromtimestamp(info.first, zone)
    day = datetime.fromtimestamp(at, zone).date()
    while True:  # whole days on the wall clock: a row keeps its local time of day across a DST change
        landed = datetime.combine(day, first.time(), zone).timestamp()
        if landed >= at:
            return landed
        day += timedelta(days=1)


def landed(info: ReplayInfo, landing: float | None, speed: float) -> tuple[float, float]:
    """The instants the first and last rows land at; `landing` is the first's (None: absolute)."""
    if landing is None:
        return info.first, info.last
    return landing, landing + (info.last - info.first) / speed


def when(instant: float, timezone: str) -> str:
    """An instant as the scenario's wall clock, to the minute: `2026-11-23 00:12 +09:00`."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime.fromtimestamp(instant, ZoneInfo(timezone))
    return f"{moment:%Y-%m-%d %H:%M} {moment.isoformat()[-6:]}"


def refuse_outside(r: Any, where: str, t0: float, window: tuple[float, float], timezone: str) -> None:
    """Refuse a replay none of whose rows lands inside the instants its load replays."""
    lo, hi = landed(r.info, None if r.landing is None else t0 + r.landing, r.speed)
    if hi < window[0] or lo > window[1]:
        export = f"{when(r.info.first, timezone)} to {when(r.info.last, timezone)}" if r.info.absolute else \
            f"{r.info.first:g} s to {r.info.last:g} s"
        raise ValueError(f"{where}.file: every row of {r.file} lands outside the run (align = {r.align!r}): "
                         f"the export spans {export}, its rows land {when(lo, timezone)} to {when(hi, timezone)}, "
                         f"the load replays {when(window[0], timezone)} to {when(window[1], timezone)}")
