"""Helpers of the hardening tests (test_harden_*.py): run a command, snapshot folders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from occpose.cli import main

from .conftest import REPO, TINY_PRESET
from .test_interop_videopose3d import make_fake_benchmark


def snapshot(root: Path, skip: Path | None = None) -> dict[str, str]:
    """relative path -> sha256 (or "dir" / "link:target") of everything under ``root``, except
    under ``skip`` (the folder a command is meant to write)."""
    out = {}
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if skip is not None and (d == skip or skip in d.parents):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = d / name
            rel = str(p.relative_to(root))
            if skip is not None and p == skip:
                continue
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def fails_cleanly(argv: list[str], capsys, sandbox: Path, *needles: str, allowed: Path | None = None,
                  code: int = 2) -> str:
    """Run ``occpose-bench argv`` in-process; assert exit ``code``, one stderr line without a
    traceback that contains every needle, and nothing changed under ``sandbox`` (except under
    ``allowed``). Returns the line."""
    before = snapshot(sandbox, allowed)
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == code, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]
    assert snapshot(sandbox, allowed) == before
    return lines[0]


def fake_benchmark(root: Path, **kw) -> Path:
    make_fake_benchmark(root, **kw)
    return root


def edit_manifest(root: Path, fn) -> None:
    path = Path(root) / "manifest.json"
    m = json.loads(path.read_text())
    fn(m)
    path.write_text(json.dumps(m, indent=1))


def copy_bench(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


# conftest's tiny preset with 12-frame sequences
TINY12 = TINY_PRESET.replace("frames = 40\n", "frames = 12\n")
assert TINY12 != TINY_PRESET


def write_tiny12(folder: Path) -> Path:
    """A 2-subject x 2-action x 2-level preset of 12-frame sequences (about 1 s to generate)."""
    path = Path(folder) / "tiny12.toml"
    path.write_text(TINY12.format(scenes=REPO / "scenes"))
    return path


def gen(preset: Path, out: Path, *extra) -> int:
    return main(["generate", "--config", str(preset), "--out", str(out), "--quiet", "--workers", "1",
                 *map(str, extra)])


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path -> bytes (the lock file excluded)."""
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".occpose.lock"}


class FsFault:
    """Make writes under ``root`` fail with ``errno`` (monkeypatched ``open``/``os`` calls):
    ``after`` write-opens succeed first (a disk that fills up midway). Reads are untouched."""

    def __init__(self, monkeypatch, root: Path, err: int, after: int = 0) -> None:
        import builtins
        import errno as _errno
        import io

        self.root, self.err, self.left = str(Path(root).absolute()), err, after
        self.msg = os.strerror(err)
        real_os_open, real_open = os.open, io.open
        write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND

        def under(path) -> bool:
            try:
                return os.path.abspath(os.fsdecode(path)).startswith(self.root)
            except TypeError:
                return False

        def fail(path):
            raise OSError(self.err, self.msg, os.fsdecode(path))

        def writing(path) -> bool:
            if not under(path):
                return False
            if self.left > 0:
                self.left -= 1
                return False
            return True

        def os_open(path, flags, *a, **k):
            if flags & write_flags and writing(path):
                fail(path)
            return real_os_open(path, flags, *a, **k)

        def io_open(file, mode="r", *a, **k):
            if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+") \
                    and writing(file):
                fail(file)
            return real_open(file, mode, *a, **k)

        def guard(real, nargs=1):
            def wrapped(*a, **k):
                if any(under(x) for x in a[:nargs]) and (self.err != _errno.ENOSPC or writing(a[0])):
                    fail(a[0])
                return real(*a, **k)
            return wrapped

        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr(io, "open", io_open)
        monkeypatch.setattr(builtins, "open", io_open)
        monkeypatch.setattr(os, "mkdir", guard(os.mkdir))
        if err != _errno.ENOSPC:  # a full disk still renames and links
            monkeypatch.setattr(os, "replace", guard(os.replace, 2))
            monkeypatch.setattr(os, "link", guard(os.link, 2))


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    """The tiny 12-sequence preset (a module's own copy)."""
    return write_tiny12(tmp_path_factory.mktemp("preset"))


@pytest.fixture(scope="module")
def reference(preset, tmp_path_factory):
    """One uninterrupted run of the tiny preset."""
    out = tmp_path_factory.mktemp("ref") / "bench"
    assert gen(preset, out) == 0
    return out
