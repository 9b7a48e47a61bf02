"""VideoPose3D interop: export/import round trips, camera conventions, pickle safety, validation.

``make_fake_benchmark`` (also used by the COCO and show tests) writes a small valid benchmark
with fake-but-consistent arrays through :class:`occpose.dataset.BenchmarkWriter`.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from occpose.camera import in_frame, project_to_2d, world_to_camera
from occpose.cli import main
from occpose.config import config_from_dict, read_preset
from occpose.configio import read_toml
from occpose.dataset import BenchmarkWriter, SequenceEntry, open_benchmark, sequence_id
from occpose.dataset.poses import from_benchmark
from occpose.errors import DatasetError
from occpose.interop.safe_pickle import UnsafePickleError
from occpose.interop.videopose3d import (camera_from_dict, camera_to_videopose3d, export_videopose3d,
                                         load_pose_bundle, load_videopose3d, matrix_from_quaternion,
                                         quaternion_from_matrix)
from occpose.occlusion.occluders.geometry import BOX, OccluderSet, rigid_transform

REPO = Path(__file__).resolve().parents[1]
# A standing person facing +x, metres, Z up, H36M-17 order.
TEMPLATE = np.array([
    [0, 0, 0.95], [0, -0.12, 0.95], [0.02, -0.12, 0.52], [0, -0.12, 0.08], [0, 0.12, 0.95],
    [0.02, 0.12, 0.52], [0, 0.12, 0.08], [0, 0, 1.2], [0, 0, 1.45], [0.03, 0, 1.57], [0, 0, 1.68],
    [0, 0.17, 1.42], [0, 0.2, 1.15], [0.05, 0.2, 0.9], [0, -0.17, 1.42], [0, -0.2, 1.15],
    [0.05, -0.2, 0.9]])


def make_fake_benchmark(root, frames=12, levels=(0.0, 0.3), rig=None, rendered=False, seed=0,
                        wander=0.0):
    """S1 (train) and S4 (test) walking past a box, two cameras of ``scenes/quick.toml`` (or of
    ``scenes/rigs/<rig>.toml``, with distortion), random but consistent labels. ``wander``
    metres more along -y take S4 out of the picture at the end."""
    data = read_preset(REPO / "scenes/quick.toml")
    data["benchmark"].update(frames=frames, actions=["walk"], levels=list(levels),
                             train_subjects=["S1"], test_subjects=["S4"])
    if rig:
        data["cameras"] = read_toml(REPO / "scenes/rigs" / f"{rig}.toml")["cameras"][:2]
    cfg = config_from_dict(data, "fake")
    writer = BenchmarkWriter(root, cfg)
    rng = np.random.default_rng(seed)
    ids = []
    for k, subject in enumerate(("S1", "S4")):
        t = np.linspace(0, 1, frames)[:, None, None]
        world = TEMPLATE[None] + t * np.array([0.8, 0.3 - (0.6 + wander) * k, 0.0]) + np.array([-0.4, 0.0, 0.0])
        world = world.astype(np.float32).astype(np.float64)  # (T, 17, 3)
        for cam in cfg.camera_objects():
            for lv in levels:
                jc = world_to_camera(world, cam)
                j2 = project_to_2d(jc, cam)
                oof = ~in_frame(j2, cam, jc)
                obj = (rng.random(oof.shape) < lv) & ~oof
                body = (rng.random(oof.shape) < 0.1) & ~obj & ~oof
                occ = obj | body
                pose = np.repeat(rigid_transform(None, [0.5, 0.2, 0.5])[None, None], frames, 0)  # (T, 1, 4, 4)
                box = OccluderSet.from_primitives([BOX], [[0.3, 0.2, 0.5]], pose)
                arrays = {"joints_3d_world": world.astype(np.float32), "joints_3d_cam": jc.astype(np.float32),
                          "joints_2d": j2.astype(np.float32),
                          "visibility": np.where(occ, 0.2, 1.0).astype(np.float32),
                          "occluded": occ, "occluded_by_body": body, "occluded_by_object": obj,
                          "out_of_frame": oof, "occluder_fraction": obj.mean(1).astype(np.float32),
                          "self_occlusion_fraction": body.mean(1).astype(np.float32), **box.to_arrays()}
                if rendered:
                    arrays["rendered"] = np.arange(frames) % 2 == 0
                sid = sequence_id(subject, "walk", cam.name, lv)
                writer.write_sequence(SequenceEntry(
                    id=sid, subject=subject, action="walk", camera=cam.name,
                    split="train" if subject == "S1" else "test", target_level=lv, frames=frames,
                    path="", sha256="", achieved_level=float(obj.mean())), arrays)
                ids.append(sid)
    writer.finalize(ids)
    return cfg


# -------------------------------------------------- VideoPose3D's own formulas (common/camera.py)
def vp3d_qrot(q, v):
    qvec = q[..., 1:]
    uv = np.cross(qvec, v)
    uuv = np.cross(qvec, uv)
    return v + 2 * (q[..., :1] * uv + uuv)


def vp3d_world_to_camera(x, r, t):
    rt = np.array(r, dtype=np.float64)
    rt[1:] *= -1  # qinverse
    return vp3d_qrot(np.broadcast_to(rt, x.shape[:-1] + (4,)), x - t)


def vp3d_project_to_2d(x, cam):
    f, c = np.array(cam["focal_length"]), np.array(cam["center"])
    k, p = np.array(cam["radial_distortion"]), np.array(cam["tangential_distortion"])
    xx = np.clip(x[..., :2] / x[..., 2:], -1, 1)
    r2 = np.sum(xx ** 2, axis=-1, keepdims=True)
    radial = 1 + np.sum(k * np.concatenate((r2, r2 ** 2, r2 ** 3), axis=-1), axis=-1, keepdims=True)
    tan = np.sum(p * xx, axis=-1, keepdims=True)
    return f * (xx * (radial + tan) + p * r2) + c


@pytest.fixture
def bench(tmp_path):
    make_fake_benchmark(tmp_path / "bench")
    return tmp_path / "bench"


@pytest.fixture
def exported(bench, tmp_path):
    paths = export_videopose3d(bench, tmp_path / "vp3d")
    return dict(zip(("d3", "d2", "occ", "cams"), paths))


def _reference(bench):
    return {(p.subject, p.action, p.camera, p.level): p for p in from_benchmark(open_benchmark(bench))}


# ------------------------------------------------------------------------------- round trips
def test_export_import_round_trip(bench, exported):
    assert all(p.is_file() for p in exported.values())
    seqs = load_videopose3d(exported["d3"], exported["d2"], exported["cams"], trust_pickle=True,
                            occlusion=exported["occ"])
    ref = _reference(bench)
    assert len(seqs) == len(ref) == 8
    for s in seqs:
        r = ref[(s.subject, s.action, s.camera, s.level)]
        assert s.split == r.split and s.fps == r.fps and (s.width, s.height) == (r.width, r.height)
        np.testing.assert_allclose(s.joints_3d_cam, r.joints_3d_cam, atol=1e-5)
        np.testing.assert_allclose(s.joints_2d, r.joints_2d, atol=1e-3)
        for name in ("occluded", "occluded_by_body", "occluded_by_object", "out_of_frame", "visibility"):
            np.testing.assert_array_equal(s.labels[name], r.labels[name])


def test_export_layout_and_action_naming(exported):
    z3 = np.load(exported["d3"], allow_pickle=True)
    pos = z3["positions_3d"].item()
    assert sorted(pos) == ["S1", "S4"] and sorted(pos["S1"]) == ["walk L000", "walk L030"]
    assert pos["S1"]["walk L030"].shape == (12, 17, 3) and pos["S1"]["walk L030"].dtype == np.float32
    z2 = np.load(exported["d2"], allow_pickle=True)
    meta = z2["metadata"].item()
    assert meta["layout_name"] == "h36m" and meta["num_joints"] == 17
    assert meta["keypoints_symmetry"] == [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]
    assert meta["video_metadata"]["S1"] == {"w": 1000, "h": 1000}
    views = z2["positions_2d"].item()["S4"]["walk L000"]
    assert len(views) == 2 and views[0].shape == (12, 17, 2)
    occ = np.load(exported["occ"], allow_pickle=True)
    assert occ["occluded"].item()["S1"]["walk L030"][1].shape == (12, 17)
    assert occ["occluder_fraction"].item()["S1"]["walk L030"][0].shape == (12,)


def test_import_projects_3d_when_2d_is_missing(bench, exported):
    seqs = load_videopose3d(exported["d3"], None, exported["cams"], trust_pickle=True)
    ref = _reference(bench)
    assert {s.split for s in seqs} == {"train", "test"}  # splits from the export's metadata
    for s in seqs:
        np.testing.assert_allclose(s.joints_2d, ref[(s.subject, s.action, s.camera, s.level)].joints_2d,
                                   atol=1e-3)


@pytest.mark.parametrize("rig, tol", [(None, 1e-3), ("h36m", 1.0)])
def test_exported_cameras_follow_videopose3d_conventions(tmp_path, rig, tol):
    """VideoPose3D's own world_to_camera / project_to_2d on the exported cameras reproduce the
    benchmark: exactly for pinhole cameras, within a pixel with Human3.6M-like distortion."""
    make_fake_benchmark(tmp_path / "b", rig=rig, levels=(0.0,))
    export_videopose3d(tmp_path / "b", tmp_path / "vp")
    cams = json.loads((tmp_path / "vp/cameras_occpose.json").read_text())["subjects"]["S1"]
    b = open_benchmark(tmp_path / "b")
    for e in b.entries:
        s = b.load(e)
        cam = next(c for c in cams if c["id"] == e.camera)
        x = vp3d_world_to_camera(s.joints_3d_world.astype(np.float64), cam["orientation"],
                                 np.array(cam["translation"]))
        np.testing.assert_allclose(x, s.joints_3d_cam, atol=1e-5)
        assert np.abs(vp3d_project_to_2d(x, cam) - s.joints_2d).max() < tol


def test_quaternion_round_trip_and_h36m_camera():
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        q = -q if q[0] < 0 else q
        np.testing.assert_allclose(quaternion_from_matrix(matrix_from_quaternion(q)), q, atol=1e-9)
    # Human3.6M S1 camera 0 (VideoPose3D's table): looks at the capture centre, image y down = -Z.
    cam = camera_from_dict({"orientation": [0.1407056450843811, -0.1500701755285263, -0.755240797996521,
                                            0.6223280429840088],
                            "translation": [1841.107, 4955.285, 1563.445], "res_w": 1000, "res_h": 1002,
                            "focal_length": [1145.05, 1143.78], "center": [512.54, 515.45]},
                           "c", "test", unit=0.001)
    forward, down = cam.rot_world_to_cam[2], cam.rot_world_to_cam[1]
    assert forward @ (-cam.position / np.linalg.norm(cam.position)) > 0.95
    assert down[2] < -0.95
    back = camera_from_dict(camera_to_videopose3d(cam), "c", "test")
    np.testing.assert_allclose(back.rot_world_to_cam, cam.rot_world_to_cam, atol=1e-12)


# ------------------------------------------------------------------------------- pickle safety
def test_refuses_pickles_without_trust(exported, capsys, tmp_path):
    with pytest.raises(DatasetError, match="--trust-pickle"):
        load_videopose3d(exported["d3"], exported["d2"], exported["cams"])
    code = main(["convert", "videopose3d", "--data-3d", str(exported["d3"]), "--cameras",
                 str(exported["cams"]), "--out", str(tmp_path / "p.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "--trust-pickle" in err and "arbitrary code" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "p.npz").exists()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write_npz_member(path, name, pickled: bytes):
    """An npz whose member is an object-array .npy header followed by ``pickled``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}.npy", buf.getvalue() + pickled)


