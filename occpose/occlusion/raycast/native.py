"""The numpy backend's hot path in C: the float32 blocked-ray tests of :mod:`.camera_rays`,
the ray set-up, the body's preparation and its exact first-hit distances, bit for bit.

``_rays.c`` is plain C (no Python API) built by ``pip install`` when a C compiler is present
(``setup.py``; the build is optional) and loaded here with ctypes, which releases the GIL
during each call. A build from another version of ``_rays.c`` (sources updated, not rebuilt)
is not loaded. Without it -- or with ``OCCPOSE_NATIVE=0`` in the environment -- the numpy
backend runs its numpy code, which gives the same labels:

* the numpy kernels' dot products come from OpenBLAS's float32 matrix product, which on the
  reference kernels (AVX-512, :mod:`occpose._openblas`) is the fused chain
  fma(c2, w2, fma(c1, w1, c0 w0)); the C code computes exactly that chain with ``fmaf``, so its
  labels are also the reference ones on processors whose OpenBLAS kernels round otherwise;
* every other operation is the same IEEE float32 or float64 operation in the same order.

``tests/test_native_rays.py`` compares the two on random and degenerate scenes byte for byte;
``benchmark/bench_visibility.py --kernels both`` times them.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from .camera_rays import Prepared

# kind -> (code in _rays.c, prepared vectors C, prepared scalars Q, camera-inside rule)
KINDS = {"lateral": (0, 3, 4, True), "capsule": (1, 9, 4, True), "ball": (2, 3, 1, True),
         "box": (3, 3, 6, False), "cylinder": (4, 3, 4, False)}
_F32P = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
_F64P = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
_U8P = np.ctypeslib.ndpointer(np.uint8, flags="C_CONTIGUOUS")


def _nullable(pointer_type):
    """An argtype accepting None (NULL) as well as arrays."""
    class Nullable(pointer_type):  # type: ignore[misc, valid-type]
        @classmethod
        def from_param(cls, obj):
            return None if obj is None else pointer_type.from_param(obj)
    return Nullable


def _load(here: Path = Path(__file__).parent):
    """The built library in ``here``, or None (not built, switched off, or stale)."""
    if os.environ.get("OCCPOSE_NATIVE", "1") == "0":
        return None
    source = here / "_rays.c"  # present in a source checkout, not in a wheel
    want = hashlib.sha256(source.read_bytes()).hexdigest() if source.is_file() else None
    for path in sorted(here.glob("_rays*.so")) + sorted(here.glob("_rays*.pyd")):
        try:
            lib = ctypes.CDLL(str(path))
            lib.occ_source_sha256.restype = ctypes.c_char_p
            built = lib.occ_source_sha256().decode()
        except (OSError, AttributeError):
            continue
        if want is not None and built != want:
            warnings.warn(f"occpose: {path.name} was built from another version of _rays.c; "
                          "using the numpy ray kernels (rebuild: pip install -e .)",
                          RuntimeWarning, stacklevel=2)
            continue
        lib.occ_hits.argtypes = [ctypes.c_int] * 4 + [
            _F32P, _F32P, _nullable(_F32P), ctypes.c_float, _F32P, _F32P, _nullable(_F32P),
            _nullable(_U8P), _U8P, _nullable(_U8P)]
        lib.occ_hits.restype = ctypes.c_int
        lib.occ_targets.argtypes = [ctypes.c_int] * 3 + [_F64P] * 5 + [_F32P, _F32P]
        lib.occ_targets.restype = None
        i64 = np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS")
        lib.occ_first_body.argtypes = ([ctypes.c_int, ctypes.c_long, ctypes.c_int, ctypes.c_int]
                                       + [_F64P] * 2 + [i64] * 4 + [_F64P] * 5)
        lib.occ_first_body.restype = None
        lib.occ_mesh_crossed.argtypes = [ctypes.c_int] * 2 + [_F64P] * 3 + [_F32P] * 2 + [_U8P]
        lib.occ_mesh_crossed.restype = None
        lib.occ_prepare_capsules.argtypes = [ctypes.c_int] * 2 + [_F64P] * 3 + [_F32P] * 2 + [_U8P]
        lib.occ_prepare_capsules.restype = None
        lib.occ_prepare_balls.argtypes = [ctypes.c_int] * 2 + [_F64P] * 2 + [_F32P] * 2 + [_U8P]
        lib.occ_prepare_balls.restype = None
        return lib
    return None


_LIB = _load()


def available() -> bool:
    """True when the native kernels are built and not switched off (``OCCPOSE_NATIVE=0``)."""
    return _LIB is not None


def targets(joints: np.ndarray, joint_radius: np.ndarray, disk: np.ndarray):
    """The unit ray directions of :func:`~.visibility._targets_t` and their lengths, as the
    numpy backend computes them (same float64 operations).

    Args:
        joints: (T, J, 3) float64 camera frame; joint_radius: (J,); disk: (K, 2)
            :func:`~.visibility.disk_pattern`.
    Returns:
        dirs (T, 3, R) float64, length (T, R) float64, and their float32 copies w_t, len32.
    """
    joints = np.ascontiguousarray(joints, np.float64)
    radius = np.ascontiguousarray(joint_radius, np.float64)
    disk = np.ascontiguousarray(disk, np.float64)
    n_t, n_j, _ = joints.shape
    n_r = n_j * len(disk)
    if joints.shape[2:] != (3,) or radius.shape != (n_j,) or disk.shape[1:] != (2,):
        raise ValueError(f"native targets: joints {joints.shape}, radius {radius.shape}, "
                         f"disk {disk.shape}")
    dirs, length = np.empty((n_t, 3, n_r)), np.empty((n_t, n_r))
    w_t, len32 = np.empty((n_t, 3, n_r), np.float32), np.empty((n_t, n_r), np.float32)
    _LIB.occ_targets(n_t, n_j, len(disk), joints, radius, disk, dirs, length, w_t, len32)
    return dirs, length, w_t, len32


def prepare_capsules(a: np.ndarray, b: np.ndarray, radius: np.ndarray) -> Prepared:
    """:func:`~.camera_rays.prepare_capsules` ``(a, b, radius, ends=False)``, the same bits:
    a, b (T, P, 3) float64, radius (P,)."""
    a, b = np.ascontiguousarray(a, np.float64), np.ascontiguousarray(b, np.float64)
    radius = np.ascontiguousarray(radius, np.float64)
    n_t, n_p = a.shape[:2]
    if a.shape[2:] != (3,) or b.shape != a.shape or radius.shape != (n_p,):
        raise ValueError(f"native prepare_capsules: a {a.shape}, b {b.shape}, radius "
                         f"{radius.shape}")
    cols, rows = np.empty((3, n_t, n_p, 3), np.float32), np.empty((4, n_t, n_p, 1), np.float32)
    inside = np.empty((n_t, n_p), np.uint8)
    _LIB.occ_prepare_capsules(n_t, n_p, a, b, radius, cols, rows, inside)
    return Prepared("capsule", cols, rows, inside.view(bool))


def prepare_balls(centre: np.ndarray, radius: np.ndarray) -> Prepared:
    """:func:`~.camera_rays.prepare_balls`, the same bits: centre (T, P, 3), radius (P,)."""
    centre = np.ascontiguousarray(centre, np.float64)
    radius = np.ascontiguousarray(radius, np.float64)
    n_t, n_p = centre.shape[:2]
    if centre.shape[2:] != (3,) or radius.shape != (n_p,):
        raise ValueError(f"native prepare_balls: centre {centre.shape}, radius {radius.shape}")
    cols, rows = np.empty((3, n_t, n_p, 3), np.float32), np.empty((1, n_t, n_p, 1), np.float32)
    inside = np.empty((n_t, n_p), np.uint8)
    _LIB.occ_prepare_balls(n_t, n_p, centre, radius, cols, rows, inside)
    return Prepared("ball", cols, rows, inside.view(bool))


def triangles_crossed(o: np.ndarray, d: np.ndarray, t_stop: np.ndarray, table) -> np.ndarray:
    """:func:`~.primitives.triangles_crossed` with a float32 :func:`~.camera_rays.mesh_table`,
    the same bits: o, d (N, 3) float64 rays in the mesh frame, t_stop (N,) -> (N,) bool."""
    o, d = np.ascontiguousarray(o, np.float64), np.ascontiguousarray(d, np.float64)
    t_stop = np.ascontiguousarray(t_stop, np.float64)
    pl_table, plane = (np.ascontiguousarray(x, np.float32) for x in table)
    n, n_f = len(o), len(plane)
    if (o.shape != (n, 3) or d.shape != (n, 3) or t_stop.shape != (n,)
            or pl_table.shape != (9, 5 * n_f)):
        raise ValueError(f"native triangles_crossed: o {o.shape}, d {d.shape}, t_stop "
                         f"{t_stop.shape}, table {pl_table.shape}, plane {plane.shape}")
    out = np.empty(n, np.uint8)
    if n:
        _LIB.occ_mesh_crossed(n, n_f, o, d, t_stop, pl_table, plane, out)
    return out.view(bool)


def first_body(dirs, length, frames, rays, pair_ray, pair_seg, a, b, radius, tol) -> np.ndarray:
    """(N,) float64: the body part of ``engine_numpy._object_first`` -- per ray, the smallest
    :func:`~.camera_rays.capsule_distances` entry distance among its blocking (ray, segment)
    pairs that lies before the ray's stop, +inf if none.

    Args:
        dirs: (N, 3) unit directions; length: (N,); frames, rays: (N,) frame and ray index;
        pair_ray, pair_seg: (M,) the pairs, sorted by ray; a, b: (T, S, 3) capsule ends;
        radius: (S,); tol: (S, R).
    """
    dirs, length, a, b, radius, tol = (np.ascontiguousarray(x, np.float64)
                                       for x in (dirs, length, a, b, radius, tol))
    frames, rays, pair_ray, pair_seg = (np.ascontiguousarray(x, np.int64)
                                        for x in (frames, rays, pair_ray, pair_seg))
    n, m = len(dirs), len(pair_ray)
    n_t, n_s = a.shape[:2]
    if (dirs.shape != (n, 3) or any(x.shape != (n,) for x in (length, frames, rays))
            or pair_seg.shape != (m,) or b.shape != a.shape or a.shape[2:] != (3,)
            or radius.shape != (n_s,) or tol.shape[0] != n_s):
        raise ValueError("native first_body: inconsistent shapes")
    if m and (pair_ray.min() < 0 or pair_ray.max() >= n or pair_seg.min() < 0
              or pair_seg.max() >= n_s):
        raise ValueError("native first_body: pair index out of range")
    if n and (frames.min() < 0 or frames.max() >= n_t or rays.min() < 0
              or rays.max() >= tol.shape[1]):
        raise ValueError("native first_body: frame or ray index out of range")
    out = np.empty(n)
    _LIB.occ_first_body(n, m, n_s, tol.shape[1], dirs, length, frames, rays, pair_ray,
                        pair_seg, a, b, radius, tol, out)
    return out


def hits(kind: str, w_t: np.ndarray, len32: np.ndarray, prep: Prepared, tol=None,
         tol_scalar: float = 0.0, r2=None, any_out: np.ndarray | None = None) -> np.ndarray:
    """(T, P, R) bool: the numpy kernel of ``kind`` (``"lateral"`` = ``capsules_hit(...,
    ends=False)``, ``"capsule"``, ``"ball"``, ``"box"``, ``"cylinder"``) on the same rays.

    Args:
        w_t: (T, 3, R) float32 unit directions; len32: (T, R) float32 ray lengths.
        prep: the kind's :class:`~.camera_rays.Prepared` for these T frames.
        tol: (P, R) float32 tolerance per (primitive, ray), or None for ``tol_scalar``; the
            stopping distance is ``len32 - tol`` clamped at 0, as the numpy callers compute it.
        r2: (P, R) float32 squared radii replacing the prepared ones (balls; as in the numpy
            kernel, the camera-inside rule, which capsules and balls apply, is then skipped).
        any_out: (T, R) bool array or-ed with the hits of every primitive, or None.
    """
    code, need_c, need_q, inside_rule = KINDS[kind]
    cols = np.ascontiguousarray(prep.cols, np.float32)
    rows = np.ascontiguousarray(prep.rows[..., 0], np.float32)
    w_t = np.ascontiguousarray(w_t, np.float32)
    len32 = np.ascontiguousarray(len32, np.float32)
    n_t, _, n_r = w_t.shape
    n_p = cols.shape[2]
    if (cols.shape != (need_c, n_t, n_p, 3) or rows.shape != (need_q, n_t, n_p)
            or len32.shape != (n_t, n_r)):
        raise ValueError(f"native {kind}: cols {cols.shape}, rows {rows.shape}, rays {w_t.shape}")
    if tol is not None:
        tol = np.ascontiguousarray(np.broadcast_to(tol, (n_p, n_r)), np.float32)
    if r2 is not None:
        r2 = np.ascontiguousarray(np.broadcast_to(r2, (n_p, n_r)), np.float32)
    flags = None
    if inside_rule and r2 is None:
        flags = np.ascontiguousarray(np.broadcast_to(prep.inside, (n_t, n_p)), np.uint8)
    if any_out is not None:
        if (any_out.shape != (n_t, n_r) or any_out.dtype != bool
                or not any_out.flags.c_contiguous):
            raise ValueError(f"native {kind}: any_out must be a contiguous ({n_t}, {n_r}) bool")
        any_out = any_out.view(np.uint8)
    out = np.empty((n_t, n_p, n_r), np.uint8)
    if n_p and n_t and n_r and _LIB.occ_hits(code, n_t, n_p, n_r, w_t, len32, tol,
                                             float(tol_scalar), cols, rows, r2, flags, out,
                                             any_out):
        raise MemoryError("native ray kernels: out of memory")
    return out.view(bool)
