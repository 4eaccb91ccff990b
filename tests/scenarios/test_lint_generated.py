"""Scenarios generated from the JSON Schema that the loader accepts are accepted by the lint too,
unless the lint names a problem from its documented list, and that problem is true of the scenario.

The schema is `dripsim schema`'s own (`AutomationModel`); only its free-text leaves (a field, a group,
an email an email trigger follows) are narrowed to a small vocabulary of names that exist and names
that do not, so that the generated settings meet the population instead of missing it every time.

`from_schema` below walks the part of JSON Schema that `dripsim schema` uses (`$ref`, `anyOf`, `enum`,
`const`, objects, arrays, scalars). hypothesis-jsonschema would be the library for it, but its 0.23
reaches into Hypothesis internals that Hypothesis 6.1xx no longer has (`AttributeError: 'many' object
has no attribute 'more'`).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.triggers import _OPTIONS
from sim.scenarios.lint import FIELD_OPS, GROUP_OPS, lint
from sim.scenarios.loader import ScenarioError, loads, schema

FIELDS = ["plan", "name", "groups", "nobody"]  # plan and name exist; groups and nobody do not
GROUPS = ["vip", "ghosts"]  # vip exists
EMAILS = ["welcome", "gen", "missing"]
EMAIL_KINDS = {"email_sent", "email_failed", "opened", "not_opened", "clicked", "not_clicked"}


def _automation_schema() -> dict[str, Any]:
    full = schema()
    defs = copy.deepcopy(full["$defs"])
    props = defs["AutomationModel"]["properties"]
    for name in ("trigger", "filter"):
        _narrow(props[name])
    # One shape per trigger kind, with that kind's keys (core.triggers): a table the core would refuse
    # for a missing key is the loader's business, not what this test is about.
    keys = props["trigger"]["properties"]
    props["trigger"] = {"anyOf": [
        {"type": "object", "required": ["kind", *sorted(need)],
         "properties": {"kind": {"const": kind.value}, **{k: keys[k] for k in sorted(need | may) if k in keys}}}
        for kind, (need, may) in _OPTIONS.items()]}
    props.pop("triggers")  # drawn as `trigger` plus extra triggers (the test joins them)
    defs["AutomationModel"]["required"] = ["id", "trigger"]
    props["id"] = {"const": "gen"}
    for key in ("start", "schedule", "end_at", "timezone", "subject", "sender"):
        props.pop(key, None)  # the run's frame, not what the lint judges
    props["delay"] = {"enum": ["0s", "10m", "1d"]}
    props["repeat"] = {"enum": ["daily", "weekly", "2h"]}
    props["window"] = {"enum": [{"from": "09:00", "to": "18:00"}]}
    props["duplicates"] = {"enum": [{"allow": True, "cooldown": "1h"}, {"allow": False}]}
    return {**defs["AutomationModel"], "$defs": defs}


def from_schema(node: dict[str, Any], defs: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values valid against `node` (the subset of JSON Schema `dripsim schema` emits)."""
    defs = node.get("$defs", defs or {})
    if "$ref" in node:
        return st.deferred(lambda: from_schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs))
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "anyOf" in node:
        return st.one_of([from_schema(n, defs) for n in node["anyOf"]])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props, required = node.get("properties", {}), set(node.get("required", ()))
        return st.fixed_dictionaries({k: from_schema(v, defs) for k, v in props.items() if k in required},
                                     optional={k: from_schema(v, defs) for k, v in props.items()
                                               if k not in required})
    if kind == "array":
        return st.lists(from_schema(node.get("items", {}), defs), min_size=node.get("minItems", 0), max_size=4)
    low, high = node.get("minimum", -3), node.get("maximum", 10)
    scalars: dict[str, st.SearchStrategy[Any]] = {
        "string": st.text(max_size=8), "integer": st.integers(low, min(high, low + 13)), "boolean": st.booleans(),
        "number": st.floats(-10, 10), "null": st.none()}
    return scalars.get(kind, st.one_of(st.none(), st.text(max_size=4), st.integers(0, 5)))  # type: ignore[arg-type]


