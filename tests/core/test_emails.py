"""Addresses stored compactly read back exactly as a list of strings would (U1: one address per subscriber)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.emails import MERGE_BELOW, Emails, Pooled

USERS = ("kim", "lee_", "park.j")
DOMAINS = ("naver.com", "gmail.com")


def pooled(start: int, n: int, seed: int = 0) -> Pooled:
    rng = np.random.default_rng(seed)
    return Pooled(USERS, rng.integers(0, len(USERS), n).astype(np.int32), np.arange(start, start + n),
                  DOMAINS, rng.integers(0, len(DOMAINS), n).astype(np.int8))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.text(min_size=1, max_size=8).map(lambda e: ("one", e)),
                          st.integers(0, 40).map(lambda n: ("pooled", n))), max_size=12))
def test_u1_compact_addresses_read_like_a_list(ops: list[tuple[str, object]]) -> None:
    emails, model, made = Emails(), [], 0
    for what, arg in ops:
        if what == "one":
            emails.append(str(arg))
            model.append(str(arg))
        else:
            part = pooled(made, int(arg), seed=made)  # type: ignore[call-overload]
            made += int(arg)  # type: ignore[call-overload]
            emails.extend(part)
            model.extend(part.texts())
    assert len(emails) == len(model)
    assert list(emails) == model
    assert emails == model
    assert [emails[i] for i in range(len(model))] == model
    if model:
        assert emails[-1] == model[-1]
        assert emails[1:4] == model[1:4]


def test_u1_pooled_text_is_user_number_at_domain() -> None:
    p = Pooled(USERS, np.array([2, 0]), np.array([7, 12]), DOMAINS, np.array([1, 0]))
    assert p.texts() == ["park.j7@gmail.com", "kim12@naver.com"] == [p.text(0), p.text(1)]


def test_u1_small_pooled_batches_merge_into_few_pieces() -> None:
    emails = Emails()
    for k in range(200):  # sign-ups arriving a few per phase
        emails.extend(pooled(k * 5, 5))
    assert len(emails.pieces()) == 1
    assert len(emails) == 1000
    emails.extend(pooled(1000, MERGE_BELOW))
    emails.extend(pooled(1000 + MERGE_BELOW, 3))
    assert len(emails.pieces()) == 2  # the first piece grew past the bound; the next starts a new one
    assert emails[1000 + MERGE_BELOW + 2] == pooled(1000 + MERGE_BELOW, 3).text(2)
