"""Scenario files (TOML) into a validated `RunSpec`.

The file format is a contract users write against (docs/scenarios.md).
Every problem becomes one `ScenarioError` line naming the file, the key path
and what is wrong, with "did you mean" for unknown keys. Nothing else escapes
`load()`. The parts: `model.py` (the format and its JSON Schema), `build.py`
(the `RunSpec`), `lint.py` (valid, yet meaningless); this module reads the
file, applies `--set` overrides and says each problem in one line.
"""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from core import ConfigError
from sim.scenarios.build import build
from sim.scenarios.model import (
    MAX_FILE_BYTES,
    ScenarioError,
    ScenarioModel,
    did_you_mean,
    parse_duration,
    parse_rate,
    schema,
)
from sim.spec import RunSpec


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
    if first["type"] in ("float_parsing", "int_parsing", "float_type", "int_type"):
        message = f"expected a number, got {str(first.get('input'))[:40]!r}"
    message = message.replace("Input should be", "must be")
    return f"{file}: {_path(loc)}: {message}"


# -- reading the file -------------------------------------------------------
def load(path: str | Path, overrides: list[str] | None = None, roots: tuple[Path, ...] = ()) -> RunSpec:
    """Read, validate and build one scenario file; `overrides` are ``key.path=value``; `roots` are
    folders outside the scenario's own that its files may name (`--allow-root`)."""
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
    return loads(text, name, overrides, roots)


def loads(text: str, name: str = "<scenario>", overrides: list[str] | None = None,
          roots: tuple[Path, ...] = ()) -> RunSpec:
    if not text.strip():
        raise ScenarioError(f"{name}: the file is empty")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{name}: TOML syntax error: {err}") from None
    except RecursionError:
        raise ScenarioError(f"{name}: TOML nested too deeply to be a scenario") from None
    original = copy.deepcopy(data) if overrides else data
    for item in overrides or []:
        _override(data, item, name)
    try:
        return _built(data, name, roots)
    except ScenarioError as err:
        if overrides:
            _blame(original, overrides, name, str(err).removeprefix(f"{name}: "), roots)
        raise err from None


def _built(data: dict[str, Any], name: str, roots: tuple[Path, ...] = ()) -> RunSpec:
    try:
        model = ScenarioModel.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_one_line(name, err)) from None
    try:
        return build(model, name, roots)
    except ConfigError as err:
        raise ScenarioError(f"{name}: {err.field}: {err.problem}") from None
    except ValueError as err:
        raise ScenarioError(f"{name}: {err}") from None


def _blame(data: dict[str, Any], overrides: list[str], name: str, problem: str, roots: tuple[Path, ...]) -> None:
    """When the file is fine without the overrides, name the first `--set` after which it is wrong."""
    try:
        _built(copy.deepcopy(data), name, roots)
    except ScenarioError:
        return  # the file itself is wrong: its own line says where
    for i, item in enumerate(overrides):
        trial = copy.deepcopy(data)
        for earlier in overrides[:i + 1]:
            _override(trial, earlier, name)
        try:
            _built(trial, name, roots)
        except ScenarioError:
            raise ScenarioError(f"{name}: --set {item}: {problem} (the flag: the file itself is valid)") from None


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
            raise ScenarioError(f"{where}: no entry with id {part!r}" + did_you_mean(part, ids))
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


__all__ = ["ScenarioError", "load", "loads", "parse_duration", "parse_rate", "schema"]
