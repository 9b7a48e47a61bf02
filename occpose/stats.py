"""Confidence intervals for benchmark numbers: a seeded bootstrap over test sequences.

Every error occpose reports is a *pooled mean*: the sum of per joint-frame errors over the
sequences of a table cell divided by their count. Its uncertainty comes from which sequences
the test split happens to hold, so the intervals resample sequences:

* **Resampling unit.** Sequences are drawn in *clusters*: all sequences that share a cluster
  key are drawn together. occpose's generator makes one motion clip per (subject, action), seen
  by every camera at every level, so the harness clusters by (subject, action); sequences of one
  clip are correlated and resampling them one by one would give intervals that are too narrow.
  Pass one cluster per sequence for the plain bootstrap over sequences.
* **Replicates.** :func:`bootstrap_weights` draws ``n_boot`` resamples of the clusters with
  replacement (``numpy.random.default_rng(seed)``: same clusters and seed -> same weights, so
  reruns give the same interval). A replicate's pooled mean is ``(W @ sums) / (W @ counts)``
  (:func:`pooled_replicates`), for all table cells at once.
* **Interval.** The 95% percentile interval of the replicates (:func:`percentile_interval`).
  Replicates of a cell that drew no joint-frames of it are left out (the interval is then
  conditional on the cell being non-empty). Replicates are clipped to the range of the
  per-sequence means, which is where a weighted mean lies anyway; this only removes
  floating-point rounding, so a constant error has an interval of width 0.
* **Paired differences.** A - B of two models on the same sequences uses the *same* weights for
  both (:func:`paired_difference`): the interval is that of the difference, much narrower than
  the two separate intervals when the models err on the same sequences. :func:`verdict` says
  plainly whether the interval excludes 0.
* **Seeds.** Training seeds are a second source of variation: :func:`seed_spread` gives mean,
  sample std, min and max over seeds. For a model with several seeds the harness bootstraps the
  seed-mean (each replicate averages the seeds' replicates under the same weights) and reports
  the spread over seeds next to it.

scipy's ``scipy.stats.bootstrap`` has no cluster resampling and would recompute each of the
thousands of table cells separately; this module vectorises the ratio estimator over cells with
one matrix product per cell group. numpy only (importable without scipy).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["CONFIDENCE", "N_BOOTSTRAP", "BOOTSTRAP_SEED", "Interval", "Difference",
           "cluster_index", "bootstrap_weights", "pooled_point", "pooled_replicates",
           "percentile_interval", "pooled_mean_interval", "mean_interval", "paired_difference",
           "verdict", "seed_spread"]

CONFIDENCE = 0.95
N_BOOTSTRAP = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Interval:
    """A point estimate and its ``confidence`` interval [low, high] (NaN when undefined)."""

    estimate: float
    low: float
    high: float
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


@dataclass(frozen=True)
class Difference(Interval):
    """A paired difference A - B with its interval and a plain verdict (:func:`verdict`)."""

    significant: bool = False
    verdict: str = ""


def cluster_index(keys) -> np.ndarray:
    """(N,) int cluster number of each key (any hashables; equal keys share a cluster)."""
    order: dict = {}
    return np.array([order.setdefault(k, len(order)) for k in keys], dtype=np.int64)


def bootstrap_weights(clusters, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(n_boot, N) float64: how often each sequence is drawn in each bootstrap resample.

    Args:
        clusters: (N,) cluster key (int) of each sequence; a resample draws as many clusters as
            there are, with replacement, and takes every sequence of a drawn cluster.
        n_boot: number of resamples.
        seed: seed of ``numpy.random.default_rng``.
    """
    clusters = np.asarray(clusters)
    if clusters.ndim != 1 or len(clusters) == 0:
        raise ValueError("bootstrap_weights needs a non-empty (N,) array of cluster keys")
    _, inverse = np.unique(clusters, return_inverse=True)
    k = int(inverse.max()) + 1
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, k, size=(n_boot, k))                                   # (B, K)
    flat = (draws + k * np.arange(n_boot)[:, None]).ravel()
    per_cluster = np.bincount(flat, minlength=n_boot * k).reshape(n_boot, k)       # (B, K)
    return per_cluster[:, inverse].astype(np.float64)                              # (B, N)


def _ratio(s, c):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.where(c > 0, c, 1), np.nan)


