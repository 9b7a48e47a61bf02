"""Visible-subject masks by per-pixel ray casts (numpy only, no bpy; engine independent).

For every pixel centre (u + 0.5, v + 0.5) the ray from the camera centre (lens distortion
included, ``occpose.camera.image_to_camera``) is intersected with the body capsules and the
occluders by occpose's exact kernels (:mod:`occpose.occlusion.raycast.primitives`):

* subject pixel: the ray hits the body (what a render without occluders shows as subject);
* visible subject pixel: it hits the body before any occluder.

``mask_visible_fraction`` = visible / subject pixels (BOP's visib_fract), 1.0 for a frame with
no subject pixel (nothing is hidden). The same geometry is rendered by Blender as 32-segment
meshes, so mask and image agree to a fraction of a pixel along the silhouettes.

:func:`frame_masks` masks several frames per call and casts only where a bound does not decide
(each with SLACK pixels or metres to spare, far beyond the kernels' rounding, so the masks are
those of casting every pixel against every primitive): each capsule over the pixels near its
image (:class:`_Stadia`, within :func:`capsule_boxes`), none over pixels surely inside one,
occluders over the subject pixels near their image, and against the body's distance only where
depth does not order them (:func:`_occluder_plan`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occpose.camera import Camera, project_to_2d
from occpose.occlusion.raycast import primitives as raycast
from occpose.occlusion.occluders.geometry import OccluderSet

from . import distortion

CHUNK = 16384  # pixels per mesh cast
BATCH_FRAMES = 50  # frames per frame_masks call (batch_frames)
BATCH_PIXELS = 1 << 22  # image pixels per frame_masks call (its memory is ~100 bytes per pixel)
MARGIN = 2  # pixels around the bounding box
NEAR_PLANE = 1e-3  # metres: a shape this close to the camera plane is cast over the whole image
SLACK = 0.05  # pixels between a culling bound and the bound it is proven from (the kernels round
# at ~1e-12 pixels)


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
    if camera.has_distortion or (ends[..., 2] - r <= NEAR_PLANE).any():
        return np.tile(full, (len(a), 1))
    uv = project_to_2d(ends, camera)  # (S, 2, 2)
    reach = r * np.linalg.norm(ends, axis=-1) / ((ends[..., 2] - r) * ends[..., 2])  # (S, 2)
    reach = reach[..., None] * [camera.fx, camera.fy]
    lo = np.floor((uv - reach).min(axis=1)).astype(int) - MARGIN
    hi = np.ceil((uv + reach).max(axis=1)).astype(int) + MARGIN
    return np.clip(np.concatenate([lo, hi], axis=1), 0, [camera.width, camera.height] * 2)


def batch_frames(camera: Camera) -> int:
    """How many frames to mask per :func:`frame_masks` call: BATCH_FRAMES, fewer for large images;
    one for a distorted camera (every capsule is cast over the whole image)."""
    if camera.has_distortion:
        return 1
    return max(1, min(BATCH_FRAMES, BATCH_PIXELS // (camera.width * camera.height)))


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

    @staticmethod
    def join(parts: list, n_frames: int) -> "MaskBatch":
        """One batch of ``n_frames`` from (positions of its frames in it, batch of them) parts."""
        frame = np.concatenate([np.asarray(pos, np.int64)[b.frame] for pos, b in parts])
        order = np.argsort(frame, kind="stable")  # each frame's pixels stay ascending
        return MaskBatch(parts[0][1].shape, frame[order], np.concatenate([b.pixel for _, b in parts])[order],
                         np.concatenate([b.visible for _, b in parts])[order], n_frames)

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
    """Masks of several frames in one batch (numpy's per-call cost is paid once per batch).

    Args:
        joints_cam: (F, J, 3) metres, camera frame.
        occluders_cam: occluders in the camera frame, or None.
        frames: (F,) the frames' indices into ``occluders_cam``'s frames (default 0..F-1).

    Every value that decides a pixel comes from the kernels, per pixel, as for one frame at a
    time; what is skipped is only what bounds with SLACK pixels (or metres) to spare decide:

    * a capsule is cast only over the pixels of its stadium (:class:`_Stadia`); a pixel within
      the inner stadium of one of the frame's capsules is a subject pixel without a cast;
    * an occluder primitive wholly behind the body (its bounding ball further than any body
      point) hides nothing; one wholly in front hides the subject pixels its ray hits, whatever
      their body distance; only for the others (and meshes) are subject pixels within their
      reach cast against every capsule for the body's distance.

    Frames cast over the whole image (a distorted camera, a capsule at the camera plane, as in
    :func:`capsule_boxes`) go one at a time, in the memory of one frame.
    """
    joints_cam = np.asarray(joints_cam, np.float64)
    n_f = len(joints_cam)
    frames = np.arange(n_f) if frames is None else np.asarray(frames, np.int64)
    width, height = camera.width, camera.height
    rays = distortion.pixel_rays(camera).reshape(-1, 3)
    a, b, radius = body.capsules(joints_cam)  # (F, S, 3), (F, S, 3), (S,)
    n_s = a.shape[1]
    a, b, radius = a.reshape(-1, 3), b.reshape(-1, 3), np.tile(radius, n_f)  # capsule c: frame c // S
    ends = np.stack([a, b], axis=1)  # (F S, 2, 3)
    # a frame with a capsule reaching the camera plane (or a distorted camera): every capsule of
    # the frame over the whole image, no stadium (as capsule_boxes does)
    near_plane = (ends[..., 2] - radius[:, None] <= NEAR_PLANE).reshape(n_f, -1).any(axis=1)
    if n_f > 1 and (camera.has_distortion or near_plane.any()):  # one whole-image frame at a time
        groups = [[i] for i in np.flatnonzero(near_plane | camera.has_distortion)]
        groups.append(np.flatnonzero(~(near_plane | camera.has_distortion)))
        return MaskBatch.join([(g, frame_masks(joints_cam[g], body, camera, occluders_cam, frames[g]))
                               for g in groups if len(g)], n_f)
    whole = np.repeat(near_plane | camera.has_distortion, n_s)
    boxes = np.tile(np.array([0, 0, width, height]), (len(a), 1))
    part = np.flatnonzero(~whole)
    if len(part):
        boxes[part] = capsule_boxes(a[part], b[part], radius[part], camera)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    count = np.where((w > 0) & (h > 0), w * h, 0)
    # each frame's pixels are numbered within the bounding box of its capsules' boxes
    empty = (count == 0)[:, None]
    lo = np.where(empty, [width, height], boxes[:, :2]).reshape(n_f, n_s, 2).min(axis=1)
    hi = np.where(empty, 0, boxes[:, 2:]).reshape(n_f, n_s, 2).max(axis=1)
    size = np.maximum(hi - lo, 0)
    area = size[:, 0] * size[:, 1]
    base = np.cumsum(area) - area

    # every capsule over the rows of its box, each row over the columns that may show it
    rows = np.where(count > 0, h, 0)
    row_cap = np.repeat(np.arange(len(a)), rows)
    row_v = boxes[row_cap, 1] + np.arange(len(row_cap)) - np.repeat(np.cumsum(rows) - rows, rows)
    u_lo, u_hi = boxes[row_cap, 0], boxes[row_cap, 2]
    in_lo, in_hi = np.zeros(len(row_cap), np.int64), np.zeros(len(row_cap), np.int64)
    if len(part):
        stadia = _Stadia.of(a, b, radius, camera)  # meaningless for the whole-image capsules
        cut = np.flatnonzero(~whole[row_cap]) if len(part) < len(a) else slice(None)
        u_lo[cut], u_hi[cut], in_lo[cut], in_hi[cut] = stadia.columns(row_v[cut], row_cap[cut], u_lo[cut],
                                                                      u_hi[cut])
    n = np.maximum(u_hi - u_lo, 0)
    seg, v = np.repeat(row_cap, n), np.repeat(row_v, n)
    u = np.arange(len(seg)) + np.repeat(u_lo - (np.cumsum(n) - n), n)
    inner = (u >= np.repeat(in_lo, n)) & (u < np.repeat(in_hi, n))
    frame = seg // n_s
    key = base[frame] + (v - lo[frame, 1]) * size[frame, 0] + (u - lo[frame, 0])
    mark = np.zeros(int(area.sum()), bool)
    mark[key] = True
    cand = np.flatnonzero(mark)  # the pixels any capsule may cover, frame by frame, row by row
    slot = np.zeros(len(mark), np.int64)
    slot[cand] = np.arange(len(cand))
    pair = slot[key]  # each (capsule, pixel) pair's candidate pixel
    c_frame = np.searchsorted(base, cand, side="right") - 1
    c_v, c_u = np.divmod(cand - base[c_frame], np.maximum(size[c_frame, 0], 1))
    c_v, c_u = c_v + lo[c_frame, 1], c_u + lo[c_frame, 0]
    covered = np.zeros(len(cand), bool)
    covered[pair[inner]] = True

    occ = occluders_cam if occluders_cam is not None and occluders_cam.num_primitives else None
    plan = _occluder_plan(occ, camera, frames, ends, radius, n_s) if occ is not None else []
    exact = np.zeros(len(cand), bool)  # pixels that need the body's distance
    for p in plan:
        if p.exact.all():
            exact |= p.near(c_frame, c_u, c_v)
        elif p.exact.any():
            idx = np.flatnonzero(p.exact[c_frame])
            exact[idx] |= p.near(c_frame[idx], c_u[idx], c_v[idx])
    need = exact[pair] | ~covered[pair]
    t = raycast.ray_capsule(np.zeros(3), rays[v[need] * width + u[need]], a[seg[need]], b[seg[need]],
                            radius[seg[need]])
    hit = covered.copy()
    hit[pair[need][np.isfinite(t)]] = True
    t_body = np.full(len(cand), np.inf)
    ex = exact[pair[need]]
    np.minimum.at(t_body, pair[need][ex], t[ex])  # min is exact: the same in any order

    keep = np.flatnonzero(hit)  # the subject pixels
    frame, u, v, t_body = c_frame[keep], c_u[keep], c_v[keep], t_body[keep]
    pixel = v * width + u
    visible = np.ones(len(keep), bool)
    for p in plan:
        if p.behind.all():
            continue
        near = np.flatnonzero(~p.behind[frame] & p.near(frame, u, v))
        front = near[p.front[frame[near]]]
        if len(front):  # hit before any body point: hidden wherever its ray hits
            t_obj = raycast.ray_primitive(np.zeros((len(front), 3)), rays[pixel[front]], occ, p.index,
                                          frames=frames[frame[front]])
            visible[front] &= ~(t_obj < np.inf)
        near = near[p.exact[frame[near]]]
        if p.mesh:  # as one frame at a time: the mesh engine and its blocks depend on the batch
            groups = [near[frame[near] == f] for f in np.unique(frame[near])]
            groups = [g[s:s + CHUNK] for g in groups for s in range(0, len(g), CHUNK)]
        else:
            groups = [near]
        for idx in groups:
            if len(idx):
                t_obj = raycast.ray_primitive(np.zeros((len(idx), 3)), rays[pixel[idx]], occ, p.index,
                                              frames=frames[frame[idx]], t_max=t_body[idx])
                visible[idx] &= ~(t_obj < t_body[idx])
    return MaskBatch((height, width), frame, pixel, visible, n_f)


@dataclass(frozen=True, eq=False)
class _Primitive:
    """How :func:`frame_masks` casts one occluder primitive, per frame of the batch (F,)."""

    index: int
    mesh: bool
    behind: np.ndarray  # bool: further than any body point (hides nothing)
    front: np.ndarray  # bool: nearer than any body point (hides what it hits)
    exact: np.ndarray  # bool: neither (or a mesh): compared with the body's distance
    centre: np.ndarray | None  # (F, 2) pixel position of the bounding ball's centre
    reach: np.ndarray | None  # (F,) pixels; inf: every pixel; None (distortion): every pixel
    box: np.ndarray | None  # (F, 4) u0, v0, u1, v1 pixel box of its image (+-inf: none), used
    # instead of the reach (balls and meshes have none)

    def near(self, frame: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Which pixels (u, v) of the batch's frames ``frame`` the primitive may cover."""
        if self.reach is None:
            return np.ones(len(frame), bool)
        uc, vc = u + 0.5, v + 0.5
        if self.box is not None:
            box = self.box[frame]
            return (uc >= box[:, 0]) & (uc <= box[:, 2]) & (vc >= box[:, 1]) & (vc <= box[:, 3])
        r = self.reach[frame]
        du, dv = uc - self.centre[frame, 0], vc - self.centre[frame, 1]
        with np.errstate(invalid="ignore"):
            return ~np.isfinite(r) | (du * du + dv * dv <= r * r)


def _occluder_plan(occ: OccluderSet, camera: Camera, frames: np.ndarray, ends: np.ndarray,
                   radius: np.ndarray, n_s: int) -> list[_Primitive]:
    """Per primitive of ``occ``: its :class:`_Primitive` over ``frames``.

    Every point of a capsule with ends a, b lies within r of the segment, so at distance between
    min(z_a, z_b) - r (z <= distance) and max(|a|, |b|) + r from the camera; every point of a
    primitive within its bounding ball (:func:`_bounding_radius`). Those bounds, 1e-6 m and 1e-5
    relative apart (far more than the kernels' rounding), order a primitive and the body.
    The reach of an analytic primitive is its bounding ball's (see :func:`capsule_boxes`) plus
    SLACK; a mesh keeps MARGIN, so that the pixels it is cast over, which choose its ray engine,
    are those of one frame at a time.
    """
    from occpose.occlusion.occluders.geometry import MESH, SPHERE

    n_f = len(frames)
    body_near = (ends[..., 2].min(axis=1) - radius).reshape(n_f, n_s).min(axis=1)
    body_far = (np.linalg.norm(ends, axis=-1).max(axis=1) + radius).reshape(n_f, n_s).max(axis=1)
    f_max = max(camera.fx, camera.fy)
    out = []
    for i in range(occ.num_primitives):
        mesh = int(occ.shape[i]) == MESH
        r = _bounding_radius(occ, i)
        c = np.asarray(occ.pose[frames, i, :3, 3], np.float64)  # (F, 3)
        dist = np.linalg.norm(c, axis=-1)
        loose = r * (1 + 1e-5) + 1e-6
        behind = dist - loose > body_far + 1e-6
        front = ~behind & (dist + loose < body_near - 1e-6) & (not mesh)
        centre = reach = box = None
        if not camera.has_distortion:
            rr, margin = (r * (1 + 1e-9) + 1e-9, MARGIN) if mesh else (loose, SLACK)
            z = c[:, 2]
            centre = project_to_2d(c, camera)
            with np.errstate(divide="ignore", invalid="ignore"):
                reach = rr * dist / ((z - rr) * z) * f_max + margin
            reach = np.where(z - rr <= NEAR_PLANE, np.inf, reach)
            if not mesh and int(occ.shape[i]) != SPHERE:  # a ball's reach is its image's
                box = _image_box(occ, i, frames, camera)
        out.append(_Primitive(i, mesh, behind, front, ~behind & ~front, centre, reach, box))
    return out


_SIGNS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float64)


