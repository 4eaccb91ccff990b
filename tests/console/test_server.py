"""The console's server: 127.0.0.1, a token on every request, POST for every change, a Host / Origin
check; the page, the event stream's snapshot, the pending list as the product has it, statistics
with CSV, and finishing."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cli.console import Driver, app
from sim.scenarios.loader import load
from sim.session import Session
from tests.console.test_session import SMALL

PORT = 48123  # what the Host check expects (no socket is opened: the client calls the app in process)
TOKEN = "t0ken-for-tests"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[TestClient, Driver, list[str]]]:
    path = tmp_path / "s.toml"
    path.write_text(SMALL)
    session = Session(load(path), tomllib.loads(SMALL))
    driver = Driver(session)
    finished: list[str] = []

    def finish() -> str:
        session.finish()
        finished.append("yes")
        return str(tmp_path / "out")

    driver.start()
    client = TestClient(app(driver, TOKEN, lambda: PORT, finish), base_url=f"http://127.0.0.1:{PORT}")
    yield client, driver, finished
    driver.stopping = True
    driver.join(5)
    session.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_serving_every_request_needs_the_token_and_a_local_host(console: tuple[TestClient, Driver, list[str]]) -> None:
    client, driver, _ = console
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    page = client.get(f"/?token={TOKEN}")
    assert page.status_code == 200
    assert "dripsim console" in page.text
    assert "http://" not in page.text.replace("http://127", "")  # no CDN: the page works offline
    before = driver.session.now
    assert client.post("/api/clock", json={"do": "step", "until": "+1h"}).status_code == 403  # no token
    foreign = {**AUTH, "Host": "evil.example"}
    assert client.post("/api/clock", json={"do": "step", "until": "+1h"}, headers=foreign).status_code == 403
    evil = {**AUTH, "Origin": "http://evil.example"}
    assert client.post("/api/clock", json={"do": "step", "until": "+1h"}, headers=evil).status_code == 403
    assert client.get(f"/api/clock?token={TOKEN}").status_code == 405  # a change is never a GET
    assert driver.session.now == before
    local = {**AUTH, "Origin": f"http://127.0.0.1:{PORT}"}
    assert client.post("/api/clock", json={"do": "step", "until": "+1h"}, headers=local).status_code == 200
    assert driver.session.now >= 3600


def test_the_clock_starts_paused_and_steps_to_the_next_phase(console: tuple[TestClient, Driver, list[str]]) -> None:
    client, driver, _ = console
    state = client.get("/api/state", headers=AUTH).json()
    assert state["now"] == 0
    assert state["playing"] is False
    nxt = state["next"]
    client.post("/api/clock", json={"do": "step"}, headers=AUTH)
    client.post("/api/clock", json={"do": "step"}, headers=AUTH)
    assert driver.session.now >= nxt
    client.post("/api/clock", json={"do": "step", "until": "2026-03-02 10:30"}, headers=AUTH)
    assert driver.session.now == pytest.approx(2.5 * 3600, abs=1)


def test_p1_p3_the_pending_list_pages_sorts_and_searches(console: tuple[TestClient, Driver, list[str]]) -> None:
    client, _, _ = console
    client.post("/api/clock", json={"do": "step", "until": "+1h"}, headers=AUTH)
    asc = client.get("/api/automations/welcome/pending", headers=AUTH).json()
    desc = client.get("/api/automations/welcome/pending", params={"sort": "desc"}, headers=AUTH).json()
    assert len(asc["rows"]) == min(20, asc["total"])
    assert asc["rows"][0]["due"] <= asc["rows"][-1]["due"]
    assert desc["rows"][0]["due"] >= desc["rows"][-1]["due"]
    who = asc["rows"][2]["email"]
    found = client.get("/api/automations/welcome/pending", params={"search": who[:8]}, headers=AUTH).json()
    assert who in [r["email"] for r in found["rows"]]
    plan = client.get("/api/automations/welcome/pending", params={"search": "pro", "field": "plan"},
                      headers=AUTH).json()
    assert 0 < plan["total"] < asc["total"]


def test_p5_l9_moves_answer_with_the_engine_s_words(console: tuple[TestClient, Driver, list[str]]) -> None:
    client, driver, _ = console
    client.post("/api/clock", json={"do": "step", "until": "+1h"}, headers=AUTH)
    rows = client.get("/api/automations/welcome/pending", headers=AUTH).json()["rows"]
    done = client.post("/api/actions", json={"do": "pending.send_now", "automation": "welcome",
                                            "select": [rows[0]["entry"]]}, headers=AUTH)
    assert done.status_code == 200
    refused = client.post("/api/actions", json={"do": "resume", "automation": "welcome"}, headers=AUTH)
    assert refused.status_code == 409
    assert refused.json()["refused"] == ["welcome: resume: cannot resume a running automation: it is already running"]
    bad = client.post("/api/actions", json={"do": "pause", "automation": "nobody"}, headers=AUTH)
    assert bad.status_code == 400
    assert "no automation called 'nobody'" in bad.json()["error"]
    assert client.post("/api/actions", json={"do": "pause", "automation": "order", "at": "+0s"},
                       headers=AUTH).status_code == 400
    sched = client.post("/api/actions", json={"do": "schedule", "automation": "later",
                                             "schedule_at": {"when": "2026-03-02 12:00"}}, headers=AUTH)
    assert sched.status_code == 200
    assert driver.session.recorded[-1]["schedule_at"] == "+14400s"


def test_statistics_tabs_and_their_csv(console: tuple[TestClient, Driver, list[str]]) -> None:
    client, _, _ = console
    client.post("/api/clock", json={"do": "step", "until": "+1h"}, headers=AUTH)
    client.post("/api/clock", json={"do": "step", "until": "+2h"}, headers=AUTH)
    sent = client.get("/api/automations/order/stats/sent", headers=AUTH).json()
    assert sent["total"] > 0
    csv = client.get("/api/automations/order/stats/sent.csv", params={"token": TOKEN})
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0] == "time,email,reason"
    assert len(lines) == sent["total"] + 1
    assert client.get("/api/automations/order/stats/nope", headers=AUTH).status_code == 400


def test_the_stream_opens_with_a_snapshot_that_keeps_the_charts(console: tuple[TestClient, Driver, list[str]]) -> None:
    client, driver, _ = console
    client.post("/api/clock", json={"do": "step", "until": "+1h"}, headers=AUTH)
    client.post("/api/clock", json={"do": "step", "until": "+2h"}, headers=AUTH)
    with client.stream("GET", "/api/events", params={"token": TOKEN}) as stream:
        first = next(line for line in stream.iter_lines() if line.startswith("data: "))
    snap = json.loads(first.removeprefix("data: "))
    assert snap["now"] == driver.session.now
    assert len(snap["series"]) >= 3  # the history: a page loaded late, or reloaded, draws it all
    assert {a["id"] for a in snap["automations"]} == {"welcome", "order", "later"}


def test_finishing_runs_to_the_end(console: tuple[TestClient, Driver, list[str]]) -> None:
    client, driver, finished = console
    assert client.post("/api/finish", json={}, headers=AUTH).json()["out"].endswith("out")
    assert finished == ["yes"]
    assert driver.session.done


def test_the_command_serves_on_loopback_and_its_session_reproduces(tmp_path: Path) -> None:
    """`dripsim console` end to end: the URL with its token, moves over HTTP, finish; the process ends,
    the run folder holds the usual outputs and session.toml, and `dripsim run session.toml` logs the
    same bytes (event_digest)."""
    import subprocess
    import sys

    import httpx

    path = tmp_path / "s.toml"
    path.write_text(SMALL)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "console", str(path), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("dripsim console: ")
        assert url.startswith("http://127.0.0.1:")
        base, token = url.split("/?token=")
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=auth, timeout=60) as web:
            assert web.post("/api/clock", json={"do": "step", "until": "+1h"}).status_code == 200
            assert web.post("/api/actions", json={"do": "pause", "automation": "welcome"}).status_code == 200
            assert web.post("/api/clock", json={"do": "step", "until": "+2h"}).status_code == 200
            assert web.post("/api/actions", json={"do": "resume", "automation": "welcome"}).status_code == 200
            assert web.post("/api/finish", json={}).json()["out"] == str(out)
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
    summary = json.loads((out / "summary.json").read_text())
    assert (out / "report.html").exists()
    session = out / "session.toml"
    assert [a["do"] for a in tomllib.loads(session.read_text())["action"]] == ["pause", "resume"]
    again = subprocess.run([sys.executable, "-m", "cli", "run", str(session), "--out", str(tmp_path / "again"),
                            "--quiet", "--no-report"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["event_digest"] == summary["event_digest"]
