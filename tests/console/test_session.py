"""A console session is a test: the operator's moves, stamped at their instants and written into
session.toml, reproduce the session's event log byte for byte (`dripsim run session.toml`)."""

from __future__ import annotations

import random
import tomllib
from pathlib import Path

import pytest

from sim.runner import digest_of, run
from sim.scenarios.library import builtin_path
from sim.scenarios.loader import load
from sim.session import MOVES, Session, SessionError

SMALL = """
name = "small shop"
start = "2026-03-02T08:00:00+09:00"
duration = "6h"
[population]
size = 300
fields = { plan = ["free", "pro"] }
[dispatcher]
rate = 2
[[automation]]
id = "welcome"
trigger = { kind = "subscriber_added" }
delay = "20m"
start = "+0s"
[[automation]]
id = "order"
trigger = { kind = "api" }
start = "+0s"
[[automation]]
id = "later"
trigger = { kind = "subscriber_added" }
delay = "1h"
[[load]]
kind = "subscriber_added"
rate = "120/h"
[[load]]
kind = "api"
rate = "60/h"
automation = "order"
"""


def session_of(tmp_path: Path, text: str = SMALL) -> tuple[Session, Path]:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return Session(load(path), tomllib.loads(text)), path


def replayed(session: Session, source: Path, tmp_path: Path) -> tuple[str, str]:
    result = session.finish()
    again = tmp_path / "session.toml"
    again.write_text(session.session_toml(source))
    roots = tuple({Path(load_["file"]).parent for load_ in tomllib.loads(again.read_text()).get("load", [])
                   if "file" in load_})
    return digest_of(result), digest_of(run(load(again, roots=roots)))


def test_p5_p6_l3_moves_and_pending_operations_reproduce_as_session_toml(tmp_path: Path) -> None:
    s, source = session_of(tmp_path)
    s.advance(3600)
    page = s.page("welcome", sort="desc")
    assert page["total"] > 5
    assert [r["due"] for r in page["rows"]] == sorted((r["due"] for r in page["rows"]), reverse=True)
    ticked = [page["rows"][0]["entry"], page["rows"][3]["entry"]]
    assert s.act({"do": "pending.send_now", "automation": "welcome", "select": ticked})["refused"] == []
    gone = [page["rows"][1]["entry"]]
    assert s.act({"do": "pending.delete", "automation": "welcome", "select": gone})["refused"] == []
    assert s.page("welcome")["total"] == page["total"] - 3
    assert s.act({"do": "pause", "automation": "order"})["refused"] == []
    s.advance(7200)
    assert s.act({"do": "resume", "automation": "order"})["refused"] == []
    assert s.act({"do": "start", "automation": "later", "end_at": "+5h"})["refused"] == []
    live, again = replayed(s, source, tmp_path)
    assert live == again


def test_l9_a_refused_move_shows_the_engine_s_message_and_changes_nothing(tmp_path: Path) -> None:
    s, source = session_of(tmp_path)
    s.advance(600)
    before = s.state()["automations"]
    said = s.act({"do": "edit", "automation": "welcome", "settings": {"delay": "2h"}})
    assert said["refused"] == ["welcome: edit: cannot edit a running automation: pause it first"]
    after = s.state()["automations"]
    assert [a["state"] for a in after] == [a["state"] for a in before]
    live, again = replayed(s, source, tmp_path)  # the refused move is in session.toml, refused again there
    assert live == again


def test_l1_only_the_moves_valid_in_a_state_are_offered() -> None:
    assert MOVES["draft"] == ["delete", "edit", "schedule", "start"]
    assert MOVES["running"] == ["end", "pause"]
    assert MOVES["paused"] == ["delete", "edit", "end", "resume"]
    assert MOVES["scheduled"] == ["cancel_schedule", "delete"]
    assert MOVES["ended"] == ["delete"]


def test_a_bad_move_is_one_line_and_records_nothing(tmp_path: Path) -> None:
    s, _ = session_of(tmp_path)
    with pytest.raises(SessionError, match="no automation called 'welcom'"):
        s.act({"do": "pause", "automation": "welcom"})
    with pytest.raises(SessionError):
        s.act({"do": "fly", "automation": "welcome"})
    assert s.recorded == []
    s.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sessions_reproduce_byte_for_byte(tmp_path: Path, seed: int) -> None:
    """Random moves at random instants, refused ones included, on a small shop: session.toml, run
    by `dripsim run`, logs what the session logged."""
    rng = random.Random(seed)
    s, source = session_of(tmp_path)
    for _ in range(8):
        s.advance(s.now + rng.uniform(60, 2400))
        if s.done:
            break
        name = rng.choice(["welcome", "order", "later"])
        move = rng.choice(["pause", "resume", "start", "end", "send_now", "delete_pending", "edit", "step"])
        if move == "step":
            s.step()
        elif move == "send_now" or move == "delete_pending":
            rows = s.page(name, sort=rng.choice(["asc", "desc"]))["rows"]
            picked = [r["entry"] for r in rows if rng.random() < 0.3]
            s.act({"do": "pending.send_now" if move == "send_now" else "pending.delete", "automation": name,
                   "select": picked or "page"})
        elif move == "edit":
            s.act({"do": "edit", "automation": name, "settings": {"delay": f"{rng.randint(1, 90)}m"}})
        else:
            s.act({"do": move, "automation": name})
    live, again = replayed(s, source, tmp_path)
    assert live == again


def test_a_builtin_with_a_replay_reproduces_with_its_file_named_absolutely(tmp_path: Path) -> None:
    path = builtin_path("replay-monday")
    s = Session(load(path), tomllib.loads(path.read_text()))
    s.advance(12 * 3600)
    s.act({"do": "pause", "automation": s.state()["automations"][0]["id"]})
    text = s.session_toml(path)
    assert "--allow-root" in text.splitlines()[1]
    live, again = replayed(s, path, tmp_path)
    assert live == again