def _image_box(occ: OccluderSet, i: int, frames: np.ndarray, camera: Camera) -> np.ndarray:
    """(F, 4) u0, v0, u1, v1: a pixel box holding the image of analytic primitive i (SLACK pixels
    beyond the images of the corners of an oriented box around it, inflated by 1e-5 relative and
    1e-6 m for poses that are rigid to 1e-6); -inf, -inf, inf, inf when a corner is within NEAR_PLANE
    of the camera plane. In front of the camera the image of a box is the convex hull of its
    corners' images, and a ray through a pixel centre hits only what projects onto it."""
    from occpose.occlusion.occluders.geometry import BOX, CAPSULE, SPHERE

    code, size = int(occ.shape[i]), np.asarray(occ.size[i], np.float64)
    if code == BOX:
        half = size
    elif code == SPHERE:
        half = np.array([size[0]] * 3)
    else:  # a cylinder (radius, half height) or a capsule (its balls reach r beyond the caps)
        half = np.array([size[0], size[0], size[2] + (size[0] if code == CAPSULE else 0.0)])
    half = half * (1 + 1e-5) + 1e-6
    pose = occ.pose[frames, i]  # (F, 4, 4)
    corners = pose[:, None, :3, 3] + np.einsum("fij,kj->fki", pose[:, :3, :3], _SIGNS * half)  # (F, 8, 3)
    ok = corners[..., 2].min(axis=1) > NEAR_PLANE
    uv = project_to_2d(np.where(ok[:, None, None], corners, 1.0), camera)  # (F, 8, 2)
    box = np.concatenate([uv.min(axis=1) - SLACK, uv.max(axis=1) + SLACK], axis=1)
    return np.where(ok[:, None], box, [-np.inf, -np.inf, np.inf, np.inf])


