"""The composition root: builds clock, store, population, transport and actors.

Everything a run needs is wired here and nowhere else; tests swap parts by
passing them in (a transport, a clock), never by monkeypatching.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np
import pykka

from core import Automation, SubscriberStore
from sim.actors.audience import AudienceActor
from sim.actors.automation import AutomationActor
from sim.actors.dispatcher import DispatcherActor
from sim.actors.inline import inline
from sim.actors.supervision import Supervisor
from sim.behaviour import Behaviour
from sim.clock import Clock, make_clock
from sim.conductor import Conductor
from sim.draws import Keyed
from sim.loads import streams as load_streams
from sim.partitions import Directory
from sim.population import Population, add_known
from sim.spec import RunSpec
from sim.transport import SimulatedTransport, SmtpSink, SmtpTransport, Transport

A = TypeVar("A", bound=pykka.Actor)


@dataclass
class Wiring:
    spec: RunSpec
    clock: Clock
    store: SubscriberStore
    automations: list[Automation]
    supervisor: Supervisor
    conductor: Conductor
    initial_status: np.ndarray
    sink: SmtpSink | None = None


class SetupError(Exception):
    """The run could not be set up on this machine (not bad input): one line for the user."""


def _runtime(clock: Clock) -> Callable[[type[A]], type[A]]:
    """Actors run in the conductor's thread on the virtual clock, on their own threads on the real one."""
    return inline if clock.kind == "virtual" else (lambda cls: cls)


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators per concern, so adding draws to one never shifts another."""
    names = ("population", "behaviour", "transport", "loads", "api")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.default_rng(c) for n, c in zip(names, children, strict=True)}


def keyed(rng: np.random.Generator) -> Keyed:
    """Keyed draws (per send) whose key comes from one of the run's streams."""
    return Keyed(int(rng.integers(0, 2**63)))


def build(spec: RunSpec, *, transport: Transport | None = None, clock: Clock | None = None,
          render_messages: bool | None = None) -> Wiring:
    rng = streams(spec.seed)
    clock = clock or make_clock(spec.clock, spec.start, spec.time_scale)
    t0 = spec.start.timestamp()
    store = SubscriberStore()
    directory = Directory(spec.partition, spec.partitions) if spec.partition is not None else None
    population = Population(spec.population, rng["population"], faker_seed=spec.seed, directory=directory)
    if spec.population.size:
        population.fill(store, spec.population.size, t0, initial=True)
    add_known(store, spec.population.known, t0, directory)
    initial_status = store.status.view.copy()
    automations = [Automation(c) for c in spec.automations]
    sup = Supervisor()
    sink = None
    try:
        if transport is None and spec.smtp:  # real SMTP to a sink dripsim starts on 127.0.0.1
            sink = SmtpSink().__enter__()
            transport = SmtpTransport(sink.port, clock.actual_now)
        runtime = _runtime(clock)
        automation_actor, audience_actor, dispatcher_actor = (
            runtime(AutomationActor), runtime(AudienceActor), runtime(DispatcherActor))
        for a in automations:
            sup.start(a.id, partial(automation_actor.start, a, store))
        sup.start("audience", lambda: audience_actor.start(store, population))
        tx = transport or SimulatedTransport(spec.transport, keyed(rng["transport"]),
                                             now=clock.actual_now if clock.kind == "real" else None)
        behaviour = Behaviour(spec.behaviour, keyed(rng["behaviour"]))
        render = spec.smtp if render_messages is None else render_messages
        keyed_by = directory.global_of if directory is not None else None
        sup.start("dispatcher", lambda: dispatcher_actor.start(tx, behaviour, store, render, keyed_by))
        load = load_streams(spec.loads, t0, t0 + spec.duration, rng["loads"])
        conductor = Conductor(spec, clock, sup, store, load, rng["api"], directory, behaviour.draws)
    except BaseException as err:
        sup.stop_all()  # never waits for an actor whose thread did not start
        if sink is not None:
            sink.__exit__(None, None, None)
        if isinstance(err, RuntimeError) and "thread" in str(err):
            raise SetupError(f"could not start the actors' threads ({err}): the real clock runs one thread "
                             f"per automation ({len(automations)} here) plus two; raise the process's thread "
                             "or memory limit, or use the virtual clock") from None
        raise
    return Wiring(spec, clock, store, automations, sup, conductor, initial_status, sink)


__all__ = ["SetupError", "Wiring", "build", "streams"]
