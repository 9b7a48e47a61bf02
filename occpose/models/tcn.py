"""VideoPose3D temporal convolutional network (Pavllo et al., CVPR 2019).

Two modules share one set of weights (identical ``state_dict`` keys and shapes):

* :class:`TemporalModel` -- unpadded dilated 1D convolutions. Any input length ``T >= RF``
  gives ``T - RF + 1`` output frames (``RF`` = :meth:`receptive_field`); used for evaluation on
  whole sequences and by the occlusion-aware variants.
* :class:`TemporalModelOptimized1f` -- the same network with strided instead of dilated
  convolutions: it computes exactly one output frame from one ``RF``-frame window, which is far
  cheaper for training on randomly sampled single frames.

Layout: expand conv (kernel ``w0``, no bias) + BN + ReLU + dropout, then one residual block per
further filter width ``w_i``: conv (kernel ``w_i``, dilation ``w_0 ... w_{i-1}``) + BN + ReLU +
dropout, 1x1 conv + BN + ReLU + dropout, plus the block input cropped to the output's frames;
finally a 1x1 "shrink" conv with bias to ``3 * num_joints_out`` channels.

Alignment: output frame ``i`` is computed from input frames ``i .. i + RF - 1``. Non-causal
models estimate the pose of the window's centre frame ``i + (RF - 1) / 2``; causal models that of
its last frame ``i + RF - 1``, so with ``input_padding()`` frames of left/right padding, output
frame ``t`` depends only on inputs ``<= t`` (causal) or ``t +- (RF-1)/2`` (non-causal).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TemporalModel", "TemporalModelOptimized1f"]


class _TemporalModelBase(nn.Module):
    """Shared layers, bookkeeping and shape handling of the two TCN flavours; a flavour says how
    a block's temporal convolution steps over frames (:meth:`_conv`), which frames a block's
    residual keeps (:meth:`_residual`) and how many input frames it accepts (:meth:`_check_frames`)."""

    uses_occlusion = False

    def __init__(self, num_joints_in: int, in_features: int, num_joints_out: int,
                 filter_widths: Sequence[int], causal: bool = False, dropout: float = 0.25,
                 channels: int = 1024) -> None:
        super().__init__()
        filter_widths = tuple(int(w) for w in filter_widths)
        if not filter_widths or any(w < 1 or w % 2 == 0 for w in filter_widths):
            raise ValueError(f"filter widths must be odd and >= 1, got {filter_widths}")
        self.num_joints_in = num_joints_in
        self.in_features = in_features
        self.num_joints_out = num_joints_out
        self.filter_widths = filter_widths
        self.causal = causal
        self.channels = channels

        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.shrink = nn.Conv1d(channels, num_joints_out * 3, 1)

        # Per layer: half the frames the layer removes (pad) and the extra offset of the frames
        # the residual keeps in causal mode (causal_shift), both in input-frame units.
        self.pad = [filter_widths[0] // 2]
        self.causal_shift = [filter_widths[0] // 2 if causal else 0]
        dilation = filter_widths[0]
        for w in filter_widths[1:]:
            self.pad.append((w - 1) * dilation // 2)
            self.causal_shift.append((w // 2) * dilation if causal else 0)
            dilation *= w

        # Layers in VideoPose3D's order (the state_dict keys and parameter order of both flavours).
        self.expand_conv = self._conv(num_joints_in * in_features, filter_widths[0], 1)
        convs, bns = [], []
        dilation = filter_widths[0]
        for w in filter_widths[1:]:
            convs.append(self._conv(channels, w, dilation))
            bns.append(nn.BatchNorm1d(channels, momentum=0.1))
            convs.append(nn.Conv1d(channels, channels, 1, bias=False))
            bns.append(nn.BatchNorm1d(channels, momentum=0.1))
            dilation *= w
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)

    def set_bn_momentum(self, momentum: float) -> None:
        """Set the momentum of every BatchNorm layer (VideoPose3D decays it during training)."""
        for m in self.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = momentum

    def receptive_field(self) -> int:
        """Number of input frames that produce one output frame."""
        return 1 + 2 * sum(self.pad)

    def total_causal_shift(self) -> int:
        """Frames between the window centre and the frame the output estimates (0 if non-causal)."""
        return sum(self.causal_shift)

    def output_offset(self) -> int:
        """Input frame that output frame 0 estimates (window centre; last frame if causal)."""
        return sum(self.pad) + self.total_causal_shift()

    def input_padding(self) -> tuple[int, int]:
        """(left, right) frames to pad a sequence with so output frame t estimates input frame t."""
        pad, shift = sum(self.pad), self.total_causal_shift()
        return pad + shift, pad - shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, J_in, F) keypoints -> (B, T_out, J_out, 3) root-relative 3D poses."""
        if x.ndim != 4 or x.shape[-2] != self.num_joints_in or x.shape[-1] != self.in_features:
            raise ValueError(f"expected input (B, T, {self.num_joints_in}, {self.in_features}), "
                             f"got {tuple(x.shape)}")
        b, t = x.shape[:2]
        x = x.reshape(b, t, -1).permute(0, 2, 1)                     # (B, J*F, T)
        x = self._forward_blocks(x)                                  # (B, J_out*3, T_out)
        return x.permute(0, 2, 1).reshape(b, -1, self.num_joints_out, 3)

    def _forward_blocks(self, x: torch.Tensor) -> torch.Tensor:
        self._check_frames(x.shape[-1])
        x = self.drop(self.relu(self.expand_bn(self.expand_conv(x))))
        for i in range(len(self.pad) - 1):
            res = self._residual(x, i)
            x = self.drop(self.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
            x = self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))
            x = res + self.drop(self.relu(x))
        return self.shrink(x)

    def _conv(self, c_in: int, width: int, dilation: int) -> nn.Conv1d:
        """The temporal convolution of a block whose input frames lie ``dilation`` apart."""
        raise NotImplementedError

    def _residual(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """The frames of block ``i``'s input that its output keeps (the residual path)."""
        raise NotImplementedError

    def _check_frames(self, n: int) -> None:
        raise NotImplementedError


class TemporalModel(_TemporalModelBase):
    """VideoPose3D TCN with dilated convolutions; (B, T, J, F) -> (B, T - RF + 1, J_out, 3).

    Args:
        num_joints_in: input joints J.
        in_features: features per input joint (2 for 2D keypoints).
        num_joints_out: output joints (3D).
        filter_widths: kernel width per layer, e.g. (3, 3, 3) -> receptive field 27.
        causal: estimate the last frame of each window instead of its centre.
        dropout: dropout probability after every BN + ReLU.
        channels: convolution channels (1024 in the paper).
    """

    def _conv(self, c_in: int, width: int, dilation: int) -> nn.Conv1d:
        return nn.Conv1d(c_in, self.channels, width, dilation=dilation, bias=False)

    def _residual(self, x: torch.Tensor, i: int) -> torch.Tensor:
        pad, shift = self.pad[i + 1], self.causal_shift[i + 1]
        return x[:, :, pad + shift: x.shape[2] - pad + shift]

    def _check_frames(self, n: int) -> None:
        if n < self.receptive_field():
            raise ValueError(f"need at least {self.receptive_field()} frames, got {n}")


class TemporalModelOptimized1f(_TemporalModelBase):
    """Single-frame training flavour: strided convs, (B, RF, J, F) -> (B, 1, J_out, 3).

    Same arguments and ``state_dict`` as :class:`TemporalModel`; load its weights into a
    :class:`TemporalModel` to evaluate whole sequences. The input must be exactly
    ``receptive_field()`` frames long.

    Computation (:meth:`forward`): frames-major ("channels last", (B, T, C)) throughout. A
    convolution whose stride equals its kernel width is a matrix product of each group of ``w``
    consecutive frames, so every layer is one ``F.linear`` on (B, T/w, w*C) with the conv weight
    reordered to (C_out, w*C_in), and BatchNorm normalises the (B*T, C) rows (the same batch
    statistics as over (B, C, T)). Same outputs as the channels-first convolutions up to float
    rounding, and faster on the CPU (benchmark/bench_tcn_train.py). ``channels_first = True``
    uses the convolutions (VideoPose3D's computation).
    """

    channels_first = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_first:
            return super().forward(x)
        if x.ndim != 4 or x.shape[-2] != self.num_joints_in or x.shape[-1] != self.in_features:
            raise ValueError(f"expected input (B, T, {self.num_joints_in}, {self.in_features}), "
                             f"got {tuple(x.shape)}")
        b, t = x.shape[:2]
        self._check_frames(t)
        h = x.reshape(b, t, -1)                                       # (B, T, J*F)
        h = self._dropout(self._bn_relu(self._linear(h, self.expand_conv), self.expand_bn))
        for i in range(len(self.pad) - 1):
            w = self.filter_widths[i + 1]
            res = h[:, w // 2 + (w // 2 if self.causal else 0)::w]   # (B, T/w, C)
            h = self._dropout(self._bn_relu(self._linear(h, self.layers_conv[2 * i]),
                                            self.layers_bn[2 * i]))
            h = self._bn_relu(self._linear(h, self.layers_conv[2 * i + 1]), self.layers_bn[2 * i + 1])
            h = res + self._dropout(h)
        out = self._linear(h, self.shrink)                            # (B, 1, J_out*3)
        return out.reshape(b, -1, self.num_joints_out, 3)

    @staticmethod
    def _linear(h: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
        """A conv with stride == kernel width on frames-major (B, T, C_in) -> (B, T/w, C_out)."""
        w = conv.kernel_size[0]
        b, t, c = h.shape
        weight = conv.weight.permute(0, 2, 1).reshape(conv.out_channels, w * c)   # (C_out, w*C_in)
        return F.linear(h.reshape(b, t // w, w * c), weight, conv.bias)

    def _bn_relu(self, h: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
        """BatchNorm over the (B*T, C) rows, then ReLU in place on BatchNorm's own output (not
        on a reshaped view of it: autograd would route an in-place op on a view through
        CopySlices, copying and filling the gradient of the whole tensor in the backward pass)."""
        b, t, c = h.shape
        return self.relu(bn(h.reshape(b * t, c))).reshape(b, t, c)

    def _dropout(self, h: torch.Tensor) -> torch.Tensor:
        """Inverted dropout from a uniform draw (``torch.rand``: faster on the CPU than the
        Bernoulli sampling of ``nn.Dropout``; the same distribution). The mask is built in the
        draw's own memory (``ge_`` writes 1.0/0.0), with the values of
        ``(rand >= p).float() * (1 / (1 - p))``."""
        p = self.drop.p
        if not self.training or p == 0:
            return h
        return h * torch.rand_like(h).ge_(p).mul_(1.0 / (1.0 - p))

    def _conv(self, c_in: int, width: int, dilation: int) -> nn.Conv1d:
        return nn.Conv1d(c_in, self.channels, width, stride=width, bias=False)

    def _residual(self, x: torch.Tensor, i: int) -> torch.Tensor:
        # Each output frame of the strided conv summarises a group of w frames; the residual
        # keeps the group's centre frame (its last frame if causal).
        w = self.filter_widths[i + 1]
        return x[:, :, w // 2 + (w // 2 if self.causal else 0)::w]

    def _check_frames(self, n: int) -> None:
        if n != self.receptive_field():
            raise ValueError(f"the single-frame model needs exactly {self.receptive_field()} "
                             f"frames, got {n}")
