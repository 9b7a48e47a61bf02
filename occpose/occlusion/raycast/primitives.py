"""Ray-primitive intersection kernels (numpy, float64, vectorised by broadcasting).

Every kernel takes ray ``origins`` (..., 3) and ``dirs`` (..., 3) plus primitive parameters that
broadcast against them, and returns ``t`` (...) float64: the distance in metres from the origin
to the FIRST point of the solid along the ray within ``[0, t_max]``, or ``+inf`` when the ray
misses it in that range. Conventions shared by all kernels:

* Directions need not be unit length: they are normalised, so ``t`` is always a Euclidean
  distance. A zero direction raises ``ValueError``.
* Solids are closed sets: a tangent ray touches them (a hit at the tangent point), and a ray
  whose origin lies inside (or on) a solid hits at ``t = 0``.
* Primitives behind the origin are missed; rays parallel to a cylinder/capsule axis or to box
  faces are handled exactly (no division by zero reaches the result).

These are the reference kernels (tests, the Blender cross-check, exact first-hit distances). The
visibility labeller's hot path uses the float32 kernels of :mod:`.camera_rays`, specialised to
rays cast from the camera centre.
"""

from __future__ import annotations

import numpy as np

from ..occluders.geometry import BOX, CAPSULE, CYLINDER, SPHERE, OccluderSet

_PARALLEL = 1e-18  # squared sine below which a ray counts as parallel to an axis / a plane
_GENERIC = np.array([[0.5773, 0.5774, 0.5779], [-0.6228, 0.4163, 0.6624],
                     [0.2113, -0.8612, 0.4622]])
PARITY_DIRECTIONS = _GENERIC / np.linalg.norm(_GENERIC, axis=1, keepdims=True)  # inside tests


