"""Hardening, class 1: names and paths from a manifest never lead outside the benchmark folder.

Each case runs the command in-process and asserts exit 2, one stderr line naming the entry and
no traceback, and that nothing under the test's sandbox changed (listings and hashes).
"""

from __future__ import annotations

import json
import os

import pytest

from .hardening import copy_bench, edit_manifest, fails_cleanly, fake_benchmark, snapshot


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return fake_benchmark(tmp_path_factory.mktemp("clean") / "bench", frames=6)


@pytest.fixture
def sandbox(tmp_path, clean):
    """tmp_path/bench (a copy of the clean benchmark) and tmp_path/out (the user's folder)."""
    copy_bench(clean, tmp_path / "bench")
    (tmp_path / "out").mkdir()
    return tmp_path


def _set_first(root, **fields):
    edit_manifest(root, lambda m: m["sequences"][0].update(fields))


@pytest.mark.parametrize("bad_id", ["../../../x", "/tmp/occpose_evil", "a/b", "..", "S1 walk", ""])
def test_show_refuses_unsafe_sequence_ids(sandbox, capsys, bad_id):
    _set_first(sandbox / "bench", id=bad_id)
    fails_cleanly(["show", sandbox / "bench", "--out", sandbox / "out"], capsys, sandbox,
                  "sequences[0]", "not a safe name", repr(bad_id))
    assert not os.path.exists("/tmp/occpose_evil_frames.png")


@pytest.mark.parametrize("bad_path", ["../outside.npz", "/etc/passwd", "sequences/../../x.npz", ""])
def test_readers_refuse_paths_leaving_the_benchmark(sandbox, capsys, bad_path):
    (sandbox / "outside.npz").write_bytes(b"secret")
    _set_first(sandbox / "bench", path=bad_path)
    for argv in (["labels", sandbox / "bench", "--out", sandbox / "out" / "r"],
                 ["show", sandbox / "bench", "--out", sandbox / "out"],
                 ["export", sandbox / "bench", "--format", "coco", "--out", sandbox / "out" / "c.json"]):
        fails_cleanly(argv, capsys, sandbox, "sequences[0]", repr(bad_path))


def test_readers_refuse_a_symlink_out_of_the_benchmark(sandbox, capsys):
    bench = sandbox / "bench"
    first = json.loads((bench / "manifest.json").read_text())["sequences"][0]
    arrays = bench / first["path"]
    (sandbox / "elsewhere.npz").write_bytes(arrays.read_bytes())
    arrays.unlink()
    arrays.symlink_to(sandbox / "elsewhere.npz")
    fails_cleanly(["show", bench, "--out", sandbox / "out"], capsys, sandbox,
                  "outside", "link", first["id"])


def test_symlinks_inside_the_benchmark_and_a_linked_root_are_followed(sandbox, capsys):
    """docs/format.md: a link that stays inside the root is part of the user's layout."""
    from occpose.cli import main

    bench = sandbox / "bench"
    first = json.loads((bench / "manifest.json").read_text())["sequences"][0]
    arrays = bench / first["path"]
    (bench / "store").mkdir()
    os.replace(arrays, bench / "store" / "a.npz")
    arrays.symlink_to(bench / "store" / "a.npz")
    (sandbox / "linked").symlink_to(bench)
    assert main(["show", str(sandbox / "linked"), "--out", str(sandbox / "out")]) == 0
    assert sorted(p.name for p in (sandbox / "out").iterdir()) == [
        f"{first['id']}_3d.png", f"{first['id']}_frames.png"]


def test_export_refuses_unsafe_ids(sandbox, capsys):
    _set_first(sandbox / "bench", id="../../pwn")
    fails_cleanly(["export", sandbox / "bench", "--format", "videopose3d", "--out", sandbox / "out" / "vp"],
                  capsys, sandbox, "'../../pwn'", "not a safe name")


def test_merge_refuses_an_entry_naming_another_folder(sandbox, capsys, tmp_path):
    bench = sandbox / "bench"
    entry_file = next((bench / "sequences").glob("*/entry.json"))
    e = json.loads(entry_file.read_text())
    e["id"] = "../../../merged_evil"
    entry_file.write_text(json.dumps(e))
    fails_cleanly(["merge", sandbox / "out" / "merged", bench], capsys, sandbox,
                  str(entry_file), "does not match its folder", allowed=sandbox / "out" / "merged")
    assert not (sandbox / "merged_evil").exists()


