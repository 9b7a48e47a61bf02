"""Ray, capsule and convex-solid geometry of the Blender labeller's culling (numpy only).

:mod:`blender_addon.labels` decides most (ray, object) pairs with these before casting any ray
into Blender's trees: bounding capsules of meshes and whether ray segments come within them
(closest points of two segments, clamped), ray entries into boxes and capsules, and the inner
shapes that a closed convex mesh certainly holds (:func:`solid_of`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def bounding_capsule(verts: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """A capsule holding every vertex (V, 3): axis along the longest bounding-box side, radius the
    largest vertex distance to the axis segment (tight for capsules, spheres and cylinders)."""
    verts = np.asarray(verts, np.float64)
    if not len(verts):
        return np.zeros(3), np.zeros(3), -1.0  # an empty mesh: never a candidate
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    centre, axis = 0.5 * (lo + hi), int(np.argmax(hi - lo))
    rel = verts - centre
    across = np.delete(rel, axis, axis=1)
    half = max(0.5 * (hi[axis] - lo[axis]) - float(np.sqrt((across * across).sum(1)).max()), 0.0)
    rel[:, axis] -= np.clip(rel[:, axis], -half, half)
    p0, p1 = centre.copy(), centre.copy()
    p0[axis] -= half
    p1[axis] += half
    return p0, p1, float(np.sqrt((rel * rel).sum(1)).max())


def segments_within(origin: np.ndarray, u: np.ndarray, length: np.ndarray, p0: np.ndarray,
                    p1: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """(R, O) bool: the ray segment origin + s u, s in [0, length] (u (R, 3) unit, length (R, O))
    comes within ``radius`` (O,) of the segment p0-p1 (O, 3), i.e. enters that capsule before
    ``length`` (closest points of two segments, clamped; Ericson, Real-Time Collision Detection
    5.1.9)."""
    d2 = p1 - p0  # (O, 3)
    w = origin - p0  # (O, 3)
    e = np.einsum("oi,oi->o", d2, d2)[None]  # (1, O)
    f = np.einsum("oi,oi->o", d2, w)[None]
    b = u @ d2.T  # (R, O), per unit ray length
    c = u @ w.T
    s, t = closest_parameters(e, f, b, c, np.maximum(length, 0.0))
    gap = (origin[None, None] + s[..., None] * u[:, None]) - (p0[None] + t[..., None] * d2[None])
    return np.einsum("roi,roi->ro", gap, gap) <= np.square(np.maximum(radius, 0.0))[None] * (radius >= 0)


def segments_within_pairs(origin: np.ndarray, u: np.ndarray, length: np.ndarray, p0: np.ndarray,
                          p1: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """:func:`segments_within` for N (ray, capsule) pairs: u, p0, p1 (N, 3), length and radius
    (N,) -> (N,) bool."""
    d2 = p1 - p0
    w = origin - p0
    e = np.einsum("ni,ni->n", d2, d2)
    f = np.einsum("ni,ni->n", d2, w)
    b = np.einsum("ni,ni->n", u, d2)
    c = np.einsum("ni,ni->n", u, w)
    s, t = closest_parameters(e, f, b, c, np.maximum(length, 0.0))
    gap = (origin + s[:, None] * u) - (p0 + t[:, None] * d2)
    return np.einsum("ni,ni->n", gap, gap) <= np.square(np.maximum(radius, 0.0)) * (radius >= 0)


def closest_parameters(e, f, b, c, length):
    """Parameters (s along the ray, clamped to [0, length]; t along the segment, clamped to
    [0, 1]) of the closest points of rays and segments, from the dot products of
    :func:`segments_within` (any broadcastable shapes)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        point = np.asarray(e) <= 0  # the segment is a point (a ball)
        some = point.any()
        denom = e - b * b
        s = np.where(denom > 1e-12 * np.maximum(e, 1e-30), (b * f - c * e) / denom, 0.0)
        if some:
            s = np.where(point, -c, s)
        s = np.minimum(np.maximum(s, 0.0), length)
        t = (b * s + f) / e
        if some:
            t = np.where(point, 0.0, t)
        s = np.where(t < 0, np.minimum(np.maximum(-c, 0.0), length), s)
        s = np.where(t > 1, np.minimum(np.maximum(b - c, 0.0), length), s)
        t = np.minimum(np.maximum(t, 0.0), 1.0)
    return s, t


