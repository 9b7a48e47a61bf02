"""Ray-cast visibility labels: the benchmark's ground truth for occlusion.

Definition (ARCHITECTURE.md "Visibility"; every backend implements exactly this):

* Inputs are in the camera frame (metres, x right, y down, z forward); the camera centre c is
  the origin. Joint j at p has surface radius r_j = ``body.joint_radius[j]`` (the largest radius
  of the capsules touching it). Its *target point* is its front surface point
  s = p + r_j (c - p) / |c - p|.
* K = ``params.rays`` sample rays per joint -- K counts the centre ray. Ray k runs from c to
  q_k = s + rho_k (cos(theta_k) e1 + sin(theta_k) e2), a sunflower (Vogel) pattern on the disk of
  radius rho = ``disk_fraction * r_j`` centred at s and perpendicular to the direction c -> s:
  rho_k = rho sqrt(k / (K - 1)), theta_k = k * golden angle (pi (3 - sqrt 5)), k = 0 .. K-1,
  so k = 0 is the centre ray and k = K-1 lies on the rim (K = 1: the centre ray only). The disk
  axes are e1 = normalise(y x u) (horizontal in the image, pointing right for u = z) and
  e2 = u x e1, with u = (s - c)/|s - c|; when u is parallel to y, e1 = x.
* Ray k of length L_k = |q_k - c| is *blocked* when some primitive's first intersection along
  it lies at a distance t with t < L_k - tol, where tol = ``params.tolerance`` for the joint's own
  body segments (``body.incidence[j]``: grazing hits on them are forgiven) and 1e-6 m for every
  other body segment and every occluder. A ray that starts inside a solid hits it at t = 0. The
  primitive with the smallest such t is the ray's first blocker: a body segment or an object.
* visibility = fraction of the K rays that are not blocked.
* out_of_frame: the joint projects outside [0, width) x [0, height) (``camera.project_to_2d``,
  lens distortion included) or lies at or behind the camera plane (z <= 0).
* occluded = (visibility < 0.5) & ~out_of_frame. An occluded joint is occluded_by_object when at
  least as many of its blocked rays are first-blocked by an object as by the body (ties go to the
  object), otherwise occluded_by_body. Every joint-frame is therefore exactly one of: visible,
  occluded_by_body, occluded_by_object, out_of_frame.
* occluder_fraction = occluded_by_object.sum(1) / J; self_occlusion_fraction =
  occluded_by_body.sum(1) / J.

Body segments are the capsules of ``body.capsules(joints_cam)``; occluders come from an
:class:`~occpose.occlusion.geometry.OccluderSet` already in the camera frame.

Backends (``label_visibility(..., backend=...)``):

``"numpy"`` (default)
    Decides "blocked" per ray with the float32 kernels of :mod:`.raycast_camera`: chunks of
    frames, all joints, rays and primitives at once, no Python loop per frame, joint or ray, and
    no distances computed. The capsules' end balls are tested once per joint (balls at a joint
    are concentric; see :class:`_BodyBalls`). Exact float64 first-hit distances are computed
    only for the few rays blocked by both the body and an object whose first blocker can change
    a joint's label. Decisions match the float64 reference except for rays grazing a primitive
    within ~1e-6 m of their stopping distance.
``"torch"``
    The same labels on any device (:mod:`.visibility_torch`), dense float32 distances.
``"reference"``
    The definition computed literally with the float64 kernels of :mod:`.raycast`: every
    (ray, primitive) distance. Slow; the yardstick of the tests.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from .geometry import BOX, CAPSULE, CYLINDER, MESH, SPHERE, OccluderSet
from . import raycast, raycast_camera

F32 = np.float32
OTHER_TOLERANCE = 1e-6  # metres: tolerance for every primitive that is not one of the joint's own
GOLDEN_ANGLE = float(np.pi * (3.0 - np.sqrt(5.0)))
DEFAULT_CHUNK = 128  # frames per numpy chunk (keeps the (T, P, R) work arrays in cache)


@dataclass(frozen=True)
class VisibilityParams:
    """Parameters of the visibility definition.

    Attributes:
        rays: K, rays per joint including the centre ray (>= 1).
        disk_fraction: sample disk radius as a fraction of the joint's surface radius.
        tolerance: metres forgiven for hits on the joint's own segments.
    """

    rays: int = 9
    disk_fraction: float = 0.5
    tolerance: float = 0.01

    def __post_init__(self) -> None:
        if int(self.rays) != self.rays or not 1 <= self.rays <= 255:
            raise ValueError(f"visibility rays must be an integer in [1, 255], got {self.rays}")
        if not 0.0 <= self.disk_fraction <= 1.0:
            raise ValueError(f"visibility disk_fraction must lie in [0, 1], "
                             f"got {self.disk_fraction}")
        if not 0.0 <= self.tolerance < 1.0:
            raise ValueError(f"visibility tolerance must lie in [0, 1) m, got {self.tolerance}")


@dataclass(frozen=True, eq=False)
class VisibilityLabels:
    """Per-frame, per-joint visibility labels (see the module docstring for the definition).

    Attributes:
        visibility: (T, J) float32 in [0, 1], fraction of unblocked rays.
        occluded, occluded_by_body, occluded_by_object, out_of_frame: (T, J) bool.
        occluder_fraction: (T,) float32, occluded_by_object.sum(1) / J.
        self_occlusion_fraction: (T,) float32, occluded_by_body.sum(1) / J.
    """

    visibility: np.ndarray
    occluded: np.ndarray
    occluded_by_body: np.ndarray
    occluded_by_object: np.ndarray
    out_of_frame: np.ndarray
    occluder_fraction: np.ndarray
    self_occlusion_fraction: np.ndarray

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The labels under their dataset field names."""
        return {k: getattr(self, k) for k in ("visibility", "occluded", "occluded_by_body",
                                               "occluded_by_object", "out_of_frame",
                                               "occluder_fraction", "self_occlusion_fraction")}


