"""Bootstrap intervals over test sequences (occpose.stats)."""

import numpy as np
import pytest

from occpose import stats


def test_weights_resample_whole_clusters_and_are_seeded():
    clusters = np.array([0, 0, 1, 1, 2, 3])
    w = stats.bootstrap_weights(clusters, n_boot=500, seed=3)
    assert w.shape == (500, 6)
    np.testing.assert_array_equal(w[:, 0], w[:, 1])                 # a clip is drawn whole
    np.testing.assert_array_equal(w[:, 2], w[:, 3])
    assert (w[:, [0, 2, 4, 5]].sum(1) == 4).all()                   # as many clusters as there are
    np.testing.assert_array_equal(w, stats.bootstrap_weights(clusters, n_boot=500, seed=3))
    assert not np.array_equal(w, stats.bootstrap_weights(clusters, n_boot=500, seed=4))


def test_constant_error_has_zero_width():
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 400, size=30).astype(float)             # frames x joints per sequence
    sums = np.array([np.full(int(c), 37.3).sum() for c in counts])   # every joint-frame errs 37.3
    iv = stats.pooled_mean_interval(sums, counts)
    assert iv.estimate == pytest.approx(37.3, abs=1e-12)
    assert iv.high - iv.low <= 1e-12
    d = stats.paired_difference(sums, counts, sums, counts)
    assert (d.estimate, d.low, d.high, d.significant) == (0.0, 0.0, 0.0, False)
    assert d.verdict.startswith("no difference")


def test_same_seed_same_interval_and_coverage_of_a_known_mean():
    rng = np.random.default_rng(1)
    values = rng.normal(50.0, 10.0, size=200)
    a = stats.mean_interval(values, seed=5)
    assert a == stats.mean_interval(values, seed=5)
    assert a != stats.mean_interval(values, seed=6)
    assert a.low < values.mean() < a.high
    # the percentile interval of a mean of 200 normal values is close to mean ± 1.96 sd/sqrt(n)
    se = values.std(ddof=1) / np.sqrt(len(values))
    assert a.half_width == pytest.approx(1.96 * se, rel=0.12)


def test_agrees_with_scipy_percentile_bootstrap():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    values = rng.gamma(2.0, 10.0, size=80)
    ours = stats.mean_interval(values, n_boot=4000, seed=0)
    ref = scipy_stats.bootstrap((values,), np.mean, n_resamples=4000, method="percentile",
                                random_state=np.random.default_rng(0)).confidence_interval
    assert ours.low == pytest.approx(ref.low, abs=0.35)
    assert ours.high == pytest.approx(ref.high, abs=0.35)


def test_paired_difference_detects_a_shift_the_separate_intervals_hide():
    rng = np.random.default_rng(3)
    hard = rng.gamma(2.0, 20.0, size=40)                              # sequences differ a lot
    a, b = hard + 1.0 + rng.normal(0, 0.2, 40), hard                  # A is 1 mm worse everywhere
    ones = np.ones(40)
    ia, ib = stats.pooled_mean_interval(a, ones), stats.pooled_mean_interval(b, ones)
    assert ia.low < ib.high                                           # separate intervals overlap
    d = stats.paired_difference(a, ones, b, ones, names=("A", "B"))
    assert d.significant and d.low > 0 and d.estimate == pytest.approx(np.mean(a - b))
    assert d.verdict.startswith("B lower")
    same = stats.paired_difference(b + rng.normal(0, 0.2, 40), ones, b, ones)
    assert not same.significant and same.verdict.startswith("not significant")


def test_empty_cells_and_seed_spread():
    sums = np.array([[1.0, 0.0], [3.0, 0.0]])
    counts = np.array([[1.0, 0.0], [1.0, 0.0]])
    w = stats.bootstrap_weights([0, 1], n_boot=50)
    reps = stats.pooled_replicates(sums, counts, w)
    assert reps.shape == (50, 2) and np.isnan(reps[:, 1]).all()
    lo, hi = stats.percentile_interval(reps)
    assert 1.0 <= lo[0] <= hi[0] <= 3.0 and np.isnan(lo[1]) and np.isnan(hi[1])
    sp = stats.seed_spread([[1.0, np.nan], [3.0, np.nan]])
    assert sp["mean"][0] == 2.0 and sp["std"][0] == pytest.approx(np.sqrt(2)) and sp["n"][1] == 0
    assert stats.seed_spread([[4.0]])["std"][0] == 0.0
