"""Martinez et al. (ICCV 2017) "simple yet effective" single-frame 2D-to-3D lifting baseline.

    (B, J*2) -> Linear(2J, C) -> BN -> ReLU -> Dropout
             -> num_stages x residual block [ (Linear(C, C) -> BN -> ReLU -> Dropout) x 2 ] + skip
             -> Linear(C, 3J) -> (B, J, 3)

The model lifts every frame independently (receptive field 1), so it accepts the temporal
models' layout ``(B, T, J, 2) -> (B, T, J, 3)`` as well as single poses ``(B, J, 2)``. Call
:meth:`LinearModel.apply_max_norm` after each optimiser step for the paper's max-norm constraint.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LinearModel"]


def _dense(size: int, dropout: float) -> list[nn.Module]:
    return [nn.Linear(size, size), nn.BatchNorm1d(size), nn.ReLU(inplace=True), nn.Dropout(dropout)]


class _ResidualBlock(nn.Module):
    def __init__(self, size: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(*_dense(size, dropout), *_dense(size, dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class LinearModel(nn.Module):
    """Fully connected residual lifter.

    Args:
        num_joints_in: input joints J.
        num_joints_out: output joints (defaults to ``num_joints_in``).
        in_features: features per input joint (2).
        linear_size: hidden width (1024 in the paper).
        num_stages: residual blocks (2 in the paper).
        dropout: dropout probability (0.5 in the paper).
    """

    uses_occlusion = False

    def __init__(self, num_joints_in: int, num_joints_out: int | None = None, in_features: int = 2,
                 linear_size: int = 1024, num_stages: int = 2, dropout: float = 0.5) -> None:
        super().__init__()
        self.num_joints_in = num_joints_in
        self.num_joints_out = num_joints_out or num_joints_in
        self.in_features = in_features
        self.input_layer = nn.Sequential(nn.Linear(num_joints_in * in_features, linear_size),
                                         nn.BatchNorm1d(linear_size), nn.ReLU(inplace=True),
                                         nn.Dropout(dropout))
        self.blocks = nn.Sequential(*(_ResidualBlock(linear_size, dropout)
                                      for _ in range(num_stages)))
        self.output_layer = nn.Linear(linear_size, self.num_joints_out * 3)

    def receptive_field(self) -> int:
        return 1

    def set_bn_momentum(self, momentum: float) -> None:
        for m in self.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, J, F) or (B, T, J, F) keypoints -> (B, 1, J_out, 3) or (B, T, J_out, 3) poses."""
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4 or x.shape[-2] != self.num_joints_in or x.shape[-1] != self.in_features:
            raise ValueError(f"expected input (B, [T,] {self.num_joints_in}, {self.in_features}), "
                             f"got {tuple(x.shape)}")
        b, t = x.shape[:2]
        y = self.input_layer(x.reshape(b * t, -1))                   # (B*T, C)
        y = self.output_layer(self.blocks(y))                        # (B*T, J_out*3)
        return y.reshape(b, t, self.num_joints_out, 3)

    @torch.no_grad()
    def apply_max_norm(self, max_norm: float = 1.0) -> None:
        """Rescale each Linear weight row (one unit's incoming weights) to L2 norm <= max_norm."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.renorm(m.weight, p=2, dim=0, maxnorm=max_norm))
