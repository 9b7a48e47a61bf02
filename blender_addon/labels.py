"""Visibility labels by Blender ray casts (``scene.ray_cast``) on the animated, tessellated scene.

The definition is occpose's (:mod:`occpose.occlusion.raycast.visibility`), and so is everything but the
ray casting: the ray targets come from ``visibility.ray_targets`` (same sunflower disk, same K
points), the joint labels from ``visibility.labels_from_counts`` and ``out_of_frame_mask``.
This module only answers, per ray, "what blocks it first": it walks the hits along the segment
camera centre -> target in order, skipping objects that are not blockers (floor, backdrop,
markers) and grazing hits on the joint's own segments (t >= L - tolerance); the first remaining
hit with t < L - tol decides body or object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mathutils import Vector

from occpose.camera import Camera, camera_to_world
from occpose.occlusion.raycast.visibility import (OTHER_TOLERANCE, VisibilityLabels, VisibilityParams,
                                          labels_from_counts, out_of_frame_mask, ray_targets)
from occpose.viz.frames import joint_states as frames_joint_states

from . import compat

FREE, BODY, OBJECT = 0, 1, 2
SKIP = 1e-5  # metres stepped past a skipped hit before casting again


@dataclass
class RayCaster:
    """Casts the sample rays of one camera against a scene's blockers.

    Attributes:
        blockers: object name -> (is_occluder, segment or primitive index), see ``bridge.blockers``.
        incidence: (J, S) bool, the joints' own body segments (``BodyModel.incidence``).
        origin: (3,) camera centre, world metres.
    """

    scene: object
    blockers: dict
    incidence: np.ndarray
    params: VisibilityParams
    origin: np.ndarray

    def first_blocker(self, depsgraph, target: Vector, joint: int) -> int:
        """FREE, BODY or OBJECT for the ray from the camera centre to ``target`` (world)."""
        origin = Vector(self.origin)
        direction = target - origin
        length = direction.length
        direction.normalize()
        travelled = 0.0
        while travelled < length:
            hit, loc, _n, _i, obj, _m = self.scene.ray_cast(depsgraph, origin + direction * travelled,
                                                           direction, distance=length - travelled)
            if not hit:
                return FREE
            t = (loc - origin).dot(direction)
            info = self.blockers.get(obj.name) if obj is not None else None
            if info is not None:
                is_occluder, index = info
                own = not is_occluder and self.incidence[joint, index]
                if t < length - (self.params.tolerance if own else OTHER_TOLERANCE):
                    return OBJECT if is_occluder else BODY
            travelled = max(t, travelled) + SKIP
        return FREE

    def frame_counts(self, targets_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Blocked and first-blocked-by-object ray counts (J,) at the scene's current frame.

        Args:
            targets_world: (J, K, 3) ray targets, world metres.
        """
        depsgraph = compat.view_layer_depsgraph(self.scene)
        n_j, k = targets_world.shape[:2]
        blocked = np.zeros(n_j, np.int32)
        by_object = np.zeros(n_j, np.int32)
        for j in range(n_j):
            for r in range(k):
                kind = self.first_blocker(depsgraph, Vector(targets_world[j, r]), j)
                blocked[j] += kind != FREE
                by_object[j] += kind == OBJECT
        return blocked, by_object


def targets_world(joints_cam: np.ndarray, joint_radius: np.ndarray, camera: Camera,
                  params: VisibilityParams) -> np.ndarray:
    """(T, J, K, 3) world-frame ray targets: occpose's sample points, moved out of the camera frame."""
    return camera_to_world(ray_targets(joints_cam, joint_radius, params), camera)


def label_scene(scene, caster: RayCaster, joints_cam: np.ndarray, body, camera: Camera,
                frames=None) -> VisibilityLabels:
    """Blender ray-cast labels of a whole clip (frames 0..T-1 of the animated scene).

    Args:
        joints_cam: (T, J, 3) metres, camera frame; used for the ray targets and out_of_frame.
    """
    targets = targets_world(joints_cam, body.joint_radius, camera, caster.params)
    n_t, n_j = joints_cam.shape[:2]
    blocked = np.zeros((n_t, n_j), np.int32)
    by_object = np.zeros((n_t, n_j), np.int32)
    current = scene.frame_current
    for t in range(n_t) if frames is None else frames:
        scene.frame_set(t)
        blocked[t], by_object[t] = caster.frame_counts(targets[t])
    scene.frame_set(current)
    return labels_from_counts(blocked, by_object, caster.params.rays, out_of_frame_mask(joints_cam, camera))


def joint_states(labels: VisibilityLabels) -> np.ndarray:
    """(T, J) int8 state code per joint-frame (:func:`occpose.viz.frames.joint_states`: visible,
    hidden by the body, hidden by an object, out of frame)."""
    return frames_joint_states(labels.to_arrays())


def agreement(a: VisibilityLabels, b: VisibilityLabels) -> float:
    """Fraction of joint-frames whose state (visible / body / object / out) is the same."""
    return float((joint_states(a) == joint_states(b)).mean())
