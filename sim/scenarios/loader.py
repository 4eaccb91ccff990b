"""Scenario files (TOML) into a validated `RunSpec`.

The file format is a contract users write against (docs/scenarios.md).
Every problem becomes one `ScenarioError` line naming the file, the key path
and what is wrong, with "did you mean" for unknown keys. Nothing else escapes
`load()`.
"""

from __future__ import annotations

import difflib
import itertools
import re
import tomllib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator, model_validator

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
from sim.addresses import check_address, check_header_text, check_sender
from sim.behaviour import BehaviourSpec
from sim.expectations import RUN_METRICS, known_metric, metric_names
from sim.population import DOMAINS, PopulationSpec
from sim.replay import ReplayError, scan
from sim.scenarios import shapes
from sim.spec import Action, ActionSpec, ApiCall, CrashSpec, Expect, LoadSpec, ReplaySpec, RunSpec, Snapshot, Who
from sim.transport import TransportSpec

MAX_SUBSCRIBERS = 10_000_000
MAX_DURATION = 400 * 86400
MAX_OFFSET = 100 * 365 * 86400  # any duration or offset: a century (delays, repeats, cooldowns)
MAX_FILE_BYTES = 16 * 2**20  # a scenario file; ten thousand named subscribers fit in a tenth of it
YEARS = (1971, 2200)  # calendar starts: epoch-safe, and a century of offsets still fits datetime
MAX_RATE = 10_000_000
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\+?\s*((?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_RATE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ScenarioError(Exception):
    """A bad scenario: one line, file and key included."""

    def __init__(self, message: str) -> None:
        # One line, whatever the file contains (a key may hold a newline).
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


def parse_duration(text: Any, *, allow_zero: bool = False) -> float:
    """'90s', '15m', '2h', '1d', '1w', '1h30m', '50ms', or '+1h30m' as seconds."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"expected a duration such as '15m', got {text!r}")
    if isinstance(text, (int, float)):
        seconds = float(text)
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            raise ValueError(f"{text!r} is not a duration")
    elif text.strip().startswith("-"):
        raise ValueError(f"must not be negative, got {text!r}")
    else:
        match = _DURATION.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a duration (use e.g. '90s', '15m', '2h', '1d', '1w')")
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(match.group(1)))
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"must be {'zero or ' if allow_zero else ''}positive, got {text!r}")
    if seconds > MAX_OFFSET:
        raise ValueError(f"at most 100 years, got {text!r}")
    return seconds


def parse_rate(text: Any) -> float:
    """'500/h', '10/s', or a number per second."""
    if isinstance(text, bool):
        raise ValueError(f"expected a rate such as '500/h', got {text!r}")
    if isinstance(text, (int, float)):
        rate = float(text)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h|d)\s*", str(text))
        if not m:
            raise ValueError(f"{text!r} is not a rate (use e.g. '500/h' or '10/s')")
        rate = float(m.group(1)) / _RATE_UNITS[m.group(2)]
    if not 0 < rate <= MAX_RATE:
        raise ValueError(f"rate must be positive and at most {MAX_RATE:,}/s, got {text!r}")
    return rate


def to_delay(seconds: float) -> Delay:
    """A duration as the core's Delay: days and weeks are calendar steps (docs/rules.md)."""
    for unit, size in (("weeks", 604800), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds and seconds % size == 0:
            return Delay(int(seconds // size), unit)
    return Delay(round(seconds), "seconds")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Duration = str | int | float


class KnownModel(BaseModel):
    """A subscriber the scenario names: email, optional status and groups, any custom fields."""

    model_config = ConfigDict(extra="allow", frozen=True)
    email: str
    status: Literal["subscribed", "unsubscribed", "auto_deleted", "deleted"] = "subscribed"
    groups: list[str] = []

    @field_validator("email")
    @classmethod
    def _one_address(cls, v: str) -> str:
        return check_address(v)


class PopulationModel(_Model):
    size: int = Field(1000, ge=0, le=MAX_SUBSCRIBERS)
    locale: Literal["ko_KR", "en_US"] = "ko_KR"
    status: dict[Literal["unsubscribed", "auto_deleted", "deleted"], float] = {}
    fields: dict[str, Annotated[list[str], Field(min_length=1)] | Literal["date", "name"]] = {}
    groups: list[str] | dict[str, float] = []
    subscribers: list[KnownModel] = []

    @field_validator("status")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        if any(not 0 <= s <= 1 for s in v.values()) or sum(v.values()) > 1:
            raise ValueError("shares must be between 0 and 1 and add up to at most 1")
        return v

    @field_validator("groups")
    @classmethod
    def _group_shares(cls, v: list[str] | dict[str, float]) -> list[str] | dict[str, float]:
        bad = [g for g, s in v.items() if not 0 <= s <= 1] if isinstance(v, dict) else []  # NaN fails too
        if bad:
            raise ValueError(f"group {bad[0]!r}: a share is between 0 and 1, got {v[bad[0]]!r}")  # type: ignore[call-overload]
        return v


class QuantilesModel(_Model):
    """An empirical delay distribution: delays at evenly spaced shares, 0% to 100% (`dripsim calibrate`)."""

    quantiles: list[Duration] = Field(min_length=2, max_length=1001)


class BehaviourModel(_Model):
    open: float = Field(0.35, ge=0, le=1)
    open_after: Duration | QuantilesModel = "2h"  # a mean (exponential), or quantiles
    click: float = Field(0.1, ge=0, le=1)
    click_after: Duration | QuantilesModel = "10m"
    unsubscribe: float = Field(0.001, ge=0, le=1)
    soft_bounce: float = Field(0.0, ge=0, le=1)
    hard_bounce: float = Field(0.0, ge=0, le=1)
    links: list[str] = ["https://example.com/main", "https://example.com/sale"]

    @model_validator(mode="after")
    def _click_within_open(self) -> BehaviourModel:
        if self.click > self.open:
            raise ValueError("click cannot exceed open (clickers are openers)")
        if self.soft_bounce + self.hard_bounce > 1:
            raise ValueError("soft_bounce + hard_bounce cannot exceed 1")
        return self


class DispatcherModel(_Model):
    rate: float = Field(200, gt=0, le=MAX_RATE)
    latency: Duration = "50ms"
    latency_sigma: float = Field(0.5, ge=0, le=5)
    tick: Duration = "1s"


class SettingsModel(_Model):
    """The keys an automation's settings have, shared by `[[automation]]` and an `edit` action."""

    # Tables the core validates itself; their keys are schema only (`dripsim schema`).
    trigger: Annotated[dict[str, Any] | None, WithJsonSchema(shapes.TRIGGER)] = None
    triggers: Annotated[list[dict[str, Any]] | None,
                        WithJsonSchema({"type": "array", "items": shapes.TRIGGER, "minItems": 1})] = None
    combine: Literal["any", "all"] = "any"
    delay: Duration = "0s"
    window: Annotated[dict[str, Any] | None, WithJsonSchema(shapes.WINDOW)] = None
    repeat: str | None = None
    duplicates: Annotated[dict[str, Any] | None, WithJsonSchema(shapes.DUPLICATES)] = None
    filter: Annotated[dict[str, Any] | list[dict[str, Any]] | None, WithJsonSchema(shapes.FILTER)] = None
    filter_combine: Literal["all", "any"] = "all"
    subject: str = "Hello $%name%$"
    sender: str = "newsletter@example.com"
    api_limit: int = Field(3, ge=1, le=1_000_000)

    @field_validator("subject")
    @classmethod
    def _one_line(cls, v: str) -> str:
        return check_header_text(v)

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        return check_sender(v)


class AutomationModel(SettingsModel):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    start: Duration | None = None
    schedule: Duration | None = None
    end_at: Duration | None = None
    timezone: str | None = None


class LoadModel(_Model):
    kind: Literal["subscriber_added", "api", "replay"]
    rate: str | float | None = None
    count: int | None = Field(None, ge=1, le=MAX_SUBSCRIBERS)
    from_: Duration = Field("+0s", alias="from")
    until: Duration | None = None
    automation: str | None = None
    source: Literal["form", "admin"] = "form"
    file: str | None = None  # replay: CSV, .csv.gz or Parquet, relative to the scenario file
    speed: float = Field(1.0, gt=0, le=1_000_000, allow_inf_nan=False)  # replay: time compression
    scale: float = Field(1.0, gt=0, le=1000, allow_inf_nan=False)  # replay: happenings per row
    align: Literal["start", "absolute"] = "start"

    @model_validator(mode="after")
    def _shape(self) -> LoadModel:
        if self.kind == "replay":
            if not self.file:
                raise ValueError("a replay load needs 'file'")
            if self.rate is not None or self.count is not None:
                raise ValueError("a replay load takes its arrivals from 'file', not 'rate' or 'count'")
            if self.align == "absolute" and self.speed != 1:
                raise ValueError("align = 'absolute' keeps each row's own instant: it cannot also change 'speed'")
            return self
        if self.file is not None:
            raise ValueError("'file' is for kind = 'replay'")
        if self.rate is None and self.count is None:
            raise ValueError("a load needs 'rate' (Poisson) or 'count' (a burst)")
        if self.kind == "api" and not self.automation:
            raise ValueError("an api load needs 'automation'")
        return self


class WhoModel(_Model):
    pending_of: str | None = None
    count: int = Field(1, ge=0, le=MAX_SUBSCRIBERS)
    emails: list[str] = []
    field: str | None = None

    @field_validator("emails")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return [check_address(e) for e in v]
    value: Any = None
    search: str | None = None


ACTIONS = ("start", "schedule", "cancel_schedule", "pause", "resume", "end", "edit", "delete",
           "unsubscribe", "hard_bounce", "delete_subscriber", "set_field", "add_to_group", "api",
           "pending.query", "pending.send_now", "pending.delete")


class ActionModel(_Model):
    at: Duration
    do: Literal[ACTIONS]  # type: ignore[valid-type]
    automation: str | None = None
    who: WhoModel | None = None
    field: str | None = None
    value: Any = None
    group: str | None = None
    fields: dict[str, Any] | None = None
    search: str | None = None
    sort: Literal["asc", "desc"] = "asc"
    page: int = Field(1, ge=1, le=MAX_SUBSCRIBERS)
    select: Annotated[Literal["page", "all"] | int, WithJsonSchema({"anyOf": [{"enum": ["page", "all"]},
                                                           {"type": "integer", "minimum": 1}]})] = "page"
    label: str | None = None
    end_at: Duration | None = None
    schedule_at: Duration | None = None
    settings: SettingsModel | None = None

    @field_validator("select", mode="before")
    @classmethod
    def _selection(cls, v: Any) -> Any:
        if v in ("page", "all") or (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SUBSCRIBERS):
            return v
        raise ValueError(f"expected 'page', 'all' or a count of at least 1, got {v!r}")


class ExpectModel(_Model):
    metric: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float = Field(allow_inf_nan=False)
    at: Duration | None = None


class CrashModel(_Model):
    actor: str
    at: Duration | None = None
    every: int | None = Field(None, ge=1)


class FaultsModel(_Model):
    crash: list[CrashModel] = []
    transport_down: list[list[Duration]] = []  # [from, until] spans where every attempt gets a 4xx
    transient: float = Field(0.0, ge=0, le=1)  # per attempt: SMTP 4xx, retried with backoff
    permanent: float = Field(0.0, ge=0, le=1)  # per attempt: SMTP 5xx, hard failure
    retries: int = Field(3, ge=0, le=20)
    backoff: Duration = "1m"
    latency_spikes: list[list[Duration]] = []  # [from, until, factor]

    @model_validator(mode="after")
    def _rates(self) -> FaultsModel:
        if self.transient + self.permanent > 1:
            raise ValueError("transient + permanent cannot exceed 1")
        return self


class ScenarioModel(_Model):
    name: str
    description: str = ""
    seed: int = Field(0, ge=0, le=2**64 - 1)
    start: datetime
    duration: Duration
    timezone: str = "Asia/Seoul"
    clock: Literal["virtual", "real"] = "virtual"
    time_scale: float = Field(0.001, gt=0, le=10)
    smtp: bool = False
    population: PopulationModel = PopulationModel()
    behaviour: BehaviourModel = BehaviourModel()
    dispatcher: DispatcherModel = DispatcherModel()
    automation: list[AutomationModel] = Field(min_length=1)
    load: list[LoadModel] = []
    action: list[ActionModel] = []
    expect: list[ExpectModel] = []
    faults: FaultsModel = FaultsModel()


def schema() -> dict[str, Any]:
    """The scenario format as JSON Schema (draft 2020-12), for editors that check TOML as it is typed."""
    out = ScenarioModel.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = "dripsim scenario"
    return out


# -- errors as one line ------------------------------------------------------
def _fields_of(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where `loc` points, for "did you mean"."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            return []
        annotation = info.annotation
        current = _model_in(annotation)
    fields = getattr(current, "model_fields", {}) if current is not None else {}
    return [info.alias or name for name, info in fields.items()]


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _one_line(file: str, err: ValidationError) -> str:
    first = err.errors()[0]
    raw = tuple(first["loc"])
    # Drop pydantic's own path parts (union tags, validator wrappers); an unknown key is always
    # the last part and stays, whatever it is called (a key may hold "[").
    loc = tuple(p for p in raw[:-1] if not (isinstance(p, str) and ("[" in p or p.startswith("function"))))
    if raw and (first["type"] == "extra_forbidden"
                or not (isinstance(raw[-1], str) and ("[" in raw[-1] or raw[-1].startswith("function")))):
        loc += raw[-1:]
    if first["type"] == "extra_forbidden" and loc:
        key = str(loc[-1])
        close = difflib.get_close_matches(key, _fields_of(ScenarioModel, loc), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{file}: {_path(loc)}: unknown key{hint}"
    if first["type"] == "missing":
        return f"{file}: {_path(loc)}: required key is missing"
    message = first["msg"].removeprefix("Value error, ")
    return f"{file}: {_path(loc)}: {message}"


# -- building the spec -------------------------------------------------------
def load(path: str | Path, overrides: list[str] | None = None) -> RunSpec:
    """Read, validate and build one scenario file; `overrides` are ``key.path=value``."""
    path = Path(path)
    name = str(path)
    try:
        if path.exists() and not path.is_file():
            raise ScenarioError(f"{name}: not a regular file")
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ScenarioError(f"{name}: cannot read: {err.strerror or err}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MB; a scenario file is settings, "
                            "not data")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{name}: not UTF-8 text (byte {err.start})") from None
    return loads(text, name, overrides)


def loads(text: str, name: str = "<scenario>", overrides: list[str] | None = None) -> RunSpec:
    if not text.strip():
        raise ScenarioError(f"{name}: the file is empty")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{name}: TOML syntax error: {err}") from None
    except RecursionError:
        raise ScenarioError(f"{name}: TOML nested too deeply to be a scenario") from None
    for item in overrides or []:
        _override(data, item, name)
    try:
        model = ScenarioModel.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_one_line(name, err)) from None
    try:
        return _build(model, name)
    except ConfigError as err:
        raise ScenarioError(f"{name}: {err.field}: {err.problem}") from None
    except ValueError as err:
        raise ScenarioError(f"{name}: {err}") from None


_SEGMENT = re.compile(r"([^.\[\]\s]+)((?:\[\d+\])*)")


def _key_parts(key: str, where: str) -> list[str | int]:
    """``automation[0].delay`` or ``automation.welcome.delay`` as ['automation', 0, 'delay']."""
    parts: list[str | int] = []
    for segment in key.strip().split("."):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise ScenarioError(f"{where}: {segment!r} is not a key (use e.g. dispatcher.rate, "
                                "automation.welcome.delay or automation[0].delay)")
        parts.append(match.group(1))
        parts += [int(n) for n in re.findall(r"\d+", match.group(2))]
    return parts


def _entry(items: list[Any], part: str | int, where: str) -> Any:
    """One entry of an array of tables: by position, or the one whose `id` is `part`."""
    if isinstance(part, str):
        found = next((x for x in items if isinstance(x, dict) and x.get("id") == part), None)
        if found is not None:
            return found
        if not part.isdigit():
            ids = [str(x["id"]) for x in items if isinstance(x, dict) and "id" in x]
            raise ScenarioError(f"{where}: no entry with id {part!r}" + _did_you_mean(part, ids))
        part = int(part)
    if part >= len(items):
        raise ScenarioError(f"{where}: no entry [{part}] (there are {len(items)})")
    return items[part]


def _override(data: dict[str, Any], item: str, name: str) -> None:
    """``dispatcher.rate=400``, ``automation.welcome.delay="2h"`` or ``automation[0].delay="2h"``
    (TOML value syntax; a bare word is taken as a string)."""
    if "=" not in item:
        raise ScenarioError(f"{name}: --set {item!r}: expected key.path=value")
    key, value_text = item.split("=", 1)
    where = f"{name}: --set {key.strip()}"
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text
    parts = _key_parts(key, where)
    target: Any = data
    for part in parts[:-1]:
        if isinstance(target, list):
            target = _entry(target, part, where)
        elif isinstance(target, dict) and isinstance(part, str):
            target = target.setdefault(part, {})
        else:
            raise ScenarioError(f"{where}: {part!r} cannot be looked up in {_shown(target)}")
    last = parts[-1]
    if isinstance(target, list) and isinstance(last, int):
        _entry(target, last, where)
        target[last] = value
    elif isinstance(target, list):  # e.g. load.rate=...: every entry of an array of tables
        if not all(isinstance(entry, dict) for entry in target):
            raise ScenarioError(f"{where}: {last!r} cannot be set in {_shown(target)}")
        for entry in target:
            entry[last] = value
    elif isinstance(target, dict) and isinstance(last, str):
        target[last] = value
    else:
        raise ScenarioError(f"{where}: {last!r} cannot be set in {_shown(target)}")


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    return "a list" if isinstance(value, list) else f"a single value ({str(value)[:40]!r})"


def _duration(value: Any, where: str, allow_zero: bool = False) -> float:
    try:
        return parse_duration(value, allow_zero=allow_zero)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def _build(m: ScenarioModel, name: str) -> RunSpec:
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
    actions += [_action(act, f"action[{i}]", ids, duration, m.timezone, t0, i) for i, act in enumerate(m.action)]
    expects = [_expect(e, f"expect[{i}]", ids, duration) for i, e in enumerate(m.expect)]
    actions += [ActionSpec(Snapshot(t0 + e.at, f"expect[{i}]"), index=10_000 + i)
                for i, e in enumerate(expects) if e.at is not None]
    b, d = m.behaviour, m.dispatcher
    return RunSpec(
        name=m.name, seed=m.seed, start=m.start, duration=duration, timezone=m.timezone, clock=m.clock,
        time_scale=m.time_scale, tick=_duration(d.tick, "dispatcher.tick"), smtp=m.smtp,
        population=_population(m.population),
        behaviour=_behaviour(b),
        transport=_transport(m, t0),
        automations=tuple(automations),
        loads=tuple(_load(load, f"load[{i}]", ids, duration, Path(name).parent) for i, load in enumerate(m.load)),
        actions=tuple(sorted(actions, key=lambda x: (x.at, x.index))),
        expects=tuple(expects),
        crashes=tuple(_crash(c, f"faults.crash[{i}]", ids) for i, c in enumerate(m.faults.crash)),
        source=name)


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


def _load(load: LoadModel, where: str, ids: list[str], duration: float, base: Path) -> LoadSpec:
    if load.automation is not None and load.automation not in ids:
        raise ValueError(f"{where}.automation: no automation called {load.automation!r}"
                         + _did_you_mean(load.automation, ids))
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
        path = Path(load.file) if Path(load.file).is_absolute() else base / load.file
        try:
            info = scan(path)
        except ReplayError as err:
            raise ValueError(f"{where}.file: {err}") from None
        if load.align == "absolute" and not info.absolute:
            raise ValueError(f"{where}.align: 'absolute' needs ISO times with an offset in {path}")
        if info.kinds["api"] and not load.automation and "automation" not in info.columns:
            raise ValueError(f"{where}.automation: {path} has api rows: name the automation they call")
        replay = ReplaySpec(path, load.speed, load.scale, load.align, info)
    return LoadSpec(load.kind, start, until, rate, load.count, load.automation, load.source, replay)


def _expect(e: ExpectModel, where: str, ids: list[str], duration: float) -> Expect:
    head = e.metric.split(".")[0]
    if head not in ids and head not in RUN_METRICS:
        raise ValueError(f"{where}.metric: {e.metric!r} names no automation" + _did_you_mean(head, ids))
    if not known_metric(e.metric, ids):
        raise ValueError(f"{where}.metric: no metric called {e.metric!r}"
                         + _did_you_mean(e.metric, metric_names(ids)))
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


def _did_you_mean(key: str, options: list[str]) -> str:
    close = difflib.get_close_matches(key, options, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


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
        raise ValueError(f"{where}.end_at: must lie after the start time")
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
                         + _did_you_mean(sorted(unknown)[0], ["days", "from", "to"]))
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

_PENDING: dict[str, Callable[[float, PendingQuery, ActionModel], Action]] = {
    "pending.query": lambda at, q, act: QueryPending(at, q, act.label or ""),
    "pending.send_now": lambda at, q, act: SendNow(at, q, act.select),
    "pending.delete": lambda at, q, act: DeletePending(at, q, act.select),
}


def _action(act: ActionModel, where: str, ids: list[str], duration: float, tz: str, t0: float,
            index: int) -> ActionSpec:
    offset = _duration(act.at, f"{where}.at", allow_zero=True)
    if offset > duration:
        raise ValueError(f"{where}.at: {act.at!r} lies after the end of the run")
    if act.do in _NEEDS_AUTOMATION and not act.automation:
        raise ValueError(f"{where}.automation: '{act.do}' needs an automation")
    if act.automation is not None and act.automation not in ids:
        raise ValueError(f"{where}.automation: no automation called {act.automation!r}"
                         + _did_you_mean(act.automation, ids))
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
