"""SIGTERM to a sweep: exit 143 at once, no worker left running, no output folder that looks complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SLOW = """
name = "slow sweep point"
start = "2026-03-02T08:00:00+09:00"
duration = "150d"
[population]
size = 500
[dispatcher]
rate = 5
[[automation]]
id = "welcome"
trigger = { kind = "subscriber_added" }
delay = "1h"
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "300/h"
"""


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_stops_a_sweep_and_its_workers(tmp_path: Path) -> None:
    scenario = tmp_path / "slow.toml"
    scenario.write_text(SLOW)
    out = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "sweep", str(scenario), "--grid", "dispatcher.rate=5,6,7,8",
                             "--seeds", "1", "--workers", "2", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(6)  # workers are running: each point takes far longer than this (about 15 s here)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)  # to the command only, as a service manager or CI would
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    deadline = time.time() + 10
    while _alive(proc.pid) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(proc.pid), "a sweep worker outlived the command"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["slow.toml"]



def test_sigterm_stops_a_sharded_run_and_every_shard(tmp_path: Path) -> None:
    """`run --shards 2`: a signal stops both shard processes; no partition's files are left behind."""
    scenario = tmp_path / "slow.toml"
    scenario.write_text(SLOW + "\n")
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "run", str(scenario), "--set", "dispatcher.partitions=2",
                             "--shards", "2", "--quiet", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(6)  # both shards are running: each partition takes far longer than this
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    deadline = time.time() + 10
    while _alive(proc.pid) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(proc.pid), "a shard outlived the command"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["slow.toml"]


@pytest.mark.parametrize(("pause", "second"), [(0.0, False), (0.8, True)])
def test_the_same_signal_twice_at_once_is_one_request(pause: float, second: bool) -> None:
    """GNU `timeout` signals the command, then its whole process group: a command can get SIGTERM twice,
    microseconds apart. That is one request, not a second signal (which stops at once, outputs unfinished,
    a staging folder left); the same signal later is a second one."""
    code = ("import signal, time\nfrom sim import interrupts\n"
            f"interrupts.note(signal.SIGTERM)\ntime.sleep({pause})\ninterrupts.note(signal.SIGTERM)\n"
            "print('one request')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    if second:
        assert done.returncode == 143
        assert "second signal" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "one request"
