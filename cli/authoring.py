"""Helping a scenario author: `dripsim new`, `dripsim explain`, `dripsim schema`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

from core import (
    AddToGroup,
    AutomationConfig,
    CancelSchedule,
    Delete,
    DeletePending,
    DeleteSubscriber,
    Edit,
    End,
    HardBounce,
    Pause,
    QueryPending,
    Resume,
    Schedule,
    SendNow,
    SetField,
    Start,
    Unsubscribe,
)
from core.triggers import Kind, Trigger
from sim.replay_landing import landed, when
from sim.scenarios.lint import Problem
from sim.spec import ActionSpec, ApiCall, LoadSpec, RunSpec, Snapshot

STARTER = """\
# A dripsim scenario: one welcome email on sign-up, and a nudge for those who
# did not open it. Run it with `dripsim run FILE`, read it with
# `dripsim explain FILE`. Every key: docs/scenarios.md, or `dripsim schema`.
name = NAME_HERE
description = "welcome email and a not-opened nudge"
seed = 1
start = "2026-03-02T08:00:00+09:00"   # calendar start, with its UTC offset
duration = "2d"                       # how long the simulated run lasts
timezone = "Asia/Seoul"               # windows and the event log use it

[population]
size = 1000                           # subscribers on the list at the start
groups = { vip = 0.1 }                # 10% are in the group "vip"

[behaviour]
open = 0.4                            # share of delivered mail opened
open_after = "2h"                     # mean delay before an open

[dispatcher]
rate = 20                             # sends per second the engine can hand out
tick = "1m"                           # phase length: coarser is faster, see docs/performance.md

[[automation]]
id = "welcome"
trigger = { kind = "subscriber_added" }
delay = "1h"                          # wait an hour after the sign-up
window = { from = "09:00", to = "21:00" }   # and send only 09:00-21:00 (every day)
subject = "Welcome, $%name%$"
start = "+0s"                         # without start or schedule it stays a draft

[[automation]]
id = "nudge"
trigger = { kind = "not_opened", email = "welcome", within = "1d" }
subject = "Did you miss this, $%name%$?"
start = "+0s"

[[load]]
kind = "subscriber_added"             # sign-ups through the form
rate = "100/h"                        # Poisson arrivals

[[expect]]                            # checked at the end: exit 1 if one fails
metric = "welcome.sent"
op = ">"
value = 0
"""


def starter(name: str) -> str:
    """The commented starter scenario, named `name` (any text: it is written as a TOML string)."""
    return STARTER.replace("NAME_HERE", json.dumps(name, ensure_ascii=False))


# -- explain -----------------------------------------------------------------
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


ALIGNED = {"day": "moved by whole days, each row at its own time of day",
           "from": "the first row at the load's 'from', the rest at their distance from it",
           "absolute": "each row at its own instant"}


def _landing(spec: RunSpec, load: LoadSpec) -> str:
    """Which alignment applies to a replay, and where its first and last rows land."""
    r = load.replay
    assert r is not None
    assert r.info is not None
    t0 = spec.start.timestamp()
    lo, hi = landed(r.info, None if r.landing is None else t0 + r.landing, r.speed)
    stop = spec.duration if load.until is None else min(load.until, spec.duration)
    out = f"align = {r.align!r} ({ALIGNED[r.align]}): rows land {when(lo, spec.timezone)} ({_hours(lo - t0)})"
    out += f" to {when(hi, spec.timezone)} ({_hours(hi - t0)})"
    if lo < t0 + load.start or hi > t0 + stop:
        out += f"; rows outside +{_span(load.start)} to +{_span(stop)} are skipped and counted"
    return out


def _hours(seconds: float) -> str:
    """An offset from the run's start to the minute: +0h12m, -1h00m."""
    sign, minutes = ("-" if seconds < 0 else "+"), int(abs(seconds) // 60)
    return f"{sign}{minutes // 60}h{minutes % 60:02d}m"


def _span(seconds: float) -> str:
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} s"


def _offset(spec: RunSpec, instant: float) -> str:
    return f"+{_span(instant - spec.start.timestamp())}" if instant > spec.start.timestamp() else "at the start"


