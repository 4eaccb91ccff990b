"""Seeded faker subscribers at scale, and the behaviour model."""

from __future__ import annotations

import numpy as np
import pytest

from core import Status, SubscriberStore
from sim.behaviour import Behaviour, BehaviourSpec
from sim.draws import Keyed
from sim.population import Population, PopulationSpec


def make(seed: int, n: int, **spec: object) -> SubscriberStore:
    store = SubscriberStore()
    Population(PopulationSpec(**spec), np.random.default_rng(seed), seed).fill(store, n, 0.0, initial=True)
    return store


def test_population_is_seeded() -> None:
    assert make(1, 500).emails == make(1, 500).emails
    assert make(1, 500).emails != make(2, 500).emails


def test_population_emails_unique_at_scale() -> None:
    store = make(3, 200_000)
    assert len(set(store.emails)) == 200_000


@pytest.mark.parametrize(("locale", "domain"), [("ko_KR", "naver.com"), ("en_US", "yahoo.com")])
def test_population_locale_and_fields(locale: str, domain: str) -> None:
    store = make(4, 3000, locale=locale, fields={"plan": ["free", "pro"], "birthday": "date"},
                 groups={"vip": 0.2}, status={"unsubscribed": 0.1, "auto_deleted": 0.05})
    assert any(e.endswith("@" + domain) for e in store.emails)
    profile = store.profile(0)
    assert set(profile) == {"email", "name", "plan", "birthday"}
    assert profile["plan"] in ("free", "pro")
    assert len(profile["birthday"]) == 10
    assert 0.15 < len(store.groups["vip"]) / 3000 < 0.25
    shares = np.bincount(store.status.view, minlength=4) / 3000
    assert 0.07 < shares[Status.UNSUBSCRIBED] < 0.13
    assert 0.03 < shares[Status.AUTO_DELETED] < 0.07
    if locale == "ko_KR":
        assert any("\uac00" <= ch <= "\ud7a3" for ch in profile["name"])  # Hangul names


def test_population_rejects_unknown_locale() -> None:
    with pytest.raises(ValueError, match="locale"):
        make(1, 1, locale="xx_XX")


def test_behaviour_rates_follow_the_spec() -> None:
    draws = Keyed(5)
    b = Behaviour(BehaviourSpec(open=0.4, click=0.1, unsubscribe=0.01, open_after=3600), draws)
    n = 100_000
    r = b.react(draws.sends("a", np.arange(n), np.zeros(n), np.zeros(n, np.int64)), np.zeros(n))
    assert 0.38 < len(r.open_index) / 1e5 < 0.42
    assert 0.09 < len(r.click_index) / 1e5 < 0.11
    assert set(r.click_index.tolist()) <= set(r.open_index.tolist())  # clickers opened
    assert 3400 < r.open_at.mean() < 3800
    assert (r.click_at >= 0).all()


def test_f1_a_subscriber_is_the_same_whatever_the_sign_ups_were_grouped_in() -> None:
    """Group membership (what filters read), fields and addresses come with the subscriber's block:
    the whole list at once, or sign-ups a few at a time across blocks, make the same people."""
    spec = PopulationSpec(size=0, fields={"plan": ["free", "pro"]}, groups={"vip": 0.3, "beta": 0.5})

    def made(sizes: list[int]) -> SubscriberStore:
        store, population = SubscriberStore(), Population(spec, np.random.default_rng(3), faker_seed=3)
        for n in sizes:
            population.fill(store, n, 0.0)
        return store

    at_once, in_pieces = made([9000]), made([5, 4000, 300, 1, 4694])
    assert list(at_once.emails) == list(in_pieces.emails)
    assert at_once.fields["plan"] == in_pieces.fields["plan"]
    assert at_once.groups == in_pieces.groups
    assert 0.25 < len(at_once.groups["vip"]) / 9000 < 0.35
