"""Synthetic occlusion of 2D keypoint sequences, for training ``tcn-aug``.

Three independent corruptions of normalised 2D keypoints ``(B, T, J, 2)`` mimic what an
occluded joint does to a 2D detector's output:

* blank: single joint-frames set to (0, 0) with probability ``p_blank``;
* track blank: with probability ``p_span`` per (sequence, joint), the joint's track is set to
  (0, 0) over one contiguous span of ``1 .. max_span`` frames (an occluder passing by);
* corrupt: joint-frames displaced by Gaussian noise of std ``corrupt_std`` (in the normalised
  units) with probability ``p_corrupt`` (a detector latching onto the wrong thing).

Blanking wins over corruption on the same joint-frame. Randomness comes only from the explicit
``torch.Generator`` (it must live on the keypoints' device); the input is never modified.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["AugmentedKeypoints", "occlude_keypoints"]

# The integer type as wide as a joint's (x, y) pair, by the byte size of one coordinate.
_PAIR_WORDS = {2: torch.int32, 4: torch.int64}


@dataclass
class AugmentedKeypoints:
    """Result of :func:`occlude_keypoints`.

    Attributes:
        keypoints: (B, T, J, 2) new keypoints, same dtype and device as the input.
        touched: (B, T, J) bool, joint-frames that were blanked or corrupted.
        blanked: (B, T, J) bool, joint-frames set to zero (single or track blanks).
        occlusion: (B, T, J) the given ``occ`` labels with blanked joint-frames set to 1 (same
            dtype as ``occ``), or None when no ``occ`` was given.
    """

    keypoints: torch.Tensor
    touched: torch.Tensor
    blanked: torch.Tensor
    occlusion: torch.Tensor | None


def occlude_keypoints(kp2d: torch.Tensor, occ: torch.Tensor | None = None, *,
                      generator: torch.Generator, p_blank: float = 0.1, p_corrupt: float = 0.05,
                      corrupt_std: float = 0.1, p_span: float = 0.05,
                      max_span: int = 10) -> AugmentedKeypoints:
    """Randomly blank or corrupt joints of a batch of 2D keypoint sequences.

    Args:
        kp2d: (B, T, J, 2) normalised 2D keypoints (e.g. in [-1, 1]).
        occ: optional (B, T, J) occlusion labels (1 = occluded) to update with the blanks.
        generator: the only source of randomness; on the same device as ``kp2d``.
        p_blank: probability that a joint-frame is zeroed.
        p_corrupt: probability that a joint-frame gets Gaussian noise.
        corrupt_std: standard deviation of that noise, in the keypoints' units.
        p_span: probability per (sequence, joint) of zeroing one contiguous span of frames.
        max_span: longest such span, in frames (lengths are uniform in 1 .. max_span).
    Returns:
        :class:`AugmentedKeypoints`.
    """
    if kp2d.ndim != 4 or kp2d.shape[-1] != 2:
        raise ValueError(f"expected keypoints (B, T, J, 2), got {tuple(kp2d.shape)}")
    b, t, j = kp2d.shape[:3]
    if occ is not None and tuple(occ.shape) != (b, t, j):
        raise ValueError(f"expected occlusion labels {(b, t, j)}, got {tuple(occ.shape)}")
    for name, p in (("p_blank", p_blank), ("p_corrupt", p_corrupt), ("p_span", p_span)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {p}")
    if max_span < 1:
        raise ValueError(f"max_span must be >= 1, got {max_span}")
    dev = kp2d.device

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=dev)

    blanked = uniform(b, t, j) < p_blank                                  # (B, T, J)
    # Track blanks: one span [start, start + length) per selected (sequence, joint).
    has_span = uniform(b, j) < p_span                                     # (B, J)
    start = torch.randint(0, t, (b, j), generator=generator, device=dev)
    length = torch.randint(1, max_span + 1, (b, j), generator=generator, device=dev)
    frames = torch.arange(t, device=dev)[None, :, None]                   # (1, T, 1)
    in_span = (frames >= start[:, None]) & (frames < (start + length)[:, None])  # (B, T, J)
    blanked |= in_span & has_span[:, None]

    corrupted = uniform(b, t, j) < p_corrupt
    corrupted &= ~blanked
    noise = torch.randn((b, t, j, 2), generator=generator, device=dev).to(kp2d.dtype)
    moved = noise.mul_(corrupt_std).add_(kp2d)                # kp2d + corrupt_std * noise

    out = _select_joints(corrupted, moved, kp2d, blanked)                 # a new tensor
    new_occ = None
    if occ is not None:
        new_occ = occ.masked_fill(blanked, 1) if occ.dtype != torch.bool else occ | blanked
    return AugmentedKeypoints(keypoints=out, touched=blanked | corrupted, blanked=blanked,
                              occlusion=new_occ)


def _select_joints(take: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                   zero: torch.Tensor) -> torch.Tensor:
    """``torch.where(take[..., None], a, b)`` with the joints of ``zero`` set to (0, 0), for
    (..., J, 2) coordinates and (..., J) masks; a new tensor.

    A mask broadcast over a last dimension of 2 runs an unvectorised loop on the CPU, so when the
    coordinates allow it each joint's (x, y) pair is moved as one integer word of the same bytes
    (an exact copy either way; the zero word is the bytes of (+0.0, +0.0))."""
    word = _PAIR_WORDS.get(a.element_size())
    a, b = a.contiguous(), b.contiguous()
    if (word is None or a.dtype != b.dtype or a.requires_grad or b.requires_grad
            or a.storage_offset() % 2 or b.storage_offset() % 2):
        out = torch.where(take[..., None], a, b)
        return out.masked_fill_(zero[..., None], 0.0)
    out = torch.where(take, a.view(word)[..., 0], b.view(word)[..., 0])  # (..., J) words
    return out.masked_fill_(zero, 0)[..., None].view(a.dtype)
