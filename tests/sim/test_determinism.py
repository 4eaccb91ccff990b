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


def test_the_written_log_is_one_text_whatever_the_pieces_and_one_file_whenever_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip
    import hashlib
    import time

    from sim import runlog

    result = run(load(CHAIN, ['load.rate="100/h"']))
    w = result.wiring
    log, cols, emails, tz = w.conductor.log, result.events, w.store.emails, result.spec.timezone
    assert len(cols["at"]) > 7 * 20
    first = log.write(tmp_path / "first.csv.gz", cols, emails, tz)
    time.sleep(1.1)  # a header that carried the time of writing would now differ
    again = log.write(tmp_path / "again.csv.gz", cols, emails, tz)
    data = (tmp_path / "first.csv.gz").read_bytes()
    assert data == (tmp_path / "again.csv.gz").read_bytes()
    monkeypatch.setattr(runlog, "PIECE", 7)  # many pieces, formatted on two threads, out of step
    pieces = log.write(tmp_path / "pieces.csv.gz", cols, emails, tz)
    text = gzip.decompress(data)
    assert gzip.decompress((tmp_path / "pieces.csv.gz").read_bytes()) == text
    assert first == again == pieces == hashlib.sha256(text).hexdigest()
