"""Scenario-level fixtures: every test leaves no actor behind (as in tests/sim)."""

from tests.sim.conftest import no_actor_left_behind

__all__ = ["no_actor_left_behind"]