def test_malicious_pickle_is_refused_even_when_trusted(tmp_path, exported, capsys):
    import pickle

    marker = tmp_path / "pwned"
    evil = tmp_path / "data_3d_evil.npz"
    _write_npz_member(evil, "positions_3d", pickle.dumps(_Evil(marker), protocol=3))
    with pytest.raises(UnsafePickleError, match="system"):
        load_videopose3d(evil, None, exported["cams"], trust_pickle=True)
    code = main(["convert", "videopose3d", "--data-3d", str(evil), "--cameras", str(exported["cams"]),
                 "--trust-pickle", "--out", str(tmp_path / "p.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "not allowed" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_restricted_unpickler_reads_arrays_and_containers(protocol):
    import pickle

    from occpose.interop.safe_pickle import restricted_loads

    data = {"S1": {"Walk 1": np.arange(6, dtype=np.float32).reshape(2, 3)[:, ::2]},
            "meta": [np.int64(3), {1, 2}, (1.5, "x"), np.dtype("f8"), None, b"raw"]}
    back = restricted_loads(pickle.dumps(data, protocol=protocol))
    np.testing.assert_array_equal(back["S1"]["Walk 1"], data["S1"]["Walk 1"])
    assert back["meta"] == data["meta"]
    with pytest.raises(UnsafePickleError, match="eval, which is not allowed"):
        restricted_loads(pickle.dumps(eval, protocol=protocol))


# ------------------------------------------------------------------------------- validation
def _save_vp3d(path, positions):
    np.savez_compressed(path, positions_3d=np.array(positions, dtype=object))


def test_nan_wrong_joint_count_and_corrupt_files(tmp_path, exported):
    cams = exported["cams"]
    bad = np.zeros((5, 17, 3))
    bad[2, 4, 1] = np.nan
    _save_vp3d(tmp_path / "nan.npz", {"S1": {"Walk 1": bad}})
    with pytest.raises(DatasetError, match=r"nan\.npz: subject 'S1' action 'Walk 1': NaN.*frame 2, joint 4"):
        load_videopose3d(tmp_path / "nan.npz", None, cams, trust_pickle=True)
    _save_vp3d(tmp_path / "j16.npz", {"S1": {"Walk 1": np.zeros((5, 16, 3))}})
    with pytest.raises(DatasetError, match="16"):
        load_videopose3d(tmp_path / "j16.npz", None, cams, trust_pickle=True)
    _save_vp3d(tmp_path / "j16.npz", {"S1": {"Walk 1": np.zeros((5, 16, 3))}})
    with pytest.raises(DatasetError, match="16 joints, layout 'h36m' expects 17"):
        load_videopose3d(tmp_path / "j16.npz", None, cams, trust_pickle=True, layout="h36m")
    _save_vp3d(tmp_path / "shape.npz", {"S1": {"Walk 1": np.zeros((5, 17, 4))}})
    with pytest.raises(DatasetError, match=r"shape \(5, 17, 4\), expected \(T, J, 3\)"):
        load_videopose3d(tmp_path / "shape.npz", None, cams, trust_pickle=True)
    data = exported["d3"].read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="trunc.npz: truncated or corrupt"):
        load_videopose3d(tmp_path / "trunc.npz", None, cams, trust_pickle=True)
    with pytest.raises(DatasetError, match="cameras"):
        load_videopose3d(exported["d3"], None, None, trust_pickle=True)


def test_2d_frame_counts_and_full_h36m_skeleton(tmp_path, exported):
    rng = np.random.default_rng(1)
    world32 = rng.normal(size=(6, 32, 3)) * 0.3 + [0, 0, 1]
    _save_vp3d(tmp_path / "d3.npz", {"S9": {"Walk 1": world32}})
    cams = json.loads(exported["cams"].read_text())
    cams["subjects"] = {"*": cams["subjects"]["S1"]}
    (tmp_path / "cams.json").write_text(json.dumps(cams))
    meta = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[], []]}

    def save_2d(frames):
        views = [rng.normal(size=(frames, 17, 2)) * 50 + 500 for _ in range(2)]
        np.savez_compressed(tmp_path / "d2.npz", positions_2d=np.array({"S9": {"Walk 1": views}}, dtype=object),
                            metadata=np.array(meta, dtype=object))
        return views

    views = save_2d(8)  # longer than the 3D: cut, as VideoPose3D does
    seqs = load_videopose3d(tmp_path / "d3.npz", tmp_path / "d2.npz", tmp_path / "cams.json", trust_pickle=True)
    assert [s.split for s in seqs] == ["test", "test"]  # H36M protocol: S9 tests
    np.testing.assert_allclose(seqs[0].joints_2d, views[0][:6], atol=1e-4)
    from occpose.interop.videopose3d import H36M_32_TO_17
    cam = camera_from_dict(cams["subjects"]["*"][0], "c", "t")
    np.testing.assert_allclose(seqs[0].joints_3d_cam, world_to_camera(world32[:, H36M_32_TO_17], cam), atol=1e-5)
    save_2d(4)
    with pytest.raises(DatasetError, match="camera 0.*has 4 frames, the 3D has 6"):
        load_videopose3d(tmp_path / "d3.npz", tmp_path / "d2.npz", tmp_path / "cams.json", trust_pickle=True)
    with pytest.raises(DatasetError, match="subject 'S1'.*not in the file"):
        load_videopose3d(tmp_path / "d3.npz", None, tmp_path / "cams.json", trust_pickle=True,
                         train_subjects=["S1"])


