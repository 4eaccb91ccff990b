"""Partitioned dispatch: a stable partition per address, and the same outputs in any layout."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.dataset as ds
import pytest

from core.emails import Pooled
from sim.partitions import Directory, _bytes_of_texts, murmur2, partition_of
from sim.runner import digest_of, run
from sim.scenarios.library import builtins
from sim.scenarios.loader import ScenarioError, load
from sim.shards import Merged, Shard, execute, groups, merge, partition_spec

# Kafka's own test vectors for `Utils.murmur2` (clients/src/test/java/.../UtilsTest.java).
KAFKA = {"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
         "a-little-bit-longer-string": -1486304829,
         "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, "abc": 479470107}

# Built-ins whose actions pick by position across the whole list or a pending list: refused at K > 1.
REFUSED = {"duplicates-cooldown": "action[0].who.count", "filter-change": "action[0].who.count",
           "pending-operations": "action[0].do", "repeat-retrigger": "action[0].who.count",
           "unsubscribe-bounce": "action[0].who.count", "welcome-tour": "action[2].do"}
PARTITIONED = [name for name, _ in builtins() if name not in REFUSED]
LAYOUT = ("wall_seconds", "layout")


def test_murmur2_is_kafkas_default_partitioner_hash() -> None:
    data, lengths = _bytes_of_texts(list(KAFKA))
    assert murmur2(data, lengths).astype(np.int32).tolist() == list(KAFKA.values())


def test_a_generated_address_hashes_as_its_text() -> None:
    rng = np.random.default_rng(3)
    users = ("kim_a", "lee", "park_j", "Choi")
    pooled = Pooled(users, rng.integers(0, 4, 500), rng.integers(0, 10**7, 500), ("naver.com", "gmail.com"),
                    rng.integers(0, 2, 500))
    assert partition_of(pooled, 16).tolist() == partition_of(pooled.texts(), 16).tolist()
    assert partition_of(["A@X.com"], 16).tolist() == partition_of(["a@x.com"], 16).tolist()  # the list's rule


def test_a_directory_maps_the_whole_lists_ids_to_its_own() -> None:
    d = Directory(1, 4)
    emails = [f"user{i}@example.com" for i in range(200)]
    ids, mine = d.admit(emails)
    d.hold(ids[mine])
    local = d.local(ids)
    assert (local[mine] == np.arange(mine.sum())).all()
    assert (local[~mine] == -2).all()
    assert d.global_of(np.arange(mine.sum())).tolist() == ids[mine].tolist()
    assert 30 < mine.sum() < 70  # about a quarter


def _spec(name: str, partitions: int = 4, **changes: Any) -> Any:
    spec = load(_builtin(name), [f"dispatcher.partitions={partitions}"])
    return dataclasses.replace(spec, **changes) if changes else spec


def _builtin(name: str) -> Path:
    from sim.scenarios.library import builtin_path

    return builtin_path(name)


def _partitioned(spec: Any, shards: int, folder: Path, scheduler: str | None = None) -> Merged:
    folder.mkdir(parents=True)
    todo = [Shard(spec, g, str(folder), csv=True) for g in groups(spec.partitions, shards)]
    execute(todo, scheduler)
    return merge(spec, folder, {"shards": shards}, 0.0, "csv")


def _into(spec: Any, shards: int, folder: Path, scheduler: str | None = None) -> Path:
    _partitioned(spec, shards, folder, scheduler)
    return folder


def _outputs(folder: Path) -> tuple[dict[str, Any], str, bytes]:
    """(the summary but the layout's keys, a hash over the event table's sorted rows, events.csv.gz's text)."""
    summary = json.loads((folder / "summary.json").read_text())
    for key in LAYOUT:
        summary.pop(key)
    table = ds.dataset(folder / "events", format="parquet", partitioning="hive").to_table()
    columns = sorted(table.column_names)
    rows = sorted(zip(*(table.column(c).to_pylist() for c in columns), strict=True), key=repr)
    return summary, hashlib.sha256(repr(rows).encode()).hexdigest(), gzip.decompress(
        (folder / "events.csv.gz").read_bytes())


@pytest.mark.parametrize("name", PARTITIONED)
def test_a_partitioned_run_gives_the_same_outputs_in_any_layout(name: str, tmp_path: Path) -> None:
    spec = _spec(name)
    outs = [_outputs(_into(spec, n, tmp_path / f"shards{n}")) for n in (1, 2, 4)]
    assert outs[0] == outs[1] == outs[2]
    summary = outs[0][0]
    assert summary["invariants"]["ok"], summary["invariants"]["violations"]
    assert len(summary["partitions"]) == 4
    assert summary["dispatcher"]["partitions"] == 4


def test_a_partitioned_run_on_a_dask_cluster_gives_the_same_outputs(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    spec = _spec("transport-faults")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        on_dask = _outputs(_into(spec, 2, tmp_path / "dask", cluster.scheduler_address))
    assert on_dask == _outputs(_into(spec, 1, tmp_path / "local"))


def test_one_partition_is_the_unpartitioned_run() -> None:
    plain = load(_builtin("email-chain"))
    one = load(_builtin("email-chain"), ["dispatcher.partitions=1"])
    assert digest_of(run(one)) == digest_of(run(plain))


def test_t6_an_automations_api_limit_stays_global_across_partitions(tmp_path: Path) -> None:
    whole = run(load(_builtin("api-rate-limit"))).summary["automations"]
    split = _partitioned(_spec("api-rate-limit"), 1, tmp_path / "p").summary["automations"]
    for name, a in whole.items():
        assert a["ignored"]["rate_limited"] > 0
        assert split[name]["ignored"]["rate_limited"] == a["ignored"]["rate_limited"]
        total = a["triggered"] + sum(a["ignored"].values())
        assert split[name]["triggered"] + sum(split[name]["ignored"].values()) == total


def test_each_partition_sends_at_its_share_of_the_rate() -> None:
    spec = _spec("monday-burst")
    assert partition_spec(spec, 3).transport.rate == pytest.approx(spec.transport.rate / 4)
    assert partition_spec(spec, 3).partition == 3


@pytest.mark.parametrize(("name", "where"), sorted(REFUSED.items()))
def test_an_action_that_picks_across_partitions_is_refused_with_one_line(name: str, where: str) -> None:
    with pytest.raises(ScenarioError) as err:
        _spec(name)
    line = str(err.value)
    assert "\n" not in line
    assert where in line
    assert "partitions" in line


def test_shards_deal_partitions_round_robin() -> None:
    assert groups(4, 2) == [(0, 2), (1, 3)]
    assert groups(3, 8) == [(0,), (1,), (2,)]
