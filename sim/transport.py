"""How sends leave: a simulated transport, or real SMTP on loopback.

`SimulatedTransport` draws latency (lognormal around a median) and soft/hard
failures for a whole batch with numpy. `SmtpTransport` sends each message with
smtplib to a server on 127.0.0.1 (dripsim can start an aiosmtpd sink itself)
and reports the wall-clock send times it saw. Every message carries a
Message-ID derived from its pending entry, the idempotency key of a send.
"""

from __future__ import annotations

import contextlib
import email.errors
import re
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from core import Outcome
from sim.addresses import envelope_sender, header_safe, recipient_ok, sender_header
from sim.draws import Keyed, Purpose

if TYPE_CHECKING:  # smtplib (with ssl) loads only for SMTP runs
    import smtplib

OK, SOFT, HARD = Outcome.DELIVERED, Outcome.SOFT_BOUNCE, Outcome.HARD_BOUNCE
MAX_LATENCY = 30 * 86400.0  # seconds: no transport holds a message longer (a bounce would have come back)
_MERGE = re.compile(r"\$%([A-Za-z_][A-Za-z0-9_]*)%\$")


def render(template: str, values: dict[str, Any]) -> str:
    """Merge fields ``$%name%$`` become the subscriber's value as plain text.

    Unknown fields render empty; nothing is evaluated, and line breaks and
    control characters (CR, LF, VT, FF, NUL, U+2028...) become spaces, so a
    value can never start a new header nor break one.
    """
    def value(match: re.Match[str]) -> str:
        v = values.get(match.group(1))
        return "" if v is None else header_safe(str(v))

    return _MERGE.sub(value, template)


def message_id(automation: str, entry: int, occurrence: int) -> str:
    return f"<{automation}.{entry}.{occurrence}@dripsim.local>"


@dataclass(frozen=True)
class Outcomes:
    """Per send of a batch: when it left, when its outcome is known, and the code."""

    sent_at: np.ndarray
    done_at: np.ndarray
    code: np.ndarray  # OK, SOFT, HARD


class Transport(Protocol):
    """A transport that sends message by message (SMTP): one batch at a time, with its rendered messages."""

    def send(self, start: float, automation: str, entries: np.ndarray, occurrence: np.ndarray,
             recipients: list[str], subjects: list[str], sender: str) -> Outcomes: ...

    def close(self) -> None: ...


@dataclass
class TransportSpec:
    rate: float = 200.0  # sends per second
    latency: float = 0.05  # seconds, median
    latency_sigma: float = 0.5
    soft_bounce: float = 0.0  # delivered, then bounced softly (U2: a failure, nothing else)
    hard_bounce: float = 0.0  # delivered, then bounced hard (U2: auto-delete)
    failure_windows: list[tuple[float, float]] = field(default_factory=list)  # every attempt gets a 4xx
    transient: float = 0.0  # per attempt: SMTP 4xx, retried with backoff
    permanent: float = 0.0  # per attempt: SMTP 5xx, a hard failure at once
    retries: int = 3  # attempts after the first 4xx before giving up (a soft failure)
    backoff: float = 60.0  # seconds before the first retry; doubles each time
    latency_spikes: list[tuple[float, float, float]] = field(default_factory=list)  # (from, until, x factor)


