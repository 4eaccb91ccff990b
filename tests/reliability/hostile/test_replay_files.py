"""Hostile replay files: addresses, paths, types, bounds, content in messages, and counting.

Each class fails on the code before issue 24: a looser address rule let `promo:victim@x.com` reach
`RCPT TO`, a replay file could name `/etc/passwd`, Arrow types were trusted, and duplicate sign-ups
vanished uncounted."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from tests.reliability.hostile import payloads as p

START = p.START


@pytest.mark.parametrize("address", [
    "promo:victim@x.com", "list:a@x.com", "u@x.com:25", "a\x00b@x.com", "a\x1b[31m@x.com", "x@localhost",
    "victim@x.com>", "a@x.com\r\nRCPT TO:<v@y.com>", " a@x.com",
])
def test_u_a_replayed_address_follows_the_scenario_rule(tmp_path: Path, refused: Callable[..., str],
                                                         address: str) -> None:
    rows = [f"{START},subscriber_added,ok@x.com", f'{START},subscriber_added,"{address}"']
    p.csv(tmp_path, rows)
    line = refused("check", str(p.scenario(tmp_path, "traffic.csv")))
    assert "row 3, column 'email'" in line
    assert "is not one email address" in line
    assert "\x00" not in line
    assert "\x1b" not in line
    assert "\r" not in line


def test_u_a_parquet_address_follows_the_same_rule(tmp_path: Path, refused: Callable[..., str]) -> None:
    p.parquet(tmp_path, {"time": pa.array([1.0, 2.0]), "kind": pa.array(["subscriber_added"] * 2),
                         "email": pa.array(["ok@x.com", "promo:victim@x.com"])})
    line = refused("check", str(p.scenario(tmp_path, "traffic.parquet")))
    assert "row 3, column 'email'" in line


def test_paths_a_replay_file_outside_the_scenario_folder_is_refused(tmp_path: Path,
                                                                     refused: Callable[..., str],
                                                                     accepted: Callable[..., str]) -> None:
    outside, mine = tmp_path / "elsewhere", tmp_path / "mine"
    outside.mkdir()
    mine.mkdir()
    p.csv(outside, [f"{START},subscriber_added,a@x.com"])
    for given in ("../elsewhere/traffic.csv", str(outside / "traffic.csv")):
        line = refused("check", str(p.scenario(mine, given)))
        assert "outside the scenario's folder" in line
        assert "--allow-root" in line
    (mine / "link.csv").symlink_to(outside / "traffic.csv")  # a link inside that points out is the same
    assert "outside the scenario's folder" in refused("check", str(p.scenario(mine, "link.csv")))
    accepted("check", str(p.scenario(mine, "../elsewhere/traffic.csv")), "--allow-root", str(outside))


@pytest.mark.parametrize("secret", ["root:x:0:0:root:/root:/bin/bash", "password=hunter2,token=abc,x,y"])
def test_paths_an_error_line_never_quotes_the_file_s_content(tmp_path: Path, refused: Callable[..., str],
                                                              secret: str) -> None:
    (tmp_path / "traffic.csv").write_text(f"time,kind,email\n{START},subscriber_added,a@x.com\n{secret}\n")
    line = refused("check", str(p.scenario(tmp_path, "traffic.csv")))
    assert "hunter2" not in line
    assert "/bin/bash" not in line
    assert "root:x" not in line
    assert "row 3" in line  # where, still


@pytest.mark.parametrize(("column", "names"), [
    (pa.array([1, 2]), "column 'email': holds int64, expected text"),
    (pa.array([["a@x.com"], ["b@x.com"]]), "column 'email': holds list<"),
    (pa.array([b"a@x.com", b"b@x.com"]), "column 'email': holds binary, expected text"),
])
def test_types_an_email_column_of_another_type_is_refused(tmp_path: Path, refused: Callable[..., str],
                                                          column: pa.Array, names: str) -> None:
    p.parquet(tmp_path, {"time": pa.array([1.0, 2.0]), "kind": pa.array(["subscriber_added"] * 2), "email": column})
    assert names in refused("check", str(p.scenario(tmp_path, "traffic.parquet")))


@pytest.mark.parametrize(("kind", "names"), [
    (pa.array([1, 2]), "column 'kind': holds int64"),
    (pa.array([None, None], pa.string()), "row 2, column 'kind': empty"),
])
def test_types_a_kind_that_is_not_text_or_empty_is_refused(tmp_path: Path, refused: Callable[..., str],
                                                           kind: pa.Array, names: str) -> None:
    p.parquet(tmp_path, {"time": pa.array([1.0, 2.0]), "kind": kind, "email": pa.array(["a@x.com", "b@x.com"])})
    assert names in refused("check", str(p.scenario(tmp_path, "traffic.parquet")))


def test_types_dictionary_columns_and_pandas_timestamps_are_read(tmp_path: Path, accepted: Callable[..., str]) -> None:
    """pandas' `category` is a dictionary column; its timestamps are ns with sub-millisecond digits."""
    stamps = pa.array([1_795_392_000_123_456_789, 1_795_392_060_987_654_321], pa.timestamp("ns", tz="Asia/Seoul"))
    p.parquet(tmp_path, {"time": stamps, "kind": pa.array(["subscriber_added", "api"]).dictionary_encode(),
                         "email": pa.array(["a@x.com", "a@x.com"]).dictionary_encode()})
    out = tmp_path / "out"
    accepted("run", str(p.scenario(tmp_path, "traffic.parquet")), "--out", str(out), "--quiet", "--no-report")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["automations"]["welcome"]["triggered"] == 1
    assert summary["automations"]["order"]["triggered"] == 1


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_types_naive_timestamps_are_refused_with_the_rule(tmp_path: Path, refused: Callable[..., str],
                                                          unit: str) -> None:
    p.parquet(tmp_path, {"time": pa.array([1, 2], pa.timestamp(unit)), "kind": pa.array(["api", "api"]),
                         "email": pa.array(["a@x.com", "b@x.com"])})
    assert "column 'time': an ISO time needs its UTC offset" in refused("check", str(p.scenario(tmp_path,
                                                                                                "traffic.parquet")))


