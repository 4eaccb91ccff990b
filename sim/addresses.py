"""Email addresses and header text that cannot smuggle a recipient or a header.

An address is checked by `email-validator` (RFC 5321/5322 syntax, one
address, no display name, no comments): `victim,attacker@evil.example` and
`<x>y@evil.example` are refused, so one subscriber is one `RCPT TO`. The
transport still passes the envelope recipient explicitly, never taken from
a header. Header text (subjects, senders) may hold no control character nor
Unicode line separator; merged values have them replaced by spaces.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from email.headerregistry import Address
from email.utils import parseaddr

from sim.files import shown

# Characters some part of the email stack treats as a line end, plus every other control character.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class AddressError(ValueError):
    pass


def check_address(text: str) -> str:
    """`text` if it is one plain email address; `AddressError` saying what is wrong otherwise."""
    why = refusal(text)
    if why is not None:
        raise AddressError(f"{text!r} is not one email address: {why}")
    return text


@functools.lru_cache(maxsize=1 << 16)
def recipient_ok(text: str) -> bool:
    """Whether `text` may be an envelope recipient (`RCPT TO`): one address by `check_address`'s rule."""
    return refusal(text) is None


def refusal(text: str) -> str | None:
    """Why `text` is not one plain email address (email-validator's words), or None."""
    from email_validator import EmailNotValidError, validate_email  # 15 ms to import: only when used

    try:
        validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError as err:
        return str(err)
    return None


def check_sender(text: str) -> str:
    """A From: `news@example.com` or `Newsletter <news@example.com>`; refused if it holds more."""
    if _BREAKS.search(text):
        raise AddressError(f"{text!r} holds a control character or line break")
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(text, check_deliverability=False, test_environment=True, allow_display_name=True)
    except EmailNotValidError as err:
        raise AddressError(f"{text!r} is not one sender address: {err}") from None
    return text


def envelope_sender(text: str) -> str:
    """The address part of a checked sender, for MAIL FROM."""
    return parseaddr(text)[1] or text


def sender_header(text: str) -> Address:
    """A checked sender as a header value the `email` package encodes (RFC 2047 for a non-ASCII name)."""
    name, address = parseaddr(text)
    local, _, domain = (address or text).rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def check_header_text(text: str) -> str:
    """A subject template: printable text on one line."""
    bad = _BREAKS.search(text)
    if bad:
        raise ValueError(f"holds {unicodedata.name(bad.group(), repr(bad.group()))} "
                         f"(U+{ord(bad.group()):04X}); a header is one line of printable text")
    return text


def header_safe(value: str) -> str:
    """A merged value made safe for a header: line breaks and control characters become spaces."""
    return _BREAKS.sub(" ", value)


# A plain address email-validator accepts whatever its domain: dot-atom local part of the common
# characters, 64 at most. Rows that do not match it, and each distinct domain, go to `check_address`.
_PLAIN = r"^[A-Za-z0-9_+\-]+(\.[A-Za-z0-9_+\-]+)*@[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,250}[A-Za-z0-9])?$"
_DOMAINS: dict[str, str | None] = {}  # domain -> why it is refused (None: accepted)


def first_bad_address(column: object) -> tuple[int, str] | None:
    """The first row of an Arrow text column that is not one email address by `check_address`'s rule,
    and why (the value shown short and escaped), or None: the rule of a scenario's addresses, for
    columns of millions (a regular expression in Arrow, email-validator for the rest and per domain)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    assert isinstance(column, pa.Array)
    empty = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(column), 0), True), dtype=bool)
    plain = np.asarray(pc.fill_null(pc.match_substring_regex(column, _PLAIN), False), dtype=bool)
    plain &= np.asarray(pc.fill_null(pc.less_equal(pc.utf8_length(column), 254), False), dtype=bool)
    local = pc.utf8_length(pc.extract_regex(column, r"^(?P<l>[^@]*)@").field("l")) if len(column) else None
    if local is not None:
        plain &= np.asarray(pc.fill_null(pc.less_equal(local, 64), False), dtype=bool)
    bad: list[tuple[int, str]] = []
    if empty.any():
        bad.append((int(np.flatnonzero(empty)[0]), "empty"))
    for i in np.flatnonzero(~plain & ~empty).tolist():  # unusual ones (non-ASCII, quoted...): each checked
        value = str(column[i].as_py())
        why = refusal(value)
        if why is not None:
            bad.append((i, f"the value {shown(value, 40)} is not one email address: {why[:120]}"))
            break
    if plain.any():
        domains = pc.extract_regex(column.filter(pa.array(plain)), r"@(?P<d>.*)$").field("d")
        for domain in pc.unique(domains).to_pylist():
            if domain not in _DOMAINS:
                _DOMAINS[domain] = refusal(f"a@{domain}")
            if _DOMAINS[domain] is not None:
                ends = np.asarray(pc.fill_null(pc.ends_with(column, "@" + domain), False), dtype=bool)
                at = int(np.flatnonzero(plain & ends)[0])
                bad.append((at, f"the value {shown(column[at].as_py(), 40)} is not one email address: "
                                f"{str(_DOMAINS[domain])[:120]}"))
                break
    return min(bad) if bad else None

