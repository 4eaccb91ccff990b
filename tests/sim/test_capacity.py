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


def test_queue_and_delivery_latency_on_known_numbers() -> None:
    """30 sends due at once, 1/s, a fixed 2 s transport latency: the i-th is handed over after i s and
    delivered after i + 2 s, so both percentiles are known exactly (numpy's linear interpolation)."""
    from sim.runner import run
    from sim.scenarios.loader import loads

    emails = [f"s{i}@example.kr" for i in range(30)]
    text = (
        'name = "known latencies"\nstart = "2026-03-02T08:00:00+09:00"\nduration = "1h"\n'
        "[population]\nsize = 0\n[behaviour]\nopen = 0\nclick = 0\nunsubscribe = 0\n"
        '[dispatcher]\nrate = 1\ntick = "1s"\nlatency = "2s"\nlatency_sigma = 0\n'
        '[[automation]]\nid = "hello"\ntrigger = { kind = "api" }\napi_limit = 1000\nstart = "+0s"\n'
        '[[action]]\nat = "+1m"\ndo = "api"\nautomation = "hello"\n'
        "who = { emails = [" + ", ".join(f'"{e}"' for e in emails) + "] }\n"
        + "".join(f'[[population.subscribers]]\nemail = "{e}"\n' for e in emails))
    summary = run(loads(text, "known.toml")).summary
    a = summary["automations"]["hello"]
    assert a["sent"] == 30
    assert a["latency_s"] == {"p50": 14.5, "p95": 27.55, "p99": 28.71, "max": 29.0}
    assert a["delivery_latency_s"] == {"p50": 16.5, "p95": 29.55, "p99": 30.71, "max": 31.0}
    assert summary["delivery_latency_s"] == a["delivery_latency_s"]