def disk_pattern(params: VisibilityParams) -> np.ndarray:
    """(K, 2) float64 sample offsets on the disk, in units of the joint's surface radius."""
    k = np.arange(params.rays, dtype=np.float64)
    rho = params.disk_fraction * np.sqrt(k / max(params.rays - 1, 1))
    theta = k * GOLDEN_ANGLE
    return np.stack([rho * np.cos(theta), rho * np.sin(theta)], axis=-1)


def ray_targets(joints_cam: np.ndarray, joint_radius: np.ndarray,
                params: VisibilityParams) -> np.ndarray:
    """Target points of every sample ray.

    Args:
        joints_cam: (T, J, 3) metres, camera frame; joint_radius: (J,) metres.
    Returns:
        (T, J, K, 3) float64 target points q_k, camera frame (rays start at the origin).
    """
    joints_cam = np.asarray(joints_cam, np.float64)
    targets = _targets_t(joints_cam, joint_radius, params)  # (T, 3, J*K)
    return np.swapaxes(targets, 1, 2).reshape(joints_cam.shape[:2] + (params.rays, 3))


def _targets_t(joints: np.ndarray, joint_radius: np.ndarray,
               params: VisibilityParams) -> np.ndarray:
    """(T, 3, R) float64 ray target points, transposed, rays r = j * K + k."""
    px, py, pz = joints[..., 0], joints[..., 1], joints[..., 2]  # (T, J) each
    dist = np.sqrt(px * px + py * py + pz * pz)
    inv = 1.0 / np.where(dist > 0, dist, 1.0)
    ux, uy, uz = px * inv, py * inv, pz * inv  # u = direction c -> p (= c -> s when |p| > r)
    front = 1.0 - joint_radius * inv  # s = p (1 - r / |p|)
    norm = np.sqrt(ux * ux + uz * uz)  # e1 = normalise(y x u) = (uz, 0, -ux) / norm
    ok = norm > 1e-12  # else u is parallel to y and e1 = x
    inv_norm = np.where(ok, 1.0 / np.where(ok, norm, 1.0), 0.0)
    e1x, e1z = np.where(ok, uz * inv_norm, 1.0), -ux * inv_norm
    e2x, e2y, e2z = uy * e1z, uz * e1x - ux * e1z, -uy * e1x  # e2 = u x e1
    offsets = disk_pattern(params)[None] * joint_radius[:, None, None]  # (J, K, 2)
    ox, oy = offsets[..., 0], offsets[..., 1]
    out = np.empty(joints.shape[:1] + (3,) + offsets.shape[:2])  # (T, 3, J, K)
    out[:, 0] = (px * front)[..., None] + ox * e1x[..., None] + oy * e2x[..., None]
    out[:, 1] = (py * front)[..., None] + oy * e2y[..., None]
    out[:, 2] = (pz * front)[..., None] + ox * e1z[..., None] + oy * e2z[..., None]
    return out.reshape(out.shape[0], 3, out.shape[2] * out.shape[3])