def _narrow(node: Any) -> None:
    if isinstance(node, dict):
        props = node.get("properties", {})
        for key, vocabulary in (("field", FIELDS), ("group", GROUPS), ("email", EMAILS)):
            if key in props:
                props[key] = {"enum": vocabulary}
        if "value" in props:
            props["value"] = {"enum": [*GROUPS, "pro", "free"]}
        if "within" in props:
            props["within"] = {"enum": ["1h", "1d"]}
        for key in ("link", "at"):
            props.pop(key, None)
        for child in node.values():
            _narrow(child)
    elif isinstance(node, list):
        for child in node:
            _narrow(child)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"


BASE = '''name = "generated"
start = "2026-03-02T08:00:00+09:00"
duration = "1d"

[population]
size = 50
fields = { plan = ["free", "pro"] }
groups = { vip = 0.2 }

[[automation]]
id = "welcome"
subject = "Hello"
trigger = { kind = "subscriber_added" }
start = "+0s"

[[load]]
kind = "subscriber_added"
rate = "10/h"
'''


def _scenario(settings_: dict[str, Any], started: bool) -> str:
    lines = ["[[automation]]", *(f"{k} = {_toml(v)}" for k, v in settings_.items() if v is not None)]
    if started:
        lines.append('start = "+0s"')
    return BASE + "\n" + "\n".join(lines) + "\n"


def _conditions(flt: Any) -> list[dict[str, Any]]:
    return [] if flt is None else [flt] if isinstance(flt, dict) else list(flt)


def _true(problem: Any, gen: dict[str, Any], started: bool) -> bool:
    """Is what the lint says about the generated automation so? Each documented problem, checked."""
    message, where = problem.message, problem.where
    conditions = _conditions(gen.get("filter"))
    triggers = [gen["trigger"]] if gen.get("trigger") else list(gen.get("triggers") or [])
    if m := re.fullmatch(r"automation\[1\]\.filter(?:\[(\d+)\])?\.field", where):
        c = conditions[int(m.group(1) or 0)]
        return message.startswith("no field called") and c.get("op", "equals") in FIELD_OPS \
            and c.get("field", "") not in ("plan", "name")
    if m := re.fullmatch(r"automation\[1\]\.filter(?:\[(\d+)\])?\.value", where):
        c = conditions[int(m.group(1) or 0)]
        return message.startswith("no group called") and c.get("op") in GROUP_OPS and c.get("value") != "vip"
    if m := re.fullmatch(r"automation\[1\]\.trigger(?:s\[(\d+)\])?\.(field|group|email)", where):
        t, key = triggers[int(m.group(1) or 0)], m.group(2)
        if key == "field":
            return t["kind"] in ("anniversary", "field_updated") and t.get("field") not in ("plan", "name")
        if key == "group":
            return t["kind"] == "group_added" and t.get("group") != "vip"
        return t["kind"] in EMAIL_KINDS and t.get("email") == "missing"
    if where == "automation[1]":
        return "never started" in message and not started
    return False  # not on the documented list


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(gen=from_schema(_automation_schema()), extra=st.lists(from_schema(_automation_schema()["properties"]
                                                                       ["trigger"]), max_size=2),
       started=st.booleans())
def test_lint_accepts_what_the_loader_accepts_but_for_documented_true_problems(
        gen: dict[str, Any], extra: list[dict[str, Any]], started: bool) -> None:
    if extra:
        gen["triggers"] = [gen.pop("trigger"), *extra]
    try:
        spec = loads(_scenario(gen, started), "gen.toml")
    except ScenarioError:
        return  # the loader's refusal is its own business (tests/reliability)
    for problem in lint(spec):
        assert _true(problem, gen, started), f"{problem.line('gen.toml')} is not so of {gen}"
