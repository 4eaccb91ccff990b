"""The `dripsim` command line.

    dripsim run FILE... [--seed N] [--clock virtual|real] [--time-scale X]
                        [--out DIR] [--set key.path=value ...] [--quiet]
    dripsim list
    dripsim check FILE...

Exit codes: 0 every expectation and invariant held; 1 one failed (named on
stderr); 2 bad input (one line, no traceback); 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from pathlib import Path
from typing import Any

from sim.clock import stamp
from sim.scenarios.library import builtin_path, builtins
from sim.scenarios.loader import ScenarioError, load

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
EVENT_FORMATS = ("csv", "parquet", "both")  # sim.runner.write's choices


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dripsim", description="Simulate and load-test automated emails.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run scenario files (paths or built-in names)")
    r.add_argument("files", nargs="+", metavar="FILE")
    r.add_argument("--seed", type=int)
    r.add_argument("--clock", choices=["virtual", "real"])
    r.add_argument("--time-scale", type=float, dest="time_scale")
    r.add_argument("--out", type=Path)
    r.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--no-report", action="store_true", help="skip the HTML report")
    r.add_argument("--events", choices=EVENT_FORMATS, default="csv",
                   help="event log format: events.csv.gz, events.parquet, or both (default: csv)")
    rep = sub.add_parser("report", help="rebuild report.html of a run folder")
    rep.add_argument("run_dir", type=Path)
    sw = sub.add_parser("sweep", help="run a grid of settings x seeds in parallel; answer the capacity question")
    sw.add_argument("file", metavar="FILE")
    sw.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...")
    sw.add_argument("--seeds", type=int, default=3)
    sw.add_argument("--slo", help="e.g. p95=15m")
    sw.add_argument("--workers", type=int)
    sw.add_argument("--scheduler", help="address of a Dask distributed scheduler, e.g. tcp://127.0.0.1:8786")
    sw.add_argument("--out", type=Path)
    sub.add_parser("list", help="show the built-in scenarios")
    c = sub.add_parser("check", help="validate scenario files only")
    c.add_argument("files", nargs="+", metavar="FILE")
    return p


def _resolve(name: str) -> Path:
    path = Path(name)
    if path.exists() or path.suffix == ".toml" or "/" in name:
        return path
    return builtin_path(name)


def load_spec(name: str, args: Any) -> Any:
    spec = load(_resolve(name), getattr(args, "overrides", []))
    changes = {k: v for k in ("seed", "clock", "time_scale") if (v := getattr(args, k, None)) is not None}
    return dataclasses.replace(spec, **changes) if changes else spec


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        for name, description in builtins():
            print(f"{name:24} {description}")
        return EXIT_OK
    if args.command == "report":
        return _rebuild_report(args.run_dir)
    if args.command == "sweep":
        return _sweep(args)
    try:
        specs = [load_spec(f, args) for f in args.files]
    except ScenarioError as err:
        print(f"dripsim: {err}", file=sys.stderr)
        return EXIT_INPUT
    if args.command == "check":
        for spec in specs:
            print(f"{spec.source}: ok ({spec.name}, {len(spec.automations)} automations)")
        return EXIT_OK
    return _run_all(specs, args)


def _run_all(specs: list[Any], args: Any) -> int:
    from sim.runner import run, write

    terminated = {"signal": 0}

    def on_term(signum: int, frame: Any) -> None:
        terminated["signal"] = signum
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    previous_int = signal.getsignal(signal.SIGINT)
    worst = EXIT_OK
    try:
        for spec in specs:
            out = args.out or Path("runs") / f"{_slug(spec.name)}-{stamp()}"
            if args.out and len(specs) > 1:
                out = args.out / _slug(spec.name)
            result = run(spec, progress=None if args.quiet else _progress(spec))
            # Outputs are the promise: a second Ctrl-C or TERM must not cut them short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            write(result, out, args.events)
            if not args.no_report:
                _report(result, out)
            _print(result, out, args.quiet)
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, on_term)
            if result.interrupted:
                print(f"dripsim: {spec.name}: interrupted; outputs so far in {out}", file=sys.stderr)
                return 143 if terminated["signal"] == signal.SIGTERM else 130
            if not result.ok:
                worst = EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    return worst


def _report(result: Any, out: Path) -> None:
    from reports.html import build_report

    build_report(out)


def _rebuild_report(run_dir: Path) -> int:
    from reports.html import build_report

    missing = [f for f in ("summary.json", "timeseries.json") if not (run_dir / f).exists()]
    if missing:
        print(f"dripsim: {run_dir}: not a run folder (missing {', '.join(missing)})", file=sys.stderr)
        return EXIT_INPUT
    print(build_report(run_dir))
    return EXIT_OK


def _sweep(args: Any) -> int:
    from reports.sweep import parse_grid, parse_slo, sweep
    from sim.measure import measure, validate

    try:
        grid = parse_grid(args.grid)
        slo = parse_slo(args.slo)
        if args.seeds < 1:
            raise ValueError("--seeds: must be at least 1")
        path = _resolve(args.file)
        out = args.out or Path("runs") / f"sweep-{path.stem}-{stamp()}"
        seed = load(path).seed
        result = sweep(measure, validate, path, grid, args.seeds, slo, args.workers, args.scheduler, out, seed)
    except (ValueError, ScenarioError) as err:
        print(f"dripsim: {err}", file=sys.stderr)
        return EXIT_INPUT
    a = result["answer"]
    print("\n".join(result["table"]))
    if a["rate"] is not None:
        print(f"{result['scenario']}: smallest dispatcher rate meeting {a['slo']} in every seed: {a['rate']:g}/s")
    else:
        print(f"{result['scenario']}: {a['note']}")
    for rate, why in a.get("failed", {}).items():
        print(f"  {rate}/s fails: {why}")
    if a["rate"] is not None and a.get("note"):
        print(f"dripsim: warning: {a['note']}", file=sys.stderr)
    print(f"  outputs: {out}")
    return EXIT_FAILED if a["slo"] is not None and a["rate"] is None else EXIT_OK


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "run"


def _progress(spec: Any) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(f"[bold]{spec.name}[/]"), BarColumn(),
                   TextColumn("{task.fields[sim]}"), TimeElapsedColumn(), transient=True)
    task = bar.add_task("run", total=spec.duration, sim="")
    started = {"on": False}

    def update(elapsed: float) -> None:
        if not started["on"]:
            bar.start()
            started["on"] = True
        bar.update(task, completed=elapsed, sim=f"sim +{elapsed / 3600:.1f}h")
        if elapsed >= spec.duration:
            bar.stop()

    return update


def _print(result: Any, out: Path, quiet: bool) -> None:
    s = result.summary
    if not quiet:
        print(f"{s['scenario']}: seed {s['seed']}, {s['clock']} clock, {s['wall_seconds']}s wall, "
              f"digest {str(s['event_digest'])[:12]}")
        for name, a in s["automations"].items():
            dropped = sum(a["dropped"].values())
            print(f"  {name:16} {a['state']:9} triggered {a['triggered']:>7} sent {a['sent']:>7} "
                  f"failed {sum(a['failed'].values()):>5} dropped {dropped:>6} pending {a['pending']:>6} "
                  f"p95 {a['latency_s']['p95']}s")
        print(f"  outputs: {out}")
    for failure in result.failures:
        print(f"dripsim: {s['scenario']}: {failure}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
