"""VideoPose3D interop: import its ``data_3d``/``data_2d`` files, export a benchmark in its format.

VideoPose3D's files (``np.savez`` of pickled dicts, read with ``np.load(...).item()``)::

    data_3d_<name>.npz        positions_3d: {subject: {action: (T, J, 3) float32 world metres}}
    data_2d_<name>_<det>.npz  positions_2d: {subject: {action: [per camera (T, J, 2) pixels]}}
                              metadata: {layout_name, num_joints, keypoints_symmetry,
                                         video_metadata: {subject: {w, h}}}

occpose's export adds ``data_occlusion_<name>.npz`` (one key per label -- ``occluded``,
``visibility``, ``occluded_by_body``, ``occluded_by_object``, ``out_of_frame``, the heuristics,
``occluder_fraction`` -- each {subject: {action: [per camera (T, J) or (T,)]}}, same nesting as
``positions_2d``, plus ``metadata``) and ``cameras_<name>.json``.

**Action naming in exports**: one VideoPose3D action per (action, level): ``"walk L030"`` is
action ``walk`` at target level 0.30 (``group_by="action"``, the default). VideoPose3D's
``--actions walk`` matches the start of the name, so it selects every level, and its printed
evaluation table groups by the first word: one row per action. ``group_by="level"`` names them
``"L030 walk"``: the table has one row per occlusion level and ``--actions L030`` selects a level.
``positions_3d`` repeats the clip's world joints for each level key (all cameras and levels of
a (subject, action) share one clip). ``metadata["occpose"]`` maps each key back: {"actions": {key: [action, level]}, "fps", "train_subjects",
"test_subjects", "cameras", "group_by"}; :func:`load_videopose3d` uses it for actions, levels and
splits. The data_3d file's ``metadata`` also holds ``skeleton`` (joint names, parents, left and
right joints), ``cameras`` ({subject: [VideoPose3D camera dict]}) and ``fps``: what the dataset
class ``occpose_dataset.py`` written next to the files (:mod:`.vp3d_dataset`) reads.

Cameras -- the camera JSON of ``--cameras``, quaternions, conversion to and from
:class:`~occpose.camera.Camera`, and how VideoPose3D's distortion model compares with
occpose's -- are in :mod:`.vp3d_cameras`; its public names are re-exported here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..camera import project_to_2d, world_to_camera
from ..dataset.atomic import atomic_path, atomic_write_text
from ..dataset.poses import LABEL_ARRAYS, PoseSequence
from ..errors import DatasetError
from ..skeleton import H36M_17, HUMANEVA_15, Skeleton
from .safe_pickle import load_npz
from .vp3d_cameras import (camera_from_dict, camera_to_videopose3d, cameras_for,  # noqa: F401 (re-exported)
                           matrix_from_quaternion, quaternion_from_matrix, read_cameras_json)

LAYOUTS: dict[str, Skeleton] = {"h36m": H36M_17, "humaneva15": HUMANEVA_15}
LAYOUT_OF_SKELETON = {"h36m17": "h36m", "humaneva15": "humaneva15"}
LAYOUT_FPS = {"h36m": 50.0, "humaneva15": 60.0}
PROTOCOL_SPLITS = {
    "h36m": (("S1", "S5", "S6", "S7", "S8"), ("S9", "S11")),
    "humaneva15": (("Train/S1", "Train/S2", "Train/S3"), ("Validate/S1", "Validate/S2", "Validate/S3")),
}
# VideoPose3D's Human3.6M 3D data has 32 joints; its remove_static_joints keeps these 17.
H36M_32_TO_17 = np.array([0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27])
EXPORT_LABELS = (*LABEL_ARRAYS, "occluder_fraction", "self_occlusion_fraction")


# ---------------------------------------------------------------------------------- reading
def _poses(arr, where: str, dims: tuple[int, ...]) -> np.ndarray:
    """Check one (T, J, C) array: numeric, C in ``dims``, finite; returns float32 (T, J, dims[0])."""
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
        raise DatasetError(f"{where}: expected a numeric array, got {type(arr).__name__}"
                           f"{'' if not isinstance(arr, np.ndarray) else ' of dtype ' + str(arr.dtype)}")
    if arr.ndim != 3 or arr.shape[-1] not in dims or arr.shape[0] < 1:
        raise DatasetError(f"{where}: shape {arr.shape}, expected (T, J, {dims[0]})")
    if not np.isfinite(arr).all():
        t, j = np.argwhere(~np.isfinite(arr).all(axis=-1))[0]
        raise DatasetError(f"{where}: NaN or inf values (first at frame {t}, joint {j})")
    return arr[..., :dims[0]].astype(np.float32, copy=False)


def _nested(obj, where: str, what: str) -> dict:
    if not isinstance(obj, dict) or not all(isinstance(v, dict) for v in obj.values()):
        raise DatasetError(f"{where}: {what!r} must be a dict subject -> action -> data, "
                           f"got {type(obj).__name__}")
    return obj


def read_data_3d(path: str | Path, trust_pickle: bool = False) -> tuple[dict, dict]:
    """``positions_3d`` of a data_3d file ({subject: {action: (T, J, 3) float32 world metres}})
    and its optional ``metadata`` (occpose exports add one; VideoPose3D ignores it)."""
    z = load_npz(path, trust_pickle, ("positions_3d",))
    pos = _nested(z["positions_3d"], str(path), "positions_3d")
    meta = z.get("metadata", {})
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: 'metadata' must be a dict, got {type(meta).__name__}")
    return {str(s): {str(a): _poses(arr, f"{path}: subject {s!r} action {a!r}", (3,))
                     for a, arr in acts.items()} for s, acts in pos.items()}, meta


def read_data_2d(path: str | Path, trust_pickle: bool = False) -> tuple[dict, dict]:
    """``positions_2d`` ({subject: {action: [per camera (T, J, 2) float32 pixels]}}) and ``metadata``.

    A third channel (detector confidence) is dropped.
    """
    z = load_npz(path, trust_pickle, ("positions_2d", "metadata"))
    meta = z["metadata"]
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: 'metadata' must be a dict, got {type(meta).__name__}")
    pos = _nested(z["positions_2d"], str(path), "positions_2d")
    out = {}
    for s, acts in pos.items():
        out[str(s)] = {}
        for a, views in acts.items():
            if not isinstance(views, (list, tuple)) or not views:
                raise DatasetError(f"{path}: subject {s!r} action {a!r}: expected a list of per-camera "
                                   f"arrays, got {type(views).__name__}")
            out[str(s)][str(a)] = [_poses(v, f"{path}: subject {s!r} action {a!r} camera {i}", (2, 3))
                                   for i, v in enumerate(views)]
    return out, meta


def _layout(layout, meta: dict, pos3d: dict, data_3d, data_2d) -> str:
    if layout is None and meta:
        layout = meta.get("layout_name")
        if layout is None:
            raise DatasetError(f"{data_2d}: metadata lacks 'layout_name'")
    if layout is None:
        counts = {arr.shape[1] for acts in pos3d.values() for arr in acts.values()}
        layout = {frozenset({17}): "h36m", frozenset({32}): "h36m", frozenset({15}): "humaneva15"}.get(
            frozenset(counts))
        if layout is None:
            raise DatasetError(f"{data_3d}: cannot tell the joint layout from joint counts {sorted(counts)}; "
                               f"expected 17 or 32 (h36m) or 15 (humaneva15)")
    if layout not in LAYOUTS:
        raise DatasetError(f"{data_2d or data_3d}: layout_name {layout!r} is not supported; "
                           f"expected one of {', '.join(LAYOUTS)}")
    return layout


def _to_layout(world: np.ndarray, layout: str, where: str) -> np.ndarray:
    n = LAYOUTS[layout].num_joints
    if layout == "h36m" and world.shape[1] == 32:
        return world[:, H36M_32_TO_17]
    if world.shape[1] != n:
        extra = " (or VideoPose3D's full 32)" if layout == "h36m" else ""
        raise DatasetError(f"{where}: {world.shape[1]} joints, layout {layout!r} expects {n}{extra}")
    return world


def _splits(train, test, info: dict, layout: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    if train is not None or test is not None:
        return tuple(train or ()), tuple(test or ()), True
    if "train_subjects" in info:
        return tuple(info["train_subjects"]), tuple(info.get("test_subjects", ())), False
    return (*PROTOCOL_SPLITS[layout], False)


def read_occlusion(path: str | Path, trust_pickle: bool = False) -> dict[str, dict]:
    """Labels of a ``data_occlusion`` file: {label: {subject: {action: [per camera array]}}}."""
    z = load_npz(path, trust_pickle)
    return {k: _nested(v, str(path), k) for k, v in z.items() if k in LABEL_ARRAYS}


def load_videopose3d(data_3d, data_2d=None, cameras=None, trust_pickle: bool = False,
                     train_subjects=None, test_subjects=None, occlusion=None, layout: str | None = None,
                     fps: float | None = None) -> list[PoseSequence]:
    """VideoPose3D files -> one :class:`PoseSequence` per (subject, action, camera).

    Args:
        data_3d: ``data_3d_<name>.npz`` (world positions, metres).
        data_2d: optional ``data_2d_<name>_<det>.npz``; without it the 3D is projected with the
            cameras (occpose's OpenCV distortion model). 2D sequences longer than the 3D are cut
            to its length, as VideoPose3D does; shorter ones are an error.
        cameras: camera JSON path (:mod:`.vp3d_cameras`) or {subject: [Camera]}; required, since
            VideoPose3D's files carry no cameras.
        trust_pickle: allow the pickled members (read with the restricted unpickler).
        train_subjects, test_subjects: the split; default: ``metadata["occpose"]`` of an occpose
            export, else the layout's protocol (Human3.6M S1 S5 S6 S7 S8 / S9 S11; HumanEva
            Train/S1-3 / Validate/S1-3). Subjects in neither list are skipped.
        occlusion: optional ``data_occlusion_<name>.npz`` whose labels fill ``labels``.
        layout: ``"h36m"`` or ``"humaneva15"``; default from the 2D metadata or the joint count.
        fps: frame rate; default the export's, else 50 (h36m) or 60 (humaneva15).
    Returns:
        PoseSequences with ``joints_3d_cam`` (T, J, 3) float32 metres camera frame and
        ``joints_2d`` (T, J, 2) float32 pixels; ids ``"<subject>/<action>/<camera>"``.
    Raises:
        DatasetError: naming the file, subject, action and camera of any problem.
    """
    pos3d, meta3d = read_data_3d(data_3d, trust_pickle)
    pos2d, meta = read_data_2d(data_2d, trust_pickle) if data_2d is not None else (None, {})
    layout = _layout(layout, meta, pos3d, data_3d, data_2d)
    n_joints = LAYOUTS[layout].num_joints
    if cameras is None:
        raise DatasetError(f"{data_3d}: VideoPose3D files hold no cameras; pass a camera JSON "
                           f"(--cameras F.json) to express the 3D in camera frames")
    cams = cameras if isinstance(cameras, dict) else read_cameras_json(cameras)
    info = next((m["occpose"] for m in (meta, meta3d) if isinstance(m.get("occpose"), dict)), {})
    train, test, explicit = _splits(train_subjects, test_subjects, info, layout)
    for s in (*train, *test) if explicit else ():
        if s not in pos3d:
            raise DatasetError(f"{data_3d}: subject {s!r} (from --train-subjects/--test-subjects) is "
                               f"not in the file; subjects are {', '.join(pos3d)}")
    labels = read_occlusion(occlusion, trust_pickle) if occlusion is not None else {}
    fps = float(fps or info.get("fps") or LAYOUT_FPS[layout])
    action_info = info.get("actions", {})
    out = []
    for subject, actions in pos3d.items():
        split = "train" if subject in train else "test" if subject in test else None
        if split is None:
            continue
        subject_cams = cameras_for(cams, subject, "cameras" if isinstance(cameras, dict) else str(cameras))
        for action, world in actions.items():
            where = f"{data_3d}: subject {subject!r} action {action!r}"
            world = _to_layout(world, layout, where)
            views = _views_2d(pos2d, subject, action, len(subject_cams), n_joints, data_2d)
            base, level = action_info.get(action, (action, 0.0))
            for ci, cam in enumerate(subject_cams):
                seq_where = f"{where} camera {ci} ({cam.name})"
                j3 = world_to_camera(world, cam)
                j2 = _frames_2d(views, ci, j3, cam, seq_where, data_2d)
                out.append(PoseSequence(
                    id=f"{subject}/{action}/{cam.name}", subject=subject, action=str(base),
                    camera=cam.name, split=split, level=float(level),
                    joints_3d_cam=j3.astype(np.float32), joints_2d=j2.astype(np.float32),
                    width=cam.width, height=cam.height, fps=fps,
                    labels=_labels(labels, subject, action, ci, j3.shape[:2], occlusion)))
    if not out:
        raise DatasetError(f"{data_3d}: no sequences selected: subjects are {', '.join(pos3d)}, "
                           f"train {list(train)}, test {list(test)}; pass --train-subjects/--test-subjects")
    return out


def _views_2d(pos2d, subject, action, n_cams, n_joints, data_2d):
    if pos2d is None:
        return None
    where = f"{data_2d}: subject {subject!r} action {action!r}"
    try:
        views = pos2d[subject][action]
    except KeyError:
        raise DatasetError(f"{where}: missing from the 2D file (the 3D file has it)") from None
    if len(views) != n_cams:
        raise DatasetError(f"{where}: {len(views)} cameras, but the camera file lists {n_cams} for this subject")
    for i, v in enumerate(views):
        if v.shape[1] != n_joints:
            raise DatasetError(f"{where} camera {i}: {v.shape[1]} joints, expected {n_joints}")
    return views


def _frames_2d(views, ci, j3, cam, where, data_2d) -> np.ndarray:
    t = j3.shape[0]
    if views is not None:
        j2 = views[ci]
        if j2.shape[0] < t:
            raise DatasetError(f"{where}: the 2D file {data_2d} has {j2.shape[0]} frames, the 3D has {t}")
        return j2[:t]
    if not cam.meta.get("intrinsics", True):
        raise DatasetError(f"{where}: camera has no focal_length, so 2D cannot be projected; "
                           f"pass the 2D file (--data-2d) or add intrinsics")
    if (j3[..., 2] <= 1e-6).any():
        raise DatasetError(f"{where}: joints at or behind the camera; check the camera file's "
                           f"orientation convention (camera-to-world quaternion)")
    return project_to_2d(j3, cam)


def _labels(labels: dict, subject, action, ci, shape, path) -> dict[str, np.ndarray]:
    out = {}
    for name, nested in labels.items():
        try:
            arr = np.asarray(nested[subject][action][ci])
        except (KeyError, IndexError, TypeError):
            raise DatasetError(f"{path}: label {name!r} lacks subject {subject!r} action {action!r} "
                               f"camera {ci}") from None
        where = f"{path}: label {name!r} of subject {subject!r} action {action!r} camera {ci}"
        if arr.shape[1:] != shape[1:] or arr.shape[0] < shape[0]:
            raise DatasetError(f"{where} has shape {arr.shape}, expected {shape}")
        if name == "visibility":
            if arr.dtype.kind != "f" or not np.isfinite(arr).all() or (arr < 0).any() or (arr > 1).any():
                raise DatasetError(f"{where}: expected finite floats in [0, 1]")
        elif arr.dtype != bool:
            raise DatasetError(f"{where}: dtype {arr.dtype}, expected bool")
        out[name] = arr[:shape[0]]
    return out


# ---------------------------------------------------------------------------------- export
def _save_pickled_npz(path: Path, **members) -> None:
    """np.savez_compressed of dicts (pickles, VideoPose3D's design), written atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **{k: np.array(v, dtype=object) if isinstance(v, dict) else v
                                  for k, v in members.items()})


