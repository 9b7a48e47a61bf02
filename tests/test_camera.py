import numpy as np
import pytest

from occpose.camera import (Camera, camera_to_world, distort, image_coordinates, image_to_camera,
                            look_at, normalize_screen_coordinates, project_to_2d, undistort,
                            world_to_camera, world_to_image)


def make_camera(k=(0.0, 0.0, 0.0), p=(0.0, 0.0)):
    rot = look_at([4.0, 0.0, 1.5], [0.0, 0.0, 1.0])
    return Camera("c", 1000, 800, 1100.0, 1090.0, 510.0, 395.0, rot, np.array([4.0, 0.0, 1.5]), k, p)


def test_look_at_axes():
    cam = make_camera()
    r = cam.rot_world_to_cam
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    # target projects to the principal point; a point above the target projects above it (v smaller)
    uv = world_to_image(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 2.0]]), cam)
    assert np.allclose(uv[0], [510.0, 395.0])
    assert uv[1, 1] < uv[0, 1]
    # looking along -X with Z up, the camera's right (x) is world +Y
    assert world_to_image(np.array([[0.0, 1.0, 1.0]]), cam)[0, 0] > 510.0
    assert world_to_image(np.array([[0.0, -1.0, 1.0]]), cam)[0, 0] < 510.0


def test_world_camera_round_trip(rng):
    cam = make_camera()
    pts = rng.normal(size=(5, 7, 3))
    assert np.allclose(camera_to_world(world_to_camera(pts, cam), cam), pts)


def test_hand_computed_projection_with_distortion():
    k, p = (0.1, -0.05, 0.01), (0.002, -0.003)
    cam = Camera("c", 1000, 1000, 1000.0, 1000.0, 500.0, 500.0, np.eye(3), np.zeros(3), k, p)
    X = np.array([0.2, -0.1, 2.0])
    x, y = 0.1, -0.05
    r2 = x * x + y * y  # 0.0125
    radial = 1 + 0.1 * r2 - 0.05 * r2**2 + 0.01 * r2**3
    xd = x * radial + 2 * 0.002 * x * y + (-0.003) * (r2 + 2 * x * x)
    yd = y * radial + 0.002 * (r2 + 2 * y * y) + 2 * (-0.003) * x * y
    assert np.allclose(project_to_2d(X, cam), [1000 * xd + 500, 1000 * yd + 500], atol=1e-9)
    # the values worked by hand: x' = 0.10000672, y' = -0.04999711
    assert np.allclose(project_to_2d(X, cam), [600.006721, 450.002890], atol=1e-5)


def test_undistort_inverts_distort(rng):
    k, p = (-0.2, 0.24, -0.003), (-0.001, -0.0014)
    xy = rng.uniform(-0.4, 0.4, size=(100, 2))
    assert np.allclose(undistort(distort(xy, k, p), k, p), xy, atol=1e-8)


def test_back_projection_round_trip(rng):
    cam = make_camera(k=(-0.2, 0.2, 0.0), p=(0.001, 0.0))
    pts = world_to_camera(rng.uniform([-0.5, -0.5, 0.2], [0.5, 0.5, 1.8], size=(50, 3)), cam)
    uv = project_to_2d(pts, cam)
    assert np.allclose(image_to_camera(uv, pts[:, 2], cam), pts, atol=1e-7)


def test_normalize_screen_coordinates_round_trip():
    px = np.array([[0.0, 0.0], [1000.0, 800.0], [500.0, 400.0]], dtype=np.float32)
    n = normalize_screen_coordinates(px, 1000, 800)
    assert np.allclose(n[0], [-1, -0.8]) and np.allclose(n[1], [1, 0.8]) and np.allclose(n[2], [0, 0])
    assert np.allclose(image_coordinates(n, 1000, 800), px)
    with pytest.raises(ValueError):
        normalize_screen_coordinates(np.zeros((3, 3)), 10, 10)


def test_scaled_camera_projects_proportionally():
    cam = make_camera()
    half = cam.scaled(500, 400)
    pt = np.array([[0.3, 0.2, 1.4]])
    assert np.allclose(world_to_image(pt, half), world_to_image(pt, cam) / 2)
