"""The `dripsim` command line.

    dripsim run FILE... [--seed N] [--clock virtual|real] [--time-scale X] [--out DIR] [--force]
                        [--set key.path=value ...] [--strict] [--events csv|parquet|both] [--quiet]
    dripsim check FILE... [--set ...] [--strict]
    dripsim explain FILE [--set ...]
    dripsim new NAME
    dripsim schema
    dripsim sweep FILE --grid key=v1,v2 [--seeds N] [--slo p95=15m ...] [--set ...]
    dripsim capacity FILE --slo p95=15m [--slo welcome.delivery.p99=30m] [--min R] [--max R] [--seeds N]
                          [--margin 20%] [--ignore-expect]
    dripsim list | report RUN_DIR | --version

Exit codes: 0 every expectation and invariant held; 1 one failed (named on
stderr); 2 bad input (one line, no traceback); 130/143 interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from cli import outdir
from cli.outdir import OutError
from cli.parser import build, usage_error
from sim import interrupts
from sim.bootstrap import SetupError
from sim.clock import stamp
from sim.files import create_text
from sim.scenarios.library import builtin_path, builtins
from sim.scenarios.lint import Problem, lint
from sim.scenarios.loader import ScenarioError, load

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def _resolve(name: str) -> Path:
    path = Path(name)
    if path.exists() or path.suffix == ".toml" or "/" in name:
        return path
    return builtin_path(name)


def load_spec(name: str, args: Any) -> Any:
    """The scenario with `--set` and the flags that override its keys applied; refuses
    combinations that mean nothing (`ScenarioError`)."""
    spec = load(_resolve(name), getattr(args, "overrides", []), tuple(getattr(args, "roots", [])))
    changes = {k: v for k in ("seed", "clock", "time_scale", "look_ahead") if (v := getattr(args, k, None)) is not None}
    spec = dataclasses.replace(spec, **changes) if changes else spec
    if getattr(args, "time_scale", None) is not None and spec.clock != "real":
        raise ScenarioError(f"--time-scale: applies to the real clock only; {spec.source} runs on the "
                            "virtual clock (add --clock real)")
    return spec


def fits(spec: Any, args: Any) -> None:
    """Refuse, before anything is allocated, a run estimated not to fit (`sim.budget`)."""
    from sim import budget

    try:
        budget.check(spec, budget.parse_size(args.max_memory) if args.max_memory else None,
                     getattr(args, "shards", 1), cluster=bool(getattr(args, "scheduler", None)))
    except ValueError as err:
        raise Refused(str(err)) from None


class Refused(Exception):
    """Lint errors (or warnings under --strict): the first one, as a line."""


def linted(spec: Any, strict: bool) -> list[Problem]:
    """Lint `spec`: raise on the first error (or warning with `strict`); return the warnings."""
    problems = lint(spec)
    blocking = [p for p in problems if p.level == "error" or (strict and p.level == "warning")]
    if blocking:
        p = blocking[0]
        kind = "" if p.level == "error" else "warning treated as an error (--strict): "
        raise Refused(f"{spec.source}: {p.where}: {kind}{p.message}")
    return problems


def main(argv: list[str] | None = None) -> int:
    previous: dict[int, Any] = {}
    try:
        interrupts.reset()
        previous = interrupts.install()  # TERM as Ctrl-C; a second signal stops at once (sim.interrupts)
        return _dispatch(build().parse_args(argv))
    except (ScenarioError, Refused, outdir.OutError) as err:
        return usage_error(str(err))
    except SetupError as err:  # the machine, not the input: exit 1
        print(f"dripsim: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:  # before or between runs (a run itself stops cleanly and writes)
        print("dripsim: interrupted; nothing more written", file=sys.stderr)
        seen = interrupts.received()
        return interrupts.exit_code(seen[0]) if seen else 130
    finally:
        interrupts.restore(previous)


def _dispatch(args: Any) -> int:
    from cli import planning

    single = {"list": _list, "report": lambda a: _rebuild_report(a.run_dir), "sweep": planning.sweep,
              "capacity": planning.capacity, "new": _new, "schema": _schema, "explain": _explain,
              "calibrate": _calibrate, "console": _console}
    if args.command in single:
        return int(single[args.command](args))
    specs = [load_spec(f, args) for f in args.files]
    warnings = {spec.source: linted(spec, args.strict) for spec in specs}
    for spec in specs:  # run and check
        fits(spec, args)
    for source, problems in warnings.items():
        for p in problems:
            print(f"dripsim: {p.level}: {p.line(source)}", file=sys.stderr)
    for spec in specs if args.command == "run" else []:
        if args.scheduler and spec.partitions == 1:
            print(f"dripsim: note: {spec.source}: --scheduler runs shards, and dispatcher.partitions = 1 "
                  "is one engine: running it here", file=sys.stderr)
        elif args.shards > spec.partitions:
            print(f"dripsim: note: {spec.source}: --shards {args.shards} but dispatcher.partitions = "
                  f"{spec.partitions}: {spec.partitions} shard{'s' if spec.partitions > 1 else ''} "
                  "(a shard runs whole partitions; raise dispatcher.partitions to use more)", file=sys.stderr)
    if args.command == "check":
        for spec in specs:
            print(f"{spec.source}: ok ({spec.name}, {len(spec.automations)} automations)")
        return EXIT_OK
    return _run_all(specs, args)


def _list(args: Any) -> int:
    for name, description in builtins():
        print(f"{name:24} {description}")
    return EXIT_OK


def _schema(args: Any) -> int:
    from sim.scenarios.loader import schema

    print(json.dumps(schema(), indent=1, ensure_ascii=False))
    return EXIT_OK


def _explain(args: Any) -> int:
    from cli.authoring import explain

    spec = load_spec(args.file, args)
    problems = linted(spec, args.strict)
    print("\n".join(explain(spec, problems)))
    return EXIT_OK


def _calibrate(args: Any) -> int:
    from reports.calibrate import LogError, behaviour_toml, fit, plot, read_log

    try:
        fitted = fit(read_log(args.log))
    except LogError as err:
        return usage_error(str(err))
    if "all" not in fitted:
        return usage_error(f"{args.log}: no 'sent' rows: nothing to fit")
    out = args.out or outdir.unused(Path("runs") / f"calibrate-{_slug(args.log.name)}-{stamp()}")
    outdir.check(out, args.force)
    staged = outdir.staging(out)
    try:
        create_text(staged / "calibration.json", json.dumps(fitted, indent=1))
        plot(fitted, staged)
        outdir.commit(staged, out, args.force)
    finally:
        outdir.discard(staged, out)
    print(behaviour_toml(fitted), end="")
    print(f"# fit and plot: {out}", file=sys.stderr)
    return EXIT_OK


def _console(args: Any) -> int:
    from cli.console import serve

    return serve(args)


def _new(args: Any) -> int:
    from cli.authoring import starter

    path = args.out or Path(f"{_slug(args.name)}.toml")
    if path.exists() and not args.force:
        return usage_error(f"new: {path} exists (choose another NAME or --out, or add --force)")
    if path.is_symlink():
        return usage_error(f"new: {path} is a symbolic link; not writing through it")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()  # --force: a new file, not a write into whatever was there
    create_text(path, starter(args.name))
    print(f"wrote {path}: run it with `dripsim run {path}`, read it with `dripsim explain {path}`")
    return EXIT_OK


def _destination(specs: list[Any], args: Any) -> Path:
    if args.out is not None:
        outdir.check(args.out, args.force)
        return Path(args.out)
    name = _slug(specs[0].name) if len(specs) == 1 else "runs"
    return outdir.unused(Path("runs") / f"{name}-{stamp()}")


def _run_all(specs: list[Any], args: Any) -> int:
    from sim.runner import run, write

    out = _destination(specs, args)  # refused before any time is spent
    staged = outdir.staging(out)
    previous: dict[int, Any] = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    worst, committed = EXIT_OK, False
    painter = None if args.no_report else _painter()  # it imports matplotlib while the run runs
    try:
        for spec in specs:
            folder = staged / _slug(spec.name) if len(specs) > 1 else staged
            if spec.partitions > 1:
                result = _partitioned(spec, args, folder)
                interrupts.install(lambda signum, frame: interrupts.note(signum))
                if painter is not None:
                    _report(folder, painter)
                final = out / folder.relative_to(staged)
                if spec is specs[-1]:
                    outdir.commit(staged, out, args.force)
                    committed = True
                _print(result, final, args.quiet)
                interrupts.restore(previous)
                worst = worst if result.ok else EXIT_FAILED
                continue
            result = run(spec, progress=None if args.quiet else _progress(spec), signals=True)
            # Outputs are the promise: a first signal now waits for them; a second stops at once.
            interrupts.install(lambda signum, frame: interrupts.note(signum))
            try:
                write(result, folder, args.events, before_log=None if painter is None else painter.start)
                if painter is not None:
                    _report(folder, painter)
            except OSError as err:  # a full disk, a lost mount: nothing is moved into place
                raise OutError(f"--out {out}: could not write the outputs ({err.strerror or err}); "
                               "nothing was kept") from None
            final = out / folder.relative_to(staged)
            if spec is specs[-1] or result.interrupted:
                outdir.commit(staged, out, args.force)
                committed = True
            _print(result, final, args.quiet)
            interrupts.restore(previous)
            seen = interrupts.received()
            if result.interrupted or seen:
                print(f"dripsim: {spec.name}: interrupted; outputs so far in {final}", file=sys.stderr)
                return interrupts.exit_code(seen[0]) if seen else 130
            if not result.ok:
                worst = EXIT_FAILED
    finally:
        if painter is not None:
            painter.close()
        if not committed:
            outdir.discard(staged, out)  # a failed run leaves no folder that looks complete
        interrupts.restore(previous)
    return worst


def _partitioned(spec: Any, args: Any, folder: Path) -> Any:
    """A run of `dispatcher.partitions` engines in `--shards` groups (`sim.shards`), merged into `folder`."""
    from sim import shards as sharding
    from sim.clock import wall_seconds

    began = wall_seconds()
    n = min(args.shards, spec.partitions)
    where = args.scheduler or "local"
    folder.mkdir(parents=True, exist_ok=True)
    todo = [sharding.Shard(spec, g, str(folder), csv=args.events in ("csv", "both"))
            for g in sharding.groups(spec.partitions, n)]

    def done(row: dict[str, Any]) -> None:
        if not args.quiet:
            print(f"dripsim: {spec.name}: partition {row['partition']} of {spec.partitions} done "
                  f"({row['wall']:.1f} s)", file=sys.stderr, flush=True)

    try:
        sharding.execute(todo, args.scheduler, args.scheduler_timeout, done)
    except OSError as err:
        raise OutError(f"--out: could not write the partitions' files ({err.strerror or err})") from None
    layout = {"shards": n, "where": where}
    merged = sharding.merge(spec, folder, layout, wall_seconds() - began, args.events)
    if merged.rows > sharding.CSV_ROWS and args.events in ("csv", "both"):
        print(f"dripsim: note: {spec.name}: {merged.rows:,} events: no merged events.csv.gz above "
              f"{sharding.CSV_ROWS:,} rows; the table is the Parquet dataset events/", file=sys.stderr)
    return merged


def _painter() -> Any:
    from reports.painters import Painter

    return Painter()


def _report(out: Path, painter: Any) -> None:
    from reports.html import build_report

    build_report(out, painter)


REBUILT = ("report.html", ".report.html.partial")  # and chart-*.png: made again, never copied


def _rebuild_report(run_dir: Path) -> int:
    """The report rebuilt into a new folder (the run's files linked or copied into it, never a link
    followed, nothing written into the old folder), then moved into place."""
    from reports.html import build_report

    if run_dir.is_symlink() or not run_dir.is_dir():
        what = "a symbolic link" if run_dir.is_symlink() else "no such folder"
        return usage_error(f"{run_dir}: not a run folder ({what})")
    missing = [f for f in ("summary.json", "timeseries.json") if not (run_dir / f).exists()]
    if missing:
        return usage_error(f"{run_dir}: not a run folder (missing {', '.join(missing)})")
    staged = outdir.staging(run_dir, flag="report")
    try:
        _copy_run(run_dir, staged)
        build_report(staged)
        outdir.commit(staged, run_dir, force=True, flag="report")
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError, RecursionError) as err:
        detail = " ".join(str(err).split())[:120]  # JSONDecodeError and FileRefused are ValueErrors
        return usage_error(f"{run_dir}: not a readable dripsim run folder ({type(err).__name__}: {detail})")
    finally:
        outdir.discard(staged, run_dir)
    print(run_dir / "report.html")
    return EXIT_OK


def _copy_run(run_dir: Path, staged: Path) -> None:
    """The run folder's own files into `staged`: hard links (copies across devices), links kept as
    links (never followed: they are not the run's files), the report's files left to be made again."""
    import os
    import shutil

    for entry in run_dir.iterdir():
        if entry.name in REBUILT or (entry.name.startswith("chart-") and entry.suffix == ".png"):
            continue
        target = staged / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry), target)
        elif entry.is_dir():
            shutil.copytree(entry, target, symlinks=True)
        elif entry.is_file():
            try:
                os.link(entry, target, follow_symlinks=False)
            except OSError:
                shutil.copy2(entry, target, follow_symlinks=False)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value}s"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "run"


PROGRESS_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal (CI, a pipe)


def _progress(spec: Any) -> Any:
    if not sys.stderr.isatty():
        return _progress_lines(spec)
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


def _progress_lines(spec: Any) -> Any:
    """A line every few seconds to stderr, no bar: what CI logs and pipes can show."""
    began = time.monotonic()
    last = {"at": began}

    def update(elapsed: float) -> None:
        now = time.monotonic()
        if now - last["at"] >= PROGRESS_EVERY:
            last["at"] = now
            print(f"dripsim: {spec.name}: simulated +{elapsed / 3600:.1f} h of {spec.duration / 3600:.1f} h "
                  f"({elapsed / spec.duration:.0%}), {now - began:.0f} s", file=sys.stderr, flush=True)

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
                  f"p95 {_seconds(a['latency_s']['p95'])}")
        print(f"  outputs: {out}")
    if s["empty"]:
        print(f"dripsim: warning: {s['scenario']}: nothing was sent in this run (no latency to report); "
              "see `dripsim explain` for what the scenario does", file=sys.stderr)
    for line in ignored_lines(s):
        print(f"dripsim: note: {s['scenario']}: {line}", file=sys.stderr)
    for r in s.get("replay", []):
        for line in replay_lines(r):
            print(f"dripsim: warning: {s['scenario']}: {r['file']}: {line}", file=sys.stderr)
    for failure in result.failures:
        print(f"dripsim: {s['scenario']}: {failure}", file=sys.stderr)


def replay_lines(r: dict[str, Any]) -> list[str]:
    """What a replay skipped, one line per reason (every row becomes a happening or is counted)."""
    said = {"skipped_outside_run": "rows landed outside the run and were skipped (`dripsim explain` shows where "
                                   "the rows land)",
            "duplicate_signup": "sign-ups named an address already on the list (in any letter case) and were "
                                "not added again",
            "scale_clash": "sign-ups clashed with an address a `scale` copy derived (name+rN@domain) and were "
                           "not added",
            "unknown": "rows named an address not on the list, or an automation not in the scenario, and were "
                       "skipped"}
    return [f"{r[key]:,} {text}" for key, text in said.items() if r.get(key)]


IGNORED_NOTABLE = 0.01  # an automation that ignored more than this share of its triggers is said


def ignored_lines(summary: dict[str, Any]) -> list[str]:
    """One line per automation that ignored more than 1% of its triggers, with the reasons."""
    lines = []
    for name, a in summary["automations"].items():
        reasons = {k: int(v) for k, v in a["ignored"].items() if v}
        ignored = sum(reasons.values())
        seen = ignored + int(a["triggered"])
        if seen and ignored / seen > IGNORED_NOTABLE:
            said = ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
            lines.append(f"{name} ignored {ignored:,} of {seen:,} triggers ({ignored / seen:.0%}): {said}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
