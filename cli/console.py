"""`dripsim console SCENARIO`: watch a run and do in a browser what the product's operators do.

One page on 127.0.0.1 (Starlette under uvicorn), no network at run time. Every state change is a
POST carrying the one-time token (`Authorization: Bearer ...`) and passing a Host / Origin check;
anything else gets 403. Reads (a pending page, a statistics tab) carry the token too. One
server-sent event stream per page sends a snapshot on connect (the clock, the headline, the
automations, the series so far), then every change, at most 4 a second: a page that reloads keeps
its charts, and the browser never slows the run (it reads what the driver published).

The run belongs to one thread, the driver (`Driver`): the server hands it calls through a queue
and waits for their answers, so a read always sees the run between two phases (`sim.session`).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import queue
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sim.session import TABS, BadMove, Session, SessionError

STATS_SHOWN = 100  # rows of a statistics tab on the page (the CSV has them all)
PUBLISH_EVERY = 0.25  # s of wall time between snapshots while playing


class Driver(threading.Thread):
    """The one thread that touches the run: plays it at a speed, and runs the server's calls."""

    def __init__(self, session: Session, speed: float | None = None) -> None:
        super().__init__(name="dripsim-console-driver", daemon=True)
        self.session = session
        self.calls: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self.playing = speed is not None
        self.speed = speed or 0.0
        self.version = 0
        self.snapshot: dict[str, Any] = {}
        self.stopping = False
        self.error: str | None = None
        self._played_from = (time.monotonic(), session.now)
        self._publish()

    def call(self, fn: Callable[[], Any], timeout: float = 600.0) -> Any:
        """Run `fn` in the driver between two phases; its answer (or its exception) here."""
        done: Future[Any] = Future()
        self.calls.put((fn, done))
        return done.result(timeout)

    def run(self) -> None:
        while not self.stopping:
            try:  # playing: take a waiting call, never wait for one (a wait per slice cost 20 ms of run)
                fn, done = self.calls.get_nowait() if self.playing else self.calls.get(timeout=0.25)
            except queue.Empty:
                fn, done = None, None
            if fn is not None and done is not None:
                try:
                    done.set_result(fn())
                except BaseException as err:  # handed to the caller, which answers with it
                    done.set_exception(err)
                self._publish()
            if self.playing and not self.session.done:
                self._play()

    def _play(self) -> None:
        s = self.session
        if self.speed <= 0:  # as fast as it goes: a slice of the run, then the calls again
            s.advance(s.now + max(s.duration / 400, s.tick))
        else:
            wall0, sim0 = self._played_from
            s.advance(sim0 + (time.monotonic() - wall0) * self.speed)
        if s.next_phase() is None:
            s.advance(s.duration)
            self.playing = False
        if time.monotonic() - self.snapshot.get("_at", 0.0) >= PUBLISH_EVERY or not self.playing:
            self._publish()

    def play(self, speed: float | None = None) -> None:
        if speed is not None:
            self.speed = speed
        self.playing = True
        self._played_from = (time.monotonic(), self.session.now)

    def pause(self) -> None:
        self.playing = False

    def _publish(self) -> None:
        state = self.session.state()
        state.update(playing=self.playing, speed=self.speed, series=list(self.session.series), error=self.error)
        self.snapshot = {**state, "_at": time.monotonic()}
        self.version += 1


def speed(value: Any) -> float:
    """Play's speed: simulated seconds per wall second (0 or "max": as fast as it goes)."""
    if value in ("max", 0):
        return 0.0
    number = float(str(value).removesuffix("x"))
    if not (math.isfinite(number) and 0 < number <= 1e9):
        raise ValueError(f"speed: a positive number of simulated seconds per second, got {value!r}")
    return number


def moment(text: str, session: Session) -> float:
    """`+12h` (an offset from the scenario's start, as its actions write it) or `YYYY-MM-DD HH:MM`."""
    from sim.scenarios.model import parse_duration

    if text.strip().startswith("+"):
        try:
            return parse_duration(text.strip(), allow_zero=True)
        except ValueError as err:
            raise BadMove(f"until: {err}") from None
    return instant(text, session)


