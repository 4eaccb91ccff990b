"""JSON Schema shapes of the tables the loader hands to the core as they are.

A trigger, a window, a filter and the duplicates setting are validated by
the core's own constructors (`Trigger.of`, `SendWindow.daily`, `Filter.of`),
which give the messages users see. Their keys are listed here once more, as
schema, so that `dripsim schema` describes them to editors as precisely as
the rest of the format (tests/sim/test_authoring.py checks the two agree).
"""

from __future__ import annotations

from typing import Any

from core.filters import OPS
from core.triggers import Kind

DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DURATION = {"anyOf": [{"type": "string"}, {"type": "number"}], "description": "a duration such as '15m'"}

TRIGGER: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["kind"],
    "description": "what fires the automation for one subscriber (T2)",
    "properties": {
        "kind": {"enum": [k.value for k in Kind]},
        "email": {"type": "string", "description": "email kinds: the automation whose email this follows"},
        "within": {**_DURATION, "description": "not_opened / not_clicked: how long to wait"},
        "link": {"type": "string", "description": "clicked / not_clicked: one link only"},
        "field": {"type": "string", "description": "anniversary / field_updated: the subscriber field"},
        "value": {"description": "field_updated: the new value that fires"},
        "group": {"type": "string", "description": "group_added: the group"},
        "include_admin": {"type": "boolean", "description": "subscriber_added: admin additions fire too"},
        "offset_days": {"type": "integer", "description": "anniversary: days before (-) or after (+)"},
        "at": {"type": "string", "pattern": r"^\d{1,2}:\d{2}$", "description": "anniversary: local time"},
    },
}
WINDOW: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["from", "to"],
    "description": "send only inside this window (W1-W3)",
    "properties": {
        "days": {"type": "array", "items": {"enum": DAY_NAMES}, "minItems": 1,
                 "description": "days the window opens (default: every day)"},
        "from": {"type": "string", "description": "'09:00', or 'mon 15:00' for a weekly span"},
        "to": {"type": "string", "description": "'18:00' (inclusive minute), or 'tue 09:00'"},
    },
}
DUPLICATES: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {"allow": {"type": "boolean"}, "cooldown": _DURATION},
}
_CONDITION: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {"op": {"enum": list(OPS), "default": "equals"}, "field": {"type": "string"}, "value": {}},
}
FILTER: dict[str, Any] = {"anyOf": [_CONDITION, {"type": "array", "items": _CONDITION, "minItems": 1}],
                          "description": "send only to subscribers who pass (L8 step 2)"}


def optional(shape: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [shape, {"type": "null"}]}