def test_camera_json_variants(tmp_path, bench, exported):
    b = open_benchmark(bench)
    rig = [c.to_dict() for c in b.cameras.values()]
    occ = {"subjects": {"S1": rig, "S4": rig}}
    (tmp_path / "occ.json").write_text(json.dumps(occ))
    a = load_videopose3d(exported["d3"], exported["d2"], tmp_path / "occ.json", trust_pickle=True)
    ref = load_videopose3d(exported["d3"], exported["d2"], exported["cams"], trust_pickle=True)
    for x, y in zip(a, ref):
        np.testing.assert_allclose(x.joints_3d_cam, y.joints_3d_cam, atol=1e-6)
    cams = json.loads(exported["cams"].read_text())
    for c in cams["subjects"]["S1"]:
        c["translation"] = [v * 1000 for v in c["translation"]]
    (tmp_path / "mm.json").write_text(json.dumps(cams))
    with pytest.raises(DatasetError, match="translation_unit"):
        load_videopose3d(exported["d3"], None, tmp_path / "mm.json", trust_pickle=True)
    cams["translation_unit"] = "mm"
    cams["subjects"]["S1"][0]["orientation"] = [1.0, 1.0, 0.0, 0.0]
    (tmp_path / "mm.json").write_text(json.dumps(cams))
    with pytest.raises(DatasetError, match=r"mm\.json: subject 'S1' camera 0: 'orientation' is not a unit"):
        load_videopose3d(exported["d3"], None, tmp_path / "mm.json", trust_pickle=True)


