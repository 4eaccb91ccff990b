"""`dripsim sweep` and `dripsim capacity`: the planner's commands, and what they show while they wait.

A search takes minutes to hours, so it says what it is doing from its first
seconds: the probe under way, the share of each run done (a line every few
seconds on stderr, terminal or pipe alike), each finished probe. Ctrl-C
keeps the probes that finished: `sweep.json` says `"complete": false` and
gives the bracket so far. On its first probe the search also runs one seed
at a 1-minute tick and says, measured, whether that moves the figures
little enough to answer faster.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from cli import outdir
from cli.app import EXIT_FAILED, EXIT_OK, _resolve, fits, linted
from cli.parser import usage_error
from sim import interrupts
from sim.clock import stamp
from sim.scenarios.loader import ScenarioError, load

PROGRESS_EVERY = 5.0  # seconds between progress lines inside a probe
COARSE_TICK = 60.0  # the tick tried on the first probe
COARSE_SAME = 0.10  # figures within this share of their limit: "the same answer"


def sweep(args: Any) -> int:
    from reports.sweep import parse_grid, parse_slos, sweep
    from sim.measure import measure, validate

    try:
        grid = parse_grid(args.grid)
        path, spec = _scenario(args)
        slos = parse_slos(args.slo, [a.id for a in spec.automations])
    except ValueError as err:
        return usage_error(str(err))
    out, staged = _outputs(args, "sweep", path)
    total = args.seeds * _points(grid)
    done = {"n": 0}
    began = time.monotonic()

    def on_row(row: dict[str, Any]) -> None:
        done["n"] += 1
        if not args.quiet:
            point = " ".join(f"{k}={row[k]}" for k in grid)
            print(f"  [{done['n']}/{total}{_eta(began, done['n'], total)}] {point} seed {row['seed']}: "
                  f"{_figures(row, slos)}", file=sys.stderr)

    try:
        result = sweep(measure, validate, path, grid, args.seeds, slos, args.workers, args.scheduler, staged,
                       spec.seed, tuple(args.overrides), on_row, args.expectations, _sharding(args, spec))
        outdir.commit(staged, out, args.force)
    except (ValueError, ScenarioError) as err:
        return usage_error(str(err))
    finally:
        outdir.discard(staged, out)
    return _answer(result, out)


def capacity(args: Any) -> int:
    from reports.search import Probes, parse_precision, partial, planned_probes, search
    from reports.sweep import parse_slos
    from sim.measure import measure, validate

    try:
        path, spec = _scenario(args)
        slos = parse_slos(args.slo, [a.id for a in spec.automations])
        precision = parse_precision(args.precision)
        if not slos:
            raise ValueError("capacity: give at least one --slo, e.g. --slo p95=15m")
        if args.low >= args.high:
            raise ValueError(f"--min {args.low:g} must be below --max {args.high:g}")
    except ValueError as err:
        return usage_error(str(err))
    out, staged = _outputs(args, "capacity", path)
    watch = _Watch(args.quiet, planned_probes(args.low, args.high, precision))
    kept = Probes(slos, args.expectations)
    text, base = path.read_text(encoding="utf-8"), tuple(args.overrides)

    def on_probe(rate: float, why: str | None, rows: list[dict[str, Any]]) -> None:
        watch.finished(rate, why, rows, slos)
        if len(kept.tried) == 1 and not args.quiet:
            _coarser_tick(measure, text, str(path), base, spec, rows, slos)

    try:
        result = search(measure, validate, path, slos, args.seeds, args.low, args.high, precision, args.workers,
                        args.scheduler, staged, spec.seed, base, on_probe, expectations=args.expectations,
                        margin=args.margin, on_start=watch.started, on_progress=watch.progress, probes=kept,
                        sharding=_sharding(args, spec))
        outdir.commit(staged, out, args.force)
    except (ValueError, ScenarioError) as err:
        return usage_error(str(err))
    except KeyboardInterrupt:
        return _interrupted(kept, spec, args, precision, staged, out, partial)
    finally:
        outdir.discard(staged, out)
    return _answer(result, out)


def _interrupted(kept: Any, spec: Any, args: Any, precision: tuple[float, float], staged: Path, out: Path,
                 partial: Any) -> int:
    """Keep the probes that finished: outputs marked incomplete, with the bracket so far."""
    seen = interrupts.received()
    code = interrupts.exit_code(seen[0]) if seen else 130
    interrupts.install(lambda signum, frame: interrupts.note(signum))  # the outputs first; a second stops at once
    result = partial(kept, spec.name, tuple(args.overrides), args.seeds, args.workers or 0, args.scheduler,
                     (args.low, args.high), precision, staged)
    if result is None:
        print("dripsim: interrupted before any probe finished; nothing written", file=sys.stderr)
        return code
    outdir.commit(staged, out, args.force)
    print(f"dripsim: interrupted: {len(kept.tried)} probes kept; {result['answer']['note']}; outputs: {out}",
          file=sys.stderr)
    return code


class _Watch:
    """What a waiting planner sees: each probe as it starts, a line every few seconds inside it, its end."""

    def __init__(self, quiet: bool, planned: int) -> None:
        self.quiet, self.planned, self.n, self.margin = quiet, planned, 0, 0
        self.began = time.monotonic()
        self.probe_began = self.began
        self.last_line = 0.0
        self.what = ""
        self.lock = threading.Lock()

    def _say(self, line: str) -> None:
        if not self.quiet:
            with self.lock:
                print(line, file=sys.stderr, flush=True)

    def started(self, rate: float, seeds: int, load: float) -> None:
        self.probe_began = self.last_line = time.monotonic()
        if load != 1.0:  # the margin's probes come after the search's own: counted apart
            self.margin += 1
            self.what = f"[margin probe {self.margin}] {rate:g}/s x {seeds} seeds at {load:g}x the load"
        else:
            self.n += 1
            self.what = f"[probe {self.n}/at most {self.planned}{_eta(self.began, self.n - 1, self.planned)}] " \
                        f"{rate:g}/s x {seeds} seeds"
        self._say(f"  {self.what}: under way")

    def progress(self, shares: list[float]) -> None:
        now = time.monotonic()
        if now - self.last_line < PROGRESS_EVERY:
            return
        self.last_line = now
        done = ", ".join(f"{s:.0%}" for s in shares)
        self._say(f"  {self.what}: runs {done} simulated, {now - self.probe_began:.0f} s")

    def finished(self, rate: float, why: str | None, rows: list[dict[str, Any]], slos: list[Any]) -> None:
        took = time.monotonic() - self.probe_began
        said = f"meets it (worst seed: {_figures(_worst(rows, slos), slos)})" if why is None else f"fails: {why}"
        self._say(f"  {self.what}: {said} ({took:.0f} s)")


def _coarser_tick(measure: Any, text: str, name: str, base: tuple[str, ...], spec: Any,
                  rows: list[dict[str, Any]], slos: list[Any]) -> None:
    """Run the first probe's first seed once more at a 1-minute tick, and say whether it was worth it."""
    from reports.objectives import verdict, worst

    if spec.tick >= COARSE_TICK or not rows:
        return
    fine = rows[0]
    began = time.monotonic()
    coarse = measure(text, name, (*base, f"dispatcher.rate={fine['rate']:g}", "dispatcher.tick='1m'"),
                     int(fine["seed"]), 1.0)
    took = time.monotonic() - began
    moved = []
    for slo in slos:
        a, b = worst(fine, slo), worst(coarse, slo)
        if a is None or b is None:
            return
        moved.append((abs(a[0] - b[0]) / slo.limit, slo.name, a[0], b[0]))
    same = (verdict([fine], slos) is None) == (verdict([coarse], slos) is None)
    share, name_, a_s, b_s = max(moved)
    faster = float(fine["wall_seconds"]) / max(took, 1e-3)
    if same and share <= COARSE_SAME and faster >= 2:
        print(f"dripsim: hint: at {fine['rate']:g}/s a 1-minute tick gave {name_} {b_s:g}s against {a_s:g}s at "
              f"{spec.tick:g}s ({share:.0%} of its limit), the same verdict, in {took:.0f} s instead of "
              f"{float(fine['wall_seconds']):.0f} s a run: add --set dispatcher.tick='1m' for a faster search",
              file=sys.stderr)


