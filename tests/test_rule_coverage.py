"""Every rule id of RULES.md names at least one test (`test_<id>_...`)."""

from __future__ import annotations

import re
from pathlib import Path

# The ids of ../shared/spec/RULES.md (copied: tests read nothing outside the project).
RULE_IDS = (
    "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "L10", "T1", "T2", "T3", "T4", "T5",
    "T6", "F1", "F2", "D1", "W1", "W2", "R1", "R2", "R3", "P1", "P2", "P3", "P4", "P5", "P6", "P7",
    "S1", "S2", "S3", "U1", "U2", "ST1", "ST2",
)


def test_every_rule_id_names_a_test() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.rglob("test_*.py"))
    named = {m.upper() for m in re.findall(r"def test_([a-z]+\d+)_", text)}
    assert [r for r in RULE_IDS if r not in named] == []
