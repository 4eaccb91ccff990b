"""Peak memory of replaying large files: streaming keeps it flat in the number of rows.

    python -m benchmarks.replay_memory [--rows 1000000 10000000]

For each size, writes a gzipped replay file of API calls naming addresses
that are not on the list (so the run holds no state per row: each is read,
looked up and counted as unknown), then runs `dripsim check` (the loader's
full scan) and `dripsim run --no-report` on it in a child process and reports
each one's wall time and peak RSS. A design that built a Python object per
row would grow by ~100 B x rows; streaming stays at one batch.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

SCENARIO = """
name = "replay memory"
start = "2026-03-02T00:00:00+09:00"
duration = "1d"
[population]
size = 100
[[automation]]
id = "hello"
trigger = { kind = "api" }
start = "+0s"
[[load]]
kind = "replay"
file = "rows.csv.gz"
automation = "hello"
"""


def write_rows(path: Path, n: int) -> None:
    chunk = 1_000_000
    with pa.CompressedOutputStream(str(path), "gzip") as out:
        writer = None
        for lo in range(0, n, chunk):
            k = min(chunk, n - lo)
            seconds = (np.arange(lo, lo + k) * (86000.0 / n)).round(3)
            table = pa.table({"time": pa.array(seconds), "kind": pa.array(["api"] * k),
                              "email": pa.array([f"nobody{i % 1000}@example.kr" for i in range(lo, lo + k)])})
            if writer is None:
                writer = pcsv.CSVWriter(out, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()


def measure(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process."""
    began = time.perf_counter()
    child = ("import sys, resource; from cli import main; code = main(sys.argv[1:]);"
             " print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", child, *args], capture_output=True, text=True)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"{args}: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return wall, int(proc.stderr.strip().splitlines()[-1]) / 1024


def _scratch() -> Path:
    """Scratch space inside the project's ignored output folder (nothing is written outside it)."""
    folder = Path("runs")
    folder.mkdir(exist_ok=True)
    return folder


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=_scratch()) as tmp:
        folder = Path(tmp)
        (folder / "s.toml").write_text(SCENARIO)
        for n in args.rows:
            began = time.perf_counter()
            write_rows(folder / "rows.csv.gz", n)
            made = time.perf_counter() - began
            check = measure(["check", str(folder / "s.toml")])
            run = measure(["run", str(folder / "s.toml"), "--quiet", "--no-report", "--force",
                           "--out", str(folder / "out")])
            print(f"{n:>11,} rows (file written in {made:.0f} s): check {check[0]:.1f} s, peak {check[1]:.0f} MB; "
                  f"run {run[0]:.1f} s, peak {run[1]:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
