"""Scenario lint: what is valid TOML and valid settings, yet makes a scenario meaningless.

`load()` refuses what cannot be run at all. `lint()` looks at the scenario as
a whole and finds what would run and say nothing: an automation never
started, a trigger waiting for an email no automation sends, a filter on a
field nobody has, a load nobody listens to, an expectation on a metric that
does not exist. Errors make the scenario wrong (exit 2 before any time is
spent); warnings may be meant (a draft left as a draft to show it sends
nothing) and are printed, kept in `summary.json`, and made errors by
`--strict`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from core import AddToGroup, AutomationConfig, Edit, Schedule, SetField, Start
from core.triggers import EMAIL_KINDS, Kind, Trigger
from sim.replay_landing import landed, when
from sim.scenarios.model import did_you_mean as _did_you_mean
from sim.spec import ApiCall, LoadSpec, RunSpec
from sim.transport import MAX_LATENCY

# A note says what a setting will do to a load (the product's defaults turning calls away): printed and
# kept like a warning, never made an error by --strict, since a scenario may mean it (T6 shown on purpose).
Level = Literal["error", "warning", "note"]

ANY_GROUP = "\x00any"  # a replay adds to groups its file names: any group may exist
# Fields every subscriber has without the scenario declaring them.
BUILTIN_FIELDS = frozenset({"name"})
GROUP_OPS = ("in_group", "not_in_group")
FIELD_OPS = ("equals", "not_equals", "contains", "is_set")  # the operators that read their field (core.filters)


@dataclass(frozen=True, slots=True)
class Problem:
    level: Level
    where: str  # key path in the file, e.g. automation[1].trigger.email
    message: str

    def line(self, source: str) -> str:
        return f"{source}: {self.where}: {self.message}"


def lint(spec: RunSpec) -> list[Problem]:
    """Every problem found, errors first, each in file order."""
    found = [*_never_started(spec), *_email_sources(spec), *_fields_and_groups(spec),
             *_unheard_loads(spec), *_held_latencies(spec), *_api_defaults(spec), *_replays_outside(spec)]
    return [p for level in ("error", "warning", "note") for p in found if p.level == level]


def _settings(spec: RunSpec) -> Iterator[tuple[str, str, AutomationConfig | dict[str, Any]]]:
    """(key path, automation id, settings) for every automation and every edit of one."""
    for i, config in enumerate(spec.automations):
        yield f"automation[{i}]", config.id, config
    for action in spec.actions:
        if isinstance(action.command, Edit) and action.automation is not None:
            yield f"action[{action.index}].settings", action.automation, dict(action.command.changes)


def _triggers(settings: AutomationConfig | dict[str, Any]) -> tuple[Trigger, ...]:
    if isinstance(settings, AutomationConfig):
        return settings.triggers
    return tuple(settings.get("triggers", ()))


def _trigger_key(where: str, settings: AutomationConfig | dict[str, Any], i: int) -> str:
    return f"{where}.trigger" if len(_triggers(settings)) == 1 else f"{where}.triggers[{i}]"


def _never_started(spec: RunSpec) -> Iterator[Problem]:
    started = {a.automation for a in spec.actions if isinstance(a.command, (Start, Schedule))}
    for i, config in enumerate(spec.automations):
        if config.id not in started:
            yield Problem("warning", f"automation[{i}]", f"{config.id!r} is never started or scheduled, "
                          "so it stays a draft and sends nothing (add start = \"+0s\")")


def _email_sources(spec: RunSpec) -> Iterator[Problem]:
    ids = [c.id for c in spec.automations]
    for where, _, settings in _settings(spec):
        for i, trigger in enumerate(_triggers(settings)):
            if trigger.kind in EMAIL_KINDS and trigger.email not in ids:
                yield Problem("error", f"{_trigger_key(where, settings, i)}.email",
                              f"no automation called {trigger.email!r}, so this trigger never fires"
                              + did_you_mean(trigger.email, ids))


def _known(spec: RunSpec) -> tuple[set[str], set[str]]:
    """The fields and groups a subscriber of this run can have."""
    p = spec.population
    fields = set(BUILTIN_FIELDS) | set(p.fields)
    groups = set(p.groups)
    for known in p.known:
        fields |= {k for k in known if k not in ("email", "status", "groups")}
        groups |= set(known.get("groups", ()))
    for action in spec.actions:
        if isinstance(action.command, SetField):
            fields.add(action.command.field)
        elif isinstance(action.command, AddToGroup):
            groups.add(action.command.group)
    for load in spec.loads:  # a replay's extra columns are fields; its group rows may name any group
        info = load.replay.info if load.replay is not None else None
        if info is not None:
            fields |= set(info.columns) - {"time", "kind", "email", "automation", "group"}
            if info.kinds["add_to_group"]:
                groups.add(ANY_GROUP)
    return fields, groups


def _fields_and_groups(spec: RunSpec) -> Iterator[Problem]:
    fields, groups = _known(spec)
    for where, _, settings in _settings(spec):
        flt = settings.filter if isinstance(settings, AutomationConfig) else settings.get("filter")
        for i, c in enumerate(flt.conditions if flt is not None else ()):
            key = f"{where}.filter" + (f"[{i}]" if len(flt.conditions) > 1 else "")  # type: ignore[union-attr]
            if c.op in GROUP_OPS and str(c.value) not in groups and ANY_GROUP not in groups:
                yield Problem("error", f"{key}.value", f"no group called {c.value!r} in the population or "
                              "any add_to_group action" + did_you_mean(str(c.value), groups))
            elif c.op in FIELD_OPS and c.field not in fields:  # other operators ignore a field they name
                hint = (f"; group membership is {{ op = \"in_group\", value = {json.dumps(str(c.value))} }}"
                        if c.field in ("group", "groups") and c.op in ("equals", "contains") else "")
                yield Problem("error", f"{key}.field", f"no field called {c.field!r} in the population or "
                              "any set_field action" + (hint or did_you_mean(c.field, fields)))
        for i, t in enumerate(_triggers(settings)):
            key = _trigger_key(where, settings, i)
            if t.kind in (Kind.ANNIVERSARY, Kind.FIELD_UPDATED) and t.field not in fields:
                yield Problem("error", f"{key}.field", f"no field called {t.field!r} in the population or "
                              "any set_field action" + did_you_mean(t.field, fields))
            if t.kind is Kind.GROUP_ADDED and t.group not in groups and ANY_GROUP not in groups:
                yield Problem("warning", f"{key}.group", f"no add_to_group action adds to {t.group!r}, "
                              "so this trigger never fires" + did_you_mean(t.group, groups))
    for action in spec.actions:
        who = action.who
        if who is not None and who.field is not None and who.field not in fields:
            yield Problem("error", f"action[{action.index}].who.field", f"no field called {who.field!r} in "
                          "the population or any set_field action" + did_you_mean(who.field, fields))


def _listens(spec: RunSpec, kind: Kind, automation: str | None = None) -> bool:
    return any(t.kind is kind for _, aid, settings in _settings(spec)
               if automation is None or aid == automation for t in _triggers(settings))


def _unheard_loads(spec: RunSpec) -> Iterator[Problem]:
    for i, load in enumerate(spec.loads):
        kinds = [load.kind]
        if load.replay is not None and load.replay.info is not None:  # the kinds of trigger its rows raise
            kinds = [k for k in ("subscriber_added", "api") if load.replay.info.kinds[k]]
        for kind in kinds:
            automation = load.automation if kind == "api" else None
            if not _listens(spec, Kind(kind), automation):
                whom = f"automation {automation!r} has no" if automation else "no automation has a"
                yield Problem("warning", f"load[{i}].kind", f"{whom} {kind} trigger, so this load's "
                              f"{kind} arrivals trigger nothing")
    for action in spec.actions:
        if isinstance(action.command, ApiCall) and not _listens(spec, Kind.API, action.automation):
            yield Problem("warning", f"action[{action.index}].do", f"automation {action.automation!r} has no "
                          "api trigger, so this request triggers nothing")


NOTABLE = 0.01  # a share of a load that a setting will turn away, worth a warning


def _api_defaults(spec: RunSpec) -> Iterator[Problem]:
    """API loads that a duplicates setting or the API rate limit will largely turn away (T5, T6): the
    defaults are the product's (once per subscriber, 3 requests/s); being silent about them is not."""
    configs = {c.id: c for c in spec.automations}
    arrivals = sum((x.rate or 0) * ((x.until or spec.duration) - x.start) + (x.count or 0)
                   for x in spec.loads if x.kind == "subscriber_added")
    listed = spec.population.size + arrivals / 2  # the list's mean size over the run
    for i, load in enumerate(spec.loads):
        config = configs.get(load.automation or "")
        if load.kind != "api" or config is None or not (load.rate or load.count):
            continue
        calls = load.count or (load.rate or 0) * ((load.until or spec.duration) - load.start)
        default = " (the default)" if config.api_limit == 3 else ""
        limited = _rejected_share(load, config.api_limit)
        if limited > NOTABLE:
            yield Problem("note", f"load[{i}].rate", f"about {limited:.0%} of these {calls:,.0f} API calls will be "
                          f"rejected as rate_limited: {config.id!r} takes {config.api_limit} requests/s{default} "
                          f"and this load's peaks pass it (raise api_limit)")
        if not config.duplicates.allow and listed > 0:
            distinct = listed * -math.expm1(-calls / listed)  # a random subscriber per call
            again = 1 - distinct / calls
            if again > NOTABLE:
                yield Problem("note", f"load[{i}].automation", f"about {again:.0%} of these {calls:,.0f} API calls "
                              f"name a subscriber who already fired {config.id!r}, which allows no duplicates "
                              "(the default: once per subscriber), so they are ignored as duplicates (add "
                              "duplicates = { allow = true } to that automation)")


