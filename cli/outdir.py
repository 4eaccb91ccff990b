"""Output folders that never mix runs and never look complete when they are not.

A run writes into a hidden temporary folder next to its destination and
moves it into place once everything is written (one `rename`, atomic on
one file system). An existing destination is refused unless it is empty,
or `--force` is given and it holds an earlier dripsim output; a folder that
does not look like one (no summary.json, sweep.json or calibration.json) is
never deleted.

Two runs into one `--out` are serialised by a lock beside it (`.NAME.lock`, `flock`): the second is
refused with one line at its start, not after its run, where one run's outputs used to vanish. A
staging folder carries a marker naming its process; the next run into the same parent removes the
staging folders of processes that are gone (`kill -9` leaves one; nothing else ever cleans it), and
only those: dripsim's own name pattern, its marker, and a dead owner.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

from sim.files import create_text

MARKERS = ("summary.json", "sweep.json", "calibration.json")
STAGING_MARK = ".dripsim-staging"  # in every staging folder: the pid that writes it
_LOCKS: dict[Path, int] = {}  # staging folder -> the lock's file descriptor, held until commit or discard


class OutError(Exception):
    """The output folder cannot be used: one line, naming it."""


def _is_output(folder: Path) -> bool:
    if any((folder / m).exists() for m in MARKERS):
        return True
    children = list(folder.iterdir())
    return bool(children) and all(c.is_dir() and any((c / m).exists() for m in MARKERS) for c in children)


def check(out: Path, force: bool, flag: str = "--out") -> None:
    """Refuse, before any time is spent, a destination that would mix or destroy outputs."""
    if not out.exists():
        parent = next((p for p in out.absolute().parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise OutError(f"{flag} {out}: {parent} is a file, not a folder")
        return
    if not out.is_dir():
        raise OutError(f"{flag} {out}: exists and is a file")
    if not any(out.iterdir()):
        return
    if not force:
        raise OutError(f"{flag} {out}: exists and is not empty (choose another folder, "
                       "or add --force to replace an earlier dripsim output)")
    if Path.cwd().resolve().is_relative_to(out.resolve()):
        raise OutError(f"{flag} {out}: is the current folder or holds it; not replacing it")
    if not _is_output(out):
        raise OutError(f"{flag} {out}: holds files that are not a dripsim output; not replacing it")


def unused(base: Path) -> Path:
    """`base`, or `base-2`, `base-3`... whichever does not exist yet (default output names)."""
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def staging(out: Path, flag: str = "--out") -> Path:
    """A fresh hidden folder beside `out` to write into, with the lock on `out` held until `commit` or
    `discard`; a second run into `out` meanwhile is refused. Staging folders of dead runs are removed."""
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(out, flag)
        try:
            clean_stale(parent)
            staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=parent))
            create_text(staged / STAGING_MARK, f"{os.getpid()}\n")
        except BaseException:
            _unlock(out, lock)
            raise
    except OSError as err:  # a read-only folder, a parent that is a file: said before the run, not after
        raise OutError(f"{flag} {out}: cannot write there ({err.strerror or err})") from None
    _LOCKS[staged] = lock
    staged.chmod(0o777 & ~_umask())  # mkdtemp's folder is private; an output folder is not
    return staged


def _lock_path(out: Path) -> Path:
    return out.absolute().parent / f".{out.name}.lock"


def _lock(out: Path, flag: str) -> int:
    fd = os.open(_lock_path(out), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OutError(f"{flag} {out}: another dripsim run is writing there; wait for it to end, "
                       "or choose another folder") from None
    return fd


def _unlock(out: Path, fd: int) -> None:
    with contextlib.suppress(OSError):
        os.unlink(_lock_path(out))  # while still held: a run that opened it meanwhile was refused
    os.close(fd)


def _owner_alive(folder: Path) -> bool:
    try:
        pid = int((folder / STAGING_MARK).read_text().strip())
    except (OSError, ValueError):
        return True  # no readable marker: not known to be ours, never removed
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(parent: Path) -> list[Path]:
    """Remove the staging folders (`.NAME.*.partial`, `.NAME.*.old`) in `parent` whose marker names a
    process that is gone; returns them."""
    removed = []
    for entry in parent.glob(".*.*"):
        if not (entry.name.endswith((".partial", ".old")) and entry.is_dir() and not entry.is_symlink()):
            continue
        if (entry / STAGING_MARK).is_file() and not _owner_alive(entry):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def commit(staged: Path, out: Path, force: bool, flag: str = "--out") -> None:
    """Move the finished `staged` folder to `out`, replacing an earlier output only with `force`."""
    with contextlib.suppress(FileNotFoundError):
        (staged / STAGING_MARK).unlink()  # a finished output is not a staging folder
    try:
        _commit(staged, out, force, flag)
    finally:
        release(staged, out)


def release(staged: Path, out: Path) -> None:
    lock = _LOCKS.pop(staged, None)
    if lock is not None:
        _unlock(out, lock)


def _commit(staged: Path, out: Path, force: bool, flag: str) -> None:
    if out.exists() and out.is_dir() and any(out.iterdir()):
        check(out, force, flag)  # another run may have filled it meanwhile
        old = staged.with_name(staged.name.removesuffix(".partial") + ".old")
        os.rename(out, old)
        with contextlib.suppress(OSError):  # killed before the next line: the next run removes it
            create_text(old / STAGING_MARK, f"{os.getpid()}\n")
        os.rename(staged, out)
        shutil.rmtree(old, ignore_errors=True)
        return
    if out.exists():
        out.rmdir()  # empty: replaced by the finished folder
    try:
        os.rename(staged, out)
    except OSError as err:  # e.g. created and filled by a concurrent run in between
        raise OutError(f"{flag} {out}: could not move the finished outputs into place "
                       f"({err.strerror}); they are in {staged}") from None


def discard(staged: Path, out: Path | None = None) -> None:
    shutil.rmtree(staged, ignore_errors=True)
    if out is not None:
        release(staged, out)
