"""A run an operator drives: the engine under `dripsim console`.

The run is the per-instant engine (`--no-look-ahead`, the oracle) on the virtual clock, stepped
from one phase boundary to the next. An operator's move is an `[[action]]` table, validated by
the scenario's own builder, stamped at the next tick after the boundary the run stands at, and
inserted among the actions still to come; the run then steps through that tick, so the operator
sees the engine's answer (a refused move shows the engine's own message). Because nothing is
decided ahead, a run of the scenario with those tables appended (`session_toml`) takes every
decision this one took: `dripsim run session.toml` reproduces the session's `event_digest`.

Everything here runs in one thread (the console's driver): actors are inline on the virtual
clock, so a read between phases sees a whole, quiet state.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core import KINDS, REASONS
from core.lifecycle import TRANSITIONS, Command, State
from sim.bootstrap import build
from sim.clock import wall_seconds
from sim.messages import Page
from sim.runner import RunResult, conclude, latency, stop
from sim.spec import RunSpec

POINTS = 720  # live series points kept (older ones are thinned: every second one dropped)
MOVES = {state.value: sorted(c.value for (s, c) in TRANSITIONS if s is state and c not in
                             (Command.REACH_START, Command.REACH_END)) for state in State}
TABS = ("sent", "failed", "unsubscribed", "opened", "not_opened", "clicked")
_KIND = {k: i for i, k in enumerate(KINDS)}


class SessionError(ValueError):
    """A move the console cannot make now: one line for the operator (the run is unchanged)."""


class BadMove(SessionError):
    """A move or a read that is not valid input (the loader's own line): the run is unchanged."""


class Session:
    def __init__(self, spec: RunSpec, data: dict[str, Any]) -> None:
        if spec.clock != "virtual":
            raise SessionError("a session runs on the virtual clock (play paces it at a time scale)")
        self.spec = replace(spec, look_ahead=False)  # the oracle: nothing decided past the boundary
        self.data = data  # the scenario as parsed TOML: `session_toml` appends the operator's actions
        self.began = wall_seconds()
        self.w = build(self.spec)
        self.env = self.w.clock.env
        self.proc = self.w.clock.process(self.w.conductor.process())
        self.t0, self.duration, self.tick = self.w.conductor.t0, self.spec.duration, self.spec.tick
        self.recorded: list[dict[str, Any]] = []
        self.series: deque[dict[str, float]] = deque()
        self.result: RunResult | None = None
        self._point()

    # -- the clock -----------------------------------------------------------
    @property
    def now(self) -> float:
        """Seconds since the scenario's start the run stands at (every phase at or before it has run)."""
        return min(round(float(self.env.now), 3), self.duration)

    @property
    def done(self) -> bool:
        return self.result is not None or not self.proc.is_alive

    def next_phase(self) -> float | None:
        """When the next phase runs (seconds since the start), or None when none is left."""
        if self.done:
            return None
        t = self.w.conductor.planned()
        return None if t is None else max(t - self.t0, self.now)

    def advance(self, to: float) -> None:
        """Run every phase at or before `to` (seconds since the start, capped at the run's end)."""
        if self.result is not None:
            raise SessionError("the session is finished")
        # A phase at `to` wakes a little after it: the clock sleeps by differences of POSIX instants
        # (about 2e-7 s apart in this century), so run a quarter tick past (at most 1 ms).
        target = min(max(to, self.now), self.duration) + min(self.tick / 4, 1e-3)
        if target > float(self.env.now) and self.proc.is_alive:
            self.env.run(until=target)
        self._point()

    def step(self) -> None:
        """To the next phase (or the end)."""
        nxt = self.next_phase()
        self.advance(self.duration if nxt is None else nxt)

    # -- moves ---------------------------------------------------------------
    def stamp(self) -> float:
        """The instant an action taken now applies at: the next tick after the boundary."""
        k = math.floor(round(self.now / self.tick, 9)) + 1
        return min(k * self.tick, self.duration)

    def act(self, table: dict[str, Any]) -> dict[str, Any]:
        """Apply an `[[action]]` table (without `at`) at the next tick; returns what the engine said."""
        from pydantic import ValidationError

        from sim.scenarios.build import action_spec
        from sim.scenarios.model import ActionModel

        if self.done:
            raise SessionError("the session is finished")
        at = self.stamp()
        row = {"at": offset(at), **{k: v for k, v in table.items() if v is not None}}
        index = len(self.data.get("action", [])) + len(self.recorded)
        try:
            model = ActionModel.model_validate(row)
            spec = action_spec(model, f"action[{index}]", [a.id for a in self.spec.automations], self.duration,
                               self.spec.timezone, self.t0, index)
        except ValidationError as err:
            first = err.errors()[0]
            raise BadMove(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
        except ValueError as err:
            raise BadMove(str(err)) from None
        refused = len(self.w.conductor.metrics.refused)
        self.w.conductor.insert(spec)
        self.recorded.append(row)
        self.proc.interrupt()  # the conductor plans again, the action now among those to come
        self.advance(at)
        said = [m for _, m in self.w.conductor.metrics.refused[refused:]]
        return {"at": at, "refused": said, "action": row}

    # -- what the operator sees -------------------------------------------------
    def state(self) -> dict[str, Any]:
        now = self.t0 + self.now
        autos: list[dict[str, Any]] = []
        dropped: dict[str, int] = {}
        failed, sent = {"soft": 0, "hard": 0}, 0
        for a in self.w.automations:
            s = a.summary()
            for reason, n in s["dropped"].items():
                dropped[reason] = dropped.get(reason, 0) + int(n)
            for reason, n in s["failed"].items():
                failed[reason] = failed.get(reason, 0) + int(n)
            sent += int(s["sent"])
            due = a.pending.due_count(now)
            autos.append({"id": a.id, "state": a.state.value, "moves": MOVES[a.state.value],
                          "triggered": s["triggered"], "queued": s["queued"], "sent": s["sent"],
                          "failed": sum(s["failed"].values()), "dropped": sum(s["dropped"].values()),
                          "pending": len(a.pending), "due": due, "waiting": len(a.pending) - due,
                          "p95": latency(self._sent(a.id))["p95"]})
        return {"now": self.now, "start": self.t0, "duration": self.duration, "tick": self.tick,
                "timezone": self.spec.timezone, "name": self.spec.name, "next": self.next_phase(),
                "done": self.done, "finished": self.result is not None, "phases": self.w.conductor.metrics.phases,
                "rate": self.spec.transport.rate, "sent": sent, "failed": failed,
                "dropped": {k: v for k, v in sorted(dropped.items()) if v},
                "p95": latency([c for c in self.w.conductor.metrics.sent.values() if c])["p95"],
                "due": sum(a["due"] for a in autos), "waiting": sum(a["waiting"] for a in autos),
                "automations": autos, "actions": len(self.recorded), "fields": sorted(self.w.store.fields),
                "refused": [m for _, m in self.w.conductor.metrics.refused[-5:]]}

    def page(self, automation: str, *, page: int = 1, sort: str = "asc", search: str | None = None,
             field: str | None = None) -> dict[str, Any]:
        """P1-P3: one page of 20 of a pending list (unsubscribed and deleted subscribers not listed)."""
        if automation not in {a.id for a in self.w.automations}:
            raise BadMove(f"no automation called {automation!r}")
        if sort not in ("asc", "desc") or page < 1:
            raise BadMove("sort is asc or desc, and pages start at 1")
        p = self.w.supervisor.ask(automation, Page(search or None, field or None, sort, page))
        return {"automation": automation, "page": p.page, "pages": p.pages, "total": p.total, "sort": p.sort,
                "search": p.search, "field": p.field,
                "rows": [{"entry": r.entry, "email": r.email, "due": r.due, "why": r.why,
                          "occurrence": r.occurrence} for r in p.rows]}

    def stats(self, automation: str, tab: str) -> list[dict[str, Any]]:
        """A statistics tab as rows: sent, failed (with hard / soft), unsubscribed, opened, not opened, clicked."""
        if tab not in TABS:
            raise BadMove(f"no tab {tab!r}; tabs: {', '.join(TABS)}")
        ids = [a.id for a in self.w.automations]
        if automation not in ids:
            raise BadMove(f"no automation called {automation!r}")
        cols = self.w.conductor.log.so_far()
        mine = cols["automation"] == ids.index(automation)
        of = {k: mine & (cols["kind"] == _KIND[k]) for k in ("sent", "failed", "opened", "clicked")}
        emails, status = self.w.store.emails, self.w.store.status.view
        if tab in ("sent", "failed", "opened", "clicked"):
            rows = np.flatnonzero(of[tab])
        elif tab == "not_opened":
            opened = set(cols["entry"][of["opened"]].tolist())
            rows = np.array([i for i in np.flatnonzero(of["sent"]) if int(cols["entry"][i]) not in opened], np.int64)
        else:  # sent this email and unsubscribed since (U1)
            sent = np.flatnonzero(of["sent"])
            rows = sent[status[cols["subscriber"][sent].astype(np.int64)] == 1]
        return [{"time": float(cols["at"][i]), "email": emails[int(cols["subscriber"][i])],
                 "reason": REASONS[int(cols["reason"][i])]} for i in rows.tolist()]

    def _sent(self, automation: str) -> list[Any]:
        chunks = self.w.conductor.metrics.sent.get(automation)
        return [chunks] if chunks else []

    def _point(self) -> None:
        s: dict[str, Any] = self.state()
        self.series.append({"t": self.now, "sent": float(s["sent"]), "failed": float(sum(s["failed"].values())),
                            "due": float(s["due"]), "waiting": float(s["waiting"]),
                            "p95": -1.0 if s["p95"] is None else float(s["p95"])})
        if len(self.series) > POINTS:  # keep the shape: drop every second of the older half
            kept = list(self.series)
            self.series = deque(kept[: POINTS // 2: 2] + kept[POINTS // 2:])

    # -- the end ---------------------------------------------------------------
    def finish(self) -> RunResult:
        """Run to the scenario's end, stop the actors, and make the run's result (as `dripsim run`)."""
        if self.result is None:
            if self.proc.is_alive:
                self.env.run(until=self.duration + 1.0)
            stop(self.w)
            self.result = conclude(self.spec, self.w, self.began)
        return self.result

    def close(self) -> None:
        """Stop the actors of a session left unfinished."""
        if self.result is None:
            stop(self.w)

    def session_toml(self, source: Path) -> str:
        """The scenario with the operator's actions appended: `dripsim run` on it reproduces this run."""
        import tomli_w

        data = dict(self.data)
        data["action"] = [*data.get("action", []), *self.recorded]
        roots = set()
        loads = []
        for load in data.get("load", []):
            if load.get("kind") == "replay" and "file" in load:  # the session file lives in the run folder
                path = (source.parent / load["file"]).resolve()
                roots.add(str(path.parent))
                load = {**load, "file": str(path)}
            loads.append(load)
        if loads:
            data["load"] = loads
        allow = "".join(f" --allow-root {r}" for r in sorted(roots))
        head = (f"# A dripsim console session of {source}: the scenario, then the operator's {len(self.recorded)} "
                f"action(s), each at the instant it applied.\n# Reproduce it: dripsim run session.toml{allow}\n")
        return head + tomli_w.dumps(data)


def offset(seconds: float) -> str:
    """An offset as a scenario writes it, exact to the millisecond: `+3600s`, `+1.5s`."""
    ms = round(seconds * 1000)
    return f"+{ms // 1000}s" if ms % 1000 == 0 else f"+{ms}ms"