GROUP_BY = ("action", "level")


def action_key(action: str, level: float, group_by: str = "action") -> str:
    """VideoPose3D action name of (action, level): ``"walk L030"`` or (by level) ``"L030 walk"``."""
    tag = f"L{round(level * 100):03d}"
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}, got {group_by!r}")
    return f"{action} {tag}" if group_by == "action" else f"{tag} {action}"


KEYPOINTS_2D = ("gt", "noise")


@dataclass(frozen=True)
class Vp3dExport:
    """The files :func:`export_videopose3d_files` wrote."""

    data_3d: Path
    data_2d: dict[str, Path]  # keypoints2d name ("gt", "noise") -> data_2d_<name>_<k>.npz
    occlusion: Path
    cameras: Path
    dataset_class: Path  # occpose_dataset.py

    def paths(self) -> list[Path]:
        return [self.data_3d, *self.data_2d.values(), self.occlusion, self.cameras, self.dataset_class]


def export_videopose3d(bench_dir, out_dir, name: str = "occpose", split: str | None = None,
                       levels=None, group_by: str = "action", keypoints2d=("gt",)) -> list[Path]:
    """Write a benchmark in VideoPose3D's format; returns [data_3d, data_2d gt, data_occlusion,
    cameras JSON] (the other files it writes are listed by :func:`export_videopose3d_files`)."""
    files = export_videopose3d_files(bench_dir, out_dir, name, split, levels, group_by, keypoints2d)
    return [files.data_3d, files.data_2d["gt"], files.occlusion, files.cameras]


