"""The one clock interface: virtual jumps, real sleeps (scaled)."""

from __future__ import annotations

import pytest

from sim.clock import RealClock, VirtualClock, make_clock, wall_seconds
from tests.sim.conftest import START


def _ticker(clock, seen, times):  # type: ignore[no-untyped-def]
    for t in times:
        yield clock.sleep_until(clock.now() + t)
        seen.append(round(clock.now() - clock.start, 6))


@pytest.mark.parametrize("kind", ["virtual", "real"])
def test_clock_fires_in_simulated_time_order(kind: str) -> None:
    clock = make_clock(kind, START, time_scale=0.001)
    seen: list[float] = []
    clock.process(_ticker(clock, seen, [5, 10, 0, 30]))
    clock.run(clock.start + 100)
    assert seen == [5, 15, 15, 45]
    assert clock.now() == clock.start + 100


def test_virtual_clock_does_not_sleep() -> None:
    clock = VirtualClock(START)
    seen: list[float] = []
    clock.process(_ticker(clock, seen, [86400] * 365))
    began = wall_seconds()
    clock.run(clock.start + 366 * 86400)
    assert len(seen) == 365
    assert wall_seconds() - began < 5  # a simulated year, not a real one


def test_real_clock_takes_scaled_wall_time() -> None:
    clock = RealClock(START, time_scale=0.02)
    seen: list[float] = []
    clock.process(_ticker(clock, seen, [5, 5]))
    began = wall_seconds()
    clock.run(clock.start + 10)
    assert wall_seconds() - began >= 0.19  # 10 simulated seconds x 0.02: it really waited
    assert clock.actual_now() >= clock.start + 9.5


def test_clock_refuses_naive_start_and_bad_scale() -> None:
    with pytest.raises(ValueError, match="aware"):
        VirtualClock(START.replace(tzinfo=None))
    with pytest.raises(ValueError, match="time_scale"):
        RealClock(START, 0)
    with pytest.raises(ValueError, match="unknown clock"):
        make_clock("sundial", START)


def test_sleep_until_the_past_is_now() -> None:
    clock = VirtualClock(START)
    seen: list[float] = []

    def proc():  # type: ignore[no-untyped-def]
        yield clock.sleep_until(clock.start - 50)
        seen.append(clock.now())

    clock.process(proc())
    clock.run(clock.start + 1)
    assert seen == [clock.start]
