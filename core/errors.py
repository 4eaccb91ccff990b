"""The two error types the core raises.

`NotAllowed` is "you can't do that in this state" (RULES L9): its message says
what to do instead, and the object is unchanged when it is raised.
`ConfigError` is "this setting is invalid": it names the field and the problem.
Nothing in the core raises a bare KeyError/TypeError at a user.
"""

from __future__ import annotations


class DripError(Exception):
    """Base class of every error the core raises on purpose."""


class NotAllowed(DripError):
    """An operation refused in the current state; nothing changed (L9)."""

    def __init__(self, message: str, *, state: str = "", command: str = "") -> None:
        super().__init__(message)
        self.state = state
        self.command = command


class ConfigError(DripError):
    """An invalid setting. `field` is a dotted path such as ``window.days``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
