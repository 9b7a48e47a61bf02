"""Tests for occpose.occlusion.heuristics.labels on hand-made poses with known answers."""

import warnings

import numpy as np
import pytest

from occpose.camera import Camera, project_to_2d
from occpose.config import HeuristicsSection
from occpose.occlusion.heuristics.labels import (BOX_LAYOUTS, box_hits, boxed_occlusion, boxed_occlusion_grid,
                                          clustered_occlusion, clustered_occlusion_grid,
                                          heuristic_labels, points_in_convex_quads, points_in_hull4,
                                          segment_boxes)
from occpose.skeleton import H36M_17

# A person facing the camera, 4 m away, arms hanging at the sides; camera frame metres (x right,
# y down). Its own right side is at negative x. Nothing occludes anything here.
STAND = np.array([
    [0.00, 0.00, 4.0], [-0.12, 0.00, 4.0], [-0.12, 0.45, 4.0], [-0.12, 0.90, 4.0],   # Hip, R leg
    [0.12, 0.00, 4.0], [0.12, 0.45, 4.0], [0.12, 0.90, 4.0],                         # L leg
    [0.00, -0.25, 4.0], [0.00, -0.50, 4.0], [0.00, -0.60, 3.92], [0.00, -0.75, 4.0],  # spine, head
    [0.18, -0.50, 4.0], [0.20, -0.22, 4.0], [0.20, 0.02, 4.0],                      # L arm
    [-0.18, -0.50, 4.0], [-0.20, -0.22, 4.0], [-0.20, 0.02, 4.0],                   # R arm
])
J = {name: i for i, name in enumerate(H36M_17.joint_names)}
DELTA = 0.02


def stand(frames: int = 1) -> np.ndarray:
    return np.repeat(STAND[None], frames, axis=0).copy()          # (T, 17, 3)


def boxed(pose: np.ndarray, depth: bool = False, spine: str = "exempt") -> np.ndarray:
    """Boxed-man labels using the pose's camera X, Y as the 2D coordinates."""
    return boxed_occlusion(pose[..., :2], DELTA, pose[..., 2] if depth else None, spine=spine)


def occluded_names(labels: np.ndarray) -> set[str]:
    return {H36M_17.joint_names[j] for j in np.flatnonzero(labels)}


# ---- clustered ----------------------------------------------------------------------------------

def test_standing_pose_has_no_occlusion():
    pose = stand()
    assert not clustered_occlusion(pose[..., :2], pose[..., 2], 0.06).any()
    assert not boxed(pose).any()
    assert not boxed(pose, depth=True).any()
    # the text's reading: the torso box occludes every joint but its corners; the Spine lies
    # inside it (Hip and Thorax lie on its hip and shoulder edges, not strictly inside)
    assert occluded_names(boxed(pose, spine="boxed")[0]) == {"Spine"}
    assert occluded_names(boxed_occlusion(pose[..., :2], DELTA)[0]) == {"Spine"}   # the default


def test_two_close_joints_farther_one_occluded():
    pose = stand(2)
    pose[:, J["LWrist"]] = [0.03, -0.25, 4.1]     # 3 cm from Spine, behind it
    pose[1, J["LWrist"], 2] = 3.9                 # frame 1: in front of it
    occ = clustered_occlusion(pose[..., :2], pose[..., 2], 0.06)
    assert occluded_names(occ[0]) == {"LWrist"}
    assert occluded_names(occ[1]) == {"Spine"}
    # just beyond epsilon: two singletons, both visible
    assert not clustered_occlusion(pose[..., :2], pose[..., 2], 0.029).any()


