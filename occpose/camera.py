"""Cameras: intrinsics with distortion, extrinsics, and the frame conversions.

Frames (one convention everywhere in occpose):

* **world**: right-handed, metres, Z up, the floor is z = 0.
* **camera**: metres, origin at the camera centre, x right, y down, z forward (OpenCV).
* **image**: pixels, origin at the top-left corner of the top-left pixel, u right, v down.
* **normalised screen**: VideoPose3D's ``X / w * 2 - [1, h / w]``: u maps [0, w] to [-1, 1],
  v is scaled by the same factor, so the aspect ratio is kept.

Extrinsics are stored as ``rot_world_to_cam`` (3, 3) and the camera centre ``position`` (3,) in
world coordinates: ``X_cam = rot_world_to_cam @ (X_world - position)``.

Lens distortion follows the Brown-Conrady model used by OpenCV: radial k1, k2, k3 and tangential
p1, p2 applied to normalised coordinates (x, y) = (X/Z, Y/Z) before the focal lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated camera.

    Attributes:
        name: identifier used in sequence ids.
        width, height: image size in pixels.
        fx, fy: focal lengths in pixels; cx, cy: principal point in pixels.
        k: radial distortion (k1, k2, k3); p: tangential distortion (p1, p2).
        rot_world_to_cam: (3, 3) rotation from world to camera axes.
        position: (3,) camera centre in world coordinates, metres.
    """

    name: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    rot_world_to_cam: np.ndarray
    position: np.ndarray
    k: tuple[float, float, float] = (0.0, 0.0, 0.0)
    p: tuple[float, float] = (0.0, 0.0)
    meta: dict = field(default_factory=dict)

    @property
    def intrinsic_matrix(self) -> np.ndarray:
        """(3, 3) pinhole matrix K (without distortion)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def has_distortion(self) -> bool:
        return any(v != 0.0 for v in (*self.k, *self.p))

    def scaled(self, width: int, height: int) -> "Camera":
        """The same camera rendering at another resolution (intrinsics scaled per axis)."""
        sx, sy = width / self.width, height / self.height
        return Camera(self.name, width, height, self.fx * sx, self.fy * sy, self.cx * sx,
                      self.cy * sy, self.rot_world_to_cam, self.position, self.k, self.p, self.meta)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "width": self.width, "height": self.height,
            "fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy,
            "k": list(self.k), "p": list(self.p),
            "rot_world_to_cam": np.asarray(self.rot_world_to_cam).tolist(),
            "position": np.asarray(self.position).tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Camera":
        return cls(name=str(d["name"]), width=int(d["width"]), height=int(d["height"]),
                   fx=float(d["fx"]), fy=float(d["fy"]), cx=float(d["cx"]), cy=float(d["cy"]),
                   rot_world_to_cam=np.array(d["rot_world_to_cam"], dtype=np.float64),
                   position=np.array(d["position"], dtype=np.float64),
                   k=tuple(float(v) for v in d.get("k", (0, 0, 0))),
                   p=tuple(float(v) for v in d.get("p", (0, 0))))


def look_at(position, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Rotation world -> camera for a camera at ``position`` looking at ``target``.

    The camera's z axis points at the target, its y axis points down (away from ``up``).
    Returns (3, 3) ``rot_world_to_cam`` whose rows are the camera axes in world coordinates.
    """
    position, target, up = (np.asarray(v, dtype=np.float64) for v in (position, target, up))
    z = target - position
    if np.linalg.norm(z) < 1e-9:
        raise ValueError("camera position and target coincide")
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("camera looks straight along the up vector; choose another target")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def world_to_camera(points_world: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) world metres -> (..., 3) camera-frame metres (x right, y down, z forward)."""
    pts = np.asarray(points_world, dtype=np.float64)
    return (pts - camera.position) @ np.asarray(camera.rot_world_to_cam).T


def camera_to_world(points_cam: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) camera-frame metres -> (..., 3) world metres."""
    pts = np.asarray(points_cam, dtype=np.float64)
    return pts @ np.asarray(camera.rot_world_to_cam) + camera.position


def distort(xy: np.ndarray, k, p) -> np.ndarray:
    """Apply Brown-Conrady distortion to normalised coordinates (..., 2) = (X/Z, Y/Z)."""
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k[0] + r2 * (k[1] + r2 * k[2]))
    xd = x * radial + 2.0 * p[0] * x * y + p[1] * (r2 + 2.0 * x * x)
    yd = y * radial + p[0] * (r2 + 2.0 * y * y) + 2.0 * p[1] * x * y
    return np.stack([xd, yd], axis=-1)


def undistort(xy_distorted: np.ndarray, k, p, iterations: int = 20) -> np.ndarray:
    """Invert :func:`distort` by fixed-point iteration (accurate for moderate distortion)."""
    xy_d = np.asarray(xy_distorted, dtype=np.float64)
    xy = xy_d.copy()
    for _ in range(iterations):
        err = distort(xy, k, p) - xy_d
        xy = xy - err
    return xy


def project_to_2d(points_cam: np.ndarray, camera: Camera) -> np.ndarray:
    """Camera-frame points (..., 3) metres -> image pixels (..., 2), with lens distortion.

    Points at or behind the camera (z <= 0) give non-finite or meaningless pixels; callers that
    care check ``points_cam[..., 2] > 0``.
    """
    pts = np.asarray(points_cam, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = pts[..., :2] / pts[..., 2:3]
    if camera.has_distortion:
        xy = distort(xy, camera.k, camera.p)
    return xy * np.array([camera.fx, camera.fy]) + np.array([camera.cx, camera.cy])


def image_to_camera(pixels: np.ndarray, depth: np.ndarray, camera: Camera) -> np.ndarray:
    """Back-project pixels (..., 2) at camera-frame depths z (...) to camera-frame points (..., 3)."""
    uv = np.asarray(pixels, dtype=np.float64)
    xy = (uv - np.array([camera.cx, camera.cy])) / np.array([camera.fx, camera.fy])
    if camera.has_distortion:
        xy = undistort(xy, camera.k, camera.p)
    z = np.asarray(depth, dtype=np.float64)[..., None]
    return np.concatenate([xy * z, z], axis=-1)


def world_to_image(points_world: np.ndarray, camera: Camera) -> np.ndarray:
    """World points (..., 3) -> image pixels (..., 2)."""
    return project_to_2d(world_to_camera(points_world, camera), camera)


def normalize_screen_coordinates(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels (..., 2) -> VideoPose3D normalised screen coordinates (x in [-1, 1], aspect kept)."""
    pixels = np.asarray(pixels)
    if pixels.shape[-1] != 2:
        raise ValueError(f"expected (..., 2) pixel coordinates, got shape {pixels.shape}")
    return pixels / width * 2 - np.array([1, height / width], dtype=pixels.dtype)


def image_coordinates(normalized: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`normalize_screen_coordinates`: normalised (..., 2) -> pixels (..., 2)."""
    normalized = np.asarray(normalized)
    return (normalized + np.array([1, height / width], dtype=normalized.dtype)) * width / 2


def in_frame(pixels: np.ndarray, camera: Camera, points_cam: np.ndarray | None = None) -> np.ndarray:
    """(...,) bool: pixel inside [0, width) x [0, height) (and in front of the camera if given)."""
    uv = np.asarray(pixels)
    ok = (uv[..., 0] >= 0) & (uv[..., 0] < camera.width) & (uv[..., 1] >= 0) & (uv[..., 1] < camera.height)
    ok &= np.isfinite(uv).all(axis=-1)
    if points_cam is not None:
        ok &= np.asarray(points_cam)[..., 2] > 0
    return ok
