"""The reference peer: the straightforward design a user might write first.

Same packages, same workload, none of dripsim's batching: one Python object
per pending entry, one simpy process per pending send, one pykka `tell` per
send from the automation actor to the dispatcher actor, per-send status
checks and a per-send random outcome. Benchmarks report dripsim's throughput
as a ratio to this, measured in the same session.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

import pykka
import simpy


@dataclass
class Entry:
    subscriber: int
    due: float
    automation: str


class RefDispatcher(pykka.ThreadingActor):
    def __init__(self, total: int, done: threading.Event, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.total, self.done = total, done
        self.sent = self.failed = 0

    def on_receive(self, message: Any) -> Any:
        if message == "count":
            return self.sent, self.failed
        if self.rng.random() < 0.01:
            self.failed += 1
        else:
            self.sent += 1
        if self.sent + self.failed == self.total:
            self.done.set()
        return None


class RefAutomation(pykka.ThreadingActor):
    def __init__(self, status: list[int], dispatcher: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.status, self.dispatcher, self.running = status, dispatcher, True

    def on_receive(self, message: Any) -> Any:
        entry: Entry = message
        if self.running and self.status[entry.subscriber] == 0:
            self.dispatcher.tell(entry)
        return None


def run_reference(n_sends: int, n_automations: int = 5, seed: int = 1) -> float:
    """Push `n_sends` already-due sends through; returns wall seconds (setup excluded)."""
    from sim.clock import wall_seconds

    status = [0] * n_sends
    done = threading.Event()
    dispatcher = RefDispatcher.start(n_sends, done, seed)
    automations = [RefAutomation.start(status, dispatcher) for _ in range(n_automations)]
    try:
        env = simpy.Environment()
        entries = [Entry(i, 0.0, f"a{i % n_automations}") for i in range(n_sends)]

        def send(entry: Entry, ref: pykka.ActorRef[Any]) -> Any:
            yield env.timeout(entry.due)
            ref.tell(entry)

        began = wall_seconds()
        for i, entry in enumerate(entries):
            env.process(send(entry, automations[i % n_automations]))
        env.run()
        done.wait(timeout=600)
        elapsed = wall_seconds() - began
        sent, failed = dispatcher.ask("count")
        assert sent + failed == n_sends
        return elapsed
    finally:
        pykka.ActorRegistry.stop_all()