def export_videopose3d_files(bench_dir, out_dir, name: str = "occpose", split: str | None = None,
                             levels=None, group_by: str = "action", keypoints2d=("gt",)) -> Vp3dExport:
    """Write a benchmark in VideoPose3D's format (see the module docstring for the files).

    Args:
        split: ``"train"``/``"test"`` to export one split only.
        levels: target levels to export (default all).
        group_by: ``"action"`` (``"walk L030"``) or ``"level"`` (``"L030 walk"``): the first word
            is what VideoPose3D's evaluation table groups by.
        keypoints2d: 2D "detections" to write, ``data_2d_<name>_<k>.npz`` each: ``"gt"``, the
            exact projections, and ``"noise"``, occpose's simulated detector
            (:mod:`occpose.harness.inputs`, the benchmark's ``[train.noise]`` parameters, the same
            realisation occpose's own ``--keypoints2d noise`` uses; needs torch installed). With
            exact 2D every level of a clip gives VideoPose3D the same input; the noise makes
            occluded joints worse, as a detector's would.
    Returns:
        The paths written, a :class:`Vp3dExport` (the dataset class ``occpose_dataset.py`` is
        :mod:`.vp3d_dataset`).
    """
    from ..dataset import open_benchmark
    from .vp3d_dataset import write_dataset_class

    if group_by not in GROUP_BY:
        raise DatasetError(f"group_by {group_by!r}: expected one of {', '.join(GROUP_BY)}")
    keypoints2d = list(dict.fromkeys(["gt", *keypoints2d]))
    bad = [k for k in keypoints2d if k not in KEYPOINTS_2D]
    if bad:
        raise DatasetError(f"keypoints2d {bad[0]!r}: expected one of {', '.join(KEYPOINTS_2D)}")
    bench = open_benchmark(bench_dir)
    if "noise" in keypoints2d:
        from ..config import config_from_dict
        from ..dataset.poses import from_benchmark
        from ..harness.inputs import keypoints_2d

        noise = config_from_dict(bench.config, str(bench_dir)).train.noise
    entries = bench.select(split=split, levels=levels)
    if not entries:
        raise DatasetError(f"{bench_dir}: no sequences match split={split} levels={levels}")
    cam_order = [c["name"] for c in bench.manifest["cameras"]]
    groups: dict[tuple[str, str], dict] = {}
    action_info = {}
    for e in entries:
        key = action_key(e.action, e.target_level, group_by)
        action_info[key] = [e.action, e.target_level]
        groups.setdefault((e.subject, key), {})[e.camera] = e
    pos3d, labels = {}, {k: {} for k in EXPORT_LABELS}
    pos2d: dict[str, dict] = {k: {} for k in keypoints2d}
    present = set(EXPORT_LABELS)
    for (subject, key), by_cam in groups.items():
        missing = [c for c in cam_order if c not in by_cam]
        if missing:
            raise DatasetError(f"{bench_dir}: subject {subject} action {key!r} lacks cameras {missing}")
        seqs = [bench.load(by_cam[c]) for c in cam_order]
        pos3d.setdefault(subject, {})[key] = seqs[0].arrays["joints_3d_world"].astype(np.float32)
        pos2d["gt"].setdefault(subject, {})[key] = [s.arrays["joints_2d"].astype(np.float32) for s in seqs]
        if "noise" in keypoints2d:
            pos2d["noise"].setdefault(subject, {})[key] = [
                keypoints_2d(p, "noise", noise).pixels for p in from_benchmark(bench, [by_cam[c] for c in cam_order])]
        for lab in EXPORT_LABELS:
            if all(lab in s.arrays for s in seqs):
                labels[lab].setdefault(subject, {})[key] = [s.arrays[lab] for s in seqs]
            else:
                present.discard(lab)
    skeleton = bench.skeleton
    cam0 = bench.cameras[cam_order[0]]
    b = bench.config.get("benchmark", {})
    meta = {
        "layout_name": LAYOUT_OF_SKELETON[skeleton.name], "num_joints": skeleton.num_joints,
        "keypoints_symmetry": [list(skeleton.joints_left), list(skeleton.joints_right)],
        "video_metadata": {s: {"w": cam0.width, "h": cam0.height} for s in pos3d},
        "occpose": {"actions": action_info, "fps": float(b.get("fps", 50.0)), "cameras": cam_order,
                    "train_subjects": [s for s in b.get("train_subjects", []) if s in pos3d],
                    "test_subjects": [s for s in b.get("test_subjects", []) if s in pos3d],
                    "group_by": group_by},
    }
    cams = [camera_to_videopose3d(bench.cameras[c]) for c in cam_order]
    meta3d = {"occpose": meta["occpose"], "fps": float(b.get("fps", 50.0)),
              "skeleton": {"name": skeleton.name, "joint_names": list(skeleton.joint_names),
                           "parents": list(skeleton.parents), "joints_left": list(skeleton.joints_left),
                           "joints_right": list(skeleton.joints_right)},
              "cameras": {s: cams for s in pos3d}}
    out = Path(out_dir)
    paths = [out / f"data_3d_{name}.npz", *(out / f"data_2d_{name}_{k}.npz" for k in keypoints2d),
             out / f"data_occlusion_{name}.npz", out / f"cameras_{name}.json"]
    _save_pickled_npz(paths[0], positions_3d=pos3d, metadata=meta3d)
    for k, path in zip(keypoints2d, paths[1:]):
        _save_pickled_npz(path, positions_2d=pos2d[k], metadata={**meta, "keypoints2d": k})
    _save_pickled_npz(paths[-2], metadata={"labels": sorted(present), "actions": action_info},
                      **{k: labels[k] for k in EXPORT_LABELS if k in present})
    atomic_write_text(paths[-1], json.dumps({"format": "videopose3d-cameras/1", "translation_unit": "m",
                                            "subjects": {s: cams for s in pos3d}}, indent=1) + "\n")
    return Vp3dExport(data_3d=paths[0], data_2d=dict(zip(keypoints2d, paths[1:-2])), occlusion=paths[-2],
                      cameras=paths[-1], dataset_class=write_dataset_class(out))