def _trigger(t: Trigger) -> str:
    k = t.kind
    words = {
        Kind.SUBSCRIBER_ADDED: "a subscriber is added" + (" (form or admin)" if t.include_admin else
                                                          " through the form"),
        Kind.ANNIVERSARY: f"the date in field {t.field!r} comes round"
                          + (f" ({t.offset_days:+d} days)" if t.offset_days else "") + f", at {t.at}",
        Kind.FIELD_UPDATED: f"field {t.field!r} is set to {t.value!r}",
        Kind.GROUP_ADDED: f"a subscriber joins group {t.group!r}",
        Kind.EMAIL_SENT: f"{t.email!r} was sent to them",
        Kind.EMAIL_FAILED: f"{t.email!r} failed for them",
        Kind.OPENED: f"they open {t.email!r}",
        Kind.NOT_OPENED: f"they have not opened {t.email!r} within {_span(t.within)}",
        Kind.CLICKED: f"they click {t.link + ' in ' if t.link else ''}{t.email!r}",
        Kind.NOT_CLICKED: f"they have not clicked {t.link + ' in ' if t.link else ''}{t.email!r} "
                          f"within {_span(t.within)}",
        Kind.API: "an API request names them",
    }
    return words[k]


def _window(config: AutomationConfig) -> str:
    w = config.window
    if w is None:
        return ""
    by_hours: dict[str, list[str]] = {}  # "09:00-21:00" -> the days it opens
    for start, end in w.intervals:
        day, minute = divmod(start, 1440)
        last = end - 1
        hours = (f"{minute // 60:02d}:{minute % 60:02d}-"
                 f"{_DAYS[(last // 1440) % 7] + ' ' if last // 1440 != day else ''}"
                 f"{(last % 1440) // 60:02d}:{last % 60:02d}")
        by_hours.setdefault(hours, []).append(_DAYS[day % 7])
    parts = [f"{'every day' if len(days) == 7 else '/'.join(days)} {hours}" for hours, days in by_hours.items()]
    return f"; sends only {', '.join(parts)} ({w.timezone})"


# Triggers that may come again for the same subscriber: where "once per subscriber" turns some away.
_RECURRING = frozenset({Kind.API, Kind.FIELD_UPDATED, Kind.GROUP_ADDED, Kind.OPENED, Kind.CLICKED})


def automation(config: AutomationConfig) -> str:
    joined = " and " if config.combine == "all" else " or "
    text = f"when {joined.join(_trigger(t) for t in config.triggers)}"
    if config.delay.amount:
        unit = config.delay.unit.rstrip("s") if config.delay.amount == 1 else config.delay.unit
        text += f", waits {config.delay.amount} {unit}"
    text += _window(config)
    if config.filter is not None:
        conds = [" ".join(x for x in (c.field, c.op.replace("_", " "), "" if c.value is None else repr(c.value)) if x)
                 for c in config.filter.conditions]
        text += f"; only if {(' and ' if config.filter.combine == 'all' else ' or ').join(conds)}"
    if config.repeat is not None:
        period = config.repeat.period
        text += f"; repeats {period if isinstance(period, str) else 'every ' + _span(period)}"
    if config.duplicates.allow:
        text += "; may fire again for the same subscriber" + (
            f" after {_span(config.duplicates.cooldown)}" if config.duplicates.cooldown else "")
    elif any(t.kind in _RECURRING for t in config.triggers):
        text += "; fires once per subscriber (duplicates off, the default): later triggers by them are ignored"
    if any(t.kind is Kind.API for t in config.triggers):
        text += f"; takes {config.api_limit} API requests/s" + (" (the default)" if config.api_limit == 3 else "") \
            + ", more are rejected"
    return text + f". Subject: {config.subject!r}."


_VERBS = {Pause: "pause", Resume: "resume", End: "end", Delete: "delete", CancelSchedule: "cancel the schedule of",
          Unsubscribe: "unsubscribe", HardBounce: "hard-bounce", DeleteSubscriber: "delete"}


