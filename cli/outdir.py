"""Output folders that never mix runs and never look complete when they are not.

A run writes into a hidden temporary folder next to its destination and
moves it into place once everything is written (one `rename`, atomic on
one file system). An existing destination is refused unless it is empty,
or `--force` is given and it holds an earlier dripsim output; a folder that
does not look like one (no summary.json, sweep.json or calibration.json) is
never deleted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MARKERS = ("summary.json", "sweep.json", "calibration.json")


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


def staging(out: Path) -> Path:
    """A fresh hidden folder beside `out` to write into."""
    try:
        out.absolute().parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.absolute().parent))
    except OSError as err:  # a read-only folder, a parent that is a file: said before the run, not after
        raise OutError(f"--out {out}: cannot write there ({err.strerror or err})") from None
    staged.chmod(0o777 & ~_umask())  # mkdtemp's folder is private; an output folder is not
    return staged


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def commit(staged: Path, out: Path, force: bool, flag: str = "--out") -> None:
    """Move the finished `staged` folder to `out`, replacing an earlier output only with `force`."""
    if out.exists() and out.is_dir() and any(out.iterdir()):
        check(out, force, flag)  # another run may have filled it meanwhile
        old = staged.with_name(staged.name.removesuffix(".partial") + ".old")
        os.rename(out, old)
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


def discard(staged: Path) -> None:
    shutil.rmtree(staged, ignore_errors=True)
