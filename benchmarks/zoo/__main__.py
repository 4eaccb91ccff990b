"""`python -m benchmarks.zoo`: every member against the naive design, one table; see `__init__.py`."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.e2e import dripsim, naive
from benchmarks.zoo import MEMBERS, Member
from benchmarks.zoo.make_exports import ensure


def measure(member: Member, rounds: int) -> dict[str, Any]:
    """dripsim and the naive design at dripsim's number of sends, alternately; medians."""
    ours, theirs, peaks = [], [], []
    summary: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            m = dripsim(member.file, Path(tmp) / f"d{r}", *member.args)
            ours.append(m.wall_s)
            peaks.append(m.peak_mb)
            summary = m.summary
            sends = sum(a["sent"] + sum(a["failed"].values()) for a in summary["automations"].values())
            theirs.append(naive(max(sends, 1), Path(tmp) / f"n{r}"))
    d, n = statistics.median(ours), statistics.median(theirs)
    return {"member": member.name, "what": member.what, "gated": member.gated, "sends": sends,
            "wall_s": round(d, 2), "sends_per_s": round(sends / d), "naive_sends_per_s": round(sends / n),
            "ratio": round(n / d, 3), "phases": summary["phases"], "peak_mb": round(max(peaks))}


def same_bytes(member: Member) -> dict[str, Any]:
    """The member run with and without the look-ahead: the event digests must be equal."""
    with tempfile.TemporaryDirectory() as tmp:
        fast = dripsim(member.file, Path(tmp) / "fast", *member.args)
        slow = dripsim(member.file, Path(tmp) / "slow", *member.args, "--no-look-ahead")
    return {"member": member.name, "same": fast.summary["event_digest"] == slow.summary["event_digest"],
            "digest": fast.summary["event_digest"][:12], "phases": fast.summary["phases"],
            "phases_per_instant": slow.summary["phases"], "wall_s": round(fast.wall_s, 1),
            "wall_per_instant_s": round(slow.wall_s, 1)}


def table(rows: list[dict[str, Any]]) -> str:
    head = f"| member | sends | wall (s) | sends/s | naive sends/s | ratio | phases | peak RSS (MB) |\n|{'---|' * 8}"
    lines = [head] + [f"| {r['member']}{'' if r['gated'] else ' (not gated)'} | {r['sends']:,} | {r['wall_s']:.1f} | "
                      f"{r['sends_per_s']:,} | {r['naive_sends_per_s']:,} | {r['ratio']:.2f}x | {r['phases']:,} | "
                      f"{r['peak_mb']:,} |" for r in rows]
    gated = [r for r in rows if r["gated"]]
    if gated:
        slowest = min(gated, key=lambda r: r["ratio"])
        lines.append(f"\nheadline (the slowest gated member): {slowest['ratio']:.2f}x the naive design, "
                     f"{slowest['member']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.zoo", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=[m.name for m in MEMBERS])
    parser.add_argument("--rounds", type=int, default=1, help="alternate runs per member (medians)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--oracle", action="store_true",
                        help="instead of timing: run each member with and without --no-look-ahead, compare digests")
    args = parser.parse_args(argv)
    ensure()
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for member in MEMBERS:
        if args.only and member.name not in args.only:
            continue
        if args.oracle:
            row = same_bytes(member)
            print(f"{member.name}: {'the same bytes' if row['same'] else 'DIFFERENT event logs'} "
                  f"({row['digest']}; {row['phases']:,} phases in {row['wall_s']} s, {row['phases_per_instant']:,} "
                  f"in {row['wall_per_instant_s']} s per instant)", flush=True)
            failed += [] if row["same"] else [member.name]
            continue
        try:
            rows.append(measure(member, args.rounds))
        except RuntimeError as err:  # one member failing is said, and the others still run
            failed.append(member.name)
            print(f"{member.name}: failed: {err}", file=sys.stderr, flush=True)
            continue
        print(f"{member.name}: {rows[-1]['ratio']:.2f}x ({rows[-1]['wall_s']:.1f} s)", file=sys.stderr, flush=True)
        if args.json:  # after every member: a long zoo interrupted keeps what it measured
            args.json.write_text(json.dumps(rows, indent=1))
    if not args.oracle:
        print(table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
