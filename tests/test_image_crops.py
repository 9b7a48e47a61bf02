"""Person crops: pixel round trips, warping, labels through the crop camera (occpose.image.crops)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from occpose.camera import Camera, look_at, project_to_2d
from occpose.image.crops import crop_to_image, joint_box, make_crop, warp_image
from occpose.image.volumetric import back_project


def camera(distortion: bool = False, size: int = 200) -> Camera:
    pos = np.array([3.6, 3.4, 1.6])
    k, p = ((0.08, -0.02, 0.0), (0.001, -0.0005)) if distortion else ((0.0, 0.0, 0.0), (0.0, 0.0))
    return Camera("cam", size, size, 1.1 * size, 1.15 * size, 0.52 * size, 0.47 * size,
                  look_at(pos, [0, 0, 1.0]), pos, k, p)


def points_cam(rng, n=17):
    """Camera-frame points of a person-sized cloud off the optical axis."""
    return rng.uniform([-0.9, -0.5, 4.0], [0.1, 1.2, 5.5], (n, 3))


@pytest.mark.parametrize("distortion", [False, True])
def test_crop_pixel_round_trip(rng, distortion):
    cam = camera(distortion)
    pts = points_cam(rng)
    uv = project_to_2d(pts, cam)
    crop = make_crop(cam, joint_box(uv), 64, roll=0.3, zoom=1.2, shift=(0.05, -0.03))
    uv_crop = crop.project(pts)
    np.testing.assert_allclose(crop.to_image(uv_crop), uv, atol=1e-6)
    np.testing.assert_allclose(crop.from_image(uv), uv_crop, atol=1e-5)
    grid = rng.uniform(0, 64, (50, 2))
    np.testing.assert_allclose(crop.from_image(crop.to_image(grid)), grid, atol=1e-5)


def test_box_fills_ninety_percent(rng):
    cam = camera()
    uv = project_to_2d(points_cam(rng), cam)
    box = joint_box(uv, margin=0.0)
    crop = make_crop(cam, box, 100, fill=0.9)
    u0, v0, u1, v1 = box
    corners = crop.from_image(np.array([[u0, v0], [u1, v1], [u0, v1], [u1, v0]]))
    extent = max(np.ptp(corners[:, 0]), np.ptp(corners[:, 1]))
    assert extent == pytest.approx(90.0, abs=1.0)
    np.testing.assert_allclose(corners.mean(axis=0), [50, 50], atol=1.0)


def test_back_projection_through_crop_recovers_camera_points(rng):
    """Project camera points into a crop, back-project with the crop intrinsics and the known
    root depth, rotate back: the original points."""
    cam = camera(distortion=True)
    pts = points_cam(rng)
    crop = make_crop(cam, joint_box(project_to_2d(pts, cam)), 96, roll=-0.2)
    in_crop = crop.to_crop_frame(pts)
    uv = crop.project(pts)
    uvz = np.concatenate([uv, (in_crop[:, 2] - in_crop[0, 2])[:, None]], axis=1)
    back = back_project(torch.from_numpy(uvz)[None], torch.tensor([in_crop[0, 2]], dtype=torch.double),
                        torch.from_numpy(crop.intrinsics.astype(np.float64))[None])[0].numpy()
    np.testing.assert_allclose(crop.to_camera_frame(back), pts, atol=1e-5)


def test_crop_to_image_batched_matches_single(rng):
    cam = camera()
    crops = [make_crop(cam, joint_box(project_to_2d(points_cam(rng), cam)), 48) for _ in range(3)]
    uv = rng.uniform(0, 48, (3, 17, 2))
    rots, intr = np.stack([c.rot for c in crops]), np.stack([c.intrinsics for c in crops])
    batched = crop_to_image(uv, rots, intr, cam)
    for i, c in enumerate(crops):
        np.testing.assert_allclose(batched[i], c.to_image(uv[i]), atol=1e-4)


@pytest.mark.parametrize("distortion", [False, True])
def test_warp_puts_a_dot_where_the_crop_projects_it(distortion):
    cam = camera(distortion)
    img = np.zeros((cam.height, cam.width, 3), np.uint8)
    img[90:93, 60:63] = 255                                  # 3x3 dot, centre (61.5, 91.5)
    crop = make_crop(cam, np.array([40.0, 70.0, 90.0, 120.0]), 64, roll=0.25)
    out = warp_image(img, crop).astype(float)[..., 0]
    ys, xs = np.mgrid[:64, :64]
    centroid = np.array([(out * xs).sum(), (out * ys).sum()]) / out.sum() + 0.5
    np.testing.assert_allclose(centroid, crop.from_image(np.array([61.5, 91.5])), atol=0.15)


def test_pillow_and_ray_warps_agree():
    cam = camera()
    rng = np.random.default_rng(3)
    img = (rng.random((cam.height, cam.width, 3)) * 255).astype(np.uint8)
    from PIL import Image
    img = np.asarray(Image.fromarray(img).resize((20, 20)).resize((cam.width, cam.height), Image.BILINEAR))
    crop = make_crop(cam, np.array([50.0, 60.0, 110.0, 150.0]), 48, roll=0.1)
    from occpose.image.crops import _warp_rays
    a, b = warp_image(img, crop).astype(int), _warp_rays(img, crop).astype(int)
    assert np.abs(a - b)[2:-2, 2:-2].mean() < 1.0


def test_joint_box_margin_and_minimum():
    box = joint_box(np.array([[10.0, 20.0], [30.0, 60.0], [np.nan, 5.0]]), margin=0.1)
    np.testing.assert_allclose(box, [6.0, 16.0, 34.0, 64.0])
    tiny = joint_box(np.array([[5.0, 5.0]]), margin=0.1, min_side=8)
    np.testing.assert_allclose(tiny, [1.0, 1.0, 9.0, 9.0])
