"""Email addresses and header text that cannot smuggle a recipient or a header.

An address is checked by `email-validator` (RFC 5321/5322 syntax, one
address, no display name, no comments): `victim,attacker@evil.example` and
`<x>y@evil.example` are refused, so one subscriber is one `RCPT TO`. The
transport still passes the envelope recipient explicitly, never taken from
a header. Header text (subjects, senders) may hold no control character nor
Unicode line separator; merged values have them replaced by spaces.
"""

from __future__ import annotations

import re
import unicodedata
from email.headerregistry import Address
from email.utils import parseaddr

# Characters some part of the email stack treats as a line end, plus every other control character.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class AddressError(ValueError):
    pass


def check_address(text: str) -> str:
    """`text` if it is one plain email address; `AddressError` saying what is wrong otherwise."""
    from email_validator import EmailNotValidError, validate_email  # 15 ms to import: only when used

    try:
        validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError as err:
        raise AddressError(f"{text!r} is not one email address: {err}") from None
    return text


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
