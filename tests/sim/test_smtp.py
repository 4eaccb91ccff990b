"""Real SMTP on loopback: N sends arrive as exactly N messages, right recipients, unique IDs."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from sim.runner import run
from sim.scenarios.library import builtin_path
from sim.scenarios.loader import ScenarioError, load, loads
from sim.transport import SmtpSink, SmtpTransport, message_id, render


def test_smtp_run_delivers_exactly_n_messages_with_unique_message_ids() -> None:
    spec = dataclasses.replace(load(builtin_path("pause-boundary")), smtp=True, clock="real",
                               time_scale=2e-4)
    result = run(spec)
    assert result.ok, result.failures
    messages = result.wiring.sink.messages  # type: ignore[union-attr]
    sent = result.summary["automations"]["welcome"]["sent"]
    assert sent == 30
    assert len(messages) == sent
    ids = [m["Message-ID"] for _, m in messages]
    assert len(set(ids)) == len(ids)
    store = result.wiring.store
    for rcpt, m in messages:
        assert rcpt == [m["To"]]
        sid = store.find(m["To"])
        assert sid is not None
        assert m["Subject"] == render(spec.automations[0].subject, store.profile(sid))


def test_smtp_transport_refuses_header_injection_and_non_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SmtpTransport(25, lambda: 0.0, host="10.0.0.1")
    with SmtpSink() as sink:
        tx = SmtpTransport(sink.port, lambda: 0.0)
        out = tx.send(0.0, "a", np.array([1, 2, 3]), np.array([0, 0, 0]),
                      ["x@example.com", "y@example.com", "z@example.com"],
                      ["hi\r\nBcc: evil@x", "two\x0bthree\u2028four\x00", "plain"], "from@example.com")
        tx.close()
        assert out.code.tolist() == [0, 0, 0]
        assert [m["Message-ID"] for _, m in sink.messages] == [message_id("a", i, 0) for i in (1, 2, 3)]
        assert [rcpt for rcpt, _ in sink.messages] == [["x@example.com"], ["y@example.com"], ["z@example.com"]]
        first, second, _ = (m for _, m in sink.messages)
        assert first["Bcc"] is None
        assert first["Subject"] == "hi  Bcc: evil@x"  # one line: no header was started
        assert second["Subject"] == "two three four "


def test_the_envelope_recipient_is_the_subscriber_never_a_header() -> None:
    """U1-adjacent security: a To header naming more people still reaches one RCPT TO."""
    with SmtpSink() as sink:
        tx = SmtpTransport(sink.port, lambda: 0.0)
        tx.send(0.0, "a", np.array([1]), np.array([0]), ["x@example.com"], ["s"], "News <from@example.com>")
        tx.close()
    [(rcpt, message)] = sink.messages
    assert rcpt == ["x@example.com"]
    assert str(message["From"]) == "News <from@example.com>"


HOSTILE = r"""
name = "hostile names"
start = "2026-03-02T08:00:00+09:00"
duration = "1h"
smtp = true
clock = "real"
time_scale = 0.0005
[population]
size = 0
[[population.subscribers]]
email = "a@example.kr"
name = "Kim\u000bBcc: evil@evil.example"
[[population.subscribers]]
email = "b@example.kr"
name = "Lee\u2028To: evil@evil.example"
[[population.subscribers]]
email = "c@example.kr"
name = "박\u0000지성"
[[automation]]
id = "hello"
trigger = { kind = "api" }
subject = "Hi $%name%$"
start = "+0s"
[[action]]
at = "+1m"
do = "api"
automation = "hello"
who = { emails = ["a@example.kr", "b@example.kr", "c@example.kr"] }
"""


def test_hostile_merged_names_never_abort_the_run_nor_add_a_header_or_recipient() -> None:
    result = run(loads(HOSTILE, "hostile.toml"))
    assert result.ok, result.failures
    assert result.summary["automations"]["hello"]["sent"] == 3
    messages = result.wiring.sink.messages  # type: ignore[union-attr]
    assert sorted(r for rcpt, _ in messages for r in rcpt) == ["a@example.kr", "b@example.kr", "c@example.kr"]
    for _, m in messages:
        assert m["Bcc"] is None
        assert "\n" not in m["Subject"]
        assert m.get_all("To") == [m["To"]]
    assert sorted(m["Subject"] for _, m in messages) == ["Hi Kim Bcc: evil@evil.example",
                                                         "Hi Lee To: evil@evil.example", "Hi 박 지성"]


@pytest.mark.parametrize(("key", "value", "where"), [
    ("subject", '"Hi\\r\\nBcc: evil@evil.example"', "automation[0].subject"),
    ("subject", '"Hi\\u0000"', "automation[0].subject"),
    ("sender", '"a@example.com, evil@evil.example"', "automation[0].sender"),
    ("sender", '"News <a@example.com>\\r\\nBcc: x@y.z"', "automation[0].sender"),
])
def test_header_templates_are_checked_when_the_file_is_loaded(key: str, value: str, where: str) -> None:
    text = HOSTILE.replace('subject = "Hi $%name%$"', f"{key} = {value}")
    with pytest.raises(ScenarioError, match=rf"^hostile.toml: {re.escape(where)}: "):
        loads(text, "hostile.toml")


@pytest.mark.parametrize("address", ["victim,attacker@evil.example", "<x>y@evil.example", "x@y@z.example",
                                     "Kim <k@example.kr>", "a b@example.kr", "k@example.kr\\r\\nBcc: x@y.z"])
def test_a_subscriber_address_is_exactly_one_address(address: str) -> None:
    text = HOSTILE.replace('email = "a@example.kr"', f'email = "{address}"')
    with pytest.raises(ScenarioError, match=r"^hostile.toml: population.subscribers\[0\].email: .*not one email"):
        loads(text, "hostile.toml")
    text = HOSTILE.replace('who = { emails = ["a@example.kr",', f'who = {{ emails = ["{address}",')
    with pytest.raises(ScenarioError, match=r"who.emails"):
        loads(text, "hostile.toml")


def test_merge_fields_render_known_fields_as_text_only() -> None:
    values = {"name": "<b>Kim</b>\r\nBcc: x", "plan": None}
    assert render("Hi $%name%$ on $%plan%$ $%unknown%$ $%__class__%$", values) == \
        "Hi <b>Kim</b>  Bcc: x on   "


def test_sink_binds_loopback_only() -> None:
    with SmtpSink() as sink:
        assert sink.controller.hostname == "127.0.0.1"
