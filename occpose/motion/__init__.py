"""Procedural motion on the Human3.6M 17-joint skeleton.

:func:`generate_motion` turns (action, subject, frames, fps, rng) into a :class:`MotionClip` of
world-frame joint positions (metres, Z up, floor z = 0). Actions are joint-angle trajectories
driven through forward kinematics (:mod:`.fk`), with legs solved by inverse kinematics so
planted feet neither slide nor sink. Needs numpy only.
"""

from .actions import ACTIONS, MotionClip, generate_motion
from .fk import REST_DIRECTIONS, euler_to_matrix, forward_kinematics, rest_pose

__all__ = [
    "ACTIONS", "MotionClip", "generate_motion",
    "REST_DIRECTIONS", "euler_to_matrix", "forward_kinematics", "rest_pose",
]
