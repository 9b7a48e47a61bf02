"""The Blender backend's visible-subject masks (blender_addon.masks, numpy only, no bpy): the
batched and culled masks equal casting every pixel against every primitive, and the bounds the
culling rests on hold against the kernels."""

from __future__ import annotations

import numpy as np
import pytest

from occpose.camera import Camera, world_to_camera
from occpose.config import load_config
from occpose.generate import motion_world
from occpose.occlusion.occluders.geometry import (BOX, CAPSULE, CYLINDER, SPHERE, OccluderSet,
                                                  rigid_transform, rotation_z)
from occpose.occlusion.raycast import primitives

from blender_addon import distortion, masks

from .test_blender_fixtures import handmade_occluders, write_tiny


def brute_force(joints_cam, body, camera, occ, t):
    """Frame t: every pixel against every capsule and occluder primitive (the definition)."""
    rays = distortion.pixel_rays(camera).reshape(-1, 3)
    a, b, radius = body.capsules(joints_cam[t])
    t_body = np.min([primitives.ray_capsule(np.zeros(3), rays, a[s], b[s], radius[s])
                     for s in range(len(a))], axis=0)
    subject = np.isfinite(t_body)
    visible = subject.copy()
    if occ is not None:
        t_obj = primitives.ray_occluders(np.zeros_like(rays), rays, occ.select_frames(t),
                                         frames=np.zeros(len(rays), np.int64)).min(axis=1)
        visible &= ~(t_obj < t_body)
    shape = (camera.height, camera.width)
    return visible.reshape(shape), subject.reshape(shape)


def scene(tmp_path, frames=12, res=96):
    """Joints (camera frame), body, camera and occluders of every kind and depth: the hand-made
    ones (every shape, between camera and subject), a box behind the subject, a ball around its
    hips (in depth with the body) and a capsule through it."""
    cfg = load_config(write_tiny(tmp_path, frames=frames, res=res, levels=[0.0]))
    joints = motion_world(cfg, "S1", "walk")
    cam = cfg.camera_objects(rendered=True)[0]
    occ = handmade_occluders(joints, cam.position)
    root = joints[:, 0]
    back = root - 1.5 * (cam.position - root) / np.linalg.norm(cam.position - root, axis=1, keepdims=True)
    pose = np.zeros((len(joints), 3, 4, 4))
    for t in range(len(joints)):
        pose[t, 0] = rigid_transform(rotation_z(0.1 * t), back[t])
        pose[t, 1] = rigid_transform(None, root[t] + [0.05, 0.0, 0.1])
        pose[t, 2] = rigid_transform(rotation_z(0.5), joints[t, 14])
    more = OccluderSet.from_primitives([BOX, SPHERE, CAPSULE], [[0.5, 0.05, 0.6], [0.16] * 3, [0.05, 0.05, 0.3]],
                                       pose)
    return world_to_camera(joints, cam), cfg.body_model("S1"), cam, occ.concat(more).in_camera_frame(cam)


def assert_equal_brute_force(joints_cam, body, cam, occ, frames):
    batch = masks.frame_masks(joints_cam[frames], body, cam, occ, frames)
    fractions = batch.visible_fractions()
    hidden = 0
    for i, t in enumerate(frames):
        visible, subject = brute_force(joints_cam, body, cam, occ, t)
        np.testing.assert_array_equal(batch.visible_mask(i), visible, err_msg=f"frame {t}")
        np.testing.assert_array_equal(batch.subject_mask(i), subject, err_msg=f"frame {t}")
        assert fractions[i] == masks.visible_fraction(visible, subject)
        hidden += int((subject & ~visible).sum())
    return hidden


def test_batches_equal_brute_force(tmp_path):
    joints_cam, body, cam, occ = scene(tmp_path)
    assert assert_equal_brute_force(joints_cam, body, cam, occ, np.arange(12)) > 100
    assert_equal_brute_force(joints_cam, body, cam, occ, np.array([9, 2, 5]))  # any frames, any order
    for t in (0, 7):  # one frame at a time, a 1-frame occluder set
        got = masks.subject_masks(joints_cam[t], body, cam, occ.select_frames(t))
        for x, y in zip(got, brute_force(joints_cam, body, cam, occ, t)):
            np.testing.assert_array_equal(x, y)
    batch = masks.frame_masks(joints_cam[:3], body, cam, None, [0, 1, 2])  # no occluders
    for i in range(3):
        _, subject = brute_force(joints_cam, body, cam, None, i)
        np.testing.assert_array_equal(batch.visible_mask(i), subject)
    assert (batch.visible_fractions() == 1.0).all()


def test_frames_at_the_camera_plane_and_out_of_view(tmp_path):
    """Frames whose body reaches the camera plane (every capsule over the whole image), or lies
    outside the image, batched with ordinary frames."""
    joints_cam, body, cam, occ = scene(tmp_path, frames=6, res=64)
    joints_cam = joints_cam.copy()
    joints_cam[1] -= [0.0, 0.0, joints_cam[1, 10, 2] - 0.05]  # the head 5 cm before the camera
    joints_cam[3] -= [0.0, 0.0, joints_cam[3, :, 2].mean()]  # half the body behind the camera
    joints_cam[4] += [10.0, 0.0, 0.0]  # out of view
    assert_equal_brute_force(joints_cam, body, cam, occ, np.arange(6))
    assert masks.frame_masks(joints_cam[4:5], body, cam, occ, [4]).visible_fractions()[0] == 1.0