def own_tolerance(body, params: VisibilityParams) -> np.ndarray:
    """(J, S) float64: tolerance per (joint, body segment) pair."""
    return np.where(body.incidence, params.tolerance, OTHER_TOLERANCE)


def out_of_frame_mask(joints_cam: np.ndarray, camera) -> np.ndarray:
    """(T, J) bool: projects outside the image (with distortion) or is not in front (z <= 0)."""
    from ..camera import in_frame, project_to_2d

    pixels = project_to_2d(joints_cam, camera)
    return ~in_frame(pixels, camera, points_cam=joints_cam)


def label_visibility(joints_cam, body, camera, occluders_cam: OccluderSet | None = None,
                     params: VisibilityParams = VisibilityParams(), backend: str = "numpy",
                     device=None, chunk: int = DEFAULT_CHUNK, workers: int = 1
                     ) -> VisibilityLabels:
    """Ray-cast visibility labels for a sequence.

    Args:
        joints_cam: (T, J, 3) metres, camera frame (x right, y down, z forward).
        body: the :class:`~occpose.body.BodyModel` whose capsules are the body segments.
        camera: the :class:`~occpose.camera.Camera` (image size, intrinsics, distortion).
        occluders_cam: occluders in the camera frame (``OccluderSet.in_camera_frame``), with
            T frames (or 1 frame for a static set); None for no occluders.
        params: the definition's parameters.
        backend: ``"numpy"`` (fast, float32 blocked tests), ``"torch"`` (any device) or
            ``"reference"`` (slow and simple: float64 distances to every primitive for every
            ray, the yardstick of the tests).
        device: torch device for the torch backend (default CUDA when available, else CPU).
        chunk: frames per batch (numpy backend; torch batches are set by
            :func:`~occpose.occlusion.visibility_torch.label_visibility_torch`).
        workers: threads for the numpy backend (chunks run in parallel; numpy releases the
            GIL in its loops). The labels do not depend on it.
    Returns:
        :class:`VisibilityLabels` with (T, J) and (T,) arrays.
    """
    joints_cam = np.asarray(joints_cam, np.float64)
    n_j = body.skeleton.num_joints
    if joints_cam.ndim != 3 or joints_cam.shape[1:] != (n_j, 3):
        raise ValueError(f"joints_cam must have shape (T, {n_j}, 3), got {joints_cam.shape}")
    if not np.isfinite(joints_cam).all():
        raise ValueError("joints_cam contains non-finite values")
    occ = _frames_of(occluders_cam, len(joints_cam))
    if backend == "torch":
        from .visibility_torch import label_visibility_torch

        return label_visibility_torch(joints_cam, body, camera, occ, params, device=device)
    if backend == "reference":
        return _label_reference(joints_cam, body, camera, occ, params)
    if backend != "numpy":
        raise ValueError(f"unknown visibility backend {backend!r}; expected numpy, torch or "
                         "reference")
    return _label_numpy(joints_cam, body, camera, occ, params, chunk, workers)