def test_cli_export_and_convert_bundle(bench, tmp_path, capsys):
    assert main(["export", str(bench), "--format", "videopose3d", "--out", str(tmp_path / "vp"),
                 "--split", "test", "--levels", "0.3"]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["data_3d_occpose.npz", "data_2d_occpose_gt.npz",
                                               "data_occlusion_occpose.npz", "cameras_occpose.json",
                                               "occpose_dataset.py"]
    assert main(["convert", "videopose3d", "--data-3d", printed[0], "--data-2d", printed[1], "--cameras",
                 printed[3], "--occlusion", printed[2], "--trust-pickle", "--out", str(tmp_path / "p.npz")]) == 0
    seqs = load_pose_bundle(tmp_path / "p.npz")
    ref = _reference(bench)
    assert len(seqs) == 2 and {s.split for s in seqs} == {"test"} and {s.level for s in seqs} == {0.3}
    for s in seqs:
        r = ref[(s.subject, s.action, s.camera, s.level)]
        np.testing.assert_allclose(s.joints_3d_cam, r.joints_3d_cam, atol=1e-5)
        np.testing.assert_array_equal(s.labels["occluded"], r.labels["occluded"])
    with zipfile.ZipFile(tmp_path / "p.npz") as zf:  # pickle-free
        assert all(b"numpy.core" not in zf.read(n) for n in zf.namelist())
    assert main(["export", str(bench), "--format", "videopose3d", "--out", str(tmp_path / "x"),
                 "--levels", "0.7"]) == 2
    assert "--levels [0.7]: not in" in capsys.readouterr().err


def test_real_generated_benchmark(tiny_preset, tmp_path):
    """Export, import, COCO and show on a benchmark made by the generator."""
    from occpose.cli.show import show_sequence
    from occpose.config import load_config
    from occpose.generate import generate
    from occpose.interop.coco import export_coco, load_coco

    cfg = load_config(tiny_preset, ["benchmark.frames=20", 'benchmark.actions=["walk"]'])
    generate(cfg, tmp_path / "b", workers=1, progress=False)
    paths = export_videopose3d(tmp_path / "b", tmp_path / "vp")
    seqs = load_videopose3d(paths[0], paths[1], paths[3], trust_pickle=True, occlusion=paths[2])
    ref = _reference(tmp_path / "b")
    assert len(seqs) == len(ref)
    for s in seqs:
        r = ref[(s.subject, s.action, s.camera, s.level)]
        np.testing.assert_allclose(s.joints_3d_cam, r.joints_3d_cam, atol=1e-5)
        np.testing.assert_allclose(s.joints_2d, r.joints_2d, atol=1e-3)
        np.testing.assert_array_equal(s.labels["occluded"], r.labels["occluded"])
    export_coco(tmp_path / "b", tmp_path / "coco.json")
    assert len(load_coco(tmp_path / "coco.json")["images"]) == sum(len(s.joints_2d) for s in seqs)
    assert all(p.is_file() for p in show_sequence(tmp_path / "b", None, 3, tmp_path / "figs"))
