"""Signals at random moments of a real `dripsim run`: set-up, simulation, writing, after.

    python -m benchmarks.signals [--trials 50] [--seed N]

Each trial starts the command, sends SIGINT or SIGTERM after a random delay
(sometimes a second signal 50 ms later), and checks: the exit code is 0
(finished first), 130 or 143; no traceback and at most two lines on
stderr; no hang (60 s); and the output folder either does not exist, or is
complete and consistent (summary.json parses, every queued entry is
accounted for, and the event log's rows agree with the summary's counts).
After a second signal a hidden `.partial` staging folder may be left; a
folder that looks complete never is. Prints one line per trial and a tally;
exits 1 if any trial failed. tests/reliability/test_interrupt.py runs a few.
A signal in the interpreter's own start-up (the first ~0.1 s, before any
line of dripsim runs) ends the process by the signal's default action, with
nothing written; the script counts that as ok and says so.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

SCENARIO = """
name = "signal target"
seed = 3
start = "2026-03-02T08:00:00+09:00"
duration = "2d"
[population]
size = 3000
[dispatcher]
rate = 5
[[automation]]
id = "welcome"
trigger = { kind = "subscriber_added" }
delay = "1h"
window = { from = "09:00", to = "21:00" }
start = "+0s"
[[automation]]
id = "nudge"
trigger = { kind = "not_opened", email = "welcome", within = "1d" }
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "300/h"
"""


STARTUP_S = 0.3  # the interpreter's own start-up, before dripsim's first line can install a handler


def check_outputs(out: Path) -> str | None:
    """None if `out` is absent or a complete, self-consistent run folder; else what is wrong."""
    if not out.exists():
        return None
    try:
        summary = json.loads((out / "summary.json").read_text())
        with gzip.open(out / "events.csv.gz", "rt", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, ValueError, EOFError) as err:
        return f"incomplete folder: {type(err).__name__}: {err}"
    if not (out / "report.html").exists():
        return "no report.html"
    kinds = Counter((r[1], r[3]) for r in rows[1:])
    for name, a in summary["automations"].items():
        outcomes = (a["sent"] + sum(a["failed"].values()) + sum(a["dropped"].values()) + a["cancelled"]
                    + a["pending"] + a["in_flight"])
        if a["queued"] != outcomes:
            return f"{name}: queued {a['queued']} != outcomes {outcomes}"
        for kind in ("triggered", "queued", "sent", "cancelled"):
            if kinds[(name, kind)] != a[kind]:
                return f"{name}: log has {kinds[(name, kind)]} {kind} rows, summary says {a[kind]}"
    return None


def trial(rng: random.Random, folder: Path, window: float, earliest: float = 0.0) -> tuple[bool, str]:
    scenario = folder / "s.toml"
    scenario.write_text(SCENARIO)
    out = folder / "out"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "run", str(scenario), "--quiet", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    delay = rng.uniform(earliest, window)
    sig = rng.choice([signal.SIGINT, signal.SIGTERM])
    second = rng.random() < 0.3
    time.sleep(delay)
    try:
        proc.send_signal(sig)
        if second:
            time.sleep(0.05)
            proc.send_signal(sig)
    except ProcessLookupError:
        pass
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return False, f"hung after {sig.name} at {delay:.2f}s"
    what = f"{sig.name}{' x2' if second else ''} at {delay:.2f}s -> {proc.returncode}"
    if proc.returncode == -sig and delay < STARTUP_S and not any(folder.glob("*out*")):
        # Before Python has run a line of dripsim (interpreter start-up), the signal's default action
        # ends the process: nothing was written, nothing is mixed.
        return True, f"{what}: ended by the signal during interpreter start-up, nothing written"
    if proc.returncode not in (0, 130, 143):
        return False, f"{what}: exit code"
    if "Traceback" in err or len(err.strip().splitlines()) > 2:
        return False, f"{what}: stderr {err.strip()[:200]!r}"
    problem = check_outputs(out)
    if problem:
        return False, f"{what}: {problem}"
    return True, what


def _scratch() -> Path:
    """Scratch space inside the project's ignored output folder (nothing is written outside it)."""
    folder = Path("runs")
    folder.mkdir(exist_ok=True)
    return folder


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--window", type=float, default=4.0, help="signals land in [0, WINDOW] s after the start")
    args = p.parse_args()
    rng = random.Random(args.seed)
    print(f"seed {args.seed}: {args.trials} trials")
    failed = 0
    for i in range(args.trials):
        with tempfile.TemporaryDirectory(dir=_scratch()) as tmp:
            ok, said = trial(rng, Path(tmp), args.window)
        failed += not ok
        print(f"  {i + 1:3} {'ok  ' if ok else 'FAIL'} {said}")
    print(f"{args.trials - failed}/{args.trials} trials ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
