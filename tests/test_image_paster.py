"""Synthetic occlusion augmentation: probability, counts, blending, labels untouched."""

from __future__ import annotations

import numpy as np
import pytest

from occpose.image.occluder_sources import ProceduralOccluders
from occpose.image.paster import OcclusionPaster, alpha_blend


class Square:
    """A source of opaque red 10x10 squares."""

    def sample(self, rng):
        out = np.zeros((10, 10, 4), np.uint8)
        out[..., 0] = 255
        out[..., 3] = 255
        return out


@pytest.mark.parametrize("p", [0.0, 0.15, 0.5, 0.85])
def test_probability_and_counts(p):
    paster = OcclusionPaster([ProceduralOccluders(32)], probability=p, count=(1, 8), scale=(0.1, 0.3))
    rng = np.random.default_rng(0)
    image = np.full((48, 48, 3), 128, np.uint8)
    counts = np.array([paster(image, rng).count for _ in range(1500)])
    assert abs((counts > 0).mean() - p) < 0.04
    if p > 0:
        pasted = counts[counts > 0]
        assert pasted.min() == 1 and pasted.max() == 8
        freq = np.bincount(pasted, minlength=9)[1:] / len(pasted)
        assert np.abs(freq - 1 / 8).max() < 0.06                  # uniform over 1..8


def test_seeded_generator_reproduces_and_input_is_untouched():
    paster = OcclusionPaster([ProceduralOccluders(32), Square()], probability=1.0)
    image = np.full((64, 64, 3), 77, np.uint8)
    before = image.copy()
    a = paster(image, np.random.default_rng(5))
    b = paster(image, np.random.default_rng(5))
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.count == b.count and not np.array_equal(a.image, image)


def test_zero_probability_returns_the_image_unchanged():
    paster = OcclusionPaster([Square()], probability=0.0)
    image = np.zeros((16, 16, 3), np.uint8)
    res = paster(image, np.random.default_rng(0))
    assert res.count == 0 and res.image is image


def test_alpha_blend_clips_and_mixes():
    image = np.zeros((8, 8, 3), np.uint8)
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 1] = 200
    rgba[..., 3] = 128                                           # ~50 % opaque
    alpha_blend(image, rgba, top=-2, left=6)                     # hangs over two borders
    assert image[0:2, 6:8, 1].min() == round(200 * 128 / 255)
    assert image[2:, :, :].max() == 0 and image[:, :6].max() == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="probability"):
        OcclusionPaster([Square()], probability=1.5)
    with pytest.raises(ValueError, match="count"):
        OcclusionPaster([Square()], count=(0, 8))
    with pytest.raises(ValueError, match="source"):
        OcclusionPaster([], probability=0.5)


def test_procedural_occluders_are_textured_rgba():
    src = ProceduralOccluders(48)
    rng = np.random.default_rng(2)
    samples = [src.sample(rng) for _ in range(30)]
    for s in samples:
        assert s.dtype == np.uint8 and s.ndim == 3 and s.shape[2] == 4
        assert s[..., 3].max() > 0 and s[..., 3].min() == 0   # a shape, not a full rectangle
    assert len({s.shape for s in samples}) > 5
    assert np.mean([s[..., :3][s[..., 3] > 128].std() > 1 for s in samples]) > 0.5  # mostly textured