def segments_within_frames(origin: np.ndarray, u: np.ndarray, length: np.ndarray, p0: np.ndarray,
                           p1: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """:func:`segments_within` for F frames at once: u (F, R, 3), length (F, R), p0 and p1
    (F, O, 3), radius (F, R, O) -> (F, R, O) bool."""
    d2 = p1 - p0  # (F, O, 3)
    w = origin - p0
    e = np.einsum("foi,foi->fo", d2, d2)[:, None]  # (F, 1, O)
    f = np.einsum("foi,foi->fo", d2, w)[:, None]
    b = u @ d2.transpose(0, 2, 1)  # (F, R, O)
    c = u @ w.transpose(0, 2, 1)
    s, t = closest_parameters(e, f, b, c, np.maximum(length, 0.0)[..., None])
    gap = (origin + s[..., None] * u[:, :, None]) - (p0[:, None] + t[..., None] * d2[:, None])
    return np.einsum("froi,froi->fro", gap, gap) <= np.square(np.maximum(radius, 0.0)) * (radius >= 0)


STRETCH_MIN, STRETCH_MAX = 1e-6, 100.0  # stretch key values certified (see solid_of)


@dataclass(frozen=True, eq=False)
class Solid:
    """What a blocker's closed convex mesh certainly holds, in its object frame: an inner box
    (``box``, or None) and an inner capsule of radius ``rho`` (<= 0: none) whose axis runs from
    ``a0`` to ``a1``, or, for a stretch shape key (``t`` not None), to ``a0 + w t`` at key value w
    (in [STRETCH_MIN, STRETCH_MAX]); and an outer capsule, every vertex within ``radius`` of the
    axis ``b0``-``b1`` (stretch: the inner one's). A ray from outside the mesh that enters an
    inner shape before its stopping distance certainly hits the mesh no later than that entry
    (see :func:`solid_of`); one that does not come within the outer radius does not hit it."""

    box: tuple | None
    a0: np.ndarray
    a1: np.ndarray
    rho: float
    radius: float  # every vertex lies within it of the outer axis b0-b1 (stretch: a0-a0 + w t)
    b0: np.ndarray | None = None
    b1: np.ndarray | None = None
    t: np.ndarray | None = None


def slab(origin: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit parameters (N,) of rays origin + s d (N, 3) through boxes lo-hi (N, 3)
    (entry > exit: a miss)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        t1 = (lo - origin) / d
        t2 = (hi - origin) / d
    parallel = d == 0
    inside = (origin >= lo) & (origin <= hi)
    t_in = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2)).max(axis=1)
    t_out = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2)).min(axis=1)
    return t_in, t_out


