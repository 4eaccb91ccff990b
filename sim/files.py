"""Reading what a user gives and writing what a run makes, without trusting the file system.

- A scenario's own files (a replay's `file`) resolve inside the scenario's folder, or under a
  root the command line allows (`--allow-root DIR`); absolute paths and `..` that leave it are
  refused (`confined`). Scenarios are shared files: CI may run a pull request's.
- Only regular files are read: a FIFO, a device or a folder given as data is refused before it
  is opened for reading (a FIFO would block, `/dev/zero` would never end). Reads are bounded.
- Outputs are created, never opened: `O_CREAT | O_EXCL | O_NOFOLLOW`, so a planted symlink or an
  existing file at an output's name is an error, not a write through it.
- Error lines name the file and what is wrong; a value from the file is shown only as `shown`
  makes it: short, escaped, labelled.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterable
from pathlib import Path

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFDIR: "a folder", stat.S_IFSOCK: "a socket"}


class FileRefused(ValueError):
    """A path that may not be read or written: one line naming it and why."""


def shown(value: object, limit: int = 24) -> str:
    """A value from a user's file, as an error line may show it: escaped (`repr`), at most `limit` characters."""
    text = repr(str(value))
    return text if len(text) <= limit + 2 else text[:limit] + "...'"


def confined(given: str, base: Path, roots: Iterable[Path] = ()) -> Path:
    """`given` (relative to `base`, the scenario's folder) if it resolves inside `base` or an allowed root."""
    path = Path(given)
    full = path if path.is_absolute() else base / path
    resolved = full.resolve()
    allowed = [base.resolve(), *(Path(r).resolve() for r in roots)]
    if not any(resolved.is_relative_to(a) for a in allowed):
        raise FileRefused(f"{given!r} lies outside the scenario's folder {allowed[0]} (a scenario reads only "
                          "its own folder; allow another with --allow-root DIR)")
    return full


def regular(path: Path, what: str = "file") -> os.stat_result:
    """The file's status if it is a regular file (after links); one line naming what it is otherwise."""
    try:
        status = path.stat()
    except FileNotFoundError:
        raise FileRefused(f"no such {what}: {path.absolute()}") from None
    except OSError as err:
        raise FileRefused(f"{path}: cannot read: {err.strerror or err}") from None
    if not stat.S_ISREG(status.st_mode):
        kind = _KINDS.get(stat.S_IFMT(status.st_mode), "not a regular file")
        raise FileRefused(f"{path}: is {kind}, not a regular file")
    return status


def read_bytes(path: Path, limit: int, what: str = "file") -> bytes:
    """A regular file's bytes, at most `limit`; never through a symlink at `path` itself."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise FileRefused(f"no such {what}: {path.absolute()}") from None
    except OSError as err:
        reason = "is a symbolic link" if os.path.islink(path) else (err.strerror or str(err))
        raise FileRefused(f"{path}: cannot read: {reason}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise FileRefused(f"{path}: is {_KINDS.get(stat.S_IFMT(mode), 'not a regular file')}, not a regular file")
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise FileRefused(f"{path}: larger than {limit // 2**20} MB")
    return data


def create(path: Path) -> io.BufferedWriter:
    """A new file at `path` to write: refused if anything (a file, a symlink) is already there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    return os.fdopen(fd, "wb")


def create_bytes(path: Path, data: bytes) -> None:
    with create(path) as f:
        f.write(data)


def create_text(path: Path, text: str) -> None:
    create_bytes(path, text.encode("utf-8"))
