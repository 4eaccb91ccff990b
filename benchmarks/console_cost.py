"""What watching costs: `dripsim console` played at full speed with a page's event stream open, against
the same scenario run by `dripsim run --no-look-ahead` (the engine the console drives), in one process
each, alternately. `python -m benchmarks.console_cost [SCENARIO] [--rounds N]`."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx


def console_seconds(scenario: str) -> float:
    out = tempfile.mkdtemp(prefix="console-cost-")  # nothing is written there: the session is not finished
    proc = subprocess.Popen([sys.executable, "-m", "cli", "console", scenario, "--out", f"{out}/run"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("dripsim console: ")
        base, token = url.split("/?token=")
        auth = {"Authorization": f"Bearer {token}"}
        stop = threading.Event()

        def watch() -> None:  # a page: the stream read as it comes
            try:
                with httpx.Client(base_url=base, timeout=None) as web, \
                        web.stream("GET", "/api/events", params={"token": token}) as stream:
                    for _ in stream.iter_lines():
                        if stop.is_set():
                            return
            except httpx.HTTPError:
                return  # the console was stopped under it

        threading.Thread(target=watch, daemon=True).start()
        with httpx.Client(base_url=base, headers=auth, timeout=600) as web:
            began = time.perf_counter()
            web.post("/api/clock", json={"do": "play", "speed": "max"})
            while not web.get("/api/state").json()["done"]:
                time.sleep(0.05)
            took = time.perf_counter() - began
        stop.set()
        return took
    finally:
        proc.kill()
        proc.wait()


def run_seconds(scenario: str) -> float:
    code = ("import time; from cli.app import _resolve; from sim.scenarios.loader import load; "
            "from sim.runner import run; import dataclasses; "
            f"s = dataclasses.replace(load(_resolve({scenario!r})), look_ahead=False); "
            "t = time.perf_counter(); run(s); print(time.perf_counter() - t)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.console_cost", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="welcome-tour")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    pairs = [(run_seconds(args.scenario), console_seconds(args.scenario)) for _ in range(args.rounds)]
    plain, watched = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
    print(f"{args.scenario}: run --no-look-ahead {plain:.2f} s, console at full speed with a page open "
          f"{watched:.2f} s: watching costs {watched / plain - 1:+.0%} (medians of {args.rounds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
