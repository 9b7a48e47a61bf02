"""occpose-bench train / evaluate end to end on a tiny benchmark, and their one-line errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from occpose.cli import main
from occpose.harness.toy import write_toy_benchmark


pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
TINY = ["--epochs", "1", "--channels", "8", "--filter-widths", "3,3", "--batch-size", "32",
        "--quiet"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench") / "toy"
    return write_toy_benchmark(root, subjects=("S1",), actions=("walk",), levels=(0.0, 0.4),
                               frames=30, train={"lr": 0.002, "keypoints2d": "exact"})


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_train_and_evaluate(bench, tmp_path, capsys):
    runs = []
    for model, seed in (("tcn", 0), ("tcn", 1), ("tcn-occ1", 0)):
        run = tmp_path / f"{model}-{seed}"
        assert main(["train", "--data", str(bench), "--model", model, "--out", str(run),
                     "--seed", str(seed), "--occlusion-labels", "boxed", *TINY]) == 0
        runs.append(str(run))
    out = capsys.readouterr().out
    assert "tcn seed 1, 1 epochs (trained)" in out
    settings = json.loads((tmp_path / "tcn-occ1-0" / "settings.json").read_text())["settings"]
    # defaults from the benchmark's stored [train] section, flags on top
    assert settings["lr"] == 0.002 and settings["keypoints2d"] == "exact"
    assert settings["channels"] == 8 and settings["occlusion_labels"] == "boxed"
    # rerunning resumes (here: nothing left to do)
    assert main(["train", "--data", str(bench), "--model", "tcn", "--out", runs[0], *TINY]) == 0
    assert "already complete" in capsys.readouterr().out
    res = tmp_path / "results"
    assert main(["evaluate", "--data", str(bench), "--runs", *runs, "--out", str(res),
                 "--quiet", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "| model | level 0.00 | level 0.40 | all |" in out and "| tcn-occ1 |" in out
    doc = json.loads((res / "results.json").read_text())
    assert doc["models"]["tcn"]["seeds"] == [0, 1] and doc["flip"] is True
    assert (res / "results.csv").is_file() and (res / "report.md").is_file()


def test_config_preset_defaults(bench, tmp_path, capsys):
    preset = tmp_path / "p.toml"
    preset.write_text('include = ["%s"]\n[train]\nlr_decay = 0.5\nkeypoints2d = "noise"\n'
                      % (REPO / "scenes" / "quick.toml").as_posix())
    run = tmp_path / "r"
    assert main(["train", "--data", str(bench), "--model", "linear", "--out", str(run),
                 "--config", str(preset), "--set", "train.dropout=0.1", *TINY]) == 0
    s = json.loads((run / "settings.json").read_text())["settings"]
    assert s["lr_decay"] == 0.5 and s["keypoints2d"] == "noise" and s["dropout"] == 0.1


def test_user_errors_are_one_line(bench, tmp_path, capsys):
    base = ["train", "--data", str(bench), "--out", str(tmp_path / "r")]
    assert "unknown model" in _error(capsys, base + ["--model", "resnet"])
    assert "--filter-widths" in _error(capsys, base + ["--model", "tcn", "--filter-widths", "3,x"])
    assert "--filter-widths" in _error(capsys, base + ["--model", "tcn", "--filter-widths", "3,4"])
    assert "not found" in _error(capsys, ["train", "--data", str(tmp_path / "nope"), "--model",
                                          "tcn", "--out", str(tmp_path / "r")])
    assert "no 2D predictions" in _error(capsys, base + ["--model", "tcn", "--keypoints2d",
                                                         f"detector:{tmp_path}", *TINY])
    assert "2D input source" in _error(capsys, base + ["--model", "tcn", "--keypoints2d", "gt"])
    if not torch.cuda.is_available():
        assert "CUDA is not available" in _error(capsys, base + ["--model", "tcn", "--device",
                                                                 "cuda", *TINY])
    (tmp_path / "empty").mkdir()
    assert "not a training run" in _error(capsys, ["evaluate", "--data", str(bench), "--runs",
                                                   str(tmp_path / "empty"), "--out",
                                                   str(tmp_path / "res")])
    assert "run directory not found" in _error(capsys, ["evaluate", "--data", str(bench), "--runs",
                                                        str(tmp_path / "gone"), "--out",
                                                        str(tmp_path / "res")])


def test_videopose3d_data(bench, tmp_path, capsys):
    from occpose.interop.videopose3d import export_videopose3d

    d3, d2, occ, cams = export_videopose3d(bench, tmp_path / "vp3d")
    assert "camera JSON" in _error(capsys, ["train", "--data", str(d3), "--model", "linear",
                                            "--out", str(tmp_path / "r"), "--trust-pickle", *TINY])
    run = tmp_path / "r"
    assert main(["train", "--data", str(d3), "--data-2d", str(d2), "--cameras", str(cams),
                 "--occlusion", str(occ), "--trust-pickle", "--model", "tcn-occseq", "--out",
                 str(run), *TINY]) == 0
    from occpose.harness import load_sequences

    seqs = load_sequences(d3, trust_pickle=True, data_2d=d2, cameras=cams, occlusion=occ)
    assert {s.split for s in seqs} == {"train", "test"} and "occluded" in seqs[0].labels
    np.testing.assert_array_equal(sorted(s.n_frames for s in seqs), [30] * len(seqs))


GENERATED_PRESET = """
include = ["{scenes}/subjects.toml"]

[benchmark]
name = "harness-e2e"
seed = 3
frames = 40
actions = ["walk", "box"]
levels = [0.0, 0.3]
train_subjects = ["S1"]
test_subjects = ["S4"]

[[cameras]]
name = "cam0"
position = [3.6, 3.4, 1.6]
target = [0.0, 0.0, 1.0]

[train]
keypoints2d = "noise"
occlusion_labels = "boxed"
"""


def test_end_to_end_on_generated_data(tmp_path, capsys):
    from occpose.config import load_config

    preset = tmp_path / "p.toml"
    preset.write_text(GENERATED_PRESET.format(scenes=(REPO / "scenes").as_posix()))
    from occpose.generate import generate

    generate(load_config(preset), tmp_path / "bench", workers=1, progress=False)
    runs = []
    for model in ("tcn", "tcn-occseq", "linear"):
        runs.append(str(tmp_path / model))
        assert main(["train", "--data", str(tmp_path / "bench"), "--model", model, "--out",
                     runs[-1], *TINY]) == 0
    res = tmp_path / "res"
    assert main(["evaluate", "--data", str(tmp_path / "bench"), "--runs", *runs, "--out",
                 str(res), "--quiet"]) == 0
    doc = json.loads((res / "results.json").read_text())
    assert doc["levels"] == ["0.00", "0.30", "all"]
    occ = doc["models"]["tcn"]["by_level"]["0.30"]["mpjpe"]["occluded"]
    assert occ["mean"] is not None and occ["mean"] > 0
    assert (res / "skeletons_high_occlusion.png").stat().st_size > 0
