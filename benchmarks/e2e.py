"""End-to-end measurements: a user's command, from start to the files on disk.

Each command runs in its own process; wall time is measured around it and
peak RSS is that process's own (`os.wait4`). Designs are compared as ratios of
medians measured alternately in the same run.

    python -m benchmarks.e2e signups [--signups N] [--rounds R]
    python -m benchmarks.e2e run FILE [--report] [--rounds R]
    python -m benchmarks.e2e scale
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
SIGNUPS = HERE / "signups.toml"


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_mb: float
    summary: dict[str, object]


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command; fails loudly if it fails."""
    from sim.clock import wall_seconds  # the one module that reads wall time

    began = wall_seconds()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = wall_seconds() - began
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {err.strip()[-500:]}")
    return wall, usage.ru_maxrss / 1024


def dripsim(scenario: Path | str, out: Path, *extra: str, report: bool = False) -> Measured:
    argv = [sys.executable, "-m", "cli", "run", str(scenario), "--quiet", "--out", str(out), *extra]
    if not report:
        argv.append("--no-report")
    wall, peak = timed(argv)
    return Measured(wall, peak, json.loads((out / "summary.json").read_text()))


def naive(signups: int, out: Path) -> float:
    return timed([sys.executable, "-m", "benchmarks.naive", "--signups", str(signups), "--out", str(out)])[0]


def signups_ratio(signups: int = 200_000, rounds: int = 3) -> dict[str, float]:
    """The sign-up workload through dripsim and through the naive design, alternately."""
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            out = Path(tmp) / f"d{r}"
            m = dripsim(SIGNUPS, out, "--set", f'load.rate="{signups}/h"',
                        "--set", f"expect.value={int(signups * 0.95)}")
            ours.append(m.wall_s)
            theirs.append(naive(signups, Path(tmp) / f"n{r}"))
    sends = signups  # each sign-up is sent once, at once
    d, n = statistics.median(ours), statistics.median(theirs)
    return {"signups": signups, "dripsim_s": d, "naive_s": n, "ratio": n / d,
            "dripsim_sends_per_s": sends / d, "naive_sends_per_s": sends / n}


def scenario(file: Path | str, rounds: int = 1, report: bool = False, *extra: str) -> dict[str, float]:
    walls, peaks = [], []
    summary: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            m = dripsim(file, Path(tmp) / f"r{r}", *extra, report=report)
            walls.append(m.wall_s)
            peaks.append(m.peak_mb)
            summary = m.summary
    autos = summary["automations"]
    assert isinstance(autos, dict)
    sends = sum(a["sent"] + sum(a["failed"].values()) for a in autos.values())
    signals = sum(a["triggered"] + sum(a["ignored"].values()) for a in autos.values())
    return {"wall_s": statistics.median(walls), "peak_mb": max(peaks), "sends": sends, "signals": signals,
            "phases": float(summary["phases"])}  # type: ignore[arg-type]


def phase_cost(rounds: int = 3, rate: str = "720/h", duration: str = "20h") -> dict[str, float]:
    """The issue's "phase with one arrival and nothing due", end to end: `phase.toml` (API arrivals,
    one every 5 s on average at 720/h, a 1 s tick, a 1-day delay so nothing comes due) against the
    same file at one arrival an hour, run alternately; medians.

    API calls are decided ahead of their phases when nothing could change them (`_api_horizon` in
    sim/conductor.py), so this workload no longer runs a phase per arrival: `us_per_arrival` (the
    marginal wall time of one arrival at its own tick) is the figure, `phases_busy` says how many
    phases it took. `us_per_lone_phase` is what a phase that cannot be merged costs: the same runs
    with `--no-look-ahead` (`lone_phase_cost`).
    """
    (wall_b, phases_b, arrivals_b), (wall_i, phases_i, arrivals_i) = _busy_and_idle(rounds, rate, duration)
    return {"wall_busy_s": wall_b, "wall_idle_s": wall_i, "arrivals_busy": arrivals_b, "phases_busy": phases_b,
            "phases_idle": phases_i, "us_per_arrival": (wall_b - wall_i) / (arrivals_b - arrivals_i) * 1e6,
            **lone_phase_cost(rounds, rate, duration)}


def lone_phase_cost(rounds: int = 3, rate: str = "720/h", duration: str = "20h") -> dict[str, float]:
    """The cost of a phase that must run alone (1.1 API arrivals, nothing due), end to end: the same
    pair of runs with `--no-look-ahead` (a phase at every instant anything happens), alternately;
    wall time difference over phase difference (medians)."""
    (wall_b, phases_b, arrivals), (wall_i, phases_i, _) = _busy_and_idle(rounds, rate, duration, "--no-look-ahead")
    return {"lone_phases": phases_b, "arrivals_per_lone_phase": arrivals / phases_b,
            "us_per_lone_phase": (wall_b - wall_i) / (phases_b - phases_i) * 1e6}


def _busy_and_idle(rounds: int, rate: str, duration: str, *extra: str) -> list[tuple[float, float, float]]:
    """`phase.toml` at `rate` and at 1/h, run alternately: (median wall, phases, arrivals) of each."""
    runs: list[tuple[str, list[Measured]]] = [(rate, []), ("1/h", [])]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for k, (load_rate, done) in enumerate(runs):
                done.append(dripsim(HERE / "phase.toml", Path(tmp) / f"{k}-{r}", "--set",
                                    f'duration="{duration}"', "--set", f'load.rate="{load_rate}"', *extra))
    return [(statistics.median(m.wall_s for m in done), float(done[0].summary["phases"]),  # type: ignore[arg-type]
             float(done[0].summary["automations"]["later"]["triggered"]))  # type: ignore[index]
            for _, done in runs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("signups")
    s.add_argument("--signups", type=int, default=200_000)
    s.add_argument("--rounds", type=int, default=3)
    r = sub.add_parser("run")
    r.add_argument("file")
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--report", action="store_true")
    r.add_argument("--set", action="append", default=[], help="passed to dripsim run --set")
    sub.add_parser("scale")
    p = sub.add_parser("phase", help="the marginal cost of an arrival at its own tick, and of a phase that "
                                     "cannot be merged: phase.toml busy against 1/h")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rate", default="720/h", help="API arrivals while busy (1/s: 1.58 per phase)")
    p.add_argument("--duration", default="20h")
    args = parser.parse_args(argv)
    if args.what == "signups":
        print(json.dumps(signups_ratio(args.signups, args.rounds), indent=1))
    elif args.what == "run":
        extra = [x for value in args.set for x in ("--set", value)]
        print(json.dumps(scenario(args.file, args.rounds, args.report, *extra), indent=1))
    elif args.what == "phase":
        print(json.dumps(phase_cost(args.rounds, args.rate, args.duration), indent=1))
    else:
        for size in (10_000, 100_000, 1_000_000):
            m = scenario(HERE / "month.toml", 1, False, "--set", f"population.size={size}",
                         "--set", f'load.rate="{size // 50}/d"', "--set", "expect.value=0")
            print(json.dumps({"subscribers": size, **m, "us_per_signal": m["wall_s"] / m["signals"] * 1e6,
                              "us_per_send": m["wall_s"] / m["sends"] * 1e6}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
