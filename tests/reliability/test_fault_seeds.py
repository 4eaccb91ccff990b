"""Randomised faults and operator moves: every invariant holds on every seed.

The mix (benchmarks/faults.py) covers sign-ups and API requests, delays,
windows, a not-opened nudge, a repeating digest with end_at, transport
faults, crashes, and operator moves (pause, resume, end, edits, schedules
and cancels, deletes, pending-list queries, send-now and delete,
unsubscribes). 96 fixed seeds, plus 32 fresh ones on every run: a failure
names its seed; replay it with `FAULT_SEED=<seed> pytest -k one_seed`, or
`python -m benchmarks.faults --first <seed> --seeds 1`. The script runs
10,000 seeds.
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from benchmarks.faults import fault_spec, problems_of

FRESH = int(os.environ.get("FAULT_SEED_BASE", str(int(time.time()) % 10**9)))


def check_seed(seed: int) -> None:
    problems = problems_of(seed)
    assert problems == [], f"seed {seed} breaks invariants (FAULT_SEED={seed}): {problems}"


@pytest.mark.parametrize("block", range(4))
def test_randomised_faults_keep_every_invariant(block: int) -> None:
    for seed in range(block * 24, block * 24 + 24):  # 96 fixed seeds in 4 blocks
        check_seed(seed)


@pytest.mark.parametrize("block", range(2))
def test_fresh_seeds_keep_every_invariant(block: int) -> None:
    print(f"fresh fault seeds from {FRESH} (FAULT_SEED_BASE={FRESH} replays them)")
    for seed in range(FRESH + block * 16, FRESH + block * 16 + 16):
        check_seed(seed)


def test_one_seed() -> None:
    check_seed(int(os.environ.get("FAULT_SEED", "7")))


def test_fault_spec_is_deterministic() -> None:
    assert fault_spec(3) == fault_spec(3)
    assert dataclasses.asdict(fault_spec(3)) != dataclasses.asdict(fault_spec(4))
