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
action ``walk`` at target level 0.30. VideoPose3D's ``--actions walk`` matches the part before
the space, so it selects every level. ``positions_3d`` repeats the clip's world joints for each
level key (all cameras and levels of a (subject, action) share one clip). ``metadata["occpose"]``
maps each key back: {"actions": {key: [action, level]}, "fps", "train_subjects",
"test_subjects", "cameras"}; :func:`load_videopose3d` uses it for actions, levels and splits.

**Camera JSON** (``--cameras``)::

    {"format": "videopose3d-cameras/1",        optional
     "translation_unit": "m",                  "m" (default) or "mm" (VideoPose3D's source tables)
     "subjects": {"S1": [camera, ...], ...}}   or that mapping alone at the top level

A subject's list is in the order of the 2D file's camera lists. A subject ``Train/S1`` falls back
to ``S1``, then to ``"*"``. Each camera is either VideoPose3D's dict -- ``orientation``
[w, x, y, z] quaternion camera-to-world (VideoPose3D's ``world_to_camera(X, R, t) =
qrot(qinverse(R), X - t)``), ``translation`` camera centre in world, ``res_w``, ``res_h``,
optional ``id``, ``focal_length`` [fx, fy] and ``center`` [cx, cy] in pixels,
``radial_distortion`` [k1, k2, k3], ``tangential_distortion`` [p1, p2] -- or occpose's
``Camera.to_dict()`` (``name``, ``width``, ``height``, ``fx``..., ``rot_world_to_cam``,
``position``). The world frame is used as given (Human3.6M's is Z up, like occpose's).

Distortion: occpose projects with OpenCV's Brown-Conrady model (``occpose.camera.distort``);
VideoPose3D's ``project_to_2d`` uses the same radial term but its own tangential term
``x * (p . x) + p * r^2`` and clamps x/z, y/z to [-1, 1]. Coefficients are exported unchanged;
the two models agree to well under a pixel for Human3.6M-like coefficients.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..camera import Camera, project_to_2d, world_to_camera
from ..dataset.atomic import atomic_path, atomic_write_text
from ..dataset.poses import LABEL_ARRAYS, PoseSequence
from ..errors import DatasetError
from ..skeleton import H36M_17, HUMANEVA_15, Skeleton
from .safe_pickle import load_npz

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


# ---------------------------------------------------------------------------------- cameras
def quaternion_from_matrix(rot: np.ndarray) -> np.ndarray:
    """(3, 3) rotation -> (4,) unit quaternion (w, x, y, z) with w >= 0 (Shepperd's method)."""
    m = np.asarray(rot, dtype=np.float64)
    tr = np.trace(m)
    if tr > 0:
        s = 2.0 * math.sqrt(tr + 1.0)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q) / np.linalg.norm(q)
    return -q if q[0] < 0 else q


def matrix_from_quaternion(q) -> np.ndarray:
    """(4,) unit quaternion (w, x, y, z) -> (3, 3) rotation applying ``v -> q v q*``."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def camera_to_videopose3d(camera: Camera) -> dict:
    """occpose Camera -> VideoPose3D camera dict (pixels; translation in metres)."""
    rot_cam_to_world = np.asarray(camera.rot_world_to_cam).T
    pos = np.asarray(camera.position, dtype=np.float64)
    return {
        "id": camera.name, "res_w": int(camera.width), "res_h": int(camera.height),
        "azimuth": round(math.degrees(math.atan2(pos[1], pos[0]))),  # VideoPose3D: viewer only
        "orientation": quaternion_from_matrix(rot_cam_to_world).tolist(),
        "translation": pos.tolist(),
        "focal_length": [float(camera.fx), float(camera.fy)],
        "center": [float(camera.cx), float(camera.cy)],
        "radial_distortion": [float(v) for v in camera.k],
        "tangential_distortion": [float(v) for v in camera.p],
    }


def _vector(d: dict, key: str, n: int, where: str, default=None) -> np.ndarray:
    if key not in d:
        if default is None:
            raise DatasetError(f"{where}: missing key {key!r}")
        return np.asarray(default, dtype=np.float64)
    try:
        v = np.asarray(d[key], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        v = np.zeros(0)
    if v.shape != (n,) or not np.isfinite(v).all():
        raise DatasetError(f"{where}: {key!r} must be {n} finite numbers, got {d[key]!r}")
    return v


def camera_from_dict(d: dict, name: str, where: str, unit: float = 1.0) -> Camera:
    """A camera dict in VideoPose3D's or occpose's layout -> Camera (see module docstring).

    A VideoPose3D camera without ``focal_length`` (its HumanEva tables) gets NaN focal lengths and
    ``meta["intrinsics"] = False``: usable for 3D, not for projecting.
    """
    if not isinstance(d, dict):
        raise DatasetError(f"{where}: expected a camera object, got {type(d).__name__}")
    try:
        if "rot_world_to_cam" in d:
            cam = Camera.from_dict({"name": name, **d})
            if not (np.isfinite(cam.rot_world_to_cam).all() and cam.rot_world_to_cam.shape == (3, 3)):
                raise ValueError("rot_world_to_cam must be a finite 3x3 matrix")
            return cam
        if "orientation" not in d:
            raise DatasetError(f"{where}: neither 'orientation' (VideoPose3D layout) nor "
                               f"'rot_world_to_cam' (occpose layout); keys are {sorted(d)}")
        q = _vector(d, "orientation", 4, where)
        if abs(np.linalg.norm(q) - 1.0) > 1e-3:
            raise DatasetError(f"{where}: 'orientation' is not a unit quaternion (norm {np.linalg.norm(q):.4f})")
        t = _vector(d, "translation", 3, where) * unit
        if np.abs(t).max() > 100.0:
            raise DatasetError(f"{where}: 'translation' {t.tolist()} is over 100 m from the origin; "
                               f"if it is in millimetres set \"translation_unit\": \"mm\"")
        w, h = int(d["res_w"]), int(d["res_h"])
        has_k = "focal_length" in d
        f = _vector(d, "focal_length", 2, where) if has_k else np.full(2, np.nan)
        c = _vector(d, "center", 2, where, default=(w / 2.0, h / 2.0))
        k = _vector(d, "radial_distortion", 3, where, default=(0.0, 0.0, 0.0))
        p = _vector(d, "tangential_distortion", 2, where, default=(0.0, 0.0))
    except (KeyError, TypeError, ValueError) as e:
        raise DatasetError(f"{where}: malformed camera ({type(e).__name__}: {e})") from None
    if w <= 0 or h <= 0:
        raise DatasetError(f"{where}: res_w and res_h must be positive, got {w} x {h}")
    return Camera(name=str(d.get("id") or name), width=w, height=h, fx=float(f[0]), fy=float(f[1]),
                  cx=float(c[0]), cy=float(c[1]), rot_world_to_cam=matrix_from_quaternion(q).T,
                  position=t, k=tuple(k), p=tuple(p), meta={"intrinsics": has_k})


def read_cameras_json(path: str | Path) -> dict[str, list[Camera]]:
    """Camera JSON (module docstring) -> {subject: [Camera, ...]}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: cameras file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a JSON object of subjects")
    units = {"m": 1.0, "mm": 0.001}
    unit = data.get("translation_unit", "m")
    if unit not in units:
        raise DatasetError(f"{path}: 'translation_unit' must be \"m\" or \"mm\", got {unit!r}")
    subjects = data["subjects"] if "subjects" in data else {
        k: v for k, v in data.items() if k not in ("format", "translation_unit")}
    if not isinstance(subjects, dict) or not subjects:
        raise DatasetError(f"{path}: 'subjects' must map subject names to lists of cameras")
    out = {}
    for s, cams in subjects.items():
        if not isinstance(cams, list) or not cams:
            raise DatasetError(f"{path}: subject {s!r} must have a non-empty list of cameras")
        out[s] = [camera_from_dict(c, f"cam{i}", f"{path}: subject {s!r} camera {i}", units[unit])
                  for i, c in enumerate(cams)]
    return out


