"""The dispatcher's token bucket: capacity per second, whatever the tick."""

from __future__ import annotations

from sim.runner import run
from sim.scenarios.library import builtin_path
from sim.scenarios.loader import load


def test_a_rate_below_one_send_per_tick_still_sends_at_that_rate() -> None:
    # 30 sends due at once at 0.2/s with a 1 s tick: one every 5 s (the bucket used to top out at 0.2).
    spec = load(builtin_path("pause-boundary"), ["dispatcher.rate=0.2", "action=[]"])
    result = run(spec)
    a = result.summary["automations"]["welcome"]
    assert a["sent"] == 60
    assert 5 * 29 <= a["latency_s"]["max"] <= 5 * 30 + 2
