"""Smooth scalar signals of time: easing, key-frame tracks, envelopes and band-limited noise.

Every function is vectorised over frames: ``t`` is a (T,) array of seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def minjerk(u: np.ndarray) -> np.ndarray:
    """Minimum-jerk easing 10u^3 - 15u^4 + 6u^5 of ``u`` clipped to [0, 1].

    Zero velocity and acceleration at both ends, so joined segments stay C2.
    """
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (10.0 + u * (-15.0 + 6.0 * u))


def pulse(t: np.ndarray, start: float, rise: float, hold: float, fall: float) -> np.ndarray:
    """(T,) envelope in [0, 1]: eases up over ``rise`` s from ``start``, holds, eases down."""
    up = minjerk((t - start) / max(rise, 1e-9))
    down = minjerk((t - start - rise - hold) / max(fall, 1e-9))
    return up - down


def softmin(values: Sequence[np.ndarray], tau: float) -> np.ndarray:
    """Smooth minimum of arrays (broadcast together); never exceeds the true minimum.

    ``tau`` is the blending width in the arrays' units; the result is within ``tau * ln(n)``
    below the minimum.
    """
    v = np.stack(np.broadcast_arrays(*values))
    m = v.min(axis=0)
    return m - tau * np.log(np.exp(-(v - m) / tau).sum(axis=0))


def smooth_below(x: np.ndarray, half_width: int) -> np.ndarray:
    """(T,) smooth version of ``x`` that never exceeds it.

    A running minimum over ``2 * half_width + 1`` samples followed by a Hann-weighted average
    over the same window: each output is an average of values that are all <= the input there.
    """
    if half_width < 1 or len(x) < 2:
        return np.array(x, dtype=np.float64)
    from numpy.lib.stride_tricks import sliding_window_view

    w = 2 * half_width + 1
    eroded = sliding_window_view(np.pad(x, half_width, mode="edge"), w).min(axis=1)
    kernel = np.hanning(w + 2)[1:-1]
    kernel /= kernel.sum()
    padded = np.pad(eroded, half_width, mode="edge")
    return sliding_window_view(padded, w) @ kernel


def smooth_noise(rng: np.random.Generator, t: np.ndarray, f_lo: float, f_hi: float,
                 n_terms: int = 4) -> np.ndarray:
    """(T,) band-limited noise in [-1, 1]: random sinusoids with frequencies in [f_lo, f_hi] Hz."""
    freqs = rng.uniform(f_lo, f_hi, n_terms)
    phases = rng.uniform(0.0, 2.0 * np.pi, n_terms)
    weights = rng.uniform(0.5, 1.0, n_terms)
    waves = np.sin(2.0 * np.pi * freqs * t[:, None] + phases)   # (T, n_terms)
    return waves @ weights / weights.sum()


def keyframes(key_t: np.ndarray, key_v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Key-frame track: monotone cubic interpolation (Fritsch-Carlson, as in PCHIP).

    The curve passes through every key without overshooting; it moves through a key without
    stopping when the keys on both sides lie beyond it, and comes to rest at keys that are
    extrema or that start or end a hold (two equal keys).

    Args:
        key_t: (K,) non-decreasing key times, seconds.
        key_v: (K, D) values at the keys.
        t: (T,) query times; before the first key or after the last the end value holds.
    Returns:
        (T, D) values, C1-continuous.
    """
    key_t = np.asarray(key_t, dtype=np.float64)
    key_v = np.asarray(key_v, dtype=np.float64)
    if key_t.ndim != 1 or key_v.ndim != 2 or key_v.shape[0] != key_t.shape[0]:
        raise ValueError(f"key_t (K,) and key_v (K, D) expected, got {key_t.shape}, {key_v.shape}")
    if len(key_t) == 1:
        return np.broadcast_to(key_v[0], (len(t), key_v.shape[1])).copy()
    h = np.maximum(np.diff(key_t), 1e-9)[:, None]                        # (K-1, 1)
    delta = np.diff(key_v, axis=0) / h                                    # (K-1, D) slopes
    slope = np.zeros_like(key_v)                                          # (K, D) tangents
    w1, w2 = 2.0 * h[1:] + h[:-1], h[1:] + 2.0 * h[:-1]
    same_sign = delta[:-1] * delta[1:] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
    slope[1:-1] = np.where(same_sign, harmonic, 0.0)
    k = np.clip(np.searchsorted(key_t, t, side="right") - 1, 0, len(key_t) - 2)
    u = np.clip((t - key_t[k]) / h[k, 0], 0.0, 1.0)[:, None]
    h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
    h01, h11 = 3 * u**2 - 2 * u**3, u**3 - u**2
    return (h00 * key_v[k] + h10 * h[k] * slope[k] + h01 * key_v[k + 1]
            + h11 * h[k] * slope[k + 1])


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Angles wrapped to [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2.0 * np.pi) - np.pi
