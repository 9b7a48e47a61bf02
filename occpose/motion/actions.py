"""The action registry and :func:`generate_motion`, the entry point of the motion layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..subjects import Subject
from .boxing import box
from .gesture import gesture
from .locomotion import jog, walk
from .rig import BodyMeasures, Choreography, assemble
from .signals import wrap_angle
from .sit import sit_down
from .throw_catch import throw_catch

# An action: (body, frame times (T,) s, rng, area radius m) -> what the body does.
ActionFn = Callable[[BodyMeasures, np.ndarray, np.random.Generator, float], Choreography]

_REGISTRY: dict[str, ActionFn] = {
    "walk": walk,
    "jog": jog,
    "box": box,
    "gesture": gesture,
    "throw_catch": throw_catch,
    "sit_down": sit_down,
}
ACTIONS: tuple[str, ...] = tuple(_REGISTRY)


@dataclass(frozen=True)
class MotionClip:
    """One subject performing one action.

    Attributes:
        action: action name, one of :data:`ACTIONS`.
        fps: frames per second.
        joints_world: (T, 17, 3) float64 joint positions in metres, world frame (right-handed,
            Z up, floor at z = 0), Human3.6M 17-joint order (:data:`occpose.skeleton.H36M_17`).
        root_heading: (T,) float64 radians about +Z, wrapped to [-pi, pi): the direction the
            body faces (0 = +X), without the small sway of the pelvis within a stride.
    """

    action: str
    fps: float
    joints_world: np.ndarray
    root_heading: np.ndarray

    def __post_init__(self) -> None:
        n = self.joints_world.shape[0]
        if self.joints_world.shape != (n, 17, 3) or self.root_heading.shape != (n,):
            raise ValueError(f"MotionClip({self.action}): joints_world (T, 17, 3) and "
                             f"root_heading (T,) expected, got {self.joints_world.shape} and "
                             f"{self.root_heading.shape}")

    @property
    def num_frames(self) -> int:
        return self.joints_world.shape[0]


def generate_motion(action: str, subject: Subject, n_frames: int, fps: float,
                    rng: np.random.Generator, area_radius: float = 1.5) -> MotionClip:
    """Procedural motion of ``subject`` performing ``action``.

    Args:
        action: one of :data:`ACTIONS`.
        subject: whose bone lengths to use; they hold exactly in every frame.
        n_frames: number of frames T (>= 1).
        fps: frames per second (> 0).
        rng: the only source of randomness; the same generator state gives the same bytes.
        area_radius: metres; the motion stays within this distance of the world origin (the
            root well inside it, hands and feet at most a few centimetres beyond).
    Returns:
        A :class:`MotionClip` with (T, 17, 3) joints (metres, world frame, Z up, soles on z = 0).
    Raises:
        KeyError: unknown action (the message lists :data:`ACTIONS`).
    """
    try:
        fn = _REGISTRY[action]
    except (KeyError, TypeError):
        raise KeyError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}") from None
    if int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames!r}")
    if not fps > 0 or not area_radius > 0:
        raise ValueError(f"fps and area_radius must be positive, got {fps!r}, {area_radius!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    body = BodyMeasures.from_subject(subject)
    t = np.arange(int(n_frames), dtype=np.float64) / float(fps)
    choreography = fn(body, t, rng, float(area_radius))
    joints = assemble(body, t, choreography)
    return MotionClip(action=action, fps=float(fps), joints_world=joints,
                      root_heading=wrap_angle(choreography.heading).astype(np.float64))
