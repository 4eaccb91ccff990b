"""CI regression gates, each a ratio of medians measured alternately in this same run.

1. Dispatch (a fast stage): queued sends through the actors against the
   reference peer, >= 5x.
2. End to end: the sign-up workload (200k sign-ups, each sent at once) from
   the `dripsim` command to the files on disk, against the naive design
   (`benchmarks/naive.py`), >= 5x (issue "Fast end to end"; measured 6.8-7.2x,
   docs/performance.md). At a smaller size the ratio falls, because dripsim's
   start-up (0.4 s of imports) does not shrink with the work; the full size
   costs about 40 s of CI.
3. The zoo's slowest members, cut, each against the naive design at the same number of sends:
   fields-groups over 12 hours (replayed set_field and add_to_group rows, few sends: the slowest
   member), >= 0.25x, and the shop day (sign-ups, API order confirmations sent at once, a windowed
   welcome, a thank-you on opens) from 08:00 to 09:00, >= 0.35x. Floors against regressions, about
   half the ratios measured here (0.54x and 0.76x on 2026-12-05, docs/performance.md): the issue's
   bar for them (3x) is not met, and this gate does not pretend it is.

A ratio, never an absolute time, so a slow or busy CI machine does not fail it.

    python -m benchmarks.gate [--sends N] [--min-ratio R] [--signups N] [--min-e2e-ratio R] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.e2e import dripsim, naive, signups_ratio
from benchmarks.reference import run_reference
from benchmarks.workloads import run_saturated
from benchmarks.zoo.make_exports import ensure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=50_000)
    parser.add_argument("--min-ratio", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--signups", type=int, default=200_000)
    parser.add_argument("--min-e2e-ratio", type=float, default=5.0)
    args = parser.parse_args(argv)
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(args.sends / run_saturated(args.sends)[0])
        theirs.append(args.sends / run_reference(args.sends))
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"gate: dripsim {statistics.median(ours):,.0f} sends/s, reference {statistics.median(theirs):,.0f} sends/s,"
          f" ratio {ratio:.1f}x (minimum {args.min_ratio:g}x)")
    if ratio < args.min_ratio:
        print("gate: FAILED: dispatch throughput regressed against the reference peer", file=sys.stderr)
        return 1
    e2e = signups_ratio(args.signups, args.rounds)
    print(f"gate: end to end, {args.signups:,} sign-ups: dripsim {e2e['dripsim_s']:.2f} s, naive "
          f"{e2e['naive_s']:.2f} s, ratio {e2e['ratio']:.2f}x (minimum {args.min_e2e_ratio:g}x)")
    if e2e["ratio"] < args.min_e2e_ratio:
        print("gate: FAILED: the end-to-end sign-up workload regressed against the naive design", file=sys.stderr)
        return 1
    ensure()  # the replayed members' exports (generated once, from a fixed seed, into the ignored data folder)
    for name, (file, cut, floor) in SLOWEST.items():
        got = cut_ratio(file, cut, args.rounds)
        print(f"gate: a slow zoo member cut ({name}), {got['sends']:,} sends: dripsim {got['dripsim_s']:.2f} s, "
              f"naive {got['naive_s']:.2f} s, ratio {got['ratio']:.2f}x (minimum {floor:g}x)")
        if got["ratio"] < floor:
            print(f"gate: FAILED: {name} regressed against the naive design", file=sys.stderr)
            return 1
    return 0


ZOO = Path(__file__).parent / "zoo"
SLOWEST = {  # name: (scenario, how it is cut, the floor)
    "fields-groups 00:00-12:00": (ZOO / "fields-groups.toml", ("--set", 'duration="12h"'), 0.25),
    "shop day 08:00-09:00": (ZOO / "shop-day.toml", ("--set", 'start="2026-03-03T08:00:00+09:00"', "--set",
                                                    'duration="1h"', "--set", "action=[]", "--set", "expect=[]"), 0.35),
}


def cut_ratio(file: Path, cut: tuple[str, ...], rounds: int) -> dict[str, float]:
    """A zoo member's cut through dripsim and the naive design at the same sends, alternately."""
    ours, theirs, sends = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            m = dripsim(file, Path(tmp) / f"d{r}", *cut)
            ours.append(m.wall_s)
            sends = sum(a["sent"] + sum(a["failed"].values()) for a in m.summary["automations"].values())
            theirs.append(naive(sends, Path(tmp) / f"n{r}"))
    d, n = statistics.median(ours), statistics.median(theirs)
    return {"sends": sends, "dripsim_s": d, "naive_s": n, "ratio": n / d}


if __name__ == "__main__":
    sys.exit(main())