def test_chain_is_one_cluster():
    # A near B near C, A and C 10 cm apart: connected components make one cluster of three,
    # so only the nearest of the three is visible, even when it is far from one of them.
    pose = stand(3)
    chain = [J["RWrist"], J["LWrist"], J["Spine"]]
    pose[:, J["Spine"]] = [0.00, -0.25, 4.0]
    pose[:, J["LWrist"]] = [0.05, -0.25, 4.0]
    pose[:, J["RWrist"]] = [0.10, -0.25, 4.0]
    pose[0, chain, 2] = [3.8, 4.0, 4.2]          # A nearest: B and C hidden
    pose[1, chain, 2] = [4.2, 4.0, 3.8]          # C nearest: A and B hidden (A is 10 cm from C)
    pose[2, chain, 2] = [4.2, 3.8, 4.2]          # B nearest: A and C hidden
    occ = clustered_occlusion(pose[..., :2], pose[..., 2], 0.06, "chained")
    assert occluded_names(occ[0]) == {"LWrist", "Spine"}
    assert occluded_names(occ[1]) == {"RWrist", "LWrist"}
    assert occluded_names(occ[2]) == {"RWrist", "Spine"}


def test_one_visible_joint_per_cluster_and_ties():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 0.3, size=(50, 17, 2))
    z = rng.uniform(3, 5, size=(50, 17))
    occ = clustered_occlusion(xy, z, 0.05, "chained")
    # count clusters independently with a union-find per frame
    for t in range(0, 50, 7):
        parent = list(range(17))

        def find(i):
            while parent[i] != i:
                i = parent[i]
            return i
        for i in range(17):
            for k in range(17):
                if np.linalg.norm(xy[t, i] - xy[t, k]) < 0.05:
                    parent[find(i)] = find(k)
        roots = {find(i) for i in range(17)}
        assert (~occ[t]).sum() == len(roots)
        for r in roots:
            members = [i for i in range(17) if find(i) == r]
            nearest = members[int(np.argmin(z[t, members]))]
            assert not occ[t, nearest]
    # equal depth: the lower joint index stays visible
    xy = np.zeros((1, 3, 2))
    assert clustered_occlusion(xy, np.full((1, 3), 4.0), 0.01)[0].tolist() == [False, True, True]


def test_text_clusters_are_a_joint_and_its_neighbours():
    # A-B-C-D 5 cm apart in a row, epsilon 6 cm: chained, all four are one cluster and only the
    # nearest (A) is visible; as the text writes, S_D = {C, D} keeps D visible.
    xy = np.array([[[0.0, 0.0], [0.05, 0.0], [0.10, 0.0], [0.15, 0.0]]])
    z = np.array([[3.8, 4.0, 4.2, 3.9]])
    assert clustered_occlusion(xy, z, 0.06, "chained")[0].tolist() == [False, True, True, True]
    assert clustered_occlusion(xy, z, 0.06, "neighbours")[0].tolist() == [False, True, True, False]
    assert np.array_equal(clustered_occlusion(xy, z, 0.06), clustered_occlusion(xy, z, 0.06, "neighbours"))
    # against a direct transcription of the text on random poses
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 0.3, size=(40, 17, 2))
    z = rng.uniform(3, 5, size=(40, 17))
    z[:, 5] = z[:, 4]                                            # a tie: the lower index wins
    occ = clustered_occlusion(xy, z, 0.05)
    for t in range(40):
        want = np.zeros(17, bool)
        for i in range(17):
            cluster = [i] + [k for k in range(17) if k != i and np.hypot(*(xy[t, i] - xy[t, k])) < 0.05]
            nearest = min(cluster, key=lambda k: (z[t, k], k))
            want[[k for k in cluster if k != nearest]] = True
        assert occ[t].tolist() == want.tolist()
    with pytest.raises(ValueError, match="clusters"):
        clustered_occlusion(xy, z, 0.05, "linked")


def test_clustered_grid_matches_single_calls_across_chunks():
    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 0.4, size=(2500, 17, 2))     # more than one chunk of frames
    z = rng.uniform(3, 5, size=(2500, 17))
    grid = clustered_occlusion_grid(xy, z, [0.02, 0.05])
    assert grid.shape == (2, 2500, 17) and grid.dtype == bool
    assert np.array_equal(grid[1], clustered_occlusion(xy, z, 0.05))
    assert np.array_equal(grid[0][-3:], clustered_occlusion(xy[-3:], z[-3:], 0.02))


