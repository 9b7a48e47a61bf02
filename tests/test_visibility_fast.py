"""The numpy labeller's shortcuts against the straightforward computation, bit for bit.

The labels are published byte for byte (docs/standard.md), so the faster bookkeeping of the
numpy backend -- exact first-blocker distances in blocks with ``minimum.reduceat``, counts with
``bincount``, the extra end balls or-ed per extra, the negative-stop check on (T, 1, R) -- must
give exactly what the literal computation (``ufunc.at`` over all pairs, the full stop check)
gives. Scenes are random and adversarial: rays grazing a ball on either side of its surface,
joints behind the camera, out of frame, hugging the camera (inside capsules), on the optical
axis, inside an occluder, and moving, static and mesh occluders.
"""

import numpy as np
import pytest

from occpose import body_model
from occpose.camera import Camera
from occpose.occlusion import (BOX, CAPSULE, CYLINDER, MESH, SPHERE, MeshData, OccluderSet,
                               VisibilityParams, label_visibility, ray_targets)
from occpose.occlusion.raycast import camera_rays, engine_numpy
from occpose.occlusion.raycast import primitives as raycast
from occpose.occlusion.raycast.visibility import OTHER_TOLERANCE

CAMERA = Camera("test", 640, 480, 600.0, 600.0, 320.0, 240.0, np.eye(3), np.zeros(3))
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
BONE = np.array([0, .13, .44, .42, .13, .44, .42, .24, .25, .12, .11, .15, .28, .25, .15, .28, .25])


def skeletons(rng, n, distance):
    """(n, 17, 3) random skeletons (any bone directions) around (0, 0, distance)."""
    j = np.zeros((n, 17, 3))
    for k in range(1, 17):
        d = rng.normal(size=(n, 3))
        j[:, k] = j[:, PARENTS[k]] + BONE[k] * d / np.linalg.norm(d, axis=1, keepdims=True)
    centre = np.stack([rng.uniform(-1.5, 1.5, n), rng.uniform(-1, 1, n),
                       np.broadcast_to(distance, n)], -1)
    return j + centre[:, None]


def adversarial_scene(rng, n, body, params):
    """Joints (n, 17, 3) with grazing rays and awkward placements mixed in."""
    dist = rng.choice([0.3, 1.0, 4.0, 12.0], n)
    joints = skeletons(rng, n, dist)
    kind = rng.integers(0, 6, n)
    behind = kind == 1  # straddling the camera plane or behind it
    joints[behind, :, 2] -= dist[behind, None] + rng.uniform(-0.5, 0.5, (behind.sum(), 1))
    joints[kind == 2, :, 0] += 8.0  # out of frame, partly
    joints[kind == 3, 0] = [0.0, 0.0, 2.0]  # a joint on the optical axis
    joints[kind == 4] *= 0.05  # a tiny skeleton hugging the camera: inside capsules
    # kind 5: a ray of joint i grazes joint j's ball, on or just off its surface
    targets = ray_targets(joints, body.joint_radius, params)
    for t in np.flatnonzero(kind == 5):
        i, j = rng.choice(17, 2, replace=False)
        q = targets[t, i, rng.integers(params.rays)]
        w = q / np.linalg.norm(q)
        p = np.cross(w, rng.normal(size=3))
        p /= np.linalg.norm(p)
        depth = rng.uniform(0.2, 0.9) * np.linalg.norm(q)
        r = body.joint_radius[j]
        off = rng.choice([0.0, 1e-7, -1e-7, 1e-5, -1e-5, 2e-3])
        joints[t, j] = depth * w + (r + off) * p
    return joints


