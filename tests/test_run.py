"""`occpose-bench run` end to end on reduced presets."""

import json

import pytest

from occpose.cli import main

from .conftest import REPO
from .hardening import tree_bytes

REDUCED = [
    "--set", "benchmark.frames=40", "--set", 'benchmark.actions=["walk"]',
    "--set", "benchmark.levels=[0.0, 0.3]", "--set", 'train.models=["tcn", "tcn-occ1", "linear"]',
    "--set", "train.seeds=[0]", "--set", "train.epochs=1", "--set", "train.channels=32",
    "--set", "train.batch_size=64",
]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_run_analytic_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "--preset", "quick", "--out", str(out), "--backend", "analytic",
                 "--quiet", "--workers", "1", *REDUCED])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["blender"] is False and summary["test_data"] == str(out / "benchmark")
    assert len(summary["runs"]) == 3
    results = json.loads((out / "results" / "results.json").read_text())
    text = (out / "summary.md").read_text()
    assert "level 0.30" in text and "tcn-occ1" in text
    assert (out / "reports" / "labels" / "agreement.md").is_file()
    assert (out / "results" / "report.md").is_file() and results
    stdout = capsys.readouterr().out
    assert "5/5 evaluating 3 runs" in stdout
    # a rerun resumes: nothing is retrained, every result file has the same bytes (measured
    # wall times live only in timings.json)
    outputs = ["results/results.json", "results/report.md", "summary.json", "summary.md"]
    before = {f: (out / f).read_bytes() for f in outputs}
    assert "timings_s" in json.loads((out / "timings.json").read_text())
    assert main(["run", "--preset", "quick", "--out", str(out), "--backend", "analytic",
                 "--quiet", "--workers", "1", *REDUCED]) == 0
    assert {f: (out / f).read_bytes() for f in outputs} == before


def test_run_unknown_preset(tmp_path, capsys):
    assert main(["run", "--preset", "nope", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--preset nope" in err and "quick" in err


@pytest.mark.blender
def test_run_with_blender_and_image_stage(tmp_path):
    pytest.importorskip("bpy")
    out = tmp_path / "run"
    code = main(["run", "--preset", str(REPO / "scenes" / "quick_image.toml"), "--out", str(out),
                 "--backend", "blender", "--quiet", "--workers", "1",
                 "--set", "benchmark.frames=30", "--set", 'benchmark.actions=["walk"]',
                 "--set", "benchmark.levels=[0.0, 0.3]", "--set", "train.seeds=[0]",
                 "--set", "train.epochs=1", "--set", "train.channels=32",
                 "--set", "render.resolution=[96, 96]", "--set", "render.frame_stride=5",
                 "--set", "image.epochs=1", "--set", "image.crop_size=32",
                 "--set", "image.backbone_depth=10", "--set", "image.backbone_width=8",
                 "--set", "image.output_stride=8", "--set", "image.depth_bins=8",
                 "--set", "image.val_frames=4"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["blender"] is True and set(summary["image_runs"]) == {"p=0", "p=0.5"}
    assert (out / "rendered" / "manifest.json").is_file()
    assert (out / "reports" / "image_ablation.md").read_text().count("p=0") >= 2
    assert any("tcn-detector-p050" in r for r in summary["runs"])
    assert (out / "image" / "p050" / "keypoints2d").is_dir()
    assert "Image model" in (out / "summary.md").read_text()


@pytest.mark.blender
def test_run_renders_beside_training_same_bytes(tmp_path, capsys):
    """The Blender render runs in a child process while the models train (two at a time); the
    outputs are the bytes of a run that renders first and trains one run at a time."""
    pytest.importorskip("bpy")
    small = [*REDUCED, "--set", "render.resolution=[64, 64]", "--set", "render.frame_stride=20"]
    outs = {}
    for name, extra in (("overlap", ["--train-workers", "2"]),
                        ("sequential", ["--sequential", "--train-workers", "1"])):
        out = tmp_path / name
        assert main(["run", "--preset", "quick", "--out", str(out), "--backend", "blender",
                     "--quiet", "--workers", "1", *small, *extra]) == 0
        outs[name] = out
    stdout = capsys.readouterr().out
    assert "in the background while the next steps run" in stdout
    a, b = outs["overlap"], outs["sequential"]
    assert (a / "logs" / "render.log").read_text().count(" frames rendered, mask occlusion") == 8
    assert not (b / "logs" / "render.log").exists()
    assert tree_bytes(a / "rendered") == tree_bytes(b / "rendered")
    assert (a / "results" / "results.csv").read_bytes() == (b / "results" / "results.csv").read_bytes()
    for run in ("tcn-s0", "tcn-occ1-s0", "linear-s0"):
        assert (a / "runs" / run / "checkpoint.pt").read_bytes() == (b / "runs" / run / "checkpoint.pt").read_bytes()
    assert json.loads((a / "timings.json").read_text())["render_overlapped"] is True


@pytest.mark.blender
def test_run_render_failure_is_one_line(tmp_path, capsys):
    """A Blender executable that fails: the run stops with one line naming the log, after
    printing its tail."""
    fake = tmp_path / "blender"
    fake.write_text("#!/bin/sh\necho 'Error: no GPU context here' >&2\nexit 1\n")
    fake.chmod(0o755)
    out = tmp_path / "run"
    code = main(["run", "--preset", "quick", "--out", str(out), "--backend", "blender",
                 "--blender", str(fake), "--quiet", "--workers", "1", *REDUCED])
    err = capsys.readouterr().err
    assert code != 0
    assert "no GPU context here" in err and f"see {out / 'logs' / 'render.log'}" in err
    assert "Traceback" not in err
