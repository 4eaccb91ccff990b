"""Sim-layer fixtures: every test leaves no actor behind (pykka style)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pykka
import pytest

SEOUL = ZoneInfo("Asia/Seoul")
START = datetime(2026, 3, 2, 8, 0, tzinfo=SEOUL)


@pytest.fixture(autouse=True)
def no_actor_left_behind() -> Iterator[None]:
    yield
    left = pykka.ActorRegistry.get_all()
    pykka.ActorRegistry.stop_all()
    assert left == [], f"actors left running: {left}"