def instant(text: str, session: Session) -> float:
    """`YYYY-MM-DD HH:MM[:SS]` on the scenario's wall clock, as seconds since its start."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            moment = datetime.strptime(str(text).strip(), pattern)
        except ValueError:
            continue
        return moment.replace(tzinfo=ZoneInfo(session.spec.timezone)).timestamp() - session.t0
    raise BadMove(f"expected an instant as YYYY-MM-DD HH:MM in {session.spec.timezone}, got {str(text)[:40]!r}")


def _with_instants(table: dict[str, Any], session: Session) -> dict[str, Any]:
    """`end_at` / `schedule_at` given as `{"when": "2026-03-02 18:00"}` as the offsets a scenario writes."""
    from sim.session import offset

    out = dict(table)
    for key in ("end_at", "schedule_at"):
        value = out.get(key)
        if isinstance(value, dict) and "when" in value:
            seconds = instant(value["when"], session)
            if seconds <= session.now:
                raise BadMove(f"{key}: {value['when']} is not after the run's clock")
            out[key] = offset(seconds)
    return out


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["time", "email", "reason"])
    writer.writeheader()
    for r in rows:  # a cell a spreadsheet would run as a formula is quoted as text
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@\t" else v) for k, v in r.items()})
    return out.getvalue()


class Console:
    """The requests: who may ask (`allowed`), and what each route answers."""

    def __init__(self, driver: Driver, token: str, port: Callable[[], int], finish: Callable[[], str]) -> None:
        self.driver, self.token, self.port, self.finish = driver, token, port, finish
        self.page = (Path(__file__).with_name("console.html")).read_text(encoding="utf-8")

    def allowed(self, request: Any) -> bool:
        """A local Host (no DNS rebinding), a local Origin if any, and the token (a GET may carry it in
        the query: EventSource and downloads cannot set a header)."""
        hosts = {f"127.0.0.1:{self.port()}", f"localhost:{self.port()}"}
        if request.headers.get("host") not in hosts:
            return False
        origin = request.headers.get("origin")
        if origin is not None and origin not in {f"http://{h}" for h in hosts}:
            return False
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        if request.method == "GET" and not given:
            given = request.query_params.get("token", "")
        return secrets.compare_digest(given.encode(), self.token.encode())

    def guarded(self, handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
        from starlette.responses import JSONResponse, PlainTextResponse

        async def wrapped(request: Any) -> Any:
            if not self.allowed(request):
                return PlainTextResponse("forbidden", status_code=403)
            try:
                return await handler(request)
            except BadMove as err:
                return JSONResponse({"error": str(err)}, status_code=400)
            except SessionError as err:
                return JSONResponse({"error": str(err)}, status_code=409)
            except (ValueError, KeyError, TypeError) as err:
                return JSONResponse({"error": f"bad request: {err}"}, status_code=400)
        return wrapped

    async def in_driver(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, self.driver.call, fn)

    def snapshot(self) -> dict[str, Any]:
        return {k: v for k, v in self.driver.snapshot.items() if k != "_at"}

    async def index(self, request: Any) -> Any:
        from starlette.responses import HTMLResponse

        return HTMLResponse(self.page, headers={"Cache-Control": "no-store", "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
            "connect-src 'self'")})

    async def events(self, request: Any) -> Any:
        from starlette.responses import StreamingResponse

        async def stream() -> Any:
            seen = -1
            while not await request.is_disconnected():
                if self.driver.version != seen:
                    seen = self.driver.version
                    yield f"data: {json.dumps(self.snapshot())}\n\n"
                await asyncio.sleep(PUBLISH_EVERY)
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def state(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse(self.snapshot())

    async def pending(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        q, name = request.query_params, request.path_params["id"]
        return JSONResponse(await self.in_driver(lambda: self.driver.session.page(
            name, page=int(q.get("page", "1")), sort=q.get("sort", "asc"),
            search=q.get("search") or None, field=q.get("field") or None)))

    async def stats(self, request: Any) -> Any:
        from starlette.responses import JSONResponse, Response

        name, tab = request.path_params["id"], request.path_params["tab"]
        csv_wanted = tab.endswith(".csv")
        tab = tab.removesuffix(".csv")
        rows = await self.in_driver(lambda: self.driver.session.stats(name, tab))
        if csv_wanted:
            name = "".join(c for c in f"{name}-{tab}" if c.isalnum() or c in "-_") + ".csv"
            return Response(_csv(rows), media_type="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        return JSONResponse({"tab": tab, "tabs": list(TABS), "total": len(rows), "rows": rows[:STATS_SHOWN],
                             "shown": min(len(rows), STATS_SHOWN)})

    async def clock(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        body = await request.json()
        d, s = self.driver, self.driver.session
        what = body.get("do")
        if what not in ("play", "pause", "step"):
            raise ValueError(f"'do' is play, pause or step, got {what!r}")
        until = body.get("until")

        def apply() -> None:
            if what == "play":
                d.play(speed(body.get("speed", 600)))
                return
            d.pause()  # a step pauses play: the operator looks at where it stopped
            if what == "step" and until is not None:
                s.advance(moment(str(until), s))
            elif what == "step":
                s.step()
        await self.in_driver(apply)
        return JSONResponse({"now": s.now})

    async def action(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        table = await request.json()
        if not isinstance(table, dict) or "at" in table:
            raise ValueError("an action is a table without 'at' (it applies at the next tick)")
        s = self.driver.session
        done = await self.in_driver(lambda: s.act(_with_instants(table, s)))
        return JSONResponse(done, status_code=409 if done["refused"] else 200)

    async def finished(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"out": await self.in_driver(self.finish)})


def app(driver: Driver, token: str, port: Callable[[], int], finish: Callable[[], str]) -> Any:
    """The Starlette application: the page, the event stream, reads (GET) and moves (POST)."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    c = Console(driver, token, port, finish)
    gets = {"/": c.index, "/api/events": c.events, "/api/state": c.state,
            "/api/automations/{id}/pending": c.pending, "/api/automations/{id}/stats/{tab}": c.stats}
    posts = {"/api/clock": c.clock, "/api/actions": c.action, "/api/finish": c.finished}
    return Starlette(routes=[*(Route(path, c.guarded(h)) for path, h in gets.items()),
                             *(Route(path, c.guarded(h), methods=["POST"]) for path, h in posts.items())])


