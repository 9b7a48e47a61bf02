"""Forward kinematics on the 17-joint skeleton: local joint rotations -> joint positions.

Frames. The *body frame* is right-handed with x forward, y to the body's left and z up; at rest
every joint's local frame is aligned with it, so a bone's rest direction is the same in its
parent's local frame and in the body frame. World is right-handed, Z up, floor at z = 0; a body
with heading ``h`` faces ``(cos h, sin h, 0)``.

Rotations. ``local_rot[:, j]`` rotates the bones that leave joint ``j`` (its children) in the
frame of joint ``j``'s parent; ``local_rot[:, 0]`` is the root's world orientation. Global
rotations compose down the tree: ``G_j = G_parent(j) @ local_rot[:, j]``, and a child ``c`` sits
at ``p_j + G_j @ (length_c * REST_DIRECTIONS[c])``. Bone lengths are therefore preserved
exactly, whatever the rotations.
"""

from __future__ import annotations

import numpy as np

from ..skeleton import H36M_17, Skeleton


def _unit(v: tuple[float, float, float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


# (J, 3) unit direction of the bone ending at each joint, in its parent's rest frame (body frame).
REST_DIRECTIONS = np.stack([
    np.zeros(3),              # 0 Hip (root, no bone)
    _unit((0, -1, 0)),        # 1 RHip: pelvis half-width to the right
    _unit((0, 0, -1)),        # 2 RKnee: thigh hangs down
    _unit((0, 0, -1)),        # 3 RFoot: shin hangs down (ends at the ankle)
    _unit((0, 1, 0)),         # 4 LHip
    _unit((0, 0, -1)),        # 5 LKnee
    _unit((0, 0, -1)),        # 6 LFoot
    _unit((0, 0, 1)),         # 7 Spine
    _unit((0, 0, 1)),         # 8 Thorax
    _unit((0.25, 0, 1)),      # 9 Neck/Nose: the nose sits a little forward (14 degrees)
    _unit((-0.14, 0, 1)),     # 10 Head: back above the neck (8 degrees)
    _unit((0, 1, 0)),         # 11 LShoulder: clavicle
    _unit((0, 0, -1)),        # 12 LElbow: upper arm hangs down
    _unit((0, 0, -1)),        # 13 LWrist
    _unit((0, -1, 0)),        # 14 RShoulder
    _unit((0, 0, -1)),        # 15 RElbow
    _unit((0, 0, -1)),        # 16 RWrist
])


def rot_x(a: np.ndarray) -> np.ndarray:
    """(...,) radians -> (..., 3, 3) right-handed rotation about +x."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], axis=-1).reshape(a.shape + (3, 3))


def rot_y(a: np.ndarray) -> np.ndarray:
    """(...,) radians -> (..., 3, 3) right-handed rotation about +y."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], axis=-1).reshape(a.shape + (3, 3))


def rot_z(a: np.ndarray) -> np.ndarray:
    """(...,) radians -> (..., 3, 3) right-handed rotation about +z."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], axis=-1).reshape(a.shape + (3, 3))


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """(..., 3) radians ``(ax, ay, az)`` -> (..., 3, 3) ``Rx(ax) @ Ry(ay) @ Rz(az)``.

    Applied to a vector, the z rotation (twist about a hanging bone) acts first, then y
    (flexion in the sagittal plane), then x (abduction in the frontal plane).
    """
    angles = np.asarray(angles, dtype=np.float64)
    return rot_x(angles[..., 0]) @ rot_y(angles[..., 1]) @ rot_z(angles[..., 2])


def forward_kinematics(local_rot: np.ndarray, root_pos: np.ndarray, bone_lengths: np.ndarray,
                       skeleton: Skeleton = H36M_17) -> np.ndarray:
    """Joint positions from local rotations.

    Args:
        local_rot: (T, J, 3, 3) local rotations (see module docstring); ``[:, 0]`` is the root's
            world orientation.
        root_pos: (T, 3) root (pelvis) position, metres, world frame.
        bone_lengths: (J,) metres, length of the bone ending at each joint (root entry unused).
    Returns:
        (T, J, 3) float64 joint positions, metres, world frame.
    """
    local_rot = np.asarray(local_rot, dtype=np.float64)
    root_pos = np.asarray(root_pos, dtype=np.float64)
    n_joints = skeleton.num_joints
    if local_rot.ndim != 4 or local_rot.shape[1:] != (n_joints, 3, 3):
        raise ValueError(f"local_rot must be (T, {n_joints}, 3, 3), got {local_rot.shape}")
    if root_pos.shape != (local_rot.shape[0], 3):
        raise ValueError(f"root_pos must be ({local_rot.shape[0]}, 3), got {root_pos.shape}")
    offsets = np.asarray(bone_lengths, dtype=np.float64)[:, None] * REST_DIRECTIONS  # (J, 3)
    glob = np.empty_like(local_rot)                                  # (T, J, 3, 3)
    joints = np.empty(local_rot.shape[:2] + (3,))                    # (T, J, 3)
    glob[:, 0] = local_rot[:, 0]
    joints[:, 0] = root_pos
    for j in range(1, n_joints):
        p = skeleton.parents[j]
        joints[:, j] = joints[:, p] + glob[:, p] @ offsets[j]
        glob[:, j] = glob[:, p] @ local_rot[:, j]
    return joints


def rest_pose(bone_lengths: np.ndarray, ankle_height: float,
              skeleton: Skeleton = H36M_17) -> np.ndarray:
    """(J, 3) float64 rest pose (upright, arms hanging), metres, world frame.

    The body faces +X with the root above the origin and the ankles ``ankle_height`` above the
    floor, so the soles touch z = 0.
    """
    eye = np.broadcast_to(np.eye(3), (1, skeleton.num_joints, 3, 3))
    joints = forward_kinematics(eye, np.zeros((1, 3)), bone_lengths, skeleton)[0]
    joints[:, 2] += ankle_height - joints[[3, 6], 2].min()
    return joints
