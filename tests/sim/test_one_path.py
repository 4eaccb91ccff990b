"""One path per rule: the actors and the workspace go through the same handlers and agree."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import (
    KINDS,
    AutomationConfig,
    Delay,
    Delete,
    Duplicates,
    Edit,
    End,
    Kind,
    Observe,
    Pause,
    Resume,
    Signal,
    Start,
    Status,
    SubscriberStore,
    Trigger,
    Workspace,
)
from sim.behaviour import BehaviourSpec
from sim.population import PopulationSpec
from sim.runner import run
from sim.scenarios.library import builtin_path
from sim.scenarios.loader import load
from sim.spec import ActionSpec, ApiCall, LoadSpec, RunSpec, Who
from sim.transport import TransportSpec

START = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Seoul"))
T0 = START.timestamp()


def test_l6_edited_trigger_takes_effect_after_resume() -> None:
    result = run(load(builtin_path("edit-trigger")))
    welcome = result.summary["automations"]["welcome"]
    assert (welcome["triggered"], welcome["sent"]) == (5, 5)


def test_l4_actors_refuse_an_ended_trigger_source() -> None:
    result = run(load(builtin_path("edit-trigger")))
    (line,) = result.summary["refused"]
    assert "follow-up: edit" in line
    assert "'old-tour' has ended" in line
    assert "(L4)" in line
    assert result.wiring.conductor.configs["follow-up"].triggers[0].kind is Kind.API  # nothing changed


def _bounce_spec(latency: float, sigma: float) -> RunSpec:
    return RunSpec(
        name="bounces", seed=3, start=START, duration=3600.0, tick=60.0,
        population=PopulationSpec(size=200),
        behaviour=BehaviourSpec(open=0.0, click=0.0, unsubscribe=0.0),
        transport=TransportSpec(rate=1e6, latency=latency, latency_sigma=sigma, hard_bounce=1.0),
        automations=(AutomationConfig(id="a", triggers=(Trigger(Kind.API),), subject="s", api_limit=1000),),
        loads=(LoadSpec("api", count=200, automation="a", start=30.0),),
        actions=(ActionSpec(Start(T0), "a"),))


def test_u2_each_hard_bounce_of_a_batch_keeps_its_own_time() -> None:
    result = run(_bounce_spec(latency=5.0, sigma=1.5))  # one batch, bounces spread over seconds
    cols = result.events
    failed = cols["kind"] == KINDS.index("failed")
    when_failed = dict(zip(cols["subscriber"][failed].tolist(), cols["at"][failed].tolist(), strict=True))
    log = result.wiring.conductor.metrics.status_log
    assert len(log) == len(when_failed) > 100
    assert len({at for at, _, _ in log}) > 100  # not one stamp for the whole batch
    for at, sid, status in log:
        assert status == Status.AUTO_DELETED
        assert at == when_failed[sid]


def test_u2_zero_latency_bounce_is_not_a_send_to_an_unsubscribed() -> None:
    result = run(_bounce_spec(latency=0.0, sigma=0.0))
    assert result.summary["automations"]["a"]["failed"]["hard"] > 0
    assert result.summary["invariants"]["ok"], result.summary["invariants"]["violations"]


# -- the same commands through the workspace and through the actors ----------------------------
N = 6
EMAILS = tuple(f"u{i}@example.com" for i in range(N))
NAMES = ("a", "b")
COMMANDS = {"start": Start, "pause": Pause, "resume": Resume, "end": End, "delete": Delete}

step = st.one_of(
    st.tuples(st.just("api"), st.sampled_from(NAMES), st.integers(0, N - 1)),
    st.tuples(st.sampled_from(sorted(COMMANDS)), st.sampled_from(NAMES), st.just(0)),
    st.tuples(st.just("edit"), st.sampled_from(NAMES), st.integers(0, 3)),
)


def _configs() -> tuple[AutomationConfig, ...]:
    return (AutomationConfig(id="a", triggers=(Trigger(Kind.API),), subject="s", delay=Delay(2, "minutes"),
                             duplicates=Duplicates(allow=True, cooldown=90)),
            AutomationConfig(id="b", triggers=(Trigger(Kind.API),), subject="s"))


def _actions(steps: list[tuple[str, str, int]]) -> list[ActionSpec]:
    actions = []
    for i, (what, name, arg) in enumerate(steps):
        at = T0 + 60.0 * (i + 1)
        if what == "api":
            actions.append(ActionSpec(ApiCall(at), name, Who(emails=(EMAILS[arg],)), index=i))
        elif what == "edit":
            actions.append(ActionSpec(Edit(at, {"delay": Delay(arg, "minutes")}), name, index=i))
        else:
            actions.append(ActionSpec(COMMANDS[what](at), name, index=i))
    return actions


def _through_workspace(actions: list[ActionSpec], end: float) -> dict[str, tuple[object, ...]]:
    store = SubscriberStore()
    for email in EMAILS:
        store.add(email, T0)
    ws = Workspace(store)
    for config in _configs():
        ws.add(config)
    pending = list(actions)

    def settle(t: float) -> None:
        for batch in ws.advance(t):
            ws.deliver(batch)  # zero latency: delivered at the decision

    while True:
        wake = ws.next_wakeup()
        t = min([x for x in (wake, pending[0].at if pending else None) if x is not None], default=None)
        if t is None or t > end:
            break
        while pending and pending[0].at == t:
            action = pending.pop(0)
            assert action.automation is not None
            if isinstance(action.command, ApiCall):
                assert action.who is not None
                sid = store.find(action.who.emails[0])
                assert sid is not None
                fx = ws.execute(action.automation, Observe(Signal(Kind.API, sid, t)))
            else:
                fx = ws.execute(action.automation, action.command)  # type: ignore[arg-type]
            for batch in fx.batches:
                ws.deliver(batch)
        settle(t)
    return {name: _outcome(ws[name].summary()) for name in NAMES}


def _outcome(summary: dict[str, object]) -> tuple[object, ...]:
    keys = ("state", "triggered", "queued", "sent", "pending", "dropped", "cancelled", "ignored")
    return tuple(summary[k] if not isinstance(summary[k], dict) else
                 {r: n for r, n in summary[k].items() if n} for k in keys)  # type: ignore[union-attr]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=14))
def test_l1_same_commands_same_outcome_through_workspace_and_actors(steps: list[tuple[str, str, int]]) -> None:
    actions = _actions(steps)
    duration = 60.0 * (len(steps) + 10)
    spec = RunSpec(
        name="agree", seed=1, start=START, duration=duration, tick=1.0,
        population=PopulationSpec(size=0, known=tuple({"email": e} for e in EMAILS)),
        behaviour=BehaviourSpec(open=0.0, click=0.0, unsubscribe=0.0),
        transport=TransportSpec(rate=1e6, latency=0.0, latency_sigma=0.0),
        automations=_configs(), actions=tuple(actions))
    result = run(spec)
    through_actors = {a.id: _outcome(a.summary()) for a in result.wiring.automations}
    assert through_actors == _through_workspace(actions, T0 + duration)
