"""Frame conversions between occpose and Blender (numpy only, no bpy).

* World: both use right-handed, Z-up metres, so world points pass through unchanged.
* Camera: occpose's camera frame is x right, y down, z forward (OpenCV); a Blender camera looks
  down its local -Z with +Y up. So the Blender camera's local axes in world coordinates are
  (x_c, -y_c, -z_c), where x_c, y_c, z_c are the rows of ``rot_world_to_cam``.
* Intrinsics: sensor fit HORIZONTAL, so ``lens / sensor_width * width = fx``; fy != fx is
  ``pixel_aspect_x / pixel_aspect_y = fy / fx``; the principal point is the lens shift, in units
  of the image width. Lens distortion is applied afterwards (:mod:`.distortion`).
* Rotations are written as unit quaternions (w, x, y, z), sign-continuous over frames so that
  Blender interpolates between keyframes along the short way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occpose.camera import Camera

CV_TO_BLENDER = np.diag([1.0, -1.0, -1.0])  # camera axes: (x, y down, z fwd) -> (x, y up, -z fwd)
SENSOR_WIDTH = 36.0  # mm; any value works, only lens / sensor_width matters


def quaternions_from_matrices(rot: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w, x, y, z), w >= 0 where possible."""
    rot = np.asarray(rot, np.float64)
    m00, m11, m22 = rot[..., 0, 0], rot[..., 1, 1], rot[..., 2, 2]
    trace = m00 + m11 + m22
    s2 = 1.0 + np.stack([trace, m00 - m11 - m22, m11 - m00 - m22, m22 - m00 - m11], axis=-1)
    pick = s2.argmax(axis=-1)  # the largest gives the numerically stable formula
    q = np.zeros(rot.shape[:-2] + (4,))
    s = np.sqrt(np.maximum(s2, 0.0)) * 2.0  # (..., 4)
    r = rot
    formulas = (
        lambda s: (0.25 * s, (r[..., 2, 1] - r[..., 1, 2]) / s, (r[..., 0, 2] - r[..., 2, 0]) / s,
                   (r[..., 1, 0] - r[..., 0, 1]) / s),
        lambda s: ((r[..., 2, 1] - r[..., 1, 2]) / s, 0.25 * s, (r[..., 0, 1] + r[..., 1, 0]) / s,
                   (r[..., 0, 2] + r[..., 2, 0]) / s),
        lambda s: ((r[..., 0, 2] - r[..., 2, 0]) / s, (r[..., 0, 1] + r[..., 1, 0]) / s, 0.25 * s,
                   (r[..., 1, 2] + r[..., 2, 1]) / s),
        lambda s: ((r[..., 1, 0] - r[..., 0, 1]) / s, (r[..., 0, 2] + r[..., 2, 0]) / s,
                   (r[..., 1, 2] + r[..., 2, 1]) / s, 0.25 * s),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, f in enumerate(formulas):
            sel = pick == k
            if sel.any():
                q[sel] = np.stack(f(s[..., k]), axis=-1)[sel]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def continuous(quats: np.ndarray) -> np.ndarray:
    """(T, 4) quaternions with signs flipped so consecutive ones have a non-negative dot product."""
    q = np.array(quats, np.float64)
    for t in range(1, len(q)):
        if np.dot(q[t], q[t - 1]) < 0:
            q[t] = -q[t]
    return q


def quaternions_z_to(directions: np.ndarray) -> np.ndarray:
    """(..., 3) unit directions -> (..., 4) quaternions rotating +z onto them (shortest arc)."""
    d = np.asarray(directions, np.float64)
    w = 1.0 + d[..., 2]
    xyz = np.stack([-d[..., 1], d[..., 0], np.zeros_like(w)], axis=-1)  # z x d
    q = np.concatenate([w[..., None], xyz], axis=-1)
    flip = w < 1e-9  # d = -z: half turn about x
    q[flip] = (0.0, 1.0, 0.0, 0.0)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


@dataclass(frozen=True)
class SegmentAnimation:
    """Per-frame transform of a stretching capsule: location (T, 3), quaternion (T, 4), length (T,)."""

    location: np.ndarray
    quaternion: np.ndarray
    length: np.ndarray


def segment_animation(a: np.ndarray, b: np.ndarray) -> SegmentAnimation:
    """A body capsule from joint a to joint b per frame: origin at a, local +z towards b.

    Args:
        a, b: (T, 3) world metres.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    axis = b - a
    length = np.linalg.norm(axis, axis=-1)
    if (length <= 0).any():
        raise ValueError("a body segment has zero length in some frame")
    q = continuous(quaternions_z_to(axis / length[:, None]))
    return SegmentAnimation(a, q, length)


def pose_animation(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 4, 4) rigid object-to-world poses -> location (T, 3), sign-continuous quaternion (T, 4)."""
    pose = np.asarray(pose, np.float64)
    return pose[:, :3, 3].copy(), continuous(quaternions_from_matrices(pose[:, :3, :3]))


def camera_matrix_world(camera: Camera) -> np.ndarray:
    """(4, 4) Blender camera object-to-world matrix for an occpose camera."""
    m = np.eye(4)
    m[:3, :3] = np.asarray(camera.rot_world_to_cam, np.float64).T @ CV_TO_BLENDER
    m[:3, 3] = camera.position
    return m


@dataclass(frozen=True)
class BlenderCamera:
    """The Blender settings that reproduce an occpose pinhole camera (distortion excluded)."""

    matrix_world: np.ndarray
    lens: float
    sensor_width: float
    shift_x: float
    shift_y: float
    resolution: tuple[int, int]
    pixel_aspect: tuple[float, float]


def blender_camera(camera: Camera) -> BlenderCamera:
    """Blender camera data (sensor fit HORIZONTAL) for ``camera``; see the module docstring."""
    w, h = camera.width, camera.height
    ratio = camera.fy / camera.fx  # = pixel_aspect_x / pixel_aspect_y; Blender wants both >= 1
    aspect = (ratio, 1.0) if ratio >= 1.0 else (1.0, 1.0 / ratio)
    ycor = aspect[1] / aspect[0]
    return BlenderCamera(
        matrix_world=camera_matrix_world(camera),
        lens=camera.fx * SENSOR_WIDTH / w, sensor_width=SENSOR_WIDTH,
        shift_x=(w / 2.0 - camera.cx) / w, shift_y=(camera.cy - h / 2.0) * ycor / w,
        resolution=(w, h), pixel_aspect=aspect)


def camera_from_blender(name: str, matrix_world, lens: float, sensor_width: float,
                        shift_x: float, shift_y: float, resolution, pixel_aspect) -> Camera:
    """Inverse of :func:`blender_camera` (no distortion): the occpose camera a Blender camera renders."""
    m = np.asarray(matrix_world, np.float64)
    rot_cam_to_world = m[:3, :3] @ CV_TO_BLENDER  # columns: x_c, y_c, z_c
    rot_cam_to_world /= np.linalg.norm(rot_cam_to_world, axis=0, keepdims=True)  # drop any scale
    w, h = (int(v) for v in resolution)
    ycor = pixel_aspect[1] / pixel_aspect[0]
    fx = lens * w / sensor_width
    return Camera(name=name, width=w, height=h, fx=fx, fy=fx / ycor, cx=w / 2.0 - shift_x * w,
                  cy=h / 2.0 + shift_y * w / ycor, rot_world_to_cam=rot_cam_to_world.T,
                  position=m[:3, 3].copy())
