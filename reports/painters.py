"""The process that draws a report's charts, started before it is needed.

Importing matplotlib and drawing are most of a report's cost, and both hold
the GIL. `dripsim run` starts a painter as it starts (a forked copy of the
process, before any thread exists), which imports matplotlib while the
simulation runs. Before the run's event log is written, the painter is sent
the summary and time series (`start`); the charts are collected for the
report after it (`draw`). The painter forks a copy of itself (matplotlib
already loaded), the two take the charts between them, and the PNG bytes
come back. This module imports no matplotlib: the parent process never
needs it.

The painter is a plain process with one pipe. It ends with its parent (a
watch on the parent's pid, for a parent ended by a second signal or
SIGKILL), and a signal ends it by the default action, not through the run's
interrupt handlers. If the painter is gone, or fails, the charts are drawn
in this process instead; without fork, they always are.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from typing import Any

CHARTS: dict[str, str] = {  # key -> title, in the report's order
    "throughput": "Sends per second against capacity (filled: mean per bucket; line: the busiest tick)",
    "backlog": "Pending list per automation (shaded: paused or ended; dotted: lifecycle changes)",
    "latency": "Queue latency percentiles over time, by send time",
    "outcomes": "What became of every queued entry (the bars add up to queued)",
    "engagement": "Open and click rates; triggers accepted and ignored",
}
SELF_CHECKS: dict[str, str] = {
    "little": "Little's law: the measured mean backlog L against throughput x mean latency",
}
KEYS = [*CHARTS, *SELF_CHECKS]
COSTLIEST_FIRST = ["engagement", "throughput", "backlog", "latency", "outcomes", "little"]  # measured drawing times
PARENT_WATCH_S = 0.5  # how often the painter looks for its parent
ANSWER_S = 300.0  # a painter silent this long is taken for stuck (the charts are drawn here)
_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class Painter:
    """A forked process that draws charts (importing matplotlib as it starts); `draw` hands it a run's
    charts, `close` ends it. It draws half of them and a copy of itself, forked then, the other half."""

    def __init__(self) -> None:
        self._painter: tuple[Any, Connection] | None = None
        self._sent: tuple[dict[str, Any], dict[str, Any]] | None = None  # a drawing begun, not collected
        try:
            ctx = multiprocessing.get_context("fork")
        except ValueError:  # no fork on this platform: every chart is drawn in this process
            return
        mine, theirs = ctx.Pipe()
        process = ctx.Process(target=_paint, args=(theirs, os.getpid()), daemon=True, name="dripsim-painter")
        # Forked with SIGINT and SIGTERM held back: a signal before the painter has its own handlers would
        # run this process's (a KeyboardInterrupt in the painter, or a note of a signal nobody reads).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            process.start()
        except OSError:  # no more processes: this one draws
            mine.close()
            return
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            theirs.close()
        self._painter = (process, mine)

    def __enter__(self) -> Painter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, summary: dict[str, Any], ts: dict[str, Any]) -> None:
        """Begin drawing a run's charts (`draw` with the same inputs collects them)."""
        if self._painter is None or self._sent is not None:
            return
        inputs = _inputs(summary, ts)
        try:
            self._painter[1].send(inputs)
        except OSError:  # the painter is gone: this process draws
            self.close()
            return
        self._sent = inputs

    def draw(self, summary: dict[str, Any], ts: dict[str, Any]) -> dict[str, bytes]:
        """Every chart's PNG bytes, in `KEYS` order: the same bytes whichever process draws them."""
        if self._sent is not None and self._sent != _inputs(summary, ts):
            self._collect()  # begun for other inputs: not these charts
        self.start(summary, ts)
        images = self._collect()
        if images is None:
            from reports.charts import draw

            images = draw(KEYS, summary, ts)
        return {key: images[key] for key in KEYS}

    def _collect(self) -> dict[str, bytes] | None:
        if self._painter is None or self._sent is None:
            return None
        self._sent = None
        conn = self._painter[1]
        try:
            if conn.poll(ANSWER_S):
                images: dict[str, bytes] = conn.recv()
                return images
        except (EOFError, OSError):
            pass
        self.close()  # the painter is gone or stuck: this process draws
        return None

    def close(self) -> None:
        if self._painter is not None:
            process, conn = self._painter
            conn.close()
            process.kill()  # it has nothing to finish
            process.join()
            self._painter = None
            self._sent = None


def _inputs(summary: dict[str, Any], ts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the charts read: the time series and the summary's automations (not its digest, which
    is known only once the event log is written)."""
    return {"automations": summary["automations"]}, ts


def _paint(conn: Connection, parent: int) -> None:
    """The painter: imports matplotlib, then draws each run it is sent until its parent is gone."""
    for signum in _SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)  # one held back since the fork ends it now
    try:
        from reports.charts import draw, warm  # matplotlib is imported here, beside the parent's work

        warm()
    except Exception:  # the parent draws, and says what is wrong once
        return
    while True:
        while not conn.poll(PARENT_WATCH_S):
            if os.getppid() != parent:
                return
        try:
            summary, ts = conn.recv()
            images = _both_halves(draw, summary, ts)
        except Exception:  # the parent draws them again, and says what is wrong once
            return
        conn.send(images)


def _both_halves(draw: Any, summary: dict[str, Any], ts: dict[str, Any]) -> dict[str, bytes]:
    """Every chart, drawn here and in a copy of this process forked now (single-threaded, matplotlib
    already imported): each takes the next chart, costliest first, until none is left. What the copy
    could not give is drawn here."""
    gc.freeze()  # the copy shares this process's pages: no collection walks (and so copies) them
    tickets, dealer = os.pipe()  # one byte per chart; a read of one byte takes one, atomically
    os.write(dealer, bytes(range(len(COSTLIEST_FIRST))))
    os.close(dealer)
    inbox, outbox = multiprocessing.Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:  # the copy: draw, answer, and end without running any of the parent's exit code
        code = 1
        try:
            inbox.close()
            outbox.send(_take_and_draw(draw, tickets, summary, ts))
            code = 0
        finally:
            os._exit(code)
    outbox.close()
    images = _take_and_draw(draw, tickets, summary, ts)
    os.close(tickets)
    try:
        images.update(inbox.recv())
    except (EOFError, OSError):
        pass
    finally:
        inbox.close()
        os.waitpid(pid, 0)
    missing = [key for key in KEYS if key not in images]
    return images | draw(missing, summary, ts) if missing else images


def _take_and_draw(draw: Any, tickets: int, summary: dict[str, Any], ts: dict[str, Any]) -> dict[str, bytes]:
    images: dict[str, bytes] = {}
    while ticket := os.read(tickets, 1):  # empty once every chart is taken (no writer is left)
        key = COSTLIEST_FIRST[ticket[0]]
        images.update(draw([key], summary, ts))
    return images
