"""The numpy and reference backends of :func:`~occpose.occlusion.raycast.visibility.label_visibility`.

Both compute the definition of :mod:`.visibility` and return its
:class:`~occpose.occlusion.raycast.visibility.VisibilityLabels`:

* ``"numpy"`` (:func:`_label_numpy`): blocked-ray counts from the float32 kernels of
  :mod:`.camera_rays`, chunk by chunk (optionally on threads), with the body's end balls
  tested once per joint (:class:`_BodyBalls`) and exact float64 first-hit distances only for the
  rays whose first blocker can change a label (:func:`_object_first`, per chunk).
* ``"reference"`` (:func:`_label_reference`): the definition computed literally with the float64
  kernels of :mod:`.primitives`, every (ray, primitive) distance.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from ..occluders.geometry import BOX, CAPSULE, CYLINDER, MESH, SPHERE, OccluderSet
from . import primitives as raycast
from . import camera_rays as raycast_camera
from . import native
from .visibility import (OTHER_TOLERANCE, VisibilityLabels, VisibilityParams, _targets_t,
                         disk_pattern, labels_from_counts, out_of_frame_mask, own_tolerance,
                         ray_targets)

F32 = np.float32


# -------------------------------------------------------------------------- reference backend
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


def use_native() -> bool:
    """Whether the numpy backend runs its blocked-ray tests in C (:mod:`.native`: same bytes).

    True when the kernels are built, unless switched off with ``OCCPOSE_NATIVE=0`` or by
    setting :data:`NATIVE` to False (the tests compare both)."""
    return NATIVE and native.available()


NATIVE = True
_THREAD = threading.local()
_PAIRS = 2048  # (ray, segment) pairs per block of exact distances


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
        if use_native():  # the same bits
            capsules = native.prepare_capsules(a[sl], b[sl], radius)  # lateral surfaces
            balls = native.prepare_balls(joints_cam[sl], body.joint_radius)  # _BodyBalls
        else:
            capsules = raycast_camera.prepare_capsules(a[sl], b[sl], radius, ends=False)
            balls = raycast_camera.prepare_balls(joints_cam[sl], body.joint_radius)
        n_blocked[sl], n_object[sl], open_rays = _ray_counts(
            joints_cam[sl], body.joint_radius, params, tol32, capsules, balls, body_balls,
            [(idx, prep[sl]) for idx, prep in occluders], _workspace())
        if open_rays is not None:  # frames within the whole sequence
            open_rays = (open_rays[0] + start,) + open_rays[1:]
        return open_rays

    def first(group: list) -> np.ndarray:
        """(T, J) rays an object blocks first, among some chunks' open rays [(chunk, rays)]."""
        chunks = np.concatenate([np.full(len(rays[0]), c) for c, rays in group])
        f, r, dirs, length, segments, obj_pairs = (np.concatenate(x)
                                                   for x in zip(*(rays for _, rays in group)))
        is_object = _object_first(dirs, length, f, r, segments, obj_pairs, a, b, radius, tol,
                                  occ, chunks)
        return _count(f * n_j + r // k, is_object, n_t, n_j)

    # The open rays -- blocked by both, the first blocker decides -- go to _object_first in a
    # few large calls rather than one per chunk: one per worker (it is elementwise, so the
    # grouping does not change a bit).
    starts = range(0, n_t, chunk)
    if workers > 1 and len(starts) > 1:  # numpy and the C kernels release the GIL
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            found = [(c, rays) for c, rays in enumerate(pool.map(run, starts))
                     if rays is not None]
            groups = [g for g in (found[w::workers] for w in range(workers)) if g]
            for counts in pool.map(first, groups):
                n_object += counts
    else:
        found = [(c, rays) for c, rays in enumerate(map(run, starts)) if rays is not None]
        if found:
            n_object += first(found)
    return labels_from_counts(n_blocked, n_object, k, out_of_frame_mask(joints_cam, camera))


def _count(index: np.ndarray, flag: np.ndarray, n_t: int, n_j: int) -> np.ndarray:
    """(T, J) int32: how many flagged entries each flat (frame, joint) ``index`` has."""
    return np.bincount(index[flag], minlength=n_t * n_j).reshape(n_t, n_j).astype(np.int32)


def _stop_bits(stop: np.ndarray, length32: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """:func:`~.camera_rays.stop_bits` of ``stop = length32 - tol`` (float32, computed by the
    caller), looking for negative values on the (T, 1, R) ``length32 - max(tol)`` only:
    rounding is monotonic, so when none of those is negative none of ``stop`` is."""
    if (length32 - tol.max(initial=0)).min(initial=0) >= 0:
        return stop.view(np.uint32)
    return raycast_camera.stop_bits(stop)


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
        tri = occ.mesh_triangles(i)
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
    in_c = use_native()
    if in_c:  # the same rays and tests in C (see .native), any() over primitives on the way
        dirs, length, w_t, len32 = native.targets(joints, joint_radius, disk_pattern(params))
        length32 = len32[:, None, :]
        by_body = np.zeros(len32.shape, bool)
        lateral = native.hits("lateral", w_t, len32, capsules, tol=tol, any_out=by_body)
        ends = native.hits("ball", w_t, len32, balls, tol=body_balls.tol, r2=body_balls.r2,
                           any_out=by_body)
    else:
        dirs = _targets_t(joints, joint_radius, params)  # (T, 3, R) targets, r = j K + k
        length = np.sqrt(np.einsum("tir,tir->tr", dirs, dirs))  # (T, R) ray lengths L
        dirs /= np.where(length > 0, length, 1.0)[:, None]  # unit directions
        w_t = dirs.astype(np.float32)
        length32 = length.astype(np.float32)[:, None, :]  # (T, 1, R)
        stop = np.subtract(length32, tol, out=work.get("stop.segments", (n_t,) + tol.shape, F32))
        stop = _stop_bits(stop, length32, tol)  # (T, S, R), clamped at 0
        lateral = raycast_camera.capsules_hit(w_t, stop, capsules, ends=False, work=work)
        stop = np.subtract(length32, body_balls.tol,
                           out=work.get("stop.balls", (n_t,) + body_balls.tol.shape, F32))
        stop = _stop_bits(stop, length32, body_balls.tol)  # (T, J, R)
        ends = raycast_camera.balls_hit(w_t, stop, balls, body_balls.r2, work=work)  # (T, J, R)
        by_body = lateral.any(axis=1)  # (T, R)
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
            cand = (native.hits("box", w_t, len32, prep.bounds, tol_scalar=OTHER_TOLERANCE)
                    if in_c else None)
            obj_hits[:, idx] = raycast_camera.mesh_hits(
                w_t, stop, prep, dirs, cand, native.triangles_crossed if in_c else None)
        elif in_c:
            obj_hits[:, idx] = native.hits(prep.kind, w_t, len32, prep,
                                           tol_scalar=OTHER_TOLERANCE)
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
    out = np.zeros(length.shape, bool)
    for e in range(len(rays)):  # a ray joint may hold several extras: or them one by one
        out[:, rays[e]] |= hit[:, e]
    return out


def _object_first(dirs, length, frames, rays, segments, obj_pairs, a, b, radius, tol,
                  occ, chunks=None) -> np.ndarray:
    """(N,) bool: for rays blocked by both, the nearest blocking primitive is an object.

    Exact float64 entry distances to the body segments and occluder primitives that block
    each ray (per the float32 tests); the nearest decides.

    Args:
        dirs: (N, 3) unit directions from the camera centre; length: (N,) distances to the
            targets; frames, rays: (N,) frame and ray index; segments (N, S), obj_pairs (N, O):
            bool masks of the blocking primitives; a, b: (T, S, 3) capsule ends; radius (S,);
            tol: (S, R) tolerance per (segment, ray); chunks: (N,) the chunk each ray comes
            from (the mesh engine is chosen per chunk, as when each chunk ran this alone).
    """
    n, s = np.nonzero(segments)  # pairs sorted by ray
    if use_native():
        t_body = native.first_body(dirs, length, frames, rays, n, s, a, b, radius, tol)
    else:
        t_body = _first_body(dirs, length, frames, rays, n, s, a, b, radius, tol)
    t_obj = np.full(len(dirs), np.inf)
    for i in np.flatnonzero(obj_pairs.any(axis=0)):
        n = np.flatnonzero(obj_pairs[:, i])
        if occ.shape[i] == MESH and chunks is not None:
            t = _mesh_distances(dirs, frames, n, occ, i, chunks[n])
        else:
            t = raycast.ray_primitive(np.zeros(3), dirs[n], occ, i, frames=frames[n])
        t_obj[n] = np.minimum(t_obj[n], np.where(t < length[n] - OTHER_TOLERANCE, t, np.inf))
    return t_obj <= t_body


def _mesh_distances(dirs, frames, n, occ, i, chunks) -> np.ndarray:
    """(len(n),) entry distances of rays ``n`` into mesh primitive ``i`` with the engine
    ``ray_mesh``'s "auto" picks for each chunk's rays alone: the rays of the chunks that get
    the numpy engine in one call, the others chunk by chunk."""
    faces = len(occ.meshes[int(occ.mesh_index[i])].faces)
    small = np.bincount(chunks)[chunks] * faces <= raycast.NUMPY_MESH_PAIRS
    t = np.empty(len(n))
    groups = [(small, "numpy")] + [(chunks == c, "trimesh") for c in np.unique(chunks[~small])]
    for sel, engine in groups:
        if sel.any():
            t[sel] = raycast.ray_primitive(np.zeros(3), dirs[n[sel]], occ, i,
                                           frames=frames[n[sel]], mesh_engine=engine)
    return t


def _first_body(dirs, length, frames, rays, n, s, a, b, radius, tol) -> np.ndarray:
    """(N,) the body part of :func:`_object_first` (numpy; :func:`.native.first_body` in C):
    each ray's nearest blocking segment entry before its stop, +inf if none."""
    t_body = np.full(len(dirs), np.inf)
    if len(n):
        stop = length[n] - tol[s, rays[n]]
        t = np.empty(len(n))
        f = frames[n]
        for lo in range(0, len(n), _PAIRS):  # elementwise: blocks that stay in cache
            sl = slice(lo, lo + _PAIRS)
            fs, ss = f[sl], s[sl]
            t[sl] = raycast_camera.capsule_distances(dirs[n[sl]], a[fs, ss], b[fs, ss],
                                                     radius[ss])
        first = np.flatnonzero(np.r_[True, n[1:] != n[:-1]])  # each ray's first pair
        t_body[n[first]] = np.minimum.reduceat(np.where(t < stop, t, np.inf), first)
    return t_body
