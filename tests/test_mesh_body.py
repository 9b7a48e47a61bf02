"""The mesh-body visibility definition (numpy): hand-computable cases and agreement with the
capsule definition on the cylinder-man exported as a skinned mesh."""

from __future__ import annotations

import numpy as np
import pytest

from occpose.camera import Camera, world_to_camera
from occpose.config import load_config
from occpose.generate import motion_world, place_sequence, plan, visibility_params
from occpose.occlusion.raycast import mesh_body
from occpose.occlusion.raycast.visibility import VisibilityParams
from occpose.viz.frames import joint_states

CAMERA = Camera(name="c", width=100, height=100, fx=100.0, fy=100.0, cx=50.0, cy=50.0,
                rot_world_to_cam=np.eye(3), position=np.zeros(3))


def square(z: float, half: float = 0.5, x: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Two triangles of a square facing the camera at depth z, centred at (x, 0)."""
    v = np.array([[x - half, -half, z], [x + half, -half, z], [x + half, half, z], [x - half, half, z]])
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def one_joint_body(own: bool, tolerance: float = 0.01, radius: float = 0.05) -> mesh_body.MeshBody:
    _, faces = square(1.0)
    return mesh_body.MeshBody(faces, np.zeros(2, np.int64), np.array([[own]]), np.array([radius]),
                              np.array([tolerance]))


@pytest.mark.parametrize("own, z, state", [
    (False, 1.5, 1),  # another part's surface 45 cm in front of the joint's target: hidden by the body
    (True, 1.5, 1),  # its own part far in front of it (a limb pointing at the camera): hidden too
    (True, 1.945, 0),  # its own surface 5 mm in front of the target (tolerance 1 cm): visible
    (False, 1.945, 1),  # another part's surface there: hidden
    (False, 2.5, 0),  # behind the joint: visible
])
def test_surface_in_front_of_a_joint(own, z, state):
    verts, _ = square(z)
    joints = np.array([[[0.0, 0.0, 2.0]]])  # target at z = 1.95 (radius 5 cm)
    lab = mesh_body.label_mesh_body(joints, verts[None], one_joint_body(own), CAMERA,
                                    params=VisibilityParams(rays=5))
    assert joint_states(lab.to_arrays())[0, 0] == state


def test_occluder_before_body_is_an_object_and_out_of_frame():
    from occpose.occlusion.occluders.geometry import BOX, OccluderSet, rigid_transform

    verts, _ = square(1.5)
    joints = np.array([[[0.0, 0.0, 2.0], [5.0, 0.0, 2.0]]])  # the second projects to u = 300 px
    body = mesh_body.MeshBody(square(1.0)[1], np.zeros(2, np.int64), np.zeros((2, 1), bool),
                              np.array([0.05, 0.05]), np.array([0.01, 0.01]))
    box = OccluderSet.from_primitives([BOX], [[0.3, 0.3, 0.05]], rigid_transform(None, [0, 0, 1.0])[None])
    lab = mesh_body.label_mesh_body(joints, verts[None], body, CAMERA, box, VisibilityParams(rays=5))
    np.testing.assert_array_equal(joint_states(lab.to_arrays())[0], [2, 3])  # object, out of frame


def test_face_parts_radii_and_own_parts():
    faces = np.array([[0, 1, 2], [2, 3, 0]])
    weights = np.array([[1.0, 0.0], [0.2, 0.8], [0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(mesh_body.face_parts(faces, weights), [1, 0])  # 1.0 + 0.8 vs 1.2
    np.testing.assert_array_equal(mesh_body.face_parts(faces, np.zeros((4, 2))), [-1, -1])
    heads, tails = np.array([[0.0, 0, 0], [0.0, 0, 1]]), np.array([[0.0, 0, 1], [0.0, 0, 2]])
    joints = np.array([[0.0, 0, 0], [0.0, 0, 1], [0.0, 0, 2], [0.0, 0.5, 0.5]])
    np.testing.assert_array_equal(mesh_body.own_parts(joints, heads, tails),
                                  [[1, 0], [1, 1], [0, 1], [0, 0]])
    ring = np.array([[0.1 * np.cos(a), 0.1 * np.sin(a), 0.5] for a in np.linspace(0, 6, 12)])
    radius, spread = mesh_body.part_radii(ring, np.array([[i, i + 1, i + 2] for i in range(10)]),
                                          np.zeros(10, np.int64), heads[:1], tails[:1])
    np.testing.assert_allclose(radius, [0.1]) and np.testing.assert_allclose(spread, [0.0], atol=1e-12)


def test_cylinder_man_mesh_agrees_with_capsules(tiny_preset):
    """The figure of the closing note: mesh-body labels of the cylinder-man exported as a skinned
    mesh (16 segments, 4 rings per hemisphere) vs the capsule labels, occluders included."""
    cfg = load_config(tiny_preset, ["benchmark.frames=16", "benchmark.levels=[0.0, 0.3]"])
    params, cam = visibility_params(cfg), cfg.camera_objects()[0]
    same = total = 0
    seen = np.zeros(4, np.int64)
    for key in plan(cfg):
        joints = motion_world(cfg, key.subject, key.action)
        placed = place_sequence(cfg, key, joints, cam)
        body = cfg.body_model(key.subject)
        joints_cam = world_to_camera(joints, cam)
        verts, faces, part = mesh_body.capsule_body_mesh(body, joints_cam)
        mb = mesh_body.make_mesh_body(verts[0], faces, part, body.incidence,
                                      joints_cam[0, body.seg_a], joints_cam[0, body.seg_b], params)
        np.testing.assert_allclose(mb.joint_radius, body.joint_radius, rtol=0.011)  # mean radius
        np.testing.assert_allclose(mb.own_tolerance, params.tolerance, atol=1e-9)  # round limbs
        lab = mesh_body.label_mesh_body(joints_cam, verts, mb, cam, placed.occluders.in_camera_frame(cam), params)
        ref = joint_states(placed.labels.to_arrays())
        same += int((joint_states(lab.to_arrays()) == ref).sum())
        total += ref.size
        seen += np.bincount(ref.ravel(), minlength=4)
    assert seen[1] > 0.05 * total and seen[2] > 0.05 * total  # body and object occlusion occur
    assert same / total >= 0.98, same / total


def test_mesh_masks_match_the_capsule_masks():
    """Per-pixel casts on the cylinder-man mesh give the capsule silhouette (within the
    tessellation) and occluders hide the pixels behind them."""
    from occpose.body import body_model
    from occpose.occlusion.occluders.geometry import BOX, OccluderSet, rigid_transform
    from occpose.occlusion.raycast.primitives import ray_capsule

    body = body_model("cheng2019")
    rng = np.random.default_rng(0)
    joints = np.array([[0.0, -0.8 + 0.1 * j, 3.0] for j in range(17)]) + rng.normal(0, 0.05, (17, 3))
    verts, faces, _ = mesh_body.capsule_body_mesh(body, joints[None], 32, 8)
    yy, xx = np.mgrid[0:100, 0:100] + 0.5
    dirs = np.stack([(xx - 50) / 100, (yy - 50) / 100, np.ones_like(xx)], axis=-1)
    visible, subject = mesh_body.mesh_masks(verts[0], faces, dirs)
    a, b, r = body.capsules(joints)
    exact = np.zeros((100, 100), bool)
    for s in range(len(r)):
        exact |= np.isfinite(ray_capsule(np.zeros(3), dirs, a[s], b[s], r[s]))
    assert (subject == exact).mean() > 0.99 and subject.sum() > 300
    np.testing.assert_array_equal(visible, subject)
    box = OccluderSet.from_primitives([BOX], [[2.0, 0.2, 0.05]], rigid_transform(None, [0, 0, 1.0])[None])
    visible, subject = mesh_body.mesh_masks(verts[0], faces, dirs, box)
    band = np.abs(yy - 50) < 20  # the box covers |y/z| < 0.2 / 0.95 -> 21 px around the centre
    assert not visible[band].any() and visible[subject & ~(np.abs(yy - 50) < 23)].all()


def test_parent_of_a_bone_starting_at_the_joint_is_own():
    heads = np.array([[0.0, 0, 1], [0.1, 0, 1], [0.1, 0, 0.5]])  # pelvis, thigh, shin
    tails = np.array([[0.0, 0, 1.2], [0.1, 0, 0.5], [0.1, 0, 0.1]])
    joints = np.array([[0.1, 0, 1], [0.1, 0, 0.5]])  # hip, knee
    own = mesh_body.own_parts(joints, heads, tails, parents=[-1, 0, 1])
    np.testing.assert_array_equal(own, [[1, 1, 0], [0, 1, 1]])


def test_placement_on_a_mesh_body_hits_the_level_in_front_of_the_mesh(tiny_preset):
    from occpose.occlusion.raycast.primitives import ray_primitive
    from occpose.rng import key_rng

    cfg = load_config(tiny_preset, ["benchmark.frames=8"])
    params, cam = visibility_params(cfg), cfg.camera_objects()[0]
    joints = motion_world(cfg, "S1", "walk")
    body = cfg.body_model("S1")
    verts, faces, part = mesh_body.capsule_body_mesh(body, joints)
    mb = mesh_body.make_mesh_body(verts[0], faces, part, body.incidence, joints[0, body.seg_a],
                                  joints[0, body.seg_b], params)
    placed = mesh_body.place_occluders_on_mesh(joints, verts, mb, cam, 0.3, key_rng(1, "t"), cfg.occluders,
                                               params, sequence="mesh test")
    assert abs(placed.labels.occluder_fraction.mean() - 0.3) <= cfg.occluders.tolerance
    again = mesh_body.label_mesh_body(world_to_camera(joints, cam), world_to_camera(verts, cam), mb, cam,
                                      placed.occluders.in_camera_frame(cam), params)
    np.testing.assert_array_equal(joint_states(again.to_arrays()), joint_states(placed.labels.to_arrays()))
    for t in range(len(joints)):  # no mesh vertex inside an occluder
        occ = placed.occluders.select_frames(t)
        for i in range(occ.num_primitives):
            inside = ray_primitive(verts[t], np.tile([0.0, 0.0, 1.0], (len(verts[t]), 1)), occ, i,
                                   frames=np.zeros(len(verts[t]), np.int64)) == 0
            assert not inside.any()


def test_body_mesh_arrays_round_trip_and_refuse_bad_files():
    from occpose.body import body_model

    body = body_model("cheng2019")
    joints = np.random.default_rng(1).normal(0, 0.3, (2, 17, 3)) + [0, 0, 3]
    verts, faces, part = mesh_body.capsule_body_mesh(body, joints)
    verts = verts.astype(np.float32).astype(np.float64)
    mb = mesh_body.make_mesh_body(verts[0], faces, part, body.incidence, joints[0, body.seg_a],
                                  joints[0, body.seg_b], VisibilityParams())
    arrays = mesh_body.body_mesh_arrays(verts, mb)
    back_verts, back = mesh_body.body_mesh_from_arrays(arrays, 2, 17)
    np.testing.assert_array_equal(back_verts, verts)
    np.testing.assert_array_equal(back.own, mb.own) and np.testing.assert_array_equal(back.faces, mb.faces)
    with pytest.raises(ValueError, match=r"vertices_world must be \(3, V, 3\) float32"):
        mesh_body.body_mesh_from_arrays(arrays, 3, 17)
    with pytest.raises(ValueError, match="faces index outside"):
        mesh_body.body_mesh_from_arrays({**arrays, "faces": arrays["faces"] + 10 ** 6}, 2, 17)
    with pytest.raises(ValueError, match="lacks the arrays own"):
        mesh_body.body_mesh_from_arrays({k: v for k, v in arrays.items() if k != "own"}, 2, 17)
