"""Seeded, realistic subscribers by the million.

faker costs ~47 us a profile and runs out of unique emails before 100k, so
faker draws a pool of names and email user names once (seeded with
`seed_instance`), and numpy combines them: email = pool user name + a
per-subscriber number (unique by construction) at a weighted domain. Every
draw comes from generators seeded by the run's seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from faker import Faker

from core import Source, Status, SubscriberStore
from core.emails import Pooled
from sim.partitions import Directory

DOMAINS = {
    "ko_KR": (["naver.com", "gmail.com", "daum.net", "kakao.com", "hanmail.net", "nate.com"],
              [0.38, 0.30, 0.12, 0.10, 0.06, 0.04]),
    "en_US": (["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com", "proton.me"],
              [0.45, 0.18, 0.17, 0.12, 0.04, 0.04]),
}
POOL = 4096
BLOCK = 4096
_DAYS = (np.datetime64("1960-01-01") + np.arange(365 * 45)).astype(str).astype(object)


@dataclass(frozen=True)
class PopulationSpec:
    size: int = 1000
    locale: str = "ko_KR"
    status: dict[str, float] = field(default_factory=dict)  # share per non-subscribed status
    fields: dict[str, Any] = field(default_factory=dict)  # name -> list of choices | "date" | "name"
    groups: dict[str, float] = field(default_factory=dict)  # group -> share of members
    known: tuple[dict[str, Any], ...] = ()  # named subscribers added after the generated ones


class Population:
    """Makes subscribers for one run: the initial list and later sign-ups."""

    def __init__(self, spec: PopulationSpec, rng: np.random.Generator, faker_seed: int,
                 directory: Directory | None = None) -> None:
        if spec.locale not in DOMAINS:
            raise ValueError(f"population.locale: unsupported locale {spec.locale!r} "
                             f"(use one of {', '.join(DOMAINS)})")
        self.spec = spec
        self.rng = rng
        self.directory = directory  # a partitioned run: only this partition's subscribers are added
        fake = Faker(spec.locale)
        fake.seed_instance(faker_seed)
        pool = min(POOL, max(256, spec.size // 8))  # faker is slow: a small list needs a small pool
        self.names = np.array([fake.name() for _ in range(pool)], dtype=object)
        users = {fake.user_name().replace(".", "_") for _ in range(pool)}
        self.users = tuple(sorted(users))
        domains, self.domain_weights = DOMAINS[spec.locale]
        self.domains = tuple(domains)
        self.made = 0
        self._pool_emails: Pooled | None = None
        self._pool_fields: dict[str, list[Any]] = {}
        self._pool_groups: dict[str, np.ndarray] = {}

    def _emails(self, n: int) -> Pooled:
        user = self.rng.integers(0, len(self.users), n)
        domain = self.rng.choice(len(self.domains), size=n, p=self.domain_weights)  # the draws of choice(domains)
        numbers = np.arange(self.made, self.made + n, dtype=np.int64)  # unique by construction
        return Pooled(self.users, user.astype(np.int32), numbers, self.domains, domain.astype(np.int8))

    def _field(self, name: str, kind: Any, n: int) -> list[Any]:
        if kind == "date":  # one string per distinct day, shared: not one per subscriber
            days = self.rng.integers(0, len(_DAYS), n)
            return _DAYS[days].tolist()  # type: ignore[no-any-return]
        if kind == "name":
            return self.names[self.rng.integers(0, len(self.names), n)].tolist()  # type: ignore[no-any-return]
        choices = list(kind)
        return [choices[i] for i in self.rng.integers(0, len(choices), n)]

    def _profiles(self, n: int) -> tuple[Pooled, dict[str, list[Any]]]:
        """`n` new emails and field values, drawn in blocks so one sign-up costs a slice.

        Blocks are always `BLOCK` long, so the subscribers a seed makes do not depend on
        how many are asked for at a time (how a run groups its sign-ups into phases).
        """
        blocks = [] if self._pool_emails is None else [self._pool_emails]
        have = len(self._pool_emails) if self._pool_emails is not None else 0
        while have < n:
            block = BLOCK
            blocks.append(self._emails(block))
            have += block
            self.made += block
            drawn = {"name": self._field("name", "name", block)}
            drawn.update({k: self._field(k, kind, block) for k, kind in self.spec.fields.items()})
            for k, values in drawn.items():
                self._pool_fields.setdefault(k, []).extend(values)
            for group, share in self.spec.groups.items():  # in the block too: not per call (see `fill`)
                self._pool_groups[group] = np.concatenate([self._pool_groups.get(group, np.zeros(0, bool)),
                                                           self.rng.random(block) < share])
        pool = Pooled.joined(blocks) if len(blocks) > 1 else blocks[0]
        emails, self._pool_emails = pool.part(0, n), pool.part(n, len(pool))
        fields = {}
        for k in list(self._pool_fields):
            fields[k], self._pool_fields[k] = self._pool_fields[k][:n], self._pool_fields[k][n:]
        return emails, fields

    def _members(self, n: int) -> dict[str, np.ndarray]:
        """Group membership of the next `n` subscribers (drawn with their block)."""
        taken = {}
        for group in self.spec.groups:
            taken[group], self._pool_groups[group] = self._pool_groups[group][:n], self._pool_groups[group][n:]
        return taken

    def fill(self, store: SubscriberStore, n: int, at: float | np.ndarray, *, source: Source = Source.FORM,
             initial: bool = False) -> range:
        """Add `n` subscribers (group members among them by the groups' shares); the initial list also
        draws status shares. Every draw about a subscriber is made with its block, so a subscriber
        is the same whatever the calls were: the whole list at once or sign-ups a phase at a time."""
        return self.fill_kept(store, n, at, source=source, initial=initial)[0]

    def fill_kept(self, store: SubscriberStore, n: int, at: float | np.ndarray, *, source: Source = Source.FORM,
                  initial: bool = False) -> tuple[range, np.ndarray | None]:
        """`fill`, in a partitioned run keeping only this partition's (`directory`): every profile of the
        whole list is drawn, in the same blocks, and only those kept are added. (The ids added, the mask
        of the `n` kept, or None when all are.)"""
        spec = self.spec
        emails, fields = self._profiles(n)
        status = np.zeros(n, np.int8)
        if initial and spec.status:
            labels = [Status.SUBSCRIBED, *(Status[k.upper()] for k in spec.status)]
            p = [1 - sum(spec.status.values()), *spec.status.values()]
            status = np.asarray(labels, np.int8)[self.rng.choice(len(labels), n, p=p)]
        members = self._members(n)
        keep = None
        if self.directory is not None:
            held, keep = self.directory.admit(emails)
            self.directory.hold(held[keep])
            emails, status = emails.take(keep), status[keep]
            at = at[keep] if isinstance(at, np.ndarray) else at
            where = np.flatnonzero(keep).tolist()
            fields = {k: [v[i] for i in where] for k, v in fields.items()}
            members = {g: m[keep] for g, m in members.items()}
        ids = store.add_many(emails, at, source=source, fields=fields, status=status, new=True)
        for group, member in members.items():
            store.groups.setdefault(group, set()).update((np.flatnonzero(member) + ids.start).tolist())
        return ids, keep


def add_known(store: SubscriberStore, known: tuple[dict[str, Any], ...], at: float,
              directory: Directory | None = None) -> None:
    """Subscribers the scenario names itself (targets for `who = { emails = [...] }`)."""
    for item in known:
        if directory is not None:
            held, mine = directory.admit([str(item["email"])])
            if not mine[0]:
                continue
            directory.hold(held)
        fields = {k: v for k, v in item.items() if k not in ("email", "status", "groups")}
        sid = store.add(str(item["email"]), at, fields=fields,
                        status=Status[str(item.get("status", "subscribed")).upper()])
        for group in item.get("groups", []):
            store.add_to_group(sid, str(group))

