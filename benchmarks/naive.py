"""The naive design of the sign-up workload, as a user would first write it.

For each sign-up a faker `ko_KR` profile (`name()`, `user_name()`,
`free_email_domain()`) in a list of dicts; one simpy process per send that
waits for its due time; one pykka `tell` per send to a single dispatcher
actor that checks the subscriber's status; the sends written as CSV. The
end-to-end benchmarks compare dripsim with this, measured in the same run.

    python -m benchmarks.naive --signups 200000 --out runs/naive
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import sys
import threading
from pathlib import Path
from typing import Any

import pykka
import simpy
from faker import Faker


class Dispatcher(pykka.ThreadingActor):
    def __init__(self, people: list[dict[str, Any]], total: int, done: threading.Event) -> None:
        super().__init__()
        self.people, self.total, self.done = people, total, done
        self.rows: list[tuple[float, str]] = []

    def on_receive(self, message: Any) -> Any:
        if message == "rows":
            return self.rows
        at, sid = message
        if self.people[sid]["status"] == "subscribed":
            self.rows.append((at, self.people[sid]["email"]))
        if len(self.rows) == self.total:
            self.done.set()
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=200_000)
    parser.add_argument("--list", type=int, default=1000, dest="initial")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    fake = Faker("ko_KR")
    fake.seed_instance(11)
    rng = random.Random(11)

    def person(i: int) -> dict[str, Any]:
        return {"name": fake.name(), "email": f"{fake.user_name()}{i}@{fake.free_email_domain()}",
                "status": "subscribed"}

    people = [person(i) for i in range(args.initial)]
    done = threading.Event()
    dispatcher = Dispatcher.start(people, args.signups, done)
    try:
        env = simpy.Environment()

        def signup(at: float) -> Any:
            yield env.timeout(at)
            people.append(person(len(people)))
            dispatcher.tell((env.now, len(people) - 1))  # sent at once: due when signed up

        for at in sorted(rng.uniform(0, args.hours * 3600) for _ in range(args.signups)):
            env.process(signup(at))
        env.run()
        done.wait(timeout=3600)
        rows = dispatcher.ask("rows")
    finally:
        pykka.ActorRegistry.stop_all()
    args.out.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out / "sends.csv.gz", "wt", newline="") as f:
        csv.writer(f).writerows(rows)
    print(f"naive: {len(rows)} sends")
    return 0


if __name__ == "__main__":
    sys.exit(main())
