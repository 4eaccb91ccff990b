"""Who receives the email: the optional filter (F1), checked twice (F2).

A `Filter` is a list of conditions joined by all/any. It reads the
subscriber's data as it is at the moment it is asked, which is what makes F2
work: the automation asks once when the trigger fires and again at send time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.subscribers import SubscriberStore

OPS = ("equals", "not_equals", "contains", "email_domain", "in_group", "not_in_group", "is_set")


@dataclass(frozen=True, slots=True)
class Condition:
    op: str
    field: str = ""
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ConfigError("filter.op", f"unknown operator {self.op!r} (use one of {', '.join(OPS)})")
        if self.op in ("equals", "not_equals", "contains", "is_set") and not self.field:
            raise ConfigError("filter.field", f"operator {self.op!r} needs a field")
        if self.op != "is_set" and self.value is None:
            raise ConfigError("filter.value", f"operator {self.op!r} needs a value")

    def passes(self, store: SubscriberStore, sid: int) -> bool:
        op, value = self.op, self.value
        if op == "in_group":
            return sid in store.groups.get(str(value), ())
        if op == "not_in_group":
            return sid not in store.groups.get(str(value), ())
        if op == "email_domain":
            return store.emails[sid].lower().rsplit("@", 1)[-1] == str(value).lower().lstrip("@")
        current = store.field(sid, self.field)
        if op == "is_set":
            return current not in (None, "")
        if op == "equals":
            return current is not None and str(current) == str(value)
        if op == "not_equals":
            return current is None or str(current) != str(value)
        return current is not None and str(value).lower() in str(current).lower()  # contains


@dataclass(frozen=True, slots=True)
class Filter:
    conditions: tuple[Condition, ...]
    combine: str = "all"

    def __post_init__(self) -> None:
        if not self.conditions:
            raise ConfigError("filter", "a filter needs at least one condition")
        if self.combine not in ("all", "any"):
            raise ConfigError("filter.combine", f"must be 'all' or 'any', got {self.combine!r}")

    @classmethod
    def of(cls, spec: Mapping[str, Any] | list[Mapping[str, Any]], combine: str = "all") -> Filter:
        """From plain settings: one condition mapping or a list of them."""
        items = [spec] if isinstance(spec, Mapping) else list(spec)
        conditions = []
        for item in items:
            if not isinstance(item, Mapping):
                raise ConfigError("filter", f"a condition must be a table, got {item!r}")
            unknown = set(item) - {"op", "field", "value"}
            if unknown:
                raise ConfigError("filter", f"unknown key(s) {sorted(unknown)}")
            conditions.append(Condition(str(item.get("op", "equals")), str(item.get("field", "")),
                                        item.get("value")))
        return cls(tuple(conditions), combine)

    def passes(self, store: SubscriberStore, sid: int) -> bool:
        results = (c.passes(store, sid) for c in self.conditions)
        return all(results) if self.combine == "all" else any(results)

    def passes_many(self, store: SubscriberStore, sids: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.fromiter((self.passes(store, int(s)) for s in sids), dtype=bool, count=len(sids))
