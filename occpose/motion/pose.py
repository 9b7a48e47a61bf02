"""Upper-body and pelvis pose parameters, and their conversion to local joint rotations.

A pose is a vector of :data:`PARAM_NAMES` (D = 20 entries):

* ``pelvis_dx, pelvis_dy, pelvis_dz`` -- metres, pelvis offset in the body frame (x forward,
  y left, z up) from the action's nominal root position.
* ``pelvis_*, spine_*, neck_*`` ``roll, pitch, yaw`` -- radians, right-handed rotations about the
  body's forward (x), left (y) and up (z) axes: ``roll > 0`` tilts the top to the right,
  ``pitch > 0`` bends forward, ``yaw > 0`` turns left. ``spine_*`` is shared equally by the
  Spine and Thorax joints.
* ``{r,l}_shoulder_flex`` (arm forward), ``_abd`` (arm out to the side), ``_rot`` (internal
  rotation about the upper arm) and ``{r,l}_elbow`` (flexion) -- radians, anatomical, so the
  same value means the same motion on either side.

Actions author poses in degrees with :func:`pose`, interpolate them as plain vectors, and
:func:`params_to_euler` turns them into Euler angles for :func:`occpose.motion.fk.euler_to_matrix`.
"""

from __future__ import annotations

import numpy as np

PARAM_NAMES: tuple[str, ...] = (
    "pelvis_dx", "pelvis_dy", "pelvis_dz", "pelvis_roll", "pelvis_pitch", "pelvis_yaw",
    "spine_roll", "spine_pitch", "spine_yaw", "neck_roll", "neck_pitch", "neck_yaw",
    "r_shoulder_flex", "r_shoulder_abd", "r_shoulder_rot", "r_elbow",
    "l_shoulder_flex", "l_shoulder_abd", "l_shoulder_rot", "l_elbow",
)
P = {name: i for i, name in enumerate(PARAM_NAMES)}
N_PARAMS = len(PARAM_NAMES)
_OFFSETS = ("pelvis_dx", "pelvis_dy", "pelvis_dz")

# Mirroring left <-> right: swap the arms, negate lateral offsets, rolls and yaws.
_MIRROR_PERM = np.arange(N_PARAMS)
for _a, _b in zip(PARAM_NAMES[12:16], PARAM_NAMES[16:20]):
    _MIRROR_PERM[P[_a]], _MIRROR_PERM[P[_b]] = P[_b], P[_a]
_MIRROR_SIGN = np.ones(N_PARAMS)
for _name in ("pelvis_dy", "pelvis_roll", "pelvis_yaw", "spine_roll", "spine_yaw",
              "neck_roll", "neck_yaw"):
    _MIRROR_SIGN[P[_name]] = -1.0


def pose(base: np.ndarray | None = None, **values: float) -> np.ndarray:
    """(D,) pose vector from keyword values: angles in degrees, ``pelvis_d*`` in metres.

    Entries not given are copied from ``base`` (a pose vector) or are zero.
    """
    out = np.zeros(N_PARAMS) if base is None else np.array(base, dtype=np.float64)
    for name, value in values.items():
        if name not in P:
            raise KeyError(f"unknown pose parameter {name!r}; expected one of {', '.join(P)}")
        out[P[name]] = value if name in _OFFSETS else np.deg2rad(value)
    return out


def arm(side: str, flex: float, abd: float, rot: float, elbow: float) -> dict[str, float]:
    """Keyword values (degrees) for one arm, ``side`` "r" or "l", to pass to :func:`pose`."""
    return {f"{side}_shoulder_flex": flex, f"{side}_shoulder_abd": abd,
            f"{side}_shoulder_rot": rot, f"{side}_elbow": elbow}


def arms(flex: float, abd: float, rot: float, elbow: float) -> dict[str, float]:
    """Keyword values (degrees) for both arms in the same pose."""
    return {**arm("r", flex, abd, rot, elbow), **arm("l", flex, abd, rot, elbow)}


def mirror(params: np.ndarray) -> np.ndarray:
    """(..., D) poses mirrored left <-> right (a left-hander's version of a right-hander's)."""
    return np.asarray(params)[..., _MIRROR_PERM] * _MIRROR_SIGN


def params_to_euler(params: np.ndarray) -> np.ndarray:
    """(T, D) pose vectors -> (T, 17, 3) Euler angles (ax, ay, az) per joint, radians.

    The root entry holds the pelvis orientation relative to the heading; leg joints are left
    at zero (the legs are posed by inverse kinematics).
    """
    q = np.asarray(params, dtype=np.float64)
    e = np.zeros((q.shape[0], 17, 3))
    e[:, 0] = q[:, [P["pelvis_roll"], P["pelvis_pitch"], P["pelvis_yaw"]]]
    spine = q[:, [P["spine_roll"], P["spine_pitch"], P["spine_yaw"]]]
    e[:, 7] = 0.5 * spine
    e[:, 8] = 0.5 * spine
    e[:, 9] = q[:, [P["neck_roll"], P["neck_pitch"], P["neck_yaw"]]]
    # Shoulder: Rx(abduction) Ry(-flexion) Rz(internal rotation), signs mirrored per side.
    for joint, elbow, side, sign in ((14, 15, "r", -1.0), (11, 12, "l", 1.0)):
        e[:, joint, 0] = sign * q[:, P[f"{side}_shoulder_abd"]]
        e[:, joint, 1] = -q[:, P[f"{side}_shoulder_flex"]]
        e[:, joint, 2] = -sign * q[:, P[f"{side}_shoulder_rot"]]
        e[:, elbow, 1] = -q[:, P[f"{side}_elbow"]]
    return e
