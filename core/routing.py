"""Which automations can care about which signal, and the rule that spans them (L4).

`Routes` is derived from the automations' current settings; whoever applies
an `Edit` rebuilds it (`Routes.of`), so an edited trigger takes effect on the
next signal. Automations appear in the order they were added, so routing is
deterministic. `check_sources` is L4: no automation may pick an ended one as
its trigger source; every driver calls it on the same path as the edit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from core.config import AutomationConfig
from core.errors import ConfigError
from core.triggers import EMAIL_KINDS, Kind

# A signal of kind K about email E reaches automations with these trigger kinds on E.
WATCHERS = {Kind.EMAIL_SENT: (Kind.EMAIL_SENT, Kind.NOT_OPENED, Kind.NOT_CLICKED),
            Kind.EMAIL_FAILED: (Kind.EMAIL_FAILED,),
            Kind.OPENED: (Kind.OPENED, Kind.NOT_OPENED),
            Kind.CLICKED: (Kind.CLICKED, Kind.NOT_CLICKED)}


class Routes:
    def __init__(self, table: dict[tuple[Kind, str], tuple[str, ...]]) -> None:
        self._table = table

    @classmethod
    def of(cls, configs: Iterable[AutomationConfig]) -> Routes:
        configs = list(configs)
        order = {c.id: i for i, c in enumerate(configs)}
        table: dict[tuple[Kind, str], set[str]] = defaultdict(set)
        for config in configs:
            for trigger in config.triggers:
                for kind, watchers in WATCHERS.items():
                    if trigger.kind in watchers:
                        table[(kind, trigger.email)].add(config.id)
                if trigger.kind not in EMAIL_KINDS:
                    table[(trigger.kind, "")].add(config.id)
        return cls({k: tuple(sorted(v, key=order.__getitem__)) for k, v in table.items()})

    def watchers(self, kind: Kind, email: str = "") -> tuple[str, ...]:
        """Automations a signal of `kind` (about the send `email`, for email kinds) must reach."""
        return self._table.get((kind, email if kind in EMAIL_KINDS else ""), ())


def check_sources(config: AutomationConfig, ended: Collection[str]) -> None:
    """L4: refuse settings that pick an ended automation as a trigger source."""
    for i, trigger in enumerate(config.triggers):
        if trigger.kind in EMAIL_KINDS and trigger.email in ended and trigger.email != config.id:
            raise ConfigError(f"triggers[{i}].email", f"automation {trigger.email!r} has ended and "
                              "cannot be a trigger source (L4); pick an automation that is not ended")
