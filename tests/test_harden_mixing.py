"""Hardening, class 2: a benchmark is never silently mixed.

Folder lock, per-sequence configuration hash, ``complete`` checked on read, ``--overwrite`` and
reports, export files written as one set.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from occpose.cli import main
from occpose.dataset.lock import LOCK

from .hardening import (copy_bench, edit_manifest, fails_cleanly, fake_benchmark, gen, snapshot,
                        tree_bytes, write_tiny12)
from .hardening import preset, reference  # noqa: F401 (module-scoped fixtures)



def _lock_file(folder, pid, host=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                           "command": "occpose-bench generate",
                                           "started": "2026-01-01 00:00:00"}))


def test_a_folder_being_written_is_refused(preset, reference, tmp_path, capsys):
    out = copy_bench(reference, tmp_path / "bench")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _lock_file(out, sleeper.pid)
        for extra in ((), ("--overwrite", "--set", "benchmark.seed=8")):
            fails_cleanly(["generate", "--config", preset, "--out", out, "--quiet", *extra], capsys,
                          tmp_path, "is being written by occpose-bench generate", f"pid {sleeper.pid}")
        fails_cleanly(["merge", out, reference], capsys, tmp_path, "is being written")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_lock_from_another_host_is_refused_with_advice(preset, tmp_path, capsys):
    _lock_file(tmp_path / "bench", 1, host="elsewhere.invalid")
    fails_cleanly(["generate", "--config", preset, "--out", tmp_path / "bench", "--quiet"], capsys,
                  tmp_path, "on host elsewhere.invalid", "delete")


def test_a_stale_lock_of_a_dead_process_is_taken_over(preset, reference, tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _lock_file(tmp_path / "bench", dead.pid)
    assert gen(preset, tmp_path / "bench") == 0
    assert "stale lock" in capsys.readouterr().err
    assert tree_bytes(tmp_path / "bench") == tree_bytes(reference)
    assert not (tmp_path / "bench" / LOCK).exists()


def test_two_generate_runs_at_once_never_mix(preset, tmp_path):
    """Real concurrency: two processes, the second with --overwrite and another config."""
    out = tmp_path / "bench"
    cmd = [sys.executable, "-m", "occpose", "generate", "--config", str(preset), "--out", str(out),
           "--quiet", "--workers", "1"]
    a = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    b = subprocess.Popen(cmd + ["--overwrite", "--set", "benchmark.seed=8"], stderr=subprocess.PIPE,
                         text=True)
    ra, rb = a.wait(120), b.wait(120)
    errs = a.stderr.read() + b.stderr.read()
    seqs = [json.loads(p.read_text()) for p in sorted(out.glob("sequences/*/entry.json"))]
    manifest = json.loads((out / "manifest.json").read_text())
    # every stored sequence belongs to the manifest's configuration
    assert {s["config_sha256"] for s in seqs} == {manifest["config_sha256"]}
    assert sorted((ra, rb)) in ([0, 0], [0, 2]), errs
    if 2 in (ra, rb):  # refused while the other held the lock, or after it finished (the
        # plain run then finds the other configuration's complete benchmark)
        assert "is being written" in errs or "made from a different configuration" in errs, errs


def test_resume_redoes_a_sequence_of_another_configuration(preset, reference, tmp_path):
    other = tmp_path / "other"
    assert gen(preset, other, "--set", "benchmark.seed=8") == 0
    out = copy_bench(reference, tmp_path / "bench")
    edit_manifest(out, lambda m: m.update(status="incomplete"))
    sid = "S1_walk_cam0_L020"
    shutil.rmtree(out / "sequences" / sid)
    shutil.copytree(other / "sequences" / sid, out / "sequences" / sid)  # same id, seed 8
    assert gen(preset, out) == 0
    assert tree_bytes(out) == tree_bytes(reference)


def test_merge_refuses_a_sequence_of_another_configuration(preset, reference, tmp_path, capsys):
    other = tmp_path / "other"
    assert gen(preset, other, "--set", "benchmark.seed=8") == 0
    shard = copy_bench(reference, tmp_path / "shard")
    sid = "S4_box_cam0_L000"
    shutil.rmtree(shard / "sequences" / sid)
    shutil.copytree(other / "sequences" / sid, shard / "sequences" / sid)
    fails_cleanly(["merge", tmp_path / "merged", shard], capsys, tmp_path,
                  f"{sid}/entry.json", "refusing to mix", allowed=tmp_path / "merged")
    assert not (tmp_path / "merged" / "sequences" / sid).exists()


@pytest.mark.parametrize("command", ["labels", "show", "export"])
def test_a_complete_manifest_missing_an_entry_is_refused(reference, tmp_path, capsys, command):
    out = copy_bench(reference, tmp_path / "bench")
    edit_manifest(out, lambda m: m["sequences"].pop(3))
    argv = {"labels": ["labels", out, "--out", tmp_path / "r"],
            "show": ["show", out, "--out", tmp_path],
            "export": ["export", out, "--format", "coco", "--out", tmp_path / "c.json"]}[command]
    fails_cleanly(argv, capsys, tmp_path, "status is 'complete'", "lacks 1 planned sequence(s)",
                  "S1_box_cam0_L020")


def test_overwrite_removes_old_reports_only_when_the_new_run_can_start(preset, reference, tmp_path,
                                                                        capsys):
    out = copy_bench(reference, tmp_path / "bench")
    (out / "reports" / "labels").mkdir(parents=True)
    (out / "reports" / "labels" / "agreement.md").write_text("old benchmark's report")
    # not feasible: a bad override, a size that cannot fit -> nothing is deleted
    fails_cleanly(["generate", "--config", preset, "--out", out, "--overwrite", "--set",
                   "benchmark.frames=-3"], capsys, tmp_path, "benchmark.frames")
    fails_cleanly(["generate", "--config", preset, "--out", out, "--overwrite", "--set",
                   "benchmark.frames=1000000000"], capsys, tmp_path, "--force-size")
    assert gen(preset, out, "--overwrite", "--set", "benchmark.seed=8") == 0
    assert not (out / "reports").exists()
    assert json.loads((out / "manifest.json").read_text())["seed"] == 8


def test_export_writes_its_files_as_one_set(tmp_path, capsys, monkeypatch):
    bench = fake_benchmark(tmp_path / "bench", frames=6)
    out = tmp_path / "vp"
    assert main(["export", str(bench), "--format", "videopose3d", "--out", str(out)]) == 0
    first = snapshot(out)
    names = sorted(first)
    assert len(names) == 5 and not any(n.startswith(".") for n in names)  # 4 data files + class
    # a crash in the middle of moving the new set in: the rerun finishes, nothing mixed/left over
    real_replace, calls = os.replace, []

    def crashing_replace(a, b):  # the second move from the stage into OUT fails
        from pathlib import Path

        if Path(a).parent.name.startswith(".occpose-set-") and Path(b).parent == out:
            calls.append(b)
            if len(calls) == 2:
                raise KeyboardInterrupt
        return real_replace(a, b)

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(KeyboardInterrupt):
        from occpose.cli import export

        export.run(export.register.__globals__["argparse"].Namespace(
            dir=str(bench), format="videopose3d", out=str(out), split="test", levels=None,
            name="occpose", layout="native", rendered_only=False, group_by="action",
            keypoints2d=["gt"]))
    monkeypatch.setattr(os, "replace", real_replace)
    mid = sorted(p.name for p in out.iterdir())
    assert len([n for n in mid if not n.startswith(".")]) < 5  # never looks whole mid-move
    assert main(["export", str(bench), "--format", "videopose3d", "--out", str(out), "--split",
                 "test"]) == 0
    assert sorted(p.name for p in out.iterdir()) == names  # no temporaries left
    # a crash while writing the stage leaves the old set and a temporary the rerun removes
    stage = out / ".occpose-set-videopose3d-occpose.tmp"
    stage.mkdir()
    (stage / "data_3d_occpose.npz").write_bytes(b"half")
    before = snapshot(out)
    assert main(["export", str(bench), "--format", "videopose3d", "--out", str(out), "--split",
                 "test"]) == 0
    assert snapshot(out) == {k: v for k, v in before.items() if not k.startswith(".")}
