"""Windows over a replay (`sim.windows`): rows and the sends they queue decided together, byte for byte
as one phase per tick decides them; each of the window's cuts is needed (removed, a test fails)."""

from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest

import sim.windows
from benchmarks.oracle import same_bytes
from sim.conductor import Conductor

HEAD = '''name = "windows"
seed = 4
start = "2026-03-03T08:00:00+09:00"
duration = "2h"
[population]
size = 0
fields = { plan = ["free"] }
[behaviour]
open = 0.3
click = 0.05
unsubscribe = 0.0
[dispatcher]
rate = %s
'''


def _signups(n: int) -> list[str]:
    return [f"{i * 0.5:.3f},subscriber_added,m{i}@x.kr,free," for i in range(n)]


def _csv(rows: list[str]) -> str:
    return "time,kind,email,plan,group\n" + "\n".join(rows) + "\n"


def _phases(text: str, rows: str, look_ahead: bool) -> tuple[int, int]:
    """(phases, sends) of a run of the scenario."""
    from sim.runner import run
    from sim.scenarios.loader import load

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rows.csv").write_text(rows)
        (Path(tmp) / "s.toml").write_text(text)
        result = run(dataclasses.replace(load(Path(tmp) / "s.toml"), look_ahead=look_ahead))
    sent = sum(int(a.get("sent", 0)) for a in result.summary["automations"].values())
    return result.wiring.conductor.metrics.phases, sent


UPGRADE = '''[[automation]]
id = "upgrade"
subject = "pro"
trigger = { kind = "field_updated", field = "plan", value = "pro" }
delay = "%s"
start = "+0s"
[[load]]
kind = "replay"
file = "rows.csv"
'''


def _upgrades(seed: int, downgrade_after: float | None) -> str:
    """Sign-ups, then upgrades of random subscribers every few seconds (each downgraded a little later)."""
    rng = np.random.default_rng(seed)
    rows = _signups(100)
    for at in np.sort(rng.uniform(100, 6000, 400)).tolist():
        who = int(rng.integers(100))
        rows.append(f"{at:.3f},set_field,m{who}@x.kr,pro,")
        if downgrade_after is not None:
            rows.append(f"{at + downgrade_after:.3f},set_field,m{who}@x.kr,free,")
    rows.sort(key=lambda r: float(r.split(",")[0]))
    return _csv(rows)


def test_st2_a_window_decides_rows_and_their_sends_as_one_phase_per_tick() -> None:
    text, rows = HEAD % 40 + UPGRADE % "2m", _upgrades(1, None)
    same_bytes(text, rows)
    windows, sent = _phases(text, rows, True)
    one, sent_one = _phases(text, rows, False)
    assert sent == sent_one > 50  # once per subscriber (T5)
    assert windows < 0.25 * one  # rows and sends of many ticks in one window


def test_f2_a_subscriber_named_again_later_in_the_window_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # An upgrade queues a send due 2 minutes later for pro subscribers; the subscriber is downgraded 20 s
    # later. Applied with the window's rows before anything is decided, the downgrade would be seen by the
    # upgrade's own filter. (An unsubscribe would not: a trigger reads the status at its own instant.)
    pro = 'filter = { field = "plan", op = "equals", value = "pro" }\nstart = "+0s"'
    pro_only = UPGRADE.replace('start = "+0s"', pro, 1)
    text, rows = HEAD % 40 + pro_only % "2m", _upgrades(2, 20.0)
    same_bytes(text, rows)
    real = sim.windows._first_conflict
    monkeypatch.setattr(sim.windows, "_first_conflict",  # blind to rows changing what a filter reads
                        lambda keys, ticks, leaves, fields: real(keys, ticks, leaves, fields & False))
    with pytest.raises(AssertionError, match="the look-ahead changed the event log"):
        same_bytes(text, rows)


def test_s1_a_tick_the_token_bucket_cannot_serve_ends_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ten upgrades in one second, each sent at once, with one send a second: the phase at that tick sends one
    # and keeps nine waiting; a window that ignored the bucket would send them all.
    rows = _signups(100)
    for k in range(20):
        rows += [f"{300 + 60 * k + 0.05 * j:.3f},set_field,m{5 * k % 100 + j}@x.kr,pro," for j in range(5)]
    text = HEAD % 1 + UPGRADE % "0s"
    same_bytes(text, _csv(rows))
    monkeypatch.setattr(Conductor, "_first_short", lambda self, ticks: math.inf)
    with pytest.raises(AssertionError, match="the look-ahead changed the event log"):
        same_bytes(text, _csv(rows))


def test_r1_a_repeat_shorter_than_the_window_bounds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each send's next occurrence is due a minute later: inside a window of several minutes.
    text = HEAD % 40 + UPGRADE.replace('delay = "%s"', 'repeat = "1m"') % ()
    rows = _upgrades(3, None)
    same_bytes(text, rows)
    monkeypatch.setattr(Conductor, "_shortest_repeat", lambda self: math.inf)
    with pytest.raises(AssertionError, match="the look-ahead changed the event log"):
        same_bytes(text, rows)


