"""T2 deadlines as columns: the same deadlines pass, in the same order, as a plain model of them."""

from __future__ import annotations

import heapq

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.watches import Watches

_OPS = st.lists(st.one_of(
    st.tuples(st.just("arm"), st.lists(st.tuples(st.integers(0, 50), st.integers(0, 5), st.integers(0, 30)),
                                        min_size=1, max_size=6), st.integers(0, 1)),
    st.tuples(st.just("cancel"), st.integers(0, 5), st.integers(0, 30), st.integers(0, 1)),
    st.tuples(st.just("expire"), st.integers(0, 60)),
    st.tuples(st.just("peek"), st.integers(0, 60)),
), max_size=40)


class _Model:
    """The obvious version: a heap of (deadline, arming order) and a set of live keys."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, int, str, int]] = []
        self.live: set[tuple[int, str, int]] = set()
        self.seq = 0

    def arm(self, deadline: float, sid: int, send: str, trigger: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (deadline, self.seq, sid, send, trigger))
        self.live.add((sid, send, trigger))

    def expire(self, now: float) -> list[tuple[float, int, str, int]]:
        out = []
        while self.heap and self.heap[0][0] <= now:
            d, _, sid, send, trigger = heapq.heappop(self.heap)
            if (sid, send, trigger) in self.live:
                self.live.discard((sid, send, trigger))
                out.append((d, sid, send, trigger))
        return out

    def before(self, t: float) -> list[tuple[float, int]]:
        return [(d, sid) for d, _, sid, send, trig in sorted(self.heap) if d < t and (sid, send, trig) in self.live]


@settings(max_examples=300, deadline=None)
@given(_OPS)
def test_t2_columns_pass_the_deadlines_a_plain_model_passes(ops: list[tuple]) -> None:  # type: ignore[type-arg]
    w, m = Watches(), _Model()
    used: set[tuple[int, int]] = set()  # one watch per (send, trigger), as sends are unique
    for op in ops:
        if op[0] == "arm":
            rows = []
            for d, sid, e in op[1]:
                if (e, op[2]) not in used:
                    used.add((e, op[2]))
                    rows.append((d, sid, e))
            if not rows:
                continue
            for d, sid, e in rows:
                m.arm(float(d), sid, f"welcome:{e}", op[2])
            w.arm_many(np.array([float(d) for d, _, _ in rows]), np.array([r[1] for r in rows], np.int64),
                       np.array([r[2] for r in rows], np.int64), op[2], "welcome")
        elif op[0] == "cancel":
            _, sid, e, trigger = op
            m.live.discard((sid, f"welcome:{e}", trigger))
            w.cancel(sid, f"welcome:{e}", trigger)
        elif op[0] == "expire":
            got = w.expire(float(op[1]))
            mine = [(float(d), int(s), w.send_id(int(k), int(t)), int(t))
                    for d, s, k, t in zip(got.deadline, got.subscriber, got.send, got.trigger, strict=True)]
            assert mine == m.expire(float(op[1]))
        else:
            deadlines, subscribers = w.live_before(float(op[1]))
            assert list(zip(deadlines.tolist(), subscribers.tolist(), strict=True)) == m.before(float(op[1]))
        assert len(w) == len(m.live)
        heads = [d for d, _, sid, send, trig in m.heap if (sid, send, trig) in m.live]
        assert w.next_deadline() == (min(heads) if heads else None)


def test_t2_send_ids_of_any_shape_are_kept() -> None:
    w = Watches()
    w.arm(10.0, 1, "w1", 0, "welcome")  # not email:entry: interned
    w.arm(11.0, 2, "welcome:5", 0, "welcome")
    w.cancel(1, "w1", 0)
    got = w.expire(20.0)
    assert [w.send_id(int(k), int(t)) for k, t in zip(got.send, got.trigger, strict=True)] == ["welcome:5"]
