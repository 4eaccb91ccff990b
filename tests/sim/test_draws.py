"""Draws keyed by the send: how sends are batched never changes an outcome."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from core import SendBatch
from sim.behaviour import Behaviour, BehaviourSpec
from sim.draws import Keyed, Purpose
from sim.messages import Sent
from sim.transport import SimulatedTransport, TransportSpec


def _dispatcher(seed: int) -> tuple[SimulatedTransport, Behaviour]:
    spec = TransportSpec(rate=50, latency=2.0, latency_sigma=0.8, hard_bounce=0.05, soft_bounce=0.05,
                         transient=0.2, permanent=0.02, retries=2, backoff=30)
    return (SimulatedTransport(spec, Keyed(seed)),
            Behaviour(BehaviourSpec(open=0.5, click=0.2, unsubscribe=0.05), Keyed(seed + 1)))


def _batches() -> list[SendBatch]:
    rng = np.random.default_rng(3)
    out = []
    for k in range(40):
        n = int(rng.integers(0, 30))
        entries = np.arange(k * 100, k * 100 + n)
        out.append(SendBatch("a" if k % 3 else "b", 1000.0 + k, entries, rng.integers(0, 500, n),
                             1000.0 + k - rng.random(n), np.zeros(n, np.int64)))
    return out


def _send(batches: list[SendBatch], together: bool) -> dict[tuple[str, int], tuple[float, ...]]:
    """Per (automation, entry): when it left, its outcome and when, and what its reader did."""
    from sim.actors.dispatcher import DispatcherActor

    transport, behaviour = _dispatcher(11)
    actor = DispatcherActor.__new__(DispatcherActor)  # the handler only, no thread
    actor.transport, actor.behaviour, actor.keyed_by = transport, behaviour, lambda sids: sids
    groups = [batches] if together else [[b] for b in batches]
    sent: list[Sent] = [s for g in groups for s in actor._joined(transport, tuple(g))]
    rows: dict[tuple[str, int], tuple[float, ...]] = {}
    for s in sent:
        r = s.reactions
        opened = dict(zip(r.open_index.tolist(), r.open_at.tolist(), strict=True))
        clicked = dict(zip(r.click_index.tolist(), r.click_at.tolist(), strict=True))
        for i, e in enumerate(s.entries.tolist()):
            rows[(s.automation, e)] = (float(s.sent_at[i]), float(s.done_at[i]), int(s.code[i]),
                                       opened.get(i, -1.0), clicked.get(i, -1.0))
    return rows


def test_st1_joining_batches_changes_no_send_outcome() -> None:
    one_by_one, joined = _send(_batches(), False), _send(_batches(), True)
    assert len(one_by_one) == sum(len(b) for b in _batches()) > 300
    assert joined == one_by_one  # bit for bit: pacing, latency, codes, retries, opens, clicks
    codes = {v[2] for v in joined.values()}
    assert len(codes) == 3  # delivered, soft and hard all happened: the test exercises every branch


def test_keyed_draws_have_the_distributions_they_name() -> None:
    draws = Keyed(2026)
    n = 200_000
    keys = draws.sends("welcome", np.arange(n), np.full(n, 1.7e9), np.zeros(n, np.int64))
    u = draws.uniform(keys, Purpose.OPEN)
    assert u.min() >= 0
    assert u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005
    assert abs(np.histogram(u, 10)[0] / n - 0.1).max() < 0.005
    z = draws.normal(keys, Purpose.LATENCY_A, Purpose.LATENCY_B)
    assert abs(z.mean()) < 0.01
    assert abs(z.std() - 1) < 0.01
    assert abs(draws.exponential(keys, Purpose.OPEN_AFTER, 3600).mean() - 3600) < 30
    assert abs(np.corrcoef(u, draws.uniform(keys, Purpose.CLICK))[0, 1]) < 0.01  # purposes independent
    other = draws.sends("welcome", np.arange(n), np.full(n, 1.7e9), np.ones(n, np.int64))
    assert abs(np.corrcoef(u, draws.uniform(other, Purpose.OPEN))[0, 1]) < 0.01  # occurrences independent
    another_run = Keyed(2027)
    theirs = another_run.uniform(another_run.sends("welcome", np.arange(n), np.full(n, 1.7e9),
                                                   np.zeros(n, np.int64)), Purpose.OPEN)
    assert abs(np.corrcoef(u, theirs)[0, 1]) < 0.01  # another seed, other numbers


@given(st.lists(st.tuples(st.integers(1, 10**7), st.integers(1, 3)), min_size=1, max_size=60), st.integers(0, 2**32))
def test_t6_one_api_pick_drawn_alone_is_the_pick_of_a_batch_of_one(calls: list[tuple[int, int]], seed: int) -> None:
    """The conductor draws a lone API arrival's subscriber as a scalar (cheaper): the stream must not change."""
    batch, alone = np.random.default_rng(seed), np.random.default_rng(seed)
    for n, count in calls:
        expected = batch.integers(0, n, count)
        got = np.array([alone.integers(0, n)]) if count == 1 else alone.integers(0, n, count)
        assert expected.tolist() == got.tolist()


def test_st1_pacing_is_the_same_instants_however_sends_are_batched() -> None:
    """A busy stretch's k-th send leaves at origin + k / rate, bit for bit, in one batch or in many
    (a deadline armed from that instant feeds the keyed draws, so an ulp would change an outcome)."""
    def paced(sizes: list[int], many: bool) -> list[float]:
        transport = SimulatedTransport(TransportSpec(rate=7.0), Keyed(1))
        handed = [(1_772_510_400.0, n) for n in sizes]
        parts = transport.pace_many(handed) if many else [transport.pace(s, n) for s, n in handed]
        return np.concatenate(parts).tolist()

    whole = paced([23], False)
    for sizes in ([3, 20], [1] * 23, [5, 5, 5, 8]):
        assert paced(sizes, False) == whole
        assert paced(sizes, True) == whole
