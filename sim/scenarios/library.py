"""The built-in scenario library: the TOML files next to this module."""

from __future__ import annotations

import tomllib
from pathlib import Path

from sim.scenarios.loader import ScenarioError

HERE = Path(__file__).parent


def builtins() -> list[tuple[str, str]]:
    """(name, one-line description) of every built-in scenario, sorted."""
    out = []
    for path in sorted(HERE.glob("*.toml")):
        try:
            head = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            head = {}
        out.append((path.stem, str(head.get("description", head.get("name", "")))))
    return out


def builtin_path(name: str) -> Path:
    path = HERE / f"{name}.toml"
    if not path.exists():
        known = ", ".join(n for n, _ in builtins())
        raise ScenarioError(f"{name}: no such file or built-in scenario (built-ins: {known})")
    return path
