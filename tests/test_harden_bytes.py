"""Hardening, class 5: same inputs and seed, same bytes, for every output.

Training checkpoints store no wall-clock time (measured times stay in the log ``metrics.jsonl``)
and do not depend on the temporary file's name; exports, reports and plots repeat byte for byte.
Crash and resume identity is in ``test_crash.py``.
"""

from __future__ import annotations

import pytest

from occpose.cli import main

from .hardening import gen, tree_bytes, write_tiny12

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bytes")
    assert gen(write_tiny12(folder), folder / "bench") == 0
    return folder / "bench"


TRAIN = ["--model", "tcn", "--epochs", "2", "--device", "cpu", "--quiet", "--channels", "8",
         "--filter-widths", "3,3", "--batch-size", "16"]


def test_two_identical_training_runs_give_identical_checkpoints(bench, tmp_path):
    from occpose.harness.checkpoint import WALL_CLOCK, load_checkpoint

    for r in ("a", "b"):
        assert main(["train", "--data", str(bench), "--out", str(tmp_path / r), *TRAIN]) == 0
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert sorted(a) == ["checkpoint.pt", "metrics.jsonl", "settings.json"]
    for name in ("checkpoint.pt", "settings.json"):
        assert a[name] == b[name], name
    assert not any(k.encode() in a["checkpoint.pt"] for k in WALL_CLOCK)
    assert b"time_s" in a["metrics.jsonl"]  # the log is where measured times live
    # ... and they come back with the checkpoint, so a resumed run's log keeps them
    ckpt = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    assert [m["epoch"] for m in ckpt["metrics"]] == [1, 2]
    assert all(m["time_s"] > 0 for m in ckpt["metrics"])


def test_a_checkpoint_does_not_depend_on_its_folder_or_temporary_name(tmp_path):
    import torch

    from occpose.harness.checkpoint import save_checkpoint

    state = {"epoch": 1, "model": {"w": torch.arange(6.0)}, "metrics": [{"epoch": 1, "time_s": 3.2}]}
    save_checkpoint(tmp_path / "x" / "checkpoint.pt", state)
    save_checkpoint(tmp_path / "y" / "other_name.pt", state)
    assert (tmp_path / "x" / "checkpoint.pt").read_bytes() == (tmp_path / "y" / "other_name.pt").read_bytes()


def test_reports_exports_and_plots_repeat_byte_for_byte(bench, tmp_path):
    for r in ("a", "b"):
        out = tmp_path / r
        assert main(["export", str(bench), "--format", "videopose3d", "--out", str(out / "vp")]) == 0
        assert main(["export", str(bench), "--format", "coco", "--out", str(out / "c.json")]) == 0
        assert main(["labels", str(bench), "--out", str(out / "labels")]) == 0
        assert main(["show", str(bench), "--out", str(out / "show")]) == 0
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
