"""2D input sources: exact projections, the seeded detector-noise model, detector predictions."""

from dataclasses import replace

import numpy as np
import pytest

from occpose.config import NoiseSection
from occpose.errors import OccposeError
from occpose.harness.inputs import (detector_noise, hidden_mask, keypoints_2d,
                                    normalized_keypoints, occlusion_vectors, parse_source)
from occpose.harness.toy import toy_sequences


@pytest.fixture(scope="module")
def seqs():
    return toy_sequences(subjects=("S1",), actions=("walk", "box"), levels=(0.0, 0.5), frames=80,
                         test_subjects=())


def test_exact_is_unchanged(seqs):
    s = seqs[0]
    k = keypoints_2d(s, "exact")
    np.testing.assert_array_equal(k.pixels, s.joints_2d)
    assert not k.dropped.any() and not k.outlier.any()
    norm = normalized_keypoints(s, "exact")
    np.testing.assert_allclose((norm[..., 0] + 1) * s.width / 2, s.joints_2d[..., 0], rtol=1e-5)


def test_noise_is_seeded_by_sequence(seqs):
    a, b = keypoints_2d(seqs[1], "noise"), keypoints_2d(seqs[1], "noise")
    np.testing.assert_array_equal(a.pixels, b.pixels)
    np.testing.assert_array_equal(a.dropped, b.dropped)
    other = keypoints_2d(seqs[0], "noise").pixels - seqs[0].joints_2d
    assert not np.allclose(a.pixels - seqs[1].joints_2d, other)


def test_occluded_joints_get_larger_errors(seqs):
    s = next(x for x in seqs if x.level == 0.5)
    hidden = hidden_mask(s)
    assert 0.1 < hidden.mean() < 0.9
    k = keypoints_2d(s, "noise", NoiseSection())
    err = np.linalg.norm(k.pixels - s.joints_2d, axis=-1)
    inside = ~s.labels["out_of_frame"]
    vis, occ = err[~hidden & inside], err[hidden & inside]
    assert occ.mean() > 3 * vis.mean()
    # visible: isotropic Gaussian of 3 px per axis -> mean norm 3 * sqrt(pi / 2)
    assert vis.mean() == pytest.approx(3.0 * np.sqrt(np.pi / 2), rel=0.1)
    assert not (k.dropped & ~hidden).any() and not (k.outlier & ~hidden).any()
    assert k.dropped.any() and k.outlier.any()


def test_dropouts_hold_the_last_detection_and_everything_is_clipped():
    rng = np.random.default_rng(0)
    t, j = 50, 5
    px = rng.uniform(-100, 1100, (t, j, 2)).astype(np.float32)      # some outside the image
    hidden = np.ones((t, j), bool)
    noise = dict(visible_std=0, occluded_std=0, outlier_prob=0, outlier_std=0, dropout_prob=0.5)
    k = detector_noise(px, hidden, 1000, 1000, noise, np.random.default_rng(1))
    assert k.dropped.any()
    clipped = np.clip(px, 0, 1000)
    for tt, jj in zip(*np.nonzero(k.dropped)):
        earlier = [f for f in range(tt) if not k.dropped[f, jj]]
        expect = clipped[earlier[-1], jj] if earlier else k.pixels[tt, 0]
        np.testing.assert_allclose(k.pixels[tt, jj], expect, atol=1e-4)
    np.testing.assert_allclose(k.pixels[~k.dropped], clipped[~k.dropped], atol=1e-4)
    assert (k.pixels >= 0).all() and (k.pixels <= 1000).all()


def test_noise_scales_with_image_width(seqs):
    s = seqs[0]
    big = replace(s, joints_2d=s.joints_2d * 2, width=2 * s.width, height=2 * s.height)
    e1 = keypoints_2d(s, "noise").pixels - s.joints_2d
    e2 = keypoints_2d(replace(big, id=s.id), "noise").pixels - big.joints_2d
    inside = ~s.labels["out_of_frame"]
    np.testing.assert_allclose(e2[inside], 2 * e1[inside], rtol=1e-3, atol=1e-2)


def test_detector_predictions(seqs, tmp_path):
    s = seqs[0]
    with pytest.raises(OccposeError, match="no 2D predictions"):
        keypoints_2d(s, f"detector:{tmp_path}")
    (tmp_path / "keypoints2d").mkdir()
    np.save(tmp_path / "keypoints2d" / f"{s.id}.npy", s.joints_2d + 1)
    np.testing.assert_allclose(keypoints_2d(s, f"detector:{tmp_path}").pixels, s.joints_2d + 1)
    np.save(tmp_path / "keypoints2d" / f"{s.id}.npy", s.joints_2d[:5])
    with pytest.raises(OccposeError, match="expected float"):
        keypoints_2d(s, f"detector:{tmp_path}")


def test_bad_sources_and_labels(seqs):
    with pytest.raises(OccposeError, match="unknown 2D input source"):
        parse_source("gaussian")
    with pytest.raises(OccposeError, match="unknown 2D input source"):
        parse_source("detector:")
    s = replace(seqs[0], labels={})
    with pytest.raises(OccposeError, match="occluded_boxed"):
        occlusion_vectors(s, "occluded_boxed")
    assert not hidden_mask(s).any()
