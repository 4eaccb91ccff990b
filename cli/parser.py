"""The `dripsim` argument parser: every option with a help line and its default.

Bad command lines take the same path as bad scenario files: one line on
stderr, naming the flag, and exit code 2 (argparse prints its usage block
and the error over several lines; `OneLineParser` keeps only the error).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import NoReturn

EVENT_FORMATS = ("csv", "parquet", "both")  # sim.runner.write's choices
MAX_SEED = 2**64 - 1


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())  # one line, whatever argparse or the value held
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    """The default after each help line that does not say it already (flags and "none" need no default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, [], argparse.SUPPRESS)
        if shown and "default" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def seed(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**64-1, got {text}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def scheduler_address(text: str) -> str:
    """A Dask scheduler's address: tcp:// or tls:// with a host and a port, nothing else."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        port, parts = None, None
    if parts is None or parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None \
            or parts.path not in ("", "/") or parts.query or parts.username:
        raise argparse.ArgumentTypeError(f"expected tcp://HOST:PORT or tls://HOST:PORT, got {text!r}")
    return text


def port_number(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 10000, got {text}")
    return value


def margin(text: str) -> float:
    """'20%' or '0.2': a share of the load, 0 (none) to 10x."""
    raw = text.strip()
    try:
        value = float(raw.removesuffix("%")) / (100 if raw.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share of the load such as 20% or 0.2, got {text!r}") from None
    if not (math.isfinite(value) and 0 <= value <= 10):
        raise argparse.ArgumentTypeError(f"must be between 0% and 1000%, got {text!r}")
    return value


def version() -> str:
    from importlib import metadata  # 12 ms to import: only for --version

    try:
        return metadata.version("dripsim")
    except metadata.PackageNotFoundError:  # run from a source tree without installing
        return "unknown (not installed)"


class _Version(argparse.Action):
    """`--version`, looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None, **_: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        print(f"dripsim {version()}")
        parser.exit()


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=seed, metavar="N",
                   help="random seed, 0 to 2**64-1 (default: the scenario's `seed`)")
    p.add_argument("--clock", choices=["virtual", "real"],
                   help="virtual: simulated time, as fast as the machine goes; real: wall-clock time, "
                        "scaled by --time-scale (default: the scenario's `clock`, else virtual)")
    p.add_argument("--time-scale", type=positive_float, dest="time_scale", metavar="X",
                   help="real clock only: wall seconds per simulated second, e.g. 0.001 runs a day "
                        "in 86 s (default: the scenario's `time_scale`, else 0.001)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder; must be absent or empty unless --force "
                        "(default: runs/NAME-TIMESTAMP)")
    p.add_argument("--force", action="store_true",
                   help="replace --out if it holds an earlier dripsim output")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-automation lines")
    p.add_argument("--no-report", action="store_true", help="skip report.html and its charts")
    p.add_argument("--events", choices=EVENT_FORMATS, default="csv",
                   help="event log format: events.csv.gz, events.parquet, or both")
    p.add_argument("--no-look-ahead", dest="look_ahead", action="store_const", const=False,
                   help="a phase at every instant anything happens, nothing decided ahead: slower, and the "
                        "same event log byte for byte (a check of the look-ahead on your own scenario)")
    _memory_option(p)


def _memory_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-memory", dest="max_memory", metavar="SIZE",
                   help="refuse a run estimated to need more, e.g. 16G (default: 80%% of this machine's memory)")


def _scenario_options(p: argparse.ArgumentParser, *, many: bool = True) -> None:
    if many:
        p.add_argument("files", nargs="+", metavar="FILE", help="scenario files or built-in names")
    else:
        p.add_argument("file", metavar="FILE", help="a scenario file or built-in name")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                   help="change one key before validation, TOML value syntax: dispatcher.rate=400, "
                        "automation.welcome.delay='2h', automation[0].start='+1h' (repeatable)")
    p.add_argument("--strict", action="store_true",
                   help="treat lint warnings (e.g. an automation never started) as errors")
    p.add_argument("--allow-root", action="append", default=[], dest="roots", type=Path, metavar="DIR",
                   help="let the scenario's files (a replay's `file`) lie under DIR too; by default a scenario "
                        "reads only its own folder (repeatable)")


def _capacity_options(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds per rate (or grid point)")
    p.add_argument("--slo", action="append", default=[], metavar="KEY=LIMIT",
                   help="latency objective, repeatable: p95=15m (every automation's queue latency), "
                        "welcome.p95=15m (one automation), order.delivery.p99=2m (due to delivered), "
                        "all.p95=15m (pooled over every send); keys p50, p95, p99, max")
    p.add_argument("--ignore-expect", dest="expectations", action="store_false",
                   help="judge by --slo alone: the scenario's own [[expect]] are not part of the criterion")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="local worker processes (default: one per CPU)")
    p.add_argument("--shards", type=positive_int, default=1, metavar="N",
                   help="run each run's dispatcher.partitions as N tasks of their own, merged into its row "
                        "(the same figures in any layout; default: 1, a run's partitions in one task)")
    p.add_argument("--scheduler", metavar="ADDRESS", type=scheduler_address,
                   help="a Dask distributed scheduler, tcp:// or tls://, e.g. tcp://127.0.0.1:8786 "
                        "(default: local pool)")
    p.add_argument("--scheduler-timeout", dest="scheduler_timeout", type=positive_float, default=10.0,
                   metavar="SECONDS", help="how long to wait for --scheduler to answer (default: 10)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder; must be absent or empty unless --force "
                        f"(default: runs/{name}-NAME-TIMESTAMP)")
    p.add_argument("--force", action="store_true", help="replace --out if it holds an earlier dripsim output")
    p.add_argument("--quiet", action="store_true", help="no line per finished run on stderr")
    _memory_option(p)


