"""The native (C) blocked-ray kernels against the numpy kernels, byte for byte.

The C kernels (``occpose/occlusion/raycast/_rays.c``, built by ``pip install``) replace the
float32 numpy kernels of ``camera_rays`` inside the numpy backend and must give the same bits:
every hit of every (frame, primitive, ray) pair, on random and degenerate primitives (zero
length capsules, rays exactly along box and cylinder axes, direction components exactly 0, the
camera inside), and the same labels on the adversarial scenes of test_visibility_fast.

The numpy kernels' dot products come from OpenBLAS, whose AVX-512 kernels (the reference,
occpose/_openblas.py) compute the fused chain the C code computes; other OpenBLAS kernels (an
explicit OPENBLAS_CORETYPE, an older processor) round one primitive's products otherwise. The
tests therefore give the numpy kernels the reference products (``fused_matmul``, checked
against OpenBLAS's SkylakeX kernels in a child process where the processor has AVX-512), so
they compare the same arithmetic on any machine. Without a C compiler the kernels are not
built and the tests that need them skip -- unless OCCPOSE_REQUIRE_NATIVE=1 (.ci/run sets it),
where that is a failure.
"""

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from occpose import _openblas, body_model
from occpose.occlusion import VisibilityParams, label_visibility
from occpose.occlusion.raycast import camera_rays, engine_numpy, native, visibility
from occpose.occlusion.raycast.visibility import OTHER_TOLERANCE

from .test_visibility_fast import CAMERA, PARAMS, adversarial_scene, occluders


def _round32(x: np.ndarray, exact) -> np.ndarray:
    """float32 of float64 sums ``x``; ``exact`` gives the exact sum (a Fraction) of entry i.

    A float64 sum rounded again to float32 is the correctly rounded float32 unless the float64
    rounding landed exactly on a float32 halfway point; those (about 1 in 10^8) are redone
    exactly."""
    out = x.astype(np.float32)
    tie = (x.view(np.int64) & 0x1FFFFFFF) == 0x10000000
    for i in zip(*np.nonzero(tie)):
        e = exact(i)
        lo = np.float32(float(e))
        cands = [np.nextafter(lo, np.float32(-np.inf)), lo, np.nextafter(lo, np.float32(np.inf))]
        out[i] = min(cands, key=lambda c: (abs(Fraction(float(c)) - e),
                                           int(np.array(c).view(np.uint32)) & 1))
    return out


