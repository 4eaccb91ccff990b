"""Replayed rows taken ahead of their ticks (`sim.replay_window`) decide what the per-instant engine does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from core.config import AutomationConfig
from core.timing import Delay, SendWindow
from core.triggers import Kind, Trigger
from sim.replay_window import reached, window_end

TICK = 1.0


def _quantize(t: float) -> float:
    return float(np.ceil(round(t, 9)))


def _config(name: str, kind: Kind, delay: float, window: SendWindow | None = None, **options: str) -> AutomationConfig:
    return AutomationConfig(id=name, triggers=(Trigger(kind, options),), delay=Delay(int(delay), "seconds"),
                            window=window, subject="s")


def test_f2_a_subscriber_named_again_at_a_later_tick_ends_the_window_before_it() -> None:
    configs = {"up": _config("up", Kind.FIELD_UPDATED, 300, field="plan", value="pro")}
    at = np.array([0.5, 1.5, 2.5, 3.5])
    end = window_end(at, ["set_field"] * 4, ["a@x", "b@x", "a@x", "c@x"], 100.0,
                     True, reached(configs), _quantize, TICK)
    assert end == 2.0  # a@x again at tick 3: ticks 1 and 2 only


def test_d1_what_a_row_queues_ends_the_window_before_it_is_due() -> None:
    configs = {"up": _config("up", Kind.FIELD_UPDATED, 5, field="plan", value="pro")}
    at = np.array([0.5, 1.5, 2.5, 9.5])
    end = window_end(at, ["set_field"] * 4, ["a@x", "b@x", "c@x", "d@x"], 100.0,
                     True, reached(configs), _quantize, TICK)
    assert end == 5.0  # the first row's send is due at 5.5 (tick 6)


def test_w1_a_send_window_moves_the_soonest_due_to_its_opening() -> None:
    night = SendWindow.daily(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "09:00", "21:00")
    configs = {"vip": _config("vip", Kind.GROUP_ADDED, 0, window=night, group="vip")}
    start = 1772463600.0  # 2026-03-03 00:00 in Seoul: the window opens at 09:00
    at = start + np.array([10.5, 20.5, 30.5])
    end = window_end(at, ["add_to_group"] * 3, ["a@x", "b@x", "c@x"], start + 3600, True, reached(configs),
                     _quantize, TICK)
    assert end == start + 3600  # nothing is due before 09:00: the whole hour
    assert window_end(at, ["add_to_group"] * 3, ["a@x", "b@x", "c@x"], start + 3600, False, reached(configs),
                      _quantize, TICK) == start + 30  # rows after the last one unseen: not its tick


def _run(folder: Path, scenario: Path, *extra: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "cli", "run", str(scenario), "--quiet", "--no-report",
                           "--out", str(folder), "--force", *extra], capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    return json.loads((folder / "summary.json").read_text())  # type: ignore[no-any-return]


def test_st2_a_replay_taken_ahead_logs_the_bytes_of_one_phase_per_tick(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = [f"{i * 2.0:.3f},subscriber_added,m{i}@x.kr,free," for i in range(200)]
    for at in np.sort(rng.uniform(400, 7000, 600)).tolist():
        who = int(rng.integers(200))
        if rng.random() < 0.6:
            rows.append(f"{at:.3f},set_field,m{who}@x.kr,{'pro' if rng.random() < 0.6 else 'free'},")
        elif rng.random() < 0.8:
            rows.append(f"{at:.3f},add_to_group,m{who}@x.kr,,vip")
        else:
            rows.append(f"{at:.3f},unsubscribe,m{who}@x.kr,,")
    (tmp_path / "rows.csv").write_text("time,kind,email,plan,group\n" + "\n".join(rows) + "\n")
    scenario = tmp_path / "s.toml"
    scenario.write_text('''name = "replay ahead"
seed = 4
start = "2026-03-03T08:00:00+09:00"
duration = "2h"
[population]
size = 0
fields = { plan = ["free"] }
[dispatcher]
rate = 5
[[automation]]
id = "upgrade"
subject = "pro"
trigger = { kind = "field_updated", field = "plan", value = "pro" }
delay = "3m"
start = "+0s"
[[automation]]
id = "vip"
subject = "vip"
trigger = { kind = "group_added", group = "vip" }
filter = { field = "plan", op = "equals", value = "pro" }
window = { from = "09:00", to = "21:00" }
start = "+0s"
[[load]]
kind = "replay"
file = "rows.csv"
''')
    ahead = _run(tmp_path / "ahead", scenario)
    one = _run(tmp_path / "one", scenario, "--no-look-ahead")
    assert ahead["event_digest"] == one["event_digest"]
    assert ahead["phases"] < 0.8 * one["phases"]  # type: ignore[operator]
    automations: dict[str, dict[str, int]] = ahead["automations"]  # type: ignore[assignment]
    assert automations["vip"]["sent"] > 0
    assert automations["upgrade"]["sent"] > 0
