"""Skeletons as named data: joint names, parents, left/right symmetry and bones.

Two layouts are defined:

* :data:`H36M_17` -- Human3.6M's 17 joints in the order VideoPose3D uses.
* :data:`HUMANEVA_15` -- HumanEva-I's 15 joints in the order VideoPose3D uses.

occpose generates motion on the 17-joint skeleton; :func:`convert_joints` maps 17-joint arrays
to the 15-joint layout (every HumanEva joint exists in the 17-joint skeleton).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree.

    Attributes:
        name: layout identifier written into manifests (``"h36m17"``, ``"humaneva15"``).
        joint_names: one name per joint, in array order.
        parents: parent index per joint, ``-1`` for the root (joint 0).
        joints_left: indices of the left-side joints.
        joints_right: indices of their right-side counterparts, in the same order.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if len(self.parents) != n:
            raise ValueError(f"skeleton {self.name}: {len(self.parents)} parents for {n} joints")
        if self.parents[0] != -1 or any(not (0 <= p < j) for j, p in enumerate(self.parents) if j):
            raise ValueError(f"skeleton {self.name}: parents must be topologically ordered, root 0")
        if len(self.joints_left) != len(self.joints_right):
            raise ValueError(f"skeleton {self.name}: left and right joint lists differ in length")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) index pairs, one per non-root joint, in joint order."""
        return tuple((p, j) for j, p in enumerate(self.parents) if p >= 0)

    def index(self, name: str) -> int:
        """Joint index by name (case-sensitive)."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise KeyError(f"skeleton {self.name} has no joint {name!r}; "
                           f"joints are {', '.join(self.joint_names)}") from None

    def children(self, joint: int) -> tuple[int, ...]:
        return tuple(j for j, p in enumerate(self.parents) if p == joint)

    def flip_permutation(self) -> np.ndarray:
        """(J,) int index array that swaps every left joint with its right counterpart."""
        perm = np.arange(self.num_joints)
        perm[list(self.joints_left)] = self.joints_right
        perm[list(self.joints_right)] = self.joints_left
        return perm

    def bone_lengths(self, joints: np.ndarray) -> np.ndarray:
        """Bone lengths of poses.

        Args:
            joints: (..., J, 3) joint positions in any metric frame.
        Returns:
            (..., J-1) length of each bone in :attr:`bones` order, same units as ``joints``.
        """
        joints = np.asarray(joints)
        if joints.shape[-2] != self.num_joints:
            raise ValueError(f"expected {self.num_joints} joints for {self.name}, "
                             f"got array of shape {joints.shape}")
        parents = np.array([p for p, _ in self.bones])
        children = np.array([c for _, c in self.bones])
        return np.linalg.norm(joints[..., children, :] - joints[..., parents, :], axis=-1)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "joint_names": list(self.joint_names),
            "parents": list(self.parents),
            "joints_left": list(self.joints_left),
            "joints_right": list(self.joints_right),
        }


H36M_17 = Skeleton(
    name="h36m17",
    joint_names=("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
                 "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow",
                 "RWrist"),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
)

HUMANEVA_15 = Skeleton(
    name="humaneva15",
    joint_names=("Pelvis", "Thorax", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow",
                 "RWrist", "LHip", "LKnee", "LAnkle", "RHip", "RKnee", "RAnkle", "Head"),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    joints_left=(2, 3, 4, 8, 9, 10),
    joints_right=(5, 6, 7, 11, 12, 13),
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (H36M_17, HUMANEVA_15)}

# For each HumanEva-15 joint, the H36M-17 joint at the same anatomical place.
H36M_TO_HUMANEVA = np.array([0, 8, 11, 12, 13, 14, 15, 16, 4, 5, 6, 1, 2, 3, 10])


def get_skeleton(name: str) -> Skeleton:
    """Skeleton by layout name; raises KeyError naming the known layouts."""
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; expected one of {', '.join(SKELETONS)}") from None


def convert_joints(joints: np.ndarray, source: Skeleton, target: Skeleton) -> np.ndarray:
    """Re-order per-joint arrays from one layout to another.

    Args:
        joints: (..., J_source, C) array in ``source`` order.
    Returns:
        (..., J_target, C) array in ``target`` order (a copy).
    """
    if source.name == target.name:
        return np.array(joints, copy=True)
    if (source.name, target.name) == ("h36m17", "humaneva15"):
        return np.asarray(joints)[..., H36M_TO_HUMANEVA, :].copy()
    raise ValueError(f"no joint mapping from {source.name} to {target.name}")