def pooled_point(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pooled mean over the units (axis 0): ``sums.sum(0) / counts.sum(0)``, NaN where empty."""
    return _ratio(np.asarray(sums, np.float64).sum(0), np.asarray(counts, np.float64).sum(0))


def pooled_replicates(sums: np.ndarray, counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B, ...) pooled means of every bootstrap resample.

    Args:
        sums: (N, ...) per-unit sums of the errors of every cell.
        counts: (N, ...) per-unit numbers of joint-frames (same shape).
        weights: (B, N) from :func:`bootstrap_weights` (columns of the units given).
    """
    sums = np.asarray(sums, np.float64)
    counts = np.asarray(counts, np.float64)
    n = sums.shape[0]
    s2, c2 = sums.reshape(n, -1), counts.reshape(n, -1)
    reps = _ratio(weights @ s2, weights @ c2)                                      # (B, K)
    unit = _ratio(s2, c2)                                                          # (N, K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                            # all-NaN cells
        lo, hi = np.nanmin(unit, axis=0), np.nanmax(unit, axis=0)
    reps = np.clip(reps, lo, hi)                       # only rounding: a weighted mean lies within
    return reps.reshape(weights.shape[0], *sums.shape[1:])


def percentile_interval(replicates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) percentile interval over axis 0 of the replicates, ignoring NaN replicates."""
    replicates = np.asarray(replicates, np.float64)
    q = [50 * (1 - confidence), 50 * (1 + confidence)]
    flat = replicates.reshape(len(replicates), -1)                                 # (B, K)
    nan = np.isnan(flat)
    lo, hi = np.full(flat.shape[1], np.nan), np.full(flat.shape[1], np.nan)
    full, some = ~nan.any(0), nan.any(0) & ~nan.all(0)        # nanpercentile is slow: only where needed
    if full.any():
        lo[full], hi[full] = np.percentile(flat[:, full], q, axis=0)
    if some.any():
        lo[some], hi[some] = np.nanpercentile(flat[:, some], q, axis=0)
    return lo.reshape(replicates.shape[1:]), hi.reshape(replicates.shape[1:])


def pooled_mean_interval(sums, counts, clusters=None, *, n_boot: int = N_BOOTSTRAP,
                         seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE) -> Interval:
    """Interval of one pooled mean ``sum(sums) / sum(counts)`` over (N,) units.

    ``clusters``: (N,) cluster keys (default: every unit its own cluster).
    """
    sums, counts = np.asarray(sums, np.float64), np.asarray(counts, np.float64)
    clusters = np.arange(len(sums)) if clusters is None else clusters
    w = bootstrap_weights(clusters, n_boot, seed)
    lo, hi = percentile_interval(pooled_replicates(sums, counts, w), confidence)
    return Interval(float(pooled_point(sums, counts)), float(lo), float(hi), confidence)


def mean_interval(values, clusters=None, **kw) -> Interval:
    """Interval of the plain mean of (N,) per-unit values (each unit weighs the same)."""
    values = np.asarray(values, np.float64)
    return pooled_mean_interval(values, np.ones_like(values), clusters, **kw)


def verdict(estimate: float, low: float, high: float, a: str = "A", b: str = "B",
            unit: str = "mm") -> str:
    """A plain sentence on a difference A - B of errors (lower is better)."""
    if not np.isfinite(estimate) or not (np.isfinite(low) and np.isfinite(high)):
        return "no data"
    if estimate == 0 and low == 0 and high == 0:
        return "no difference (identical errors on every resample)"
    if low > 0:
        return f"{b} lower by {estimate:.1f} {unit} (significant: the 95% interval excludes 0)"
    if high < 0:
        return f"{a} lower by {-estimate:.1f} {unit} (significant: the 95% interval excludes 0)"
    return "not significant (the 95% interval includes 0)"


def paired_difference(sums_a, counts_a, sums_b, counts_b, clusters=None, *,
                      n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
                      confidence: float = CONFIDENCE, names: tuple[str, str] = ("A", "B"),
                      unit: str = "mm") -> Difference:
    """Pooled mean of A minus pooled mean of B over the same (N,) units, resampled together."""
    n = len(np.asarray(sums_a))
    clusters = np.arange(n) if clusters is None else clusters
    w = bootstrap_weights(clusters, n_boot, seed)
    reps = pooled_replicates(sums_a, counts_a, w) - pooled_replicates(sums_b, counts_b, w)
    est = float(pooled_point(sums_a, counts_a) - pooled_point(sums_b, counts_b))
    lo, hi = (float(x) for x in percentile_interval(reps, confidence))
    sig = bool(lo > 0 or hi < 0)
    return Difference(est, lo, hi, confidence, sig, verdict(est, lo, hi, *names, unit=unit))


def seed_spread(values) -> dict[str, np.ndarray]:
    """Mean, sample std (0 for one seed), min, max and count over axis 0 (seeds), NaN-aware."""
    stack = np.asarray(values, np.float64)
    n = np.sum(~np.isnan(stack), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stack, axis=0)
        std = np.nanstd(stack, axis=0, ddof=1) if len(stack) > 1 else np.zeros_like(mean)
        std = np.where(n > 1, std, np.where(n > 0, 0.0, np.nan))
        return {"mean": mean, "std": std, "min": np.nanmin(stack, axis=0),
                "max": np.nanmax(stack, axis=0), "n": n}
