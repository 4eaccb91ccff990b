"""Bad input: exit code 2 and one line naming the file and the key; never a traceback."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main
from sim.scenarios.loader import ScenarioError, loads

CORPUS = Path(__file__).resolve().parents[1] / "bad_scenarios"
# file -> what the one line must name (the key, or the problem for file-level errors)
EXPECTED = {
    "toml-syntax": "TOML syntax error", "unknown-key": "sead: unknown key (did you mean 'seed'?)",
    "wrong-type": "population.size", "zero-duration": "duration", "negative-delay": "automation[0].delay",
    "unknown-timezone": "timezone", "window-no-days": "automation[0].window.days",
    "unknown-automation": "action[0].automation", "action-outside-run": "action[0].at",
    "end-at-before-start": ("automation[0].end_at: '+1h' must lie after the automation's own start "
                            "(start = '+2h')"), "absurd-size": "population.size",
    "unknown-trigger": "automation[0].trigger.kind", "duplicates-forbidden": "automation[0].duplicates.allow",
    "repeat-anniversary": "automation[0].repeat", "not-utf8": "not UTF-8", "empty": "empty",
    "negative-rate": "dispatcher.rate", "unknown-metric": "expect[0].metric", "bad-rate": "load[0].rate",
    "schedule-without-time": "action[0].schedule_at", "select-negative": "action[0].select",
    "group-share-nan": "population.groups", "recipient-injection": "population.subscribers[0].email",
    "subject-crlf": "automation[0].subject", "timezone-folder": "timezone: unknown time zone 'America'",
    "empty-choices": "population.fields.plan", "absurd-arrivals": "would need about",
    "delay-past-the-calendar": "automation[0].delay: at most 100 years", "deep-nesting": "nested too deeply",
}


def test_corpus_is_complete() -> None:
    assert sorted(p.stem for p in CORPUS.glob("*.toml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_scenario_gives_one_line_and_exit_2(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / f"{name}.toml"
    assert main(["check", str(path)]) == 2
    assert main(["run", str(path), "--quiet", "--out", "/nonexistent-never-written"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert err[0] == err[1]
    assert str(path) in err[0]
    assert EXPECTED[name] in err[0]


@pytest.mark.parametrize("name", ["not-utf8", "unknown-key", "toml-syntax"])
def test_real_process_prints_no_traceback(name: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "cli", "run", str(CORPUS / f"{name}.toml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_file_and_unknown_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "no/such/file.toml"]) == 2
    assert main(["check", "no-such-builtin"]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err
    assert "built-in" in err


# -- fuzzing the loader: any document gives a spec or a ScenarioError, nothing else ----------
VALID = {
    "name": "fuzz", "seed": 1, "start": "2026-03-02T08:00:00+09:00", "duration": "1d",
    "population": {"size": 10, "fields": {"plan": ["a", "b"]}},
    "dispatcher": {"rate": 10, "latency": "50ms"},
    "automation": [{"id": "welcome", "trigger": {"kind": "subscriber_added"}, "delay": "1h",
                    "window": {"days": ["mon"], "from": "09:00", "to": "18:00"}, "start": "+0s"}],
    "load": [{"kind": "subscriber_added", "rate": "10/h"}],
    "action": [{"at": "+1h", "do": "pause", "automation": "welcome"}],
    "expect": [{"metric": "welcome.sent", "op": ">", "value": 0}],
}


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def to_toml(doc: dict) -> str:  # type: ignore[type-arg]
    return "\n".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in doc.items()) + "\n"


scalars = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True), st.booleans(),
                    st.text(max_size=12), st.sampled_from(["+1h", "-5m", "0s", "mon 15:00", "500/h", "pause",
                                                           "welcome", "api", "09:00", "2026-03-02T08:00:00Z"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)


def error_of(text: str, name: str) -> str:
    """The loader's one-line error for `text`, or "" when it loads; any other exception escapes."""
    try:
        loads(text, name)
    except ScenarioError as err:
        return str(err)
    return ""


def mutate(draw: st.DrawFn) -> dict:  # type: ignore[type-arg]
    doc = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(["top", "population", "dispatcher", "automation", "load", "action", "expect"]))
        target = doc if path == "top" else (doc[path][0] if isinstance(doc.get(path), list) and doc[path]
                                            else doc.get(path, doc))
        if not isinstance(target, dict):
            continue
        key = draw(st.sampled_from([*target.keys(), draw(st.text(min_size=1, max_size=8))]))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(values)
    return doc


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.composite(mutate)())
def test_fuzzed_scenarios_only_ever_raise_scenario_error(doc: dict) -> None:  # type: ignore[type-arg]
    try:
        text = to_toml(doc)
    except TypeError:
        return
    message = error_of(text, "fuzz.toml")
    assert message == "" or message.startswith("fuzz.toml: ")
    assert "\n" not in message


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzzed_text_only_ever_raises_scenario_error(text: str) -> None:
    message = error_of(text, "text.toml")
    assert message == "" or message.startswith("text.toml: ")


