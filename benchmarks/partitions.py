"""How far a K-partition answer is from K = 1: `python -m benchmarks.partitions [--ks 1 4 16] [--shards 2]`.

For each workload (the month and the shop day with API orders, cut to sizes a session can search) and
each K, two figures a planner reads, each from `dripsim` end to end:

- the queue p95 (due to handed over, pooled and per automation) at the scenario's own dispatcher rate
  (`dripsim run`), and
- the answer of `dripsim capacity` for the workload's objective (one seed, 5% precision).

Prints one Markdown table (kept in docs/scale.md with this command).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Workload:
    name: str
    file: Path
    sets: tuple[str, ...]
    slo: tuple[str, ...]
    low: float
    high: float


WORKLOADS = (
    Workload("month, 100k x 30 d, 2,000 sign-ups/d, 30/s", HERE / "month.toml",
             ("population.size=100000", 'load.rate="2000/d"', "dispatcher.rate=30", "expect.value=0"),
             ("p95=15m",), 0.5, 60.0),
    Workload("shop day 08:00-09:00 (welcome paused 15 min), 20k list, API orders 9,000/h, 40/s",
             HERE / "zoo" / "shop-day.toml",
             ("population.size=20000", 'start="2026-03-03T08:00:00+09:00"', 'duration="1h"',
              'action[0].at="+30m"', 'action[1].at="+45m"'),
             ("order.p95=2m", "p95=15m"), 1.0, 40.0),
)


def _cli(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"partitions: dripsim {' '.join(args)} failed: {done.stderr.strip()[-400:]}")


def one(w: Workload, k: int, shards: int, tmp: Path) -> dict[str, object]:
    sets = [x for s in (*w.sets, f"dispatcher.partitions={k}") for x in ("--set", s)]
    run = tmp / f"run-{k}"
    _cli("run", str(w.file), *sets, "--quiet", "--no-report", "--events", "parquet", "--out", str(run),
         "--force", "--shards", str(min(shards, k)))
    s = json.loads((run / "summary.json").read_text())
    cap = tmp / f"cap-{k}"
    slos = [x for o in w.slo for x in ("--slo", o)]
    _cli("capacity", str(w.file), *sets, *slos, "--seeds", "1", "--precision", "5%", "--min", str(w.low),
         "--max", str(w.high), "--quiet", "--out", str(cap), "--force", "--shards", str(min(shards, k)))
    answer = json.loads((cap / "sweep.json").read_text())["answer"]
    return {"k": k, "sends": s["sends"], "p95": s["latency_s"].get("p95"),
            "by": {a: v["latency_s"].get("p95") for a, v in s["automations"].items()},
            "rate": answer.get("rate"), "binding": (answer.get("binding") or {}).get("objective", "")}


def _s(v: object) -> str:
    return "-" if v is None else f"{float(v):,.1f}"  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.partitions", description=__doc__.splitlines()[0])
    p.add_argument("--ks", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--only", type=int, nargs="+", help="workload numbers (0, 1)")
    a = p.parse_args(argv)
    print("| workload | K | sends | queue p95 at its rate (s) | per automation p95 (s) | capacity answer (/s) |")
    print("|---|---|---|---|---|---|")
    runs = HERE.parent / "runs"
    runs.mkdir(exist_ok=True)
    for i, w in enumerate(WORKLOADS):
        if a.only and i not in a.only:
            continue
        for k in a.ks:
            with tempfile.TemporaryDirectory(dir=runs) as tmp:
                r = one(w, k, a.shards, Path(tmp))
            by = ", ".join(f"{n} {_s(v)}" for n, v in r["by"].items())  # type: ignore[attr-defined]
            print(f"| {w.name} | {k} | {r['sends']:,} | {_s(r['p95'])} | {by} | {_s(r['rate'])} "
                  f"{r['binding']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