def cameras_for(cameras: dict[str, list[Camera]], subject: str, where: str) -> list[Camera]:
    for key in (subject, subject.rsplit("/", 1)[-1], "*"):
        if key in cameras:
            return cameras[key]
    raise DatasetError(f"{where}: no cameras for subject {subject!r} (has {', '.join(cameras)}; "
                       f"add it or a \"*\" entry)")


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
        cameras: camera JSON path (module docstring) or {subject: [Camera]}; required, since
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


def export_videopose3d(bench_dir, out_dir, name: str = "occpose", split: str | None = None,
                       levels=None) -> list[Path]:
    """Write a benchmark in VideoPose3D's format (see the module docstring for the files).

    Args:
        split: ``"train"``/``"test"`` to export one split only.
        levels: target levels to export (default all).
    Returns:
        The paths written: data_3d, data_2d (detector name ``gt``), data_occlusion, cameras JSON.
    """
    from ..dataset import open_benchmark

    bench = open_benchmark(bench_dir)
    entries = bench.select(split=split, levels=levels)
    if not entries:
        raise DatasetError(f"{bench_dir}: no sequences match split={split} levels={levels}")
    cam_order = [c["name"] for c in bench.manifest["cameras"]]
    groups: dict[tuple[str, str], dict] = {}
    action_info = {}
    for e in entries:
        key = f"{e.action} L{round(e.target_level * 100):03d}"
        action_info[key] = [e.action, e.target_level]
        groups.setdefault((e.subject, key), {})[e.camera] = e
    pos3d, pos2d, labels = {}, {}, {k: {} for k in EXPORT_LABELS}
    present = set(EXPORT_LABELS)
    for (subject, key), by_cam in groups.items():
        missing = [c for c in cam_order if c not in by_cam]
        if missing:
            raise DatasetError(f"{bench_dir}: subject {subject} action {key!r} lacks cameras {missing}")
        seqs = [bench.load(by_cam[c]) for c in cam_order]
        pos3d.setdefault(subject, {})[key] = seqs[0].arrays["joints_3d_world"].astype(np.float32)
        pos2d.setdefault(subject, {})[key] = [s.arrays["joints_2d"].astype(np.float32) for s in seqs]
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
                    "test_subjects": [s for s in b.get("test_subjects", []) if s in pos3d]},
    }
    out = Path(out_dir)
    paths = [out / f"data_3d_{name}.npz", out / f"data_2d_{name}_gt.npz",
             out / f"data_occlusion_{name}.npz", out / f"cameras_{name}.json"]
    _save_pickled_npz(paths[0], positions_3d=pos3d, metadata={"occpose": meta["occpose"]})
    _save_pickled_npz(paths[1], positions_2d=pos2d, metadata=meta)
    _save_pickled_npz(paths[2], metadata={"labels": sorted(present), "actions": action_info},
                      **{k: labels[k] for k in EXPORT_LABELS if k in present})
    cams = [camera_to_videopose3d(bench.cameras[c]) for c in cam_order]
    atomic_write_text(paths[3], json.dumps({"format": "videopose3d-cameras/1", "translation_unit": "m",
                                            "subjects": {s: cams for s in pos3d}}, indent=1) + "\n")
    return paths


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
