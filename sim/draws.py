"""Draws keyed by the send, not by the order they are made in.

Every random number about a send (its transport latency, bounce, SMTP
replies; whether and when its reader opens, clicks, unsubscribes) is a pure
function of the run's seed, the send (automation, subscriber, due instant,
occurrence) and what the number is for. So how sends are grouped into batches (one tick at a
time, several ticks decided ahead, several automations in one dispatch) can
never change an outcome: the same send always gets the same numbers.

The function is a counter-based hash (SplitMix64's finaliser, applied to the
key mixed with each part in turn), vectorised over numpy ``uint64`` arrays,
where multiplication wraps as the hash needs.
"""

from __future__ import annotations

import hashlib
from enum import IntEnum

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_UNIT = 2.0 ** -53


class Purpose(IntEnum):
    """What a number is for: each has its own stream."""

    LATENCY_A = 1
    LATENCY_B = 2
    BOUNCE = 3
    OPEN = 10
    CLICK = 11
    UNSUBSCRIBE = 12
    OPEN_AFTER = 13
    CLICK_AFTER = 14
    LINK = 15
    LEAVE_AFTER = 16
    SMTP_ATTEMPT = 100  # + the attempt number


def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    out: np.ndarray = x ^ (x >> _S31)
    return out


class Keyed:
    """Uniforms, normals, exponentials and integers per (automation, entry, purpose)."""

    def __init__(self, key: int) -> None:
        self.key = np.uint64(key & 0xFFFFFFFFFFFFFFFF)
        self._names: dict[str, np.uint64] = {}

    @classmethod
    def from_seed(cls, seed: np.random.SeedSequence) -> Keyed:
        return cls(int(seed.generate_state(1, np.uint64)[0]))

    def _base(self, automation: str) -> np.uint64:
        base = self._names.get(automation)
        if base is None:  # a stable hash of the name (Python's own is salted per process)
            digest = int.from_bytes(hashlib.blake2b(automation.encode(), digest_size=8).digest(), "little")
            base = self._names[automation] = np.uint64(digest) ^ self.key
        return base

    def sends(self, automation: str, subscribers: np.ndarray, due: np.ndarray, occurrence: np.ndarray) -> np.ndarray:
        """A key per send: what identifies it whatever order sends were queued and batched in.

        (automation, subscriber, due instant, occurrence): pending-entry numbers
        are not used, because they follow the order entries were queued in,
        which looking ahead may change.
        """
        with np.errstate(over="ignore"):
            x = _mix(np.asarray(subscribers).astype(np.uint64) * _GOLDEN ^ self._base(automation))
            x = _mix(x ^ np.ascontiguousarray(due, dtype=np.float64).view(np.uint64))
            return _mix(x + np.asarray(occurrence).astype(np.uint64) * _GOLDEN)

    @staticmethod
    def uniform(keys: np.ndarray, purpose: int) -> np.ndarray:
        """One number in [0, 1) per send key."""
        with np.errstate(over="ignore"):
            x = _mix(keys + np.uint64(purpose) * _GOLDEN)
        return (x >> _S11).astype(np.float64) * _UNIT

    def normal(self, keys: np.ndarray, a: int, b: int) -> np.ndarray:
        """Standard normal per key (Box-Muller from the uniforms of purposes `a` and `b`)."""
        u1 = 1.0 - self.uniform(keys, a)  # (0, 1]: the log is finite
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * self.uniform(keys, b))

    def exponential(self, keys: np.ndarray, purpose: int, mean: float) -> np.ndarray:
        out: np.ndarray = -mean * np.log1p(-self.uniform(keys, purpose))
        return out

    def integers(self, keys: np.ndarray, purpose: int, high: int) -> np.ndarray:
        """Uniform in 0..high-1 per key."""
        out: np.ndarray = np.minimum((self.uniform(keys, purpose) * high).astype(np.int64), high - 1)
        return out
