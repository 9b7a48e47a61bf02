"""Blocked-ray tests for rays cast from the camera centre (numpy, float32, the labelling hot path).

Every ray starts at the origin of the camera frame, so a ray is a unit direction ``w`` and the
distance ``t_stop`` where it stops counting (its target distance minus a tolerance). A kernel
answers, per frame, primitive and ray, "does the primitive's entry distance lie in
[0, t_stop)?" -- what the reference kernels of :mod:`.primitives` answer with ``t < t_stop`` --
without computing distances nobody needs.

Use: ``prep = prepare_capsules(a, b, radius)`` (or the box / ball / cylinder / mesh variants)
once for a whole sequence, then ``capsules_hit(w_t, stop_bits(t_stop), prep[frames])`` chunk by
chunk.

Layout (chosen for speed, see ``benchmark/bench_visibility.py``): directions come transposed,
``w_t`` (T, 3, R) with the R rays of a frame innermost, so the dot products of all rays with
all primitives are one batched ``matmul`` and every per-pair array is (T, P, R): per-primitive
constants broadcast as (T, P, 1) along contiguous rows. Per-pair arithmetic is in place and
branch-free: NaN from the square root of a negative discriminant fails every comparison, and
``0 <= t < t_stop`` is one unsigned comparison of float32 bit patterns (:func:`_below`).

Precision: float32 per pair, with the cancellation-prone quantities (distances between a ray
and an axis or a ball centre) computed as small dot products rather than differences of large
squares; decisions match the float64 reference except for rays that graze a primitive within
~1e-6 m of their stopping distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F32 = np.float32


@dataclass(frozen=True)
class Prepared:
    """Per-frame constants of P primitives of one kind, for a sequence or a slice of it.

    Attributes:
        kind: ``"capsule"``, ``"ball"``, ``"box"`` or ``"cylinder"``.
        cols: (C, T, P, 3) float32 vectors whose dot products with the rays the kernel needs.
        rows: (Q, T, P, 1) float32 per-primitive scalars.
        inside: (T, P) bool, the camera centre lies inside the primitive.
    """

    kind: str
    cols: np.ndarray
    rows: np.ndarray
    inside: np.ndarray

    def __getitem__(self, frames) -> "Prepared":
        return Prepared(self.kind, self.cols[:, frames], self.rows[:, frames], self.inside[frames])

    @property
    def num_primitives(self) -> int:
        return int(self.inside.shape[1])


class Workspace:
    """Scratch arrays reused from chunk to chunk and call to call (one workspace per thread).

    Chunks bring back the same shapes, and reusing their memory spares the allocator from
    mapping (and page-faulting) megabytes of fresh memory every time. A kernel's result may
    live in the workspace: use it before calling the same kernel with the same workspace.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, np.dtype], np.ndarray] = {}

    def get(self, key: str, shape: tuple, dtype) -> np.ndarray:
        """A C-contiguous array of ``shape`` (contents undefined), reusing the key's memory."""
        dtype = np.dtype(dtype)
        size = int(np.prod(shape))
        flat = self._buffers.get((key, dtype))
        if flat is None or flat.size < size:
            flat = self._buffers[(key, dtype)] = np.empty(size, dtype)
        return flat[:size].reshape(shape)


def _scratch(work: Workspace | None) -> Workspace:
    return Workspace() if work is None else work


