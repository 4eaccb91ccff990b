"""What ran before keeps running: the accepted corpus passes `check --strict` and runs clean.

Each regression a stricter check caused has its own test here, named after the rule it
broke, written to fail on the code that had the regression.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sim.runner import run
from sim.scenarios.lint import lint
from sim.scenarios.loader import load, loads
from tests.scenarios.corpus import ACCEPTED, doc_blocks, doc_scenarios, files

FILES = files()
DOCS = doc_scenarios()


@pytest.mark.parametrize(("label", "path"), FILES, ids=[label for label, _ in FILES])
def test_corpus_file_passes_check_strict(label: str, path: Path) -> None:
    assert [p for p in lint(load(path)) if p.level != "note"] == []  # --strict: no error, no warning


@pytest.mark.parametrize(("label", "text"), DOCS, ids=[label for label, _ in DOCS])
def test_doc_scenario_loads_lints_clean_and_runs(label: str, text: str) -> None:
    spec = loads(text, label)
    assert [p for p in lint(spec) if p.level != "note"] == []
    result = run(spec)
    assert result.summary["invariants"]["ok"], result.summary["invariants"]["violations"]
    assert [e for e in result.summary["expectations"] if not e["ok"]] == []


def test_docs_hold_whole_scenarios_and_every_block_is_toml() -> None:
    assert len(DOCS) >= 1, "docs/scenarios.md shows a whole scenario; the extraction found none"
    for label, text in doc_blocks():
        tomllib.loads(text)  # a fragment must at least be TOML
        assert label


@pytest.mark.parametrize("path", sorted(ACCEPTED.glob("*.toml")), ids=lambda p: p.stem)
def test_accepted_file_runs_clean(path: Path) -> None:
    result = run(load(path))
    assert result.summary["invariants"]["ok"], result.summary["invariants"]["violations"]
    assert [e for e in result.summary["expectations"] if not e["ok"]] == []


def test_f1_group_filter_may_name_its_field() -> None:
    spec = load(ACCEPTED / "group-filter-names-field.toml")
    assert [p for p in lint(spec) if p.level == "error"] == []
    result = run(spec)
    sent = result.summary["automations"]
    assert sent["vip_welcome"]["sent"] > 0
    assert sent["vip_welcome"]["ignored"]["filtered"] > 0  # the group is still what decides


def test_f1_a_field_operator_on_an_unknown_field_is_still_an_error() -> None:
    text = (ACCEPTED / "group-filter-names-field.toml").read_text(encoding="utf-8").replace(
        'filter = { field = "groups", op = "in_group", value = "vip" }',
        'filter = { field = "groups", op = "equals", value = "vip" }')
    problems = lint(loads(text, "x.toml"))
    assert [(p.level, p.where) for p in problems] == [("error", "automation[0].filter.field")]


def test_t5_each_year_of_an_anniversary_is_a_new_occurrence() -> None:
    result = run(load(ACCEPTED / "birthday-over-a-year.toml"))
    assert result.summary["invariants"]["ok"], result.summary["invariants"]["violations"]
    bday = result.summary["automations"]["bday"]
    assert bday["sent"] > 300  # 300 subscribers, 400 days: some birthdays came twice, and were sent twice


def test_l8_a_draft_may_lack_its_sender_and_its_start_is_refused_naming_it() -> None:
    spec = load(ACCEPTED / "draft-without-sender.toml")
    assert spec.automations[0].sender == ""
    result = run(spec)
    assert result.summary["refused"] == ["3600s draft: start: cannot start: complete these steps first: sender"]
    assert result.summary["automations"]["draft"]["state"] == "draft"


def test_l8_a_malformed_sender_is_still_bad_input() -> None:
    text = (ACCEPTED / "draft-without-sender.toml").read_text(encoding="utf-8").replace(
        'sender = ""', 'sender = "not an address"')
    with pytest.raises(Exception, match=r"x\.toml: automation\[0\]\.sender: 'not an address' is not one sender"):
        loads(text, "x.toml")


def test_a_latency_held_at_the_ceiling_is_said() -> None:
    text = (ACCEPTED / "group-filter-names-field.toml").read_text(encoding="utf-8") + (
        '\n[faults]\nlatency_spikes = [["+1h", "+2h", 1e308], ["+3h", "+4h", 50]]\n')
    problems = lint(loads(text, "x.toml"))
    assert [(p.level, p.where) for p in problems] == [("warning", "faults.latency_spikes[0]")]
    assert "held at 30 days" in problems[0].message


@pytest.mark.parametrize(("name", "automation", "t5"), [("birthday-over-a-year", "bday", False),
                                                         ("long-repeats", "weekly", True)])
def test_t5_invariants_quiet_on_long_runs_are_loud_on_a_batch_dispatched_twice(
        monkeypatch: pytest.MonkeyPatch, name: str, automation: str, t5: bool) -> None:
    from sim.conductor import Conductor

    original = Conductor._dispatch

    def twice(self: Conductor, t: float, batches: list) -> None:  # type: ignore[type-arg]
        original(self, t, batches)
        original(self, t, batches)

    monkeypatch.setattr(Conductor, "_dispatch", twice)
    violations = run(load(ACCEPTED / f"{name}.toml")).summary["invariants"]["violations"]
    assert any(v.startswith(f"{automation}: ") and "handed to the transport twice" in v for v in violations)
    # Once per subscriber where no source occurrence fires anew; an anniversary's years each do.
    assert any(v.startswith(f"{automation}: ") and "same occurrence twice (T5)" in v for v in violations) is t5