def _label_reference(joints_cam, body, camera, occ, params) -> VisibilityLabels:
    """The definition computed literally: exact distances for every (ray, primitive) pair."""
    n_t, n_j, k = joints_cam.shape[0], joints_cam.shape[1], params.rays
    targets = ray_targets(joints_cam, body.joint_radius, params)  # (T, J, K, 3)
    length = np.linalg.norm(targets, axis=-1)  # (T, J, K)
    a, b, radius = body.capsules(joints_cam)  # (T, S, 3)
    t = raycast.ray_capsule(np.zeros(3), targets[..., None, :], a[:, None, None],
                            b[:, None, None], radius)  # (T, J, K, S)
    stop = length[..., None] - own_tolerance(body, params)[None, :, None, :]
    t_body = np.where(t < stop, t, np.inf).min(axis=-1)  # (T, J, K)
    t_obj = np.full_like(t_body, np.inf)
    if occ is not None:
        t = raycast.ray_occluders(np.zeros(3), targets.reshape(n_t, -1, 3), occ)  # (T, R, O)
        t = t.reshape(n_t, n_j, k, -1)
        t_obj = np.where(t < length[..., None] - OTHER_TOLERANCE, t, np.inf).min(axis=-1)
    blocked = np.isfinite(t_body) | np.isfinite(t_obj)
    object_first = blocked & (t_obj <= t_body)
    return labels_from_counts(blocked.sum(-1).astype(np.int32),
                              object_first.sum(-1).astype(np.int32), k,
                              out_of_frame_mask(joints_cam, camera))


def labels_from_counts(n_blocked: np.ndarray, n_object: np.ndarray, rays: int,
                       out_of_frame: np.ndarray) -> VisibilityLabels:
    """Joint labels from blocked-ray counts (T, J) and first-blocked-by-object counts (T, J)."""
    visibility = (1.0 - n_blocked / rays).astype(np.float32)
    occluded = (2 * n_blocked > rays) & ~out_of_frame  # visibility < 0.5, in integers
    by_object = occluded & (2 * n_object >= n_blocked)  # n_object >= n_body, ties to objects
    by_body = occluded & ~by_object
    n_j = visibility.shape[1]
    return VisibilityLabels(
        visibility=visibility, occluded=occluded, occluded_by_body=by_body,
        occluded_by_object=by_object, out_of_frame=out_of_frame,
        occluder_fraction=(by_object.sum(axis=1) / n_j).astype(np.float32),
        self_occlusion_fraction=(by_body.sum(axis=1) / n_j).astype(np.float32))


def _frames_of(occ: OccluderSet | None, n_t: int) -> OccluderSet | None:
    """The occluder set with one pose per frame (a static 1-frame set is repeated)."""
    if occ is None or occ.num_primitives == 0:
        return None
    if occ.n_frames == n_t:
        return occ
    if occ.n_frames == 1:
        return occ._replace(pose=np.broadcast_to(occ.pose, (n_t,) + occ.pose.shape[1:]))
    raise ValueError(f"occluders have {occ.n_frames} frames but joints_cam has {n_t}")


# ------------------------------------------------------------------------------ numpy backend
@dataclass(frozen=True, eq=False)
class _BodyBalls:
    """The capsules' end balls, tested once per joint rather than twice per segment.

    Balls at one joint are concentric, so for the rays of joint i only the largest ball at
    joint j matters, with the smallest tolerance among the segments of that radius -- plus,
    when that tolerance is not the strictest, the largest smaller ball with the stricter
    tolerance (``extra``). A joint's own ball never blocks its own rays (their targets lie on
    the plane tangent to that ball), so it gets radius 0 there: every such ray misses it.

    Attributes:
        r2: (J, R) float32 squared radius of the ball at joint j for ray r.
        tol: (J, R) float32 tolerance for that pair.
        extra: (E, 3) rows (ball joint j, ray joint i, radius) with tolerance ``extra_tol`` (E,).
    """

    r2: np.ndarray
    tol: np.ndarray
    extra: np.ndarray
    extra_tol: np.ndarray
    seg_a: np.ndarray  # (S,) segment end joints
    seg_b: np.ndarray
    extra_segments: np.ndarray  # (J, S) bool: segments at the joints of ray joint i's extras


