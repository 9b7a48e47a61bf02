"""Soft-argmax, back-projection, flips and the network's shapes (occpose.image.volumetric)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from occpose.image.backbone import ResNet
from occpose.image.predict import predict_crops
from occpose.image.volumetric import (PoseNet, back_project, flip_coords, project_to_crop,
                                      soft_argmax, voxels_to_crop)
from occpose.skeleton import H36M_17


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gaussian_volume(centre, shape=(8, 10, 12), sigma=0.6, gain=1.0):
    """(D, H, W) log-Gaussian logits peaked at centre = (x, y, z) voxel coordinates."""
    d, h, w = shape
    z, y, x = torch.meshgrid(torch.arange(d), torch.arange(h), torch.arange(w), indexing="ij")
    r2 = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2
    return -gain * r2.double() / (2 * sigma ** 2)


@pytest.mark.parametrize("centre", [(3.0, 4.0, 2.0), (5.3, 2.7, 4.5), (1.6, 7.35, 5.75)])
def test_soft_argmax_finds_sharp_peak_sub_voxel(centre):
    vol = gaussian_volume(centre)[None, None]                       # (1, 1, D, H, W)
    got = soft_argmax(vol, 3)[0, 0].numpy()
    np.testing.assert_allclose(got, centre, atol=0.02)


def test_soft_argmax_one_dimensional():
    logits = -((torch.arange(32).double() - 20.4) ** 2)[None] / 0.5  # (1, 32), peak at 20.4
    got = soft_argmax(logits, 1)
    assert got.shape == (1, 1)
    assert got.item() == pytest.approx(20.4, abs=0.02)
    batch = torch.stack([logits[0], logits[0].flip(0)])              # independent rows
    np.testing.assert_allclose(soft_argmax(batch, 1)[:, 0].numpy(), [20.4, 31 - 20.4], atol=0.02)


def test_soft_argmax_is_differentiable():
    vol = torch.randn(1, 2, 3, 4, 5, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: soft_argmax(v, 3), (vol,))


def test_voxels_to_crop_maps_centres_and_depth_range():
    xyz = torch.tensor([[0.0, 0.0, 0.0], [11.0, 9.0, 7.0]])
    uvz = voxels_to_crop(xyz, (8, 10, 12), 96, 1.0)
    np.testing.assert_allclose(uvz[0].numpy(), [0.5 * 8, 0.5 * 9.6, -1 + 1 / 8], atol=1e-6)
    np.testing.assert_allclose(uvz[1].numpy(), [96 - 4, 96 - 4.8, 1 - 1 / 8], atol=1e-5)


def test_back_projection_round_trip(rng):
    pts = torch.from_numpy(rng.uniform([-0.8, -1.0, 3.0], [0.8, 1.0, 6.0], (4, 17, 3)))
    intr = torch.tensor([[300.0, 300.0, 48.0, 48.0], [250.0, 260.0, 50.0, 47.0]] * 2, dtype=torch.double)
    uvz, root = project_to_crop(pts, intr)
    back = back_project(uvz, root, intr)
    np.testing.assert_allclose(back.numpy(), pts.numpy(), atol=1e-9)


def test_flip_coords_is_an_involution_and_mirrors_u():
    perm = H36M_17.flip_permutation()
    uvz = torch.rand(2, 17, 3) * 64
    once = flip_coords(uvz, 64, perm)
    np.testing.assert_allclose(once[:, 1, 0].numpy(), 64 - uvz[:, 4, 0].numpy(), rtol=1e-6)  # RHip <- LHip
    np.testing.assert_allclose(flip_coords(once, 64, perm).numpy(), uvz.numpy(), rtol=1e-6)


@pytest.mark.parametrize("depth,width,stride,size", [(10, 8, 8, 32), (18, 8, 16, 64), (50, 4, 16, 64)])
def test_posenet_shapes_and_ranges(depth, width, stride, size):
    torch.manual_seed(0)
    net = PoseNet(17, depth, width, stride, depth_bins=8).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, size, size))
    assert out.uvz.shape == (2, 17, 3) and out.root_norm.shape == (2,)
    assert (out.uvz[..., :2] >= 0).all() and (out.uvz[..., :2] <= size).all()
    assert (out.uvz[..., 2].abs() <= 1.0).all()
    assert ((out.root_norm >= 0.5) & (out.root_norm <= 4.5)).all()
    assert net.backbone(torch.zeros(1, 3, size, size)).shape[-1] == size // stride


def test_resnet50_layout_has_resnet50_size():
    n = sum(p.numel() for p in ResNet(50, 64, 32).parameters())
    assert 23.0e6 < n < 24.0e6                          # ResNet-50 without its classifier: 23.5 M


def test_flip_averaging_is_consistent():
    """Flip-averaged prediction of an image == un-flipped flip-averaged prediction of its mirror."""
    torch.manual_seed(1)
    net = PoseNet(17, 10, 8, 8, depth_bins=8).eval()
    perm = H36M_17.flip_permutation()
    img = torch.randn(3, 3, 32, 32)
    uvz, root = predict_crops(net, img, perm)
    uvz_m, root_m = predict_crops(net, torch.flip(img, dims=[-1]), perm)
    np.testing.assert_allclose(flip_coords(uvz_m, 32, perm).numpy(), uvz.numpy(), atol=1e-4)
    np.testing.assert_allclose(root_m.numpy(), root.numpy(), atol=1e-5)
    plain, _ = predict_crops(net, img, None)
    assert not torch.allclose(plain, uvz)               # averaging changed something
