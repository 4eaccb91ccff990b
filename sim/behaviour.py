"""What subscribers do with delivered mail: a seeded numpy model.

For delivered sends it draws, a column at a time and keyed by the send: who opens and after how
long (exponential with mean `open_after`, or an empirical distribution
given as quantiles, e.g. fitted by `dripsim calibrate`), who clicks (a subset of openers)
and which link, and who unsubscribes. Probabilities are per delivered email.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.draws import Keyed, Purpose


@dataclass(frozen=True)
class BehaviourSpec:
    open: float = 0.35
    open_after: float = 7200.0  # seconds, mean
    click: float = 0.1  # of delivered; clickers are openers
    click_after: float = 600.0  # seconds after the open, mean
    unsubscribe: float = 0.001
    links: tuple[str, ...] = ("https://example.com/main", "https://example.com/sale")
    open_after_quantiles: tuple[float, ...] | None = None  # an empirical distribution instead of the mean
    click_after_quantiles: tuple[float, ...] | None = None


def delays(draws: Keyed, keys: np.ndarray, purpose: int, mean: float,
           quantiles: tuple[float, ...] | None) -> np.ndarray:
    """A delay per send key: exponential with `mean`, or from the quantiles (linear between them: inverse CDF)."""
    if quantiles is None:
        return draws.exponential(keys, purpose, mean)
    return np.asarray(np.interp(draws.uniform(keys, purpose),
                                np.linspace(0.0, 1.0, len(quantiles)), np.asarray(quantiles)), dtype=np.float64)


@dataclass(frozen=True)
class Reactions:
    """Row i of each array belongs to delivered send index[i]."""

    open_index: np.ndarray
    open_at: np.ndarray
    click_index: np.ndarray
    click_at: np.ndarray
    click_link: np.ndarray
    unsubscribe_index: np.ndarray
    unsubscribe_at: np.ndarray


class Behaviour:
    """Reactions drawn per send (`sim.draws`): a reader's choices depend on the send, not its batch."""

    def __init__(self, spec: BehaviourSpec, draws: Keyed) -> None:
        self.spec = spec
        self.draws = draws

    def react(self, keys: np.ndarray, delivered_at: np.ndarray) -> Reactions:
        """What the readers of these delivered sends (`keys`: `Keyed.sends`) do, and when."""
        spec, d = self.spec, self.draws
        opens = np.flatnonzero(d.uniform(keys, Purpose.OPEN) < spec.open)
        opened = keys[opens]
        open_at = delivered_at[opens] + delays(d, opened, Purpose.OPEN_AFTER, spec.open_after,
                                               spec.open_after_quantiles)
        p_click = min(1.0, spec.click / spec.open) if spec.open > 0 else 0.0
        clicked = d.uniform(opened, Purpose.CLICK) < p_click
        clicks = opens[clicked]
        click_at = open_at[clicked] + delays(d, keys[clicks], Purpose.CLICK_AFTER, spec.click_after,
                                             spec.click_after_quantiles)
        links = d.integers(keys[clicks], Purpose.LINK, len(spec.links))
        leaves = np.flatnonzero(d.uniform(keys, Purpose.UNSUBSCRIBE) < spec.unsubscribe)
        leave_at = delivered_at[leaves] + d.exponential(keys[leaves], Purpose.LEAVE_AFTER, spec.open_after)
        return Reactions(opens, open_at, clicks, click_at, links, leaves, leave_at)
