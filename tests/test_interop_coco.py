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
        assert im["rendered"] == (t % 2 == 0)
        # A frame without a render never points at a PNG that does not exist.
        assert im["file_name"] == (f"sequences/{im['sequence']}/frames/{t:06d}.png" if t % 2 == 0 else None)
        assert ann["area_source"] == "bbox"  # the fake benchmark has no masks
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


# ------------------------------------------------------------------ pycocotools (dev dependency)
def coco_ap(gt_path, detections, sigmas=None) -> float:
    """COCOeval keypoint AP (IoU=.50:.95) of ``detections`` against the export at ``gt_path``."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        ev = COCOeval(gt, gt.loadRes(detections), "keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def detections(coco, noise_px=0.0, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for a in coco["annotations"]:
        kp = np.array(a["keypoints"], dtype=np.float64).reshape(-1, 3)
        kp[:, :2] += rng.normal(0.0, noise_px, kp[:, :2].shape)
        kp[:, 2] = 1
        out.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.reshape(-1).tolist(),
                    "score": 1.0})
    return out


def test_oks_sigmas_are_stored_and_used_by_cocoeval(bench, tmp_path):
    from occpose.interop.coco import COCO17_SIGMAS, OKS_SIGMAS, oks_sigmas
    from occpose.skeleton import H36M_17, HUMANEVA_15

    coco = export_coco(bench, tmp_path / "c.json")
    sigmas = coco["categories"][0]["kpt_oks_sigmas"]
    assert len(sigmas) == 17 and sigmas == list(oks_sigmas("h36m17"))
    named = dict(zip(H36M_17.joint_names, sigmas))
    assert named["Hip"] == 0.107 and named["LWrist"] == 0.062 and named["RFoot"] == 0.089
    assert len(OKS_SIGMAS["humaneva15"]) == HUMANEVA_15.num_joints
    assert dict(zip(HUMANEVA_15.joint_names, OKS_SIGMAS["humaneva15"]))["LAnkle"] == 0.089
    assert len(COCO17_SIGMAS) == 17
    # The documented example: the category's sigmas go into COCOeval's params.
    assert coco_ap(tmp_path / "c.json", detections(coco), sigmas) == pytest.approx(1.0)
    noisy = coco_ap(tmp_path / "c.json", detections(coco, 8.0), sigmas)
    noisier = coco_ap(tmp_path / "c.json", detections(coco, 24.0), sigmas)
    assert 0.0 <= noisier < noisy < 1.0
    # pycocotools' default (COCO's sigmas in COCO's order) scores the same noise differently.
    assert coco_ap(tmp_path / "c.json", detections(coco, 8.0)) != pytest.approx(noisy, abs=1e-3)


def test_coco17_layout_scores_with_pycocotools_defaults(bench, tmp_path):
    from occpose.interop.coco import COCO17_JOINTS

    native = export_coco(bench, tmp_path / "n.json")
    c17 = export_coco(bench, tmp_path / "c17.json", layout="coco17")
    cat = c17["categories"][0]
    assert cat["keypoints"] == list(COCO17_JOINTS) and len(cat["kpt_oks_sigmas"]) == 17
    names = native["categories"][0]["keypoints"]
    pairs = {"left_shoulder": "LShoulder", "right_wrist": "RWrist", "left_hip": "LHip", "right_ankle": "RFoot"}
    for a_n, a_c in zip(native["annotations"], c17["annotations"]):
        kn = np.array(a_n["keypoints"]).reshape(-1, 3)
        kc = np.array(a_c["keypoints"]).reshape(-1, 3)
        assert (kc[:5] == 0).all()  # nose, eyes, ears: not in the body model
        for coco_name, occ_name in pairs.items():
            np.testing.assert_array_equal(kc[COCO17_JOINTS.index(coco_name)], kn[names.index(occ_name)])
        assert a_c["num_keypoints"] == int((kc[:, 2] > 0).sum())
        assert a_c["bbox"] == a_n["bbox"]
    load_coco(tmp_path / "c17.json")
    assert coco_ap(tmp_path / "c17.json", detections(c17)) == pytest.approx(1.0)


def test_rendered_only_and_mask_area(bench, tmp_path, capsys):
    from PIL import Image

    b = open_benchmark(bench)
    e = b.entries[0]
    mask = np.zeros((1000, 1000), dtype=np.uint8)
    mask[100:150, 200:230] = 255  # 1500 pixels
    (bench / "sequences" / e.id / "masks").mkdir()
    Image.fromarray(mask).save(bench / "sequences" / e.id / "masks" / "000002.png")
    assert main(["export", str(bench), "--format", "coco", "--rendered-only", "--out", str(tmp_path / "r.json")]) == 0
    assert "frames without a render left out" in capsys.readouterr().out
    coco = load_coco(tmp_path / "r.json")
    assert len(coco["images"]) == sum(e.frames for e in b.entries) // 2
    assert all(im["rendered"] and im["file_name"].endswith(f"{im['frame']:06d}.png") for im in coco["images"])
    by_key = {(im["sequence"], im["frame"]): a for im, a in zip(coco["images"], coco["annotations"])}
    a = by_key[(e.id, 2)]
    assert a["area"] == 1500 and a["area_source"] == "mask"
    assert sum(x["area_source"] == "mask" for x in coco["annotations"]) == 1
    # An analytic benchmark has no renders: --rendered-only says so in one line.
    make_fake_benchmark(tmp_path / "plain", frames=4)
    assert main(["export", str(tmp_path / "plain"), "--format", "coco", "--rendered-only",
                 "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "no rendered frames" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()


def test_humaneva15_benchmark_scores_with_its_sigmas(tiny_preset, tmp_path):
    """pycocotools' default sigmas (17) do not fit 15 joints; the stored ones do."""
    from occpose.config import load_config
    from occpose.generate import generate
    from occpose.interop.coco import oks_sigmas
    from occpose.skeleton import HUMANEVA_15

    cfg = load_config(tiny_preset, ["benchmark.frames=10", 'benchmark.actions=["walk"]', "benchmark.levels=[0.2]",
                                    'benchmark.skeleton="humaneva15"'])
    generate(cfg, tmp_path / "he", workers=1, progress=False)
    coco = export_coco(tmp_path / "he", tmp_path / "he.json")
    cat = coco["categories"][0]
    assert cat["keypoints"] == list(HUMANEVA_15.joint_names) and cat["kpt_oks_sigmas"] == list(oks_sigmas("humaneva15"))
    assert coco_ap(tmp_path / "he.json", detections(coco), cat["kpt_oks_sigmas"]) == pytest.approx(1.0)
    with pytest.raises(ValueError):  # the default: COCO's 17 sigmas against 15 joints
        coco_ap(tmp_path / "he.json", detections(coco))
    c17 = export_coco(tmp_path / "he", tmp_path / "he17.json", layout="coco17")
    kp = np.array(c17["annotations"][0]["keypoints"]).reshape(-1, 3)
    assert (kp[:5] == 0).all() and (kp[5:, 2] > 0).any()
    assert coco_ap(tmp_path / "he17.json", detections(c17)) == pytest.approx(1.0)