def _sharding(args: Any, spec: Any) -> Any:
    """`--shards N`: each run's partitions as N tasks (`reports.sweep.Sharding`), or None."""
    if args.shards == 1:
        return None
    from reports.sweep import Sharding
    from sim.measure import groups_of, measure_partitions, merge_partitions

    if spec.partitions == 1:
        print(f"dripsim: note: {spec.source}: --shards {args.shards} but dispatcher.partitions = 1: each run "
              "is one engine (set dispatcher.partitions to split it)", file=sys.stderr)
    elif args.shards > spec.partitions:
        print(f"dripsim: note: {spec.source}: --shards {args.shards} but dispatcher.partitions = "
              f"{spec.partitions}: {spec.partitions} shards a run", file=sys.stderr)
    return Sharding(args.shards, groups_of, measure_partitions, merge_partitions)


def _scenario(args: Any) -> tuple[Path, Any]:
    """The scenario (loaded and linted with --set), checked before any run."""
    path = _resolve(args.file)
    spec = load(path, args.overrides, tuple(args.roots))
    for p in linted(spec, args.strict):
        print(f"dripsim: {p.level}: {p.line(spec.source)}", file=sys.stderr)
    fits(spec, args)  # every worker runs one such run at a time
    return path, spec


def _outputs(args: Any, kind: str, path: Path) -> tuple[Path, Path]:
    out = args.out or outdir.unused(Path("runs") / f"{kind}-{path.stem}-{stamp()}")
    outdir.check(out, args.force)
    if args.scheduler:
        reach(args.scheduler, args.scheduler_timeout)
    return out, outdir.staging(out)