def normalize_rays(origins, dirs) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast origins and dirs (..., 3) to float64 and make the directions unit length."""
    o = np.asarray(origins, dtype=np.float64)
    d = np.asarray(dirs, dtype=np.float64)
    o, d = np.broadcast_arrays(o, d)
    norm = np.linalg.norm(d, axis=-1, keepdims=True)
    if (norm == 0).any() or not np.isfinite(norm).all():
        raise ValueError("ray directions must be finite and non-zero")
    return o, d / norm


def _entry(t0, t1, t_max) -> np.ndarray:
    """First distance of the closed interval [t0, t1] inside [0, t_max], +inf when empty."""
    t = np.maximum(t0, 0.0)
    hit = (t0 <= t1) & (t1 >= 0.0) & (t <= t_max)
    return np.where(hit, t, np.inf)


def _dot(x, y) -> np.ndarray:
    return np.einsum("...i,...i->...", x, y)


def _sphere_interval(o, d, centre, radius):
    """Ray parameters (t0, t1) where a unit-direction ray is in a ball ((inf, -inf) if never)."""
    oc = o - centre
    b = _dot(oc, d)
    c = _dot(oc, oc) - np.square(radius)
    h = b * b - c
    with np.errstate(invalid="ignore"):
        s = np.sqrt(h)
    miss = h < 0
    return np.where(miss, np.inf, -b - s), np.where(miss, -np.inf, -b + s)


def _slab_interval(y0, dy, lo, hi):
    """Ray parameters where y0 + t dy lies in [lo, hi] (all t or none when dy is ~0)."""
    parallel = np.abs(dy) <= np.sqrt(_PARALLEL)
    with np.errstate(divide="ignore", invalid="ignore"):
        ta, tb = (lo - y0) / dy, (hi - y0) / dy
    inside = (y0 >= lo) & (y0 <= hi)
    t0 = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(ta, tb))
    t1 = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(ta, tb))
    return t0, t1


def _cylinder_intervals(o, d, a, b, radius):
    """Intervals of the infinite cylinder around line ab and of the slab between its caps."""
    ba = b - a
    length = np.sqrt(_dot(ba, ba))
    with np.errstate(invalid="ignore", divide="ignore"):
        n = ba / length[..., None]
    oc = o - a
    dn, on = _dot(d, n), _dot(oc, n)
    d_perp = d - dn[..., None] * n
    o_perp = oc - on[..., None] * n
    qa = _dot(d_perp, d_perp)
    qb = _dot(d_perp, o_perp)
    qc = _dot(o_perp, o_perp) - np.square(radius)
    h = qb * qb - qa * qc
    parallel = qa <= _PARALLEL
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sqrt(h)
        r0, r1 = (-qb - s) / qa, (-qb + s) / qa
    miss = (h < 0) & ~parallel
    c0 = np.where(parallel, np.where(qc <= 0, -np.inf, np.inf), np.where(miss, np.inf, r0))
    c1 = np.where(parallel, np.where(qc <= 0, np.inf, -np.inf), np.where(miss, -np.inf, r1))
    s0, s1 = _slab_interval(on, dn, 0.0, length)
    degenerate = ~(length > 0)
    return np.where(degenerate, np.inf, c0), np.where(degenerate, -np.inf, c1), s0, s1


def ray_sphere(origins, dirs, centre, radius, t_max=np.inf) -> np.ndarray:
    """Entry distance into the ball ``|x - centre| <= radius`` (see module conventions)."""
    o, d = normalize_rays(origins, dirs)
    t0, t1 = _sphere_interval(o, d, np.asarray(centre, np.float64), np.asarray(radius, np.float64))
    return _entry(t0, t1, t_max)


def ray_cylinder(origins, dirs, a, b, radius, t_max=np.inf) -> np.ndarray:
    """Entry distance into the flat-capped cylinder of axis segment a-b (..., 3) and radius."""
    o, d = normalize_rays(origins, dirs)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    c0, c1, s0, s1 = _cylinder_intervals(o, d, a, b, np.asarray(radius, np.float64))
    return _entry(np.maximum(c0, s0), np.minimum(c1, s1), t_max)


def ray_capsule(origins, dirs, a, b, radius, t_max=np.inf) -> np.ndarray:
    """Entry distance into the capsule: points within ``radius`` of segment a-b (..., 3).

    The capsule is the union of the flat-capped cylinder a-b and the balls at a and b, so its
    entry distance is the smallest entry distance of the three (a zero-length segment is a ball).
    """
    o, d = normalize_rays(origins, dirs)
    a, b, r = (np.asarray(v, np.float64) for v in (a, b, radius))
    c0, c1, s0, s1 = _cylinder_intervals(o, d, a, b, r)
    t = _entry(np.maximum(c0, s0), np.minimum(c1, s1), t_max)
    for centre in (a, b):
        t = np.minimum(t, _entry(*_sphere_interval(o, d, centre, r), t_max))
    return t


def ray_box(origins, dirs, rotation, centre, half_extents, t_max=np.inf) -> np.ndarray:
    """Entry distance into an oriented box (slab test in the box frame).

    Args:
        rotation: (..., 3, 3) box-to-world rotation (columns are the box axes).
        centre: (..., 3) box centre; half_extents: (..., 3) half sizes along the box axes.
    """
    o, d = normalize_rays(origins, dirs)
    rot = np.asarray(rotation, np.float64)
    half = np.asarray(half_extents, np.float64)
    o_loc = np.einsum("...ji,...j->...i", rot, o - np.asarray(centre, np.float64))
    d_loc = np.einsum("...ji,...j->...i", rot, d)
    o_loc, d_loc, half = np.broadcast_arrays(o_loc, d_loc, half)
    t0, t1 = _slab_interval(o_loc, d_loc, -half, half)  # (..., 3)
    return _entry(t0.max(axis=-1), t1.min(axis=-1), t_max)


def ray_triangles(origins, dirs, triangles, t_max=np.inf, solid=True,
                  chunk: int = 1 << 21) -> np.ndarray:
    """Entry distance into a triangle mesh, brute force over all triangles (numpy).

    Args:
        origins, dirs: (N, 3) rays in the mesh's frame.
        triangles: (F, 3, 3) corners.
        solid: treat the mesh as a closed solid, so origins inside it hit at t = 0 (parity of
            crossings along fixed generic directions; needs a watertight mesh).
        chunk: maximum number of ray-triangle pairs evaluated at once.
    Returns:
        (N,) float64 distance of the first surface crossing in [0, t_max], +inf on a miss.
    """
    o, d = normalize_rays(origins, dirs)
    o, d = o.reshape(-1, 3), d.reshape(-1, 3)
    tri = np.asarray(triangles, np.float64).reshape(-1, 3, 3)
    t_max = np.broadcast_to(np.asarray(t_max, np.float64), o.shape[:1])
    out = np.full(len(o), np.inf)
    step = max(1, chunk // max(len(tri), 1))
    if len(tri):
        table = plucker_table(tri)
        for s in range(0, len(o), step):
            t = triangle_distances(o[s:s + step], d[s:s + step], tri, table).min(axis=1)
            out[s:s + step] = np.where(t <= t_max[s:s + step], t, np.inf)
    if solid and len(o):
        out = np.where(points_in_triangles(o, tri), 0.0, out)
    return out


def plucker_table(triangles) -> tuple[np.ndarray, np.ndarray]:
    """Per-triangle constants of the Plucker ray-triangle test.

    Returns:
        table: (9, 5 F) float64; rays as rows (d, o x d, o) (N, 9) times ``table`` give, per
        triangle, the permuted inner products with its three directed edges, n.d and n.o.
        plane: (F,) n . v0, so a ray meets the triangle's plane at t = (plane - n.o) / n.d.
    """
    tri = np.asarray(triangles, np.float64).reshape(-1, 3, 3)
    n_f = len(tri)
    edge = np.roll(tri, -1, axis=1) - tri  # (F, 3 edges, 3): corner i -> corner i+1
    normal = np.cross(edge[:, 0], -edge[:, 2])  # (F, 3)
    table = np.zeros((9, 5, n_f))
    table[:3, :3] = np.cross(tri, edge).transpose(2, 1, 0)  # d . (p x e)
    table[3:6, :3] = edge.transpose(2, 1, 0)  # (o x d) . e
    table[:3, 3] = normal.T  # n . d
    table[6:, 4] = normal.T  # n . o
    return table.reshape(9, 5 * n_f), _dot(normal, tri[:, 0])


def _plucker(o, d, table, plane):
    """Per (ray, triangle): crossing flag (closed triangle, ray not in its plane) and t."""
    n_f = len(plane)
    rays = np.concatenate([d, np.cross(o, d), o], axis=1).astype(table.dtype)
    prod = _blocked_matmul(rays, table)  # (N, 5F)
    s0, s1, s2 = prod[:, :n_f], prod[:, n_f:2 * n_f], prod[:, 2 * n_f:3 * n_f]
    lo = np.minimum(np.minimum(s0, s1), s2)
    hi = np.maximum(np.maximum(s0, s1), s2)
    nd = prod[:, 3 * n_f:4 * n_f]
    crosses = ((lo >= 0) | (hi <= 0)) & (nd != 0)  # all three edge products share a sign
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (plane - prod[:, 4 * n_f:]) / nd
    return crosses, t


def _blocked_matmul(x: np.ndarray, y: np.ndarray, rows: int = 32) -> np.ndarray:
    """x @ y as a stack of small products, which keeps OpenBLAS from spinning up threads."""
    pad = (-len(x)) % rows
    if pad:
        x = np.concatenate([x, np.zeros((pad, x.shape[1]), x.dtype)])
    return (x.reshape(-1, rows, x.shape[1]) @ y).reshape(-1, y.shape[1])[:len(x) - pad]


def triangle_distances(o: np.ndarray, d: np.ndarray, tri: np.ndarray, table=None) -> np.ndarray:
    """(N, F) distances t >= 0 where rays o + t d (N, 3) cross triangles (F, 3, 3), +inf if not.

    Plucker-coordinate form of the Moller-Trumbore test: a ray passes through a triangle when
    its permuted inner products with the three directed edges share a sign (a zero counts, so
    triangles are closed), and t follows from the triangle's plane. All pair products come from
    one (N, 9) @ (9, 5F) matmul (``table`` from :func:`plucker_table`, computed if not given).
    """
    table = plucker_table(tri) if table is None else table
    crosses, t = _plucker(o, d, *table)
    return np.where(crosses & (t >= 0), t, np.inf)


def triangles_crossed(o: np.ndarray, d: np.ndarray, t_stop: np.ndarray, table) -> np.ndarray:
    """(N,) bool: ray o + t d crosses some triangle at t in [0, t_stop) (``plucker_table``)."""
    crosses, t = _plucker(o, d, *table)
    crosses &= t >= 0
    crosses &= t < np.asarray(t_stop)[:, None]
    return crosses.any(axis=1)


def points_in_triangles(points, triangles) -> np.ndarray:
    """(N,) bool: points inside a closed triangle mesh (majority of three parity ray tests).

    Each distinct point is tested once (rays from one camera share their origin)."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    tri = np.asarray(triangles, np.float64).reshape(-1, 3, 3)
    if len(pts) > 1:
        distinct, back = np.unique(pts, axis=0, return_inverse=True)
        if len(distinct) < len(pts):
            return points_in_triangles(distinct, tri)[back.reshape(-1)]
    votes = np.zeros(len(pts), np.int64)
    if not len(tri):
        return votes > 0
    lo, hi = tri.min(axis=(0, 1)), tri.max(axis=(0, 1))
    check = np.flatnonzero(((pts >= lo) & (pts <= hi)).all(axis=1))  # outside the bounds: out
    step = max(1, (1 << 21) // len(tri))
    table = plucker_table(tri)
    for direction in PARITY_DIRECTIONS:
        for s in range(0, len(check), step):
            idx = check[s:s + step]
            t = triangle_distances(pts[idx], np.broadcast_to(direction, (len(idx), 3)), tri, table)
            votes[idx] += np.isfinite(t).sum(axis=1) % 2
    return votes >= 2


NUMPY_MESH_PAIRS = 5e7  # ray_mesh's "auto": the numpy engine up to this many ray-face pairs


def ray_mesh(origins, dirs, vertices, faces, t_max=np.inf, engine: str = "auto",
             solid: bool = True) -> np.ndarray:
    """Entry distance into a triangle mesh given in the rays' frame.

    Args:
        origins, dirs: (N, 3) rays; vertices (V, 3), faces (F, 3) the mesh in the same frame.
        engine: ``"trimesh"`` (rtree broad phase, good for large meshes), ``"numpy"``
            (:func:`ray_triangles`, good for small meshes) or ``"auto"`` (numpy when
            rays x faces <= :data:`NUMPY_MESH_PAIRS`).
        solid: origins inside the (watertight) mesh hit at t = 0.
    """
    o, d = normalize_rays(origins, dirs)
    o, d = o.reshape(-1, 3), d.reshape(-1, 3)
    vertices = np.asarray(vertices, np.float64)
    faces = np.asarray(faces, np.int64)
    if engine == "auto":
        engine = "numpy" if len(o) * len(faces) <= NUMPY_MESH_PAIRS else "trimesh"
    if engine == "numpy":
        return ray_triangles(o, d, vertices[faces], t_max, solid=solid)
    if engine != "trimesh":
        raise ValueError(f"unknown mesh ray engine {engine!r}; expected auto, numpy or trimesh")
    import trimesh  # lazy: optional dependency

    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    out = np.full(len(o), np.inf)
    if len(o):
        _, index_ray, loc = mesh.ray.intersects_id(o, d, multiple_hits=False,
                                                   return_locations=True)
        if len(index_ray):
            out[index_ray] = np.maximum(_dot(loc - o[index_ray], d[index_ray]), 0.0)
        out = np.where(out <= np.broadcast_to(t_max, out.shape), out, np.inf)
        if solid:
            out = np.where(points_in_triangles(o, mesh.triangles), 0.0, out)
    return out


def capsule_endpoints(pose, half_length) -> tuple[np.ndarray, np.ndarray]:
    """Ends (..., 3) of the local-z axis segment [-h, h] of CAPSULE/CYLINDER poses (..., 4, 4)."""
    axis = pose[..., :3, 2] * np.asarray(half_length)[..., None]
    return pose[..., :3, 3] - axis, pose[..., :3, 3] + axis


def ray_occluders(origins, dirs, occluders: OccluderSet, frames=None, t_max=np.inf,
                  mesh_engine: str = "auto") -> np.ndarray:
    """Entry distance of rays into every primitive of an occluder set.

    Args:
        origins, dirs: rays in the set's frame, either (T, N, 3) with one batch of N rays per
            frame (``frames=None``, T = ``occluders.n_frames``), or (N, 3) with ``frames`` (N,)
            giving each ray's frame index.
        t_max: broadcastable to the result.
    Returns:
        (T, N, O) or (N, O) float64 distances (+inf where a primitive is missed).
    """
    o, d = normalize_rays(origins, dirs)
    if frames is None:
        o = np.broadcast_to(o, (occluders.n_frames,) + o.shape[-2:])
        d = np.broadcast_to(d, o.shape)
    out = np.full(o.shape[:-1] + (occluders.num_primitives,), np.inf)
    t_max = np.broadcast_to(np.asarray(t_max, np.float64), out.shape)
    for i in range(occluders.num_primitives):
        out[..., i] = ray_primitive(o, d, occluders, i, frames, t_max[..., i], mesh_engine)
    return out


def ray_primitive(origins, dirs, occluders: OccluderSet, i: int, frames=None, t_max=np.inf,
                  mesh_engine: str = "auto") -> np.ndarray:
    """Entry distance of rays into primitive ``i`` of an occluder set.

    Rays as in :func:`ray_occluders`; returns (T, N) or (N,) float64.
    """
    o, d = normalize_rays(origins, dirs)
    if frames is None:
        pose = occluders.pose[:, i, None]  # (T, 1, 4, 4) against (T, N, 3) rays
    else:
        pose = occluders.pose[np.asarray(frames, np.int64), i]  # (N, 4, 4)
    size, code = occluders.size[i], int(occluders.shape[i])
    if code == BOX:
        return ray_box(o, d, pose[..., :3, :3], pose[..., :3, 3], size, t_max)
    if code == SPHERE:
        return ray_sphere(o, d, pose[..., :3, 3], size[0], t_max)
    if code in (CAPSULE, CYLINDER):
        a, b = capsule_endpoints(pose, size[2])
        return (ray_capsule if code == CAPSULE else ray_cylinder)(o, d, a, b, size[0], t_max)
    rot = pose[..., :3, :3]
    o_loc = np.einsum("...ji,...j->...i", rot, o - pose[..., :3, 3])
    d_loc = np.einsum("...ji,...j->...i", rot, d)
    o_loc, d_loc = np.broadcast_arrays(o_loc, d_loc)
    mesh = occluders.meshes[int(occluders.mesh_index[i])]
    t_max = np.broadcast_to(np.asarray(t_max, np.float64), o_loc.shape[:-1])
    t = ray_mesh(o_loc.reshape(-1, 3), d_loc.reshape(-1, 3), occluders.mesh_vertices(i),
                 mesh.faces, t_max.reshape(-1), engine=mesh_engine)
    return t.reshape(o_loc.shape[:-1])
