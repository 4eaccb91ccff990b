"""STYLE 1: core/ is pure. Backs up the import-linter contract with a plain scan."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"sim", "reports", "pykka", "simpy", "time", "threading", "random", "socket",
             "smtplib", "asyncio", "faker", "os", "subprocess"}
CORE = Path(__file__).resolve().parents[2] / "core"


def test_core_imports_nothing_impure() -> None:
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_core_never_reads_the_clock() -> None:
    text = "\n".join(p.read_text() for p in CORE.rglob("*.py"))
    for call in ("datetime.now(", ".utcnow(", "date.today(", "time.time(", "perf_counter("):
        assert call not in text
