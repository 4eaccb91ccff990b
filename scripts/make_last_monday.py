"""Write the built-in "last Monday" export: sim/scenarios/data/last-monday.csv.gz.

    python scripts/make_last_monday.py

A synthetic day of a Korean newsletter's traffic, drawn once from a fixed
seed (not hand-made), in the replay format (time, kind, email, plan,
group): sign-ups following a day's shape (quiet at night, a lunch peak, an
evening peak), API calls for order confirmations naming earlier sign-ups,
a few plan upgrades, VIP group additions and unsubscribes. The built-in
scenario `replay-monday` replays it.
"""

from __future__ import annotations

import csv
import gzip
import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "sim" / "scenarios" / "data" / "last-monday.csv.gz"
DAY = datetime(2026, 11, 23, tzinfo=ZoneInfo("Asia/Seoul"))
SHAPE = np.array([2, 1, 1, 1, 1, 2, 4, 7, 9, 10, 11, 14, 18, 15, 11, 10, 10, 11, 13, 16, 19, 21, 14, 6], float)
DOMAINS = ("naver.com", "daum.net", "gmail.com", "kakao.com", "hanmail.net")


def main() -> None:
    rng = np.random.default_rng(20261123)
    per_hour = rng.poisson(SHAPE / SHAPE.sum() * 3000)
    rows: list[tuple[float, str, str, str, str]] = []
    emails: list[str] = []
    for hour, n in enumerate(per_hour.tolist()):
        for t in np.sort(rng.uniform(hour * 3600, (hour + 1) * 3600, n)).tolist():
            email = f"user{len(emails):05d}@{DOMAINS[int(rng.integers(len(DOMAINS)))]}"
            emails.append(email)
            rows.append((t, "subscriber_added", email, str(rng.choice(["free", "free", "pro"])), ""))
    signups = [(t, e) for t, _, e, _, _ in rows]
    for t, email in signups:
        later = t + float(rng.exponential(3 * 3600))
        if later < 86400 and rng.random() < 0.5:
            rows.append((later, "api", email, "", ""))
        if later < 86400 and rng.random() < 0.05:
            rows.append((later + 60, "set_field", email, "pro", ""))
        if rng.random() < 0.03:
            rows.append((min(86399.0, t + float(rng.uniform(600, 7200))), "add_to_group", email, "", "vip"))
        if rng.random() < 0.01:
            rows.append((min(86399.5, t + float(rng.uniform(3600, 20000))), "unsubscribe", email, "", ""))
    rows.sort(key=lambda r: r[0])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["time", "kind", "email", "plan", "group"])
    for t, kind, email, plan, group in rows:
        stamp = (DAY + timedelta(seconds=round(t, 3))).isoformat(timespec="milliseconds")
        writer.writerow([stamp, kind, email, plan, group])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:  # mtime 0: the same bytes every time
        f.write(text.getvalue().encode())
    print(f"wrote {OUT}: {len(rows):,} rows")


if __name__ == "__main__":
    main()
