"""In-place footwork: stand, occasionally step to a new spot or heading, stand again.

A :class:`StancePlan` is a list of stances (stance centre and facing) held in turn; between two
stances the feet step one after the other while the centre and heading ease across. Foot
placements come from a per-action template of foot offsets in the body frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .feet import FootPlan
from .signals import minjerk


@dataclass(frozen=True)
class StancePlan:
    """Stances held in turn.

    Attributes:
        t_arrive: (K,) seconds, when stance k is reached (both feet down).
        t_leave: (K,) seconds, when the first foot lifts towards stance k + 1.
        centre: (K, 2) metres, world XY of the stance centre.
        heading: (K,) radians about +Z, facing direction, unwrapped.
        left_first: (K,) bool, the left foot steps first when leaving stance k.
    """

    t_arrive: np.ndarray
    t_leave: np.ndarray
    centre: np.ndarray
    heading: np.ndarray
    left_first: np.ndarray


def stance_track(plan: StancePlan, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) centre and (T,) heading over time, easing between stances."""
    k_last = len(plan.t_arrive) - 1
    k = np.clip(np.searchsorted(plan.t_arrive, t, side="right") - 1, 0, k_last)
    nxt = np.minimum(k + 1, k_last)
    span = np.maximum(plan.t_arrive[nxt] - plan.t_leave[k], 1e-9)
    w = minjerk((t - plan.t_leave[k]) / span) * (nxt > k)
    centre = plan.centre[k] + (plan.centre[nxt] - plan.centre[k]) * w[:, None]
    heading = plan.heading[k] + (plan.heading[nxt] - plan.heading[k]) * w
    return centre, heading


def stance_feet(plan: StancePlan, offsets: np.ndarray) -> tuple[FootPlan, FootPlan]:
    """Foot plans (right, left) for a stance plan.

    Args:
        offsets: (2, 3) per foot (right, left): ankle x, y in metres in the body frame
            relative to the stance centre, and toe yaw relative to the heading in radians.
    """
    c, s = np.cos(plan.heading), np.sin(plan.heading)                  # (K,)
    feet = []
    for foot, (dx, dy, dyaw) in enumerate(offsets):
        xy = plan.centre + np.column_stack([c * dx - s * dy, s * dx + c * dy])
        mid = 0.5 * (plan.t_leave[:-1] + plan.t_arrive[1:])
        first = plan.left_first[:-1] == (foot == 1)
        t_off = np.append(np.where(first, plan.t_leave[:-1], mid), plan.t_leave[-1])
        t_on = np.insert(np.where(first, mid, plan.t_arrive[1:]), 0, plan.t_arrive[0])
        feet.append(FootPlan(t_on=t_on, t_off=t_off, xy=xy, yaw=plan.heading + dyaw))
    return feet[0], feet[1]


def random_spot(rng: np.random.Generator, area_radius: float, keep_in: float) -> np.ndarray:
    """(2,) world XY drawn uniformly from the disk of radius ``area_radius - keep_in``."""
    radius = max(area_radius - keep_in, 0.0) * np.sqrt(rng.random())
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return radius * np.array([np.cos(angle), np.sin(angle)])


def mirror_offsets(offsets: np.ndarray) -> np.ndarray:
    """(2, 3) foot offsets (see :func:`stance_feet`) mirrored left <-> right."""
    return np.asarray(offsets)[::-1] * np.array([1.0, -1.0, -1.0])


def fixed_stance(centre: np.ndarray, heading: float, duration: float) -> StancePlan:
    """A single stance held over the whole clip (and well beyond it)."""
    return StancePlan(t_arrive=np.array([-10.0]), t_leave=np.array([duration + 10.0]),
                      centre=np.asarray(centre, dtype=np.float64)[None],
                      heading=np.array([heading]), left_first=np.array([False]))


def random_stance_plan(rng: np.random.Generator, duration: float, spot: np.ndarray,
                       spot_radius: float, heading: float, hold: tuple[float, float],
                       step_time: tuple[float, float], turn: float, turn_prob: float,
                       shift: float) -> StancePlan:
    """Stances covering [0, duration] s: holds of ``hold`` s, transitions of ``step_time`` s.

    Each transition turns by up to ``turn`` rad (with probability ``turn_prob``) and moves the
    centre by up to ``shift`` m, keeping it within ``spot_radius`` of ``spot``.
    """
    spot = np.asarray(spot, dtype=np.float64)
    arrive, leave, centres, headings, left_first = [-10.0], [], [spot.copy()], [heading], []
    t = rng.uniform(*hold) * rng.random()
    while True:
        leave.append(t)
        if t > duration:
            break
        d_head = rng.uniform(-turn, turn) if rng.random() < turn_prob else 0.0
        move = rng.uniform(-1.0, 1.0, 2) * shift
        centre = centres[-1] + move
        off = centre - spot
        if np.linalg.norm(off) > spot_radius:
            centre = spot + off * (spot_radius / np.linalg.norm(off))
        # Lead with the foot on the side of the turn, or of the sideways move.
        local_y = -np.sin(headings[-1]) * move[0] + np.cos(headings[-1]) * move[1]
        left_first.append(d_head > 0 if d_head != 0.0 else local_y > 0)
        t += rng.uniform(*step_time)
        arrive.append(t)
        centres.append(centre)
        headings.append(headings[-1] + d_head)
        t += rng.uniform(*hold)
    left_first.append(False)
    return StancePlan(t_arrive=np.array(arrive), t_leave=np.array(leave),
                      centre=np.array(centres), heading=np.array(headings),
                      left_first=np.array(left_first))