# ----------------------------------------------------------------------- pickle-free cache
POSES_FORMAT = "occpose-poses/1"


def save_pose_bundle(sequences: list[PoseSequence], path, source: dict | None = None) -> str:
    """Write PoseSequences to one pickle-free npz (``convert videopose3d``); returns its sha256.

    Members: ``index`` (a JSON string: format, source, one record per sequence) and
    ``s<k>_joints_3d_cam``, ``s<k>_joints_2d``, ``s<k>_<label>`` for sequence k.
    """
    from ..dataset.npz import write_npz

    arrays, records = {}, []
    for k, s in enumerate(sequences):
        records.append({"id": s.id, "subject": s.subject, "action": s.action, "camera": s.camera,
                        "split": s.split, "level": s.level, "width": s.width, "height": s.height,
                        "fps": s.fps, "frames": s.n_frames, "labels": sorted(s.labels)})
        arrays[f"s{k:05d}_joints_3d_cam"] = s.joints_3d_cam.astype(np.float32)
        arrays[f"s{k:05d}_joints_2d"] = s.joints_2d.astype(np.float32)
        for name, arr in s.labels.items():
            arrays[f"s{k:05d}_{name}"] = np.asarray(arr)
    index = {"format": POSES_FORMAT, "source": source or {}, "sequences": records}
    return write_npz(path, {"index": np.array(json.dumps(index)), **arrays})


