"""Procedural subjects: stature and proportions, turned into bone lengths.

A subject is data (defined in a preset's ``[subjects.<name>]`` table). Bone lengths are fractions
of stature derived from Human3.6M's mean skeleton (for a 1.72 m reference), modulated by the
subject's proportion factors, then rescaled so that the standing stature -- sole to the top of the
head -- equals ``height``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import H36M_17

# Length of the bone ending at each joint, as a fraction of stature, for the 17-joint skeleton
# (joint 0, the root, has none). Proportion group in the second column.
_BONE_FRACTIONS: dict[int, tuple[float, str]] = {
    1: (0.0773, "hip"),        # Hip -> RHip (half pelvis width)
    2: (0.2640, "leg"),        # RHip -> RKnee (thigh)
    3: (0.2590, "leg"),        # RKnee -> RFoot (shin, to the ankle)
    4: (0.0773, "hip"),
    5: (0.2640, "leg"),
    6: (0.2590, "leg"),
    7: (0.1355, "torso"),      # Hip -> Spine
    8: (0.1495, "torso"),      # Spine -> Thorax
    9: (0.0703, "torso"),      # Thorax -> Neck/Nose
    10: (0.0669, "torso"),     # Neck/Nose -> Head
    11: (0.0878, "shoulder"),  # Thorax -> LShoulder (clavicle)
    12: (0.1622, "arm"),       # upper arm
    13: (0.1453, "arm"),       # forearm
    14: (0.0878, "shoulder"),
    15: (0.1622, "arm"),
    16: (0.1453, "arm"),
}
# Vertical extents not covered by bones, as fractions of stature: ankle above the sole, and the
# top of the skull above the Head joint.
ANKLE_HEIGHT_FRACTION = 0.045
HEAD_TOP_FRACTION = 0.045


@dataclass(frozen=True)
class Subject:
    """A procedural person.

    Attributes:
        name: identifier, e.g. ``"S1"``.
        height: standing stature in metres, sole to the top of the head.
        leg: leg length factor (thigh and shin), 1.0 = average proportions.
        arm: arm length factor (upper arm and forearm).
        shoulder: shoulder width factor (clavicles).
        hip: pelvis width factor.
        build: girth factor for anthropometric radii, 1.0 = average.
    """

    name: str
    height: float
    leg: float = 1.0
    arm: float = 1.0
    shoulder: float = 1.0
    hip: float = 1.0
    build: float = 1.0

    def __post_init__(self) -> None:
        for field in ("height", "leg", "arm", "shoulder", "hip", "build"):
            if not float(getattr(self, field)) > 0:
                raise ValueError(f"subject {self.name}: {field} must be positive, "
                                 f"got {getattr(self, field)}")

    def bone_lengths(self) -> np.ndarray:
        """(J,) float64 metres: length of the bone from each joint's parent (0 for the root).

        Torso bones absorb the proportion factors so the standing stature stays ``height``:
        stature = ankle + shin + thigh + spine + thorax + neck + head + skull top.
        """
        factors = {"hip": self.hip, "leg": self.leg, "torso": 1.0, "shoulder": self.shoulder,
                   "arm": self.arm}
        frac = np.zeros(H36M_17.num_joints)
        for j, (f, group) in _BONE_FRACTIONS.items():
            frac[j] = f * factors[group]
        legs = frac[2] + frac[3]
        torso = frac[7] + frac[8] + frac[9] + frac[10]
        torso_target = 1.0 - ANKLE_HEIGHT_FRACTION - HEAD_TOP_FRACTION - legs
        if torso_target <= 0.2:
            raise ValueError(f"subject {self.name}: leg factor {self.leg} leaves no torso")
        frac[[7, 8, 9, 10]] *= torso_target / torso
        return frac * self.height

    def to_dict(self) -> dict:
        return {"name": self.name, "height": self.height, "leg": self.leg, "arm": self.arm,
                "shoulder": self.shoulder, "hip": self.hip, "build": self.build}
