"""Ray-primitive kernels: hand-computed distances, degenerate rays, and fast-vs-reference checks."""

import numpy as np
import pytest

from occpose.occlusion import (BOX, CAPSULE, CYLINDER, MESH, SPHERE, MeshData, OccluderSet,
                               ray_box, ray_capsule, ray_cylinder, ray_mesh, ray_occluders,
                               ray_sphere, ray_triangles, rigid_transform)
from occpose.occlusion.raycast import camera_rays as raycast_camera, primitives as raycast

O = np.zeros(3)
Z = np.array([0.0, 0.0, 1.0])
INF = np.inf


def box_mesh(half=(1.0, 1.0, 1.0)) -> MeshData:
    """A closed box mesh, 12 triangles, counter-clockwise seen from outside."""
    h = np.asarray(half, float)
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * h
    f = [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
         [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]
    return MeshData("box", v, np.array(f))


def rot_y(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


# ------------------------------------------------------------------------------------ sphere
def test_sphere_hit_miss_tangent_inside_behind_cutoff():
    assert ray_sphere(O, Z, [0, 0, 5], 1) == pytest.approx(4.0)
    assert ray_sphere(O, Z, [2, 0, 5], 1) == INF  # miss
    assert ray_sphere([1, 0, 0], Z, [0, 0, 5], 1) == pytest.approx(5.0)  # tangent touches
    assert ray_sphere([0, 0, 5.5], Z, [0, 0, 5], 1) == 0.0  # starts inside
    assert ray_sphere(O, -Z, [0, 0, 5], 1) == INF  # behind the origin
    assert ray_sphere(O, Z, [0, 0, 5], 1, t_max=3.9) == INF
    assert ray_sphere(O, Z, [0, 0, 5], 1, t_max=4.0) == pytest.approx(4.0)


def test_directions_are_normalised_and_zero_rejected():
    assert ray_sphere(O, [0, 0, 7.0], [0, 0, 5], 1) == pytest.approx(4.0)
    t = ray_sphere(O, [3.0, 0, 4.0], [3, 0, 4], 1)  # |direction| = 5
    assert t == pytest.approx(4.0)
    with pytest.raises(ValueError):
        ray_sphere(O, [0, 0, 0], [0, 0, 5], 1)


def test_kernels_broadcast():
    origins = np.zeros((4, 1, 3))
    dirs = np.array([[0, 0, 1.0], [0.1, 0, 1], [0, 0.1, 1], [0, 0, -1]])[:, None]
    centres = np.array([[0, 0, 5.0], [0, 0, 8.0]])  # (2, 3)
    t = ray_sphere(origins, dirs, centres, np.array([1.0, 2.0]))
    assert t.shape == (4, 2)
    assert t[0] == pytest.approx([4.0, 6.0])
    assert np.isinf(t[3]).all()


# ----------------------------------------------------------------------------------- capsule
def test_capsule_lateral_cap_and_inside():
    # axis along x at depth 5: lateral hit at 5 - r
    assert ray_capsule(O, Z, [-1, 0, 5], [1, 0, 5], 0.5) == pytest.approx(4.5)
    # axis along the ray: the near end ball
    assert ray_capsule(O, Z, [0, 0, 5], [0, 0, 7], 1.0) == pytest.approx(4.0)
    assert ray_capsule([0, 0, 6], Z, [0, 0, 5], [0, 0, 7], 1.0) == 0.0  # inside
    assert ray_capsule([0, 0, 7.9], Z, [0, 0, 5], [0, 0, 7], 1.0) == 0.0  # inside the far ball
    assert ray_capsule([0, 0, 10], Z, [0, 0, 5], [0, 0, 7], 1.0) == INF  # behind
    assert ray_capsule(O, Z, [-1, 0, 5], [1, 0, 5], 0.5, t_max=4.4) == INF


def test_capsule_parallel_to_axis():
    r = 0.2
    # ray parallel to the axis, offset 0.1 < r: enters the near ball at 5 - sqrt(r^2 - 0.01)
    t = ray_capsule([0.1, 0, 0], Z, [0, 0, 5], [0, 0, 6], r)
    assert t == pytest.approx(5 - np.sqrt(r * r - 0.01))
    assert ray_capsule([0.3, 0, 0], Z, [0, 0, 5], [0, 0, 6], r) == INF  # outside the radius
    assert ray_capsule([0.2, 0, 0], Z, [0, 0, 5], [0, 0, 6], r) == pytest.approx(5.0)  # tangent


def test_capsule_grazing_the_side():
    # axis along y at x = 1, depth 5, radius 1: the ray x = 0 touches the side at depth 5
    assert ray_capsule(O, Z, [1, -1, 5], [1, 1, 5], 1.0) == pytest.approx(5.0)
    assert ray_capsule(O, Z, [1.001, -1, 5], [1.001, 1, 5], 1.0) == INF


def test_zero_length_capsule_is_a_sphere():
    dirs = np.random.default_rng(0).normal([0, 0, 1], 0.1, (50, 3))
    t_cap = ray_capsule(O, dirs, [0.1, 0, 5], [0.1, 0, 5], 0.3)
    t_sph = ray_sphere(O, dirs, [0.1, 0, 5], 0.3)
    np.testing.assert_allclose(t_cap, t_sph)
    assert np.isfinite(t_cap).any() and np.isinf(t_cap).any()


# ---------------------------------------------------------------------------------- cylinder
def test_cylinder_flat_caps():
    # axis along the ray: the flat cap at z = 5 (a capsule would reach 4)
    assert ray_cylinder(O, Z, [0, 0, 5], [0, 0, 7], 1.0) == pytest.approx(5.0)
    assert ray_capsule(O, Z, [0, 0, 5], [0, 0, 7], 1.0) == pytest.approx(4.0)
    # lateral
    assert ray_cylinder(O, Z, [-1, 0, 5], [1, 0, 5], 0.5) == pytest.approx(4.5)
    # beyond the cap's rim the capsule's ball still hits but the cylinder does not
    assert ray_cylinder([0, 0, 0], Z, [0.5, 0, 5], [2, 0, 5], 0.4) == INF
    assert np.isfinite(ray_capsule([0, 0, 0], Z, [0.3, 0, 5], [2, 0, 5], 0.4))


def test_cylinder_parallel_inside_behind_tangent_cutoff():
    assert ray_cylinder([0.5, 0, 0], Z, [0, 0, 5], [0, 0, 7], 1.0) == pytest.approx(5.0)
    assert ray_cylinder([1.5, 0, 0], Z, [0, 0, 5], [0, 0, 7], 1.0) == INF  # parallel outside
    assert ray_cylinder([1.0, 0, 0], Z, [0, 0, 5], [0, 0, 7], 1.0) == pytest.approx(5.0)  # on side
    assert ray_cylinder([0, 0, 6], Z, [0, 0, 5], [0, 0, 7], 1.0) == 0.0
    assert ray_cylinder([0, 0, 8], Z, [0, 0, 5], [0, 0, 7], 1.0) == INF
    assert ray_cylinder(O, Z, [0, 0, 5], [0, 0, 7], 1.0, t_max=4.99) == INF
    # ray parallel to the caps (perpendicular to the axis), between them
    assert ray_cylinder([-3, 0, 6], [1, 0, 0], [0, 0, 5], [0, 0, 7], 1.0) == pytest.approx(2.0)


# --------------------------------------------------------------------------------------- box
def test_box_axis_aligned_and_rotated():
    assert ray_box(O, Z, np.eye(3), [0, 0, 5], [1, 1, 1]) == pytest.approx(4.0)
    # cube rotated 45 degrees about y: the front edge is sqrt(2) in front of the centre
    assert ray_box(O, Z, rot_y(np.pi / 4), [0, 0, 5], [1, 1, 1]) == pytest.approx(5 - np.sqrt(2))
    assert ray_box(O, [1, 0, 1], np.eye(3), [0, 0, 5], [1, 1, 1]) == INF  # misses the side


def test_box_inside_behind_grazing_parallel_cutoff():
    assert ray_box([0, 0, 5], Z, np.eye(3), [0, 0, 5], [1, 1, 1]) == 0.0
    assert ray_box([0, 0, 7], Z, np.eye(3), [0, 0, 5], [1, 1, 1]) == INF
    assert ray_box([1, 0, 0], Z, np.eye(3), [0, 0, 5], [1, 1, 1]) == pytest.approx(4.0)  # face
    assert ray_box([1.01, 0, 0], Z, np.eye(3), [0, 0, 5], [1, 1, 1]) == INF  # parallel, outside
    assert ray_box(O, Z, np.eye(3), [0, 0, 5], [1, 1, 1], t_max=3.0) == INF


# -------------------------------------------------------------------------------------- mesh
def test_box_mesh_matches_analytic_box():
    rng = np.random.default_rng(1)
    mesh = box_mesh((0.5, 0.3, 0.2))
    origins = np.tile([0.1, -0.05, -3.0], (200, 1))
    dirs = rng.normal([0, 0, 1], 0.08, (200, 3))
    t_box = ray_box(origins, dirs, np.eye(3), O, [0.5, 0.3, 0.2])
    for engine in ("numpy", "trimesh"):
        t_mesh = ray_mesh(origins, dirs, mesh.vertices, mesh.faces, engine=engine)
        np.testing.assert_allclose(t_mesh, t_box, atol=1e-9)
    assert np.isfinite(t_box).sum() > 50 and np.isinf(t_box).sum() > 25


def test_mesh_inside_behind_cutoff():
    mesh = box_mesh()
    tri = mesh.triangles + [0, 0, 5]
    assert ray_triangles([[0, 0, 5.0]], [Z], tri)[0] == 0.0  # inside the closed mesh
    assert ray_triangles([[0, 0, 5.0]], [Z], tri, solid=False)[0] == pytest.approx(1.0)
    assert ray_triangles([[0, 0, 9.0]], [Z], tri)[0] == INF  # behind
    assert ray_triangles([O], [Z], tri, t_max=3.5)[0] == INF
    assert ray_triangles([O], [Z], tri)[0] == pytest.approx(4.0)  # through an edge diagonal
    inside = raycast.points_in_triangles([[0, 0, 5], [0, 0, 3], [0.9, 0.9, 5.9]], tri)
    assert inside.tolist() == [True, False, True]


def test_points_in_triangles_tests_each_distinct_point_once_with_the_same_answers():
    """Rays from one camera share their origin: repeated points are tested once, and every
    point, repeated or not (-0.0 and 0.0 alike), gets the answer it gets alone."""
    tri = box_mesh().triangles + [0, 0, 5]
    rng = np.random.default_rng(4)
    pts = rng.uniform(-1.5, 1.5, (40, 3)) + [0, 0, 5]
    pts[5] = [0.0, 0.0, 5.0]
    pts = np.concatenate([pts, pts[rng.integers(0, 40, 60)], [[-0.0, 0.0, 5.0]]])
    alone = [raycast.points_in_triangles(p[None], tri)[0] for p in pts]
    together = raycast.points_in_triangles(pts, tri)
    assert together.tolist() == alone and any(alone) and not all(alone)


def test_occluder_set_mesh_equals_box_primitive():
    """A posed, scaled MESH primitive gives the distances of the BOX primitive it models."""
    rng = np.random.default_rng(2)
    n_t = 3
    pose = np.stack([rigid_transform(rot_y(0.3 * i), [0.1 * i, 0.0, 4.0]) for i in range(n_t)])
    half = [0.4, 0.25, 0.3]
    occ = OccluderSet.from_primitives([BOX, MESH], [half, [0.4, 0.25, 0.3]],
                                      np.stack([pose, pose], axis=1), mesh_index=[-1, 0],
                                      meshes=(box_mesh(),))  # unit half extents scaled by size
    dirs = rng.normal([0, 0, 1], 0.08, (n_t, 200, 3))
    t = ray_occluders(O, dirs, occ)  # (T, N, 2)
    np.testing.assert_allclose(t[..., 1], t[..., 0], atol=1e-9)
    frames = rng.integers(0, n_t, 50)
    t_by_frame = ray_occluders(O, dirs[frames, 0], occ, frames=frames)
    np.testing.assert_allclose(t_by_frame, t[frames, 0])


def test_ray_occluders_dispatch():
    centres = np.array([[-3, 0, 5], [0, 0, 5], [3, 0, 5], [0, 3, 5]], float)
    pose = np.stack([rigid_transform(translation=c) for c in centres])[None]  # (1, 4, 4, 4)
    occ = OccluderSet.from_primitives([BOX, SPHERE, CAPSULE, CYLINDER],
                                      [[1, 1, 1], [1, 1, 1], [0.5, 0.5, 1], [0.5, 0.5, 1]], pose)
    dirs = centres[None]  # one ray at each primitive's centre
    t = ray_occluders(O, dirs, occ)[0]  # (4 rays, 4 primitives)
    n = np.linalg.norm(centres, axis=1)
    assert t[0, 0] == pytest.approx(4 / 5 * n[0])  # box front face z = 4
    assert t[1, 1] == pytest.approx(4.0)  # sphere
    axis = np.array([0, 0, 1.0])
    assert t[2, 2] == pytest.approx(ray_capsule(O, centres[2], centres[2] - axis,
                                                centres[2] + axis, 0.5))
    # the ray passes the cap plane z = 4 at y = 2.4 (outside the radius) and enters the side
    # at y = 2.5
    assert t[3, 3] == pytest.approx(2.5 / 3 * n[3])
    off_diagonal = ~np.eye(4, dtype=bool)
    assert np.isinf(t[off_diagonal]).all()


# ----------------------------------------------------------- fast camera kernels vs reference
def _random_rays(rng, n_t, n_r):
    dirs = rng.normal([0, 0, 1], 0.25, (n_t, n_r, 3))
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    stop = rng.uniform(2.0, 7.0, (n_t, n_r))
    return dirs, stop


def _agree(fast, t_ref, stop, margin=1e-4):
    """Fast booleans equal ``t < stop`` wherever t is not within ``margin`` of stop."""
    ref = t_ref < stop
    clear = np.abs(np.where(np.isfinite(t_ref), t_ref, 1e9) - stop) > margin
    assert (fast == ref)[clear].all()
    assert ref.any() and (~ref).any()


@pytest.mark.parametrize("kind", ["capsule", "ball", "box", "cylinder", "mesh"])
def test_camera_kernels_match_reference(kind):
    rng = np.random.default_rng({"capsule": 3, "ball": 4, "box": 5, "cylinder": 6, "mesh": 7}[kind])
    n_t, n_p, n_r = 6, 5, 300
    dirs, stop = _random_rays(rng, n_t, n_r)
    w_t = np.swapaxes(dirs, 1, 2).astype(np.float32)
    centre = rng.normal([0, 0, 4.5], [1.0, 1.0, 1.5], (n_t, n_p, 3))
    radius = rng.uniform(0.05, 0.6, n_p)
    bits = raycast_camera.stop_bits(stop[:, None, :].astype(np.float32))
    if kind == "mesh":
        mesh = box_mesh((0.6, 0.4, 0.3))
        pose = np.stack([rigid_transform(rot_y(a), c) for a, c in
                         zip(rng.uniform(0, 3, n_t), centre[:, 0])])
        prep = raycast_camera.prepare_mesh(mesh.triangles, pose)
        fast = raycast_camera.mesh_hits(w_t, bits, prep, np.swapaxes(dirs, 1, 2))[:, 0]
        t_ref = np.stack([ray_box(O, dirs[i], pose[i, :3, :3], pose[i, :3, 3], [0.6, 0.4, 0.3])
                          for i in range(n_t)])
        _agree(fast, t_ref, stop)
        return
    if kind == "ball":
        fast = raycast_camera.balls_hit(w_t, bits, raycast_camera.prepare_balls(centre, radius))
        t_ref = ray_sphere(O, dirs[:, None], centre[:, :, None], radius[:, None])
    elif kind == "box":
        rot = np.stack([[rot_y(a) for a in row] for row in rng.uniform(0, 3, (n_t, n_p))])
        half = rng.uniform(0.1, 0.7, (n_p, 3))
        fast = raycast_camera.boxes_hit(w_t, bits, raycast_camera.prepare_boxes(rot, centre, half))
        t_ref = ray_box(O, dirs[:, None], rot[:, :, None], centre[:, :, None], half[:, None])
    else:
        axis = rng.normal(size=(n_t, n_p, 3)) * rng.uniform(0, 0.8, (n_t, n_p, 1))
        if kind == "capsule":
            axis[0, 0] = 0.0  # a zero-length capsule
            axis[1, 0] = centre[1, 0] / np.linalg.norm(centre[1, 0])  # pointing at the camera
        a, b = centre - axis, centre + axis
        if kind == "capsule":
            prep = raycast_camera.prepare_capsules(a, b, radius)
            fast = raycast_camera.capsules_hit(w_t, bits, prep)
            t_ref = ray_capsule(O, dirs[:, None], a[:, :, None], b[:, :, None], radius[:, None])
        else:
            axis[0, 0] = centre[0, 0] / np.linalg.norm(centre[0, 0])
            a, b = centre - axis, centre + axis
            prep = raycast_camera.prepare_cylinders(a, b, radius)
            fast = raycast_camera.cylinders_hit(w_t, bits, prep)
            t_ref = ray_cylinder(O, dirs[:, None], a[:, :, None], b[:, :, None], radius[:, None])
    _agree(fast, t_ref, stop[:, None])


def test_camera_kernels_camera_inside():
    dirs = np.array([[[0, 0, 1.0], [1, 0, 0], [0, -1, 0]]])
    w_t = np.swapaxes(dirs, 1, 2).astype(np.float32)
    bits = raycast_camera.stop_bits(np.full((1, 1, 3), 5.0, np.float32))
    c = np.zeros((1, 1, 3))
    assert raycast_camera.balls_hit(w_t, bits, raycast_camera.prepare_balls(c, [0.5])).all()
    prep = raycast_camera.prepare_capsules(c - [0, 0, 1], c + [0, 0, 1], [0.5])
    assert raycast_camera.capsules_hit(w_t, bits, prep).all()
    prep = raycast_camera.prepare_boxes(np.eye(3)[None, None], c, [[1, 1, 1]])
    assert raycast_camera.boxes_hit(w_t, bits, prep).all()
    prep = raycast_camera.prepare_cylinders(c - [0, 0, 1], c + [0, 0, 1], [0.5])
    assert raycast_camera.cylinders_hit(w_t, bits, prep).all()
    zero = raycast_camera.stop_bits(np.zeros((1, 1, 3), np.float32))
    assert not raycast_camera.balls_hit(w_t, zero, raycast_camera.prepare_balls(c, [0.5])).any()


def test_capsule_distances_match_reference():
    rng = np.random.default_rng(8)
    n = 2000
    dirs = rng.normal([0, 0, 1], 0.2, (n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    a = rng.normal([0, 0, 4], 0.8, (n, 3))
    b = a + rng.normal(0, 0.4, (n, 3)) * (rng.random((n, 1)) > 0.1)  # some zero length
    b[:5] = a[:5] + 0.3 * a[:5] / np.linalg.norm(a[:5], axis=1, keepdims=True)  # along the ray
    radius = rng.uniform(0.05, 0.5, n)
    radius[5] = np.linalg.norm(a[5]) + 0.1  # camera inside
    t = raycast_camera.capsule_distances(dirs, a, b, radius)
    t_ref = ray_capsule(O, dirs, a, b, radius)
    np.testing.assert_allclose(t, t_ref, rtol=1e-9, atol=1e-9)
    assert t[5] == 0 and np.isfinite(t).sum() > 100
