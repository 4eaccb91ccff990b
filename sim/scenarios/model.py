"""The scenario file format: pydantic models of every table, and the JSON Schema made from them.

What a key may hold, one table at a time, lives here: types, ranges, the
shape of a load or an action. Checks that span keys (an automation an action
names exists, `end_at` after `start`) are `build.py`'s; what is valid yet
meaningless is `lint.py`'s. Nothing here reads a file.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from sim.addresses import check_address, check_header_text, check_sender
from sim.scenarios import shapes

MAX_SUBSCRIBERS = 10_000_000
MAX_LIST = 100_000_000  # a list this big runs partitioned, in shards (docs/scale.md); the budget says what fits
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
    size: int = Field(1000, ge=0, le=MAX_LIST)
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
    partitions: int = Field(1, ge=1, le=1024)  # independent senders, each at rate / partitions (sim.partitions)


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
        # An empty sender is a draft's missing step (L8: start and schedule refuse it, naming it);
        # only a sender that is there and malformed is bad input.
        return check_sender(v) if v.strip() else ""


class AutomationModel(SettingsModel):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    start: Duration | None = None
    schedule: Duration | None = None
    end_at: Duration | None = None
    timezone: str | None = None


class LoadModel(_Model):
    kind: Literal["subscriber_added", "api", "replay"]
    rate: str | float | None = None
    count: int | None = Field(None, ge=1, le=MAX_LIST)
    from_: Duration = Field("+0s", alias="from")
    until: Duration | None = None
    automation: str | None = None
    source: Literal["form", "admin"] = "form"
    file: str | None = None  # replay: CSV, .csv.gz or Parquet, relative to the scenario file
    speed: float = Field(1.0, gt=0, le=1_000_000, allow_inf_nan=False)  # replay: time compression
    scale: float = Field(1.0, gt=0, le=1000, allow_inf_nan=False)  # replay: happenings per row
    # "day" (default for ISO times): moved by whole days, each row keeps its local time of day;
    # "from" (or its older name "start"): the first row at the load's `from`; "absolute": its own instant
    align: Literal["day", "from", "start", "absolute"] | None = None

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
    select: Annotated[Literal["page", "all"] | int | list[int], WithJsonSchema({"anyOf": [
        {"enum": ["page", "all"]}, {"type": "integer", "minimum": 1},
        {"type": "array", "items": {"type": "integer", "minimum": 0}}]})] = "page"
    label: str | None = None
    end_at: Duration | None = None
    schedule_at: Duration | None = None
    settings: SettingsModel | None = None

    @field_validator("select", mode="before")
    @classmethod
    def _selection(cls, v: Any) -> Any:
        if v in ("page", "all") or (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SUBSCRIBERS):
            return v
        if isinstance(v, list) and len(v) <= MAX_SUBSCRIBERS and all(
                isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in v):
            return v  # the entries an operator ticked (the console records a selection so)
        raise ValueError(f"expected 'page', 'all', a count of at least 1 or a list of entry numbers, got {v!r}")


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


def did_you_mean(key: str, options: Any) -> str:
    """" (did you mean 'x'?)" for the closest of `options` (in the order given), or ""."""
    close = difflib.get_close_matches(key, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