def build() -> OneLineParser:
    p = OneLineParser(prog="dripsim", formatter_class=_Help,
                      description="Simulate and load-test automated (drip and trigger) emails.",
                      epilog="exit codes: 0 ok; 1 an expectation, invariant or SLO failed; "
                             "2 bad input (one line); 130/143 interrupted")
    p.add_argument("--version", action=_Version, help="show the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> OneLineParser:
        parser: OneLineParser = sub.add_parser(name, help=text, description=text, formatter_class=_Help)
        return parser

    r = command("run", "run scenarios: summary.json, events, report.html")
    _scenario_options(r)
    _run_options(r)
    r.add_argument("--shards", type=positive_int, default=1, metavar="N",
                   help="run the scenario's dispatcher.partitions as N groups in parallel, each in its own "
                        "process (the same outputs in any layout; default: 1)")
    r.add_argument("--scheduler", metavar="ADDRESS", type=scheduler_address,
                   help="run the shards on this Dask distributed scheduler, tcp:// or tls:// "
                        "(default: a local process pool)")
    r.add_argument("--scheduler-timeout", dest="scheduler_timeout", type=positive_float, default=10.0,
                   metavar="SECONDS", help="how long to wait for --scheduler to answer (default: 10)")
    c = command("check", "validate and lint scenarios without running them")
    _scenario_options(c)
    _memory_option(c)
    e = command("explain", "say in plain words what a scenario will do")
    _scenario_options(e, many=False)
    command("list", "show the built-in scenarios")
    n = command("new", "write a commented starter scenario that runs as is")
    n.add_argument("name", metavar="NAME", help="scenario name; writes NAME.toml unless --out")
    n.add_argument("--out", type=Path, metavar="FILE", help="where to write (default: NAME.toml)")
    n.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    command("schema", "print the JSON Schema of the scenario format (for editors)")
    cal = command("calibrate", "fit the behaviour model to a send log; print a [behaviour] table")
    cal.add_argument("log", type=Path, metavar="SENDLOG",
                     help="CSV (.csv or .csv.gz) or Parquet: time, email, automation, event; or dripsim's events")
    cal.add_argument("--out", type=Path, metavar="DIR",
                     help="where calibration.json and the delay plot go; must be absent or empty unless --force "
                          "(default: runs/calibrate-NAME-TIMESTAMP)")
    cal.add_argument("--force", action="store_true", help="replace --out if it holds an earlier dripsim output")
    rep = command("report", "rebuild report.html of a run folder")
    rep.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a folder written by dripsim run")
    sw = command("sweep", "run a grid of settings x seeds; answer the capacity question")
    _scenario_options(sw, many=False)
    sw.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                    help="values to try for one key (repeatable; points are the cross product)")
    _capacity_options(sw, "sweep")
    cap = command("capacity", "find the smallest dispatcher rate that meets the SLOs, by bisection")
    _scenario_options(cap, many=False)
    cap.add_argument("--min", type=positive_float, default=0.1, dest="low", metavar="RATE",
                     help="lowest dispatcher rate to consider (sends/s)")
    cap.add_argument("--max", type=positive_float, default=1000.0, dest="high", metavar="RATE",
                     help="highest dispatcher rate to consider (sends/s)")
    cap.add_argument("--precision", default="2%", metavar="P",
                     help="stop when the answer is known to within P: a share of the rate (2%%) or sends/s (0.5)")
    cap.add_argument("--margin", type=margin, default=0.2, metavar="M",
                     help="also find the rate meeting every objective with M more load (20%%: runs at 1.2x the "
                          "load); 0 to skip (default: 20%%)")
    _capacity_options(cap, "capacity")
    con = command("console", "watch a run in a browser on 127.0.0.1: play, pause, step; automations' moves, "
                             "the pending list, statistics; the session kept as session.toml")
    _scenario_options(con, many=False)
    con.add_argument("--clock", choices=["virtual", "real"],
                     help="virtual (default): waits at the start for play or step; real: plays live at "
                          "--time-scale, with pause")
    con.add_argument("--time-scale", type=positive_float, dest="time_scale", metavar="X",
                     help="real clock: wall seconds per simulated second (default: the scenario's, else 0.001)")
    con.add_argument("--port", type=port_number, default=0, metavar="N",
                     help="port on 127.0.0.1 (default 0: a free one)")
    con.add_argument("--out", type=Path, metavar="DIR",
                     help="where finishing writes the outputs and session.toml (default: runs/console-NAME-TIMESTAMP)")
    con.add_argument("--force", action="store_true", help="replace --out if it holds an earlier dripsim output")
    _memory_option(con)
    return p


def usage_error(message: str) -> int:
    """A bad combination found after parsing: the same one line, exit 2."""
    print(f"dripsim: {one_line(message)}", file=sys.stderr)
    return 2


def one_line(message: str) -> str:
    """`message` on one line: a line break or other control character in it (a path or value as the
    user typed it) is shown escaped, never as a break."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
