"""Ray-cast visibility: hand-built scenes, the label partition, backends, occluder geometry."""

import numpy as np
import pytest

from occpose import Subject, body_model
from occpose.camera import Camera, look_at
from occpose.occlusion import (BOX, CAPSULE, CYLINDER, MESH, SPHERE, MeshData, OccluderSet,
                               VisibilityParams, disk_pattern, label_visibility, ray_targets,
                               rigid_transform, rotation_z)
from occpose.occlusion.raycast.visibility import labels_from_counts

CAMERA = Camera("test", 1000, 1000, 1000.0, 1000.0, 500.0, 500.0, np.eye(3), np.zeros(3))
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
L_ELBOW, L_WRIST, R_ELBOW, L_SHOULDER = 12, 13, 15, 11
LEFT, DOWN, BACK = np.eye(3)  # subject frame: x its left, y down, z away from a facing camera


def pose(arms="down", yaw_left_away=False, root=(0.0, 0.0, 4.0), subject=Subject("S1", 1.75)):
    """(17, 3) camera-frame joints of a standing subject, hip at ``root``.

    arms: "down", "t" (T-pose) or "point" (left arm pointing at the camera centre).
    yaw_left_away: turn the subject so its left side faces away from the camera (side view).
    """
    bone = subject.bone_lengths()
    d = {1: -LEFT, 2: DOWN, 3: DOWN, 4: LEFT, 5: DOWN, 6: DOWN, 7: -DOWN, 8: -DOWN, 9: -DOWN,
         10: -DOWN, 11: LEFT, 14: -LEFT}
    if arms == "t":
        d.update({12: LEFT, 13: LEFT, 15: -LEFT, 16: -LEFT})
    else:  # hanging, slightly abducted so the arms clear the flanks
        left, right = DOWN + 0.35 * LEFT, DOWN - 0.35 * LEFT
        d.update({12: left, 13: left, 15: right, 16: right})
        d = {k: v / np.linalg.norm(v) for k, v in d.items()}
    j = np.zeros((17, 3))
    for k in range(1, 17):
        j[k] = j[PARENTS[k]] + bone[k] * d[k]
    rot = np.eye(3)
    if yaw_left_away:  # subject's left -> camera +z, its back -> camera -x
        rot = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    j = j @ rot.T + np.asarray(root)
    if arms == "point":
        u = j[L_SHOULDER] / np.linalg.norm(j[L_SHOULDER])  # towards the camera: -u
        j[L_ELBOW] = j[L_SHOULDER] - bone[L_ELBOW] * u
        j[L_WRIST] = j[L_ELBOW] - bone[L_WRIST] * u
    return j


