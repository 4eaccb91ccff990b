"""`dripsim calibrate`: the behaviour a run was generated with is recovered from its own event log."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main
from reports.calibrate import LogError, behaviour_toml, fit, read_log
from sim.runner import run, write
from sim.scenarios.loader import loads

SCENARIO = """
name = "calibration source"
seed = 5
start = "2026-03-02T08:00:00+09:00"
duration = "2d"
[population]
size = 4000
[behaviour]
open = 0.4
click = 0.1
unsubscribe = 0
BEHAVIOUR_DELAYS
[[automation]]
id = "hello"
trigger = { kind = "subscriber_added", include_admin = true }
start = "+0s"
[[load]]
kind = "subscriber_added"
count = 4000
from = "+10m"
"""
EXPONENTIAL = 'open_after = "1h"\nclick_after = "10m"'


def fitted(tmp_path: Path, delays: str, name: str) -> dict:  # type: ignore[type-arg]
    result = run(loads(SCENARIO.replace("BEHAVIOUR_DELAYS", delays), f"{name}.toml"))
    write(result, tmp_path / name)
    return fit(read_log(tmp_path / name / "events.csv.gz"))


def test_calibrate_recovers_the_behaviour_it_was_generated_with(tmp_path: Path) -> None:
    """Tolerances: probabilities within 0.03 (4,000 sends: the standard error is 0.008), the exponential
    means within 10%, and the quantiles, fed back as the scenario's distribution, reproduce the median
    within 10%."""
    first = fitted(tmp_path, EXPONENTIAL, "a")["all"]
    assert first["sent"] == 4000
    assert first["open"] == pytest.approx(0.4, abs=0.03)
    assert first["click"] == pytest.approx(0.1, abs=0.03)
    assert first["open_after"]["mean_s"] == pytest.approx(3600, rel=0.10)
    assert first["click_after"]["mean_s"] == pytest.approx(600, rel=0.10)
    q = first["open_after"]["quantiles_s"]
    assert q[5] == pytest.approx(3600 * 0.6931, rel=0.10)  # an exponential's median is ln 2 x its mean
    quantiles = 'open_after = { quantiles = [' + ", ".join(f'"{v:.0f}s"' for v in q) + '] }\nclick_after = "10m"'
    second = fitted(tmp_path, quantiles, "b")["all"]
    assert second["open"] == pytest.approx(0.4, abs=0.03)
    assert second["open_after"]["quantiles_s"][5] == pytest.approx(q[5], rel=0.10)


def test_the_printed_table_is_a_behaviour_table_the_loader_takes(tmp_path: Path) -> None:
    table = behaviour_toml(fitted(tmp_path, EXPONENTIAL, "a"))
    assert table.startswith("[behaviour]\n")
    spec = loads(SCENARIO.replace("[behaviour]\nopen = 0.4\nclick = 0.1\nunsubscribe = 0\nBEHAVIOUR_DELAYS\n", table),
                 "pasted.toml")
    assert spec.behaviour.open_after_quantiles is not None
    assert spec.behaviour.open == pytest.approx(0.4, abs=0.03)


def test_a_log_that_is_not_a_send_log_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,who\n2026-03-02T08:00:00+09:00,a@example.kr\n")
    with pytest.raises(LogError, match="missing column 'time'"):
        read_log(bad)
    assert main(["calibrate", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert not (tmp_path / "o").exists()


def test_quantiles_must_not_decrease(tmp_path: Path) -> None:
    from sim.scenarios.loader import ScenarioError

    with pytest.raises(ScenarioError, match=r"behaviour.open_after.quantiles: must not decrease"):
        loads(SCENARIO.replace("BEHAVIOUR_DELAYS", 'open_after = { quantiles = ["1h", "10m"] }'), "q.toml")


def test_a_plain_send_log_in_csv_and_parquet_is_matched_send_to_open_to_click(tmp_path: Path) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    text = ("time,email,automation,event\n"
            "2026-11-23T09:00:00+09:00,a@x.kr,welcome,sent\n"
            "2026-11-23T09:00:00+09:00,b@x.kr,welcome,sent\n"
            "2026-11-23T09:30:00+09:00,a@x.kr,welcome,opened\n"
            "2026-11-23T09:40:00+09:00,a@x.kr,welcome,opened\n"   # a second open of the same send: not counted
            "2026-11-23T09:45:00+09:00,a@x.kr,welcome,clicked\n"
            "2026-11-23T10:00:00+09:00,c@x.kr,welcome,opened\n"   # no send to c: not matched
            "2026-11-23T11:00:00+09:00,b@x.kr,welcome,bounced\n")
    path = tmp_path / "log.csv"
    path.write_text(text)
    for source in (path, tmp_path / "log.parquet"):
        if source.suffix == ".parquet":
            pq.write_table(pcsv.read_csv(path), source)
        f = fit(read_log(source))["welcome"]
        assert (f["sent"], f["open"], f["click"]) == (2, 0.5, 0.5)
        assert f["open_after"]["quantiles_s"][0] == 1800.0
        assert f["click_after"]["quantiles_s"][0] == 900.0
