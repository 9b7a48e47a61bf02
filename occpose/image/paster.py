"""Synthetic occlusion augmentation (Sarandi et al.): paste random occluders into crops.

With probability ``probability`` an image gets ``count`` = uniform integer in [min, max]
(1-8 in the paper) occluders, each drawn from a random source, resized so that its larger side is
``scale`` = uniform in [min, max] x the image's smaller side, centred at a uniform random pixel
(it may hang over the border) and alpha-blended over the image. All randomness comes from the
generator passed in. The paster sees only pixels: it never touches, reads or returns labels.
The paper's ablation uses probabilities 0, 0.15, 0.5 and 0.85.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .occluder_sources import OccluderSource

__all__ = ["PasteResult", "OcclusionPaster", "alpha_blend"]


@dataclass
class PasteResult:
    """A pasted image (H, W, 3) uint8 and how many occluders went into it (0 = untouched)."""

    image: np.ndarray
    count: int


def alpha_blend(image: np.ndarray, rgba: np.ndarray, top: int, left: int) -> None:
    """Blend ``rgba`` (h, w, 4) uint8 over ``image`` (H, W, 3) uint8 in place at (top, left).

    Parts outside the image are clipped.
    """
    h, w = rgba.shape[:2]
    big_h, big_w = image.shape[:2]
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + h, big_h), min(left + w, big_w)
    if y1 <= y0 or x1 <= x0:
        return
    src = rgba[y0 - top:y1 - top, x0 - left:x1 - left].astype(np.float32)
    alpha = src[..., 3:] / 255.0
    dst = image[y0:y1, x0:x1].astype(np.float32)
    image[y0:y1, x0:x1] = np.rint(dst + (src[..., :3] - dst) * alpha).astype(np.uint8)


class OcclusionPaster:
    """Pastes occluders from ``sources`` (see the module docstring).

    Args:
        sources: one or more :class:`~occpose.image.occluder_sources.OccluderSource`.
        probability: chance that an image is augmented at all.
        count: (min, max) occluders per augmented image, inclusive.
        scale: (min, max) larger side of an occluder / smaller side of the image.
    """

    def __init__(self, sources: list[OccluderSource], probability: float = 0.5,
                 count: tuple[int, int] = (1, 8), scale: tuple[float, float] = (0.1, 0.5)) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"occlusion probability must lie in [0, 1], got {probability}")
        if not 1 <= count[0] <= count[1]:
            raise ValueError(f"occluder count must be 1 <= min <= max, got {tuple(count)}")
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"occluder scale must be 0 < min <= max, got {tuple(scale)}")
        if probability > 0 and not sources:
            raise ValueError("occlusion augmentation needs at least one occluder source")
        self.sources = list(sources)
        self.probability = float(probability)
        self.count = (int(count[0]), int(count[1]))
        self.scale = (float(scale[0]), float(scale[1]))

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> PasteResult:
        """Augment a copy of ``image`` (H, W, 3) uint8; the input array is never modified."""
        if self.probability == 0.0 or rng.random() >= self.probability:
            return PasteResult(image, 0)
        from PIL import Image

        out = np.array(image, dtype=np.uint8, copy=True)
        side = min(out.shape[:2])
        n = int(rng.integers(self.count[0], self.count[1] + 1))
        for _ in range(n):
            occ = self.sources[int(rng.integers(len(self.sources)))].sample(rng)
            target = rng.uniform(*self.scale) * side
            f = target / max(occ.shape[:2])
            h, w = max(1, round(occ.shape[0] * f)), max(1, round(occ.shape[1] * f))
            occ = np.asarray(Image.fromarray(occ, "RGBA").resize((w, h), Image.BILINEAR))
            cy, cx = rng.uniform(0, out.shape[0]), rng.uniform(0, out.shape[1])
            alpha_blend(out, occ, int(round(cy - h / 2)), int(round(cx - w / 2)))
        return PasteResult(out, n)
