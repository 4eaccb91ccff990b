"""Same scenario and seed: the same event log, byte for byte, whatever the threads do."""

from __future__ import annotations

import dataclasses
import multiprocessing
from pathlib import Path

import pytest

from sim.runner import digest_of, run
from sim.scenarios.library import builtin_path
from sim.scenarios.loader import load

CHAIN = builtin_path("email-chain")


def _burn(stop) -> None:  # type: ignore[no-untyped-def]
    x = 0
    while not stop.is_set():
        x = (x * 31 + 7) % 1_000_003


def digest(seed: int | None = None, path: Path = CHAIN) -> str:
    light = path in (CHAIN, builtin_path("transport-faults"))
    spec = load(path, ['load.rate="100/h"'] if light else [])  # lighter: same features, fewer sends
    if seed is not None:
        spec = dataclasses.replace(spec, seed=seed)
    result = run(spec)
    assert result.summary["invariants"]["ok"], result.summary["invariants"]["violations"]
    return digest_of(result)


def test_five_runs_of_one_seed_give_one_digest() -> None:
    assert len({digest() for _ in range(5)}) == 1


def test_another_seed_gives_another_digest() -> None:
    assert digest(1) != digest(2)


def test_extra_cpu_load_on_the_other_core_gives_the_same_digest() -> None:
    quiet = digest()
    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=_burn, args=(stop,)) for _ in range(2)]
    for p in burners:
        p.start()
    try:
        loaded = digest()
    finally:
        stop.set()
        for p in burners:
            p.join()
    assert loaded == quiet


@pytest.mark.parametrize("name", ["transport-faults", "unsubscribe-bounce"])
def test_digest_stable_on_busier_scenarios(name: str) -> None:
    assert digest(path=builtin_path(name)) == digest(path=builtin_path(name))
