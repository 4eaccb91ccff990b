"""A validated scenario model as the `RunSpec` the simulator runs.

Durations become seconds and offsets absolute instants; the checks that span
keys (an automation named by an action or a load exists, `end_at` after the
start, a replay file scanned) are made here, each failing with one
`ValueError` naming the key path. `loader.py` turns it into a `ScenarioError`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core import (
    AddToGroup,
    AutomationConfig,
    CancelSchedule,
    ConfigError,
    Delay,
    Delete,
    DeletePending,
    DeleteSubscriber,
    Duplicates,
    Edit,
    End,
    Filter,
    HardBounce,
    Pause,
    PendingQuery,
    QueryPending,
    Repeat,
    Resume,
    Schedule,
    SendNow,
    SendWindow,
    SetField,
    Start,
    Trigger,
    Unsubscribe,
)
from core.instants import zone
from sim.behaviour import BehaviourSpec
from sim.expectations import RUN_METRICS, known_metric, metric_names
from sim.files import FileRefused, confined
from sim.population import DOMAINS, PopulationSpec
from sim.replay import ReplayError, scan
from sim.replay_landing import alignment, anchor, check_peak, refuse_outside
from sim.scenarios.model import (
    MAX_DURATION,
    MAX_OFFSET,
    YEARS,
    ActionModel,
    AutomationModel,
    BehaviourModel,
    CrashModel,
    Duration,
    ExpectModel,
    LoadModel,
    PopulationModel,
    QuantilesModel,
    ScenarioModel,
    SettingsModel,
    did_you_mean,
    parse_duration,
    parse_rate,
)
from sim.spec import Action, ActionSpec, ApiCall, CrashSpec, Expect, LoadSpec, ReplaySpec, RunSpec, Snapshot, Who
from sim.transport import TransportSpec


def to_delay(seconds: float) -> Delay:
    """A duration as the core's Delay: days and weeks are calendar steps (docs/rules.md)."""
    for unit, size in (("weeks", 604800), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds and seconds % size == 0:
            return Delay(int(seconds // size), unit)
    return Delay(round(seconds), "seconds")


def _duration(value: Any, where: str, allow_zero: bool = False) -> float:
    try:
        return parse_duration(value, allow_zero=allow_zero)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def build(m: ScenarioModel, name: str, roots: tuple[Path, ...] = ()) -> RunSpec:
    """The validated model as a `RunSpec`: the checks that span keys, and durations as seconds."""
    zone(m.timezone, "timezone")
    if m.start.tzinfo is None:
        raise ValueError("start: needs a UTC offset, e.g. 2026-03-02T08:00:00+09:00")
    if not YEARS[0] <= m.start.year <= YEARS[1]:
        raise ValueError(f"start: a year between {YEARS[0]} and {YEARS[1]}, got {m.start.year}")
    duration = _duration(m.duration, "duration")
    if duration > MAX_DURATION:
        raise ValueError(f"duration: at most {MAX_DURATION // 86400} days")
    ids = [a.id for a in m.automation]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"automation.id: {sorted(dupes)[0]!r} is used twice")
    t0 = m.start.timestamp()
    automations = [_automation(a, f"automation[{i}]", m.timezone) for i, a in enumerate(m.automation)]
    initial = [_initial(a, f"automation[{i}]", t0, i - len(ids)) for i, a in enumerate(m.automation)]
    actions = [spec for spec in initial if spec is not None]
    actions += [action_spec(act, f"action[{i}]", ids, duration, m.timezone, t0, i) for i, act in enumerate(m.action)]
    expects = [_expect(e, f"expect[{i}]", ids, duration) for i, e in enumerate(m.expect)]
    actions += [ActionSpec(Snapshot(t0 + e.at, f"expect[{i}]"), index=10_000 + i)
                for i, e in enumerate(expects) if e.at is not None]
    b, d = m.behaviour, m.dispatcher
    if d.partitions > 1:
        _check_partitioned(m)
    return RunSpec(
        name=m.name, seed=m.seed, start=m.start, duration=duration, timezone=m.timezone, clock=m.clock,
        time_scale=m.time_scale, tick=_duration(d.tick, "dispatcher.tick"), smtp=m.smtp,
        population=_population(m.population),
        behaviour=_behaviour(b),
        transport=_transport(m, t0),
        automations=tuple(automations),
        loads=tuple(_load(load, f"load[{i}]", ids, (t0, duration, m.timezone), Path(name).parent, roots)
                    for i, load in enumerate(m.load)),
        actions=tuple(sorted(actions, key=lambda x: (x.at, x.index))),
        expects=tuple(expects),
        crashes=tuple(_crash(c, f"faults.crash[{i}]", ids) for i, c in enumerate(m.faults.crash)),
        source=name, partitions=d.partitions)


def _check_partitioned(m: ScenarioModel) -> None:
    """What a partitioned run cannot do: pick among the whole list or a whole pending list by position.

    Each partition keeps its own pending lists, so an operator's page (the first 20 by due time), a count
    of entries, ticked entry numbers or the first N subscribers with a field value span partitions; such
    an action is refused rather than decided per partition (docs/scale.md)."""
    why = "with dispatcher.partitions > 1 each partition has its own pending lists"
    for i, act in enumerate(m.action):
        where = f"action[{i}]"
        if act.do == "pending.query":
            raise ValueError(f"{where}.do: a saved page of the pending list spans partitions ({why}); "
                             "save pages in a run with partitions = 1")
        if act.do in ("pending.send_now", "pending.delete") and act.select != "all":
            raise ValueError(f"{where}.select: only 'all' ({why}; {act.select!r} picks entries by position)")
        if act.who is not None and act.who.count and (act.who.field is not None or act.who.pending_of):
            raise ValueError(f"{where}.who.count: the first {act.who.count} span partitions ({why}); "
                             "use count = 0 (all of them) or emails")


def _delay(value: Duration | QuantilesModel, where: str) -> tuple[float, tuple[float, ...] | None]:
    """(mean, quantiles): a duration is the mean of an exponential; quantiles are used as they are."""
    if not isinstance(value, QuantilesModel):
        return _duration(value, where), None
    q = tuple(_duration(v, f"{where}.quantiles[{i}]", allow_zero=True) for i, v in enumerate(value.quantiles))
    if any(b < a for a, b in itertools.pairwise(q)):
        raise ValueError(f"{where}.quantiles: must not decrease")
    if not q[-1] > 0:
        raise ValueError(f"{where}.quantiles: the last must be positive")
    return float(np.mean(np.interp(np.linspace(0, 1, 1001), np.linspace(0, 1, len(q)), q))), q


def _behaviour(b: BehaviourModel) -> BehaviourSpec:
    open_mean, open_q = _delay(b.open_after, "behaviour.open_after")
    click_mean, click_q = _delay(b.click_after, "behaviour.click_after")
    return BehaviourSpec(b.open, open_mean, b.click, click_mean, b.unsubscribe, tuple(b.links), open_q, click_q)


def _population(p: PopulationModel) -> PopulationSpec:
    emails = [k.email.lower() for k in p.subscribers]
    if len(set(emails)) != len(emails):
        raise ValueError("population.subscribers: an email is listed twice")
    if p.locale not in DOMAINS:
        raise ValueError(f"population.locale: unsupported {p.locale!r}")
    groups = dict.fromkeys(p.groups, 0.1) if isinstance(p.groups, list) else dict(p.groups)
    return PopulationSpec(p.size, p.locale, {str(k): v for k, v in p.status.items()},
                          dict(p.fields), groups, tuple(k.model_dump() for k in p.subscribers))


def _load(load: LoadModel, where: str, ids: list[str], run: tuple[float, float, str], base: Path,
          roots: tuple[Path, ...]) -> LoadSpec:
    t0, duration, timezone = run
    if load.automation is not None and load.automation not in ids:
        raise ValueError(f"{where}.automation: no automation called {load.automation!r}"
                         + did_you_mean(load.automation, ids))
    start = _duration(load.from_, f"{where}.from", allow_zero=True)
    until = _duration(load.until, f"{where}.until") if load.until is not None else None
    if start > duration:
        raise ValueError(f"{where}.from: lies after the end of the run")
    if until is not None and until <= start:
        raise ValueError(f"{where}.until: must lie after 'from'")
    try:
        rate = parse_rate(load.rate) if load.rate is not None else None
    except ValueError as err:
        raise ValueError(f"{where}.rate: {err}") from None
    replay = None
    if load.kind == "replay" and load.file is not None:
        try:
            path = confined(load.file, base, roots)
            info = scan(path)
        except (ReplayError, FileRefused) as err:
            raise ValueError(f"{where}.file: {err}") from None
        align = alignment(load.align, info, f"{where}.align")
        check_peak(info, load.speed, load.scale, where)
        if info.kinds["api"] and not load.automation and "automation" not in info.columns:
            raise ValueError(f"{where}.automation: {path} has api rows: name the automation they call")
        at = anchor(align, info, t0 + start, timezone)
        replay = ReplaySpec(path, load.speed, load.scale, align, info, None if at is None else at - t0)
        stop = duration if until is None else min(until, duration)
        refuse_outside(replay, where, t0, (t0 + start, t0 + stop), timezone)
    return LoadSpec(load.kind, start, until, rate, load.count, load.automation, load.source, replay)


def _expect(e: ExpectModel, where: str, ids: list[str], duration: float) -> Expect:
    head = e.metric.split(".")[0]
    if head not in ids and head not in RUN_METRICS:
        raise ValueError(f"{where}.metric: {e.metric!r} names no automation" + did_you_mean(head, ids))
    if not known_metric(e.metric, ids):
        raise ValueError(f"{where}.metric: no metric called {e.metric!r}"
                         + did_you_mean(e.metric, metric_names(ids)))
    when: float | None = None
    if e.at is not None:
        when = _duration(e.at, f"{where}.at", allow_zero=True)
        if when > duration:
            raise ValueError(f"{where}.at: lies after the end of the run")
        if head not in ids:
            raise ValueError(f"{where}.at: only automation metrics can be checked mid-run")
    return Expect(e.metric, e.op, e.value, when)


def _crash(c: CrashModel, where: str, ids: list[str]) -> CrashSpec:
    if c.actor not in ids and c.actor != "dispatcher":
        raise ValueError(f"{where}.actor: no actor called {c.actor!r}")
    if (c.at is None) == (c.every is None):
        raise ValueError(f"{where}: give 'at' or 'every'")
    return CrashSpec(c.actor, _duration(c.at, f"{where}.at", True) if c.at is not None else None, c.every)


def _transport(m: ScenarioModel, t0: float) -> TransportSpec:
    f, d, b = m.faults, m.dispatcher, m.behaviour
    windows = []
    for i, span in enumerate(f.transport_down):
        if len(span) != 2:
            raise ValueError(f"faults.transport_down[{i}]: expected [from, until]")
        lo = _duration(span[0], f"faults.transport_down[{i}]", True)
        hi = _duration(span[1], f"faults.transport_down[{i}]")
        windows.append((t0 + lo, t0 + hi))
    spikes = []
    for i, spike in enumerate(f.latency_spikes):
        if len(spike) != 3 or isinstance(spike[2], str) or not float(spike[2]) > 0:
            raise ValueError(f"faults.latency_spikes[{i}]: expected [from, until, factor > 0]")
        lo = _duration(spike[0], f"faults.latency_spikes[{i}]", True)
        hi = _duration(spike[1], f"faults.latency_spikes[{i}]")
        spikes.append((t0 + lo, t0 + hi, float(spike[2])))
    backoff = _duration(f.backoff, "faults.backoff")
    if backoff * (2 ** f.retries - 1) > MAX_OFFSET:  # the retries double it: the last must still be a date
        raise ValueError(f"faults.backoff: with {f.retries} retries doubling from {f.backoff!r}, the last retry "
                         "would come more than 100 years after the first attempt")
    return TransportSpec(d.rate, _duration(d.latency, "dispatcher.latency", True), d.latency_sigma,
                         b.soft_bounce, b.hard_bounce, windows, f.transient, f.permanent, f.retries,
                         backoff, spikes)


def _initial(a: AutomationModel, where: str, t0: float, index: int) -> ActionSpec | None:
    """The automation's own `start` or `schedule`, as the first action of the run."""
    if a.start is not None and a.schedule is not None:
        raise ValueError(f"{where}: give 'start' or 'schedule', not both")
    end_at = _duration(a.end_at, f"{where}.end_at") if a.end_at is not None else None
    if a.start is None and a.schedule is None:
        if end_at is not None:
            raise ValueError(f"{where}.end_at: needs 'start' or 'schedule'")
        return None
    begins = _duration(a.start, f"{where}.start", allow_zero=True) if a.start is not None \
        else _duration(a.schedule, f"{where}.schedule")
    if end_at is not None and end_at <= begins:
        which = f"start = {a.start!r}" if a.start is not None else f"schedule = {a.schedule!r}"
        raise ValueError(f"{where}.end_at: {a.end_at!r} must lie after the automation's own start ({which})")
    end = None if end_at is None else t0 + end_at
    command: Start | Schedule = Start(t0 + begins, end) if a.start is not None else Schedule(t0, t0 + begins, end)
    return ActionSpec(command, a.id, index=index)


def _automation(a: AutomationModel, where: str, default_tz: str) -> AutomationConfig:
    if (a.trigger is None) == (a.triggers is None):
        raise ValueError(f"{where}: give 'trigger' or 'triggers'")
    tz = a.timezone or default_tz
    try:
        return AutomationConfig(id=a.id, timezone=tz, **_settings(a, set(SettingsModel.model_fields), where, tz))
    except ConfigError as err:
        raise ValueError(f"{where}.{err.field}: {err.problem}") from None


def _triggers(m: SettingsModel, where: str) -> tuple[Trigger, ...]:
    specs = [m.trigger] if m.trigger is not None else list(m.triggers or [])
    triggers = []
    for i, spec in enumerate(specs):
        spec = dict(spec)
        key = f"{where}.trigger" if m.trigger is not None else f"{where}.triggers[{i}]"
        if "within" in spec:
            spec["within"] = _duration(spec["within"], f"{key}.within")
        try:
            triggers.append(Trigger.of(spec, key))
        except ConfigError as err:
            raise ValueError(f"{err.field}: {err.problem}") from None
    return tuple(triggers)


EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _window(w: dict[str, Any], where: str, tz: str) -> SendWindow:
    unknown = set(w) - {"days", "from", "to"}
    if unknown:
        raise ValueError(f"{where}.window.{sorted(unknown)[0]}: unknown key"
                         + did_you_mean(sorted(unknown)[0], ["days", "from", "to"]))
    if "from" not in w or "to" not in w:
        raise ValueError(f"{where}.window: needs 'from' and 'to'")
    if "days" not in w and " " in str(w["from"]).strip():  # a weekly span: "fri 18:00" to "mon 09:00"
        return SendWindow.span(str(w["from"]), str(w["to"]), tz)
    days = w.get("days", EVERY_DAY)  # no `days`: every day
    if not isinstance(days, list):
        raise ValueError(f"{where}.window.days: expected a list such as ['mon', 'tue']")
    return SendWindow.daily(days, str(w["from"]), str(w["to"]), tz)


def _duplicates(dup: dict[str, Any], where: str) -> Duplicates:
    unknown = set(dup) - {"allow", "cooldown"}
    if unknown:
        raise ValueError(f"{where}.duplicates.{sorted(unknown)[0]}: unknown key")
    return Duplicates(bool(dup.get("allow", False)),
                      _duration(dup.get("cooldown", 0), f"{where}.duplicates.cooldown", True))


def _repeat(text: str, where: str) -> Repeat:
    named = text in ("daily", "weekly", "monthly", "yearly")
    return Repeat(text if named else _duration(text, f"{where}.repeat"))


def _settings(m: SettingsModel, keys: set[str], where: str, tz: str) -> dict[str, Any]:
    """The `AutomationConfig` fields that the given file keys set (the keys of an edit, or all)."""
    out: dict[str, Any] = {}
    if keys & {"trigger", "triggers"}:
        if m.trigger is not None and m.triggers is not None:
            raise ValueError(f"{where}: give 'trigger' or 'triggers', not both")
        out["triggers"] = _triggers(m, where)
    if keys & {"filter", "filter_combine"}:
        out["filter"] = Filter.of(m.filter, m.filter_combine) if m.filter is not None else None  # type: ignore[arg-type]
    if "delay" in keys:
        out["delay"] = to_delay(_duration(m.delay, f"{where}.delay", allow_zero=True))
    if "window" in keys:
        out["window"] = _window(dict(m.window), where, tz) if m.window is not None else None
    if "repeat" in keys:
        out["repeat"] = _repeat(m.repeat, where) if m.repeat is not None else None
    if "duplicates" in keys:
        out["duplicates"] = _duplicates(m.duplicates or {}, where)
    out.update({k: getattr(m, k) for k in ("combine", "subject", "sender", "api_limit") if k in keys})
    return out


_NEEDS_AUTOMATION = {"start", "schedule", "cancel_schedule", "pause", "resume", "end", "edit", "delete",
                     "api", "pending.query", "pending.send_now", "pending.delete"}
_NEEDS_WHO = {"unsubscribe", "hard_bounce", "delete_subscriber", "set_field", "add_to_group", "api"}
_SIMPLE: dict[str, Callable[[float], Action]] = {
    "cancel_schedule": CancelSchedule, "pause": Pause, "resume": Resume, "end": End, "delete": Delete,
    "unsubscribe": Unsubscribe, "hard_bounce": HardBounce, "delete_subscriber": DeleteSubscriber,
}

def _select(select: Any) -> Any:
    return tuple(select) if isinstance(select, list) else select


_PENDING: dict[str, Callable[[float, PendingQuery, ActionModel], Action]] = {
    "pending.query": lambda at, q, act: QueryPending(at, q, act.label or ""),
    "pending.send_now": lambda at, q, act: SendNow(at, q, _select(act.select)),
    "pending.delete": lambda at, q, act: DeletePending(at, q, _select(act.select)),
}


def action_spec(act: ActionModel, where: str, ids: list[str], duration: float, tz: str, t0: float,
            index: int) -> ActionSpec:
    offset = _duration(act.at, f"{where}.at", allow_zero=True)
    if offset > duration:
        raise ValueError(f"{where}.at: {act.at!r} lies after the end of the run")
    if act.do in _NEEDS_AUTOMATION and not act.automation:
        raise ValueError(f"{where}.automation: '{act.do}' needs an automation")
    if act.automation is not None and act.automation not in ids:
        raise ValueError(f"{where}.automation: no automation called {act.automation!r}"
                         + did_you_mean(act.automation, ids))
    if act.do in _NEEDS_WHO and act.who is None:
        raise ValueError(f"{where}.who: '{act.do}' needs 'who' (pending_of, emails or field)")
    if act.who is not None and act.who.pending_of is not None and act.who.pending_of not in ids:
        raise ValueError(f"{where}.who.pending_of: no automation called {act.who.pending_of!r}")
    who = None
    if act.who is not None:
        w = act.who
        who = Who(w.pending_of, w.count, tuple(w.emails), w.field, w.value, w.search)
    return ActionSpec(_command(act, where, tz, t0 + offset, t0), act.automation, who, index)


def _command(act: ActionModel, where: str, tz: str, at: float, t0: float) -> Action:
    """The typed command an `[[action]]` stands for (times absolute)."""
    end_at = t0 + _duration(act.end_at, f"{where}.end_at") if act.end_at is not None else None
    query = PendingQuery(act.search, act.field, act.sort, act.page)
    if act.do in _SIMPLE:
        return _SIMPLE[act.do](at)
    if act.do in _PENDING:
        return _PENDING[act.do](at, query, act)
    if act.do == "start":
        return Start(at, end_at)
    if act.do == "schedule":
        if act.schedule_at is None:
            raise ValueError(f"{where}.schedule_at: 'schedule' needs 'schedule_at' (an offset)")
        return Schedule(at, t0 + _duration(act.schedule_at, f"{where}.schedule_at"), end_at)
    if act.do == "edit":
        settings = act.settings or SettingsModel()
        try:
            changes = _settings(settings, settings.model_fields_set, f"{where}.settings", tz)
        except ConfigError as err:
            raise ValueError(f"{where}.settings.{err.field}: {err.problem}") from None
        return Edit(at, changes)
    if act.do == "set_field":
        if not act.field:
            raise ValueError(f"{where}.field: set_field needs 'field' and 'value'")
        return SetField(at, act.field, act.value)
    if act.do == "add_to_group":
        group = act.group or act.value
        if not group:
            raise ValueError(f"{where}.group: add_to_group needs 'group'")
        return AddToGroup(at, str(group))
    return ApiCall(at, dict(act.fields) if act.fields else None)  # "api": the only one left