# ---- boxed man ----------------------------------------------------------------------------------

def test_segment_boxes_vertical_and_horizontal():
    a = np.array([[0.0, 0.0], [0.0, 0.0]])
    b = np.array([[0.0, 1.0], [1.0, 0.0]])                       # vertical, horizontal
    boxes = segment_boxes(a, b, 0.1)
    assert np.isfinite(boxes).all()
    np.testing.assert_allclose(np.sort(boxes[0, :, 0]), [-0.1, -0.1, 0.1, 0.1])   # x = +-delta
    np.testing.assert_allclose(np.sort(boxes[0, :, 1]), [0, 0, 1, 1])
    np.testing.assert_allclose(np.sort(boxes[1, :, 1]), [-0.1, -0.1, 0.1, 0.1])   # y = +-delta
    np.testing.assert_allclose(np.sort(boxes[1, :, 0]), [0, 0, 1, 1])
    # a diagonal: the paper's (cos, sin)(arctan(-1/m)) offsets, up to sign
    box = segment_boxes(np.zeros(2), np.array([1.0, 2.0]), 0.1)
    ang = np.arctan(-1 / 2.0)
    offset = 0.1 * np.array([np.cos(ang), np.sin(ang)])
    np.testing.assert_allclose(np.abs(box[0]), np.abs(offset))


@pytest.mark.parametrize("direction", ["vertical", "horizontal"])
def test_joint_inside_axis_aligned_limb(direction):
    pose = stand(5)
    # the left forearm LElbow -> LWrist, made exactly vertical or horizontal
    if direction == "vertical":
        pose[:, J["LElbow"], :2] = [0.40, -0.30]
        pose[:, J["LWrist"], :2] = [0.40, 0.10]
        probes = [[0.40 + 0.9 * DELTA, -0.10], [0.40 - 0.9 * DELTA, -0.10],
                  [0.40 + 1.1 * DELTA, -0.10], [0.40, 0.12], [0.40, -0.36]]
    else:
        pose[:, J["LElbow"], :2] = [0.40, -0.30]
        pose[:, J["LWrist"], :2] = [0.80, -0.30]
        probes = [[0.60, -0.30 + 0.9 * DELTA], [0.60, -0.30 - 0.9 * DELTA],
                  [0.60, -0.30 - 1.1 * DELTA], [0.82, -0.30], [0.34, -0.30]]
    # Spine as the probe: it owns no limb box, so moving it changes no box
    pose[:, J["Spine"], :2] = probes                              # one probe per frame
    pose[:, J["Spine"], 2] = 4.5                                  # behind the forearm
    occ = boxed(pose)
    assert occ[:, J["Spine"]].tolist() == [True, True, False, False, False]
    assert occluded_names(occ.any(axis=0)) == {"Spine"}


def test_plain_boxed_ignores_depth_depth_aware_needs_limb_in_front():
    pose = stand(2)
    pose[:, J["RWrist"], :2] = [0.20, -0.10]                      # on the left forearm's axis
    pose[0, J["RWrist"], 2] = 4.3                                 # behind the forearm
    pose[1, J["RWrist"], 2] = 3.7                                 # in front of it
    assert boxed(pose)[:, J["RWrist"]].tolist() == [True, True]
    assert boxed(pose, depth=True)[:, J["RWrist"]].tolist() == [True, False]


