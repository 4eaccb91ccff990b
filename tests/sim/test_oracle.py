"""The look-ahead's oracle (benchmarks/oracle.py): generated scenarios log the same bytes either way."""

from __future__ import annotations

import math

import pytest

from benchmarks.oracle import check, same_bytes
from sim.conductor import Conductor

CI_SCENARIOS = 300  # a deeper search: python -m benchmarks.oracle --scenarios 2000 --seed S
CI_SEEDS = (11, 12, 13, 14, 15, 16)  # six fixed corpora of 50: test workers (xdist) share them out


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_look_ahead_logs_the_same_bytes_as_the_per_instant_engine_on_generated_scenarios(seed: int) -> None:
    check(CI_SCENARIOS // len(CI_SEEDS), seed=seed)


def test_the_oracle_catches_a_look_ahead_that_ignores_capacity(monkeypatch: pytest.MonkeyPatch) -> None:
    # A look-ahead that decides sends ahead without checking the token bucket must be caught.
    monkeypatch.setattr(Conductor, "_first_short", lambda self, ticks: math.inf)
    with pytest.raises(AssertionError, match="the look-ahead changed the event log"):
        check(100, shrink=False)


# Scenarios the oracle found (shrunk by Hypothesis), kept so they stay fixed.
def found(seed: int, duration: str, tick: str, behaviour: str, body: str, *, size: int = 0, plan: bool = True,
          faults: str = 'transport_down = [["+1h", "+1h20m"]]') -> tuple[str, str]:
    """A found scenario: the oracle's head (a Monday from 06:00, a dispatcher of 2/s), then the rest."""
    fields = '\nfields = { plan = ["free", "pro"] }' if plan else ""
    return (f'''name = "oracle"
seed = {seed}
start = "2026-03-02T06:00:00+09:00"
duration = "{duration}"
[population]
size = {size}{fields}
[behaviour]
{behaviour}
[dispatcher]
rate = 2
tick = "{tick}"
{"[faults]" + chr(10) + faults if faults else ""}
''' + body, "")


NOBODY = 'open = 0.0\nclick = 0.0\nunsubscribe = 0.0\nhard_bounce = 0.0'

FOUND = {
    # A soft failure after its retries lands exactly on a tick the look-ahead decided: the per-instant
    # engine logs it before that tick's sends (its phase releases it first).
    "a failure on a decided tick": found(0, "2h", "1s", NOBODY, """\
[[automation]]
id = "a0"
trigger = { kind = "subscriber_added" }
repeat = "1h"
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "120/h"
""", plan=False),
    # An open released past its tick (its slack is the follow-up's 1 s delay) queues a send due at
    # once: it must share that tick's capacity as it would have.
    "a late release sharing a short tick": found(2, "4h", "1s",
                   'open = 0.4\nopen_after = "20m"\nclick = 0.0\nunsubscribe = 0.05', """\
[[automation]]
id = "a0"
trigger = { kind = "subscriber_added" }
repeat = "1h"
start = "+0s"
[[automation]]
id = "a1"
trigger = { kind = "opened", email = "a0" }
delay = "1s"
start = "+0s"
[[automation]]
id = "a2"
trigger = { kind = "subscriber_added" }
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "330/h"
""", size=1, plan=False, faults='crash = [{ actor = "a1", at = "+56m" }]'),
    # A click after a not_clicked deadline but inside the same 1 min tick: released in the phase the
    # deadline passes in, it catches up to its own instant first, so the deadline has passed (T2).
    "a click after its deadline, in the deadline's tick": found(29, "4h", "1m",
                   'open = 0.4\nopen_after = "20m"\nclick = 0.2\nclick_after = "5m"\n'
                   'unsubscribe = 0.0\nhard_bounce = 0.0', """\
[[automation]]
id = "a0"
trigger = { kind = "subscriber_added" }
filter = { field = "plan", op = "equals", value = "pro" }
start = "+0s"
[[automation]]
id = "a1"
trigger = { kind = "not_clicked", email = "a0", within = "30m" }
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "30/h"
""", faults=""),
    # Sends decided ahead at 07:09 give up (transport down) exactly 7 min later, on a 1 min tick the same
    # window decided: the window must stop before it.
    "a give-up inside its own window": found(1, "2h", "1m", NOBODY, """\
[[automation]]
id = "a0"
trigger = { kind = "subscriber_added" }
repeat = "daily"
filter = { field = "plan", op = "equals", value = "pro" }
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "30/h"
"""),
    # An operator's "send now" on a page: a sign-up taken ahead is queued before an earlier send's repeat,
    # so entry numbers differ between the engines; the hand-over goes in the list's order (P5), not theirs.
    "send now in the list's order": found(1, "2h", "1m", NOBODY, """\
[[automation]]
id = "a0"
trigger = { kind = "subscriber_added" }
repeat = "daily"
filter = { field = "plan", op = "equals", value = "pro" }
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "30/h"
until = "+1h"
[[action]]
at = "+3m"
do = "pending.send_now"
automation = "a0"
select = "page"
""", faults=""),
    # A burst at 07:13:00 and a give-up at that same instant: the sign-up, taken ahead, was logged before
    # the failure the per-instant engine releases first.
    "a sign-up at a give-up's instant": found(0, "2h", "1m", NOBODY, """\
[[automation]]
id = "a0"
trigger = { kind = "subscriber_added" }
repeat = "daily"
filter = { field = "plan", op = "equals", value = "pro" }
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "30/h"
[[load]]
kind = "subscriber_added"
count = 1
from = "+73m"
""", size=1),
    # A send's outcome waits in its slack (a chain on email_sent, 10 min later) and its subscriber
    # unsubscribes two minutes after: a phase releasing both applied the unsubscribe first (U1, T1).
    "a signal in its slack before an unsubscribe": found(0, "2h", "1s",
                   'open = 0.0\nclick = 0.0\nunsubscribe = 0.05\nhard_bounce = 0.0', """\
[[automation]]
id = "a0"
trigger = { kind = "subscriber_added" }
start = "+0s"
[[automation]]
id = "a1"
trigger = { kind = "email_sent", email = "a0" }
delay = "10m"
window = { from = "08:00", to = "09:00" }
repeat = "1h"
filter = { field = "plan", op = "equals", value = "pro" }
start = "+0s"
end_at = "+2h"
[[load]]
kind = "subscriber_added"
rate = "120/h"
"""),
}


# An open whose chain is delayed by the whole reach (1h) waited in its slack and was released with an
# unsubscribe of the same subscriber two minutes later: the unsubscribe was applied first, so the chain's
# trigger saw them unsubscribed (found at seed 12 of the CI corpus; a trigger now reads the status at its
# own instant, architecture.md leak 15).
FOUND["an open released with a later unsubscribe"] = ("""\
name = "oracle"
seed = 55
start = "2026-03-02T06:00:00+09:00"
duration = "4h"
[population]
size = 1
fields = { plan = ["free", "pro"], birthday = "date" }
groups = { vip = 0.2 }
[behaviour]
open = 0.4
open_after = "20m"
click = 0.0
click_after = "5m"
unsubscribe = 0.05
hard_bounce = 0.0
[dispatcher]
rate = 2
tick = "1s"
[faults]
transient = 0.05
transport_down = [["+1h", "+1h20m"]]
[[automation]]
id = "a0"
trigger = { kind = "subscriber_added" }
delay = "0s"
repeat = "daily"
start = "+0s"
[[automation]]
id = "a1"
trigger = { kind = "opened", email = "a0" }
delay = "1h"
window = { from = "08:00", to = "09:00" }
repeat = "daily"
filter = { field = "plan", op = "equals", value = "pro" }
api_limit = 1
start = "+0s"
end_at = "+2h"
[[automation]]
id = "a2"
trigger = { kind = "subscriber_added" }
repeat = "daily"
filter = { field = "plan", op = "equals", value = "pro" }
start = "+0s"
[[automation]]
id = "a3"
trigger = { kind = "subscriber_added" }
window = { from = "08:00", to = "09:00" }
repeat = "daily"
filter = { field = "plan", op = "equals", value = "pro" }
api_limit = 1
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "300/h"
""", """\
time,kind,email,plan,group
0,subscriber_added,r0@x.kr,pro,
30,subscriber_added,r1@x.kr,pro,
""")


@pytest.mark.parametrize("name", FOUND)
def test_look_ahead_logs_the_same_bytes_on_the_scenarios_the_oracle_found(name: str) -> None:
    same_bytes(*FOUND[name])

# Two API loads naming subscribers for one automation (T6): taken ahead, each load drew its random picks
# for all its ticks before the other's, where the per-instant engine draws tick by tick, the loads in
# file order within a tick; the same calls named other subscribers (found at seed 7 of a 500-scenario
# search, then cut by hand to what it needs).
FOUND["two API loads drawing their subscribers"] = found(61300, "2h", "1s", NOBODY, """\
[[automation]]
id = "a0"
trigger = { kind = "api" }
delay = "90s"
start = "+0s"
[[load]]
kind = "api"
rate = "30/h"
automation = "a0"
[[load]]
kind = "api"
rate = "30/h"
automation = "a0"
""", size=52, plan=False, faults="")

# Rows of one automation at one instant were ordered by subscriber between barriers (rows about nobody)
# counted over the whole log: another automation's state change arriving between them in one engine and
# not in the other split them differently (found at seed 51 of a 600-scenario search). A barrier now
# counts only among the rows of its own automation at its own instant.
FOUND["a barrier of another automation between an instant's rows"] = ("""\
name = "oracle"
seed = 5255
start = "2026-03-02T06:00:00+09:00"
duration = "6h"
[population]
size = 49
fields = { plan = ["free", "pro"], birthday = "date" }
groups = { vip = 0.2 }
[behaviour]
open = 0.9
open_after = "20m"
click = 0.2
click_after = "5m"
unsubscribe = 0.05
hard_bounce = 0.05
[dispatcher]
rate = 100
tick = "1s"
[[automation]]
id = "a0"
trigger = { kind = "subscriber_added" }
delay = "1s"
window = { from = "07:30", to = "22:00" }
filter = { field = "plan", op = "equals", value = "pro" }
start = "+0s"
[[automation]]
id = "a1"
trigger = { kind = "not_clicked", email = "a0", within = "2h" }
delay = "1h"
api_limit = 2
start = "+0s"
[[automation]]
id = "a2"
trigger = { kind = "subscriber_added" }
duplicates = { allow = true }
schedule = "+1h"
[[automation]]
id = "a3"
trigger = { kind = "anniversary", field = "birthday", offset_days = 0, at = "09:30" }
delay = "90s"
window = { from = "08:00", to = "09:00" }
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "300/h"
until = "+2h"
[[load]]
kind = "subscriber_added"
count = 29
from = "+64m"
[[load]]
kind = "subscriber_added"
count = 5
from = "+89m"
[[action]]
at = "+73m"
do = "edit"
automation = "a3"
settings = { delay = "5m" }
[[action]]
at = "+72m"
do = "add_to_group"
who = { count = 14 }
group = "vip"
""", "")


# An operator's `pending.delete` of a page at 06:28 (the page hides the unsubscribed, P2) ran in a phase
# that also took replayed rows ahead, among them an unsubscribe at 06:28:26: applied before the automation
# stepped, it hid that subscriber from the page (found at seed 71 of a 400-scenario search; present at the
# session's start). A phase with an action now takes no replayed row ahead.
FOUND["an action's page read after rows taken ahead"] = ("""\
name = "oracle"
seed = 45394
start = "2026-03-02T06:00:00+09:00"
duration = "2h"
[population]
size = 55
fields = { plan = ["free", "pro"], birthday = "date" }
groups = { vip = 0.2 }
[behaviour]
open = 0.0
open_after = "20m"
click = 0.0
click_after = "5m"
unsubscribe = 0.0
hard_bounce = 0.0
[dispatcher]
rate = 100
tick = "1m"
[[automation]]
id = "a0"
trigger = { kind = "subscriber_added" }
window = { from = "08:00", to = "09:00" }
start = "+0s"
[[automation]]
id = "a1"
trigger = { kind = "subscriber_added" }
delay = "1h"
window = { from = "08:00", to = "09:00" }
filter = { field = "plan", op = "not_equals", value = "pro" }
start = "+0s"
[[load]]
kind = "replay"
file = "rows.csv"
automation = "a1"
[[load]]
kind = "subscriber_added"
count = 29
from = "+70m"
[[action]]
at = "+55m"
do = "resume"
automation = "a0"
[[action]]
at = "+28m"
do = "pending.delete"
automation = "a0"
select = "page"
""", """\
time,kind,email,plan,group
0,set_field,r1@x.kr,pro,
1,api,r0@x.kr,,
21,unsubscribe,r1@x.kr,,
31,unsubscribe,r3@x.kr,,
55,unsubscribe,r3@x.kr,,
61,unsubscribe,r4@x.kr,,
75,subscriber_added,r6@x.kr,free,
92,set_field,r5@x.kr,free,
103,subscriber_added,r8@x.kr,free,
120,api,r6@x.kr,,
128,subscriber_added,r10@x.kr,free,
164,set_field,r11@x.kr,free,
210,api,r4@x.kr,,
210,subscriber_added,r13@x.kr,pro,
210,subscriber_added,r14@x.kr,free,
255,subscriber_added,r15@x.kr,free,
267,set_field,r11@x.kr,free,
274,set_field,r16@x.kr,pro,
276,subscriber_added,r18@x.kr,free,
295,api,r10@x.kr,,
300,set_field,r13@x.kr,free,
309,subscriber_added,r21@x.kr,pro,
353,unsubscribe,r3@x.kr,,
395,api,r2@x.kr,,
419,set_field,r5@x.kr,free,
473,api,r25@x.kr,,
500,api,r24@x.kr,,
543,set_field,r10@x.kr,pro,
545,api,r17@x.kr,,
578,subscriber_added,r29@x.kr,free,
604,unsubscribe,r0@x.kr,,
901,set_field,r2@x.kr,pro,
933,unsubscribe,r0@x.kr,,
1211,unsubscribe,r30@x.kr,,
1220,subscriber_added,r34@x.kr,pro,
1454,subscriber_added,r35@x.kr,free,
1485,set_field,r22@x.kr,free,
1528,unsubscribe,r0@x.kr,,
1543,subscriber_added,r38@x.kr,pro,
1633,api,r14@x.kr,,
1706,unsubscribe,r21@x.kr,,
1740,subscriber_added,r41@x.kr,pro,
1798,subscriber_added,r42@x.kr,free,
2000,unsubscribe,r1@x.kr,,
2043,subscriber_added,r44@x.kr,pro,
2106,unsubscribe,r3@x.kr,,
2675,subscriber_added,r46@x.kr,free,
2871,subscriber_added,r47@x.kr,free,
2989,subscriber_added,r48@x.kr,free,
3395,subscriber_added,r49@x.kr,pro,
3470,set_field,r19@x.kr,pro,
3668,set_field,r27@x.kr,free,
4248,unsubscribe,r18@x.kr,,
4472,unsubscribe,r29@x.kr,,
4505,subscriber_added,r54@x.kr,free,
4780,api,r2@x.kr,,
5735,unsubscribe,r55@x.kr,,
6606,add_to_group,r1@x.kr,,vip
6864,subscriber_added,r58@x.kr,free,
7122,subscriber_added,r59@x.kr,pro,
""")
