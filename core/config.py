"""An automation's settings, validated as a whole (T5, R3, L8)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from core.errors import ConfigError
from core.filters import Filter
from core.instants import zone
from core.timing import Delay, Repeat, SendWindow
from core.triggers import NO_DUPLICATES, Duplicates, Kind, Trigger

EDITABLE = frozenset({"audience", "triggers", "combine", "filter", "delay", "window", "repeat",
                      "duplicates", "sender", "subject", "body", "timezone", "api_limit"})


@dataclass(frozen=True, slots=True)
class AutomationConfig:
    id: str
    audience: str = "default"  # the subscriber list (L8 step 1)
    triggers: tuple[Trigger, ...] = ()
    combine: str = "any"  # T4
    filter: Filter | None = None
    delay: Delay = field(default_factory=Delay)
    window: SendWindow | None = None
    repeat: Repeat | None = None
    duplicates: Duplicates = field(default_factory=Duplicates)
    sender: str = "newsletter@example.com"
    subject: str = ""  # the content step: empty means not written yet
    body: str = ""
    timezone: str = "Asia/Seoul"
    api_limit: int = 3  # T6: requests per second

    def __post_init__(self) -> None:
        if not self.id:
            raise ConfigError("id", "an automation needs an id")
        zone(self.timezone, "timezone")
        if self.combine not in ("any", "all"):
            raise ConfigError("combine", f"must be 'any' or 'all', got {self.combine!r}")
        for i, trigger in enumerate(self.triggers):
            if not isinstance(trigger, Trigger):
                raise ConfigError(f"triggers[{i}]", f"expected a trigger, got {trigger!r}")
            if self.duplicates.allow and trigger.kind in NO_DUPLICATES:
                raise ConfigError("duplicates.allow",
                                  f"duplicates cannot be allowed for a {trigger.kind.value} trigger")
            if self.repeat is not None and trigger.kind is Kind.ANNIVERSARY:
                raise ConfigError("repeat", "repeat cannot be combined with an anniversary trigger")
        if self.api_limit < 1:
            raise ConfigError("api_limit", f"must be at least 1, got {self.api_limit}")

    def missing_steps(self) -> list[str]:
        """L8: the steps that must be complete before start or schedule."""
        missing = []
        if not self.audience:
            missing.append("audience list")
        if not self.triggers:
            missing.append("trigger")
        if not self.sender:
            missing.append("sender")
        if not self.subject:
            missing.append("content")
        return missing

    def edited(self, changes: dict[str, Any]) -> AutomationConfig:
        unknown = sorted(set(changes) - EDITABLE)
        if unknown:
            allowed = ", ".join(sorted(EDITABLE))
            raise ConfigError(unknown[0], f"not a setting (settings: {allowed})")
        return replace(self, **changes)


__all__ = ["AutomationConfig", "Delay", "Duplicates", "Filter", "Repeat", "SendWindow", "Trigger"]