def test_depth_aware_interpolates_along_the_limb():
    # A thigh pointing away from the camera: hip at 3.5 m, knee at 4.5 m. A probe at 4.1 m is
    # behind the thigh's first half (hidden) but in front of its second half (visible).
    pose = stand(2)
    pose[:, J["LKnee"], 2] = 4.5
    pose[:, J["LHip"], 2] = 3.5
    pose[0, J["RWrist"]] = [0.12, 0.45 * 0.25, 4.1]             # a quarter down: thigh at 3.75 m
    pose[1, J["RWrist"]] = [0.12, 0.45 * 0.75, 4.1]             # three quarters: thigh at 4.25 m
    assert boxed(pose)[:, J["RWrist"]].tolist() == [True, True]
    assert boxed(pose, depth=True)[:, J["RWrist"]].tolist() == [True, False]


def test_torso_quad_any_corner_order_and_spine_joints():
    pose = stand(3)
    pose[:, J["RElbow"]] = [0.08, -0.42, 4.2]
    pose[:, J["RWrist"]] = [0.08, -0.32, 4.2]                     # hand behind the chest
    pose[1, J["RWrist"], 2] = 3.8                                 # hand in front of the chest
    # frame 2: shoulders swapped (twisted torso); RHip, LHip, LShoulder, RShoulder is a bowtie
    pose[2, [J["LShoulder"], J["RShoulder"]]] = pose[2, [J["RShoulder"], J["LShoulder"]]]
    plain, aware = boxed(pose), boxed(pose, depth=True)
    assert plain[:, J["RWrist"]].tolist() == [True, True, True]
    assert aware[:, J["RWrist"]].tolist() == [True, False, True]
    # Hip, Spine and Thorax lie inside the torso but belong to it
    assert not plain[:, [J["Hip"], J["Spine"], J["Thorax"]]].any()
    pose[:, J["RWrist"]] = [0.08, 0.20, 4.2]                      # below the hips
    assert not boxed(pose)[:, J["RWrist"]].any()


def test_points_in_quads_windings_and_degenerate():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    pts = np.array([[[0.5, 0.5], [0.5, 0.0], [1.5, 0.5], [0.999, 0.001]]])    # (1, 4, 2)
    expected = [True, False, False, True]                         # the edge point is not inside
    for quad in (square, square[::-1]):
        assert points_in_convex_quads(pts, quad[None, None])[0, 0].tolist() == expected
        assert points_in_hull4(pts, quad[None, None])[0, 0].tolist() == expected
    bowtie = square[[0, 1, 3, 2]]
    assert points_in_hull4(pts, bowtie[None, None])[0, 0].tolist() == expected
    dent = np.array([[0, 0], [2, 0], [0.5, 0.5], [0, 2]], dtype=float)       # one corner inside
    assert points_in_hull4(np.array([[[0.9, 0.9], [0.2, 0.2]]]), dent[None, None])[0, 0].all()
    line = np.array([[0, 0], [1, 1], [2, 2], [3, 3]], dtype=float)
    assert not points_in_hull4(np.array([[[1.5, 1.5]]]), line[None, None]).any()


def test_zero_length_segment_is_an_empty_box():
    pose = stand(1)
    pose[:, [J["LElbow"], J["LWrist"]], :2] = [0.40, 0.10]        # forearm pointing at the camera
    upper_arm = np.array([0.22, 0.60]) / np.hypot(0.22, 0.60)
    pose[:, J["RWrist"], :2] = [0.40, 0.10] + 0.01 * upper_arm    # just past the elbow
    pose[:, J["RWrist"], 2] = 4.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        occ = boxed(pose)
        aware = boxed(pose, depth=True)
    assert not occ[0, J["RWrist"]] and not aware[0, J["RWrist"]]


@pytest.mark.parametrize("spine", ["boxed", "exempt"])
def test_own_joints_never_hit_by_own_box(spine):
    rng = np.random.default_rng(3)
    pts = rng.uniform(-0.5, 0.5, size=(400, 17, 2))
    hits = box_hits(pts, 0.2, spine=spine)                        # (T, Q, J), wide boxes
    layout = BOX_LAYOUTS["h36m17"]
    for q, (a, b) in enumerate(layout.segments):
        assert not hits[:, q, [a, b]].any()
    own = layout.torso_members if spine == "exempt" else layout.torso
    assert not hits[:, -1, list(own)].any()
    spine_joints = [j for j in layout.torso_members if j not in layout.torso]
    assert hits[:, -1, spine_joints].any() == (spine == "boxed")  # the text: the spine is boxed
    assert hits.any()                                             # but other joints are hit