# Per-primitive preparation works on component-first float64 vectors (3, T, P), so that every
# operation runs over contiguous memory.
def _components(v: np.ndarray) -> np.ndarray:
    """(T, P, 3) -> contiguous float64 (3, T, P)."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(v, np.float64), -1, 0))


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return x[0] * y[0] + x[1] * y[1] + x[2] * y[2]


def _cross(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2],
                     x[0] * y[1] - x[1] * y[0]])


def _perp_basis(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two vectors q1, q2 (3, ...) orthogonal to c (3, ...) and to each other, of length |c|.

    For a unit ray direction w, (w.q1)^2 + (w.q2)^2 = |w x c|^2 is the squared distance from c
    to the ray's line, from two small dot products instead of |c|^2 - (w.c)^2 (which cancels
    catastrophically in float32 for balls a few metres away).
    """
    length = np.sqrt(_dot(c, c))
    use_x = np.abs(c[0]) < 0.6 * length  # c x e_x unless c is nearly along x, then c x e_y
    zero = np.zeros_like(length)
    q1 = np.where(use_x, np.stack([zero, c[2], -c[1]]), np.stack([-c[2], zero, c[0]]))
    q1 *= length / np.maximum(np.sqrt(_dot(q1, q1)), 1e-300)
    q2 = _cross(c, q1) / np.maximum(length, 1e-300)
    return q1, q2


def _prepared(kind: str, cols, rows, inside) -> Prepared:
    """Pack component-first vectors (3, T, P) and scalars (T, P) into a :class:`Prepared`."""
    shape = cols[0].shape[1:]
    packed = np.ascontiguousarray(np.moveaxis(np.stack(cols), 1, -1), dtype=F32)  # (C, T, P, 3)
    rows = np.stack([np.broadcast_to(r, shape) for r in rows]).astype(F32)[..., None]
    return Prepared(kind, packed, rows, np.broadcast_to(inside, shape))


def stop_bits(t_stop) -> np.ndarray:
    """float32 ``t_stop`` (clamped at 0) as uint32 bit patterns, for :func:`_below`."""
    t_stop = np.asarray(t_stop, F32)
    if not t_stop.min(initial=0.0) >= 0:  # rare: a target within the tolerance of the camera
        t_stop = np.maximum(t_stop, F32(0))
    return t_stop.view(np.uint32)


def _below(t: np.ndarray, bits: np.ndarray, out=None) -> np.ndarray:
    """0 <= t < t_stop in one comparison of float32 bit patterns as unsigned integers.

    Non-negative floats order like their bit patterns; negative floats (sign bit set) and NaN
    compare above every non-negative finite bound.
    """
    return np.less(t.view(np.uint32), bits, out=out)