def _bounding_radius(occ: OccluderSet, i: int) -> float:
    """Radius of a ball around primitive i's object origin that holds the primitive."""
    from occpose.occlusion.occluders.geometry import BOX, CAPSULE, CYLINDER, SPHERE

    code, size = int(occ.shape[i]), np.asarray(occ.size[i], np.float64)
    if code == BOX:
        return float(np.linalg.norm(size))
    if code == SPHERE:
        return float(size[0])
    if code == CAPSULE:
        return float(size[0] + size[2])
    if code == CYLINDER:
        return float(np.hypot(size[0], size[2]))
    return float(np.linalg.norm(occ.mesh_vertices(i), axis=-1).max())  # a mesh: its furthest vertex


@dataclass(frozen=True, eq=False)
class _Stadia:
    """Per capsule in front of the camera (z - r > 0), camera without distortion: the image of
    its axis segment (pa + s d, 0 <= s <= 1, pixels) and two reaches around it (pixels):

    * outer = f_max r max(|a|, |b|) / ((z_min - r) z_min) + SLACK. The ball of radius r at q on
      a-b projects within f_max r |q| / ((z_q - r) z_q) of q's image (a point q + e, |e| <= r,
      is off q's normalised image point by |(e x q)_xy| / (z_q (z_q + e_z))), which lies on the
      segment between the ends' images; |q| <= max(|a|, |b|), z_q >= z_min. Rays through pixel
      centres further from the segment's image miss the capsule, by more than SLACK pixels.
    * inner = f_min r / max(|a|, |b|) - SLACK. The ray through a pixel centre d off q's image
      (d / f_min off it in normalised coordinates) passes within |q| d / f_min of q, so inside
      the ball at q, by more than SLACK pixels, in front of the camera: the capsule kernel hits
      it.
    """

    pa: np.ndarray  # (C, 2)
    d: np.ndarray  # (C, 2)
    outer: np.ndarray  # (C,)
    inner: np.ndarray  # (C,), <= 0: none

    @classmethod
    def of(cls, a: np.ndarray, b: np.ndarray, radius: np.ndarray, camera: Camera) -> "_Stadia":
        ends = np.stack([a, b], axis=1)  # (C, 2, 3)
        z = ends[..., 2].min(axis=1)
        far = np.linalg.norm(ends, axis=-1).max(axis=1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            outer = radius * far / ((z - radius) * z) * max(camera.fx, camera.fy) + SLACK
            inner = radius / far * min(camera.fx, camera.fy) - SLACK
            uv = project_to_2d(ends, camera)  # (C, 2, 2)
        return cls(uv[:, 0], uv[:, 1] - uv[:, 0], outer, inner)

    def columns(self, v: np.ndarray, seg: np.ndarray, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pixel columns of row v whose centres lie within capsule seg's outer reach, [first,
        last) clipped to [lo, hi), and within its inner reach, [first_in, last_in) (empty:
        first >= last). Computed per row from the chord of the row's centre line through each
        reach (a stadium is convex), whose rounding (~1e-12 pixels) SLACK absorbs."""
        yc = v + 0.5
        o_lo, o_hi = self._chord(yc, seg, self.outer[seg])
        i_lo, i_hi = self._chord(yc, seg, self.inner[seg])
        with np.errstate(invalid="ignore", over="ignore"):
            first = np.clip(np.ceil(o_lo - 0.5), lo, hi)
            last = np.clip(np.floor(o_hi - 0.5) + 1, lo, hi)
            first_in = np.clip(np.ceil(i_lo - 0.5), lo, hi)
            last_in = np.clip(np.floor(i_hi - 0.5) + 1, lo, hi)
        return first.astype(np.int64), np.maximum(last, first).astype(np.int64), first_in.astype(np.int64), \
            last_in.astype(np.int64)

    def _chord(self, yc: np.ndarray, seg: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x interval of the line y = yc within ``reach`` of segment seg's image; (inf, -inf) if
        none: the hull of its chords through the discs at the ends and through the band between
        them (|perpendicular offset| <= reach, projection onto the segment within it)."""
        ax, ay = self.pa[seg, 0], self.pa[seg, 1]
        dx, dy = self.d[seg, 0], self.d[seg, 1]
        ey = yc - ay
        lo, hi = np.full(len(yc), np.inf), np.full(len(yc), -np.inf)
        ok = reach > 0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for cx, e in ((ax, ey), (ax + dx, ey - dy)):  # the end discs
                h = reach * reach - e * e
                s = np.sqrt(np.where(h >= 0, h, 0.0))
                inside = ok & (h >= 0)
                lo, hi = np.where(inside, np.minimum(lo, cx - s), lo), np.where(inside, np.maximum(hi, cx + s), hi)
            sq = dx * dx + dy * dy
            length = np.sqrt(sq)
            # |dy (x - ax) - dx ey| <= reach length, and 0 <= (x - ax) dx + ey dy <= length^2
            p0, p1 = (dx * ey - reach * length) / dy, (dx * ey + reach * length) / dy
            level = np.abs(dx * ey) <= reach * length  # a horizontal segment: the whole row or none
            p_lo = np.where(dy != 0, np.minimum(p0, p1), np.where(level, -np.inf, np.inf))
            p_hi = np.where(dy != 0, np.maximum(p0, p1), np.where(level, np.inf, -np.inf))
            q0, q1 = -ey * dy / dx, (sq - ey * dy) / dx
            within = (ey * dy >= 0) & (ey * dy <= sq)  # a vertical segment: the whole row or none
            q_lo = np.where(dx != 0, np.minimum(q0, q1), np.where(within, -np.inf, np.inf))
            q_hi = np.where(dx != 0, np.maximum(q0, q1), np.where(within, np.inf, -np.inf))
            b_lo, b_hi = ax + np.maximum(p_lo, q_lo), ax + np.minimum(p_hi, q_hi)
            band = ok & (sq > 0) & (b_lo <= b_hi)
        return np.where(band, np.minimum(lo, b_lo), lo), np.where(band, np.maximum(hi, b_hi), hi)


def _pixel_rays(camera: Camera, u0: int, v0: int, u1: int, v1: int) -> np.ndarray:
    """(h, w, 3) camera-frame directions through the pixel centres of a box (distortion included)."""
    return distortion.pixel_rays(camera)[v0:v1, u0:u1]


def visible_fraction(visible: np.ndarray, subject: np.ndarray) -> float:
    """Visible subject pixels / subject pixels; 1.0 when the frame shows no subject."""
    n = int(subject.sum())
    return float(visible.sum()) / n if n else 1.0
