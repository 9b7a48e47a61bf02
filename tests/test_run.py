"""`occpose-bench run` end to end on reduced presets."""

import json

import pytest

from occpose.cli import main

from .conftest import REPO

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