def fused_matmul(a, b, out=None):
    """float32 ``a @ b`` as OpenBLAS's AVX-512 kernels compute it (the reference,
    occpose/_openblas.py): acc = a_0 b_0, then acc = fma(a_k, b_k, acc) for k = 1 .. K-1."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype == np.float32 and a.shape[-1] == b.shape[-2]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    p = [a64[..., :, k, None] * b64[..., None, k, :] for k in range(a.shape[-1])]  # exact
    acc = p[0].astype(np.float32)
    for k in range(1, a.shape[-1]):
        prev = acc
        acc = _round32(p[k] + prev, lambda i, k=k, prev=prev: Fraction(float(p[k][i]))
                       + Fraction(float(prev[i])))
    if out is not None:
        out[...] = acc
        return out
    return acc


needs_native = pytest.mark.skipif(
    not native.available() and os.environ.get("OCCPOSE_REQUIRE_NATIVE") != "1",
    reason="native ray kernels not built (no C compiler at install)")


@pytest.fixture(autouse=True)
def reference_matmul(monkeypatch):
    """The numpy kernels' float32 matrix products as the reference kernels compute them,
    whatever OpenBLAS kernels this machine's environment selects (np.matmul in camera_rays,
    the Plucker product of primitives._blocked_matmul for float32 mesh tables)."""
    from occpose.occlusion.raycast import primitives

    monkeypatch.setattr(np, "matmul", fused_matmul)
    blocked = primitives._blocked_matmul
    monkeypatch.setattr(primitives, "_blocked_matmul", lambda x, y, rows=32: (
        fused_matmul(x, y) if x.dtype == np.float32 else blocked(x, y, rows)))


@needs_native
def test_native_kernels_are_built_where_required():
    assert native.available(), "OCCPOSE_REQUIRE_NATIVE=1 but the native ray kernels did not load"


@pytest.mark.skipif(not _openblas.reference_capable(),
                    reason="the reference OpenBLAS kernels need AVX-512")
def test_the_reference_openblas_kernels_compute_the_fused_chain(tmp_path):
    """fused_matmul is what OpenBLAS's SkylakeX kernels give: one primitive (gemv) and several
    (gemm), checked in a child process that selects those kernels."""
    rng = np.random.default_rng(3)
    data = {f"c{p}": rng.normal(0, 3, (50, p, 3)).astype(np.float32) for p in (1, 4)}
    data["w"] = (rng.normal(size=(50, 3, 153)) / 1.7).astype(np.float32)
    data["rays"] = rng.normal(0, 2, (4, 32, 9)).astype(np.float32)  # a Plucker product
    data["table"] = np.where(rng.random((9, 400)) < 0.5, 0, rng.normal(size=(9, 400)))
    data["table"] = data["table"].astype(np.float32)
    np.savez(tmp_path / "in.npz", **data)
    code = ("import numpy as np, sys; d = np.load(sys.argv[1]); "
            "np.savez(sys.argv[2], **{k: d[k] @ d['w'] for k in ('c1', 'c4')}, "
            "plucker=d['rays'] @ d['table'])")
    env = dict(os.environ, OPENBLAS_CORETYPE=_openblas.REFERENCE_CORETYPE)
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "in.npz"),
                    str(tmp_path / "out.npz")], check=True, env=env)
    got = np.load(tmp_path / "out.npz")
    for key in ("c1", "c4"):
        np.testing.assert_array_equal(got[key], fused_matmul(data[key], data["w"]), err_msg=key)
    np.testing.assert_array_equal(got["plucker"], fused_matmul(data["rays"], data["table"]))


def _rays(rng, n_t, n_r, axis_aligned=True):
    """(T, 3, R) float64 unit directions, some exactly along or across the coordinate axes."""
    d = rng.normal(size=(n_t, 3, n_r))
    d[:, 2] = np.abs(d[:, 2]) + 0.3
    if axis_aligned:
        d[:, 0, ::7] = 0.0  # a zero component
        d[:, :, 3::11] = [[0.0], [0.0], [1.0]]  # the optical axis itself
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    length = rng.choice([0.5, 2.0, 5.0, 40.0], (n_t, n_r)) * rng.uniform(0.5, 1.5, (n_t, n_r))
    return d, length


def _rotations(rng, shape, axis_aligned):
    q, _ = np.linalg.qr(rng.normal(size=shape + (3, 3)))
    q *= np.sign(np.linalg.det(q))[..., None, None]
    q[axis_aligned] = np.eye(3)
    return q


def _check(kind, numpy_hits, prep, w_t, length, **kw):
    len32 = length.astype(np.float32)
    tol = kw.pop("tol", None)
    stop = len32[:, None] - (np.float32(kw["tol_scalar"]) if tol is None else tol)
    expect = numpy_hits(w_t, camera_rays.stop_bits(stop), prep)
    got = native.hits(kind, w_t, len32, prep, tol=tol, **kw)
    np.testing.assert_array_equal(got, expect, err_msg=kind)
    return expect


@needs_native
@pytest.mark.parametrize("n_p", [1, 4])
def test_each_kind_gives_the_numpy_bits(n_p):
    rng = np.random.default_rng(n_p)
    n_t, n_r = 30, 90
    dirs, length = _rays(rng, n_t, n_r)
    w_t = dirs.astype(np.float32)
    centre = rng.normal(0, 1, (n_t, n_p, 3)) + [0, 0, 3]
    centre[::5, 0] = [0.0, 0.0, 0.05]  # the camera inside the first primitive now and then
    radius = rng.uniform(0.05, 0.6, n_p)
    aligned = np.zeros((n_t, n_p), bool)
    aligned[1::3] = True
    rot = _rotations(rng, (n_t, n_p), aligned)
    half = rng.uniform(0.05, 0.8, (n_p, 3))
    axis = rot[..., 2] * rng.uniform(0.0, 0.5, n_p)[:, None]
    axis[:, 0] = 0.0 if n_p == 1 else axis[:, 0]  # zero length: a ball
    a, b = centre - axis, centre + axis

    hits = []
    for ends in (False, True):
        prep = camera_rays.prepare_capsules(a, b, radius, ends=ends)
        kind = "capsule" if ends else "lateral"
        numpy_hits = lambda w, s, p, e=ends: camera_rays.capsules_hit(w, s, p, ends=e)
        hits.append(_check(kind, numpy_hits, prep, w_t, length, tol_scalar=OTHER_TOLERANCE))
    prep = camera_rays.prepare_balls(centre, radius)
    hits.append(_check("ball", camera_rays.balls_hit, prep, w_t, length, tol_scalar=1e-2))
    prep = camera_rays.prepare_boxes(rot, centre, half)
    hits.append(_check("box", camera_rays.boxes_hit, prep, w_t, length, tol_scalar=0.0))
    prep = camera_rays.prepare_cylinders(a + 1e-3 * rot[..., 2], b, radius)
    hits.append(_check("cylinder", camera_rays.cylinders_hit, prep, w_t, length,
                       tol_scalar=OTHER_TOLERANCE))
    for h in hits:  # the scenes exercise both outcomes of every kernel
        assert 0.01 < h.mean() < 0.99


@needs_native
def test_per_pair_tolerances_and_radii_give_the_numpy_bits():
    """The body's use: (P, R) tolerances (the joint's own segments) and (P, R) ball radii."""
    rng = np.random.default_rng(7)
    n_t, n_p, n_r = 20, 6, 54
    dirs, length = _rays(rng, n_t, n_r, axis_aligned=False)
    length[:, ::5] = 0.005  # shorter than the tolerance: stops clamped at 0
    w_t = dirs.astype(np.float32)
    centre = 0.8 * length[:, :n_p, None] * dirs[:, :, :n_p].transpose(0, 2, 1)
    centre += rng.normal(0, 0.05, centre.shape)
    tol = rng.choice([1e-6, 1e-2], (n_p, n_r)).astype(np.float32)
    r2 = rng.uniform(0, 0.1, (n_p, n_r)).astype(np.float32) ** 2
    r2[:, ::4] = 0.0
    prep = camera_rays.prepare_balls(centre, np.full(n_p, 0.1))
    stop = camera_rays.stop_bits(np.maximum(length.astype(np.float32)[:, None] - tol, 0))
    expect = camera_rays.balls_hit(w_t, stop, prep, r2)
    got = native.hits("ball", w_t, length.astype(np.float32), prep, tol=tol, r2=r2)
    np.testing.assert_array_equal(got, expect)
    a, b = centre, centre + rng.normal(0, 0.2, centre.shape)
    prep = camera_rays.prepare_capsules(a, b, np.full(n_p, 0.07), ends=False)
    expect = camera_rays.capsules_hit(w_t, stop, prep, ends=False)
    got = native.hits("lateral", w_t, length.astype(np.float32), prep, tol=tol)
    np.testing.assert_array_equal(got, expect)
    assert expect.any() and not expect.all()


@needs_native
def test_knife_edge_balls_give_the_numpy_bits():
    """Rays exactly tangent to a ball and stopping exactly at its surface, or one float32 step
    either side: a dot product one rounding off flips these decisions."""
    rng = np.random.default_rng(11)
    n_r, flips = 400, 0
    for _ in range(20):
        dirs = _rays(rng, 1, n_r, axis_aligned=False)[0]
        w_t = dirs.astype(np.float32)
        prep = camera_rays.prepare_balls(rng.normal(0, 1, (1, 1, 3)) + [0, 0, 4], [0.3])
        wc, wq1, wq2 = fused_matmul(prep.cols, w_t)[:, 0, 0]  # (R,) each
        tangent = np.float32(wq1 * wq1) + np.float32(wq2 * wq2)  # r^2 at which sqrt(h) = 0
        step = rng.integers(-1, 2, (2, n_r))
        r2 = np.where(step[0] < 0, np.nextafter(tangent, -np.inf),
                      np.where(step[0] > 0, np.nextafter(tangent, np.inf), tangent))
        len32 = np.where(step[1] < 0, np.nextafter(wc, -np.inf),
                         np.where(step[1] > 0, np.nextafter(wc, np.inf), wc))[None]
        len32 = np.abs(len32).astype(np.float32)
        expect = camera_rays.balls_hit(w_t, camera_rays.stop_bits(len32[:, None]), prep,
                                       r2[None].astype(np.float32))
        got = native.hits("ball", w_t, len32, prep, tol_scalar=0.0, r2=r2[None])
        np.testing.assert_array_equal(got, expect)
        flips += expect.sum()
    assert 0 < flips < 20 * n_r


@needs_native
@pytest.mark.parametrize("preset", ["cheng2019", "anthropometric"])
@pytest.mark.parametrize("p", [0, 1, 2, 4])
def test_labels_with_and_without_the_native_kernels_are_the_same_bytes(preset, p, monkeypatch):
    params, rng = PARAMS[p], np.random.default_rng(200 + p)
    body = body_model(preset)
    joints = adversarial_scene(rng, 200, body, params)
    for occ in (None, occluders(rng, joints), occluders(rng, joints, moving=False)):
        monkeypatch.setattr(engine_numpy, "NATIVE", True)
        assert engine_numpy.use_native()
        fast = label_visibility(joints, body, CAMERA, occ, params, chunk=64, workers=2)
        monkeypatch.setattr(engine_numpy, "NATIVE", False)
        slow = label_visibility(joints, body, CAMERA, occ, params)
        for name, value in slow.to_arrays().items():
            np.testing.assert_array_equal(getattr(fast, name), value, err_msg=name)


@needs_native
def test_shapes_are_checked():
    prep = camera_rays.prepare_balls(np.ones((2, 3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="native ball"):
        native.hits("ball", np.ones((3, 3, 5), np.float32), np.ones((3, 5), np.float32), prep)


@needs_native
@pytest.mark.parametrize("p", range(len(PARAMS)))
def test_ray_targets_give_the_numpy_bits(p):
    """Rays of joints anywhere: behind the camera, on the optical axis, on the vertical axis
    through the camera (u parallel to y), at the camera centre itself."""
    params, rng = PARAMS[p], np.random.default_rng(300 + p)
    body = body_model("anthropometric")
    joints = adversarial_scene(rng, 200, body, params)
    joints[0, 3] = 0.0
    joints[1, 4] = [0.0, 2.0, 0.0]
    joints[2, 5] = [0.0, -1e-14, 1e-14]
    dirs = visibility._targets_t(joints, body.joint_radius, params)
    length = np.sqrt(np.einsum("tir,tir->tr", dirs, dirs))
    dirs /= np.where(length > 0, length, 1.0)[:, None]
    got = native.targets(joints, body.joint_radius, visibility.disk_pattern(params))
    for name, a, b in zip(("dirs", "length", "w_t", "len32"), got,
                          (dirs, length, dirs.astype(np.float32), length.astype(np.float32))):
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8), err_msg=name)


@needs_native
def test_any_out_is_the_or_over_primitives():
    rng = np.random.default_rng(5)
    dirs, length = _rays(rng, 10, 60)
    w_t, len32 = dirs.astype(np.float32), length.astype(np.float32)
    prep = camera_rays.prepare_balls(rng.normal(0, 1, (10, 5, 3)) + [0, 0, 3], np.full(5, 0.4))
    acc = np.zeros((10, 60), bool)
    acc[:, ::13] = True  # or-ed into, not overwritten
    before = acc.copy()
    hit = native.hits("ball", w_t, len32, prep, tol_scalar=0.0, any_out=acc)
    np.testing.assert_array_equal(acc, before | hit.any(axis=1))
    assert (acc & ~before).any() and not acc.all()


@needs_native
def test_first_blocking_segment_gives_the_numpy_bits():
    """Exact entry distances of rays into the segments that block them (the body part of
    the first-blocker decision), degenerate capsules and a camera inside one included."""
    rng = np.random.default_rng(9)
    n_t, n_s, n_r, n = 40, 16, 153, 3000
    a = rng.normal(0, 0.3, (n_t, n_s, 3)) + [0, 0, 3]
    b = a + rng.normal(0, 0.2, (n_t, n_s, 3))
    b[:, 3] = a[:, 3]  # zero length: a ball
    a[5, 7] = [0.0, 0.0, 0.01]  # the camera inside
    radius = rng.uniform(0.02, 0.12, n_s)
    tol = rng.choice([1e-6, 1e-2], (n_s, n_r))
    frames, rays = rng.integers(0, n_t, n), rng.integers(0, n_r, n)
    frames[:20] = 5
    target = a[frames, rng.integers(0, n_s, n)] + rng.normal(0, 0.05, (n, 3))
    length = np.linalg.norm(target, axis=1) * rng.uniform(0.8, 1.3, n)
    dirs = target / np.linalg.norm(target, axis=1, keepdims=True)
    segments = rng.random((n, n_s)) < 0.3
    segments[:20, 7] = True
    pair_ray, pair_seg = np.nonzero(segments)
    expect = engine_numpy._first_body(dirs, length, frames, rays, pair_ray, pair_seg, a, b,
                                      radius, tol)
    got = native.first_body(dirs, length, frames, rays, pair_ray, pair_seg, a, b, radius, tol)
    np.testing.assert_array_equal(got.view(np.uint64), expect.view(np.uint64))
    assert 0.1 < np.isfinite(expect).mean() < 0.9 and (expect[:20] == 0).all()
    with pytest.raises(ValueError, match="out of range"):
        native.first_body(dirs, length, frames, rays, pair_ray, pair_seg + n_s, a, b, radius, tol)


def test_mesh_distances_use_the_engine_each_chunk_would_alone(monkeypatch):
    """The first-blocker distances of all chunks are computed in one call; the mesh engine
    (numpy or trimesh, by rays x faces) is still the one each chunk's rays alone would get,
    so chunking does not change a distance's bits (the two engines differ in the last bits)."""
    pytest.importorskip("trimesh")
    from occpose.occlusion.raycast import primitives

    monkeypatch.setattr(primitives, "NUMPY_MESH_PAIRS", 50 * 20)  # 50 rays x 20 faces
    rng = np.random.default_rng(21)
    joints = adversarial_scene(rng, 240, body_model("anthropometric"), PARAMS[0])
    occ, i = occluders(rng, joints), 3  # primitive 3: the 20-face mesh
    chunks = np.repeat([0, 1, 2, 3], [30, 80, 10, 120])  # numpy, trimesh, numpy, trimesh
    frames = rng.integers(0, 240, len(chunks))
    dirs = occ.pose[frames, i, :3, 3] + rng.normal(0, 0.15, (len(chunks), 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    got = engine_numpy._mesh_distances(dirs, frames, np.arange(len(chunks)), occ, i, chunks)
    alone = [primitives.ray_primitive(np.zeros(3), dirs[chunks == c], occ, i,
                                      frames=frames[chunks == c]) for c in range(4)]
    np.testing.assert_array_equal(got.view(np.uint64), np.concatenate(alone).view(np.uint64))
    one_engine = primitives.ray_primitive(np.zeros(3), dirs, occ, i, frames=frames,
                                          mesh_engine="numpy")
    assert np.isfinite(got).any() and (one_engine != got).any()


@needs_native
def test_preparation_gives_the_numpy_bits():
    """Body capsules (zero length ones, the camera inside one) and joint balls (on the x
    axis, at the camera centre) prepared in C and in numpy."""
    rng = np.random.default_rng(13)
    a = rng.normal(0, 1, (50, 16, 3)) + [0, 0, 2]
    b = a + rng.normal(0, 0.3, a.shape)
    b[:, 2] = a[:, 2]
    a[3, 4] = [0.01, 0.0, 0.0]
    a[4, 5] = [2.0, 0.0, 0.0]
    a[6, 7] = 0.0
    radius = rng.uniform(0.02, 0.1, 16)
    for got, expect in ((native.prepare_capsules(a, b, radius),
                         camera_rays.prepare_capsules(a, b, radius, ends=False)),
                        (native.prepare_balls(a, radius), camera_rays.prepare_balls(a, radius))):
        assert got.kind == expect.kind
        for name in ("cols", "rows", "inside"):
            x, y = getattr(got, name), getattr(expect, name)
            assert x.shape == y.shape and x.dtype == y.dtype, name
            np.testing.assert_array_equal(x.view(np.uint8), np.ascontiguousarray(y).view(np.uint8),
                                          err_msg=name)
        assert got.inside.any()


@needs_native
def test_a_build_from_other_sources_is_not_loaded(tmp_path, monkeypatch):
    """After sources change without a rebuild (git pull on an editable install), the old
    library would be called with the new signatures: it is refused, with a warning."""
    here = Path(native.__file__).parent
    built = sorted(here.glob("_rays*.so"))
    assert built, "no built library next to native.py"
    (tmp_path / built[0].name).write_bytes(built[0].read_bytes())
    (tmp_path / "_rays.c").write_bytes((here / "_rays.c").read_bytes())
    assert native._load(tmp_path) is not None  # built from these sources
    (tmp_path / "_rays.c").write_bytes((here / "_rays.c").read_bytes() + b"/* changed */\n")
    with pytest.warns(RuntimeWarning, match="another version of _rays.c"):
        assert native._load(tmp_path) is None
    (tmp_path / "_rays.c").unlink()  # an installed wheel: no sources to compare with
    assert native._load(tmp_path) is not None
    monkeypatch.setenv("OCCPOSE_NATIVE", "0")
    assert native._load(tmp_path) is None


@needs_native
def test_mesh_crossings_give_the_numpy_bits():
    """Rays from cameras around a mesh towards its vertices, edge points and faces (the
    crossing tests there hang on the last bit of the Plucker products) and at random."""
    from occpose.occlusion.raycast import primitives

    from .test_visibility_fast import icosahedron

    rng = np.random.default_rng(17)
    mesh = icosahedron()
    tri = mesh.vertices[mesh.faces] * [0.3, 0.2, 0.25]
    table = camera_rays.mesh_table(tri)
    n = 3000
    o = rng.normal(0, 1, (n, 3))
    o *= rng.uniform(0.5, 6.0, (n, 1)) / np.linalg.norm(o, axis=1, keepdims=True)
    pick = tri[rng.integers(0, len(tri), n)]
    w = rng.dirichlet([1, 1, 1], n)
    w[: n // 3] = np.eye(3)[rng.integers(0, 3, n // 3)]  # vertices
    w[n // 3: 2 * n // 3] = [0.5, 0.5, 0.0]  # edge midpoints
    aim = np.einsum("nk,nkj->nj", w, pick)
    d = aim - o
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    t_stop = np.linalg.norm(aim - o, axis=1) * rng.choice([0.5, 1.0, 2.0], n)
    expect = primitives.triangles_crossed(o, d, t_stop, table)
    got = native.triangles_crossed(o, d, t_stop, table)
    np.testing.assert_array_equal(got, expect)
    assert 0.1 < expect.mean() < 0.9
