"""One writer per output folder: ``DIR/.occpose.lock``.

The lock file is created atomically (a hard link of a complete temporary file, which fails when
the name exists) and records who holds it: ``{"pid", "host", "command", "started"}``. A second
command that wants to write the folder fails with a message naming the holder. A lock left by a
process that no longer runs on this host is stale and taken over; a lock from another host
cannot be checked, so the message says how to remove it by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
import weakref
from pathlib import Path

from ..errors import OccposeError

LOCK = ".occpose.lock"
_HELD: set[str] = set()  # lock files this process holds now


class LockedError(OccposeError):
    """The output folder is being written by another command."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return False
    return True


class FolderLock:
    """Hold ``root/.occpose.lock`` until :meth:`release` (or until this object is collected).

    Args:
        root: the folder to lock (created if missing).
        command: what holds it, shown to whoever finds the folder taken.
    Raises:
        LockedError: a live process (or one on another host) holds the folder.
    """

    def __init__(self, root: str | Path, command: str = "occpose-bench") -> None:
        self.root = Path(root)
        self.path = self.root / LOCK
        self.root.mkdir(parents=True, exist_ok=True)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        tmp = self.root / f".occpose.lock.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(info) + "\n", "utf-8")
        except OSError as e:  # read-only or full: name the folder the user gave
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise OSError(e.errno, f"cannot write there ({e.strerror})", str(self.root)) from None
        try:
            for _ in range(3):
                try:
                    os.link(tmp, self.path)
                    break
                except FileExistsError:
                    self._check_holder()  # raises unless the lock is stale (then removed)
            else:
                raise LockedError(f"{self.path}: could not take the folder lock (another command "
                                  f"keeps taking it)")
        finally:
            tmp.unlink(missing_ok=True)
        for left in self.root.glob(f"{LOCK}.stale.*"):  # a takeover killed midway; ours now
            left.unlink(missing_ok=True)
        self._key = str(self.path.resolve())
        _HELD.add(self._key)
        self._finalizer = weakref.finalize(self, _release, self.path, self._key)

    def _check_holder(self) -> None:
        try:
            info = json.loads(self.path.read_text("utf-8"))
            pid, host = int(info["pid"]), str(info["host"])
        except FileNotFoundError:
            return  # released meanwhile: try again
        except (OSError, ValueError, KeyError, TypeError):
            # unreadable: written by something else, or damaged; never created half-written by us
            raise LockedError(f"{self.path}: unreadable lock file; if no occpose command is "
                              f"writing {self.root}, delete it and rerun") from None
        mine = host == socket.gethostname()
        stale = mine and (not _alive(pid) or (pid == os.getpid()
                                              and str(self.path.resolve()) not in _HELD))
        if not stale:
            where = "" if mine else f" on host {host} (cannot be checked from here)"
            raise LockedError(f"{self.root}: is being written by {info.get('command', 'a command')} "
                              f"(pid {pid}{where}, since {info.get('started', '?')}); wait for it to "
                              f"finish, or delete {self.path} if it is not running")
        print(f"{self.path}: removing a stale lock of pid {pid}, which no longer runs",
              file=sys.stderr)
        # move aside first, so that two takers cannot both delete a fresh lock; two processes
        # finding the same stale lock at the same instant can still both go on (a narrow race)
        aside = self.path.with_name(f"{LOCK}.stale.{os.getpid()}")
        try:
            os.replace(self.path, aside)
            aside.unlink(missing_ok=True)
        except FileNotFoundError:
            pass

    def release(self) -> None:
        self._finalizer()

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _release(path: Path, key: str) -> None:
    _HELD.discard(key)
    try:
        info = json.loads(path.read_text("utf-8"))
        if int(info.get("pid", -1)) == os.getpid():
            path.unlink(missing_ok=True)
    except (OSError, ValueError, TypeError):
        pass
