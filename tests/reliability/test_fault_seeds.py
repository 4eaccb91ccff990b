"""200 seeds of a randomised fault mix: every invariant holds on every one.

A failure names the seed; reproduce it with `FAULT_SEED=<seed> pytest -k one_seed`.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from core import AutomationConfig, Delay, End, Kind, Pause, Resume, SendWindow, Start, Trigger
from sim.behaviour import BehaviourSpec
from sim.population import PopulationSpec
from sim.runner import run
from sim.spec import ActionSpec, CrashSpec, LoadSpec, RunSpec
from sim.transport import TransportSpec

START = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Seoul"))
HOURS = 3600.0


def fault_spec(seed: int) -> RunSpec:
    rng = np.random.default_rng(seed)
    down = sorted(rng.uniform(0, 5 * HOURS, 2))
    t0 = START.timestamp()
    lifecycle = []
    for i, at in enumerate(sorted(rng.uniform(0.5 * HOURS, 5.5 * HOURS, int(rng.integers(0, 4))))):
        command = {"pause": Pause, "resume": Resume, "end": End}[str(rng.choice(["pause", "resume", "end", "resume"]))]
        lifecycle.append(ActionSpec(command(t0 + float(at)), str(rng.choice(["welcome", "nudge"])), index=10 + i))
    crashes = [CrashSpec(str(rng.choice(["welcome", "nudge", "dispatcher"])), at=float(rng.uniform(0, 6 * HOURS)))
               for _ in range(int(rng.integers(0, 3)))]
    if rng.random() < 0.5:
        crashes.append(CrashSpec(str(rng.choice(["welcome", "dispatcher"])), every=int(rng.integers(3, 30))))
    return RunSpec(
        name=f"faults {seed}", seed=seed, start=START, duration=6 * HOURS, tick=60.0,
        population=PopulationSpec(size=150, fields={"plan": ["free", "pro"]}),
        behaviour=BehaviourSpec(open=float(rng.uniform(0, 0.6)), click=0.05, unsubscribe=float(rng.uniform(0, 0.05)),
                                open_after=1800.0),
        transport=TransportSpec(rate=float(rng.choice([0.5, 2.0, 50.0])), latency=float(rng.uniform(0.01, 5)),
                                soft_bounce=float(rng.uniform(0, 0.05)), hard_bounce=float(rng.uniform(0, 0.05)),
                                failure_windows=[(START.timestamp() + down[0], START.timestamp() + down[1])],
                                transient=float(rng.uniform(0, 0.3)), permanent=float(rng.uniform(0, 0.05)),
                                retries=int(rng.integers(0, 4)), backoff=float(rng.choice([30.0, 120.0]))),
        automations=(
            AutomationConfig(id="welcome", triggers=(Trigger(Kind.SUBSCRIBER_ADDED),), subject="hi",
                             delay=Delay(int(rng.integers(0, 90)), "minutes"),
                             window=SendWindow.daily(["mon"], "09:00", "12:00") if rng.random() < 0.5 else None),
            AutomationConfig(id="nudge", triggers=(Trigger(Kind.NOT_OPENED, email="welcome", within=1800.0),),
                             subject="again")),
        loads=(LoadSpec("subscriber_added", rate=float(rng.uniform(0.005, 0.05)), until=5 * HOURS),),
        actions=(ActionSpec(Start(t0), "welcome", index=0), ActionSpec(Start(t0), "nudge", index=1),
                 *lifecycle),
        crashes=tuple(crashes))


def check_seed(seed: int) -> None:
    result = run(fault_spec(seed))
    problems = result.summary["invariants"]["violations"]
    assert problems == [], f"seed {seed} breaks invariants (FAULT_SEED={seed}): {problems}"
    for name, a in result.summary["automations"].items():
        assert a["in_flight"] == 0, f"seed {seed}: {name} left sends in flight"
        assert a["queued"] == (a["sent"] + sum(a["failed"].values()) + sum(a["dropped"].values())
                               + a["cancelled"] + a["pending"]), f"seed {seed}: ST2 broken for {name}"


@pytest.mark.parametrize("block", range(8))
def test_randomised_faults_keep_every_invariant(block: int) -> None:
    for seed in range(block * 25, block * 25 + 25):  # 200 seeds in 8 blocks
        check_seed(seed)


def test_one_seed() -> None:
    check_seed(int(os.environ.get("FAULT_SEED", "7")))


def test_fault_spec_is_deterministic() -> None:
    assert fault_spec(3) == fault_spec(3)
    assert dataclasses.asdict(fault_spec(3)) != dataclasses.asdict(fault_spec(4))
