"""Randomised faults and operations, seed after seed: every invariant must hold on every run.

    python -m benchmarks.faults [--seeds 10000] [--first N] [--workers 2]

Each seed draws a run of 6 simulated hours: sign-ups and API requests; a
welcome email (delay, sometimes a window), a not-opened nudge, a repeating
API digest with an `end_at`; transport faults (down windows, 4xx with
retries, 5xx, bounces, latency); actor crashes; and operator moves at random
times: pause, resume, end, edit (delay, trigger), schedule and cancel,
delete, pending-list queries, send-now and delete, unsubscribes. A run
passes when the invariants hold (ST2 from the counters and from the event
log, nothing sent while not running or to someone unsubscribed, no send
handed over twice, and with SMTP, the sink's Message-IDs unique and each
handed over) and nothing is left in flight. One seed in 50 sends through
real SMTP to the local sink (real clock); `--smtp` sends every seed so. Prints failing seeds
(replay one with `--first SEED --seeds 1`), a tally and the time; exits 1
on any failure. tests/reliability/test_fault_seeds.py runs 200 fixed seeds
and 64 fresh ones on every CI run.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import multiprocessing
import sys
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from core import (
    AutomationConfig,
    CancelSchedule,
    Delay,
    Delete,
    DeletePending,
    Edit,
    End,
    Kind,
    Pause,
    PendingQuery,
    QueryPending,
    Repeat,
    Resume,
    Schedule,
    SendNow,
    SendWindow,
    Start,
    Trigger,
    Unsubscribe,
)
from sim.behaviour import BehaviourSpec
from sim.population import PopulationSpec
from sim.runner import run
from sim.spec import ActionSpec, ApiCall, CrashSpec, LoadSpec, RunSpec, Who
from sim.transport import TransportSpec

START = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Seoul"))
HOURS = 3600.0
IDS = ("welcome", "nudge", "digest")


def _command(kind: str, when: float, rng: np.random.Generator, label: str) -> object:
    query = PendingQuery(sort=str(rng.choice(["asc", "desc"])), page=int(rng.integers(1, 3)))  # type: ignore[arg-type]
    select = str(rng.choice(["page", "all"])) if rng.random() < 0.7 else int(rng.integers(1, 20))
    simple = {"pause": Pause, "resume": Resume, "end": End, "cancel": CancelSchedule, "delete": Delete,
              "unsubscribe": Unsubscribe, "api": ApiCall}
    if kind in simple:
        return simple[kind](when)
    if kind == "edit_delay":
        return Edit(when, {"delay": Delay(int(rng.integers(0, 120)), "minutes")})
    if kind == "edit_trigger":
        return Edit(when, {"triggers": (Trigger(Kind.API),)})
    if kind == "schedule":
        return Schedule(when, when + float(rng.uniform(60, HOURS)))
    if kind == "query":
        return QueryPending(when, query, label)
    pending = SendNow if kind == "send_now" else DeletePending
    return pending(when, query, select)  # type: ignore[arg-type]


def _operations(rng: np.random.Generator, t0: float) -> list[ActionSpec]:
    """Operator moves at random times, on random automations (many are refused: that is part of it)."""
    moves = []
    for i, at in enumerate(sorted(rng.uniform(0.25 * HOURS, 5.75 * HOURS, int(rng.integers(0, 9))))):
        when, who = t0 + float(at), str(rng.choice(IDS))
        kind = str(rng.choice(["pause", "resume", "end", "edit_delay", "edit_trigger", "schedule", "cancel",
                               "delete", "query", "send_now", "delete_pending", "unsubscribe", "api"]))
        command: Any = _command(kind, when, rng, f"q{i}")
        if kind == "unsubscribe":
            moves.append(ActionSpec(command, None, Who(pending_of=who, count=int(rng.integers(1, 5))), 20 + i))
        elif kind == "api":
            moves.append(ActionSpec(command, "digest", Who(count=int(rng.integers(1, 10))), 20 + i))
        else:
            moves.append(ActionSpec(command, who, index=20 + i))
    return moves


def fault_spec(seed: int) -> RunSpec:
    rng = np.random.default_rng(seed)
    t0 = START.timestamp()
    down = sorted(rng.uniform(0, 5 * HOURS, 2))
    crashes = [CrashSpec(str(rng.choice([*IDS, "dispatcher"])), at=float(rng.uniform(0, 6 * HOURS)))
               for _ in range(int(rng.integers(0, 3)))]
    if rng.random() < 0.5:
        crashes.append(CrashSpec(str(rng.choice(["welcome", "dispatcher"])), every=int(rng.integers(3, 30))))
    digest_end = t0 + float(rng.uniform(2, 7)) * HOURS  # past the run's end sometimes
    return RunSpec(
        name=f"faults {seed}", seed=seed, start=START, duration=6 * HOURS, tick=float(rng.choice([1.0, 60.0])),
        population=PopulationSpec(size=150, fields={"plan": ["free", "pro"]}),
        behaviour=BehaviourSpec(open=float(rng.uniform(0, 0.6)), click=0.05, unsubscribe=float(rng.uniform(0, 0.05)),
                                open_after=1800.0),
        transport=TransportSpec(rate=float(rng.choice([0.5, 2.0, 50.0])), latency=float(rng.uniform(0.01, 5)),
                                soft_bounce=float(rng.uniform(0, 0.05)), hard_bounce=float(rng.uniform(0, 0.05)),
                                failure_windows=[(t0 + down[0], t0 + down[1])],
                                transient=float(rng.uniform(0, 0.3)), permanent=float(rng.uniform(0, 0.05)),
                                retries=int(rng.integers(0, 4)), backoff=float(rng.choice([30.0, 120.0]))),
        automations=(
            AutomationConfig(id="welcome", triggers=(Trigger(Kind.SUBSCRIBER_ADDED),), subject="hi",
                             delay=Delay(int(rng.integers(0, 90)), "minutes"),
                             window=SendWindow.daily(["mon"], "09:00", "12:00") if rng.random() < 0.5 else None),
            AutomationConfig(id="nudge", triggers=(Trigger(Kind.NOT_OPENED, email="welcome", within=1800.0),),
                             subject="again"),
            AutomationConfig(id="digest", triggers=(Trigger(Kind.API),), subject="digest",
                             repeat=Repeat(float(rng.choice([1800.0, 3600.0]))),
                             delay=Delay(int(rng.integers(0, 30)), "minutes"))),
        loads=(LoadSpec("subscriber_added", rate=float(rng.uniform(0.005, 0.05)), until=5 * HOURS),
               LoadSpec("api", rate=float(rng.uniform(0.0005, 0.005)), until=5 * HOURS, automation="digest")),
        actions=(ActionSpec(Start(t0), "welcome", index=0), ActionSpec(Start(t0), "nudge", index=1),
                 ActionSpec(Start(t0, digest_end), "digest", index=2), *_operations(rng, t0)),
        crashes=tuple(crashes))


SMTP_EVERY = 50  # one seed in 50 sends through real SMTP to the local sink (on the real clock, fast)


def with_smtp(spec: RunSpec) -> RunSpec:
    return dataclasses.replace(spec, smtp=True, clock="real", time_scale=1e-4)


def problems_of(seed: int, smtp: bool | None = None) -> list[str]:
    """What went wrong in the run of `seed` (empty when every promise held). SMTP for one seed in
    `SMTP_EVERY` unless `smtp` says otherwise; the sink's Message-IDs are then checked too."""
    spec = fault_spec(seed)
    if smtp if smtp is not None else seed % SMTP_EVERY == SMTP_EVERY - 1:
        spec = with_smtp(spec)
    try:
        result = run(spec)
    except Exception as err:  # a crash is a failure too, named with the seed
        return [f"crashed: {type(err).__name__}: {err}"]
    found = list(result.summary["invariants"]["violations"])
    found += [f"{name}: {a['in_flight']} sends left in flight" for name, a in result.summary["automations"].items()
              if a["in_flight"]]
    return found


def _check(seed: int, smtp: bool | None = None) -> tuple[int, list[str]]:
    return seed, problems_of(seed, smtp)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=10_000)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    p.add_argument("--smtp", action="store_true", help="every seed through real SMTP (real clock, 2-3 s each)")
    args = p.parse_args()
    began = time.perf_counter()
    failed = 0
    with multiprocessing.Pool(args.workers) as pool:
        check = functools.partial(_check, smtp=True if args.smtp else None)
        for seed, found in pool.imap_unordered(check, range(args.first, args.first + args.seeds), chunksize=8):
            if found:
                failed += 1
                print(f"seed {seed}: {found}", flush=True)
    took = time.perf_counter() - began
    last = args.first + args.seeds - 1
    print(f"{args.seeds - failed}/{args.seeds} seeds kept every invariant ({args.first}..{last}), "
          f"{took:.0f} s on {args.workers} workers")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
