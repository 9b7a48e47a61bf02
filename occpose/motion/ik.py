"""Analytic two-bone inverse kinematics for the legs (hip -> knee -> ankle)."""

from __future__ import annotations

import numpy as np

from .fk import rot_y


def _normalise(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def leg_ik(hip: np.ndarray, ankle: np.ndarray, pole: np.ndarray, thigh: float, shin: float,
           parent_rot: np.ndarray, max_reach: float = 0.9995) -> tuple[np.ndarray, np.ndarray]:
    """Local hip and knee rotations that put the ankle on a target.

    The leg bones rest along the body frame's -z (see :mod:`occpose.motion.fk`); the knee is a
    hinge about its local y axis and bends so that it points towards ``pole``.

    Args:
        hip: (T, 3) hip joint position, metres, world frame.
        ankle: (T, 3) ankle target, metres, world frame.
        pole: (T, 3) direction the knee should point to (world frame, need not be unit).
        thigh, shin: bone lengths, metres.
        parent_rot: (T, 3, 3) world orientation of the hip's parent (the root).
        max_reach: targets farther than ``max_reach * (thigh + shin)`` are not reached.
    Returns:
        hip_local: (T, 3, 3) local rotation of the hip joint (orients the thigh).
        knee_local: (T, 3, 3) local rotation of the knee joint (flexion about local y).
    """
    d_vec = ankle - hip                                                       # (T, 3)
    d = np.linalg.norm(d_vec, axis=-1)
    u = d_vec / np.maximum(d, 1e-12)[:, None]
    d = np.clip(d, abs(thigh - shin) + 1e-6, (thigh + shin) * max_reach)
    cos_a = np.clip((thigh**2 + d**2 - shin**2) / (2.0 * thigh * d), -1.0, 1.0)
    sin_a = np.sqrt(1.0 - cos_a**2)
    p = _normalise(pole - np.sum(pole * u, axis=-1, keepdims=True) * u)       # (T, 3) pole _|_ u
    thigh_dir = cos_a[:, None] * u + sin_a[:, None] * p
    x_axis = -sin_a[:, None] * u + cos_a[:, None] * p                         # towards the knee
    z_axis = -thigh_dir                                                        # rest bone is -z
    y_axis = np.cross(z_axis, x_axis)                                          # hinge axis
    g_thigh = np.stack([x_axis, y_axis, z_axis], axis=-1)                      # (T, 3, 3) columns
    hip_local = np.swapaxes(parent_rot, -1, -2) @ g_thigh
    cos_b = np.clip((thigh**2 + shin**2 - d**2) / (2.0 * thigh * shin), -1.0, 1.0)
    knee_local = rot_y(np.pi - np.arccos(cos_b))
    return hip_local, knee_local