@pytest.mark.parametrize("first", ["nan", "-inf", "inf"])
def test_counts_a_non_finite_time_is_refused_naming_its_row(tmp_path: Path, refused: Callable[..., str],
                                                            first: str) -> None:
    p.csv(tmp_path, [f"{first},subscriber_added,a@x.com", "10,subscriber_added,b@x.com"])
    line = refused("check", str(p.scenario(tmp_path, "traffic.csv")))
    assert "row 2, column 'time'" in line
    assert "not a time" in line


def test_counts_a_repeated_sign_up_in_another_case_is_counted_and_said(tmp_path: Path,
                                                                       accepted: Callable[..., str]) -> None:
    p.csv(tmp_path, ["10,subscriber_added,a@x.com", "20,subscriber_added,A@x.com", "30,subscriber_added,b@x.com"])
    out = tmp_path / "out"
    err = accepted("run", str(p.scenario(tmp_path, "traffic.csv")), "--out", str(out), "--quiet", "--no-report")
    replay = json.loads((out / "summary.json").read_text())["replay"][0]
    assert replay["duplicate_signup"] == 1
    assert replay["replayed"] == 3
    assert "1 sign-ups named an address already on the list" in err


def test_counts_a_sign_up_clashing_with_a_scale_copy_is_counted_apart(tmp_path: Path,
                                                                      accepted: Callable[..., str]) -> None:
    p.csv(tmp_path, ["10,subscriber_added,a@x.com", "20,subscriber_added,a+r2@x.com"])
    out = tmp_path / "out"
    err = accepted("run", str(p.scenario(tmp_path, "traffic.csv", scale="scale = 2")), "--out", str(out),
                   "--quiet", "--no-report")
    replay = json.loads((out / "summary.json").read_text())["replay"][0]
    summary = json.loads((out / "summary.json").read_text())
    added = summary["automations"]["welcome"]["triggered"]
    assert replay["replayed"] == 4
    assert replay["scale_clash"] == 1
    assert added == 3
    assert "clashed with an address a `scale` copy derived" in err


