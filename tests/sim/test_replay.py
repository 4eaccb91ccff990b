"""`[[load]] kind = "replay"`: a file of real traffic, through every automation rule."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from sim.runner import run
from sim.scenarios.loader import ScenarioError, load

ROWS = """time,kind,email,plan,group
2026-11-23T09:00:00+09:00,subscriber_added,a@x.kr,pro,
2026-11-23T09:00:30+09:00,subscriber_added,b@x.kr,,
2026-11-23T09:10:00+09:00,api,a@x.kr,,
2026-11-23T09:20:00+09:00,set_field,b@x.kr,pro,
2026-11-23T09:30:00+09:00,add_to_group,a@x.kr,,vip
2026-11-23T09:40:00+09:00,unsubscribe,b@x.kr,,
2026-11-23T09:50:00+09:00,api,zz@x.kr,,
"""

SCENARIO = """
name = "replay"
start = "2026-03-02T08:00:00+09:00"
duration = "1d"
[population]
size = 0
fields = { plan = ["free"] }
[behaviour]
open = 0
click = 0
unsubscribe = 0
[[automation]]
id = "welcome"
trigger = { kind = "subscriber_added" }
delay = "1h"
window = { from = "09:00", to = "18:00" }
start = "+0s"
[[automation]]
id = "hello"
trigger = { kind = "api" }
start = "+0s"
[[automation]]
id = "pro"
trigger = { kind = "field_updated", field = "plan", value = "pro" }
start = "+0s"
[[automation]]
id = "vip"
trigger = { kind = "group_added", group = "vip" }
start = "+0s"
[[load]]
kind = "replay"
file = "FILE"
automation = "hello"
from = "START"
EXTRA
"""


def scenario(tmp_path: Path, extra: str = "", rows: str = ROWS, file: str = "traffic.csv",
             start: str = "+1h") -> Path:
    data = tmp_path / file
    if file.endswith(".gz"):
        with gzip.open(data, "wt") as f:
            f.write(rows)
    else:
        data.write_text(rows)
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.replace("FILE", file).replace("EXTRA", extra).replace("START", start))
    return path


def automations(path: Path) -> dict:  # type: ignore[type-arg]
    result = run(load(path))
    assert result.ok, result.failures
    return {**result.summary["automations"], "_replay": result.summary["replay"][0], "_result": result}


def test_t2_a_replayed_file_gives_exactly_the_triggers_it_implies(tmp_path: Path) -> None:
    a = automations(scenario(tmp_path))
    assert a["welcome"]["triggered"] == 2  # two sign-ups
    assert a["welcome"]["sent"] == 1  # a at 10:00; b unsubscribed at 09:40, before its 10:00:30 send
    assert a["welcome"]["dropped"]["unsubscribed"] == 1
    assert a["hello"]["triggered"] == 1  # the API call naming a; zz is not on the list
    assert a["pro"]["triggered"] == 1  # b's plan set to pro (a signed up as pro: not an update)
    assert a["vip"]["triggered"] == 1
    assert a["_replay"] == {"file": str(tmp_path / "traffic.csv"), "replayed": 7, "skipped_outside_run": 0,
                            "unknown": 1}
    store = a["_result"].wiring.store
    assert store.field(store.find("a@x.kr"), "plan") == "pro"


def test_speed_compresses_time_and_scale_multiplies_rows(tmp_path: Path) -> None:
    fast = automations(scenario(tmp_path, "speed = 2"))
    result = fast["_result"]
    t0 = result.wiring.conductor.t0
    hello = result.wiring.conductor.log.automations.index("hello")
    ev = result.events
    triggered = ev["at"][(ev["automation"] == hello) & (ev["kind"] == 0)]
    assert list(triggered - t0) == [3600 + 600 / 2]  # the API row 10 minutes in: 5 minutes at 2x
    double = automations(scenario(tmp_path, "scale = 2"))
    assert double["welcome"]["triggered"] == 4  # a, a+r2, b, b+r2
    assert double["hello"]["triggered"] == 2  # the call names a and its copy
    assert double["_result"].wiring.store.find("a+r2@x.kr") is not None
    assert double["_replay"]["replayed"] == 14


def test_rows_outside_the_run_are_skipped_and_counted(tmp_path: Path) -> None:
    late = automations(scenario(tmp_path, start="+23h55m"))
    assert late["_replay"]["skipped_outside_run"] == 5  # only the two sign-ups fit in the run's last 5 minutes
    assert late["welcome"]["triggered"] == 2


def test_parquet_and_gzip_files_replay_the_same(tmp_path: Path) -> None:
    csv = automations(scenario(tmp_path))
    gz = automations(scenario(tmp_path, file="traffic.csv.gz"))
    table = pcsv.read_csv(tmp_path / "traffic.csv.gz")
    path = scenario(tmp_path, file="traffic.parquet")
    pq.write_table(table, tmp_path / "traffic.parquet")  # over the text the helper wrote
    par = automations(path)
    for name in ("welcome", "hello", "pro", "vip"):
        assert csv[name]["triggered"] == gz[name]["triggered"] == par[name]["triggered"]


@pytest.mark.parametrize(("rows", "names"), [
    (ROWS.replace("subscriber_added,b@x.kr", "signup,b@x.kr"), "row 3, column 'kind': 'signup' is not one of"),
    (ROWS.replace("b@x.kr,,\n2026-11-23T09:10", '"b,evil@x.kr",,\n2026-11-23T09:10'),
     "row 3, column 'email'"),
    (ROWS.replace("2026-11-23T09:10:00+09:00", "2026-11-23T08:10:00+09:00"), "row 4, column 'time': earlier"),
    (ROWS.replace("2026-11-23T09:10:00+09:00", "soon"), "column 'time'"),
    ("time,email\n1,a@x.kr\n", "missing column 'kind'"),
])
def test_bad_rows_are_one_line_naming_file_row_and_column(tmp_path: Path, rows: str, names: str) -> None:
    path = scenario(tmp_path, rows=rows)
    with pytest.raises(ScenarioError) as err:
        load(path)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{path}: load[0].file: {tmp_path / 'traffic.csv'}: ")
    assert names in line


def test_s2_replayed_sign_ups_due_while_paused_are_dropped(tmp_path: Path) -> None:
    pause = ('[[action]]\nat = "+1h55m"\ndo = "pause"\nautomation = "welcome"\n'
             '[[action]]\nat = "+2h30m"\ndo = "resume"\nautomation = "welcome"\n')
    a = automations(scenario(tmp_path, pause))
    assert a["welcome"]["triggered"] == 2
    assert a["welcome"]["sent"] == 0  # a came due at 10:00 and b at 10:00:30, both while paused:
    assert a["welcome"]["dropped"]["paused"] == 2  # S2 decides before b's unsubscribe (S1) is looked at


def test_times_in_seconds_are_relative_and_absolute_times_can_keep_their_instant(tmp_path: Path) -> None:
    seconds = "time,kind,email\n0,subscriber_added,a@x.kr\n600,api,a@x.kr\n"
    relative = automations(scenario(tmp_path, rows=seconds))
    result = relative["_result"]
    hello = result.wiring.conductor.log.automations.index("hello")
    ev, t0 = result.events, result.wiring.conductor.t0
    assert list(ev["at"][(ev["automation"] == hello) & (ev["kind"] == 0)] - t0) == [3600 + 600]
    on_the_day = ROWS.replace("2026-11-23", "2026-03-02")  # the run's own Monday
    absolute = automations(scenario(tmp_path, 'align = "absolute"', rows=on_the_day, start="+0s"))
    result = absolute["_result"]
    ev, t0 = result.events, result.wiring.conductor.t0
    assert list(ev["at"][(ev["automation"] == hello) & (ev["kind"] == 0)] - t0) == [3600 + 600]  # 09:10
    with pytest.raises(ScenarioError, match="needs ISO times with an offset"):
        load(scenario(tmp_path, 'align = "absolute"', rows=seconds))
