"""A targeted search for the windows' cuts: subscribers named again and again inside windows.

Generated from a seed: a replay of sign-ups, field and group changes, API calls and unsubscribes of a
small list (or rate loads, or both), automations on a field, a group, API calls (duplicates allowed or
not, a rate limit) and the opens of the API email (a chain), filters on the field, send windows, and
sends that leave (unsubscribes, hard bounces) at rates from none to 30%. Each runs with and without
the look-ahead; the event logs must match byte for byte (`benchmarks.oracle.same_bytes`). Without
either of the window's clash cuts (`sim.windows._first_conflict`) a third of the first twenty fail.

    python -m benchmarks.window_search --from 0 --to 200
"""

from __future__ import annotations

import argparse
import random
import sys

import numpy as np

from benchmarks.oracle import same_bytes


def scenario(seed: int) -> tuple[str, str]:
    """A scenario and its rows.csv from `seed`."""
    r = random.Random(seed)
    unsub = r.choice([0.0, 0.001, 0.05, 0.3])
    hard = r.choice([0.0, 0.0, 0.1, 0.3])
    soft = r.choice([0.0, 0.1])
    filt = r.random() < 0.5
    allow = r.random() < 0.5
    delay = r.choice(["0s", "20s", "2m", "10m"])
    window = r.random() < 0.3
    rate = r.choice([5, 40])
    n = r.choice([20, 60, 200])
    text = f'''name = "stress"
seed = {seed}
start = "2026-03-03T08:30:00+09:00"
duration = "{r.choice(["1h", "3h"])}"
[population]
size = {0 if r.random() < 0.6 else n}
fields = {{ plan = ["free"] }}
[behaviour]
open = {r.choice([0.1, 0.5])}
open_after = "{r.choice(["40s", "10m", "1h"])}"
click = 0.05
unsubscribe = {unsub}
soft_bounce = {soft}
hard_bounce = {hard}
[dispatcher]
rate = {rate}
[[automation]]
id = "upgrade"
subject = "pro"
trigger = {{ kind = "field_updated", field = "plan", value = "pro" }}
delay = "{delay}"
{'duplicates = { allow = true }' if allow else ''}
{'filter = { field = "plan", op = "equals", value = "pro" }' if filt else ''}
{'window = { from = "09:00", to = "10:30" }' if window else ''}
start = "+0s"
[[automation]]
id = "vip"
subject = "vip"
trigger = {{ kind = "group_added", group = "vip" }}
delay = "{r.choice(["0s", "1m"])}"
start = "+0s"
[[automation]]
id = "order"
subject = "order"
trigger = {{ kind = "api" }}
{'duplicates = { allow = true }' if r.random() < 0.5 else ''}
api_limit = {r.choice([2, 100])}
start = "+0s"
[[automation]]
id = "thanks"
trigger = {{ kind = "opened", email = "order" }}
delay = "{r.choice(["5m", "30m"])}"
{'filter = { field = "plan", op = "equals", value = "pro" }' if r.random() < 0.3 else ''}
start = "+0s"
'''
    rows = [f"{i * 0.5:.3f},subscriber_added,m{i}@x.kr,free," for i in range(n)]
    rng = np.random.default_rng(seed)
    for at in np.sort(rng.uniform(60, 10000, r.choice([200, 800]))).tolist():
        who = int(rng.integers(n))
        kind = rng.choice(["set_field", "set_field", "add_to_group", "api", "unsubscribe"],
                          p=[0.35, 0.15, 0.2, 0.25, 0.05])
        if kind == "set_field":
            rows.append(f"{at:.3f},set_field,m{who}@x.kr,{rng.choice(['pro', 'free'])},")
        elif kind == "add_to_group":
            rows.append(f"{at:.3f},add_to_group,m{who}@x.kr,,vip")
        else:
            rows.append(f"{at:.3f},{kind},m{who}@x.kr,,")
    if r.random() < 0.4:  # rate loads instead of a replay
        text += f'''[[load]]
kind = "subscriber_added"
rate = "{r.choice(["60/h", "600/h"])}"
[[load]]
kind = "api"
automation = "order"
rate = "{r.choice(["600/h", "3000/h"])}"
'''
        if r.random() < 0.5:
            text += '''[[load]]
kind = "replay"
file = "rows.csv"
'''
    else:
        text += '''[[load]]
kind = "replay"
file = "rows.csv"
automation = "order"
'''
    return text, "time,kind,email,plan,group\n" + "\n".join(rows) + "\n"

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.window_search", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="lo", type=int, default=0, metavar="SEED")
    parser.add_argument("--to", dest="hi", type=int, default=60, metavar="SEED")
    args = parser.parse_args(argv)
    failed = []
    for seed in range(args.lo, args.hi):
        text, rows = scenario(seed)
        try:
            same_bytes(text, rows)
        except AssertionError as err:
            failed.append(seed)
            print(f"window_search: seed {seed}: {str(err).splitlines()[0]}", file=sys.stderr)
    print(f"window_search: seeds {args.lo}-{args.hi - 1}: {len(failed)} differ" + (f" ({failed})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