def random_poses(rng, n, distance=4.0):
    """(n, 17, 3) random but plausible poses: random bone directions around a standing pose,
    random heading and position."""
    bone = Subject("S1", 1.75).bone_lengths()
    base = {1: -LEFT, 2: DOWN, 3: DOWN, 4: LEFT, 5: DOWN, 6: DOWN, 7: -DOWN, 8: -DOWN,
            9: -DOWN, 10: -DOWN, 11: LEFT, 12: DOWN, 13: DOWN, 14: -LEFT, 15: DOWN, 16: DOWN}
    spread = {2: 0.4, 3: 0.4, 5: 0.4, 6: 0.4, 12: 1.2, 13: 1.5, 15: 1.2, 16: 1.5, 9: 0.2}
    j = np.zeros((n, 17, 3))
    for k in range(1, 17):
        d = base[k] + rng.normal(0, spread.get(k, 0.05), (n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        j[:, k] = j[:, PARENTS[k]] + bone[k] * d
    yaw = rng.uniform(-np.pi, np.pi, n)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.zeros((n, 3, 3))
    rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, s, 1, -s, c
    root = np.stack([rng.uniform(-1, 1, n), rng.uniform(-0.3, 0.3, n),
                     rng.uniform(distance - 1, distance + 1, n)], -1)
    return np.einsum("nij,nkj->nki", rot, j) + root[:, None]


def icosahedron() -> MeshData:
    p = (1 + 5 ** 0.5) / 2
    v = np.array([[-1, p, 0], [1, p, 0], [-1, -p, 0], [1, -p, 0], [0, -1, p], [0, 1, p],
                  [0, -1, -p], [0, 1, -p], [p, 0, -1], [p, 0, 1], [-p, 0, -1], [-p, 0, 1]])
    f = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
         [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
         [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    return MeshData("icosahedron", v / np.linalg.norm(v, axis=1, keepdims=True), np.array(f))


def random_occluders(rng, n) -> OccluderSet:
    """A box, a vertical pillar, a ball and a mesh rock around the subjects, jittered per frame."""
    centre = np.array([[0.3, 0.5, 3.0], [-0.5, 0.0, 3.3], [0.2, -0.2, 2.6], [-0.2, 0.7, 2.9]])
    p = np.tile(np.eye(4), (n, 4, 1, 1))
    p[:, 1, :3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]  # pillar axis vertical
    p[:, 3, :3, :3] = rotation_z(0.4)
    p[:, :, :3, 3] = centre + rng.normal(0, 0.15, (n, 4, 3))
    return OccluderSet.from_primitives(
        [BOX, CYLINDER, SPHERE, MESH],
        [[0.5, 0.3, 0.05], [0.15, 0.15, 1.2], [0.15, 0.15, 0.15], [0.3, 0.2, 0.25]], p,
        group=[0, 1, 2, 2], mesh_index=[-1, -1, -1, 0], meshes=(icosahedron(),))


def wall(centre, half=(0.1, 0.1, 0.02)) -> OccluderSet:
    return OccluderSet.from_primitives([BOX], [half], rigid_transform(translation=centre)[None])


# --------------------------------------------------------------------------------- scenarios
@pytest.mark.parametrize("preset", ["cheng2019", "anthropometric"])
def test_frontal_t_pose_is_fully_visible(preset):
    lab = label_visibility(pose("t")[None], body_model(preset), CAMERA)
    assert not (lab.occluded | lab.out_of_frame).any()
    # every ray reaches its joint, except that the chest (the spine capsule's ball at the
    # thorax) covers the lowest disk sample of the neck
    blocked = {j: 9 - round(9 * float(v)) for j, v in enumerate(lab.visibility[0]) if v < 1}
    assert set(blocked) <= {9} and max(blocked.values(), default=0) <= 2
    assert lab.occluder_fraction[0] == 0 and lab.self_occlusion_fraction[0] == 0


def test_joint_behind_a_wall_is_occluded_by_object():
    joints = pose("t")
    occ = wall(0.75 * joints[L_WRIST])  # a 20 cm square, 3 m from the camera, on the wrist's ray
    lab = label_visibility(joints[None], body_model("cheng2019"), CAMERA, occ)
    assert lab.visibility[0, L_WRIST] == 0.0
    assert lab.occluded_by_object[0, L_WRIST] and not lab.occluded_by_body[0, L_WRIST]
    assert lab.occluded_by_object.sum() == 1 and lab.visibility[0, L_ELBOW] == 1.0
    assert lab.occluder_fraction[0] == pytest.approx(1 / 17)


def test_elbow_behind_the_torso_seen_from_the_side_is_self_occluded():
    lab = label_visibility(pose("down", yaw_left_away=True)[None], body_model("cheng2019"), CAMERA)
    assert lab.occluded_by_body[0, L_ELBOW]
    assert not lab.occluded[0, R_ELBOW]  # the near elbow
    assert lab.self_occlusion_fraction[0] == pytest.approx(lab.occluded_by_body.sum() / 17)
    assert not lab.occluded_by_object.any()


@pytest.mark.parametrize("preset", ["cheng2019", "anthropometric"])
def test_arm_pointing_at_the_camera_hides_its_own_elbow(preset):
    lab = label_visibility(pose("point")[None], body_model(preset), CAMERA)
    assert lab.occluded_by_body[0, L_ELBOW] and lab.visibility[0, L_ELBOW] == 0.0
    assert lab.occluded_by_body[0, L_SHOULDER]
    assert lab.visibility[0, L_WRIST] == 1.0 and not lab.occluded[0, L_WRIST]


def test_out_of_frame_is_not_occluded():
    joints = pose("t", root=(1.5, 0.0, 4.0))  # left wrist projects beyond u = 1000
    occ = wall(0.75 * joints[L_WRIST])  # ... and is behind a wall too
    lab = label_visibility(joints[None], body_model("cheng2019"), CAMERA, occ)
    assert lab.out_of_frame[0, L_WRIST] and not lab.out_of_frame[0, L_ELBOW]
    assert lab.visibility[0, L_WRIST] == 0.0  # still ray-cast ...
    assert not lab.occluded[0, L_WRIST] and not lab.occluded_by_object[0, L_WRIST]  # ... but
    behind = label_visibility(pose("t", root=(0, 0, -4.0))[None], body_model("cheng2019"), CAMERA)
    assert behind.out_of_frame.all() and not behind.occluded.any()


def test_out_of_frame_uses_lens_distortion():
    joints = pose("t", root=(1.3, 0.0, 4.0))
    distorted = Camera("d", 1000, 1000, 1000.0, 1000.0, 500.0, 500.0, np.eye(3), np.zeros(3),
                       k=(0.2, 0.0, 0.0))
    body = body_model("cheng2019")
    plain = label_visibility(joints[None], body, CAMERA)
    warped = label_visibility(joints[None], body, distorted)
    assert not plain.out_of_frame[0, L_WRIST] and warped.out_of_frame[0, L_WRIST]


def test_camera_inside_an_occluder_hides_everything():
    occ = OccluderSet.from_primitives([SPHERE], [[0.5, 0.5, 0.5]], np.eye(4)[None, None])
    lab = label_visibility(pose("t")[None], body_model("cheng2019"), CAMERA, occ)
    assert lab.occluded_by_object.all() and lab.occluder_fraction[0] == 1.0


@pytest.mark.parametrize("preset", ["cheng2019", "anthropometric"])
def test_labels_partition_every_joint(preset):
    rng = np.random.default_rng(10)
    joints = random_poses(rng, 300)
    lab = label_visibility(joints, body_model(preset), CAMERA, random_occluders(rng, 300))
    visible = ~lab.occluded & ~lab.out_of_frame
    total = (visible.astype(int) + lab.occluded_by_body + lab.occluded_by_object
             + lab.out_of_frame)
    assert (total == 1).all()
    assert (lab.occluded == (lab.occluded_by_body | lab.occluded_by_object)).all()
    assert (lab.occluded == ((lab.visibility < 0.5) & ~lab.out_of_frame)).all()
    for name in ("visible", "occluded_by_body", "occluded_by_object"):  # scenes exercise all
        assert (visible if name == "visible" else getattr(lab, name)).sum() > 50
    np.testing.assert_allclose(lab.occluder_fraction, lab.occluded_by_object.mean(1))
    np.testing.assert_allclose(lab.self_occlusion_fraction, lab.occluded_by_body.mean(1))
    assert lab.visibility.dtype == np.float32 and lab.occluder_fraction.dtype == np.float32


def test_single_ray_gives_binary_visibility():
    rng = np.random.default_rng(11)
    lab = label_visibility(random_poses(rng, 100), body_model("cheng2019"), CAMERA,
                           random_occluders(rng, 100), VisibilityParams(rays=1))
    assert set(np.unique(lab.visibility)) <= {0.0, 1.0}
    assert (lab.visibility == 0).any() and (lab.visibility == 1).any()


def test_ties_go_to_the_object():
    n_blocked = np.array([[6, 6, 6, 2]])
    n_object = np.array([[3, 2, 4, 2]])
    lab = labels_from_counts(n_blocked, n_object, 9, np.zeros((1, 4), bool))
    assert lab.occluded.tolist() == [[True, True, True, False]]
    assert lab.occluded_by_object.tolist() == [[True, False, True, False]]
    assert lab.occluded_by_body.tolist() == [[False, True, False, False]]


# ----------------------------------------------------------------------------- ray pattern
def test_ray_targets_lie_on_the_disk():
    params = VisibilityParams(rays=9, disk_fraction=0.5)
    body = body_model("anthropometric")
    joints = random_poses(np.random.default_rng(12), 5)
    targets = ray_targets(joints, body.joint_radius, params)  # (T, J, K, 3)
    r = body.joint_radius
    u = joints / np.linalg.norm(joints, axis=-1, keepdims=True)
    front = joints - r[:, None] * u
    np.testing.assert_allclose(targets[:, :, 0], front)  # ray 0 is the centre ray
    offset = targets - front[:, :, None]
    np.testing.assert_allclose(np.einsum("tjki,tji->tjk", offset, u), 0, atol=1e-12)  # in plane
    dist = np.linalg.norm(offset, axis=-1)
    np.testing.assert_allclose(dist[..., -1], np.broadcast_to(0.5 * r, dist.shape[:2]))  # rim
    assert (dist <= 0.5 * r[:, None] + 1e-12).all()
    assert disk_pattern(VisibilityParams(rays=1)).tolist() == [[0.0, 0.0]]


# ------------------------------------------------------------------------------- backends
def test_numpy_matches_reference():
    rng = np.random.default_rng(13)
    joints = random_poses(rng, 120)
    occ = random_occluders(rng, 120)
    for preset in ("cheng2019", "anthropometric"):
        body = body_model(preset)
        fast = label_visibility(joints, body, CAMERA, occ)
        ref = label_visibility(joints, body, CAMERA, occ, backend="reference")
        assert (fast.visibility != ref.visibility).mean() < 2e-3  # float32 vs float64 grazing
        for name in ("occluded", "occluded_by_body", "occluded_by_object", "out_of_frame"):
            assert (getattr(fast, name) != getattr(ref, name)).mean() < 2e-3


def test_torch_matches_numpy():
    pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    joints = random_poses(rng, 200)
    occ = random_occluders(rng, 200)
    for preset in ("cheng2019", "anthropometric"):
        body = body_model(preset)
        a = label_visibility(joints, body, CAMERA, occ)
        b = label_visibility(joints, body, CAMERA, occ, backend="torch", device="cpu")
        assert (a.visibility != b.visibility).mean() < 1e-3
        assert np.abs(a.visibility - b.visibility).max() <= 1 / 9 + 1e-6
        for name in ("occluded", "occluded_by_body", "occluded_by_object", "out_of_frame"):
            assert (getattr(a, name) != getattr(b, name)).mean() < 1e-3
    c = label_visibility(joints[:3], body, CAMERA, None, backend="torch", device="cpu")
    assert c.visibility.shape == (3, 17) and not c.occluded_by_object.any()


def test_chunking_threads_and_static_occluders_do_not_change_labels():
    rng = np.random.default_rng(15)
    joints = random_poses(rng, 50)
    body = body_model("cheng2019")
    static = wall([0.2, 0.3, 3.0], half=(0.4, 0.4, 0.05))
    repeated = static._replace(pose=np.repeat(static.pose, 50, axis=0))
    a = label_visibility(joints, body, CAMERA, static, chunk=7)
    b = label_visibility(joints, body, CAMERA, repeated)
    c = label_visibility(joints, body, CAMERA, repeated, chunk=16, workers=2)
    for other in (b, c):
        np.testing.assert_array_equal(a.visibility, other.visibility)
        np.testing.assert_array_equal(a.occluded_by_object, other.occluded_by_object)
    assert a.occluded_by_object.any()
    empty = label_visibility(joints[:0], body, CAMERA, repeated.select_frames(slice(0, 0)))
    assert empty.visibility.shape == (0, 17)


def test_label_visibility_rejects_bad_input():
    body = body_model("cheng2019")
    with pytest.raises(ValueError, match="shape"):
        label_visibility(np.zeros((2, 15, 3)), body, CAMERA)
    with pytest.raises(ValueError, match="non-finite"):
        label_visibility(np.full((1, 17, 3), np.nan), body, CAMERA)
    with pytest.raises(ValueError, match="backend"):
        label_visibility(pose()[None], body, CAMERA, backend="cuda")
    with pytest.raises(ValueError, match="frames"):
        label_visibility(np.repeat(pose()[None], 3, 0), body, CAMERA,
                         random_occluders(np.random.default_rng(0), 2))
    with pytest.raises(ValueError):
        VisibilityParams(rays=0)


# ------------------------------------------------------------------------ occluder geometry
def test_occluder_set_round_trip(tmp_path):
    occ = random_occluders(np.random.default_rng(16), 4)
    arrays = occ.to_arrays()
    assert all(k.startswith("occluder_") for k in arrays)
    assert arrays["occluder_pose"].dtype == np.float64
    np.savez(tmp_path / "a.npz", **arrays)
    with np.load(tmp_path / "a.npz", allow_pickle=False) as f:
        back = OccluderSet.from_arrays(f)
    for name in ("shape", "size", "pose", "group", "color", "mesh_index"):
        np.testing.assert_array_equal(getattr(back, name), getattr(occ, name))
        assert getattr(back, name).dtype == getattr(occ, name).dtype
    assert len(back.meshes) == 1 and back.meshes[0].name == "icosahedron"
    np.testing.assert_array_equal(back.meshes[0].vertices, occ.meshes[0].vertices)
    np.testing.assert_array_equal(back.meshes[0].faces, occ.meshes[0].faces)
    empty = OccluderSet.from_arrays(OccluderSet.empty(3).to_arrays())
    assert empty.num_primitives == 0 and empty.n_frames == 3


def test_occluder_set_validation_messages():
    good = dict(shape=[BOX], size=[[1, 1, 1]], pose=np.eye(4)[None, None], group=[0],
                color=[[0.5, 0.5, 0.5]], mesh_index=[-1])
    OccluderSet(**good)
    cases = {"size": ([[1, 1]], "size must have shape"),
             "pose": (np.eye(4)[None], "pose must have shape"),
             "color": ([[0.5, np.nan, 0.5]], "non-finite"),
             "mesh_index": ([0], "mesh_index"),
             "shape": ([9], "shape codes")}
    for key, (value, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            OccluderSet(**{**good, key: value})
    with pytest.raises(ValueError, match="positive"):
        OccluderSet(**{**good, "size": [[1, 0, 1]]})
    scaled = np.eye(4)
    scaled[0, 0] = 2.0
    with pytest.raises(ValueError, match="rigid"):
        OccluderSet(**{**good, "pose": scaled[None, None]})
    OccluderSet(**{**good, "shape": [CAPSULE], "size": [[0.2, 0.2, 0.0]]})  # h = 0: a ball
    with pytest.raises(ValueError, match="key"):
        OccluderSet.from_arrays({})


def test_occluder_set_frames_and_concat():
    occ = random_occluders(np.random.default_rng(17), 5)
    assert occ.num_primitives == 4 and occ.n_frames == 5 and occ.num_groups == 3
    assert occ.select_frames(slice(1, 3)).n_frames == 2 and occ.select_frames(4).n_frames == 1
    both = occ.concat(occ)
    assert both.num_primitives == 8 and both.num_groups == 6
    assert both.mesh_index.tolist() == [-1, -1, -1, 0, -1, -1, -1, 1] and len(both.meshes) == 2
    with pytest.raises(ValueError):
        occ.concat(occ.select_frames(slice(0, 2)))


def test_occluder_set_camera_frame_and_bounds():
    cam = Camera("c", 100, 100, 100.0, 100.0, 50.0, 50.0,
                 look_at([0.0, -5.0, 1.0], [0.0, 0.0, 1.0]), np.array([0.0, -5.0, 1.0]))
    box = OccluderSet.from_primitives([BOX], [[0.5, 0.2, 0.1]],
                                      rigid_transform(rotation_z(np.pi / 2), [0, 0, 1])[None, None])
    in_cam = box.in_camera_frame(cam)
    np.testing.assert_allclose(in_cam.pose[0, 0, :3, 3], [0, 0, 5], atol=1e-12)
    aabb = box.world_aabb()[0, 0]  # rotated 90 degrees about z: x and y extents swap
    np.testing.assert_allclose(aabb, [[-0.2, -0.5, 0.9], [0.2, 0.5, 1.1]], atol=1e-12)
    pillar = OccluderSet.from_primitives([CYLINDER, CAPSULE, SPHERE],
                                         [[0.1, 0.1, 1.0], [0.1, 0.1, 1.0], [0.3, 0.3, 0.3]],
                                         np.tile(np.eye(4), (1, 3, 1, 1)))
    np.testing.assert_allclose(pillar.world_aabb()[0, :, 1], [[0.1, 0.1, 1.0], [0.1, 0.1, 1.1],
                                                               [0.3, 0.3, 0.3]])
