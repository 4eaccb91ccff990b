"""The accepted corpus: every scenario that must stay valid, whatever check is added next.

- every built-in scenario;
- every file in `tests/scenarios/accepted/` (one per regression a stricter check once caused);
- every whole scenario in a ```toml block of `README.md` or `docs/*.md`, extracted here, so the docs
  cannot show what no longer loads.
"""

from __future__ import annotations

import re
from pathlib import Path

from sim.scenarios.library import builtin_path, builtins

ROOT = Path(__file__).resolve().parents[2]
ACCEPTED = Path(__file__).parent / "accepted"
_FENCE = re.compile(r"^```toml\n(.*?)^```", re.S | re.M)
_WHOLE = re.compile(r"^name\s*=", re.M)  # a whole scenario names itself; a fragment (a key or two) does not


def doc_blocks() -> list[tuple[str, str]]:
    """(label, TOML text) of every ```toml block in the README and docs/, in file order."""
    out = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for n, match in enumerate(_FENCE.finditer(text)):
            line = text.count("\n", 0, match.start()) + 1
            out.append((f"{page.relative_to(ROOT)}:{line}#{n}", match.group(1)))
    return out


def doc_scenarios() -> list[tuple[str, str]]:
    return [(label, text) for label, text in doc_blocks() if _WHOLE.search(text)]


def files() -> list[tuple[str, Path]]:
    """(label, path) of every built-in and every accepted file."""
    return [(f"builtin:{name}", builtin_path(name)) for name, _ in builtins()] + [
        (f"accepted:{p.stem}", p) for p in sorted(ACCEPTED.glob("*.toml"))]