def test_bounds_a_file_of_100k_columns_is_refused_at_once(tmp_path: Path, refused: Callable[..., str]) -> None:
    p.wide_csv(tmp_path, 100_000)
    began = time.monotonic()
    assert "100,000 columns; a replay file has at most 256" in refused("check", str(p.scenario(tmp_path, "wide.csv")))
    assert time.monotonic() - began < 20  # it was quadratic: minutes (a bound on a hang, not a speed test)


def test_bounds_a_gzip_inflating_to_a_line_without_end_is_refused(tmp_path: Path, refused: Callable[..., str]) -> None:
    p.long_line_gzip(tmp_path, 64 << 20)
    assert "a line is longer than 1 MB" in refused("check", str(p.scenario(tmp_path, "bomb.csv.gz")))


def test_bounds_rows_past_what_memory_could_hold_are_refused(tmp_path: Path, refused: Callable[..., str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from sim import replay

    monkeypatch.setattr(replay, "row_limit", lambda: 200_000)  # this machine's would need 38M rows
    p.row_bomb_gzip(tmp_path, 300_000)
    assert "more than 200,000 rows" in refused("check", str(p.scenario(tmp_path, "rows.csv.gz")))


@pytest.mark.parametrize("make", ["fifo", "folder", "device"])
def test_bounds_only_regular_files_are_read(tmp_path: Path, refused: Callable[..., str], make: str) -> None:
    if make == "fifo":
        p.fifo(tmp_path)
    elif make == "folder":
        (tmp_path / "pipe.csv").mkdir()
    else:
        (tmp_path / "pipe.csv").symlink_to("/dev/zero")
    scenario = str(p.scenario(tmp_path, "pipe.csv"))
    if make == "device":  # a link out of the folder is refused before its kind is looked at
        assert "outside the scenario's folder" in refused("check", scenario)
    line = refused("check", scenario, "--allow-root", "/dev")
    assert "not a regular file" in line


def test_bounds_an_error_shows_a_value_short_and_escaped(tmp_path: Path, refused: Callable[..., str]) -> None:
    p.csv(tmp_path, [f"{START},{'x' * 500}\x1b[2J,a@x.com"])
    line = refused("check", str(p.scenario(tmp_path, "traffic.csv")))
    assert "the value 'xxxx" in line
    assert "x" * 60 not in line
    assert "\x1b" not in line




def test_u_the_smtp_envelope_takes_only_a_checked_address() -> None:
    """The last guard: a recipient that is not one address never reaches RCPT TO (a soft failure)."""
    import numpy as np

    from sim.transport import SmtpSink, SmtpTransport

    with SmtpSink() as sink:
        tx = SmtpTransport(sink.port, lambda: 0.0)
        out = tx.send(0.0, "a", np.array([1, 2, 3]), np.array([0, 0, 0]),
                      ["promo:victim@x.com", "a\x00b@x.com", "ok@x.com"], ["s"] * 3, "from@example.com")
        tx.close()
    assert [rcpt for rcpt, _ in sink.messages] == [["ok@x.com"]]
    assert out.code.tolist()[:2] != [0, 0]
    assert tx.bad_headers == 2


def test_bounds_rows_per_second_of_run_are_bounded(tmp_path: Path, refused: Callable[..., str],
                                                   accepted: Callable[..., str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from sim import replay_landing

    monkeypatch.setattr(replay_landing, "MAX_ROWS_PER_SECOND", 1000)
    p.csv(tmp_path, [f"10.{i:04d},api,a@x.com" for i in range(600)])
    accepted("check", str(p.scenario(tmp_path, "traffic.csv")))
    line = refused("check", str(p.scenario(tmp_path, "traffic.csv", scale="scale = 2")))
    assert "up to 1,200 rows land in one second of the run" in line
