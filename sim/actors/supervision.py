"""Supervision: pykka has none, so restart crashed actors here.

An actor that dies (an injected `Crash`, or any exception that stopped it)
is replaced by a new actor built around the same surviving state (the core
object it owned, which a crash on receipt never touched), and the message
it failed on is sent again, so nothing is lost or done twice. Crashes and
restarts are reported to the caller for the event log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pykka

from sim.messages import Crash, Dispatch, Step

MAX_RESTARTS = 100
STOP_TIMEOUT = 10.0  # seconds for every actor together to process what it holds and stop


class Supervisor:
    def __init__(self) -> None:
        self.refs: dict[str, pykka.ActorRef[Any]] = {}
        self._factories: dict[str, Callable[[], pykka.ActorRef[Any]]] = {}
        self.restarts: list[tuple[str, str]] = []  # (actor, reason)

    def start(self, name: str, factory: Callable[[], pykka.ActorRef[Any]]) -> pykka.ActorRef[Any]:
        self._factories[name] = factory
        self.refs[name] = factory()
        return self.refs[name]

    def ask_all(self, messages: list[tuple[str, Any]]) -> list[Any]:
        """Ask every (actor, message) at once; replies in the same order."""
        futures = [(name, msg, self.refs[name].ask(msg, block=False)) for name, msg in messages]
        return [self._get(name, msg, future) for name, msg, future in futures]

    def ask(self, name: str, message: Any) -> Any:
        return self.ask_all([(name, message)])[0]

    def _get(self, name: str, message: Any, future: Any) -> Any:
        for _ in range(MAX_RESTARTS):
            try:
                return future.get(timeout=600)
            except (Crash, pykka.ActorDeadError) as err:
                self._restart(name, err)
                if isinstance(message, (Step, Dispatch)) and message.crash:
                    message = replace(message, crash=False)
                future = self.refs[name].ask(message, block=False)
        raise RuntimeError(f"actor {name} kept crashing; gave up after {MAX_RESTARTS} restarts")

    def _restart(self, name: str, err: BaseException) -> None:
        old = self.refs[name]
        if old.is_alive():
            old.stop()
        self.refs[name] = self._factories[name]()
        self.restarts.append((name, type(err).__name__))

    def stop_all(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop every actor, waiting at most `timeout` in all. An actor whose thread never started
        (`can't start new thread` under a memory or thread limit) cannot answer a stop: it is dropped
        from the registry instead of being waited for forever."""
        deadline = time.monotonic() + timeout
        refs = pykka.ActorRegistry.get_all()
        futures = [(ref, ref.stop(block=False)) for ref in refs]
        for ref, future in futures:
            try:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
            except (pykka.Timeout, pykka.ActorDeadError):
                pykka.ActorRegistry.unregister(ref)