def reach(address: str, timeout: float) -> None:
    """Refuse, with one line naming the flag, a scheduler that does not answer within `timeout` s."""
    from distributed import Client

    try:
        with Client(address, timeout=timeout):  # type: ignore[no-untyped-call]
            return
    except (OSError, TimeoutError) as err:
        detail = " ".join(str(err).split())[:100]
        raise outdir.OutError(f"--scheduler {address}: no Dask scheduler answered within {timeout:g} s "
                              f"({detail})") from None


def _eta(began: float, done: int, total: int) -> str:
    """', about 40 s left' from the pace so far (nothing before the first result)."""
    if not done or done >= total:
        return ""
    left = (time.monotonic() - began) / done * (total - done)
    return f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.0f} min left"


def _points(grid: dict[str, list[str]]) -> int:
    n = 1
    for values in grid.values():
        n *= len(values)
    return n


def _figures(row: dict[str, Any], slos: list[Any]) -> str:
    from reports.objectives import shown

    cells = [f"{s.name} {shown(row, s)}" for s in slos] or [f"queue.p95 {row.get('latency_p95_s')}s"]
    return ", ".join([*cells, f"overdue {row['overdue_at_end']}", f"{row['wall_seconds']:.1f}s wall"])


def _worst(rows: list[dict[str, Any]], slos: list[Any]) -> dict[str, Any]:
    from reports.objectives import worst

    return max(rows, key=lambda r: -1.0 if (w := worst(r, slos[0])) is None else w[0])


def _answer(result: dict[str, Any], out: Path) -> int:
    a = result["answer"]
    print("\n".join(result["table"]))
    if a["rate"] is not None:
        print(f"{result['scenario']}: smallest dispatcher rate meeting {a['slo']} in every seed: {a['rate']:g}/s"
              + (f" (largest failing: {a['largest_failing']:g}/s)" if a.get("largest_failing") else ""))
        _at_answer(a)
    else:
        print(f"{result['scenario']}: {a['note']}")
    for b in a.get("by", []):
        where = ", ".join(f"{k}={v}" for k, v in b["point"].items())
        print(f"  {where}: " + (f"{b['rate']:g}/s" if b["rate"] is not None else b["note"]))
    for p in a.get("points", []):
        where = ", ".join(f"{k}={v}" for k, v in p["point"].items())
        print(f"  {where}: " + ("meets it" if p["meets"] else f"fails: {p['why']}"))
    for rate, why in a.get("failed", {}).items():
        print(f"  {rate}/s fails: {why}")
    if a["rate"] is not None and a.get("note"):
        print(f"dripsim: warning: {a['note']}", file=sys.stderr)
    print(f"  outputs: {out}")
    met = a["rate"] is not None or (bool(a.get("points")) and all(p["meets"] for p in a["points"]))
    return EXIT_FAILED if a["slo"] is not None and not met else EXIT_OK


def _at_answer(a: dict[str, Any]) -> None:
    """The binding objective, every automation's figure at the answer, and the rate with a margin."""
    if a.get("binding"):
        b = a["binding"]
        print(f"  binding: {b['objective']} {b['worst_s']:g}s of {b['limit_s']:g}s ({b['share']:.0%} of its limit)")
    for f in a.get("figures", []):
        print(f"    {f['objective']:32} {f['worst_s']:>10.1f}s  limit {f['limit_s']:g}s  ({f['share']:.0%})")
    for name, (low, high) in a.get("spread", {}).items():
        print(f"  {name} across the seeds at {a['rate']:g}/s: {low:g}s to {high:g}s")
    m = a.get("margin")
    if m:
        if m["rate"] is not None:
            bound = f", binding {m['binding']['objective']}" if m.get("binding") else ""
            print(f"  with a {m['load'] - 1:.0%} margin (checked by runs at {m['load']:g}x the load): "
                  f"{m['rate']:g}/s{bound}")
        else:
            print(f"  with a {m['load'] - 1:.0%} margin: {m['note']}")