@functools.lru_cache(maxsize=32)
def _body_balls(body, params: VisibilityParams) -> _BodyBalls:
    n_j, k = body.skeleton.num_joints, params.rays
    r2 = np.zeros((n_j, n_j))
    tol = np.full((n_j, n_j), params.tolerance)
    extra, extra_tol = [], []
    for j in range(n_j):
        at_j = [seg for seg in body.segments if j in (seg.a, seg.b)]
        for i in range(n_j):
            if i == j or not at_j:
                continue
            cands = [(seg.radius, params.tolerance if i in (seg.a, seg.b) else OTHER_TOLERANCE)
                     for seg in at_j]
            r_max = max(r for r, _ in cands)
            tol_max = min(t for r, t in cands if r == r_max)
            r2[j, i], tol[j, i] = r_max ** 2, tol_max
            stricter = [(r, t) for r, t in cands if t < tol_max]
            if stricter:
                extra.append((j, i, max(r for r, _ in stricter)))
                extra_tol.append(min(t for _, t in stricter))
    extra_segments = np.zeros((n_j, len(body.segments)), bool)
    for j, i, _ in extra:
        extra_segments[i] |= body.incidence[j]
    return _BodyBalls(np.repeat(r2, k, axis=1).astype(np.float32),
                      np.repeat(tol, k, axis=1).astype(np.float32),
                      np.array(extra, np.float64).reshape(-1, 3), np.array(extra_tol),
                      body.seg_a, body.seg_b, extra_segments)


_THREAD = threading.local()


def _workspace() -> raycast_camera.Workspace:
    """This thread's scratch arrays (kept between calls: labelling many short sequences would
    otherwise page-fault fresh megabytes for every call)."""
    if not hasattr(_THREAD, "work"):
        _THREAD.work = raycast_camera.Workspace()
    return _THREAD.work