def _rejected_share(load: LoadSpec, limit: int) -> float:
    """The expected share of a load's API calls over `limit` in any one-second window (T6): a burst's
    excess; for Poisson calls, the limit is a loss system whose servers are the window's `limit` places,
    each held one second by an accepted call, so the share refused is Erlang's B (any holding time)."""
    if load.count:
        return max(0.0, 1 - limit / load.count)
    offered = float(load.rate or 0)  # calls per window
    if offered <= 0 or limit > offered + 12 * math.sqrt(offered) + 12:  # past 12 sigma: nothing to count
        return 0.0
    blocked = 1.0
    for k in range(1, limit + 1):
        blocked = offered * blocked / (k + offered * blocked)
    return blocked


def _held_latencies(spec: RunSpec) -> Iterator[Problem]:
    """A latency the transport would hold at its ceiling is a value the engine changes: said, not hidden."""
    median = spec.transport.latency
    for i, (_, _, factor) in enumerate(spec.transport.latency_spikes):
        if median * factor >= MAX_LATENCY:
            yield Problem("warning", f"faults.latency_spikes[{i}]",
                          f"factor {factor:g} makes the median latency {median * factor:.3g} s, past the "
                          f"transport's ceiling of {MAX_LATENCY / 86400:g} days: latencies in this spike are held "
                          "at 30 days")


def _replays_outside(spec: RunSpec) -> Iterator[Problem]:
    """A replay part of whose rows land before its load's `from` or after the run's end: skipped, counted."""
    t0 = spec.start.timestamp()
    for i, load in enumerate(spec.loads):
        r = load.replay
        if r is None or r.info is None:
            continue
        lo, hi = landed(r.info, None if r.landing is None else t0 + r.landing, r.speed)
        start, stop = t0 + load.start, t0 + (spec.duration if load.until is None else min(load.until, spec.duration))
        parts = ([f"before the load's start ({when(start, spec.timezone)})"] if lo < start else []) + (
            [f"after its end ({when(stop, spec.timezone)})"] if hi > stop else [])
        if parts:
            yield Problem("warning", f"load[{i}].file", f"the export's rows land {when(lo, spec.timezone)} to "
                          f"{when(hi, spec.timezone)} (align = {r.align!r}): the rows " + " and ".join(parts)
                          + " will be skipped and counted")


def did_you_mean(key: str, options: Any) -> str:
    return _did_you_mean(key, sorted(options))


__all__ = ["Problem", "did_you_mean", "lint"]
