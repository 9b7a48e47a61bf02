"""Fully convolutional ResNet v2 (pre-activation) backbones, written out (no torchvision).

He et al., "Identity mappings in deep residual networks" (ECCV 2016), the ResNet v2 that
Sarandi et al. use: every block is BN-ReLU-conv with an identity shortcut (a 1x1 projection
of the pre-activated input where the shape changes), downsampling by stride-2 convolutions.
The stem is a 7x7/2 convolution and a 3x3/2 max pool; the four stages then have strides
1, 2, 2, 2 (output stride 32). A smaller ``output_stride`` (8 or 16) keeps the last stages at
stride 1 instead, so the heatmaps keep more resolution (Sarandi et al. use 16x16 heatmaps at
256 px). The backbone ends with BN-ReLU, as v2 networks do before their head.

Layouts: depth 10/18/34 use basic blocks (two 3x3 convolutions), 50/101 bottlenecks (1x1, 3x3,
1x1 with 4x expansion). ``width`` is the first stage's channel count (64 in the papers).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "LAYOUTS"]

# depth -> (block kind, blocks per stage)
LAYOUTS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    10: ("basic", (1, 1, 1, 1)),
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}


def _bn_relu(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """Pre-activation basic block: (BN-ReLU-conv3x3) x 2 + shortcut; ``out = in_ch`` expansion 1."""

    expansion = 1

    def __init__(self, in_ch: int, ch: int, stride: int = 1) -> None:
        super().__init__()
        out = ch * self.expansion
        self.pre = _bn_relu(in_ch)
        self.conv1 = nn.Conv2d(in_ch, ch, 3, stride, 1, bias=False)
        self.conv2 = nn.Sequential(_bn_relu(ch), nn.Conv2d(ch, out, 3, 1, 1, bias=False))
        self.shortcut = (nn.Conv2d(in_ch, out, 1, stride, bias=False)
                         if stride != 1 or in_ch != out else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.pre(x)
        skip = x if self.shortcut is None else self.shortcut(pre)
        return skip + self.conv2(self.conv1(pre))


class Bottleneck(nn.Module):
    """Pre-activation bottleneck: BN-ReLU-conv1x1, BN-ReLU-conv3x3 (stride), BN-ReLU-conv1x1 (4x)."""

    expansion = 4

    def __init__(self, in_ch: int, ch: int, stride: int = 1) -> None:
        super().__init__()
        out = ch * self.expansion
        self.pre = _bn_relu(in_ch)
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, ch, 1, bias=False),
            _bn_relu(ch), nn.Conv2d(ch, ch, 3, stride, 1, bias=False),
            _bn_relu(ch), nn.Conv2d(ch, out, 1, bias=False))
        self.shortcut = (nn.Conv2d(in_ch, out, 1, stride, bias=False)
                         if stride != 1 or in_ch != out else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.pre(x)
        skip = x if self.shortcut is None else self.shortcut(pre)
        return skip + self.body(pre)


class ResNet(nn.Module):
    """A ResNet v2 feature extractor: (B, 3, H, W) -> (B, out_channels, H/s, W/s), s = output_stride.

    Args:
        depth: 10, 18, 34 (basic blocks), 50 or 101 (bottlenecks).
        width: channels of the first stage (doubling per stage).
        output_stride: 8, 16 or 32.
    """

    def __init__(self, depth: int = 18, width: int = 64, output_stride: int = 32) -> None:
        super().__init__()
        if depth not in LAYOUTS:
            raise ValueError(f"backbone depth {depth} not in {sorted(LAYOUTS)}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        kind, blocks = LAYOUTS[depth]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False),
                                  nn.MaxPool2d(3, 2, 1))                      # stride 4
        stages, in_ch, stride_now = [], width, 4
        for i, n in enumerate(blocks):
            stride = 1 if i == 0 or stride_now >= output_stride else 2
            stride_now *= stride
            ch = width * 2 ** i
            layers = []
            for k in range(n):
                layers.append(block(in_ch, ch, stride if k == 0 else 1))
                in_ch = ch * block.expansion
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.post = _bn_relu(in_ch)
        self.out_channels = in_ch
        self.output_stride = output_stride
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.stages(self.stem(x)))