def _label_numpy(joints_cam, body, camera, occ, params, chunk: int,
                 workers: int = 1) -> VisibilityLabels:
    """The numpy backend: float32 blocked tests chunk by chunk, exact distances where needed."""
    n_t, n_j, k = joints_cam.shape[0], joints_cam.shape[1], params.rays
    a, b, radius = body.capsules(joints_cam)  # (T, S, 3)
    occluders = _prepare_occluders(occ)  # few primitives: prepared for all frames at once
    body_balls = _body_balls(body, params)
    tol = np.repeat(own_tolerance(body, params).T, k, axis=1)  # (S, R) float64
    tol32 = tol.astype(np.float32)
    n_blocked = np.zeros((n_t, n_j), np.int32)
    n_object = np.zeros((n_t, n_j), np.int32)

    def run(start: int):  # one chunk; its body is prepared here, while in cache
        sl = slice(start, min(start + chunk, n_t))
        capsules = raycast_camera.prepare_capsules(a[sl], b[sl], radius, ends=False)
        balls = raycast_camera.prepare_balls(joints_cam[sl], body.joint_radius)  # _BodyBalls
        n_blocked[sl], n_object[sl], open_rays = _ray_counts(
            joints_cam[sl], body.joint_radius, params, tol32, capsules, balls, body_balls,
            [(idx, prep[sl]) for idx, prep in occluders], _workspace())
        if open_rays is not None:
            f, r, *rest = open_rays
            return (f + start, r, *rest)
        return None

    starts = range(0, n_t, chunk)
    if workers > 1 and len(starts) > 1:  # numpy releases the GIL inside its loops
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            pending = list(pool.map(run, starts))
    else:
        pending = [run(start) for start in starts]
    pending = [p for p in pending if p is not None]
    if pending:  # rays blocked by both, where the first blocker decides a label
        f, r, dirs, length, segments, obj_pairs = (np.concatenate(x) for x in zip(*pending))
        first = _object_first(dirs, length, f, r, segments, obj_pairs, a, b, radius, tol, occ)
        np.add.at(n_object, (f, r // k), first.astype(np.int32))
    return labels_from_counts(n_blocked, n_object, k, out_of_frame_mask(joints_cam, camera))


def _prepare_occluders(occ: OccluderSet | None) -> list[tuple[np.ndarray, object]]:
    """(primitive indices, prepared kernel constants) per kind of occluder, all frames."""
    if occ is None:
        return []
    out = []
    for code in (BOX, SPHERE, CAPSULE, CYLINDER):
        idx = np.flatnonzero(occ.shape == code)
        if not len(idx):
            continue
        pose, size = occ.pose[:, idx], occ.size[idx]
        if code == BOX:
            prep = raycast_camera.prepare_boxes(pose[..., :3, :3], pose[..., :3, 3], size)
        elif code == SPHERE:
            prep = raycast_camera.prepare_balls(pose[..., :3, 3], size[:, 0])
        elif code == CAPSULE:
            prep = raycast_camera.prepare_capsules(*raycast.capsule_endpoints(pose, size[:, 2]),
                                                   size[:, 0])
        else:
            prep = raycast_camera.prepare_cylinders(*raycast.capsule_endpoints(pose, size[:, 2]),
                                                    size[:, 0])
        out.append((idx, prep))
    for i in np.flatnonzero(occ.shape == MESH):
        tri = occ.mesh_vertices(i)[occ.meshes[int(occ.mesh_index[i])].faces]
        out.append((np.array([i]), raycast_camera.prepare_mesh(tri, occ.pose[:, i])))
    return out


_HITS = {"capsule": raycast_camera.capsules_hit, "ball": raycast_camera.balls_hit,
         "box": raycast_camera.boxes_hit, "cylinder": raycast_camera.cylinders_hit}


def _ray_counts(joints: np.ndarray, joint_radius: np.ndarray, params: VisibilityParams,
                tol: np.ndarray, capsules, balls, body_balls: _BodyBalls, occluders: list,
                work: raycast_camera.Workspace):
    """Ray counts for one chunk of T frames.

    Args:
        joints: (T, J, 3) camera frame; tol: (S, R) float32 tolerance per (segment, ray);
        capsules, balls: the chunk's prepared body capsules and joint balls; occluders: the
        chunk's prepared occluders, (primitive indices, prepared) per kind; work: this
        thread's scratch arrays.
    Returns:
        n_blocked: (T, J) int32 blocked rays per joint.
        n_object: (T, J) int32 rays first blocked by an object, counting rays blocked by both
            the body and an object as body (the caller adds those an object blocks first).
        open_rays: None, or the rays blocked by both whose first blocker can change a label:
            (N,) frame within the chunk, (N,) ray index r = j K + k, (N, 3) float64 unit
            direction, (N,) length, and bool masks of the body segments (N, S) and occluder
            primitives (N, O) that block them.
    """
    n_t, n_j, k = joints.shape[0], joints.shape[1], params.rays
    dirs = _targets_t(joints, joint_radius, params)  # (T, 3, R) targets, rays r = j K + k
    length = np.sqrt(np.einsum("tir,tir->tr", dirs, dirs))  # (T, R) ray lengths L
    dirs /= np.where(length > 0, length, 1.0)[:, None]  # unit directions
    w_t = dirs.astype(np.float32)
    length32 = length.astype(np.float32)[:, None, :]  # (T, 1, R)
    stop = np.subtract(length32, tol, out=work.get("stop.segments", (n_t,) + tol.shape, F32))
    stop = raycast_camera.stop_bits(stop)  # (T, S, R), clamped at 0
    lateral = raycast_camera.capsules_hit(w_t, stop, capsules, ends=False, work=work)
    by_body = lateral.any(axis=1)  # (T, R)
    stop = np.subtract(length32, body_balls.tol,
                       out=work.get("stop.balls", (n_t,) + body_balls.tol.shape, F32))
    stop = raycast_camera.stop_bits(stop)  # (T, J, R)
    ends = raycast_camera.balls_hit(w_t, stop, balls, body_balls.r2, work=work)  # (T, J, R)
    by_body |= ends.any(axis=1)
    if len(body_balls.extra):
        by_body |= _extra_ball_hits(dirs, length, joints, body_balls, k)
    if not occluders:
        n_blocked = by_body.reshape(n_t, n_j, k).sum(axis=-1, dtype=np.int32)
        return n_blocked, np.zeros_like(n_blocked), None
    stop = raycast_camera.stop_bits(length32 - np.float32(OTHER_TOLERANCE))  # (T, 1, R)
    n_o = sum(len(idx) for idx, _ in occluders)
    obj_hits = np.empty((n_t, n_o, w_t.shape[2]), bool)  # (T, O, R)
    for idx, prep in occluders:
        if isinstance(prep, raycast_camera.PreparedMesh):
            obj_hits[:, idx] = raycast_camera.mesh_hits(w_t, stop, prep, dirs)
        else:
            obj_hits[:, idx] = _HITS[prep.kind](w_t, stop, prep)
    by_obj = obj_hits.any(axis=1)
    both = by_body & by_obj
    # one pass counts all three per joint (K < 256, so the byte fields never overflow)
    code = (by_body.astype(np.uint32) + (by_obj.astype(np.uint32) << 8)
            + (both.astype(np.uint32) << 16)).reshape(n_t, n_j, k).sum(axis=-1, dtype=np.uint32)
    n_both = (code >> 16).astype(np.int32)
    n_body = (code & 0xFF).astype(np.int32) - n_both  # body only
    n_obj = ((code >> 8) & 0xFF).astype(np.int32) - n_both  # object only
    n_blocked = n_body + n_obj + n_both
    # Only occluded joints whose decision depends on how the "both" rays split need them.
    open_question = ((2 * n_blocked > k) & (n_both > 0) & (n_obj < n_body + n_both)
                     & (n_obj + n_both >= n_body))
    if not open_question.any():
        return n_blocked, n_obj, None
    both &= np.repeat(open_question, k, axis=1)
    f, r = np.nonzero(both)
    # segments that may block each such ray: lateral hits, hits on either end ball, and the
    # segments at joints holding an extra ball for the ray's joint
    ends_fr = ends[f, :, r]  # (N, J)
    segments = (lateral[f, :, r] | ends_fr[:, body_balls.seg_a] | ends_fr[:, body_balls.seg_b]
                | body_balls.extra_segments[r // k])
    return n_blocked, n_obj, (f, r, dirs[f, :, r], length[f, r], segments, obj_hits[f, :, r])


def _extra_ball_hits(dirs, length, joints, body_balls: _BodyBalls, k: int) -> np.ndarray:
    """(T, R) bool: rays blocked by the second, smaller balls of :class:`_BodyBalls`.

    Float64 on the few (T, E, K) pairs concerned: ball j against the K rays of joint i.
    """
    j, i = body_balls.extra[:, 0].astype(int), body_balls.extra[:, 1].astype(int)
    rays = i[:, None] * k + np.arange(k)  # (E, K)
    w = dirs[:, :, rays]  # (T, 3, E, K)
    c = joints[:, j]  # (T, E, 3)
    wc = np.einsum("tiek,tei->tek", w, c)
    perp2 = np.einsum("tei,tei->te", c, c)[..., None] - wc * wc
    with np.errstate(invalid="ignore"):
        t = wc - np.sqrt(np.square(body_balls.extra[:, 2])[:, None] - perp2)
    hit = (t >= 0) & (t < length[:, rays] - body_balls.extra_tol[:, None])  # (T, E, K)
    out = np.zeros(length.shape, np.int32)
    np.add.at(out.T, rays.ravel(), hit.reshape(len(hit), -1).T.astype(np.int32))
    return out > 0


def _object_first(dirs, length, frames, rays, segments, obj_pairs, a, b, radius, tol,
                  occ) -> np.ndarray:
    """(N,) bool: for rays blocked by both, the nearest blocking primitive is an object.

    Exact float64 entry distances to the body segments and occluder primitives that block
    each ray (per the float32 tests); the nearest decides.

    Args:
        dirs: (N, 3) unit directions from the camera centre; length: (N,) distances to the
            targets; frames, rays: (N,) frame and ray index; segments (N, S), obj_pairs (N, O):
            bool masks of the blocking primitives; a, b: (T, S, 3) capsule ends; radius (S,);
            tol: (S, R) tolerance per (segment, ray).
    """
    n, s = np.nonzero(segments)
    f = frames[n]
    t = raycast_camera.capsule_distances(dirs[n], a[f, s], b[f, s], radius[s])
    t_body = np.full(len(dirs), np.inf)
    np.minimum.at(t_body, n, np.where(t < length[n] - tol[s, rays[n]], t, np.inf))
    t_obj = np.full(len(dirs), np.inf)
    for i in np.flatnonzero(obj_pairs.any(axis=0)):
        n = np.flatnonzero(obj_pairs[:, i])
        t = raycast.ray_primitive(np.zeros(3), dirs[n], occ, i, frames=frames[n])
        np.minimum.at(t_obj, n, np.where(t < length[n] - OTHER_TOLERANCE, t, np.inf))
    return t_obj <= t_body