def test_merge_refuses_a_shard_whose_arrays_path_leaves_it(sandbox, capsys):
    bench = sandbox / "bench"
    entry_file = next((bench / "sequences").glob("*/entry.json"))
    e = json.loads(entry_file.read_text())
    frames = entry_file.parent / "frames"
    frames.mkdir()
    (frames / "000000.png").symlink_to("/etc/hostname")
    fails_cleanly(["merge", sandbox / "out" / "merged", bench], capsys, sandbox,
                  "000000.png", "outside", allowed=sandbox / "out" / "merged")
    assert not (sandbox / "out" / "merged" / "sequences" / e["id"]).exists()


def test_generate_never_writes_through_a_link_out_of_its_folder(tiny_preset, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "keep.txt").write_text("mine")
    (out / "sequences").symlink_to(tmp_path / "victim")
    fails_cleanly(["generate", "--config", tiny_preset, "--out", out, "--quiet", "--workers", "1"],
                  capsys, tmp_path, "sequences", "symbolic link", "does not write through",
                  allowed=None)
    assert snapshot(tmp_path / "victim") == {"keep.txt": snapshot(tmp_path)["victim/keep.txt"]}


def test_labels_never_writes_through_a_reports_link_out_of_the_benchmark(sandbox, capsys):
    (sandbox / "victim").mkdir()
    (sandbox / "bench" / "reports").symlink_to(sandbox / "victim")
    fails_cleanly(["labels", sandbox / "bench"], capsys, sandbox, "reports", "symbolic link",
                  "does not write through")
    assert not any((sandbox / "victim").iterdir())


def test_resume_never_takes_an_entry_pointing_at_another_sequences_arrays(tiny_preset, tmp_path):
    """entry.json of A naming B's (valid) arrays is not a complete A: A is redone."""
    from .hardening import gen, tree_bytes, write_tiny12

    preset = write_tiny12(tmp_path)
    assert gen(preset, tmp_path / "ref") == 0
    out = copy_bench(tmp_path / "ref", tmp_path / "b")
    edit_manifest(out, lambda m: m.update(status="incomplete"))
    a = out / "sequences" / "S1_walk_cam0_L000"
    e = json.loads((a / "entry.json").read_text())
    b = json.loads((out / "sequences" / "S1_box_cam0_L000" / "entry.json").read_text())
    (a / "arrays.npz").unlink()
    e.update(path=b["path"], sha256=b["sha256"])
    (a / "entry.json").write_text(json.dumps(e))
    assert gen(preset, out) == 0
    assert tree_bytes(out) == tree_bytes(tmp_path / "ref")


@pytest.mark.parametrize("command", ["image-predict", "image-train", "sheet", "train", "labels"])
def test_every_reader_refuses_an_unsafe_id(sandbox, capsys, command):
    _set_first(sandbox / "bench", id="../../pwn")
    b, o = sandbox / "bench", sandbox / "out"
    argv = {"image-predict": ["image-predict", "--data", b, "--run", o / "run"],
            "image-train": ["image-train", "--data", b, "--out", o / "run", "--quiet"],
            "sheet": ["sheet", b, "--out", o / "s.png"],
            "train": ["train", "--data", b, "--model", "linear", "--out", o / "run", "--device", "cpu",
                      "--quiet"],
            "labels": ["labels", b]}[command]
    fails_cleanly(argv, capsys, sandbox, "sequences[0]", "'../../pwn'", "not a safe name")
    assert not (sandbox.parent / "pwn").exists()


def test_detector_predictions_are_read_only_inside_the_run(tmp_path):
    """``detector:RUN`` reads RUN/keypoints2d/<id>.npy; an id from imported data (which may
    hold spaces) can never make it read a file outside that folder."""
    import numpy as np

    from occpose.errors import OccposeError
    from occpose.harness.inputs import _load_detector

    class Seq:
        def __init__(self, sid):
            self.id, self.joints_2d = sid, np.zeros((3, 17, 2))

    run = tmp_path / "run"
    (run / "keypoints2d").mkdir(parents=True)
    np.save(tmp_path / "secret.npy", np.zeros((3, 17, 2)))
    np.save(run / "keypoints2d" / "walk 1.npy", np.ones((3, 17, 2)))
    assert _load_detector(Seq("walk 1"), run).sum() == 3 * 17 * 2
    with pytest.raises(OccposeError, match="leaves the benchmark folder"):
        _load_detector(Seq("../../secret"), run)
