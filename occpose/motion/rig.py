"""Assemble a clip: pose parameters + root path + foot plans -> world joint positions.

Each action produces a :class:`Choreography` (what the body should do); :func:`assemble`
turns it into joints. The root height is the action's nominal height, lowered smoothly where a
leg could not otherwise reach its ankle target; the legs are then solved by two-bone inverse
kinematics (knees towards the toes) and everything goes through forward kinematics, so bone
lengths are exact and planted feet stay exactly where they were put.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..subjects import ANKLE_HEIGHT_FRACTION, Subject
from .feet import FootPlan, SwingStyle, ankle_trajectory
from .fk import REST_DIRECTIONS, euler_to_matrix, forward_kinematics, rot_z
from .ik import leg_ik
from .pose import N_PARAMS, P, params_to_euler
from .signals import smooth_below, softmin

_REACH = 0.998          # fraction of the leg length the pelvis height allows at most
_REACH_BLEND = 0.008    # metres, softness of the pelvis-height limit


@dataclass(frozen=True)
class BodyMeasures:
    """Subject measurements the actions need (metres)."""

    height: float
    bone_lengths: np.ndarray   # (J,) as Subject.bone_lengths()
    ankle_height: float
    thigh: float
    shin: float
    hip_half_width: float
    toe_length: float

    @classmethod
    def from_subject(cls, subject: Subject) -> "BodyMeasures":
        b = subject.bone_lengths()
        return cls(height=float(subject.height), bone_lengths=b,
                   ankle_height=ANKLE_HEIGHT_FRACTION * subject.height, thigh=float(b[2]),
                   shin=float(b[3]), hip_half_width=float(b[1]),
                   toe_length=0.11 * subject.height)

    @property
    def leg(self) -> float:
        """Hip-to-ankle length with a straight knee."""
        return self.thigh + self.shin

    @property
    def scale(self) -> float:
        """Stature relative to a 1.75 m reference person."""
        return self.height / 1.75

    def standing_root_height(self, knee_slack: float = 0.985) -> float:
        """Root height (metres above the floor) standing with hips at ``knee_slack`` of the leg."""
        return self.ankle_height + knee_slack * self.leg


@dataclass(frozen=True)
class Choreography:
    """What the body does, frame by frame.

    Attributes:
        params: (T, D) pose vectors (:mod:`occpose.motion.pose`).
        centre: (T, 2) metres, world XY of the nominal root position.
        heading: (T,) radians about +Z, facing direction (0 = +X), unwrapped.
        root_height: (T,) metres, nominal root height above the floor (before leg limits).
        feet: (right, left) foot plans.
        swing: how the feet swing.
        height_smoothing: seconds, half-width of the smoothing of the root height.
    """

    params: np.ndarray
    centre: np.ndarray
    heading: np.ndarray
    root_height: np.ndarray
    feet: tuple[FootPlan, FootPlan]
    swing: SwingStyle
    height_smoothing: float = 0.1


def assemble(body: BodyMeasures, t: np.ndarray, ch: Choreography) -> np.ndarray:
    """(T, 17, 3) float64 joint positions, metres, world frame (Z up, floor z = 0)."""
    n = len(t)
    fps = 1.0 / (t[1] - t[0]) if n > 1 else 1.0
    if ch.params.shape != (n, N_PARAMS):
        raise ValueError(f"params must be ({n}, {N_PARAMS}), got {ch.params.shape}")
    euler = params_to_euler(ch.params)                                  # (T, J, 3)
    local = euler_to_matrix(euler)                                       # (T, J, 3, 3)
    head = rot_z(ch.heading)                                             # (T, 3, 3)
    root_rot = head @ local[:, 0]
    local[:, 0] = root_rot

    offset = np.column_stack([ch.params[:, P["pelvis_dx"]], ch.params[:, P["pelvis_dy"]],
                              np.zeros(n)])
    root = np.empty((n, 3))
    root[:, :2] = ch.centre + (head @ offset[:, :, None])[:, :2, 0]

    hip_off = {side: root_rot @ (body.bone_lengths[j] * REST_DIRECTIONS[j])   # (T, 3)
               for side, j in (("r", 1), ("l", 4))}
    targets = {}
    limits = [ch.root_height + ch.params[:, P["pelvis_dz"]]]
    for side, plan in zip(("r", "l"), ch.feet):
        ankle, yaw = ankle_trajectory(plan, ch.swing, body.ankle_height, t)
        targets[side] = (ankle, yaw)
        horiz = np.linalg.norm(root[:, :2] + hip_off[side][:, :2] - ankle[:, :2], axis=-1)
        reach = np.sqrt(np.maximum((_REACH * body.leg) ** 2 - horiz**2, 0.0))
        limits.append(ankle[:, 2] - hip_off[side][:, 2] + reach)
    root[:, 2] = smooth_below(softmin(limits, _REACH_BLEND),
                              int(round(ch.height_smoothing * fps)))

    forward = root_rot[:, :, 0]
    for side, hip_j in (("r", 1), ("l", 4)):
        ankle, yaw = targets[side]
        toes = np.column_stack([np.cos(yaw), np.sin(yaw), np.zeros(n)])
        pole = 0.5 * toes + forward + np.array([0.0, 0.0, 0.2])   # knees over the toes
        hip = root + hip_off[side]
        local[:, hip_j], local[:, hip_j + 1] = leg_ik(hip, ankle, pole, body.thigh, body.shin,
                                                      root_rot, max_reach=0.9999)
    return forward_kinematics(local, root, body.bone_lengths)
