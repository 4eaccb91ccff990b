"""The one clock interface and its two implementations.

Both clocks are simpy environments, so the conductor's processes run
unchanged on either: `VirtualClock` jumps from event to event (fast,
deterministic); `RealClock` is simpy's `RealtimeEnvironment`, which sleeps so
that one simulated second takes `time_scale` wall seconds. Simulated time is
POSIX seconds from the run's calendar start.

This is the only module of dripsim that reads wall-clock time.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from datetime import datetime
from typing import Any, Protocol

import simpy
import simpy.rt


class Clock(Protocol):
    """What the rest of dripsim may know about time."""

    env: simpy.Environment
    kind: str

    def now(self) -> float:
        """Simulated now, POSIX seconds."""

    def process(self, generator: Generator[Any, Any, Any]) -> simpy.Process: ...

    def sleep_until(self, t: float) -> simpy.Event:
        """An event to yield from a process; fires at simulated `t` (never in the past)."""

    def run(self, until: float) -> None: ...

    def actual_now(self) -> float:
        """Where the wall clock says simulated time is (real clock); `now()` on a virtual one."""


class _SimpyClock:
    kind = "virtual"
    env: simpy.Environment

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a run's calendar start must be an aware datetime")
        self.start = start.timestamp()

    def now(self) -> float:
        return self.start + float(self.env.now)

    def process(self, generator: Generator[Any, Any, Any]) -> simpy.Process:
        return self.env.process(generator)

    def sleep_until(self, t: float) -> simpy.Event:
        return self.env.timeout(max(0.0, t - self.now()))

    def run(self, until: float) -> None:
        self.env.run(until=max(float(self.env.now), until - self.start))

    def actual_now(self) -> float:
        return self.now()


class VirtualClock(_SimpyClock):
    """Virtual time: nothing sleeps; time jumps to the next event."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.env = simpy.Environment()


class RealClock(_SimpyClock):
    """Wall time, scaled: `time_scale` wall seconds per simulated second."""

    kind = "real"

    def __init__(self, start: datetime, time_scale: float = 1.0) -> None:
        super().__init__(start)
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self.env = simpy.rt.RealtimeEnvironment(factor=time_scale, strict=False)
        self._synced = False

    def run(self, until: float) -> None:
        if not self._synced:  # wall time starts when the run does, not at construction
            env: Any = self.env
            env.sync()
            self._synced = True
        super().run(until)

    def actual_now(self) -> float:
        env: Any = self.env
        return self.start + (time.monotonic() - float(env.real_start)) / self.time_scale


def wall_seconds() -> float:
    """A monotonic wall reading for measuring how long a run took."""
    return time.perf_counter()


def make_clock(kind: str, start: datetime, time_scale: float = 1.0) -> VirtualClock | RealClock:
    if kind == "virtual":
        return VirtualClock(start)
    if kind == "real":
        return RealClock(start, time_scale)
    raise ValueError(f"unknown clock {kind!r} (use 'virtual' or 'real')")


def stamp() -> str:
    """A wall-clock timestamp for naming output folders."""
    return time.strftime("%Y%m%d-%H%M%S")
