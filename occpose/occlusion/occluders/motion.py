"""Smooth anchor trajectories of moving occluders, in view-frame coordinates (metres).

A moving occluder keeps its depth and yaw; its anchor moves laterally (and, when floating, up
and down) along a smooth path whose speed never exceeds ``max_speed`` (m/s):

* ``slide``: a straight line at constant speed across the line of sight, crossing the aim point
  at a random time (a pushed crate, a rolling ball);
* ``sway``: a smooth closed curve (sines in lateral and height), e.g. a floating ball;
* ``follow``: the subject's silhouette centre as seen from the camera, low-pass filtered (a box
  carried along between the camera and a walking subject).
"""

from __future__ import annotations

import numpy as np


def slide(rng: np.random.Generator, n: int, fps: float, lateral_aim: float, t_aim: int,
          max_speed: float, max_travel: float = 3.0) -> np.ndarray:
    """(T,) lateral positions crossing ``lateral_aim`` at frame ``t_aim``.

    Constant speed; a clip long enough to travel further than ``max_travel`` metres slides back
    and forth instead (a sine of amplitude max_travel / 2 with the same top speed).
    """
    speed = rng.uniform(0.25, 0.9) * max_speed * rng.choice([-1.0, 1.0])
    t = (np.arange(n) - t_aim) / fps
    if abs(speed) * n / fps <= max_travel:
        return lateral_aim + speed * t
    amplitude = 0.5 * max_travel
    return lateral_aim + amplitude * np.sin(speed / amplitude * t)


def sway(rng: np.random.Generator, n: int, fps: float, lateral_aim: float, z_mid: float,
         z_amplitude: float, max_speed: float) -> tuple[np.ndarray, np.ndarray]:
    """(T,) lateral and (T,) heights on a smooth curve around (lateral_aim, z_mid)."""
    t = np.arange(n) / fps
    period_l, period_z = rng.uniform(2.0, 6.0), rng.uniform(1.5, 4.0)
    amp_l, amp_z = rng.uniform(0.15, 0.7), rng.uniform(0.0, 1.0) * z_amplitude
    phase_l, phase_z = rng.uniform(0.0, 2 * np.pi, 2)
    lateral = lateral_aim + amp_l * np.sin(2 * np.pi * t / period_l + phase_l)
    z = z_mid + amp_z * np.sin(2 * np.pi * t / period_z + phase_z)
    return limit_speed(np.stack([lateral, z], axis=1), max_speed, fps).T


def follow(rng: np.random.Generator, centre_slope: np.ndarray, depth: float, fps: float,
           max_speed: float) -> np.ndarray:
    """(T,) lateral positions tracking the subject's silhouette centre at ``depth``."""
    target = depth * centre_slope + rng.normal(0.0, 0.1)  # (T,)
    smooth = gaussian_smooth(target, sigma=rng.uniform(0.15, 0.5) * fps)
    return limit_speed(smooth[:, None], max_speed, fps)[:, 0]


def gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """(T,) zero-phase Gaussian low-pass with edge padding (sigma in frames)."""
    if sigma < 0.5 or len(x) < 2:
        return np.asarray(x, np.float64).copy()
    half = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(np.asarray(x, np.float64), half, mode="edge")
    return np.convolve(padded, k, mode="valid")


def limit_speed(path: np.ndarray, max_speed: float, fps: float) -> np.ndarray:
    """(T, D) path shrunk about its mean so that no frame-to-frame step exceeds max_speed / fps."""
    path = np.asarray(path, np.float64)
    if len(path) < 2:
        return path
    step = np.linalg.norm(np.diff(path, axis=0), axis=1).max()
    limit = max_speed / fps
    if step <= limit:
        return path
    mean = path.mean(axis=0)
    return mean + (path - mean) * (limit / step) * (1 - 1e-9)


def max_step(anchor: np.ndarray) -> float:
    """Largest frame-to-frame displacement (metres) of a (T, 3) path."""
    return float(np.linalg.norm(np.diff(anchor, axis=0), axis=1).max()) if len(anchor) > 1 else 0.0