def _inside_hits(hit: np.ndarray, inside: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """A camera centre inside a primitive (T, P) hits it at t = 0: every ray with t_stop > 0."""
    if inside.any():
        hit |= inside[..., None] & (bits > 0)
    return hit


def _ball_hits(wc, wq1, wq2, r2, bits, out=None) -> np.ndarray:
    """(T, P, R) bool: the entry t = w.c - sqrt(r^2 - |w x c|^2) into balls lies in [0, t_stop).

    wc, wq1, wq2: (T, P, R) dot products of the rays with the centres and their
    :func:`_perp_basis` (``wq1`` and ``wq2`` are overwritten); r2: squared radii, (T, P, 1)
    or (P, R).
    """
    buf = np.multiply(wq1, wq1, out=wq1)
    buf += np.multiply(wq2, wq2, out=wq2)
    np.subtract(r2, buf, out=buf)
    np.sqrt(buf, out=buf)
    np.subtract(wc, buf, out=buf)
    return _below(buf, bits, out=out)


# ----------------------------------------------------------------------------------- capsules
def prepare_capsules(a: np.ndarray, b: np.ndarray, radius, ends: bool = True) -> Prepared:
    """Capsules of axis a-b (T, P, 3) and radius (P,) or (T, P), camera frame, metres.

    ``ends=False`` prepares the lateral surface only (for ``capsules_hit(..., ends=False)``).
    """
    a, b = _components(a), _components(b)  # (3, T, P)
    ba = b - a
    length = np.sqrt(_dot(ba, ba))
    axis = ba / np.where(length > 0, length, 1.0)  # zero length: the balls test it
    a_axis = _dot(a, axis)
    a_perp = a - a_axis * axis
    r2 = np.square(np.asarray(radius, np.float64))
    cyl_c = _dot(a_perp, a_perp) - r2  # < 0: camera inside the infinite cylinder
    moment = _cross(a, axis)  # |w . moment| / |w x axis| = distance between ray and axis lines
    inside = ((_dot(a, a) <= r2) | (_dot(b, b) <= r2)
              | ((cyl_c <= 0) & (a_axis <= 0) & (a_axis + length >= 0)))
    cols = [axis, a_perp, moment]
    if ends:
        cols += [a, *_perp_basis(a), b, *_perp_basis(b)]
    return _prepared("capsule", cols, [cyl_c, a_axis, length, r2], inside)


def capsules_hit(w_t: np.ndarray, stop: np.ndarray, prep: Prepared, ends: bool = True,
                 work: Workspace | None = None) -> np.ndarray:
    """Which capsules block which rays from the origin.

    Args:
        w_t: (T, 3, R) float32 unit ray directions, transposed.
        stop: :func:`stop_bits` of the (T, P, R) or (T, 1, R) stopping distances t_stop; a
            capsule blocks a ray when its entry distance lies in [0, t_stop).
        prep: :func:`prepare_capsules` for the same T frames.
        ends: test the end balls too. ``False`` tests the lateral surface only (the callers
            then test the balls themselves, as the body does once per joint).
        work: scratch arrays to reuse (the result lives there too).
    Returns:
        (T, P, R) bool.
    """
    if prep.num_primitives == 0:
        return np.zeros((w_t.shape[0], 0, w_t.shape[2]), bool)
    if ends and len(prep.cols) < 9:
        raise ValueError("capsules prepared with ends=False cannot test their end balls")
    work = _scratch(work)
    cols = prep.cols if ends else prep.cols[:3]
    shape = cols.shape[1:3] + w_t.shape[2:]  # (T, P, R)
    dots = np.matmul(cols, w_t, out=work.get("capsule.dots", cols.shape[:1] + shape, F32))
    dn, lat, wm = dots[:3]
    c, lo, ln, r2 = prep.rows
    h = work.get("capsule.h", shape, F32)
    hit, tmp = work.get("capsule.hit", shape, bool), work.get("capsule.tmp", shape, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Lateral surface: |t w - a|^2 - ((t w - a).n)^2 = r^2, i.e. A t^2 - 2 B t + C = 0 with
        # A = 1 - dn^2, B = w.a_perp, C = |a_perp|^2 - r^2. Its discriminant B^2 - A C equals
        # A r^2 - (w.moment)^2 (Lagrange's identity), which avoids cancelling large squares;
        # the entry root t1 = C / (B + sqrt(h)) is stable for rays parallel to the axis (A = 0).
        np.multiply(dn, dn, out=h)
        np.subtract(F32(1), h, out=h)
        h *= r2
        x = np.multiply(wm, wm, out=wm)
        h -= x
        np.sqrt(h, out=h)
        h += lat
        np.divide(c, h, out=h)  # t1 (< 0 or NaN: no lateral entry ahead)
        np.multiply(h, dn, out=x)
        x -= lo  # axial coordinate of the entry point, from a
        _below(x, ln.view(np.uint32), out=hit)  # 0 <= axial < length
        hit &= _below(h, stop, out=tmp)
        if ends:
            wa, wqa1, wqa2, wb, wqb1, wqb2 = dots[3:]
            hit |= _ball_hits(wa, wqa1, wqa2, r2, stop, out=tmp)
            hit |= _ball_hits(wb, wqb1, wqb2, r2, stop, out=tmp)
    return _inside_hits(hit, prep.inside, stop)


# -------------------------------------------------------------------------------------- balls
def prepare_balls(centre: np.ndarray, radius) -> Prepared:
    """Balls of centre (T, P, 3) and radius (P,) or (T, P), camera frame, metres."""
    centre = _components(centre)
    r2 = np.square(np.asarray(radius, np.float64))
    q1, q2 = _perp_basis(centre)
    return _prepared("ball", [centre, q1, q2], [r2], _dot(centre, centre) <= r2)


def balls_hit(w_t: np.ndarray, stop: np.ndarray, prep: Prepared, r2=None,
              work: Workspace | None = None) -> np.ndarray:
    """(T, P, R) bool: rays from the origin blocked by each ball (see :func:`capsules_hit`).

    Args:
        r2: optional (P, R) float32 squared radius per (ball, ray), replacing the prepared radii
            (a camera inside such a ball is not detected: the caller knows it is impossible).
        work: scratch arrays to reuse (the result lives there too).
    """
    if prep.num_primitives == 0:
        return np.zeros((w_t.shape[0], 0, w_t.shape[2]), bool)
    work = _scratch(work)
    shape = prep.cols.shape[1:3] + w_t.shape[2:]
    dots = np.matmul(prep.cols, w_t, out=work.get("ball.dots", (3,) + shape, F32))
    wc, wq1, wq2 = dots
    with np.errstate(invalid="ignore"):
        hit = _ball_hits(wc, wq1, wq2, prep.rows[0] if r2 is None else r2, stop,
                         out=work.get("ball.hit", shape, bool))
    return hit if r2 is not None else _inside_hits(hit, prep.inside, stop)


# -------------------------------------------------------------------------------------- boxes
def prepare_boxes(rotation: np.ndarray, centre: np.ndarray, half) -> Prepared:
    """Oriented boxes: box-to-camera rotation (T, P, 3, 3) (columns: box axes), centre
    (T, P, 3), half extents (P, 3) or (T, P, 3), metres."""
    rot = np.asarray(rotation, np.float64)
    centre = np.asarray(centre, np.float64)
    origin = -np.einsum("tpji,tpj->tpi", rot, centre)  # camera centre in box coordinates
    half = np.broadcast_to(np.asarray(half, np.float64), origin.shape)
    lo, hi = -half - origin, half - origin  # slab bounds relative to the camera
    inside = ((lo <= 0) & (hi >= 0)).all(axis=-1)
    axes = [_components(rot[..., k]) for k in range(3)]  # the box axes in camera coordinates
    return _prepared("box", axes, [lo[..., 0], lo[..., 1], lo[..., 2], hi[..., 0], hi[..., 1],
                                   hi[..., 2]], inside)


def boxes_hit(w_t: np.ndarray, stop: np.ndarray, prep: Prepared) -> np.ndarray:
    """(T, P, R) bool: rays from the origin blocked by each oriented box (slab test)."""
    if prep.num_primitives == 0:
        return np.zeros((w_t.shape[0], 0, w_t.shape[2]), bool)
    inv = np.matmul(prep.cols, w_t)  # (3, T, P, R) ray directions in box coordinates
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        np.divide(F32(1), inv, out=inv)  # +-inf for rays parallel to a slab
        ta, tb = prep.rows[:3] * inv, prep.rows[3:] * inv
        near = np.minimum(ta, tb)
        far = np.maximum(ta, tb, out=ta)
        enter = np.maximum(near.max(axis=0), F32(0))  # (T, P, R) first t >= 0 in all slabs
        hit = np.less_equal(enter, far.min(axis=0))
        hit &= _below(enter, stop)
    return hit  # a camera inside has enter = 0 <= leave: no special case needed


# ---------------------------------------------------------------------------------- cylinders
def prepare_cylinders(a: np.ndarray, b: np.ndarray, radius) -> Prepared:
    """Flat-capped cylinders of axis a-b (T, P, 3) (the cap centres), radius (P,) or (T, P)."""
    a = _components(a)  # (3, T, P)
    ba = _components(b) - a
    length = np.sqrt(_dot(ba, ba))
    axis = ba / length
    a_axis = _dot(a, axis)
    a_perp = a - a_axis * axis
    r2 = np.square(np.asarray(radius, np.float64))
    cyl_c = _dot(a_perp, a_perp) - r2
    inside = (cyl_c <= 0) & (a_axis <= 0) & (a_axis + length >= 0)
    return _prepared("cylinder", [axis, a_perp, _cross(a, axis)],
                     [cyl_c, a_axis, a_axis + length, r2], inside)


def cylinders_hit(w_t: np.ndarray, stop: np.ndarray, prep: Prepared) -> np.ndarray:
    """(T, P, R) bool: rays from the origin blocked by each flat-capped cylinder."""
    if prep.num_primitives == 0:
        return np.zeros((w_t.shape[0], 0, w_t.shape[2]), bool)
    dn, lat, wm = np.matmul(prep.cols, w_t)
    c, lo, hi, r2 = prep.rows
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # Infinite cylinder A t^2 - 2 B t + C <= 0 (as in capsules_hit) between the roots
        # C / (B + sq) and (B + sq) / A, sq = sqrt(A r^2 - (w.moment)^2). NaN enter (h < 0) is a
        # miss; NaN leave (A = 0, camera inside the infinite cylinder) means "never leaves" and
        # is ignored by fmin.
        quad_a = np.subtract(F32(1), dn * dn)
        sq = quad_a * r2
        sq -= wm * wm
        np.sqrt(sq, out=sq)
        sq += lat
        enter, leave = c / sq, sq / quad_a
        # Slab between the caps: t dn in [a.n, a.n + length]; dn = 0 gives infinite bounds.
        inv = np.divide(F32(1), dn)
        sa, sb = lo * inv, hi * inv
        np.maximum(enter, np.fmin(sa, sb), out=enter)
        np.maximum(enter, F32(0), out=enter)  # first t >= 0 inside both (NaN stays NaN)
        np.fmin(leave, np.fmax(sa, sb), out=leave)
        hit = np.less_equal(enter, leave)
        hit &= _below(enter, stop)
    return hit


# ------------------------------------------------------------------------------------- meshes
@dataclass(frozen=True, eq=False)
class PreparedMesh:
    """One MESH primitive: its object-frame bounds (for culling) and Plucker table (exact test).

    Attributes:
        triangles: (F, 3, 3) float64 corners in the object frame (scaled).
        table: :func:`~occpose.occlusion.raycast.primitives.plucker_table` of the triangles.
        bounds: a :class:`Prepared` box (the object-frame bounding box, padded) per frame.
        rotation, translation: (T, 3, 3), (T, 3) object-to-camera pose per frame.
    """

    triangles: np.ndarray
    table: tuple[np.ndarray, np.ndarray]
    bounds: Prepared
    rotation: np.ndarray
    translation: np.ndarray

    def __getitem__(self, frames) -> "PreparedMesh":
        return PreparedMesh(self.triangles, self.table, self.bounds[frames],
                            self.rotation[frames], self.translation[frames])


def mesh_table(triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 :func:`~occpose.occlusion.raycast.primitives.plucker_table` of object-frame triangles.

    float32 suffices: origins are metres from small meshes, and a ray's side of an edge is
    decided to ~1e-7 m.
    """
    from .primitives import plucker_table

    table, plane = plucker_table(triangles)
    return table.astype(F32), plane.astype(F32)


def prepare_mesh(triangles: np.ndarray, pose: np.ndarray, table=None) -> PreparedMesh:
    """A mesh of object-frame triangles (F, 3, 3) posed by (T, 4, 4) object-to-camera.

    ``table``: :func:`mesh_table` of the triangles, if already computed.
    """
    tri = np.asarray(triangles, np.float64)
    lo, hi = tri.min(axis=(0, 1)), tri.max(axis=(0, 1))
    centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo) * (1 + 1e-6) + 1e-6
    rot, trans = pose[:, :3, :3], pose[:, :3, 3]
    bounds = prepare_boxes(rot[:, None], (rot @ centre + trans)[:, None], half)
    return PreparedMesh(tri, mesh_table(tri) if table is None else table, bounds, rot, trans)


def mesh_hits(w_t: np.ndarray, stop: np.ndarray, prep: PreparedMesh,
              dirs: np.ndarray, cand: np.ndarray | None = None, crossed=None) -> np.ndarray:
    """(T, 1, R) bool: rays from the origin blocked by one mesh.

    Rays that meet the mesh's oriented bounding box are tested exactly (float64, all
    triangles) in the object frame; a camera centre inside the (watertight) mesh blocks all.

    Args:
        stop: (T, 1, R) :func:`stop_bits`; dirs: (T, 3, R) float64 unit directions (``w_t``).
        cand: ``boxes_hit(w_t, stop, prep.bounds)`` if already computed (the native kernels).
        crossed: a replacement of :func:`~.primitives.triangles_crossed` with the same bits
            (the native kernels'), or None.
    """
    from .primitives import points_in_triangles, triangles_crossed

    if cand is None:
        cand = boxes_hit(w_t, stop, prep.bounds)  # (T, 1, R)
    f, _, ray = np.nonzero(cand)
    if not len(f):
        return cand
    rot = prep.rotation
    origin = -np.einsum("tji,tj->ti", rot, prep.translation)  # camera centre, object frame
    d_loc = np.einsum("nji,nj->ni", rot[f], dirs[f, :, ray])
    t_stop = stop[f, 0, ray].view(F32).astype(np.float64)
    hit = (crossed or triangles_crossed)(origin[f], d_loc, t_stop, prep.table)
    maybe = np.flatnonzero(prep.bounds.inside[:, 0])  # camera inside the bounding box
    if len(maybe):
        inside = np.zeros(len(rot), bool)
        inside[maybe] = points_in_triangles(origin[maybe], prep.triangles)
        hit |= inside[f] & (t_stop > 0)
    out = np.zeros_like(cand)
    out[f, 0, ray] = hit
    return out


# ------------------------------------------------------------------------ exact distances
def capsule_distances(dirs: np.ndarray, a: np.ndarray, b: np.ndarray, radius) -> np.ndarray:
    """Entry distances (N,) float64 of rays from the origin into capsules, one per ray.

    The float64, distance-valued twin of :func:`capsules_hit` (same formulas) for the few rays
    whose first blocker must be known: dirs (N, 3) unit, a, b (N, 3), radius (N,).
    Equals :func:`~occpose.occlusion.raycast.primitives.ray_capsule` from the origin.
    """
    dirs, a, b = dirs.T, a.T, b.T  # component-first (3, N)
    ba = b - a
    length = np.sqrt(_dot(ba, ba))
    axis = ba / np.where(length > 0, length, 1.0)
    a_axis = _dot(a, axis)
    a_perp = a - a_axis * axis
    r2 = np.square(radius)
    cyl_c = _dot(a_perp, a_perp) - r2
    dn = _dot(dirs, axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        t1 = cyl_c / (_dot(dirs, a_perp)
                      + np.sqrt((1 - dn * dn) * r2 - np.square(_dot(dirs, _cross(a, axis)))))
        axial = t1 * dn - a_axis
        t = np.where((t1 >= 0) & (axial >= 0) & (axial < length), t1, np.inf)  # as capsules_hit
        for c in (a, b):
            wc = _dot(dirs, c)
            t_ball = wc - np.sqrt(r2 - (_dot(c, c) - wc * wc))
            t = np.where(t_ball >= 0, np.minimum(t, t_ball), t)
    inside = ((_dot(a, a) <= r2) | (_dot(b, b) <= r2)
              | ((cyl_c <= 0) & (a_axis <= 0) & (a_axis + length >= 0)))
    return np.where(inside, 0.0, t)
