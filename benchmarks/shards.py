"""Sharded runs against one shard, end to end: `python -m benchmarks.shards [--size N] [--days D] ...`.

Runs `dripsim run` on the month (benchmarks/month.toml) with `dispatcher.partitions = K`, alternately
with `--shards 1` and `--shards N`, from the command to the files; prints each run's wall time and the
peak resident memory of its largest process (the parent or a shard), and the speed-up (medians).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def one(size: int, days: int, partitions: int, shards: int, out: Path) -> tuple[float, float, dict]:
    cmd = [sys.executable, "-m", "cli", "run", str(HERE / "month.toml"), "--quiet", "--no-report",
           "--events", "parquet", "--out", str(out), "--force", "--shards", str(shards),
           "--set", f"population.size={size}", "--set", f'duration="{days}d"',
           "--set", f"dispatcher.partitions={partitions}", "--set", "expect.value=0", "--max-memory", "22G"]
    began = time.perf_counter()
    # A fresh process runs the command and reports the largest resident set among its descendants
    # (RUSAGE_CHILDREN's ru_maxrss: the parent or any shard, in KB).
    done = subprocess.run([sys.executable, "-c", _PEAK, *cmd], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    code, _, peak = done.stdout.strip().rpartition("\n")[2].partition(" ")
    if code not in ("0", "1"):
        raise SystemExit(f"shards: {' '.join(cmd)} failed: {done.stderr.strip()[-400:]}")
    return wall, int(peak) / 2**20, json.loads((out / "summary.json").read_text())


_PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; "
         "print(r, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def _one_partition(size: int, days: int, partitions: int) -> int:
    import resource

    from sim.runner import run
    from sim.scenarios.loader import load
    from sim.shards import partition_spec

    sets = [f"population.size={size}", f'duration="{days}d"', f'load.rate="{size // 50}/d"',
            f"dispatcher.partitions={partitions}", "expect.value=0"]
    began = time.perf_counter()
    result = run(partition_spec(load(HERE / "month.toml", sets), 0))
    wall = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    s = result.summary
    print(f"partition 0 of {partitions}, month {size:,} x {days} d (sign-ups {size // 50:,}/d): {wall:.1f} s, "
          f"peak {peak:.2f} GB, {s['subscribers']:,} of the whole list's subscribers, {s['sends']:,} sends")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.shards")
    p.add_argument("--size", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--one-partition", dest="one_partition", action="store_true",
                   help="run only partition 0 of --partitions in this process: the cost of one partition "
                        "(its own subscribers and the whole list's fixed work), for sizing a cluster")
    a = p.parse_args(argv)
    if a.one_partition:
        return _one_partition(a.size, a.days, a.partitions)
    walls: dict[int, list[float]] = {1: [], a.shards: []}
    digests = set()
    with tempfile.TemporaryDirectory(dir=HERE.parent / "runs" if (HERE.parent / "runs").is_dir() else None) as tmp:
        for r in range(a.rounds):
            for n in (a.shards, 1) if r % 2 else (1, a.shards):
                wall, peak, s = one(a.size, a.days, a.partitions, n, Path(tmp) / f"r{r}s{n}")
                walls[n].append(wall)
                digests.add(s["event_digest"])
                print(f"round {r + 1} --shards {n}: {wall:.1f} s, peak of the largest process "
                      f"{peak:.2f} GB, {s['sends']:,} sends", flush=True)
    one_shard, many = statistics.median(walls[1]), statistics.median(walls[a.shards])
    print(f"{a.size:,} subscribers x {a.days} d, {a.partitions} partitions: --shards 1 {one_shard:.1f} s, "
          f"--shards {a.shards} {many:.1f} s: {one_shard / many:.2f}x; "
          f"{'one event digest' if len(digests) == 1 else 'DIGESTS DIFFER'}")
    return 0 if len(digests) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