class SimulatedTransport:
    """Capacity `rate`: sends leave one every 1/rate, in the order handed over.

    A send's leaving time is `origin + k / rate`, the k-th send since the
    dispatcher last fell idle (`origin`): one formula whatever batches the
    sends came in, so grouping them differently (a phase at a time, or decided
    ahead) gives the same floating-point instants, bit for bit. (Chaining
    `first + n / rate` per batch drifted by an ulp with the batch boundaries,
    and a deadline armed from that instant fed the keyed draws.)

    Latency, bounces and SMTP replies are drawn per send from keyed draws
    (`sim.draws`): a send's outcome depends on the send, not on the batch it
    went out with, so batches can be joined (`outcomes` over many) freely.
    """

    def __init__(self, spec: TransportSpec, draws: Keyed, now: Any = None) -> None:
        self.spec = spec
        self.draws = draws
        self.origin = -np.inf  # when the current busy stretch began
        self.count = 0  # sends since then
        self.free_at = -np.inf  # when the next send can leave: origin + count / rate
        self.now = now  # on a real clock: where wall time is, so sends are stamped when they really leave

    def _begin(self, start: float, n: int) -> int:
        """Account for `n` sends handed over at `start`; the index of the first in the busy stretch."""
        start = max(start, self.now()) if self.now is not None else start
        if start > self.free_at:  # idle until now: a new stretch
            self.origin, self.count = start, 0
        first = self.count
        self.count += n
        self.free_at = self.origin + self.count / self.spec.rate
        return first

    def pace(self, start: float, n: int) -> np.ndarray:
        """When each of `n` sends handed over at `start` leaves: one every 1/rate after what went before."""
        first = self._begin(start, n)
        return self.origin + np.arange(first, first + n) / self.spec.rate

    def pace_many(self, handed: list[tuple[float, int]]) -> list[np.ndarray]:
        """`pace` for each (start, n) in hand-over order: the same numbers, one numpy pass."""
        if len(handed) < 4 or self.now is not None:
            return [self.pace(start, n) for start, n in handed]
        origins, firsts, sizes = [], [], []
        for start, n in handed:
            firsts.append(self._begin(start, n))
            origins.append(self.origin)
            sizes.append(n)
        counts = np.asarray(sizes)
        index = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) \
            + np.repeat(np.asarray(firsts), counts)
        flat = np.repeat(np.asarray(origins), counts) + index / self.spec.rate
        return np.split(flat, np.cumsum(counts)[:-1])

    def outcomes(self, keys: np.ndarray, sent_at: np.ndarray) -> Outcomes:
        """The outcome of each send (`keys`: `Keyed.sends`) that left at `sent_at`, any number of batches."""
        spec, draws = self.spec, self.draws
        latency = spec.latency * np.exp(spec.latency_sigma * draws.normal(keys, Purpose.LATENCY_A, Purpose.LATENCY_B))
        for lo, hi, factor in spec.latency_spikes:
            latency[(sent_at >= lo) & (sent_at < hi)] *= factor
        np.minimum(latency, MAX_LATENCY, out=latency)  # a lognormal tail or a spike factor stays on the calendar
        u = draws.uniform(keys, Purpose.BOUNCE)
        code = np.where(u < spec.hard_bounce, HARD,
                        np.where(u < spec.hard_bounce + spec.soft_bounce, SOFT, OK)).astype(np.int8)
        done_at = sent_at + latency
        if spec.transient or spec.permanent or spec.failure_windows:
            self._smtp_replies(keys, sent_at, done_at, code)
        return Outcomes(sent_at, done_at, code)

    def _smtp_replies(self, keys: np.ndarray, sent_at: np.ndarray, done_at: np.ndarray, code: np.ndarray) -> None:
        """Per attempt: 5xx fails hard at once; 4xx (or a down window) is retried with
        exponential backoff up to `retries` times, then fails soft. The send stays in
        flight meanwhile, so nothing is lost or counted twice (one outcome per send)."""
        spec, n = self.spec, len(sent_at)
        attempt_at = sent_at.copy()
        open_ = np.ones(n, bool)  # still being attempted
        for attempt in range(spec.retries + 1):
            u = self.draws.uniform(keys, Purpose.SMTP_ATTEMPT + attempt)
            down = np.zeros(n, bool)
            for lo, hi in spec.failure_windows:
                down |= (attempt_at >= lo) & (attempt_at < hi)
            permanent = open_ & ~down & (u < spec.permanent)
            transient = open_ & (down | ((u >= spec.permanent) & (u < spec.permanent + spec.transient)))
            code[permanent] = HARD
            done_at[permanent] = attempt_at[permanent] + (done_at - sent_at)[permanent]
            open_ &= ~permanent
            if attempt == spec.retries:
                code[transient] = SOFT  # gave up
                done_at[transient] = attempt_at[transient]
                break
            ok = open_ & ~transient
            done_at[ok] = attempt_at[ok] + (done_at - sent_at)[ok]
            open_ &= transient
            attempt_at[open_] += spec.backoff * 2**attempt
            if not open_.any():
                break

    def close(self) -> None:
        pass


