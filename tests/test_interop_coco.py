"""COCO keypoints export: round trip of flags and coordinates, filters, loader validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from occpose.cli import main
from occpose.dataset import open_benchmark
from occpose.errors import DatasetError
from occpose.interop.coco import export_coco, load_coco

from .test_interop_videopose3d import make_fake_benchmark


@pytest.fixture
def bench(tmp_path):
    make_fake_benchmark(tmp_path / "bench", frames=8, rendered=True, wander=4.0)
    return tmp_path / "bench"


def test_round_trip_flags_and_coordinates(bench, tmp_path):
    export_coco(bench, tmp_path / "coco.json")
    coco = load_coco(tmp_path / "coco.json")
    b = open_benchmark(bench)
    assert len(coco["images"]) == len(coco["annotations"]) == sum(e.frames for e in b.entries)
    (cat,) = coco["categories"]
    assert cat["keypoints"] == list(b.skeleton.joint_names)
    assert cat["skeleton"] == [[p + 1, c + 1] for p, c in b.skeleton.bones]
    images = {im["id"]: im for im in coco["images"]}
    seen_flags = set()
    for ann in coco["annotations"]:
        im = images[ann["image_id"]]
        arrays = b.load(im["sequence"]).arrays
        t = im["frame"]
        kp = np.array(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        expected = np.where(arrays["out_of_frame"][t], 0, np.where(arrays["occluded"][t], 1, 2))
        np.testing.assert_array_equal(kp[:, 2], expected)
        seen_flags |= set(expected.tolist())
        inside = expected > 0
        np.testing.assert_allclose(kp[inside, :2], arrays["joints_2d"][t][inside], atol=1e-3)
        assert (kp[~inside, :2] == 0).all()
        assert ann["num_keypoints"] == int(inside.sum())
        by = np.array(ann["occluded_by"], dtype=object)
        assert all(by[arrays["occluded_by_object"][t]] == "object")
        assert all(by[arrays["occluded_by_body"][t]] == "body")
        assert all(v is None for v in by[~arrays["occluded"][t]])
        assert ann["occluder_fraction"] == pytest.approx(float(arrays["occluder_fraction"][t]), abs=1e-6)
        x, y, w, h = ann["bbox"]
        if inside.any():
            pts = kp[inside, :2]
            assert x <= pts[:, 0].min() and y <= pts[:, 1].min()
            assert x + w >= pts[:, 0].max() - 1e-6 and y + h >= pts[:, 1].max() - 1e-6
            assert ann["area"] == pytest.approx(w * h, rel=1e-4)
        assert im["file_name"] == f"sequences/{im['sequence']}/frames/{t:06d}.png"
        assert im["rendered"] == (t % 2 == 0)
        assert (im["width"], im["height"]) == (1000, 1000)
    assert seen_flags == {0, 1, 2}


def test_filters_and_cli(bench, tmp_path, capsys):
    coco = export_coco(bench, tmp_path / "c.json", split="test", levels=[0.3])
    assert {im["split"] for im in coco["images"]} == {"test"}
    assert {im["level"] for im in coco["images"]} == {0.3}
    assert len(coco["images"]) == 2 * 8  # S4, two cameras, one level
    assert main(["export", str(bench), "--format", "coco", "--out", str(tmp_path / "cli.json"),
                 "--split", "train"]) == 0
    assert "32 images" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "nothing"), "--format", "coco", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "manifest.json: not found" in err and len(err.strip().splitlines()) == 1


def test_loader_names_the_bad_field(bench, tmp_path):
    export_coco(bench, tmp_path / "c.json", levels=[0.0])
    good = json.loads((tmp_path / "c.json").read_text())

    def broken(change, match):
        data = json.loads(json.dumps(good))
        change(data)
        (tmp_path / "bad.json").write_text(json.dumps(data))
        with pytest.raises(DatasetError, match=match):
            load_coco(tmp_path / "bad.json")

    broken(lambda d: d["annotations"][3]["keypoints"].__setitem__(2, 3), r"annotations\[3\]: keypoint flags")
    broken(lambda d: d["annotations"][0]["keypoints"].pop(), r"annotations\[0\]: 'keypoints' must hold 51")
    broken(lambda d: d["annotations"][1].pop("bbox"), r"annotations\[1\]: missing field 'bbox'")
    broken(lambda d: d["annotations"][2].__setitem__("image_id", 10 ** 6), "image_id 1000000 is not in 'images'")
    broken(lambda d: d.pop("categories"), "'categories' must be a list")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DatasetError, match="bad.json: not a readable JSON"):
        load_coco(tmp_path / "bad.json")