AGAIN = UPGRADE.replace('delay = "%s"', 'delay = "30s"\nduplicates = { allow = true }')  # every upgrade sends


def _upgraded_again(seed: int, size: int, count: int) -> str:
    """Sign-ups, then `count` upgrades of random subscribers of the `size` who signed up, again and again."""
    rng = np.random.default_rng(seed)
    rows = _signups(size)
    rows += [f"{at:.3f},set_field,m{int(rng.integers(size))}@x.kr,pro,"
             for at in np.sort(rng.uniform(100, 6000, count)).tolist()]
    return _csv(rows)


def test_u1_a_waiting_unsubscribe_of_someone_the_window_names_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Readers unsubscribe within a minute or so of a send; the same subscribers are upgraded again and
    # again. The per-instant engine applies each unsubscribe at its tick, before the next upgrade is decided.
    text = (HEAD % 40).replace("unsubscribe = 0.0", 'unsubscribe = 0.5\nopen_after = "40s"') + AGAIN
    rows = _upgraded_again(4, 30, 600)
    same_bytes(text, rows)
    monkeypatch.setattr(Conductor, "_first_clash", lambda self, subs, ticks, **how: math.inf)
    with pytest.raises(AssertionError, match="the look-ahead changed the event log"):
        same_bytes(text, rows)


def test_u2_a_send_that_bounces_hard_ends_the_window_at_its_subscriber_s_next_naming(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A third of the sends bounce hard (U2: auto-deleted) a moment after they leave; the same subscribers
    # are upgraded again and again, a minute apart or so. The per-instant engine applies the bounce before
    # the next upgrade of that subscriber is decided (not subscribed); the window knows which sends will
    # bounce (their draws are keyed by the send) and ends before such a subscriber is named again.
    text = (HEAD % 40).replace("unsubscribe = 0.0", "unsubscribe = 0.0\nhard_bounce = 0.3") + AGAIN
    rows = _upgraded_again(6, 60, 900)
    same_bytes(text, rows)
    windows, _ = _phases(text, rows, True)
    one, _ = _phases(text, rows, False)
    assert windows < 0.5 * one  # the sends that do not bounce cut nothing
    real = sim.windows._first_conflict
    monkeypatch.setattr(sim.windows, "_first_conflict",  # blind to sends that bounce
                        lambda keys, ticks, leaves, fields: real(keys, ticks, leaves & False, fields))
    with pytest.raises(AssertionError, match="the look-ahead changed the event log"):
        same_bytes(text, rows)


def test_f2_a_row_naming_someone_whose_open_waits_ends_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    # An upgrade is sent at once and opened a minute or two later; the open sets off a thank-you 40 minutes
    # on, for pro subscribers only, so it waits in its slack. The subscriber is downgraded 8 minutes after the
    # upgrade: the per-instant engine observes the open first (still pro); applied first, inside a window
    # or in the phase that releases the open, the downgrade would be seen by the thank-you's filter.
    text = (HEAD % 40).replace("open = 0.3", 'open = 0.9\nopen_after = "90s"') + UPGRADE % "0s" + '''
[[automation]]
id = "thanks"
trigger = { kind = "opened", email = "upgrade" }
filter = { field = "plan", op = "equals", value = "pro" }
delay = "40m"
start = "+0s"
'''
    rng = np.random.default_rng(5)
    rows = _signups(100)
    for at, who in zip(np.sort(rng.uniform(100, 6000, 300)).tolist(), rng.permutation(100).tolist() * 3,
                       strict=False):
        rows += [f"{at:.3f},set_field,m{who}@x.kr,pro,", f"{at + 480:.3f},set_field,m{who}@x.kr,free,"]
    rows.sort(key=lambda r: float(r.split(",")[0]))
    same_bytes(text, _csv(rows))
    windows, _ = _phases(text, _csv(rows), True)
    one, _ = _phases(text, _csv(rows), False)
    assert windows < 0.5 * one  # windows ran
    with monkeypatch.context() as m:  # a window applying the downgrade among its rows
        m.setattr(Conductor, "_waiting_signals", lambda self, limit: np.zeros(0, np.int64))
        with pytest.raises(AssertionError, match="the look-ahead changed the event log"):
            same_bytes(text, _csv(rows))
    # the phase after a window: it releases the open that waited, and applies that tick's downgrade first
    monkeypatch.setattr(Conductor, "_changes_coming", lambda self, t: False)
    with pytest.raises(AssertionError, match="the look-ahead changed the event log"):
        same_bytes(text, _csv(rows))


@pytest.mark.parametrize("seed", [13, 17, 18])
def test_st2_windows_naming_subscribers_again_log_the_same_bytes(seed: int) -> None:
    # The targeted search's scenarios that fail without one of the clash cuts (`benchmarks.window_search`):
    # subscribers named again and again, sends that leave, filters on the field the rows change.
    from benchmarks.window_search import scenario

    same_bytes(*scenario(seed))
