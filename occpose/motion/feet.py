"""Foot plans: when and where each foot is planted, and the ankle trajectory in between.

A foot is *planted* from ``t_on[n]`` to ``t_off[n]`` with its ankle fixed at ``xy[n]`` and
``ankle_height`` above the floor (no sliding, no sinking). Optionally the heel lifts during the
last ``roll_time`` seconds of a plant: the foot pitches about the ball of the foot, which stays
on the floor. Between plants the foot *swings* to the next footprint along a smooth arc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .signals import minjerk, wrap_angle


@dataclass(frozen=True)
class FootPlan:
    """Footprints of one foot, in time order.

    Attributes:
        t_on: (N,) seconds, when the foot lands on footprint n.
        t_off: (N,) seconds, when it leaves (t_on[n] <= t_off[n] <= t_on[n + 1]).
        xy: (N, 2) metres, world frame, ankle position over the footprint.
        yaw: (N,) radians about +Z, direction the toes point.
        via: (N, 2) metres or None: the swing from footprint n to n + 1 bows out to pass over
            ``via[n]`` halfway (to follow a curved course) instead of the straight chord.
    """

    t_on: np.ndarray
    t_off: np.ndarray
    xy: np.ndarray
    yaw: np.ndarray
    via: np.ndarray | None = None


@dataclass(frozen=True)
class SwingStyle:
    """How a foot swings and leaves the floor (lengths in metres, angles in radians).

    Attributes:
        clearance: extra ankle lift at the top of the swing.
        peak: fraction of the swing at which the lift peaks (< 0.5 kicks the heel up early).
        roll_time: seconds of heel lift at the end of each plant (0 = flat-footed steps).
        roll_angle: foot pitch at toe-off.
        toe_length: ankle to the ball of the foot, the pivot of the heel lift.
        land_speed: downward ankle speed at touch-down, m/s (the foot is set down, not slid).
    """

    clearance: float = 0.05
    peak: float = 0.5
    roll_time: float = 0.0
    roll_angle: float = 0.0
    toe_length: float = 0.15
    land_speed: float = 0.3


def ankle_trajectory(plan: FootPlan, style: SwingStyle, ankle_height: float,
                     t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ankle position and foot direction of one foot over time.

    The heel lifts with a quadratic ease-in, and the swing is a cubic Hermite curve that leaves
    with the heel lift's velocity (C1 at toe-off) and comes down at ``land_speed`` with no
    horizontal speed left at touch-down.

    Args:
        plan: the foot's footprints; times outside [t_on[0], t_off[-1]] hold the end footprint.
        t: (T,) seconds.
    Returns:
        ankle: (T, 3) metres, world frame.
        yaw: (T,) radians about +Z.
    """
    n_last = len(plan.t_on) - 1
    n = np.clip(np.searchsorted(plan.t_on, t, side="right") - 1, 0, n_last)   # (T,)
    nxt = np.minimum(n + 1, n_last)
    roll = np.minimum(style.roll_time, plan.t_off - plan.t_on)                  # (N,)
    rolls = roll > 0

    # Planted, possibly rolling over the toes at the end of the plant.
    u_roll = np.clip((t - (plan.t_off[n] - roll[n])) / np.maximum(roll[n], 1e-9), 0.0, 1.0)
    psi = style.roll_angle * u_roll**2 * rolls[n]
    ankle, _ = _rolled_ankle(plan.xy[n], plan.yaw[n], psi, style.toe_length, ankle_height)
    yaw = plan.yaw[n].copy()

    # Swinging from footprint n (heel fully lifted) to footprint n + 1.
    swing = (t > plan.t_off[n]) & (n < n_last)
    if np.any(swing):
        i, j, ts = n[swing], nxt[swing], t[swing]
        span = np.maximum(plan.t_on[j] - plan.t_off[i], 1e-9)
        u = ((ts - plan.t_off[i]) / span)[:, None]
        psi_end = np.where(rolls[i], style.roll_angle, 0.0)
        p0, dp0 = _rolled_ankle(plan.xy[i], plan.yaw[i], psi_end, style.toe_length,
                                ankle_height)
        v0 = dp0 * (2.0 * psi_end / np.maximum(roll[i], 1e-9))[:, None]          # (K, 3)
        p1 = np.column_stack([plan.xy[j], np.full(len(j), ankle_height)])
        # Keep only the take-off velocity along the chord; the bow to the via point below
        # supplies the sideways part (so a curved course is not bowed twice).
        chord = p1[:, :2] - p0[:, :2]
        chord_dir = chord / np.maximum(np.linalg.norm(chord, axis=1), 1e-12)[:, None]
        v0[:, :2] = np.sum(v0[:, :2] * chord_dir, axis=1)[:, None] * chord_dir
        h00, h10, h01 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u, 3 * u**2 - 2 * u**3
        h11 = u**3 - u**2                                                      # <= 0
        pos = h00 * p0 + h10 * span[:, None] * v0 + h01 * p1
        pos[:, 2] -= h11[:, 0] * span * style.land_speed                       # lifts, >= 0
        if plan.via is not None:   # bow the chord out to pass over the via point
            w = np.sum((pos[:, :2] - p0[:, :2]) * chord, axis=1)
            w /= np.maximum(np.sum(chord**2, axis=1), 1e-12)                  # chord progress
            sagitta = plan.via[i] - 0.5 * (plan.xy[i] + plan.xy[j])
            pos[:, :2] += 4.0 * (w * (1.0 - w))[:, None] * sagitta
        q = np.log(0.5) / np.log(np.clip(style.peak, 0.05, 0.95))
        pos[:, 2] += style.clearance * np.sin(np.pi * u[:, 0] ** q) ** 2
        ankle[swing] = pos
        yaw[swing] = plan.yaw[i] + wrap_angle(plan.yaw[j] - plan.yaw[i]) * minjerk(u[:, 0])
    return ankle, yaw


def _rolled_ankle(xy: np.ndarray, yaw: np.ndarray, psi: np.ndarray, toe: float,
                  ankle_height: float) -> tuple[np.ndarray, np.ndarray]:
    """Ankle of a foot pitched by ``psi`` (K,) about the ball of the foot (on the floor).

    Returns (K, 3) ankle positions and (K, 3) their derivatives with respect to ``psi``.
    """
    fwd = np.column_stack([np.cos(yaw), np.sin(yaw)])                 # (K, 2)
    c, s = np.cos(psi), np.sin(psi)
    along = -toe * c + ankle_height * s                               # ankle relative to the ball
    pos = np.empty((len(yaw), 3))
    pos[:, :2] = xy + fwd * (toe + along)[:, None]
    pos[:, 2] = toe * s + ankle_height * c
    deriv = np.empty((len(yaw), 3))
    deriv[:, :2] = fwd * (toe * s + ankle_height * c)[:, None]
    deriv[:, 2] = toe * c - ankle_height * s
    return pos, deriv