def icosahedron() -> MeshData:
    p = (1 + 5 ** 0.5) / 2
    v = np.array([[-1, p, 0], [1, p, 0], [-1, -p, 0], [1, -p, 0], [0, -1, p], [0, 1, p],
                  [0, -1, -p], [0, 1, -p], [p, 0, -1], [p, 0, 1], [-p, 0, -1], [-p, 0, 1]])
    f = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
         [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
         [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    return MeshData("icosahedron", v / np.linalg.norm(v, axis=1, keepdims=True), np.array(f))


def occluders(rng, joints, moving=True) -> OccluderSet:
    """Every kind of occluder near the subject, one around a joint (a joint inside it)."""
    n = len(joints) if moving else 1
    near = joints[:n, 8] if moving else joints[:1, 8]
    pose = np.tile(np.eye(4), (n, 5, 1, 1))
    for o in range(5):
        q, _ = np.linalg.qr(rng.normal(size=(n, 3, 3)))
        pose[:, o, :3, :3] = q * np.sign(np.linalg.det(q))[:, None, None]
    pose[:, :4, :3, 3] = 0.7 * near[:, None] + rng.normal(0, 0.3, (n, 4, 3))
    pose[:, 4, :3, 3] = joints[:n, 13]  # a ball around the left wrist
    return OccluderSet.from_primitives(
        [BOX, CYLINDER, CAPSULE, MESH, SPHERE],
        [[0.3, 0.2, 0.05], [0.1, 0.1, 0.5], [0.08, 0.08, 0.2], [0.2, 0.2, 0.2],
         [0.12, 0.12, 0.12]], pose, mesh_index=[-1, -1, -1, 0, -1], meshes=(icosahedron(),))


def _extra_ball_hits_literal(dirs, length, joints, body_balls, k):
    """The extra balls with ``np.add.at`` over every (ray, extra) pair, as first written."""
    j, i = body_balls.extra[:, 0].astype(int), body_balls.extra[:, 1].astype(int)
    rays = i[:, None] * k + np.arange(k)
    w = dirs[:, :, rays]
    c = joints[:, j]
    wc = np.einsum("tiek,tei->tek", w, c)
    perp2 = np.einsum("tei,tei->te", c, c)[..., None] - wc * wc
    with np.errstate(invalid="ignore"):
        t = wc - np.sqrt(np.square(body_balls.extra[:, 2])[:, None] - perp2)
    hit = (t >= 0) & (t < length[:, rays] - body_balls.extra_tol[:, None])
    out = np.zeros(length.shape, np.int32)
    np.add.at(out.T, rays.ravel(), hit.reshape(len(hit), -1).T.astype(np.int32))
    return out > 0


def _count_literal(index, flag, n_t, n_j):
    out = np.zeros(n_t * n_j, np.int32)
    np.add.at(out, index, flag.astype(np.int32))
    return out.reshape(n_t, n_j)


def _stop_bits_literal(stop, length32, tol):
    return camera_rays.stop_bits(stop)


PARAMS = [VisibilityParams(), VisibilityParams(rays=1), VisibilityParams(rays=16, tolerance=0.0),
          VisibilityParams(disk_fraction=0.0), VisibilityParams(rays=5, disk_fraction=1.0)]


@pytest.mark.parametrize("preset", ["cheng2019", "anthropometric"])
@pytest.mark.parametrize("p", range(len(PARAMS)))
def test_fast_labels_equal_literal_labels(preset, p, monkeypatch):
    params, rng = PARAMS[p], np.random.default_rng(100 + p)
    body = body_model(preset)
    joints = adversarial_scene(rng, 300, body, params)
    scenes = [None, occluders(rng, joints), occluders(rng, joints, moving=False)]
    fast = {}
    for chunk, workers in ((256, 1), (37, 2), (1000, 1)):
        for s, occ in enumerate(scenes):
            fast[chunk, s] = label_visibility(joints, body, CAMERA, occ, params, chunk=chunk,
                                              workers=workers)
    for name, literal in (("_object_first", _object_first_literal),
                          ("_extra_ball_hits", _extra_ball_hits_literal),
                          ("_count", _count_literal), ("_stop_bits", _stop_bits_literal)):
        monkeypatch.setattr(engine_numpy, name, literal)
    by_object = []
    for s, occ in enumerate(scenes):
        slow = label_visibility(joints, body, CAMERA, occ, params, chunk=128)
        for (chunk, s2), lab in fast.items():
            if s2 == s:
                for name, value in slow.to_arrays().items():
                    np.testing.assert_array_equal(getattr(lab, name), value, err_msg=name)
        by_object.append(slow.occluded_by_object.mean())
    assert slow.occluded_by_body.any() and by_object[0] == 0 < by_object[1]


def test_stop_bits_shortcut_equals_the_full_check():
    rng = np.random.default_rng(5)
    tol = np.where(rng.random((16, 45)) < 0.5, 0.01, 1e-6).astype(np.float32)
    for near in (False, True):  # near: some targets within the tolerance of the camera
        length32 = rng.uniform(0.0 if near else 0.5, 3.0, (20, 1, 45)).astype(np.float32)
        stop = length32 - tol
        assert (stop < 0).any() == near
        np.testing.assert_array_equal(engine_numpy._stop_bits(stop.copy(), length32, tol),
                                      camera_rays.stop_bits(stop.copy()))


def _object_first_literal(dirs, length, frames, rays, segments, obj_pairs, a, b, radius, tol,
                          occ, chunks=None):
    """The per-pair computation as first written (ufunc.at over all pairs at once)."""
    n, s = np.nonzero(segments)
    f = frames[n]
    t = camera_rays.capsule_distances(dirs[n], a[f, s], b[f, s], radius[s])
    t_body = np.full(len(dirs), np.inf)
    np.minimum.at(t_body, n, np.where(t < length[n] - tol[s, rays[n]], t, np.inf))
    t_obj = np.full(len(dirs), np.inf)
    for i in np.flatnonzero(obj_pairs.any(axis=0)):
        n = np.flatnonzero(obj_pairs[:, i])
        t = raycast.ray_primitive(np.zeros(3), dirs[n], occ, i, frames=frames[n])
        np.minimum.at(t_obj, n, np.where(t < length[n] - OTHER_TOLERANCE, t, np.inf))
    return t_obj <= t_body


def test_object_first_equals_the_literal_computation(monkeypatch):
    rng = np.random.default_rng(11)
    params = VisibilityParams()
    body = body_model("anthropometric")
    joints = adversarial_scene(rng, 300, body, params)
    occ = occluders(rng, joints)
    calls = []

    def both(*args):
        fast = engine_numpy_object_first(*args)
        np.testing.assert_array_equal(fast, _object_first_literal(*args))
        calls.append(len(fast))
        return fast

    engine_numpy_object_first = engine_numpy._object_first
    monkeypatch.setattr(engine_numpy, "_PAIRS", 97)  # many blocks, one ray across two
    monkeypatch.setattr(engine_numpy, "_object_first", both)
    label_visibility(joints, body, CAMERA, occ, params)
    assert calls and calls[0] > 50

