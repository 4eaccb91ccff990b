"""A deterministic in-thread pykka runtime for the virtual clock.

On the virtual clock only one thing happens at a time anyway: the conductor
asks, waits, and asks again. Handing each message to another thread costs
100-150 us of pure synchronisation. Like Akka's `CallingThreadDispatcher`
and Thespian's `simpleSystemBase`, this runtime runs a message in the
sender's thread, at once, in the order sent; pykka lets an actor class supply
its own inbox, future and loop, so the actor classes themselves do not
change. The real clock keeps real threads (`pykka.ThreadingActor`).

Semantics kept from pykka's loop: a message an actor sends itself while
handling one (`self.stop()` in a crash) waits its turn; an exception answers
the asker's future; a stopped actor answers what is left in its inbox with
`ActorDeadError` (a stop with None). Interrupts (`KeyboardInterrupt`) are not
swallowed: they reach the conductor's caller, as on the real clock.
"""

from __future__ import annotations

import queue
import sys
from collections import deque
from typing import Any, TypeVar

import pykka
from pykka import messages
from pykka._envelope import Envelope

A = TypeVar("A", bound=pykka.Actor)


class _Inbox:
    """Runs each envelope as it is put, unless the actor is already handling one."""

    def __init__(self) -> None:
        self.actor: pykka.Actor | None = None
        self._queue: deque[Envelope[Any]] = deque()
        self._busy = False

    def put(self, envelope: Envelope[Any], block: bool = True, timeout: float | None = None) -> None:
        self._queue.append(envelope)
        if self._busy or self.actor is None:
            return
        self._busy = True
        try:
            self._drain(self.actor)
        finally:
            self._busy = False

    def _drain(self, actor: pykka.Actor) -> None:
        while self._queue and not actor.actor_stopped.is_set():
            envelope = self._queue.popleft()
            try:
                response = actor._handle_receive(envelope.message)  # pykka's runtime hook
            except Exception:
                if envelope.reply_to is None:
                    actor._handle_failure(*sys.exc_info())
                    continue
                envelope.reply_to.set_exception()
                continue
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        while actor.actor_stopped.is_set() and self._queue:
            envelope = self._queue.popleft()
            if envelope.reply_to is None:
                continue
            if isinstance(envelope.message, messages._ActorStop):
                envelope.reply_to.set(None)
            else:
                dead = pykka.ActorDeadError(f"{actor.actor_ref} stopped before handling the message")
                envelope.reply_to.set_exception(exc_info=(pykka.ActorDeadError, dead, None))

    def empty(self) -> bool:
        return not self._queue


class _Answered(pykka.Future[Any]):
    """A future answered in the asker's own thread, before `ask` returns (no lock, no condition).

    `ThreadingFuture` makes a condition variable per ask and takes its lock on
    every call; here nothing runs concurrently, so the answer is a plain field.
    A `get` before the answer can only mean it will never come (one thread,
    nothing left to run it): `pykka.Timeout` at once, not a wait.
    """

    def __init__(self) -> None:
        super().__init__()
        self._value: Any = None
        self._exc_info: Any = None
        self._done = False

    def get(self, *, timeout: float | None = None) -> Any:
        if self._get_hook is not None:  # map, filter, join, reduce
            return super().get(timeout=timeout)
        if not self._done:
            raise pykka.Timeout("no answer: the in-thread runtime has nothing left that could give one")
        if self._exc_info is not None:
            exc_type, exc_value, exc_traceback = self._exc_info
            exc_value = exc_type() if exc_value is None else exc_value
            raise exc_value.with_traceback(exc_traceback)
        return self._value

    def set(self, value: Any = None) -> None:
        if self._done or self._get_hook is not None:
            raise queue.Full
        self._value, self._done = value, True

    def set_exception(self, exc_info: Any = None) -> None:
        if self._done or self._get_hook is not None:
            raise queue.Full
        self._exc_info, self._done = exc_info or sys.exc_info(), True

    def set_get_hook(self, func: Any) -> None:
        if self._done:
            raise queue.Full
        super().set_get_hook(func)


class InlineRuntime:
    """Mix in before a `pykka.ThreadingActor` subclass: same actor, no thread."""

    @staticmethod
    def _create_actor_inbox() -> Any:
        return _Inbox()

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return _Answered()

    def _start_actor_loop(self) -> None:
        actor: Any = self
        actor._actor_loop_setup()  # on_start, as pykka's loop would
        actor.actor_inbox.actor = actor  # from now on the inbox runs what arrives


def inline(cls: type[A]) -> type[A]:
    """`cls` on the in-thread runtime (for the virtual clock)."""
    return type(f"Inline{cls.__name__}", (InlineRuntime, cls), {})
