"""Timing rules D1, W1, W2, R1-R3."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import ConfigError, Delay, Duplicates, Kind, Repeat, SendWindow, Signal, Trigger
from core.instants import zone
from tests.core.builders import added, at, config, local, run_until, running, store_with

SEOUL = zone("Asia/Seoul")


@pytest.mark.parametrize(("amount", "unit", "expected"), [
    (0, "minutes", "2026-03-02 10:00"), (90, "minutes", "2026-03-02 11:30"),
    (2, "hours", "2026-03-02 12:00"), (3, "days", "2026-03-05 10:00"),
    (1, "weeks", "2026-03-09 10:00"), (1, "years", "2027-03-02 10:00")])
def test_d1_delay_units(amount: int, unit: str, expected: str) -> None:
    assert local(Delay(amount, unit).after(at("2026-03-02 10:00"), SEOUL)) == expected


def test_d1_days_keep_wall_clock_across_dst() -> None:
    ny = zone("America/New_York")
    t = at("2026-03-07 10:00", "America/New_York")
    assert local(Delay(1, "days").after(t, ny), "America/New_York") == "2026-03-08 10:00"
    assert Delay(24, "hours").after(t, ny) - t == 86400  # hours are elapsed time


def test_d1_delayed_send_goes_out_after_the_delay() -> None:
    store = store_with(1)
    a = running(at("2026-03-02 09:00"), delay=Delay(2, "hours"))
    a.observe(added(0, at("2026-03-02 09:30")), store)
    assert [local(t) for t, _ in run_until(a, store, at("2026-03-03 00:00"))] == ["2026-03-02 11:30"]


def test_w1_weekday_window_trigger_sunday_evening_sends_monday_ten() -> None:
    w = SendWindow.daily(["mon", "tue", "wed", "thu", "fri"], "10:00", "17:00")
    assert local(w.next_open(at("2026-03-08 18:00"))) == "2026-03-09 10:00"  # Sun -> Mon
    assert local(w.next_open(at("2026-03-09 12:00"))) == "2026-03-09 12:00"  # open: at once


def test_w1_window_in_the_automation_time_zone() -> None:
    w = SendWindow.daily(["mon"], "09:00", "10:00", timezone="Europe/London")
    t = w.next_open(at("2026-03-09 12:00"))  # Seoul noon = London 03:00
    assert local(t, "Europe/London") == "2026-03-09 09:00"


def test_w1_due_outside_window_waits_for_the_opening() -> None:
    store = store_with(1)
    window = SendWindow.daily(["mon", "tue", "wed", "thu", "fri"], "10:00", "17:00")
    a = running(at("2026-03-08 12:00"), window=window)
    a.observe(added(0, at("2026-03-08 18:00")), store)
    assert a.query(store).rows[0].why == "window"
    assert [local(t) for t, _ in run_until(a, store, at("2026-03-10 00:00"))] == ["2026-03-09 10:00"]


def test_w2_wraparound_window_product_example() -> None:
    w = SendWindow.daily(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "15:00", "09:00")
    assert local(w.next_open(at("2026-03-03 10:00"))) == "2026-03-03 15:00"
    assert w.is_open(at("2026-03-03 09:00"))
    assert w.is_open(at("2026-03-03 09:00:59"))
    assert not w.is_open(at("2026-03-03 09:01"))
    assert local(w.next_open(at("2026-03-03 09:01"))) == "2026-03-03 15:00"


def test_w2_weekly_span_monday_to_tuesday() -> None:
    w = SendWindow.span("mon 15:00", "tue 09:00")
    assert local(w.next_open(at("2026-03-03 10:00"))) == "2026-03-09 15:00"  # Tue 10:00 -> next Mon
    assert w.is_open(at("2026-03-03 03:00"))  # Tue early morning is inside the span
    assert w.is_open(at("2026-03-03 09:00"))
    assert not w.is_open(at("2026-03-03 09:01"))


def test_w2_span_across_the_week_end() -> None:
    w = SendWindow.span("sun 22:00", "mon 02:00")
    assert w.is_open(at("2026-03-09 01:00"))  # Monday 01:00
    assert local(w.next_open(at("2026-03-09 03:00"))) == "2026-03-15 22:00"


def test_w2_dst_gap_opens_at_first_instant_after_the_gap() -> None:
    tz = "America/New_York"  # 2026-03-08 02:00 -> 03:00
    w = SendWindow.daily(["sun"], "02:30", "04:00", timezone=tz)
    t = w.next_open(at("2026-03-08 01:00", tz))
    assert local(t, tz) == "2026-03-08 03:00"
    assert w.is_open(t)
    assert t - at("2026-03-08 01:00", tz) == 3600  # one real hour later


def test_w2_dst_fall_back_window_in_repeated_hour() -> None:
    tz = "America/New_York"  # 2026-11-01 02:00 -> 01:00
    w = SendWindow.daily(["sun"], "01:30", "01:45", timezone=tz)
    first = w.next_open(at("2026-11-01 00:00", tz))
    assert local(first, tz) == "2026-11-01 01:30"
    later = w.next_open(first + 16 * 60)  # 01:46 first pass: the wall clock comes back to 01:30
    assert later - first == 3600
    assert later > first


def test_w2_window_keeps_wall_clock_across_dst() -> None:
    tz = "America/New_York"
    w = SendWindow.daily(["sat", "sun"], "10:00", "11:00", timezone=tz)
    sat = w.next_open(at("2026-03-07 00:00", tz))
    sun = w.next_open(sat + 7200)
    assert local(sun, tz) == "2026-03-08 10:00"
    assert sun - sat == 23 * 3600  # the day of the change is 23 hours long


def test_r1_monthly_and_weekly_product_examples() -> None:
    first = at("2025-02-01 09:10")
    assert local(Repeat("monthly").occurrence(first, 1, SEOUL)) == "2025-03-01 09:10"
    assert local(Repeat("weekly").occurrence(first, 1, SEOUL)) == "2025-02-08 09:10"
    assert local(Repeat("daily").occurrence(first, 3, SEOUL)) == "2025-02-04 09:10"


def test_r1_monthly_clamps_to_month_end_and_returns() -> None:
    first = at("2025-01-31 08:00")
    months = [local(Repeat("monthly").occurrence(first, n, SEOUL)) for n in range(1, 4)]
    assert months == ["2025-02-28 08:00", "2025-03-31 08:00", "2025-04-30 08:00"]


def test_r1_repeat_sends_again_every_period_from_first_send() -> None:
    store = store_with(1)
    a = running(at("2025-02-01 09:00"), repeat=Repeat("weekly"))
    a.observe(added(0, at("2025-02-01 09:10")), store)
    sent = run_until(a, store, at("2025-02-22 12:00"))
    assert [local(t) for t, _ in sent] == ["2025-02-01 09:10", "2025-02-08 09:10",
                                          "2025-02-15 09:10", "2025-02-22 09:10"]
    assert a.stats.queued == a.stats.accepted + a.stats.queued_repeat


def test_r2_retrigger_moves_next_daily_repeat_product_example() -> None:
    store = store_with(1)
    a = running(at("2026-03-02 09:00"), repeat=Repeat("daily"), triggers=(Trigger(Kind.API),),
                duplicates=Duplicates(allow=True))
    a.observe(Signal(Kind.API, 0, at("2026-03-02 10:00")), store)
    run_until(a, store, at("2026-03-02 10:30"))
    assert local(a.pending.next_due() or 0) == "2026-03-03 10:00"
    a.observe(Signal(Kind.API, 0, at("2026-03-02 11:00")), store)
    sent = run_until(a, store, at("2026-03-04 12:00"))
    assert [local(t) for t, _ in sent] == ["2026-03-02 11:00", "2026-03-03 11:00", "2026-03-04 11:00"]


def test_r3_repeat_with_anniversary_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="repeat"):
        config(triggers=(Trigger(Kind.ANNIVERSARY, field="birthday"),), repeat=Repeat("yearly"))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
                        "Asia/Seoul", "UTC"]),
       st.floats(1.6e9, 1.9e9), st.integers(1, 60), st.booleans(), st.floats(-10800, 10800))
def test_d1_whole_days_match_the_wall_clock_computation(name: str, t: float, days: int, near_change: bool,
                                                         offset: float) -> None:
    """The fast path (same offset around the result) gives the wall-clock answer bit for bit, also when
    the result lands within hours of a DST change (2026's in Europe, the US and Chile)."""
    from datetime import datetime, time, timedelta

    from core.instants import from_local, to_local, wall_add

    if near_change:  # the instant `days` before a change, give or take three hours
        changes = (1774746000.0, 1792890000.0, 1772953200.0, 1793512800.0, 1775962800.0, 1788062400.0)
        t = changes[int(t) % len(changes)] - days * 86400 + offset
    tz = zone(name)
    local = to_local(t, tz)
    wall = datetime.combine(local.date() + timedelta(days=days),
                            time(local.hour, local.minute, local.second, local.microsecond))
    assert wall_add(t, tz, days=days) == from_local(wall, tz)
