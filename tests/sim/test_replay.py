"""`[[load]] kind = "replay"`: a file of real traffic, through every automation rule."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from cli import main
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
                            "unknown": 1, "duplicate_signup": 0, "scale_clash": 0}
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
    late = automations(scenario(tmp_path, 'align = "from"', start="+23h55m"))
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
    (ROWS.replace("subscriber_added,b@x.kr", "signup,b@x.kr"),
     "row 3, column 'kind': the value 'signup' is not one of"),
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



DAY = ("time,kind,email\n2026-11-20T00:05:00+09:00,subscriber_added,a@x.kr\n"
       "2026-11-20T00:06:00+09:00,subscriber_added,b@x.kr\n"
       "2026-11-20T00:12:00+09:00,api,a@x.kr\n2026-11-20T21:00:00+09:00,api,b@x.kr\n")


def midnight(path: Path, duration: str = "1d") -> Path:
    """The scenario run from midnight instead of 08:00."""
    text = path.read_text().replace("T08:00:00+09:00", "T00:00:00+09:00")
    path.write_text(text.replace('duration = "1d"', f'duration = "{duration}"'))
    return path


def calls(path: Path) -> list[float]:
    result = run(load(path))
    ev, t0 = result.events, result.wiring.conductor.t0
    hello = result.wiring.conductor.log.automations.index("hello")
    return list(ev["at"][(ev["automation"] == hello) & (ev["kind"] == 0)] - t0)


def test_replay_rows_keep_their_local_time_of_day_by_default(tmp_path: Path) -> None:
    # an export of another day (a Friday in November) onto a run of 2 March from midnight
    assert calls(midnight(scenario(tmp_path, rows=DAY, start="+0s"))) == [12 * 60, 21 * 3600]
    for old in ('align = "from"', 'align = "start"'):  # the first row at `from`: the behaviour before
        assert calls(midnight(scenario(tmp_path, old, rows=DAY, start="+0s"))) == [7 * 60, 21 * 3600 - 5 * 60]


def test_replay_whose_rows_all_land_outside_the_run_is_refused_naming_both_spans(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as err:
        load(midnight(scenario(tmp_path, 'align = "absolute"', rows=DAY, start="+0s")))
    line = str(err.value)
    assert "\n" not in line
    assert "load[0].file" in line
    assert "lands outside the run" in line
    assert "2026-11-20 00:05 +09:00 to 2026-11-20 21:00 +09:00" in line  # the export's span
    assert "2026-03-02 00:00 +09:00 to 2026-03-03 00:00 +09:00" in line  # the run's
    # by day from +1h: 00:05 is first on the next day, after the end of a one-day run
    with pytest.raises(ScenarioError, match="lands outside the run"):
        load(midnight(scenario(tmp_path, rows=DAY, start="+1h")))
    assert main(["check", str(tmp_path / "s.toml")]) == 2


def test_replay_rows_partly_outside_are_warned_before_and_counted_after(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = midnight(scenario(tmp_path, rows=DAY, start="+0s"), duration="12h")
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert "load[0].file: the export's rows land 2026-03-02 00:05 +09:00 to 2026-03-02 21:00 +09:00" in err
    assert "after its end (2026-03-02 12:00 +09:00) will be skipped and counted" in err
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--no-report", "--quiet"]) == 0
    assert "1 rows landed outside the run and were skipped" in capsys.readouterr().err


def test_explain_says_the_alignment_and_where_the_rows_land(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(midnight(scenario(tmp_path, rows=DAY, start="+0s")))]) == 0
    out = capsys.readouterr().out
    assert ("align = 'day' (moved by whole days, each row at its own time of day): rows land "
            "2026-03-02 00:05 +09:00 (+0h05m) to 2026-03-02 21:00 +09:00 (+21h00m)") in out


def test_a_column_empty_in_the_first_block_still_takes_its_later_values(tmp_path: Path) -> None:
    """A group named only in the evening: over a megabyte of rows with the column empty first (Arrow's
    type inference would make it null and refuse 'vip')."""
    filler = "2026-11-23T09:05:00+09:00,api,zz@x.kr,,\n" * 30_000
    rows = ROWS.splitlines(keepends=True)
    a = automations(scenario(tmp_path, rows=rows[0] + rows[1] + filler + rows[5]))
    assert a["vip"]["triggered"] == 1
    assert a["_replay"]["unknown"] == 30_000


def test_t2_a_run_of_replayed_field_rows_keeps_its_place_around_an_action_between_them(tmp_path: Path) -> None:
    """Replayed field and group rows go to the list as one change per run; an action setting the same
    field a second after one row and a second before the next is applied between them (the later row
    wins), and one after both rows wins over them."""
    rows = ROWS.replace("2026-11-23T09:20:00+09:00,set_field,b@x.kr,pro,\n",
                        "2026-11-23T09:20:00+09:00,set_field,b@x.kr,pro,\n"
                        "2026-11-23T09:20:00.500+09:00,add_to_group,b@x.kr,,vip\n"
                        "2026-11-23T09:20:02+09:00,set_field,b@x.kr,gold,\n")
    action = ('[[action]]\nat = "+1h20m1s"\ndo = "set_field"\nfield = "plan"\nvalue = "free"\n'
              'who = { emails = ["b@x.kr"] }\n')
    for extra, plan in (("", "gold"), (action, "gold"), (action.replace("+1h20m1s", "+1h20m3s"), "free")):
        a = automations(scenario(tmp_path, extra, rows=rows))
        store = a["_result"].wiring.store
        assert store.field(store.find("b@x.kr"), "plan") == plan, extra
        assert (a["pro"]["triggered"], a["vip"]["triggered"]) == (1, 2), extra


def test_t2_a_run_of_field_rows_is_cut_into_its_stretches_when_another_change_falls_inside_it() -> None:
    """Changes are applied in time order: a run of replayed rows (`ListRows`) stays one change only when
    no other change of the same flush starts within its span (its first to its last row, ties included)."""
    import numpy as np

    from core import ListRows, SetField, Unsubscribe
    from sim.changes import apart

    keys = (("field", "plan", "pro"), ("group", "vip", None))
    run = ListRows(10.0, np.array([10.0, 12.0, 20.0]), np.array([0, 1, 0]), np.array([0, 0, 1]), keys)
    assert apart([run, Unsubscribe(25.0, (1,))]) == [run, Unsubscribe(25.0, (1,))]
    assert apart([Unsubscribe(9.0, (1,)), run]) == [Unsubscribe(9.0, (1,)), run]
    for inside in (10.0, 15.0, 20.0):
        cut = apart([run, SetField(inside, "plan", "free", (0,))])
        assert [type(c).__name__ for c in cut] == ["SetField", "AddToGroup", "SetField"], inside
        assert [(c.at, c.subscribers) for c in cut[:2]] == [(10.0, (0, 1)), (20.0, (0,))]
