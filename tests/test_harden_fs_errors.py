"""Hardening, class 4: file-system failures are one line naming the path and the cause, exit 2,
and leave nothing half-written (a rerun resumes to the same bytes).

Read-only folders and a full disk are simulated by failing writes under a folder
(:class:`tests.hardening.FsFault`), so the tests also run as root and without mounts.
"""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest

from occpose.cli import main

from .hardening import (FsFault, copy_bench, edit_manifest, fails_cleanly, fake_benchmark, gen, snapshot,
                        tree_bytes, write_tiny12)
from .hardening import preset, reference  # noqa: F401 (module-scoped fixtures)



@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A fake benchmark with PNGs for the frames its 'rendered' arrays list."""
    from PIL import Image

    from occpose.dataset import open_benchmark

    root = fake_benchmark(tmp_path_factory.mktemp("rendered") / "bench", frames=4, rendered=True)
    bench = open_benchmark(root)
    for e in bench.entries:
        for t in np.flatnonzero(bench.load(e).rendered):
            path = root / "sequences" / e.id / "frames" / f"{t:06d}.png"
            path.parent.mkdir(exist_ok=True)
            Image.new("RGB", (64, 64), (90, 90, 90)).save(path)
    edit_manifest(root, lambda m: [d["extra"].update(rendered_frames=2) for d in m["sequences"]])
    return root


def test_generate_into_a_read_only_folder(preset, tmp_path, capsys, monkeypatch):
    (tmp_path / "ro").mkdir()
    FsFault(monkeypatch, tmp_path / "ro", errno.EROFS)
    fails_cleanly(["generate", "--config", preset, "--out", tmp_path / "ro" / "bench", "--quiet",
                   "--workers", "1"], capsys, tmp_path, str(tmp_path / "ro"), "Read-only file system")


@pytest.mark.parametrize("after", [2, 9])
def test_disk_full_midway_leaves_whole_files_and_resumes(preset, reference, tmp_path, capsys,
                                                          monkeypatch, after):
    out = tmp_path / "bench"
    fault = FsFault(monkeypatch, out, errno.ENOSPC, after=after)
    line = fails_cleanly(["generate", "--config", preset, "--out", out, "--quiet", "--workers", "1"],
                         capsys, tmp_path, str(out), "No space left on device", "rerun",
                         allowed=out)
    assert fault.left == 0
    assert not list(out.rglob("*.tmp")) and not (out / ".occpose.lock").exists()
    for entry in out.glob("sequences/*/entry.json"):  # whatever is there is whole
        e = json.loads(entry.read_text())
        assert tree_bytes(out)[e["path"]] == tree_bytes(reference)[e["path"]]
    if (out / "manifest.json").exists():
        assert json.loads((out / "manifest.json").read_text())["status"] == "incomplete"
    monkeypatch.undo()                          # space freed: the rerun resumes to the same bytes
    assert gen(preset, out) == 0, line
    assert tree_bytes(out) == tree_bytes(reference)


def test_labels_report_into_a_read_only_benchmark(reference, tmp_path, capsys, monkeypatch):
    bench = copy_bench(reference, tmp_path / "bench")
    FsFault(monkeypatch, bench, errno.EROFS)
    fails_cleanly(["labels", bench], capsys, tmp_path, str(bench / "reports"),
                  "Read-only file system")


@pytest.mark.parametrize("command", ["generate", "show", "labels", "export-vp3d", "train", "merge",
                                     "sheet-dir"])
def test_out_that_is_an_existing_file_or_folder(command, preset, reference, rendered, tmp_path,
                                                capsys):
    f = tmp_path / "taken"
    f.write_text("the user's file")
    argv = {
        "generate": ["generate", "--config", preset, "--out", f, "--quiet"],
        "show": ["show", reference, "--out", f],
        "labels": ["labels", reference, "--out", f],
        "export-vp3d": ["export", reference, "--format", "videopose3d", "--out", f],
        "train": ["train", "--data", reference, "--model", "linear", "--out", f, "--epochs", "1",
                  "--device", "cpu", "--quiet", "--channels", "8"],
        "merge": ["merge", f, reference],
        "sheet-dir": ["sheet", rendered, "--out", tmp_path],   # a folder where a PNG should go
    }[command]
    fails_cleanly(argv, capsys, tmp_path, str(argv[argv.index("--out") + 1] if "--out" in argv else f))
    assert f.read_text() == "the user's file"


@pytest.mark.parametrize("damage", ["missing", "corrupt", "truncated", "bomb"])
def test_sheet_names_a_missing_or_corrupt_rendered_frame(rendered, tmp_path, capsys, damage):
    bench = copy_bench(rendered, tmp_path / "bench")
    frame = sorted(bench.glob("sequences/*/frames/*.png"))[0]
    seq_id = frame.parent.parent.name
    if damage == "missing":
        frame.unlink()
    elif damage == "corrupt":
        frame.write_bytes(b"not a png at all")
    elif damage == "truncated":
        frame.write_bytes(frame.read_bytes()[:40])
    else:  # a valid header claiming 60000 x 60000 pixels
        import struct
        import zlib

        ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
        chunk = b"IHDR" + ihdr
        frame.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
                          + struct.pack(">I", zlib.crc32(chunk)))
    before = snapshot(tmp_path)
    for argv in (["sheet", bench, "--sequence", seq_id, "--frames", "8", "--out", tmp_path / "s.png"],
                 ["show", bench, "--sequence", seq_id, "--frames", "4", "--out", tmp_path]):
        if argv[0] == "show" and damage == "missing":
            continue  # show draws a frame without a render over the occluders' silhouettes
        fails_cleanly(argv, capsys, tmp_path, str(frame))
    assert snapshot(tmp_path) == before