def load_pose_bundle(path) -> list[PoseSequence]:
    """Read a :func:`save_pose_bundle` file (never unpickles); DatasetError names the field."""
    from ..dataset.npz import read_npz

    z = read_npz(path)
    try:
        index = json.loads(str(np.asarray(z["index"]).reshape(-1)[0]))
        if not isinstance(index, dict) or index.get("format") != POSES_FORMAT:
            raise DatasetError(f"{path}: not an {POSES_FORMAT} file (no matching 'index' format)")
        out = []
        for k, r in enumerate(index["sequences"]):
            pre = f"s{k:05d}_"
            t = int(r["frames"])
            j3, j2 = z[pre + "joints_3d_cam"], z[pre + "joints_2d"]
            labels = {name: z[pre + name] for name in r["labels"]}
            if j3.shape[0] != t or not np.isfinite(j3).all() or not np.isfinite(j2).all():
                raise DatasetError(f"{path}: sequence {r['id']!r} has {j3.shape[0]} frames (index says "
                                   f"{t}) or non-finite joints")
            if any(v.shape != j3.shape[:2] for v in labels.values()):
                raise DatasetError(f"{path}: sequence {r['id']!r} has labels not shaped {j3.shape[:2]}")
            out.append(PoseSequence(
                id=r["id"], subject=r["subject"], action=r["action"], camera=r["camera"],
                split=r["split"], level=float(r["level"]), joints_3d_cam=j3, joints_2d=j2,
                width=int(r["width"]), height=int(r["height"]), fps=float(r["fps"]), labels=labels))
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: not an {POSES_FORMAT} file or malformed ({type(e).__name__}: {e})") from None
    return out
