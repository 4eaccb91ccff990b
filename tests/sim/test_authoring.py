"""A scenario author is told about meaningless scenarios, and helped to write good ones."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cli import main
from sim.scenarios.library import builtin_path, builtins
from sim.scenarios.lint import lint
from sim.scenarios.loader import loads, schema

ROOT = Path(__file__).resolve().parents[2]

BASE = """
name = "lint"
start = "2026-03-02T08:00:00+09:00"
duration = "1d"
[population]
size = 20
fields = { plan = ["free", "pro"] }
groups = { vip = 0.2 }
[[automation]]
id = "welcome"
trigger = { kind = "subscriber_added" }
start = "+0s"
"""


def problems(extra: str) -> list[tuple[str, str, str]]:
    spec = loads(BASE + extra, "lint.toml")
    return [(p.level, p.where, p.message) for p in lint(spec)]


def test_a_clean_scenario_has_no_problems() -> None:
    assert problems('[[load]]\nkind = "subscriber_added"\nrate = "10/h"\n') == []


def test_every_builtin_and_benchmark_scenario_lints_clean() -> None:
    files = [builtin_path(name) for name, _ in builtins()] + sorted((ROOT / "benchmarks").glob("*.toml"))
    for path in files:
        spec = loads(path.read_text(encoding="utf-8"), str(path))
        assert [p for p in lint(spec) if p.level != "note"] == [], path  # notes: what a default will do


def test_an_automation_never_started_is_a_warning() -> None:
    found = problems('[[automation]]\nid = "draft"\ntrigger = { kind = "api" }\n')
    assert found == [("warning", "automation[1]", found[0][2])]
    assert "never started or scheduled" in found[0][2]


def test_a_started_by_action_automation_is_not_flagged() -> None:
    found = problems('[[automation]]\nid = "later"\ntrigger = { kind = "api" }\n'
                     '[[action]]\nat = "+1h"\ndo = "start"\nautomation = "later"\n')
    assert found == []


def test_an_email_trigger_naming_no_automation_is_an_error_with_did_you_mean() -> None:
    found = problems('[[automation]]\nid = "nudge"\nstart = "+0s"\n'
                     'trigger = { kind = "not_opened", email = "welcom", within = "1d" }\n')
    assert found == [("error", "automation[1].trigger.email",
                      "no automation called 'welcom', so this trigger never fires (did you mean 'welcome'?)")]


def test_an_edit_to_an_email_trigger_naming_no_automation_is_an_error() -> None:
    found = problems('[[action]]\nat = "+1h"\ndo = "edit"\nautomation = "welcome"\n'
                     'settings = { triggers = [{ kind = "api" }, { kind = "opened", email = "nope" }] }\n')
    assert found[0][:2] == ("error", "action[0].settings.triggers[1].email")


def test_a_filter_on_an_unknown_field_or_group_is_an_error() -> None:
    found = problems('[[automation]]\nid = "pro"\nstart = "+0s"\ntrigger = { kind = "subscriber_added" }\n'
                     'filter = [{ field = "plna", op = "equals", value = "pro" }, '
                     '{ op = "in_group", value = "vips" }]\n')
    assert found == [
        ("error", "automation[1].filter[0].field",
         "no field called 'plna' in the population or any set_field action (did you mean 'plan'?)"),
        ("error", "automation[1].filter[1].value",
         "no group called 'vips' in the population or any add_to_group action (did you mean 'vip'?)")]


def test_fields_set_by_an_action_or_named_subscribers_are_known() -> None:
    found = problems('[[automation]]\nid = "pro"\nstart = "+0s"\ntrigger = { kind = "subscriber_added" }\n'
                     'filter = [{ field = "tier", op = "equals", value = "gold" }, '
                     '{ field = "city", op = "equals", value = "Seoul" }]\n'
                     '[[action]]\nat = "+1h"\ndo = "set_field"\nfield = "tier"\nvalue = "gold"\n'
                     'who = { emails = ["kim@example.kr"] }\n'
                     '[[population.subscribers]]\nemail = "kim@example.kr"\ncity = "Seoul"\n')
    assert found == []


def test_who_naming_an_unknown_field_is_an_error() -> None:
    found = problems('[[action]]\nat = "+1h"\ndo = "unsubscribe"\nwho = { field = "paln", value = "pro" }\n')
    assert found[0][:2] == ("error", "action[0].who.field")


def test_a_load_nobody_listens_to_is_a_warning() -> None:
    found = [p for p in problems('[[load]]\nkind = "api"\nautomation = "welcome"\nrate = "10/h"\n') if p[0] != "note"]
    assert found == [("warning", "load[0].kind",
                      "automation 'welcome' has no api trigger, so this load's api arrivals trigger nothing")]


def test_an_expect_metric_that_does_not_exist_is_refused_at_load() -> None:
    with pytest.raises(Exception, match=r"expect\[0\]\.metric: no metric called 'welcome.snet' "
                                        r"\(did you mean 'welcome.sent'\?\)"):
        loads(BASE + '[[expect]]\nmetric = "welcome.snet"\nop = ">"\nvalue = 0\n', "lint.toml")


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    return path


def test_check_exits_2_on_a_lint_error_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[[automation]]\nid = "n"\nstart = "+0s"\ntrigger = { kind = "opened", email = "x" }\n')
    assert main(["check", str(path)]) == 2
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"dripsim: {path}: automation[1].trigger.email: no automation called 'x', "
                   "so this trigger never fires"] * 2
    assert not (tmp_path / "out").exists()  # told before any time was spent


def test_warnings_print_and_land_in_the_summary_and_strict_refuses(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[[automation]]\nid = "draft"\ntrigger = { kind = "api" }\n')
    assert main(["check", str(path)]) == 0
    assert "dripsim: warning: " in capsys.readouterr().err
    assert main(["check", str(path), "--strict"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "warning treated as an error (--strict)" in err[0]
    out = tmp_path / "out"
    assert main(["run", str(path), "--quiet", "--no-report", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["warnings"]) == 1
    assert "automation[1]" in summary["warnings"][0]


# -- empty runs ---------------------------------------------------------------
def test_a_run_that_sends_nothing_says_so_and_has_null_latency(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, "")), "--quiet", "--no-report", "--out", str(out)]) == 0
    assert "nothing was sent in this run" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["empty"] is True
    assert summary["sends"] == 0
    assert summary["automations"]["welcome"]["latency_s"] == {"p50": None, "p95": None, "p99": None, "max": None}
    assert summary["latency_s"]["p95"] is None


def test_a_run_that_sends_is_not_flagged_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    path = write(tmp_path, '[[load]]\nkind = "subscriber_added"\ncount = 5\n')
    assert main(["run", str(path), "--quiet", "--no-report", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["empty"] is False
    assert summary["sends"] == 5
    assert summary["automations"]["welcome"]["latency_s"]["p95"] is not None
    assert "nothing was sent" not in capsys.readouterr().err


# -- new, explain, schema -----------------------------------------------------
def test_new_writes_a_starter_that_runs_as_is_and_lints_clean(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new", 'my "first" 뉴스레터']) == 0
    [path] = tmp_path.glob("*.toml")
    spec = loads(path.read_text(encoding="utf-8"), str(path))
    assert spec.name == 'my "first" 뉴스레터'
    assert lint(spec) == []
    assert main(["run", str(path), "--quiet", "--no-report", "--strict", "--out", "o"]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["automations"]["welcome"]["sent"] > 0
    assert summary["automations"]["nudge"]["sent"] > 0
    assert main(["new", 'my "first" 뉴스레터']) == 2  # never overwrites without --force
    assert "exists" in capsys.readouterr().err


def test_explain_says_what_the_scenario_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "welcome-tour"]) == 0
    text = capsys.readouterr().out
    for words in ("2,000 subscribers", "up to 5 sends/s",
                  "welcome: when a subscriber is added through the form, waits 1 hour; "
                  "sends only Mon/Tue/Wed/Thu/Fri 09:00-18:00 (Asia/Seoul)",
                  "nudge: when they have not opened 'welcome' within 1 day",
                  "only if plan equals 'pro'", "sign-ups: 60/h (Poisson) until +2 days",
                  "+26 hours: pause 'welcome'", "welcome.sent > 1500 at the end"):
        assert words in text, words


def test_explain_lists_the_lint_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(write(tmp_path, '[[automation]]\nid = "d"\ntrigger = { kind = "api" }\n'))]) == 0
    assert "warning: automation[1]: 'd' is never started" in capsys.readouterr().out


def test_schema_is_json_schema_that_every_builtin_scenario_meets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(schema()))
    jsonschema.Draft202012Validator.check_schema(printed)
    validator = jsonschema.Draft202012Validator(printed)
    for name, _ in builtins():
        doc = tomllib.loads(builtin_path(name).read_text(encoding="utf-8"))
        doc = json.loads(json.dumps(doc, default=str))  # TOML datetimes as the strings editors see
        errors = [e.message for e in validator.iter_errors(doc)]
        assert errors == [], (name, errors)


def test_schema_catches_what_the_loader_refuses() -> None:
    validator = jsonschema.Draft202012Validator(schema())
    doc = {"name": "x", "start": "2026-03-02T08:00:00+09:00", "duration": "1d",
           "automation": [{"id": "a", "trigger": {"kind": "opened", "emial": "b"},
                           "window": {"days": ["monday"], "from": "09:00", "to": "18:00"}}]}
    messages = " ".join(e.message for e in validator.iter_errors(doc))
    assert "'emial' was unexpected" in messages
    assert "'monday' is not one of" in messages


def _keys(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            out.add(name)
            _keys(sub, out)
        for key, sub in node.items():
            if key != "properties":
                _keys(sub, out)
    elif isinstance(node, list):
        for sub in node:
            _keys(sub, out)
    return out


def test_every_key_of_the_format_is_documented() -> None:
    docs = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    # A key is documented when it appears as code: `key`, `[[table]]`, `{ key = ... }`.
    fenced = re.findall(r"```.*?```", docs, flags=re.S)
    spans = fenced + re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", docs, flags=re.S))
    documented = {word for span in spans for word in re.findall(r"[A-Za-z_]\w*", span)}
    missing = sorted(_keys(schema(), set()) - documented)
    assert missing == [], missing


def test_the_metric_names_lint_knows_are_the_ones_a_run_reports() -> None:
    from sim.expectations import AUTOMATION_METRICS, RUN_METRICS, metric_table
    from sim.runner import run

    result = run(loads(BASE + '[[load]]\nkind = "subscriber_added"\ncount = 3\n', "lint.toml"))
    table = metric_table(result.summary["automations"], result.wiring)
    reported = {k.split(".", 1)[1] for k in table if "." in k} | {k for k in table if "." not in k}
    known = set(AUTOMATION_METRICS) | set(RUN_METRICS)
    assert reported - known == set()  # a metric added to the summary must be known to `check`
    assert {m for m in known - reported if not m.startswith(("state.", "ignored.", "dropped."))} == set()


def test_w1_a_window_without_days_opens_every_day() -> None:
    spec = loads(BASE.replace('start = "+0s"\n', 'start = "+0s"\nwindow = { from = "09:00", to = "18:00" }\n', 1),
                 "lint.toml")
    window = spec.automations[0].window
    assert window is not None
    assert [start // 1440 for start, _ in window.intervals] == list(range(7))
    assert {(start % 1440, end - start) for start, end in window.intervals} == {(540, 541)}


def test_t6_t5_api_loads_that_defaults_turn_away_are_noted_before_running() -> None:
    """The planner's shop day with the defaults kept: 3 requests/s and once per subscriber."""
    text = ('[[automation]]\nid = "order"\ntrigger = { kind = "api" }\nstart = "+0s"\n'
            '[[load]]\nkind = "api"\nautomation = "order"\nrate = "9000/h"\n')
    found = [p[2] for p in problems(text) if p[0] == "note"]
    assert any("about 28% of these" in m and "rate_limited" in m for m in found)  # Erlang B, 2.5/s over 3 places
    assert any("ignored as duplicates" in m for m in found)
    allowed = text.replace('trigger = { kind = "api" }', 'trigger = { kind = "api" }\napi_limit = 100\n'
                           'duplicates = { allow = true }')
    assert [p for p in problems(allowed) if p[0] == "note"] == []
