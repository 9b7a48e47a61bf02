"""Volumetric heatmaps, soft-argmax and back-projection (Sarandi et al., section 3).

The network's last feature map goes through a 1x1 convolution with ``J x D`` channels, reshaped
into one (D, H, W) volume per joint: x and y are the crop image's axes, z the depth relative to
the root joint, ``D`` bins spanning ``[-depth_range, +depth_range]`` metres. Soft-argmax (the
expectation under the softmax of the whole volume) turns each volume into continuous coordinates;
it is differentiable, so no heatmap supervision is needed: the L1 loss is computed on the
back-projected 3D coordinates.

Coordinate conventions:

* voxel coordinates: index ``i`` is the centre of voxel ``i`` (continuous, sub-voxel);
* crop pixels (occpose image frame, origin at the top-left corner of the top-left pixel):
  ``u = (x + 0.5) * crop_width / W``, likewise v;
* relative depth: ``dz = ((z + 0.5) / D * 2 - 1) * depth_range`` metres.

Root depth. The paper predicts the absolute depth of the person with a second head, a 1D heatmap
(32 bins). So does :class:`PoseNet`: a 1x1 convolution to ``root_bins`` channels, averaged over
the image, soft-argmax over bins spanning ``root_range`` in *normalised* metres
``Z x crop_size / f_crop``. Because every crop shows the person at about the same size, the crop
focal length ``f_crop`` carries the distance: ``Z = z_norm x f_crop / crop_size``. The head is
trained with its own L1 loss (metres); the pose loss back-projects with the true root depth, so
the two heads do not fight. At test time the predicted root depth is used unless asked otherwise
(``root_depth = "truth"``, the oracle many root-relative protocols use). The paper's learned
focal-length correction is not needed: occpose's intrinsics are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .backbone import ResNet

__all__ = ["soft_argmax", "voxels_to_crop", "back_project", "project_to_crop", "flip_coords",
           "PoseOutput", "PoseNet"]


def soft_argmax(logits: torch.Tensor, ndim: int) -> torch.Tensor:
    """Expected voxel coordinates under the softmax of the last ``ndim`` axes.

    Args:
        logits: (..., *dims) unnormalised scores, e.g. (B, J, D, H, W) with ``ndim=3``.
    Returns:
        (..., ndim) float coordinates ordered last axis first (x = W axis, y = H axis, z = D
        axis), in voxel units with index i at the centre of voxel i.
    """
    dims = logits.shape[-ndim:]
    lead = logits.shape[:-ndim]
    if logits.dtype in (torch.float16, torch.bfloat16):  # mixed precision: softmax in float32
        logits = logits.float()
    prob = torch.softmax(logits.reshape(*lead, -1), dim=-1).reshape(*lead, *dims)
    coords = []
    for k in range(ndim):  # k = 0 is the last axis
        axis = logits.dim() - 1 - k
        others = [a for a in range(len(lead), logits.dim()) if a != axis]
        marginal = prob.sum(dim=others) if others else prob  # sum(dim=[]) would sum everything
        grid = torch.arange(dims[ndim - 1 - k], dtype=prob.dtype, device=prob.device)
        coords.append((marginal * grid).sum(-1))
    return torch.stack(coords, dim=-1)


def voxels_to_crop(xyz: torch.Tensor, heatmap_size: tuple[int, int, int], crop_size: int,
                   depth_range: float) -> torch.Tensor:
    """(..., 3) voxel coordinates -> (..., 3) = (u, v) crop pixels and dz metres from the root.

    Args:
        heatmap_size: (D, H, W) of the volumes.
    """
    d, h, w = heatmap_size
    u = (xyz[..., 0] + 0.5) * (crop_size / w)
    v = (xyz[..., 1] + 0.5) * (crop_size / h)
    dz = ((xyz[..., 2] + 0.5) / d * 2.0 - 1.0) * depth_range
    return torch.stack([u, v, dz], dim=-1)


def back_project(uvz: torch.Tensor, root_depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Crop pixels and relative depths -> 3D points in the crop camera frame (metres).

    Args:
        uvz: (B, J, 3) u, v crop pixels and depth relative to the root, metres.
        root_depth: (B,) absolute depth Z of the root joint in the crop camera frame, metres.
        intrinsics: (B, 4) crop pinhole (fx, fy, cx, cy), pixels.
    Returns:
        (B, J, 3) points, x right, y down, z forward; joint j at depth ``root_depth + dz_j``.
    """
    fx, fy, cx, cy = (intrinsics[:, i, None] for i in range(4))                # (B, 1)
    z = root_depth[:, None] + uvz[..., 2]                                          # (B, J)
    x = (uvz[..., 0] - cx) / fx * z
    y = (uvz[..., 1] - cy) / fy * z
    return torch.stack([x, y, z], dim=-1)


