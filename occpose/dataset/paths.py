"""Path safety for untrusted benchmarks: names and paths read from a manifest or ``entry.json``.

A benchmark is a folder people download and share, so nothing in its files may make occpose read
or write outside the folders the user named:

* a sequence id (and any other name that becomes part of a file name) is letters, digits,
  ``-`` and ``_`` only (:func:`check_name`);
* a path stored in a manifest is relative, has no ``..`` part, and resolves (symbolic links
  followed) inside the benchmark root (:func:`inside`).

Symbolic links (docs/format.md, "Symbolic links"): a benchmark root may itself be a link; links
inside it are followed only while their target stays inside the root. Writers never write through
a link that leaves the folder they write (:func:`check_no_escaping_link`).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..configio import is_safe_name
from ..errors import DatasetError


def check_name(name, where: str, what: str = "sequence id") -> str:
    """``name`` if it is a safe file-name part; else DatasetError naming ``where`` and the value."""
    if not isinstance(name, str) or not name.isascii() or not is_safe_name(name):
        raise DatasetError(f"{where}: {what} {name!r} is not a safe name (letters, digits, '-' "
                           f"and '_' only); refusing an entry that could name a path")
    return name


def _resolve(path: Path, where: str) -> Path:
    try:
        return path.resolve()
    except (RuntimeError, OSError) as e:  # a symbolic-link loop, an unreadable folder
        raise DatasetError(f"{where}: cannot resolve {path} ({e})") from None


def _within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def inside(root: str | Path, rel, where: str, what: str = "path",
           links: dict | None = None) -> Path:
    """``root / rel`` after checking that ``rel`` stays inside ``root``.

    Args:
        links: a dict shared by calls with the same ``root``: which folders were already found
            free of symbolic links (so a manifest of thousands of entries costs about one
            ``lstat`` per entry).
    Raises:
        DatasetError: naming ``where`` when ``rel`` is not a relative POSIX path without ``..``,
            or when it (following symbolic links) resolves outside ``root``.
    """
    check_inside(root, rel, where, what, links)
    return Path(root) / rel


def check_inside(root: str | Path, rel, where: str, what: str = "path",
                 links: dict | None = None) -> None:
    """:func:`inside` without building the path (string operations only: fast for manifests)."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\0" in rel:
        raise DatasetError(f"{where}: {what} {rel!r} is not a relative path")
    parts = rel.split("/")
    if rel.startswith("/") or ".." in parts:
        raise DatasetError(f"{where}: {what} {rel!r} leaves the benchmark folder; refusing it")
    links = {} if links is None else links
    prefix = os.fspath(root)
    for part in parts:  # no link on the way: lexically inside is inside
        if not part or part == ".":
            continue
        prefix = f"{prefix}/{part}"
        linked = links.get(prefix)
        if linked is None:
            linked = links[prefix] = os.path.islink(prefix)
        if linked:
            break
    else:
        return
    root = Path(root)
    real = _resolve(root / rel, where)
    if not _within(real, _resolve(root, where)):
        raise DatasetError(f"{where}: {what} {rel!r} resolves to {real}, outside "
                           f"{root}; refusing to follow a link out of the benchmark folder")


def check_no_escaping_link(root: str | Path, path: str | Path) -> None:
    """Refuse to write ``path`` when a symbolic link between ``root`` and it leads outside ``root``.

    A link that stays inside ``root`` is allowed (it is part of the user's layout).
    """
    root = Path(root)
    real_root = _resolve(root, str(root))
    rel = Path(path).relative_to(root) if Path(path).is_absolute() == root.is_absolute() else Path(path)
    cur = root
    for part in rel.parts:
        cur = cur / part
        if os.path.islink(cur) and not _within(_resolve(cur, str(cur)), real_root):
            raise DatasetError(f"{cur}: is a symbolic link to {os.readlink(cur)}, outside {root}; "
                               f"occpose does not write through it (remove the link)")
