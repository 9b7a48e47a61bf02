"""VideoPose3D cameras: the ``--cameras`` JSON, quaternions, conversion to and from occpose's Camera.

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

import math
from pathlib import Path

import numpy as np

from ..camera import Camera
from ..dataset.jsonio import read_json_object
from ..errors import DatasetError


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
    data = read_json_object(path, "cameras file not found")
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