def test_an_unknown_key_that_looks_like_a_pydantic_path_is_named() -> None:
    """Found by the loader fuzz in CI: a top-level key '[' left no path and an IndexError."""
    text = ('name = "x"\nstart = 2026-03-02T08:00:00+09:00\nduration = "1d"\n"[" = 0\n'
            '[[automation]]\nid = "a"\ntrigger = { kind = "api" }\n')
    with pytest.raises(ScenarioError, match=r"^f.toml: \[: unknown key$"):
        loads(text, "f.toml")


@pytest.mark.parametrize(("override", "names"), [
    ("start=1900-01-01T00:00:00Z", "start: a year between"),
    ("start=9999-12-31T00:00:00Z", "start: a year between"),
    ("automation.welcome.delay='99999999w'", "automation[0].delay: at most 100 years"),
    ("automation.welcome.api_limit=10000000000", "automation[0].api_limit"),
    ("expect[0].value=nan", "expect[0].value"),
    ("expect[0].value=inf", "expect[0].value"),
    ("population.groups={vip=2.0}", "population.groups"),
])
def test_numbers_dates_and_durations_have_bounds(override: str, names: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "welcome-tour", "--set", override]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert names in err[0]


def test_a_file_that_is_not_a_scenario_file_is_refused_without_reading_it_all(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (17 * 2**20) + b"\n")
    assert main(["check", str(big)]) == 2
    assert main(["check", "/dev/zero"]) == 2
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3
    assert "larger than 16 MB" in err[0]
    assert "not a regular file" in err[1]


@pytest.mark.parametrize("broken", ["{not json", '{"scenario": 1}', "[]", ""])
def test_report_of_a_broken_run_folder_is_one_line(tmp_path: Path, broken: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "summary.json").write_text(broken)
    (tmp_path / "timeseries.json").write_text("{}")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "not a readable dripsim run folder" in err[0]
    assert not (tmp_path / "report.html").exists()


# -- every bound: values at and past it load as a spec or give one line, never a traceback ----------
BOUNDED_KEYS = ["duration", "seed", "population.size", "dispatcher.rate", "dispatcher.latency", "dispatcher.tick",
                "dispatcher.latency_sigma", "behaviour.open", "behaviour.open_after", "automation[0].delay",
                "automation[0].api_limit", "automation[0].repeat", "load[0].rate", "load[0].from",
                "action[0].at", "expect[0].value", "faults.backoff", "faults.retries", "time_scale", "start"]
EDGES = ["0", "-1", "1", "1e308", "-1e308", "nan", "inf", "9223372036854775808", "1e-9", "'1e6w'", "'99999999w'",
         "'0s'", "'1ms'", "'400d'", "'401d'", "'-5m'", "''", "'x'", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
         "[]", "{}", "true"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(BOUNDED_KEYS), st.sampled_from(EDGES)), min_size=1, max_size=3))
def test_values_at_and_past_every_bound_never_give_a_traceback(changes: list[tuple[str, str]]) -> None:
    from sim import budget

    text = to_toml(VALID)
    message = ""
    try:
        spec = loads(text, "edge.toml", [f"{k}={v}" for k, v in changes])
        budget.check(spec, 2**34)
    except ScenarioError as err:
        message = str(err)
        refused_by = "loader"
    except ValueError as err:  # the memory estimate
        message = str(err)
        refused_by = "budget"
    if message:
        assert message.startswith("edge.toml: ")
        assert "\n" not in message
        assert refused_by == "loader" or "would need about" in message


@pytest.mark.parametrize("overrides", [
    ["dispatcher.latency='1d'", "dispatcher.latency_sigma=5"],  # a lognormal tail of e^25 days
    ["faults.latency_spikes=[['+0s', '+3d', 1e300]]"],
    ["faults.backoff='1d'", "faults.retries=15", "faults.transient=1"],
])
def test_extreme_transport_settings_run_without_leaving_the_calendar(
        overrides: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by trying them: event times past year 9999 crashed the event log's writer."""
    args = ["run", "welcome-tour", "--quiet", "--no-report", "--out", str(tmp_path / "o")]
    for item in overrides:
        args += ["--set", item]
    assert main(args) in (0, 1)  # an expectation may fail; nothing may crash
    assert (tmp_path / "o" / "events.csv.gz").exists()


def test_a_backoff_that_doubles_past_a_century_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "welcome-tour", "--set", "faults.backoff='5200w'", "--set", "faults.retries=20"]) == 2
    assert "faults.backoff: with 20 retries doubling" in capsys.readouterr().err