def project_to_crop(points: torch.Tensor, intrinsics: torch.Tensor,
                    root: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`back_project`.

    Args:
        points: (B, J, 3) crop camera frame, metres; intrinsics: (B, 4) (fx, fy, cx, cy).
        root: index of the root joint.
    Returns:
        uvz (B, J, 3) (crop pixels, depth relative to the root) and the root depth (B,).
    """
    fx, fy, cx, cy = (intrinsics[:, i, None] for i in range(4))
    z = points[..., 2]                                                             # (B, J)
    uvz = torch.stack([points[..., 0] / z * fx + cx, points[..., 1] / z * fy + cy,
                       z - z[:, root, None]], dim=-1)
    return uvz, z[:, root]


def flip_coords(uvz: torch.Tensor, crop_width: float, perm) -> torch.Tensor:
    """Coordinates predicted on a horizontally flipped crop -> those of the unflipped crop.

    ``u -> crop_width - u`` (exact for a principal point at the crop centre) and left/right
    joints swapped by ``perm`` (:meth:`occpose.skeleton.Skeleton.flip_permutation`).
    """
    out = uvz[..., perm, :].clone()
    out[..., 0] = crop_width - out[..., 0]
    return out


@dataclass
class PoseOutput:
    """What :class:`PoseNet` predicts for a batch of crops.

    Attributes:
        uvz: (B, J, 3) crop pixels (u, v) and depth relative to the root (metres).
        root_norm: (B,) normalised root depth ``Z x crop_size / f_crop`` (metres).
    """

    uvz: torch.Tensor
    root_norm: torch.Tensor

    def root_depth(self, intrinsics: torch.Tensor, crop_size: int) -> torch.Tensor:
        """(B,) absolute root depth in metres for crops with (B, 4) intrinsics (fx first)."""
        return self.root_norm * intrinsics[:, 0] / crop_size


class PoseNet(nn.Module):
    """Backbone + volumetric heatmap head + 1D root-depth head.

    Args:
        num_joints: J.
        depth, width, output_stride: backbone layout (:class:`~occpose.image.backbone.ResNet`).
        depth_bins: D, bins of the relative-depth axis over +-``depth_range`` metres.
        root_bins: bins of the root-depth heatmap over ``root_range`` (normalised metres).
    """

    def __init__(self, num_joints: int = 17, depth: int = 18, width: int = 16,
                 output_stride: int = 8, depth_bins: int = 16, depth_range: float = 1.0,
                 root_bins: int = 32, root_range: tuple[float, float] = (0.5, 4.5)) -> None:
        super().__init__()
        self.num_joints, self.depth_bins, self.depth_range = num_joints, depth_bins, float(depth_range)
        self.root_bins, self.root_range = root_bins, (float(root_range[0]), float(root_range[1]))
        self.backbone = ResNet(depth, width, output_stride)
        self.heatmaps = nn.Conv2d(self.backbone.out_channels, num_joints * depth_bins, 1)
        self.root = nn.Conv2d(self.backbone.out_channels, root_bins, 1)

    def forward(self, images: torch.Tensor) -> PoseOutput:
        """(B, 3, S, S) normalised crops -> :class:`PoseOutput`."""
        feats = self.backbone(images)                                              # (B, C, h, w)
        b, _, h, w = feats.shape
        vol = self.heatmaps(feats).reshape(b, self.num_joints, self.depth_bins, h, w)
        xyz = soft_argmax(vol, 3)                                                  # (B, J, 3)
        uvz = voxels_to_crop(xyz, (self.depth_bins, h, w), images.shape[-1], self.depth_range)
        root_logits = self.root(feats).float().mean(dim=(2, 3))                   # (B, K)
        k = soft_argmax(root_logits, 1)[..., 0]                                    # (B,) bins
        lo, hi = self.root_range
        root_norm = lo + (k + 0.5) / self.root_bins * (hi - lo)
        return PoseOutput(uvz, root_norm)