def _who(action: ActionSpec) -> str:
    w = action.who
    if w is None:
        return ""
    if w.emails:
        return ", ".join(w.emails)
    many = "all" if w.count == 0 else f"{w.count}"
    if w.pending_of:
        return f"the first {many} of {w.pending_of!r}'s pending list"
    if w.field:
        return f"{many} subscribers with {w.field} = {w.value!r}"
    return f"{many} subscribers"


def _action(spec: RunSpec, a: ActionSpec) -> str | None:
    c, name = a.command, repr(a.automation)
    when = _offset(spec, a.at)
    if isinstance(c, Snapshot):
        return None
    if isinstance(c, Start):
        end = f", ending {_offset(spec, c.end_at)}" if c.end_at is not None else ""
        return f"{when}: start {name}{end}"
    if isinstance(c, Schedule):
        return f"{when}: schedule {name} to start {_offset(spec, c.start_at)}"
    if isinstance(c, Edit):
        return f"{when}: edit {name} ({', '.join(sorted(c.changes))})"
    if isinstance(c, (QueryPending, SendNow, DeletePending)):
        verb = {QueryPending: "look at", SendNow: "send now", DeletePending: "delete"}[type(c)]
        q = c.query
        return (f"{when}: {verb} {a.automation}'s pending list (page {q.page}, {q.sort}"
                + (f", search {q.search!r}" if q.search else "") + ")")
    if isinstance(c, SetField):
        return f"{when}: set {c.field} = {c.value!r} for {_who(a)}"
    if isinstance(c, AddToGroup):
        return f"{when}: add {_who(a)} to group {c.group!r}"
    if isinstance(c, ApiCall):
        return f"{when}: API request to {name} for {_who(a)}"
    verb = _VERBS.get(type(c), type(c).__name__.lower())
    return f"{when}: {verb} {name if a.automation else _who(a)}"


def explain(spec: RunSpec, problems: list[Problem]) -> Iterator[str]:
    end = spec.start + timedelta(seconds=spec.duration)
    yield (f"{spec.name} ({spec.source}): {_fmt(spec.start)} to {_fmt(end)}, {_span(spec.duration)} on the "
           f"{spec.clock} clock, seed {spec.seed}, times in {spec.timezone}.")
    p = spec.population
    extra = ""
    if p.groups:
        extra += "; groups " + ", ".join(f"{g} {share:.0%}" for g, share in p.groups.items())
    if p.fields:
        extra += "; fields " + ", ".join(p.fields)
    yield f"Population: {p.size:,} subscribers ({p.locale}){extra}" + (
        f", plus {len(p.known)} named" if p.known else "") + "."
    t = spec.transport
    yield (f"Dispatcher: up to {t.rate:g} sends/s, transport latency {t.latency * 1000:g} ms median, "
           f"decisions every {_span(spec.tick)}.")
    yield "Automations:"
    for config in spec.automations:
        yield f"  {config.id}: {automation(config)}"
    if spec.loads:
        yield "Load:"
        for load in spec.loads:
            if load.replay is not None and load.replay.info is not None:
                r, info = load.replay, load.replay.info
                kinds = ", ".join(f"{n:,} {k}" for k, n in info.kinds.items() if n)
                yield (f"  replay of {r.file} ({info.rows:,} rows: {kinds}), "
                       f"{r.speed:g}x as fast, each row x{r.scale:g}")
                yield f"    {_landing(spec, load)}"
                continue
            what = "sign-ups" if load.kind == "subscriber_added" else f"API requests to {load.automation!r}"
            how = f"{load.rate * 3600:g}/h (Poisson)" if load.rate is not None else f"{load.count:,} at once"
            span = f" from +{_span(load.start)}" if load.start else ""
            span += f" until +{_span(load.until)}" if load.until is not None else ""
            yield f"  {what}: {how}{span}"
    lines = [line for a in spec.actions if (line := _action(spec, a)) is not None]
    if lines:
        yield "Timeline:"
        yield from (f"  {line}" for line in lines)
    if spec.expects:
        yield "Expectations (exit 1 if one fails):"
        for e in spec.expects:
            yield f"  {e.metric} {e.op} {e.value:g}" + (f" at +{_span(e.at)}" if e.at is not None else " at the end")
    for problem in problems:
        yield f"{problem.level}: {problem.where}: {problem.message}"


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %z")

