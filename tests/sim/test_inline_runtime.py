"""The in-thread pykka runtime of the virtual clock keeps pykka's answers (no rule id: infrastructure)."""

from __future__ import annotations

from typing import Any

import pykka
import pytest

from sim.actors.inline import inline


class Echo(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        if message == "self":  # asks itself while busy: the answer cannot come before this returns
            return self.actor_ref.ask("x", block=False).get(timeout=1)
        return ("echo", message)


@pytest.fixture
def echo() -> Any:
    ref = inline(Echo).start()
    yield ref
    if ref.is_alive():
        ref.stop()


def test_inline_ask_answers_in_the_askers_thread(echo: Any) -> None:
    future = echo.ask(1, block=False)
    assert future.get(timeout=0) == ("echo", 1)  # already answered: no wait at all
    assert echo.ask(2) == ("echo", 2)


def test_inline_exception_reaches_the_asker_and_the_actor_lives(echo: Any) -> None:
    with pytest.raises(ValueError, match="boom"):
        echo.ask("boom")
    assert echo.ask(3) == ("echo", 3)


def test_inline_futures_compose_like_pykkas(echo: Any) -> None:
    assert echo.ask(4, block=False).map(lambda r: r[1] * 10).get() == 40
    assert pykka.get_all([echo.ask(k, block=False) for k in range(3)]) == [("echo", k) for k in range(3)]


def test_inline_an_answer_that_cannot_come_is_a_timeout_not_a_hang(echo: Any) -> None:
    with pytest.raises(pykka.Timeout):
        echo.ask("self")


def test_inline_a_stopped_actor_refuses_new_asks(echo: Any) -> None:
    echo.stop()
    with pytest.raises(pykka.ActorDeadError):
        echo.ask(5)
