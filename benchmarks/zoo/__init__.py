"""The workload zoo: scenarios a user would write, one of each load, trigger, clock and transport kind.

Each member runs end to end (`dripsim run`, from the command to the files on disk) beside the naive
design (`benchmarks/naive.py`) at the same number of sends, alternately, in the same run. The headline
is the slowest ratio among the gated members, not the best.

    python -m benchmarks.zoo [--only NAME ...] [--rounds R] [--json FILE]
    python -m benchmarks.zoo --oracle [--only NAME ...]   # each member with and without --no-look-ahead:
                                                          # the same event digest (exit 1 if not)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
BENCH = HERE.parent


@dataclass(frozen=True)
class Member:
    name: str
    file: Path
    what: str
    args: tuple[str, ...] = ()
    gated: bool = True  # reported but not part of the headline when False


MEMBERS = (
    Member("signups", HERE / "signups.toml", "200k sign-ups in an hour, an immediate welcome (the gate's shape)"),
    Member("shop-day", HERE / "shop-day.toml", "100k list, sign-ups 3,000/h, API orders 9,000/h, a windowed "
           "welcome, an opened chain, a pause"),
    Member("shop-replay", HERE / "shop-replay.toml", "the shop day as an export: 200k sign-ups, ~100k API calls"),
    Member("newsletter", BENCH / "newsletter.toml", "50k list x 9 d: not_opened nudges, a weekly VIP repeat"),
    Member("birthday", HERE / "birthday.toml", "anniversary (offset_days = -1) over 400 days of a 1M list"),
    Member("fields-groups", HERE / "fields-groups.toml", "field_updated and group_added from replayed "
           "set_field / add_to_group rows"),
    Member("repeats", HERE / "repeats.toml", "an hourly and a daily repeat on a growing list, 3 days"),
    Member("month", BENCH / "month.toml", "1M list x 30 d: welcome, nudge, birthday, VIP, opened chain"),
    Member("shop-smtp", HERE / "shop-day.toml", "the shop day's first 2 h through SMTP to the local sink",
           ("--set", "smtp=true", *("--set", 'duration="2h"', "--set", "action=[]", "--set", "expect=[]")),
           gated=False),
    Member("shop-real", HERE / "shop-day.toml", "the shop day's first 2 h on the real clock at time scale 0.001",
           ("--clock", "real", "--time-scale", "0.001",
            *("--set", 'duration="2h"', "--set", "action=[]", "--set", "expect=[]")), gated=False),
)
