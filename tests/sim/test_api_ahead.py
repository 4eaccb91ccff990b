"""API calls decided ahead of their phases decide exactly what a phase per call decides (T6, T5, U2)."""

from __future__ import annotations

from typing import Any

import pytest

from sim.runner import RunResult, digest_of
from sim.scenarios.library import builtin_path
from sim.scenarios.loader import load, loads
from tests.sim.switched import run_switched

BUSY = """
name = "api ahead"
seed = {seed}
start = "2026-03-06T18:00:00+09:00"   # a Friday evening: the window closes, a weekend passes
duration = "3d"

[population]
size = 400
status = {{ unsubscribed = 0.1 }}

[behaviour]
open = 0.4
open_after = "30m"
click = 0.1
unsubscribe = 0.2
hard_bounce = 0.2

[dispatcher]
rate = 5
tick = "{tick}"
latency = "2s"

[[automation]]
id = "receipt"
trigger = {{ kind = "api" }}
delay = "{delay}"
duplicates = {{ allow = true, cooldown = "20m" }}
api_limit = 4
window = {{ days = ["mon", "tue", "wed", "thu", "fri"], from = "09:00", to = "21:00" }}
repeat = "weekly"
start = "+0s"
end_at = "+2d20h"

[[automation]]
id = "welcome"
trigger = {{ kind = "subscriber_added" }}
start = "+0s"

[[load]]
kind = "api"
automation = "receipt"
rate = "40/h"

[[load]]
kind = "subscriber_added"
rate = "2/h"

[[action]]
at = "+7h"
do = "pause"
automation = "receipt"

[[action]]
at = "+9h"
do = "resume"
automation = "receipt"
"""


def _run(spec: Any, ahead: bool) -> RunResult:
    """The API horizon alone (windows, which take API calls ahead too, off), on or off."""
    return run_switched(spec, api_ahead=ahead, windows_on=False)


@pytest.mark.parametrize(("seed", "delay", "tick"), [(1, "15m", "1s"), (2, "2h", "1s"), (3, "0s", "1s"),
                                                     (4, "1d", "7s"), (5, "10m", "1m")])
def test_t6_api_calls_decided_ahead_match_a_phase_per_call(seed: int, delay: str, tick: str) -> None:
    spec = loads(BUSY.format(seed=seed, delay=delay, tick=tick), "api-ahead")
    ahead, one_by_one = _run(spec, True), _run(spec, False)
    assert ahead.summary["invariants"]["ok"], ahead.summary["invariants"]["violations"]
    receipt = one_by_one.summary["automations"]["receipt"]
    assert receipt["triggered"] > 20
    assert receipt["ignored"]["not_subscribed"] + receipt["ignored"]["rate_limited"] > 0  # the rules had a say
    assert digest_of(ahead) == digest_of(one_by_one)  # byte for byte, random picks included
    assert digest_of(run_switched(spec)) == digest_of(one_by_one)  # and with windows, as a run has them
    if delay != "0s":
        assert ahead.summary["phases"] < one_by_one.summary["phases"]


def test_t6_a_phase_per_call_is_what_builtins_and_the_phase_benchmark_decide() -> None:
    for path, overrides in [(builtin_path("api-rate-limit"), []), (builtin_path("repeat-retrigger"), []),
                            (builtin_path("end-at-in-flight"), []),
                            (builtin_path("welcome-tour").parent.parent.parent / "benchmarks" / "phase.toml",
                             ['duration="2h"', 'load.rate="720/h"'])]:
        spec = load(path, overrides)
        assert digest_of(_run(spec, True)) == digest_of(_run(spec, False)), path