def ray_axis(rel: np.ndarray, u: np.ndarray, axis: np.ndarray, ee: np.ndarray,
              reach: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The closest points of rays (camera centre ``rel`` relative to the axis start, unit
    direction u, up to ``reach``) and axis segments (N, 3), ee = axis . axis: the axis point
    relative to the camera centre (N, 3), the squared distance (N,) and the ray parameter."""
    s, t = closest_parameters(ee, np.einsum("ni,ni->n", axis, rel), np.einsum("ni,ni->n", u, axis),
                               np.einsum("ni,ni->n", u, rel), reach)
    a_rel = t[:, None] * axis - rel
    gap = s[:, None] * u - a_rel
    return a_rel, np.einsum("ni,ni->n", gap, gap), s


def capsule_entry(rel: np.ndarray, u: np.ndarray, axis: np.ndarray, ee: np.ndarray,
                   radius: np.ndarray) -> np.ndarray:
    """(N,) a lower bound of where rays (camera centre ``rel`` relative to the axis start, unit
    direction u) enter capsules (axis (N, 3), ee = axis . axis, radius): the nearer entry into
    the two end balls and the infinite cylinder, which hold the capsule (inf: no entry)."""
    r2 = radius * radius
    out = np.full(len(rel), np.inf)
    for end in (0.0, 1.0):
        c = rel - end * axis  # the camera centre relative to the ball's centre
        proj = -np.einsum("ni,ni->n", c, u)
        d2 = np.maximum(np.einsum("ni,ni->n", c, c) - proj * proj, 0.0)
        with np.errstate(invalid="ignore"):
            out = np.minimum(out, np.where(d2 <= r2, proj - np.sqrt(r2 - d2), np.inf))
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = axis / np.sqrt(np.where(ee > 0, ee, 1.0))[:, None]
        ua, wa = np.einsum("ni,ni->n", u, unit), np.einsum("ni,ni->n", rel, unit)
        a = 1.0 - ua * ua
        b = np.einsum("ni,ni->n", rel, u) - wa * ua
        c = np.einsum("ni,ni->n", rel, rel) - wa * wa - r2
        disc = b * b - a * c
        cyl = np.where(disc >= 0, (-b - np.sqrt(np.maximum(disc, 0.0))) / a, np.inf)
        cyl = np.where(a > 1e-12, cyl, np.where(c <= 0, -np.inf, np.inf))  # along the axis
    return np.minimum(out, np.where(ee > 0, cyl, np.inf))


def _face_planes(verts: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Winding normals (F, 3) (unnormalised: twice the area) and first corners (F, 3)."""
    p = verts[tris[:, 0]]
    return np.cross(verts[tris[:, 1]] - p, verts[tris[:, 2]] - p), p


def _farthest(unit: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """(F,) the largest unit[f] . v over the vertices, in float32 (within ~1e-6 of the vertices'
    extent), 128 faces at a time (the products stay in cache)."""
    u32, v32 = unit.astype(np.float32), np.ascontiguousarray(verts.T, np.float32)
    return np.concatenate([(u32[i:i + 128] @ v32).max(axis=1) for i in range(0, len(u32), 128)])


def solid_of(verts: np.ndarray, tris: np.ndarray, offset: np.ndarray | None = None) -> "Solid | None":
    """The inner box and capsule of a mesh (V, 3) with loop triangles (F, 3) that is a closed,
    consistently wound, convex surface, or None (no certificate: its rays are cast).

    The surface is closed (every directed edge once, its reverse once) and every non-degenerate
    face's plane has all vertices on its inner side (the winding normals all point out, or all
    in): the faces then tile the boundary of the convex hull, so a shape on the inner side of
    every face plane lies inside, and a segment from outside into it crosses a face.

    ``offset`` (V, 3): a stretch shape key, the mesh at key value w being verts + w offset, where
    offset is a common vector t on some vertices (H, the rest L) and 0 on the others (the body's
    capsules): certified for w in [STRETCH_MIN, STRETCH_MAX] when the basis is convex as above,
    the faces of L face away from t (n.t <= 0), those of H towards it, and the mixed faces (at
    w = 1) are parallel to t and non-degenerate for every w > 0 (their area grows with w). Then
    every vertex stays inside every plane as w grows (H moves along t away from L's planes, along
    the mixed planes), and the capsule from c to c + w t keeps its distance to every plane (c:
    the basis's bounding-box centre), as does the outer one (every vertex within its distance to
    c, or to c + w t for H).

    A closed mesh that is not convex, has several keys or other offsets, gets None: its pairs
    are cast (as are those of meshes without a certificate: re-read meshes, rigged ones)."""
    v = np.asarray(verts, np.float64)
    tris = np.asarray(tris, np.int64).reshape(-1, 3)
    n_v = len(v)
    if len(tris) < 4 or n_v < 4 or not np.isfinite(v).all():
        return None
    a, b, c = tris.T
    fwd = np.concatenate([a * n_v + b, b * n_v + c, c * n_v + a])
    rev = np.concatenate([b * n_v + a, c * n_v + b, a * n_v + c])
    fwd.sort()
    rev.sort()
    if (fwd[1:] == fwd[:-1]).any() or not np.array_equal(fwd, rev):
        return None
    extent = max(float(np.abs(v).max()), 1e-3)
    # float32 vertices (coplanar corners off their planes by ~1e-7 extent), checked in float32
    # (_farthest): a vertex passing the check lies within 3 eps of the inner side of each plane
    eps = 1e-6 * extent
    if offset is None:
        n, p = _face_planes(v, tris)
        moving = None
        groups = [(n, p, v)]
    else:
        off = np.asarray(offset, np.float64)
        moving = np.abs(off).max(axis=1) > 0
        if not moving.any() or moving.all():
            return None
        t = off[moving].mean(axis=0)
        if np.abs(off[moving] - t).max() > 1e-6 * max(float(np.sqrt(t @ t)), 1e-3):
            return None
        m = moving[tris]
        rigid = m.all(axis=1) | ~m.any(axis=1)
        n, p = _face_planes(v, tris[rigid])  # L and H faces: at the basis
        mixed = tris[~rigid]
        n0, _ = _face_planes(v, mixed)
        n1, p1 = _face_planes(v + off, mixed)  # mixed faces at w = 1
        grow = n1 - n0  # the mixed faces' normals are n0 + w grow
        if (np.einsum("fi,fi->f", n0, grow) < -STRETCH_MIN * np.einsum("fi,fi->f", grow, grow)).any():
            return None  # the face degenerates at some w >= STRETCH_MIN
        groups = [(n, p, v), (n1, p1, v + off)]
    # the winding's side: outward if the signed volume is positive (then every vertex must lie
    # on the negative side of every face plane), else inward
    volume = float(np.einsum("fi,fi->", v[a], np.cross(v[b], v[c])))
    if abs(volume) <= 1e-9 * extent ** 3:
        return None
    flip = 1.0 if volume > 0 else -1.0
    units, offsets, solid_faces, faces = [], [], [], 0
    for n, p, at in groups:
        size = np.sqrt(np.einsum("fi,fi->f", n, n))
        real = size > 1e-10 * extent * extent  # degenerate faces: no plane, no area
        unit = (flip / size[real])[:, None] * n[real]
        d = np.einsum("fi,fi->f", unit, p[real])
        if len(d) and (_farthest(unit, at) - d > eps).any():
            return None  # not convex, or not consistently wound
        units.append(unit)
        offsets.append(d)
        solid_faces.append(real)
        faces += len(d)
    if faces < 4:
        return None
    lo_b, hi_b = v.min(axis=0), v.max(axis=0)
    if offset is None:
        unit, d = units[0], offsets[0]
        corners = np.array([[(lo_b, hi_b)[(i >> k) & 1][k] for k in range(3)] for i in range(8)])
        box = None  # the box itself (its corners on the planes), 3 eps inside them
        if ((unit @ corners.T).max(axis=1) - d <= eps).all() and (hi_b - lo_b > 6 * eps).all():
            box = (lo_b + 3 * eps, hi_b - 3 * eps)
        a0, a1, radius = bounding_capsule(v)
        rho = float(np.minimum(d - unit @ a0, d - unit @ a1).min())
        # the outer capsule: this one, or the whole box side's axis with the vertices' largest
        # distance to it (tight for flat-capped cylinders), whichever is smaller
        axis = int(np.argmax(hi_b - lo_b))
        b0, b1 = 0.5 * (lo_b + hi_b), 0.5 * (lo_b + hi_b)
        b0[axis], b1[axis] = lo_b[axis], hi_b[axis]
        across = np.delete(v - b0, axis, axis=1)
        wide = float(np.sqrt((across * across).sum(axis=1).max()))
        if wide * wide * (hi_b[axis] - lo_b[axis] + 4 / 3 * wide) >= radius * radius * (
                float(np.sqrt(((a1 - a0) ** 2).sum())) + 4 / 3 * radius):
            b0, b1, wide = a0, a1, radius
        return Solid(box, a0, a1, rho - 3 * eps, wide + 3 * eps, b0, b1)
    unit, d = units[0], offsets[0]
    length = float(np.sqrt(t @ t))
    dots = unit @ t
    fixed_face = ~moving[tris[rigid][solid_faces[0], 0]]
    if (dots[fixed_face] > 1e-7 * length).any() or (dots[~fixed_face] < -1e-7 * length).any():
        return None  # (a tilt of 1e-7 lets H out of L's planes by 1e-5 t at w = 100: rho below)
    if np.abs(units[1] @ t).max(initial=0.0) > 1e-7 * length:
        return None  # a mixed face not parallel to t (likewise)
    centre = 0.5 * (lo_b + hi_b)
    rho = min(float((d - unit @ centre).min()), float((offsets[1] - units[1] @ centre).min(initial=np.inf)))
    # L stays within its distance to c of the axis, H (moved by w t) within its distance to c + w t
    radius = float(np.sqrt(((v - centre) ** 2).sum(axis=1).max()))
    return Solid(None, centre, centre, rho - 3 * eps - 1e-7 * STRETCH_MAX * length, radius + 3 * eps, t=t)
