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

from dataclasses import dataclass

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
    batch = frame_masks(np.asarray(joints_cam)[None], body, camera, occluders_cam, [0])
    return batch.visible_mask(0), batch.subject_mask(0)


@dataclass(frozen=True, eq=False)
class MaskBatch:
    """The masks of several frames, as their subject pixels (:func:`frame_masks`).

    Attributes:
        shape: (H, W) of the camera.
        frame: (N,) int64 position (0..F-1) of each subject pixel's frame in the batch.
        pixel: (N,) int64 flat pixel index (v W + u), ascending within each frame.
        visible: (N,) bool whether the pixel shows the subject in front of every occluder.
        n_frames: F.
    """

    shape: tuple[int, int]
    frame: np.ndarray
    pixel: np.ndarray
    visible: np.ndarray
    n_frames: int

    def visible_fractions(self) -> np.ndarray:
        """(F,) float64 :func:`visible_fraction` of every frame of the batch."""
        n = np.bincount(self.frame, minlength=self.n_frames)
        seen = np.bincount(self.frame[self.visible], minlength=self.n_frames)
        return np.where(n > 0, seen / np.maximum(n, 1), 1.0)

    def _mask(self, i: int, which: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape[0] * self.shape[1], bool)
        out[self.pixel[which & (self.frame == i)]] = True
        return out.reshape(self.shape)

    def visible_mask(self, i: int) -> np.ndarray:
        """(H, W) bool visible mask of frame i of the batch."""
        return self._mask(i, self.visible)

    def subject_mask(self, i: int) -> np.ndarray:
        """(H, W) bool subject mask of frame i of the batch."""
        return self._mask(i, np.ones(len(self.pixel), bool))


def frame_masks(joints_cam: np.ndarray, body, camera: Camera, occluders_cam: OccluderSet | None = None,
                frames=None) -> MaskBatch:
    """Masks of several frames in one batch: per pixel the same casts as one frame at a time
    (every capsule over its box within its stadium, every occluder primitive over the subject
    pixels within its reach), so the same values; numpy's per-call cost is paid once per batch.

    Args:
        joints_cam: (F, J, 3) metres, camera frame.
        occluders_cam: occluders in the camera frame, or None.
        frames: (F,) the frames' indices into ``occluders_cam``'s frames (default 0..F-1).
    """
    joints_cam = np.asarray(joints_cam, np.float64)
    n_f = len(joints_cam)
    frames = np.arange(n_f) if frames is None else np.asarray(frames, np.int64)
    width, height = camera.width, camera.height
    rays = distortion.pixel_rays(camera).reshape(-1, 3)
    a, b, radius = body.capsules(joints_cam)  # (F, S, 3), (F, S, 3), (S,)
    n_s = a.shape[1]
    a, b, radius = a.reshape(-1, 3), b.reshape(-1, 3), np.tile(radius, n_f)  # capsule c: frame c // S
    # a frame with a capsule reaching the camera plane (or a distorted camera): every capsule of
    # the frame over the whole image, no stadium (as capsule_boxes and _stadium do)
    near = (np.stack([a, b], axis=1)[..., 2] - radius[:, None] <= 1e-3).reshape(n_f, -1).any(axis=1)
    whole = np.repeat(near | camera.has_distortion, n_s)
    boxes = np.tile(np.array([0, 0, width, height]), (len(a), 1))
    part = np.flatnonzero(~whole)
    if len(part):
        boxes[part] = capsule_boxes(a[part], b[part], radius[part], camera)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    count = np.where((w > 0) & (h > 0), w * h, 0)
    seg = np.repeat(np.arange(len(a)), count)  # every capsule over its box, row by row
    local = np.arange(len(seg)) - np.repeat(np.cumsum(count) - count, count)
    row = local // w[seg]
    flat = (boxes[seg, 1] + row) * width + boxes[seg, 0] + (local - row * w[seg])
    if len(part):
        sub = ~whole[seg]
        index = np.full(len(a), -1)
        index[part] = np.arange(len(part))
        keep = _stadium(flat[sub], index[seg[sub]], a[part], b[part], radius[part], camera)
        if keep is not None:
            keep_all = np.ones(len(seg), bool)
            keep_all[sub] = keep
            flat, seg = flat[keep_all], seg[keep_all]
    t = raycast.ray_capsule(np.zeros(3), rays[flat], a[seg], b[seg], radius[seg])
    hit = np.isfinite(t)
    # the body's first hit per pixel: the smallest t over the capsules (min is exact, so any order)
    key = seg[hit] // n_s * (width * height) + flat[hit]
    t_body = np.full(n_f * width * height, np.inf)
    np.minimum.at(t_body, key, t[hit])
    key = np.flatnonzero(t_body < np.inf)  # subject pixels, frame by frame, row by row
    t_body = t_body[key]
    frame, pixel = np.divmod(key, width * height)
    visible = np.ones(len(key), bool)
    if occluders_cam is not None and occluders_cam.num_primitives and len(key):
        _cast_occluders(occluders_cam, camera, frames, rays, frame, pixel, t_body, visible)
    return MaskBatch((height, width), frame, pixel, visible, n_f)


def _cast_occluders(occ: OccluderSet, camera: Camera, frames: np.ndarray, rays: np.ndarray,
                    frame: np.ndarray, pixel: np.ndarray, t_body: np.ndarray, visible: np.ndarray) -> None:
    """Clear ``visible`` where an occluder primitive is hit before the body (t < t_body), each
    primitive cast over the subject pixels within its reach (:func:`_occluder_reach`)."""
    from occpose.occlusion.occluders.geometry import MESH

    v, u = np.divmod(pixel, camera.width)
    reach = _occluder_reach(occ, camera, frames)
    for i in range(occ.num_primitives):
        if reach is None:
            near = np.arange(len(pixel))
        else:
            cu, cv, r = (x[frame] for x in reach[i])
            du, dv = u + 0.5 - cu, v + 0.5 - cv
            near = np.flatnonzero(~np.isfinite(r) | (du * du + dv * dv <= r * r))
        if int(occ.shape[i]) == MESH:  # as one frame at a time: the mesh engine and its blocks
            groups = [near[frame[near] == f] for f in np.unique(frame[near])]  # depend on the batch
            groups = [g[s:s + CHUNK] for g in groups for s in range(0, len(g), CHUNK)]
        else:
            groups = [near]
        for idx in groups:
            if not len(idx):
                continue
            t_obj = raycast.ray_primitive(np.zeros((len(idx), 3)), rays[pixel[idx]], occ, i,
                                          frames=frames[frame[idx]], t_max=t_body[idx])
            visible[idx] &= ~(t_obj < t_body[idx])


def _occluder_reach(occ: OccluderSet, camera: Camera, frames: np.ndarray):
    """Per primitive: (cu, cv, reach), each (F,) over ``frames``: the pixel position of its
    bounding ball's centre, and the reach in pixels within which the ball projects (see
    :func:`capsule_boxes`); reach inf when the ball reaches the camera plane. None for cameras
    with distortion (all pixels). The bound holds MARGIN pixels to spare, so a last-bit
    difference in it changes no mask."""
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
        c = np.asarray(occ.pose[frames, i, :3, 3], np.float64)  # (F, 3)
        z = c[:, 2]
        uv = project_to_2d(c, camera)
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = r * np.linalg.norm(c, axis=-1) / ((z - r) * z) * max(camera.fx, camera.fy) + MARGIN
        reach = np.where(z - r <= 1e-3, np.inf, reach)
        out.append((uv[:, 0], uv[:, 1], reach))
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
