"""What subscribers do with delivered mail: a seeded numpy model.

For a batch of delivered sends it draws, all at once: who opens and after how
long (exponential with mean `open_after`, or an empirical distribution
given as quantiles, e.g. fitted by `dripsim calibrate`), who clicks (a subset of openers)
and which link, and who unsubscribes. Probabilities are per delivered email.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def draw_delays(rng: np.random.Generator, mean: float, quantiles: tuple[float, ...] | None, n: int) -> np.ndarray:
    """n delays: exponential with `mean`, or from the quantiles (linear between them: inverse CDF)."""
    if quantiles is None:
        return np.asarray(rng.exponential(mean, n), dtype=np.float64)
    return np.asarray(np.interp(rng.random(n), np.linspace(0.0, 1.0, len(quantiles)), np.asarray(quantiles)),
                      dtype=np.float64)


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
    def __init__(self, spec: BehaviourSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        self.rng = rng

    def react(self, delivered_at: np.ndarray) -> Reactions:
        spec, rng, n = self.spec, self.rng, len(delivered_at)
        u = rng.random((3, n))
        opens = np.flatnonzero(u[0] < spec.open)
        open_at = delivered_at[opens] + draw_delays(rng, spec.open_after, spec.open_after_quantiles, len(opens))
        p_click = min(1.0, spec.click / spec.open) if spec.open > 0 else 0.0
        clicked = u[1][opens] < p_click
        clicks = opens[clicked]
        click_at = open_at[clicked] + draw_delays(rng, spec.click_after, spec.click_after_quantiles, len(clicks))
        links = rng.integers(0, len(spec.links), len(clicks))
        leaves = np.flatnonzero(u[2] < spec.unsubscribe)
        leave_at = delivered_at[leaves] + rng.exponential(spec.open_after, len(leaves))
        return Reactions(opens, open_at, clicks, click_at, links, leaves, leave_at)