class SmtpTransport:
    """Real SMTP to 127.0.0.1. `now` reads the simulated time the wall clock is at."""

    def __init__(self, port: int, now: Any, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("SMTP transport only talks to loopback (127.0.0.1)")
        self.host, self.port, self.now = host, port, now
        self.smtp: smtplib.SMTP | None = None
        # One connection, used by one dispatcher at a time: a crashed dispatcher's stop (which closes it)
        # can run in its own thread while its replacement already sends.
        self._lock = threading.Lock()
        self.bad_headers = 0  # sends failed because a header could not be made (none expected)

    def _connection(self) -> smtplib.SMTP:
        import smtplib

        if self.smtp is None:
            self.smtp = smtplib.SMTP(self.host, self.port, timeout=10)
        return self.smtp

    def send(self, start: float, automation: str, entries: np.ndarray, occurrence: np.ndarray,
             recipients: list[str], subjects: list[str], sender: str) -> Outcomes:
        with self._lock:
            return self._send(automation, entries, occurrence, recipients, subjects, sender)

    def _send(self, automation: str, entries: np.ndarray, occurrence: np.ndarray, recipients: list[str],
              subjects: list[str], sender: str) -> Outcomes:
        import smtplib

        n = len(entries)
        sent_at, code = np.empty(n), np.zeros(n, np.int8)
        envelope = envelope_sender(sender)
        for i in range(n):
            sent_at[i] = self.now()
            if not recipient_ok(recipients[i]):  # every address was checked when read: a last guard on RCPT TO
                self.bad_headers += 1
                code[i] = SOFT
                continue
            try:
                msg = self._message(sender, recipients[i], subjects[i], message_id(
                    automation, int(entries[i]), int(occurrence[i])))
            except (ValueError, TypeError, email.errors.MessageError):
                # Loading refuses bad senders and subjects, and merged values are made safe, so this
                # is a last guard: this one send fails softly (no list consequence), the run goes on.
                self.bad_headers += 1
                code[i] = SOFT
                continue
            utf8 = not (recipients[i].isascii() and envelope.isascii())
            try:  # the envelope names the one recipient: never read back from a header
                refused = self._connection().send_message(msg, from_addr=envelope, to_addrs=[recipients[i]],
                                                          mail_options=("SMTPUTF8",) if utf8 else ())
                code[i] = HARD if refused else OK
            except smtplib.SMTPResponseException as err:
                code[i] = HARD if err.smtp_code >= 500 else SOFT
            except (smtplib.SMTPException, OSError, ValueError):  # ValueError: a socket closed under it
                self.smtp = None
                code[i] = SOFT
            sent_at[i] = self.now()
        return Outcomes(sent_at, sent_at.copy(), code)

    @staticmethod
    def _message(sender: str, recipient: str, subject: str, mid: str) -> EmailMessage:
        msg = EmailMessage()  # non-ASCII header text is encoded per RFC 2047 when sent
        msg["From"] = sender_header(sender)
        msg["To"] = recipient
        msg["Subject"] = header_safe(subject)
        msg["Message-ID"] = mid
        msg.set_content(subject)
        return msg

    def close(self) -> None:
        import smtplib

        with self._lock:
            if self.smtp is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError, ValueError):
                    self.smtp.quit()
                self.smtp = None


class SmtpSink:
    """A local aiosmtpd server on 127.0.0.1 that keeps what it receives."""

    def __init__(self, port: int = 0) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                from email import message_from_bytes, policy

                message = message_from_bytes(envelope.content, policy=policy.default)  # decodes headers
                sink.messages.append((list(envelope.rcpt_tos), message))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port or _free_port(),
                                     enable_SMTPUTF8=True)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
