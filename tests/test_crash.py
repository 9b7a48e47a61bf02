"""Crash tests: ``generate``, ``train``, ``merge``, ``export`` and a Blender render are killed
(SIGKILL, no clean-up) at several of their file renames (:mod:`tests.crash_hook`); the rerun of
the same command must give the bytes of an uninterrupted run and leave no temporaries or lock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO
from .hardening import gen, tree_bytes, write_tiny12
from .hardening import preset, reference  # noqa: F401 (module-scoped fixtures)


def run(argv: list, kill: tuple[int, str] | None = None) -> int:
    """``occpose-bench argv`` in a fresh process, killed at rename ``kill`` = (n, before|after)."""
    n, when = kill or (10 ** 9, "before")
    cmd = [sys.executable, "-m", "tests.crash_hook", str(n), when, "--", *map(str, argv)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny models; `pytest -n 2` on 2 cores
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=env).returncode


def crash_then_finish(argv: list, kills: list[tuple[int, str]]) -> None:
    for kill in kills:
        assert run(argv, kill) == -9, f"{argv} was not killed at {kill}"
    assert run(argv) == 0


def no_leftovers(root: Path) -> None:
    left = [p for p in Path(root).rglob(".*") if p.name != ".occpose.lock" or p.exists()]
    assert not left, left



# renames of the tiny generate: manifest, 8 x (arrays.npz, entry.json), manifest = 18
@pytest.mark.parametrize("kills", [[(1, "after")], [(2, "before")], [(9, "after"), (3, "before")],
                                   [(18, "before")]])
def test_generate_killed_then_rerun(preset, reference, tmp_path, kills):
    argv = ["generate", "--config", preset, "--out", tmp_path / "b", "--quiet", "--workers", "1"]
    crash_then_finish(argv, kills)
    assert tree_bytes(tmp_path / "b") == tree_bytes(reference)
    no_leftovers(tmp_path / "b")


@pytest.fixture(scope="module")
def shards(preset, tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    for i in (0, 1):
        assert gen(preset, root / f"s{i}", "--shard", f"{i}/2") in (0, 1)
    return [root / "s0", root / "s1"]


# renames of the merge: manifest, 8 sequence folders, manifest = 10
@pytest.mark.parametrize("kills", [[(4, "before")], [(9, "after"), (1, "after")]])
def test_merge_killed_then_rerun(shards, reference, tmp_path, kills):
    crash_then_finish(["merge", tmp_path / "m", *shards], kills)
    assert tree_bytes(tmp_path / "m") == tree_bytes(reference)
    no_leftovers(tmp_path / "m")


@pytest.fixture(scope="module")
def exported(reference, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "vp"
    assert run(["export", reference, "--format", "videopose3d", "--out", out]) == 0
    return out


# renames of the export: 5 staged files (4 data files and the dataset class), the journal, 5
# moves into OUT = 11: killed while staging, with the journal written, and in the middle of the
# moves (then again in the finishing rerun's staging)
@pytest.mark.parametrize("kills", [[(3, "before")], [(6, "after")], [(9, "before"), (2, "after")]])
def test_export_killed_then_rerun(reference, exported, tmp_path, kills):
    out = tmp_path / "vp"
    shutil.copytree(exported, out)          # an older export of the same set is being replaced
    (out / "data_3d_occpose.npz").write_bytes(b"an older export")
    crash_then_finish(["export", reference, "--format", "videopose3d", "--out", out], kills)
    assert tree_bytes(out) == tree_bytes(exported)
    no_leftovers(out)


TRAIN = ["--model", "tcn", "--epochs", "2", "--device", "cpu", "--quiet", "--channels", "8",
         "--filter-widths", "3,3", "--batch-size", "32"]


def _without_times(log: bytes) -> list[dict]:
    from occpose.harness.checkpoint import WALL_CLOCK

    return [{k: v for k, v in json.loads(x).items() if k not in WALL_CLOCK} for x in log.splitlines()]


# renames of train (epochs 2): settings.json, then per epoch checkpoint.pt and metrics.jsonl; a
# resumed run rewrites settings.json and its log first. Killed before the 2nd checkpoint
# (resume from epoch 1), then right after it (its log line not yet written).
def test_train_killed_then_rerun(reference, tmp_path, one_torch_thread):
    from occpose.cli import main

    assert main(["train", "--data", str(reference), "--out", str(tmp_path / "ref"), *TRAIN]) == 0
    crash_then_finish(["train", "--data", reference, "--out", tmp_path / "run", *TRAIN],
                      [(4, "before"), (3, "after")])
    a, b = tree_bytes(tmp_path / "run"), tree_bytes(tmp_path / "ref")
    assert sorted(a) == sorted(b)
    assert a["checkpoint.pt"] == b["checkpoint.pt"] and a["settings.json"] == b["settings.json"]
    assert _without_times(a["metrics.jsonl"]) == _without_times(b["metrics.jsonl"])
    no_leftovers(tmp_path / "run")


@pytest.mark.blender
@pytest.mark.slow
def test_blender_render_killed_then_rerun(tmp_path):
    """tests/data/tiny_render.toml with the bpy module: 4 sequences x (4 frames, 4 masks,
    arrays, entry) + 2 manifests = 42 renames; killed in the 2nd sequence's frames and after the
    3rd sequence's entry, each rerun in a fresh process."""
    pytest.importorskip("bpy")
    argv = ["generate", "--backend", "blender", "--config", REPO / "tests/data/tiny_render.toml",
            "--quiet"]
    assert run([*argv, "--out", tmp_path / "ref"]) == 0
    crash_then_finish([*argv, "--out", tmp_path / "b"], [(14, "before"), (17, "after")])
    assert tree_bytes(tmp_path / "b") == tree_bytes(tmp_path / "ref")
    no_leftovers(tmp_path / "b")
