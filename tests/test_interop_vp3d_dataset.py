"""The VideoPose3D dataset class written by ``export --format videopose3d``, run against a minimal
stand-in of VideoPose3D's ``common`` package (MocapDataset, Skeleton, normalize_screen_coordinates)
that this test defines, the way VideoPose3D's run.py uses it."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from occpose.cli import main
from occpose.dataset import open_benchmark
from occpose.dataset.poses import from_benchmark
from occpose.interop.videopose3d import action_key, export_videopose3d, export_videopose3d_files
from occpose.interop.vp3d_dataset import FILE_NAME, RUN_PY_LINE, RUN_PY_REPLACEMENT, SED_COMMAND
from occpose.skeleton import H36M_17

from .test_interop_videopose3d import make_fake_benchmark, vp3d_project_to_2d, vp3d_world_to_camera

# A stand-in for VideoPose3D's common/ package: the interface its dataset classes rely on.
STAND_IN = {
    "__init__.py": "",
    "skeleton.py": """
        import numpy as np

        class Skeleton:
            def __init__(self, parents, joints_left, joints_right):
                assert len(joints_left) == len(joints_right)
                self._parents = np.array(parents)
                self._joints_left = joints_left
                self._joints_right = joints_right

            def num_joints(self):
                return len(self._parents)

            def parents(self):
                return self._parents

            def joints_left(self):
                return self._joints_left

            def joints_right(self):
                return self._joints_right
    """,
    "mocap_dataset.py": """
        class MocapDataset:
            def __init__(self, fps, skeleton):
                self._skeleton = skeleton
                self._fps = fps
                self._data = None
                self._cameras = None

            def __getitem__(self, key):
                return self._data[key]

            def subjects(self):
                return self._data.keys()

            def fps(self):
                return self._fps

            def skeleton(self):
                return self._skeleton

            def cameras(self):
                return self._cameras
    """,
    "camera.py": """
        def normalize_screen_coordinates(X, w, h):
            assert X.shape[-1] == 2
            return X / w * 2 - [1, h / w]
    """,
}


@pytest.fixture
def vp3d_root(tmp_path, monkeypatch):
    """A folder with the stand-in ``common`` package on sys.path; cleans the modules up after."""
    root = tmp_path / "VideoPose3D"
    (root / "common").mkdir(parents=True)
    for name, text in STAND_IN.items():
        (root / "common" / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(root))
    saved = {k: v for k, v in sys.modules.items() if k == "common" or k.startswith("common.")}
    for k in saved:
        del sys.modules[k]
    yield root
    for k in [k for k in sys.modules if k == "common" or k.startswith("common.")]:
        del sys.modules[k]
    sys.modules.update(saved)


def test_dataset_class_contract(tmp_path, vp3d_root):
    bench = tmp_path / "bench"
    make_fake_benchmark(bench, frames=10, levels=(0.0, 0.3))
    files = export_videopose3d_files(bench, tmp_path / "vp", group_by="level")
    assert files.dataset_class.name == FILE_NAME
    shutil.copy(files.dataset_class, vp3d_root / "common" / FILE_NAME)
    paths = export_videopose3d(bench, tmp_path / "vp", group_by="level")  # the four data files
    assert [p.name for p in paths] == ["data_3d_occpose.npz", "data_2d_occpose_gt.npz",
                                       "data_occlusion_occpose.npz", "cameras_occpose.json"]
    module = importlib.import_module("common.occpose_dataset")
    ds = module.OccposeDataset(str(paths[0]))

    b = open_benchmark(bench)
    assert sorted(ds.subjects()) == ["S1", "S4"]
    assert ds.fps() == 50.0
    sk = ds.skeleton()
    assert sk.num_joints() == 17 and list(sk.parents()) == list(H36M_17.parents)
    assert list(sk.joints_left()) == list(H36M_17.joints_left)
    assert list(sk.joints_right()) == list(H36M_17.joints_right)
    assert ds.joint_names == list(H36M_17.joint_names)
    # run.py groups its evaluation table by the first word of the action name.
    assert {a.split(" ")[0] for s in ds.subjects() for a in ds[s]} == {"L000", "L030"}

    ref = {(p.subject, p.action, p.camera, p.level): p for p in from_benchmark(b)}
    cam_names = [c["name"] for c in b.manifest["cameras"]]
    checked = 0
    for subject in ds.subjects():
        cams = ds.cameras()[subject]
        assert [c["id"] for c in cams] == cam_names
        for action, anim in ds[subject].items():
            level = float(action.split(" ")[0][1:]) / 100
            assert anim["cameras"] is cams
            for cam in cams:
                assert cam["intrinsic"].shape == (9,) and cam["intrinsic"].dtype == np.float32
                r = ref[(subject, "walk", cam["id"], level)]
                # run.py: world -> camera with the quaternion and translation (metres).
                j3 = vp3d_world_to_camera(anim["positions"].astype(np.float64), cam["orientation"],
                                          cam["translation"])
                np.testing.assert_allclose(j3, r.joints_3d_cam, atol=1e-5)
                # run.py normalises the 2D keypoints; projecting with the normalised intrinsics
                # must land on them (the semi-supervised projection loss relies on it).
                w, h = cam["res_w"], cam["res_h"]
                kps = r.joints_2d / w * 2 - [1, h / w]
                proj = vp3d_project_to_2d(j3, {"focal_length": cam["intrinsic"][:2], "center": cam["intrinsic"][2:4],
                                              "radial_distortion": cam["intrinsic"][4:7],
                                              "tangential_distortion": cam["intrinsic"][7:]})
                inside = ~r.labels["out_of_frame"]
                np.testing.assert_allclose(proj[inside], kps[inside], atol=2e-5)
                checked += 1
    assert checked == 2 * 2 * 2  # subjects x levels x cameras


def test_action_naming_and_run_py_line(tmp_path, capsys):
    assert action_key("walk", 0.3) == "walk L030" and action_key("walk", 0.3, "level") == "L030 walk"
    bench = tmp_path / "bench"
    make_fake_benchmark(bench, frames=6, levels=(0.0, 0.3))
    assert main(["export", str(bench), "--format", "videopose3d", "--group-by", "level",
                 "--out", str(tmp_path / "vp")]) == 0
    printed = capsys.readouterr().out.split()
    assert printed[-1].endswith(FILE_NAME)
    d3 = np.load(printed[0], allow_pickle=True)
    assert set(d3["positions_3d"].item()["S1"]) == {"L000 walk", "L030 walk"}
    meta = d3["metadata"].item()
    assert meta["occpose"]["group_by"] == "level"
    assert meta["occpose"]["actions"]["L030 walk"] == ["walk", 0.3]
    # The documented one-line change to run.py, applied with the documented sed command.
    run_py = tmp_path / "run.py"
    run_py.write_text("if args.dataset == 'h36m':\n    pass\nelse:\n    " + RUN_PY_LINE + "\n")
    subprocess.run(["bash", "-c", SED_COMMAND], cwd=tmp_path, check=True)
    assert run_py.read_text().splitlines()[-1] == "    " + RUN_PY_REPLACEMENT
    # Flags of the other format are refused.
    assert main(["export", str(bench), "--format", "coco", "--group-by", "level",
                 "--out", str(tmp_path / "c.json")]) == 2
    assert "--group-by: applies to --format videopose3d" in capsys.readouterr().err


def test_noise_keypoints_are_occposes_detector_model(tmp_path):
    from occpose.config import config_from_dict
    from occpose.harness.inputs import keypoints_2d
    from occpose.interop.videopose3d import load_videopose3d

    bench = tmp_path / "bench"
    make_fake_benchmark(bench, frames=10, levels=(0.0, 0.3))
    files = export_videopose3d_files(bench, tmp_path / "vp", group_by="level", keypoints2d=("noise",))
    assert {k: p.name for k, p in files.data_2d.items()} == {"gt": "data_2d_occpose_gt.npz",
                                                             "noise": "data_2d_occpose_noise.npz"}
    paths = files.paths()[:-1]  # data_3d, 2D gt, 2D noise, occlusion, cameras
    b = open_benchmark(bench)
    noise = config_from_dict(b.config, "stored").train.noise
    noisy = np.load(paths[2], allow_pickle=True)["positions_2d"].item()
    cams = [c["name"] for c in b.manifest["cameras"]]
    errors = {True: [], False: []}
    for p in from_benchmark(b):
        got = noisy[p.subject][action_key(p.action, p.level, "level")][cams.index(p.camera)]
        np.testing.assert_array_equal(got, keypoints_2d(p, "noise", noise).pixels)
        hidden = p.labels["occluded"] | p.labels["out_of_frame"]
        err = np.linalg.norm(got - p.joints_2d, axis=-1)
        errors[True] += err[hidden].tolist()
        errors[False] += err[~hidden].tolist()
    # the sizes the preset's noise model gives: per state, a Gaussian core of std s plus, with
    # probability p, outliers of std sqrt(s^2 + o^2) (2D, mean length sqrt(pi/2) * std; pixels
    # for a 1000 px wide image)
    scale = b.manifest["cameras"][0]["width"] / 1000.0

    def mean_length(s, p, o):
        return scale * np.sqrt(np.pi / 2) * ((1 - p) * s + p * np.hypot(s, o))

    vis = mean_length(noise.visible_std, noise.visible_outlier_prob or 0.0, noise.visible_outlier_std or 0.0)
    assert np.mean(errors[False]) == pytest.approx(vis, rel=0.25)
    assert np.mean(errors[True]) > 0 and len(errors[True]) > 20
    # The level-first names still import with their action and level.
    seqs = load_videopose3d(paths[0], paths[1], paths[4], trust_pickle=True)
    assert {(s.action, s.level) for s in seqs} == {("walk", 0.0), ("walk", 0.3)}
