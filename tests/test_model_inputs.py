"""occpose-bench inputs: what an external model sees equals what occpose's models see."""

import json

import numpy as np
import pytest

from occpose.cli import main
from occpose.dataset import open_benchmark
from occpose.dataset.poses import from_benchmark
from occpose.harness import RunSettings
from occpose.harness.data import prepare
from occpose.harness.toy import write_toy_benchmark


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return write_toy_benchmark(tmp_path_factory.mktemp("inputs") / "bench", subjects=("S1",),
                               actions=("walk", "box"), levels=(0.0, 0.3), frames=30,
                               test_subjects=("S4",))


@pytest.mark.parametrize("source", ["noise", "exact"])
def test_inputs_are_the_harness_inputs(bench, tmp_path, source):
    out = tmp_path / "inputs.npz"
    assert main(["inputs", "--data", str(bench), "--keypoints2d", source, "--out", str(out)]) == 0
    z = np.load(out, allow_pickle=False)
    b = open_benchmark(bench)
    test = sorted(from_benchmark(b, b.select(split="test")), key=lambda s: s.id)
    assert list(z["ids"]) == [s.id for s in test] and z["split"][0] == "test"
    prepared = prepare(test, RunSettings(model="tcn", keypoints2d=source))
    for s, p in zip(test, prepared):
        np.testing.assert_array_equal(z[f"{s.id}/keypoints_2d"], p.keypoints)   # same noise stream
        px = z[f"{s.id}/keypoints_2d_px"]
        w, h = z[f"{s.id}/image_size"]
        np.testing.assert_allclose(px / w * 2 - [1, h / w], p.keypoints, atol=1e-6)
        if source == "exact":
            np.testing.assert_array_equal(px, s.joints_2d)
        k = z[f"{s.id}/camera_matrix"]
        cam = s.joints_3d_cam[:, 1:]                                  # project the 3D with K
        proj = (cam[..., :2] / cam[..., 2:]) * [k[0, 0], k[1, 1]] + [k[0, 2], k[1, 2]]
        np.testing.assert_allclose(proj, s.joints_2d[:, 1:], atol=1e-2)
        np.testing.assert_array_equal(z[f"{s.id}/occluded"], s.labels["occluded"])
        assert z[f"{s.id}/distortion"].shape == (5,)
    assert list(z["joint_names"]) == list(b.skeleton.joint_names)
    if source == "noise":
        assert json.loads(z["noise"][0])["visible_std"] == RunSettings(model="tcn").noise["visible_std"]
    again = tmp_path / "again.npz"
    assert main(["inputs", "--data", str(bench), "--keypoints2d", source, "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()                     # same inputs, same bytes


def test_inputs_bad_flags(bench, tmp_path, capsys):
    assert main(["inputs", "--data", str(bench), "--keypoints2d", "blurry", "--out",
                 str(tmp_path / "x.npz")]) == 2
    assert "blurry" in capsys.readouterr().err
    assert main(["inputs", "--data", str(tmp_path / "nope"), "--keypoints2d", "exact", "--out",
                 str(tmp_path / "x.npz")]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["inputs", "--data", str(bench), "--keypoints2d", "detector:" + str(tmp_path),
                 "--out", str(tmp_path / "x.npz")]) == 2
    assert "keypoints2d" in capsys.readouterr().err
