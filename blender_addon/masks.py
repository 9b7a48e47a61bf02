"""Visible-subject masks by per-pixel ray casts (numpy only, no bpy; engine independent).

For every pixel centre (u + 0.5, v + 0.5) the ray from the camera centre (lens distortion
included, ``occpose.camera.image_to_camera``) is intersected with the body capsules and the
occluders by occpose's exact kernels (:mod:`occpose.occlusion.raycast.primitives`):

* subject pixel: the ray hits the body (what a render without occluders shows as subject);
* visible subject pixel: it hits the body before any occluder.

``mask_visible_fraction`` = visible / subject pixels (BOP's visib_fract), 1.0 for a frame with
no subject pixel (nothing is hidden). The same geometry is rendered by Blender as 32-segment
meshes, so mask and image agree to a fraction of a pixel along the silhouettes. Each capsule is
cast only over its projected bounding box (:func:`capsule_boxes`), occluders only over the
subject's pixels.
"""

from __future__ import annotations

import numpy as np

from occpose.camera import Camera, project_to_2d
from occpose.occlusion.raycast import primitives as raycast
from occpose.occlusion.occluders.geometry import OccluderSet

from . import distortion

CHUNK = 16384  # pixels per batch
MARGIN = 2  # pixels around the bounding box


def capsule_boxes(a: np.ndarray, b: np.ndarray, radius: np.ndarray, camera: Camera) -> np.ndarray:
    """(S, 4) int pixel boxes (u0, v0, u1, v1), end exclusive, each holding one capsule's image.

    Args:
        a, b: (S, 3) capsule ends, camera frame; radius: (S,) metres.
    A point within r of p projects within f r |p| / ((z - r) z) of p's projection, and the image
    of the segment a-b lies between the images of its ends. Cameras with lens distortion, and
    capsules reaching behind the camera, get the whole image.
    """
    full = np.array([0, 0, camera.width, camera.height])
    ends = np.stack([a, b], axis=1)  # (S, 2, 3)
    r = radius[:, None]
    if camera.has_distortion or (ends[..., 2] - r <= 1e-3).any():
        return np.tile(full, (len(a), 1))
    uv = project_to_2d(ends, camera)  # (S, 2, 2)
    reach = r * np.linalg.norm(ends, axis=-1) / ((ends[..., 2] - r) * ends[..., 2])  # (S, 2)
    reach = reach[..., None] * [camera.fx, camera.fy]
    lo = np.floor((uv - reach).min(axis=1)).astype(int) - MARGIN
    hi = np.ceil((uv + reach).max(axis=1)).astype(int) + MARGIN
    return np.clip(np.concatenate([lo, hi], axis=1), 0, [camera.width, camera.height] * 2)


def subject_masks(joints_cam: np.ndarray, body, camera: Camera,
                  occluders_cam: OccluderSet | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Masks of one frame.

    Args:
        joints_cam: (J, 3) metres, camera frame.
        occluders_cam: the frame's occluders in the camera frame (1 frame), or None.
    Returns:
        visible, subject: (H, W) bool.
    """
    a, b, radius = body.capsules(np.asarray(joints_cam, np.float64))  # (S, 3), (S, 3), (S,)
    t_body = np.full((camera.height, camera.width), np.inf)
    for (u0, v0, u1, v1), sa, sb, sr in zip(capsule_boxes(a, b, radius, camera), a, b, radius):
        if u1 <= u0 or v1 <= v0:
            continue
        dirs = _pixel_rays(camera, u0, v0, u1, v1)  # (h, w, 3)
        t = raycast.ray_capsule(np.zeros(3), dirs, sa, sb, sr)
        np.minimum(t_body[v0:v1, u0:u1], t, out=t_body[v0:v1, u0:u1])
    subject = np.isfinite(t_body)
    visible = subject.copy()
    if occluders_cam is not None and occluders_cam.num_primitives and subject.any():
        v, u = np.nonzero(subject)
        for s in range(0, len(v), CHUNK):
            vv, uu = v[s:s + CHUNK], u[s:s + CHUNK]
            dirs = _pixel_rays(camera, 0, 0, camera.width, camera.height)[vv, uu]
            t_obj = raycast.ray_occluders(np.zeros((len(vv), 3)), dirs, occluders_cam,
                                          frames=np.zeros(len(vv), np.int64),
                                          t_max=t_body[vv, uu, None]).min(axis=1)
            visible[vv, uu] = ~(t_obj < t_body[vv, uu])
    return visible, subject


def _pixel_rays(camera: Camera, u0: int, v0: int, u1: int, v1: int) -> np.ndarray:
    """(h, w, 3) camera-frame directions through the pixel centres of a box (distortion included)."""
    return distortion.pixel_rays(camera)[v0:v1, u0:u1]


def visible_fraction(visible: np.ndarray, subject: np.ndarray) -> float:
    """Visible subject pixels / subject pixels; 1.0 when the frame shows no subject."""
    n = int(subject.sum())
    return float(visible.sum()) / n if n else 1.0