def test_distorted_camera(tmp_path):
    joints_cam, body, cam, occ = scene(tmp_path, frames=4, res=48)
    bent = Camera(cam.name, cam.width, cam.height, cam.fx, cam.fy, cam.cx, cam.cy, cam.rot_world_to_cam,
                  cam.position, k=(-0.25, 0.08, 0.0), p=(0.002, -0.001))
    assert masks.batch_frames(bent) == 1
    assert_equal_brute_force(joints_cam, body, bent, occ, np.arange(4))


def random_capsules(rng, n):
    """Capsules in front of the camera (z - r > 1e-3), some near it, some long and oblique."""
    a = rng.normal(size=(n, 3)) * [1.0, 1.0, 0.3] + [0.0, 0.0, 3.0]
    b = a + rng.normal(size=(n, 3)) * rng.choice([0.0, 0.05, 0.5, 2.0], (n, 1))
    radius = rng.uniform(0.01, 0.3, n)
    near = rng.random(n) < 0.2
    a[near] *= 0.15
    b[near] = a[near] + rng.normal(size=(near.sum(), 3)) * 0.1
    z = np.minimum(a[:, 2], b[:, 2]) - radius
    ok = z > 1e-3
    return a[ok], b[ok], radius[ok]


@pytest.mark.parametrize("seed", range(3))
def test_stadium_columns_hold(seed):
    """Pixels outside a capsule's outer columns miss it and pixels within its inner columns hit
    it, by the capsule kernel, also along the reaches (where the kernel is closest to the
    bounds): capsules of every length and slope, near the camera and far."""
    rng = np.random.default_rng(seed)
    cam = Camera("c", 80, 60, 70.0, 90.0, 41.0, 28.5, np.eye(3), np.zeros(3))
    rays = distortion.pixel_rays(cam).reshape(-1, 3)
    a, b, radius = random_capsules(rng, 60)
    a[:3, 1] = b[:3, 1] = 0.1  # horizontal and vertical segments on the image
    a[3:6, 0] = b[3:6, 0] = -0.2
    stadia = masks._Stadia.of(a, b, radius, cam)
    v, u = np.divmod(np.arange(cam.width * cam.height), cam.width)
    rows = np.arange(cam.height)
    checked = {"inner": 0, "miss": 0}
    for s in range(len(a)):
        first, last, first_in, last_in = stadia.columns(rows, np.full(cam.height, s), np.zeros(cam.height, np.int64),
                                                        np.full(cam.height, cam.width))
        outer = (u >= first[v]) & (u < last[v])
        inner = (u >= first_in[v]) & (u < last_in[v])
        hit = np.isfinite(primitives.ray_capsule(np.zeros(3), rays, a[s], b[s], radius[s]))
        assert hit[inner].all() and not hit[~outer].any(), s
        checked["inner"] += int(inner.sum())
        checked["miss"] += int((~outer).sum())
    assert checked["inner"] > 1000 and checked["miss"] > 1000


@pytest.mark.parametrize("seed", range(3))
def test_occluder_bounds_hold(seed):
    """Pixels a primitive is not near miss it; primitives behind or in front of the body are hit
    behind or in front of every body point."""
    rng = np.random.default_rng(seed)
    cam = Camera("c", 80, 60, 70.0, 90.0, 41.0, 28.5, np.eye(3), np.zeros(3))
    rays = distortion.pixel_rays(cam).reshape(-1, 3)
    n = 40
    shapes = rng.choice([BOX, CYLINDER, SPHERE, CAPSULE], n)
    sizes = rng.uniform(0.02, 0.5, (n, 3))
    sizes[shapes != BOX, 1] = sizes[shapes != BOX, 0]
    sizes[shapes == SPHERE] = sizes[shapes == SPHERE, :1]
    q, _ = np.linalg.qr(rng.normal(size=(n, 3, 3)))
    q *= np.sign(np.linalg.det(q))[:, None, None]
    centre = rng.normal(size=(n, 3)) * [0.8, 0.6, 0.0] + [0.0, 0.0, 1.0] * rng.uniform(0.6, 6.0, (n, 1))
    pose = np.stack([rigid_transform(q[i], centre[i]) for i in range(n)])
    occ = OccluderSet.from_primitives(shapes, sizes, pose[None])
    a = rng.normal(size=(16, 3)) * [0.3, 0.5, 0.2] + [0.0, 0.0, 3.0]  # a body about 3 m away
    b = a + rng.normal(size=(16, 3)) * 0.3
    radius = rng.uniform(0.03, 0.12, 16)
    ends = np.stack([a, b], axis=1)
    plan = masks._occluder_plan(occ, cam, np.array([0]), ends, radius, len(a))
    t_body = np.min([primitives.ray_capsule(np.zeros(3), rays, a[s], b[s], radius[s]) for s in range(len(a))],
                    axis=0)
    v, u = np.divmod(np.arange(cam.width * cam.height), cam.width)
    kinds = set()
    for p in plan:
        t_obj = primitives.ray_primitive(np.zeros_like(rays), rays, occ, p.index, frames=np.zeros(len(rays), int))
        hit = np.isfinite(t_obj)
        near = p.near(np.zeros(len(u), np.int64), u, v)
        assert not hit[~near].any(), p.index
        body = np.isfinite(t_body) & hit
        if p.behind[0]:
            assert (t_obj[body] > t_body[body]).all()
            kinds.add("behind")
        elif p.front[0]:
            assert (t_obj[body] < t_body[body]).all()
            kinds.add("front")
    assert kinds == {"behind", "front"}
