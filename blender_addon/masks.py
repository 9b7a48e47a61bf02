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
    rays = distortion.pixel_rays(camera)
    boxes = [(s, box) for s, box in enumerate(capsule_boxes(a, b, radius, camera))
             if box[2] > box[0] and box[3] > box[1]]
    if boxes:  # every capsule over its box, in one batch (numpy's per-call cost dominates)
        pixels = [(np.arange(v0, v1)[:, None] * camera.width + np.arange(u0, u1)).ravel()
                  for _, (u0, v0, u1, v1) in boxes]
        idx = np.array([s for s, _ in boxes])
        seg = np.repeat(idx, [len(p) for p in pixels])
        flat = np.concatenate(pixels)
        keep = _stadium(flat, seg, a, b, radius, camera)
        if keep is not None:
            flat, seg = flat[keep], seg[keep]
        t = raycast.ray_capsule(np.zeros(3), rays.reshape(-1, 3)[flat], a[seg], b[seg], radius[seg])
        body = t_body.reshape(-1)
        bounds = np.searchsorted(seg, idx[1:])  # seg is sorted: one run of pixels per capsule
        for part, where in zip(np.split(t, bounds), np.split(flat, bounds)):
            body[where] = np.minimum(body[where], part)  # unique pixels within one capsule
    subject = np.isfinite(t_body)
    visible = subject.copy()
    if occluders_cam is not None and occluders_cam.num_primitives and subject.any():
        v, u = np.nonzero(subject)
        flat_rays = rays[v, u]
        reach = _occluder_reach(occluders_cam, camera)
        for i in range(occluders_cam.num_primitives):  # each over the subject pixels it may cover
            if reach is None:
                near = np.arange(len(v))
            else:
                (cu, cv), r = reach[i]
                du, dv = u + 0.5 - cu, v + 0.5 - cv
                near = np.flatnonzero(du * du + dv * dv <= r * r) if np.isfinite(r) else np.arange(len(v))
            for s in range(0, len(near), CHUNK):
                idx = near[s:s + CHUNK]
                vv, uu = v[idx], u[idx]
                t_obj = raycast.ray_primitive(np.zeros((len(idx), 3)), flat_rays[idx], occluders_cam, i,
                                              frames=np.zeros(len(idx), np.int64), t_max=t_body[vv, uu])
                visible[vv, uu] &= ~(t_obj < t_body[vv, uu])
    return visible, subject


def _occluder_reach(occ: OccluderSet, camera: Camera):
    """Per primitive of a 1-frame set: (pixel centre of its bounding ball's centre, reach in
    pixels) -- the ball projects within that reach (see :func:`capsule_boxes`); reach inf when
    the ball reaches the camera plane. None for cameras with distortion (all pixels)."""
    if camera.has_distortion:
        return None
    from occpose.occlusion.occluders.geometry import BOX, CAPSULE, CYLINDER, SPHERE

    out = []
    for i in range(occ.num_primitives):
        code, size = int(occ.shape[i]), np.asarray(occ.size[i], np.float64)
        if code == BOX:
            r = float(np.linalg.norm(size))
        elif code == SPHERE:
            r = float(size[0])
        elif code == CAPSULE:
            r = float(size[0] + size[2])
        elif code == CYLINDER:
            r = float(np.hypot(size[0], size[2]))
        else:  # a mesh: its furthest vertex from the object origin
            r = float(np.linalg.norm(occ.mesh_vertices(i), axis=-1).max())
        r = r * (1 + 1e-9) + 1e-9
        c = np.asarray(occ.pose[0, i, :3, 3], np.float64)
        z = c[2]
        if z - r <= 1e-3:
            out.append(((0.0, 0.0), np.inf))
            continue
        uv = project_to_2d(c[None], camera)[0]
        reach = r * np.linalg.norm(c) / ((z - r) * z) * max(camera.fx, camera.fy) + MARGIN
        out.append(((float(uv[0]), float(uv[1])), float(reach)))
    return out


def _stadium(flat: np.ndarray, seg: np.ndarray, a: np.ndarray, b: np.ndarray, radius: np.ndarray,
             camera: Camera) -> np.ndarray | None:
    """Which pixels (flat indices, each with its capsule ``seg``) may show their capsule: those
    within the projected axis segment's reach (:func:`capsule_boxes`' bound, taken at the
    nearest and furthest ends) plus MARGIN pixels; None (all) for cameras with distortion or
    capsules near the camera plane. The ball of radius r at q on a-b projects within
    f r |q| / ((z_q - r) z_q) of q's image, which lies on the segment between the ends' images;
    |q| <= max(|a|, |b|) and z_q >= min(z_a, z_b), so that bound covers the whole capsule."""
    ends = np.stack([a, b], axis=1)  # (S, 2, 3)
    z = ends[..., 2].min(axis=1)
    if camera.has_distortion or (z - radius <= 1e-3).any():
        return None
    reach = radius * np.linalg.norm(ends, axis=-1).max(axis=1) / ((z - radius) * z)
    reach = reach * max(camera.fx, camera.fy) + MARGIN  # (S,) pixels
    uv = project_to_2d(ends, camera)  # (S, 2, 2)
    pa, d = uv[:, 0], uv[:, 1] - uv[:, 0]
    dd = np.einsum("si,si->s", d, d)
    inv = np.where(dd > 0, 1.0 / np.where(dd > 0, dd, 1.0), 0.0)
    u = flat % camera.width + 0.5 - pa[seg, 0]
    v = flat // camera.width + 0.5 - pa[seg, 1]
    du, dv = d[seg, 0], d[seg, 1]
    t = np.clip((u * du + v * dv) * inv[seg], 0.0, 1.0)
    u -= t * du
    v -= t * dv
    return u * u + v * v <= np.square(reach)[seg]


def _pixel_rays(camera: Camera, u0: int, v0: int, u1: int, v1: int) -> np.ndarray:
    """(h, w, 3) camera-frame directions through the pixel centres of a box (distortion included)."""
    return distortion.pixel_rays(camera)[v0:v1, u0:u1]


def visible_fraction(visible: np.ndarray, subject: np.ndarray) -> float:
    """Visible subject pixels / subject pixels; 1.0 when the frame shows no subject."""
    n = int(subject.sum())
    return float(visible.sum()) / n if n else 1.0
