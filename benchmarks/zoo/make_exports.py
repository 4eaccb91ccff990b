"""Write the zoo's exports (deterministic: a fixed seed), into benchmarks/zoo/data/.

    python -m benchmarks.zoo.make_exports

`shop-day.csv.gz`: a Tuesday's traffic a week before the zoo's run date: 200k sign-ups and about 100k
API order calls naming subscribers who signed up earlier, busiest in the evening.
`fields-groups.csv.gz`: 30k sign-ups, then 60k plan changes (free/pro) and 30k VIP additions.
"""

from __future__ import annotations

import csv
import gzip
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
KST = timezone(timedelta(hours=9))
DAY = datetime(2026, 2, 24, tzinfo=KST)  # a Tuesday; replays move it onto the run's day (align = "day")


def _instants(rng: np.random.Generator, n: int) -> np.ndarray:
    """n instants in a day, twice as dense from 18:00 to 23:00 as elsewhere."""
    hours = np.arange(24)
    weight = np.where((hours >= 18) & (hours < 23), 2.0, 1.0)
    hour = rng.choice(24, size=n, p=weight / weight.sum())
    return np.sort(np.round(hour * 3600 + rng.uniform(0, 3600, n), 3))


def _iso(seconds: float) -> str:
    return (DAY + timedelta(seconds=float(seconds))).isoformat(timespec="milliseconds")


def _write(path: Path, header: list[str], rows: list[tuple[float, list[str]]]) -> None:
    rows.sort(key=lambda r: r[0])
    tmp = path.with_suffix(".partial")
    with gzip.open(tmp, "wt", newline="", compresslevel=3) as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows([_iso(at), *cells] for at, cells in rows)
    tmp.replace(path)


def shop_day(path: Path, signups: int = 200_000, orders: int = 100_000) -> None:
    rng = np.random.default_rng(2026)
    joined = _instants(rng, signups)
    rows: list[tuple[float, list[str]]] = [(at, ["subscriber_added", f"shopper{i:06d}@example.kr"])
                                           for i, at in enumerate(joined.tolist())]
    ordered = _instants(rng, orders)
    known = np.searchsorted(joined, ordered, side="left")  # who had signed up by then
    for at, n in zip(ordered.tolist(), known.tolist(), strict=True):
        if n:
            rows.append((at + 0.0005, ["api", f"shopper{int(rng.integers(n)):06d}@example.kr"]))
    _write(path, ["time", "kind", "email"], rows)


def fields_groups(path: Path, signups: int = 30_000, changes: int = 60_000, vips: int = 30_000) -> None:
    rng = np.random.default_rng(2027)
    joined = np.sort(np.round(rng.uniform(0, 4 * 3600, signups), 3))  # the list fills in the night
    rows: list[tuple[float, list[str]]] = [(at, ["subscriber_added", f"member{i:05d}@example.kr", "free", ""])
                                           for i, at in enumerate(joined.tolist())]
    later = 4 * 3600 + 1.0
    for at in np.round(rng.uniform(later, 86_000, changes), 3).tolist():
        plan = "pro" if rng.random() < 0.6 else "free"
        rows.append((at, ["set_field", f"member{int(rng.integers(signups)):05d}@example.kr", plan, ""]))
    for at in np.round(rng.uniform(later, 86_000, vips), 3).tolist():
        rows.append((at, ["add_to_group", f"member{int(rng.integers(signups)):05d}@example.kr", "", "vip"]))
    _write(path, ["time", "kind", "email", "plan", "group"], rows)


def ensure() -> None:
    """Write the exports unless they are there."""
    DATA.mkdir(exist_ok=True)
    for name, make in (("shop-day.csv.gz", shop_day), ("fields-groups.csv.gz", fields_groups)):
        if not (DATA / name).exists():
            make(DATA / name)


def main() -> int:
    ensure()
    for p in sorted(DATA.glob("*.csv.gz")):
        print(f"{p}: {p.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
