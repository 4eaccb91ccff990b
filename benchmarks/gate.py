"""CI regression gate: dripsim's dispatch throughput must stay >= 5x the reference peer.

Both designs run the same small saturated workload, alternately, three times;
the gate compares medians measured in this same run: a ratio, never an
absolute time, so a slow or busy CI machine does not fail it.

    python -m benchmarks.gate [--sends N] [--min-ratio R]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from benchmarks.reference import run_reference
from benchmarks.workloads import run_saturated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=50_000)
    parser.add_argument("--min-ratio", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
