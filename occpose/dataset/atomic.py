"""Atomic file writes: write to a temporary name in the same folder, fsync, rename.

A crash never leaves a half-written file under the final name; a rerun sees either the old
file or the complete new one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except OSError as e:
        if e.filename is None or e.filename == str(tmp_path):  # name the file the user knows
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete ``.*.tmp`` files left by a crash in ``folder`` (recursively); returns how many."""
    n = 0
    for p in Path(folder).rglob(".*.tmp"):
        if p.is_file() or p.is_symlink():
            p.unlink(missing_ok=True)
            n += 1
    return n


# --------------------------------------------------------------------- sets of files
_SET_PREFIX = ".occpose-set-"


@contextlib.contextmanager
def staged_file_set(folder: str | Path, tag: str) -> Iterator[Path]:
    """Write several files that belong together (an export) so they appear as a whole set.

    Yields a fresh temporary folder inside ``folder``; whatever plain files the block writes there
    are moved into ``folder`` when it ends without an exception (else the temporary folder is
    removed). The move is journalled: ``.occpose-set-<tag>.commit`` lists the files; then the old
    files of those names are deleted, the new ones renamed in, and the journal removed. A crash
    therefore leaves the old set, or the new set, or (mid-move) an incomplete set that the next
    call with the same ``folder`` finishes (:func:`recover_file_sets`) -- never old and new files
    mixed. Temporaries of a crashed run are removed by the next call.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        from ..errors import OccposeError

        raise OccposeError(f"{folder}: exists and is not a directory")
    folder.mkdir(parents=True, exist_ok=True)
    recover_file_sets(folder)
    stage = folder / f"{_SET_PREFIX}{tag}.tmp"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        yield stage
        names = sorted(p.name for p in stage.iterdir() if p.is_file() and not p.is_symlink())
        for name in names:
            with open(stage / name, "rb") as f:
                os.fsync(f.fileno())
        atomic_write_text(folder / f"{_SET_PREFIX}{tag}.commit", "\n".join(names) + "\n")
        _finish_set(folder, tag)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _finish_set(folder: Path, tag: str) -> None:
    journal = folder / f"{_SET_PREFIX}{tag}.commit"
    stage = folder / f"{_SET_PREFIX}{tag}.tmp"
    names = [n for n in journal.read_text("utf-8").splitlines() if n]
    # a name missing from the stage was moved in before a crash: it is new, keep it
    for n in names:
        if (stage / n).is_file():
            (folder / n).unlink(missing_ok=True)
    for n in names:
        if (stage / n).is_file():
            os.replace(stage / n, folder / n)
    journal.unlink()
    shutil.rmtree(stage, ignore_errors=True)


def recover_file_sets(folder: str | Path) -> None:
    """Finish the file sets whose move was journalled; remove the temporaries of unfinished ones."""
    folder = Path(folder)
    for journal in folder.glob(f"{_SET_PREFIX}*.commit"):
        _finish_set(folder, journal.name[len(_SET_PREFIX):-len(".commit")])
    for stage in folder.glob(f"{_SET_PREFIX}*.tmp"):
        shutil.rmtree(stage, ignore_errors=True)