# ---- the dataset's label arrays -----------------------------------------------------------------

def _camera() -> Camera:
    return Camera("cam0", 1000, 800, 1145.0, 1145.0, 500.0, 400.0, np.eye(3), np.zeros(3))


@pytest.mark.parametrize("space", ["camera", "normalized"])
def test_heuristic_labels_shapes_and_values(space):
    cam = _camera()
    pose = stand(4)
    pose[:, J["RWrist"]] = [0.08, -0.35, 4.2]                     # behind the chest
    pose[1:, J["LWrist"]] = [0.02, -0.25, 4.1]                    # next to Spine, behind it
    pose[3, J["LWrist"], 2] = 3.5                                 # ... or in front of it
    px = project_to_2d(pose, cam)
    eps = 0.06 if space == "camera" else 0.06 * 1145 / 4.0 * 2 / 1000
    cfg = HeuristicsSection(clustered_space=space, clustered_epsilon=eps, boxed_delta=0.01)
    labels = heuristic_labels(pose, px, cam, cfg)
    assert set(labels) == {"occluded_clustered", "occluded_boxed", "occluded_boxed_depth"}
    for arr in labels.values():
        assert arr.shape == (4, 17) and arr.dtype == bool
    assert [occluded_names(r) for r in labels["occluded_clustered"]] == [
        set(), {"LWrist"}, {"LWrist"}, {"Spine"}]
    # the text's reading (default): the torso box also hides the Spine
    assert occluded_names(labels["occluded_boxed"][1]) == {"RWrist", "LWrist", "Spine"}
    assert occluded_names(labels["occluded_boxed_depth"][3]) == {"RWrist"}
    exempt = heuristic_labels(pose, px, cam, HeuristicsSection(
        clustered_space=space, clustered_epsilon=eps, boxed_delta=0.01, boxed_spine="exempt"))
    assert occluded_names(exempt["occluded_boxed"][1]) == {"RWrist", "LWrist"}


def test_heuristic_labels_rederivable_from_float32():
    cam = _camera()
    rng = np.random.default_rng(4)
    pose = stand(300) + rng.normal(scale=0.08, size=(300, 17, 3))
    px = project_to_2d(pose, cam)
    cfg = HeuristicsSection()
    a = heuristic_labels(pose, px, cam, cfg)
    b = heuristic_labels(pose.astype(np.float32), px.astype(np.float32), cam, cfg)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    plain, aware = boxed_occlusion_grid(
        (px.astype(np.float32).astype(np.float64) / 1000 * 2 - [1, 0.8]), [cfg.boxed_delta],
        pose.astype(np.float32).astype(np.float64)[..., 2])
    assert np.array_equal(plain[0], a["occluded_boxed"])
    assert np.array_equal(aware[0], a["occluded_boxed_depth"])


def test_humaneva_layout_and_bad_shapes():
    pose = stand(2)[:, [0, 8, 11, 12, 13, 14, 15, 16, 4, 5, 6, 1, 2, 3, 10]]   # 15 joints
    pose[:, 7] = [0.05, -0.30, 4.2]                               # RWrist behind the chest
    occ = boxed_occlusion(pose[..., :2], DELTA)
    assert occ.shape == (2, 15) and np.flatnonzero(occ[0]).tolist() == [7]
    with pytest.raises(ValueError):
        boxed_occlusion(np.zeros((2, 12, 2)), DELTA)
    with pytest.raises(ValueError):
        clustered_occlusion(np.zeros((2, 17, 3)), np.zeros((2, 17)), 0.06)