def serve(args: Any) -> int:
    """The command: load, check, serve until Ctrl-C or finish; outputs and session.toml on finish."""
    import dataclasses
    import socket
    import sys
    import tomllib

    import uvicorn

    from cli import outdir
    from cli.app import _resolve, _slug, fits, linted, load_spec
    from sim.clock import stamp
    from sim.files import create_text
    from sim.runner import write

    spec = load_spec(args.file, args)
    if spec.partitions > 1:
        from sim.scenarios.loader import ScenarioError

        raise ScenarioError(f"{spec.source}: dispatcher.partitions = {spec.partitions}: the console works one "
                            "engine's pending lists; open it with partitions = 1 (--set dispatcher.partitions=1)")
    linted(spec, False)
    fits(spec, args)
    source = _resolve(args.file)
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    out = args.out or outdir.unused(Path("runs") / f"console-{_slug(spec.name)}-{stamp()}")
    outdir.check(out, args.force)
    live = spec.clock == "real"  # played at the time scale on the virtual engine: the same decisions, with pause
    session = Session(dataclasses.replace(spec, clock="virtual"), data)
    driver = Driver(session, speed=(1.0 / spec.time_scale) if live else None)
    token = secrets.token_urlsafe(24)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", args.port))
    except OSError as err:
        session.close()
        raise outdir.OutError(f"--port {args.port}: cannot listen on 127.0.0.1 ({err.strerror or err})") from None
    port = int(sock.getsockname()[1])
    server: Any = None

    def finish() -> str:
        from cli.app import _report

        result = session.finish()
        staged = outdir.staging(out)
        try:
            write(result, staged)
            create_text(staged / "session.toml", session.session_toml(source))
            _report(staged, None)
            outdir.commit(staged, out, args.force)
        finally:
            outdir.discard(staged, out)
        driver.playing = False
        print(f"dripsim console: finished; outputs and session.toml in {out}", file=sys.stderr, flush=True)
        threading.Timer(1.0, lambda: setattr(server, "should_exit", True)).start()  # the answer goes out first
        return str(out)

    config = uvicorn.Config(app(driver, token, lambda: port, finish), log_level="warning", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    driver.start()
    print(f"dripsim console: http://127.0.0.1:{port}/?token={token}", flush=True)
    print("dripsim console: the run waits at its start (virtual clock)" if not live else
          f"dripsim console: playing live at {1 / spec.time_scale:g} simulated s per s", file=sys.stderr, flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        driver.stopping = True
        driver.join(timeout=5)
        session.close()
    return 0
