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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.shards")
    p.add_argument("--size", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args(argv)
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
