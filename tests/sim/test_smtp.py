"""Real SMTP on loopback: N sends arrive as exactly N messages, right recipients, unique IDs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.runner import run
from sim.scenarios.library import builtin_path
from sim.scenarios.loader import load
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
        with pytest.raises(ValueError, match="CR or LF"):
            tx.send(0.0, "a", np.array([1]), np.array([0]), ["x@example.com"], ["hi\r\nBcc: evil@x"],
                    "from@example.com")
        out = tx.send(0.0, "a", np.array([1, 2]), np.array([0, 0]), ["x@example.com", "y@example.com"],
                      ["one", "two"], "from@example.com")
        tx.close()
        assert out.code.tolist() == [0, 0]
        assert [m["Message-ID"] for _, m in sink.messages] == [message_id("a", 1, 0), message_id("a", 2, 0)]


def test_merge_fields_render_known_fields_as_text_only() -> None:
    values = {"name": "<b>Kim</b>\r\nBcc: x", "plan": None}
    assert render("Hi $%name%$ on $%plan%$ $%unknown%$ $%__class__%$", values) == \
        "Hi <b>Kim</b>  Bcc: x on   "


def test_sink_binds_loopback_only() -> None:
    with SmtpSink() as sink:
        assert sink.controller.hostname == "127.0.0.1"
