"""The run's event log: merged from every actor, canonical, digestible.

Rows arrive per actor and per step; `canonical()` orders them by (time,
automation, arrival within that automation), which depends only on the
scenario and seed, never on thread scheduling. The digest is the sha256 of
the canonical CSV text.
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from core import KINDS, REASONS, EventRows

HEADER = "time,automation,subscriber,kind,reason,due\n"


class RunLog:
    def __init__(self, automations: list[str]) -> None:
        self.automations = automations
        self._chunks: list[tuple[int, EventRows]] = []
        self._counts = [0] * len(automations)

    def add(self, automation: int, rows: EventRows) -> None:
        if len(rows):
            self._chunks.append((automation, rows))

    def canonical(self) -> dict[str, np.ndarray]:
        if not self._chunks:
            empty = {k: np.zeros(0) for k in ("at", "kind", "subscriber", "entry", "reason", "due")}
            return {**empty, "automation": np.zeros(0, np.int16)}
        cols: dict[str, Any] = {k: np.concatenate([getattr(r, k) for _, r in self._chunks])
                                for k in ("at", "kind", "subscriber", "entry", "reason", "due")}
        cols["automation"] = np.concatenate([np.full(len(r), a, np.int16) for a, r in self._chunks])
        arrival = np.arange(len(cols["at"]))  # within one automation, arrival order is deterministic
        order = np.lexsort((arrival, cols["automation"], np.round(cols["at"], 6)))
        return {k: v[order] for k, v in cols.items()}

    def write(self, path: Path, emails: list[str], tz: str) -> str:
        """Write events.csv.gz; returns the sha256 digest of the canonical text."""
        cols = self.canonical()
        zone = ZoneInfo(tz)
        digest = hashlib.sha256(HEADER.encode())
        with gzip.open(path, "wt", encoding="utf-8", newline="") as out:
            out.write(HEADER)
            n = len(cols["at"])
            for lo in range(0, n, 100_000):
                text = self._lines(cols, slice(lo, min(n, lo + 100_000)), emails, zone)
                out.write(text)
                digest.update(text.encode())
        return digest.hexdigest()

    def _lines(self, cols: dict[str, np.ndarray], sl: slice, emails: list[str], zone: ZoneInfo) -> str:
        cache: dict[float, str] = {}

        def iso(t: float) -> str:
            if t != t:  # NaN
                return ""
            text = cache.get(t)
            if text is None:
                text = cache[t] = datetime.fromtimestamp(t, zone).isoformat(timespec="milliseconds")
            return text

        lines = []
        for at, a, s, k, r, d in zip(cols["at"][sl].tolist(), cols["automation"][sl].tolist(),
                                     cols["subscriber"][sl].tolist(), cols["kind"][sl].tolist(),
                                     cols["reason"][sl].tolist(), cols["due"][sl].tolist(), strict=True):
            email = emails[s] if 0 <= s < len(emails) else ""
            lines.append(f"{iso(at)},{self.automations[a]},{email},{KINDS[k]},{REASONS[r]},{iso(d)}\n")
        return "".join(lines)
