"""Occlusion-aware temporal models (Wang et al., section 4.3) around the VideoPose3D trunk.

Inputs are 2D keypoints ``(B, T, J, 2)`` and an occlusion vector sequence ``(B, T, J)`` with
1 = occluded (ground truth or a heuristic such as boxed-man). An *occlusion branch* turns the
vectors into per-frame occlusion probabilities õ and the keypoints are gated with them before the
unchanged :class:`~occpose.models.tcn.TemporalModel` trunk:

    occlusion (B, T, J) -> replicate-pad -> Conv1d(J, C_o, 3) -> ReLU  = h       (B, C_o, T)
    h -> Conv1d(C_o, J, 1) -> sigmoid                                  = õ_seq   (B, T, J)
    keypoints * gate(õ_seq) -> TemporalModel                           = pose    (B, T-RF+1, J, 3)

Lengths: the kernel-3 stem is padded by replicating the edge frames (one frame each side; two
frames on the left only for causal models, so frame t never sees t+1), so õ_seq and the gated
keypoints keep all T frames and the trunk sees its full receptive field RF.

Gating (``gating=`` argument):

* ``"hard"`` (default, the paper's rule): joints whose ``õ > threshold`` (default 0.5) are
  zeroed and the others pass untouched, in training and evaluation alike, so the trunk sees the
  same inputs in both. In training the mask is a straight-through estimator: the forward pass
  uses the 0/1 mask, the backward pass the gradient of the soft gate ``1 - õ``, so the pose loss
  still trains the branch.
* ``"soft"``: multiply by ``1 - õ`` in training and evaluation alike.

Variants (what the occlusion loss compares):

* :class:`TemporalModelOcc1` (``tcn-occ1``, "one vector"): a down-convolution head on h --
  unpadded dilated convs with the trunk's filter widths and dilations, so it has the trunk's
  receptive field -- predicts one occlusion vector per output frame, compared to the label of
  the frame the pose estimates (window centre, or last frame if causal). ``õ_seq`` is then only
  trained through the pose loss and the shared stem.
* :class:`TemporalModelOccSeq` (``tcn-occseq``, "many vectors"): no down-convolution;
  ``õ_seq`` itself is compared to the whole label sequence.

Training loss (section 4.4): ``L' = λ1 · MPJPE(pose, pose_gt) + λ2 · L1(o, õ)``, see
:func:`occlusion_aware_loss`; :meth:`occlusion_target` crops labels to the ``occlusion`` output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..metrics import mpjpe
from .tcn import TemporalModel, TemporalModelOptimized1f

__all__ = ["OccPoseOutput", "TemporalModelOcc1", "TemporalModelOccSeq", "occlusion_loss",
           "occlusion_aware_loss"]

GATINGS = ("hard", "soft")


@dataclass
class OccPoseOutput:
    """What an occlusion-aware model returns.

    Attributes:
        pose: (B, T_out, J_out, 3) 3D poses, T_out = T - RF + 1.
        occlusion: (B, T_occ, J) predicted occlusion probabilities in [0, 1] to compare with
            ``model.occlusion_target(labels)``; T_occ = T_out (occ1) or T (occseq).
        gate: (B, T, J) per-frame occlusion probabilities õ that gated the keypoints.
    """

    pose: torch.Tensor
    occlusion: torch.Tensor
    gate: torch.Tensor


class _OccTemporalModelBase(nn.Module):
    """Occlusion branch + keypoint gating + VideoPose3D trunk (see the module docstring)."""

    uses_occlusion = True

    def __init__(self, num_joints_in: int, in_features: int, num_joints_out: int,
                 filter_widths: Sequence[int], causal: bool = False, dropout: float = 0.25,
                 channels: int = 1024, occ_channels: int = 32, threshold: float = 0.5,
                 gating: str = "hard", single_frame: bool = False) -> None:
        super().__init__()
        if gating not in GATINGS:
            raise ValueError(f"unknown gating {gating!r}; expected one of {', '.join(GATINGS)}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.num_joints_in = num_joints_in
        self.in_features = in_features
        self.threshold = threshold
        self.gating = gating
        trunk = TemporalModelOptimized1f if single_frame else TemporalModel
        self.trunk = trunk(num_joints_in, in_features, num_joints_out, filter_widths,
                           causal=causal, dropout=dropout, channels=channels)
        self.occ_stem = nn.Conv1d(num_joints_in, occ_channels, 3)
        self.occ_gate = nn.Conv1d(occ_channels, num_joints_in, 1)

    # Trunk bookkeeping, so the harness can treat every model alike.
    def receptive_field(self) -> int:
        return self.trunk.receptive_field()

    def set_bn_momentum(self, momentum: float) -> None:
        self.trunk.set_bn_momentum(momentum)

    def output_offset(self) -> int:
        return self.trunk.output_offset()

    def input_padding(self) -> tuple[int, int]:
        return self.trunk.input_padding()

    @property
    def causal(self) -> bool:
        return self.trunk.causal

    def _stem(self, occlusion: torch.Tensor) -> torch.Tensor:
        """(B, J, T) occlusion vectors -> (B, C_o, T) features, length kept by edge replication."""
        pad = (2, 0) if self.trunk.causal else (1, 1)
        return F.relu(self.occ_stem(F.pad(occlusion, pad, mode="replicate")))

    def _gate(self, keypoints: torch.Tensor, occ_prob: torch.Tensor) -> torch.Tensor:
        """(B, T, J, F) keypoints gated by (B, T, J) occlusion probabilities."""
        soft = 1.0 - occ_prob
        if self.gating == "soft":
            return keypoints * soft[..., None]
        hard = (occ_prob <= self.threshold).to(keypoints.dtype)
        if self.training:  # straight-through: forward the 0/1 mask, backward the soft gradient
            hard = hard + soft - soft.detach()
        return keypoints * hard[..., None]

    def forward(self, keypoints: torch.Tensor, occlusion: torch.Tensor) -> OccPoseOutput:
        """(B, T, J, F) keypoints, (B, T, J) occlusion vectors (1 = occluded) -> OccPoseOutput."""
        if (keypoints.ndim != 4 or keypoints.shape[2] != self.num_joints_in
                or keypoints.shape[3] != self.in_features):
            raise ValueError(f"expected keypoints (B, T, {self.num_joints_in}, "
                             f"{self.in_features}), "
                             f"got {tuple(keypoints.shape)}")
        b, t, j = keypoints.shape[:3]
        if tuple(occlusion.shape) != (b, t, j):
            raise ValueError(f"expected occlusion vectors {(b, t, j)} matching the keypoints, "
                             f"got {tuple(occlusion.shape)}")
        occ = occlusion.to(keypoints.dtype).permute(0, 2, 1)            # (B, J, T)
        h = self._stem(occ)                                              # (B, C_o, T)
        gate = torch.sigmoid(self.occ_gate(h)).permute(0, 2, 1)          # (B, T, J)
        pose = self.trunk(self._gate(keypoints, gate))                   # (B, T-RF+1, J_out, 3)
        return OccPoseOutput(pose=pose, occlusion=self._occlusion_head(h, gate), gate=gate)

    def _occlusion_head(self, h: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def occlusion_target(self, occlusion: torch.Tensor) -> torch.Tensor:
        """The (B, T_occ, J) labels that ``forward(...).occlusion`` is compared with."""
        raise NotImplementedError


class TemporalModelOccSeq(_OccTemporalModelBase):
    """``tcn-occseq`` ("many vectors"): predicts the whole (B, T, J) occlusion sequence.

    Arguments as :class:`TemporalModelOcc1`.
    """

    def _occlusion_head(self, h: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        return gate                                                      # (B, T, J)

    def occlusion_target(self, occlusion: torch.Tensor) -> torch.Tensor:
        return occlusion


class TemporalModelOcc1(_OccTemporalModelBase):
    """``tcn-occ1`` ("one vector"): predicts one occlusion vector per output frame.

    Args:
        num_joints_in, in_features, num_joints_out, filter_widths, causal, dropout, channels:
            as :class:`~occpose.models.tcn.TemporalModel` (the trunk).
        occ_channels: channels of the occlusion branch (small).
        threshold: zeroing threshold on õ for ``gating="hard"``.
        gating: ``"hard"`` or ``"soft"`` (module docstring).
        single_frame: the training twin: strided trunk
            (:class:`~occpose.models.tcn.TemporalModelOptimized1f`) and strided occlusion head,
            same ``state_dict`` as the dilated model; inputs exactly ``receptive_field()`` long.
    """

    def __init__(self, num_joints_in: int, in_features: int, num_joints_out: int,
                 filter_widths: Sequence[int], causal: bool = False, dropout: float = 0.25,
                 channels: int = 1024, occ_channels: int = 32, threshold: float = 0.5,
                 gating: str = "hard", single_frame: bool = False) -> None:
        super().__init__(num_joints_in, in_features, num_joints_out, filter_widths, causal,
                         dropout, channels, occ_channels, threshold, gating, single_frame)
        layers: list[nn.Module] = []
        dilation = 1
        for w in self.trunk.filter_widths:   # same widths/dilations -> same receptive field
            conv = (nn.Conv1d(occ_channels, occ_channels, w, stride=w) if single_frame
                    else nn.Conv1d(occ_channels, occ_channels, w, dilation=dilation))
            layers += [conv, nn.ReLU()]
            dilation *= w
        self.occ_down = nn.Sequential(*layers)
        self.occ_out = nn.Conv1d(occ_channels, num_joints_in, 1)

    def _occlusion_head(self, h: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.occ_out(self.occ_down(h))).permute(0, 2, 1)  # (B, T-RF+1, J)

    def occlusion_target(self, occlusion: torch.Tensor) -> torch.Tensor:
        start = self.output_offset()
        return occlusion[:, start: start + occlusion.shape[1] - self.receptive_field() + 1]


def occlusion_loss(pred_occ: torch.Tensor, target_occ: torch.Tensor) -> torch.Tensor:
    """Mean L1 between predicted occlusion probabilities and 0/1 labels (any equal shapes)."""
    if pred_occ.shape != target_occ.shape:
        raise ValueError(f"occlusion prediction {tuple(pred_occ.shape)} and target "
                         f"{tuple(target_occ.shape)} differ in shape")
    return (pred_occ - target_occ.to(pred_occ.dtype)).abs().mean()


def occlusion_aware_loss(output: OccPoseOutput, pose_target: torch.Tensor,
                         occ_target: torch.Tensor, lambda_pose: float = 1.0,
                         lambda_occ: float = 1.0) -> torch.Tensor:
    """Wang et al.'s ``L' = λ1 · MPJPE(pose, pose_target) + λ2 · L1(o, õ)``.

    Args:
        output: the model's output.
        pose_target: (B, T_out, J, 3) root-relative 3D poses aligned with ``output.pose``.
        occ_target: labels aligned with ``output.occlusion`` (``model.occlusion_target(occ)``).
        lambda_pose, lambda_occ: λ1 and λ2.
    """
    return lambda_pose * mpjpe(output.pose, pose_target) + \
        lambda_occ * occlusion_loss(output.occlusion, occ_target)
