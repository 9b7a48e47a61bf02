"""From :class:`~occpose.dataset.poses.PoseSequence` lists to model inputs and training batches.

* :func:`prepare` turns sequences into :class:`Prepared` arrays: normalised 2D inputs, 3D
  targets relative to the root (camera frame, metres, root fixed at 0 as VideoPose3D), occlusion
  vectors and the evaluation masks.
* :class:`WindowSet` cuts every frame's receptive-field window out of the sequences, padded at
  the edges by replicating the first/last frame (``model.input_padding()``), and gathers
  batches of windows by index.
* :func:`flip_poses` / :func:`flip_labels`: VideoPose3D's horizontal flip (negate x, swap left
  and right joints).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from ..dataset.poses import PoseSequence
from ..errors import OccposeError
from ..metrics import root_relative
from ..skeleton import HUMANEVA_15, H36M_17, Skeleton, get_skeleton
from .inputs import normalized_keypoints, occlusion_vectors
from .settings import RunSettings

__all__ = ["Prepared", "prepare", "WindowSet", "Batch", "flip_poses", "flip_labels",
           "skeleton_for", "data_summary"]


def skeleton_for(num_joints: int, name: str = "") -> Skeleton:
    """The skeleton by name, or the occpose layout with ``num_joints`` joints."""
    if name:
        return get_skeleton(name)
    for s in (H36M_17, HUMANEVA_15):
        if s.num_joints == num_joints:
            return s
    raise OccposeError(f"no skeleton with {num_joints} joints (known: h36m17, humaneva15)")


@dataclass
class Prepared:
    """One sequence ready for a model.

    Attributes:
        keypoints: (T, J, 2) float32 normalised screen coordinates (the 2D input).
        poses: (T, J, 3) float32 metres, camera frame, root-relative with the root at 0.
        occlusion: (T, J) float32 occlusion vectors (1 = occluded), or None if not needed.
        occluded: (T, J) bool ray-cast truth (all False when the data has no labels).
        out_of_frame: (T, J) bool.
        occluded_by_body, occluded_by_object: (T, J) bool first-blocker labels, or None.
    """

    id: str
    subject: str
    action: str
    level: float
    keypoints: np.ndarray
    poses: np.ndarray
    occlusion: np.ndarray | None
    occluded: np.ndarray
    out_of_frame: np.ndarray
    occluded_by_body: np.ndarray | None = None
    occluded_by_object: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return self.keypoints.shape[0]

    def masks(self) -> dict[str, np.ndarray]:
        """The evaluation splits' (T, J) masks (:func:`occpose.harness.evaluate.split_masks`)."""
        from .evaluate import split_masks

        return split_masks(self.occluded, self.out_of_frame, self.occluded_by_body,
                           self.occluded_by_object)


def prepare(sequences: list[PoseSequence], settings: RunSettings) -> list[Prepared]:
    """Model inputs and targets of ``sequences`` under a run's input settings."""
    out = []
    for seq in sequences:
        t, j = seq.joints_2d.shape[:2]
        labels = seq.labels
        out.append(Prepared(
            id=seq.id, subject=seq.subject, action=seq.action, level=float(seq.level),
            keypoints=normalized_keypoints(seq, settings.keypoints2d, settings.noise),
            poses=root_relative(np.asarray(seq.joints_3d_cam, dtype=np.float32)),
            occlusion=occlusion_vectors(seq, settings.label_array) if settings.uses_occlusion else None,
            occluded=np.asarray(labels.get("occluded", np.zeros((t, j), bool)), dtype=bool),
            out_of_frame=np.asarray(labels.get("out_of_frame", np.zeros((t, j), bool)), dtype=bool),
            occluded_by_body=_label(labels, "occluded_by_body"),
            occluded_by_object=_label(labels, "occluded_by_object")))
    return out


def _label(labels: dict, name: str) -> np.ndarray | None:
    return np.asarray(labels[name], dtype=bool) if name in labels else None


def data_summary(sequences: list[PoseSequence]) -> dict:
    """Count and fingerprint of training data (ids, 2D and 3D arrays), stored with a run."""
    h = hashlib.sha256()
    for seq in sorted(sequences, key=lambda s: s.id):
        h.update(seq.id.encode())
        h.update(np.ascontiguousarray(seq.joints_2d, dtype=np.float32).tobytes())
        h.update(np.ascontiguousarray(seq.joints_3d_cam, dtype=np.float32).tobytes())
    return {"sequences": len(sequences), "frames": int(sum(s.n_frames for s in sequences)),
            "sha256": h.hexdigest()}


def flip_poses(x, skeleton: Skeleton):
    """Mirror (..., J, C) keypoints or poses: negate x, swap left/right joints (a copy)."""
    perm = skeleton.flip_permutation()
    if isinstance(x, torch.Tensor):
        y = x[..., torch.as_tensor(perm, device=x.device), :].clone()
    else:
        y = np.asarray(x)[..., perm, :].copy()
    y[..., 0] = -y[..., 0]
    return y


def flip_labels(x, skeleton: Skeleton):
    """Swap left/right joints of (..., J) per-joint labels (a copy)."""
    perm = skeleton.flip_permutation()
    if isinstance(x, torch.Tensor):
        return x[..., torch.as_tensor(perm, device=x.device)].clone()
    return np.asarray(x)[..., perm].copy()


@dataclass
class Batch:
    """A batch of windows.

    Attributes:
        keypoints: (B, RF, J, 2) inputs.
        poses: (B, 1, J, 3) target of each window's estimated frame.
        occlusion: (B, RF, J) occlusion vectors over the window, or None.
    """

    keypoints: torch.Tensor
    poses: torch.Tensor
    occlusion: torch.Tensor | None

    def to(self, device) -> "Batch":
        occ = self.occlusion.to(device, non_blocking=True) if self.occlusion is not None else None
        return Batch(self.keypoints.to(device, non_blocking=True),
                     self.poses.to(device, non_blocking=True), occ)


class WindowSet:
    """Every frame of every sequence as one receptive-field window.

    Args:
        prepared: the sequences.
        receptive_field: window length RF (1 for single-frame models).
        padding: (left, right) replicated edge frames, ``model.input_padding()``; the window of
            frame t covers original frames ``t - left .. t + right``.
    """

    def __init__(self, prepared: list[Prepared], receptive_field: int,
                 padding: tuple[int, int] = (0, 0)) -> None:
        left, right = padding
        if left + right + 1 != receptive_field:
            raise ValueError(f"padding {padding} does not match receptive field {receptive_field}")
        if not prepared:
            raise OccposeError("no training sequences")
        self.receptive_field = receptive_field
        self.left = left
        kps, poses, occs, starts = [], [], [], []
        offset = 0
        with_occ = prepared[0].occlusion is not None
        for p in prepared:
            pad = ((left, right), (0, 0), (0, 0))
            kps.append(np.pad(p.keypoints, pad, mode="edge"))              # (T+RF-1, J, 2)
            poses.append(np.pad(p.poses, pad, mode="edge"))
            if with_occ:
                occs.append(np.pad(p.occlusion, pad[:2], mode="edge"))
            starts.append(offset + np.arange(p.n_frames))
            offset += p.n_frames + left + right
        self.keypoints = torch.from_numpy(np.concatenate(kps))             # (N, J, 2)
        self.poses = torch.from_numpy(np.concatenate(poses))               # (N, J, 3)
        self.occlusion = torch.from_numpy(np.concatenate(occs)) if with_occ else None
        self.starts = torch.from_numpy(np.concatenate(starts)).long()     # (M,)
        self._span = torch.arange(receptive_field)

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, index: torch.Tensor) -> Batch:
        """Windows of the frames ``index`` (into ``range(len(self))``)."""
        start = self.starts[index]                                         # (B,)
        frames = start[:, None] + self._span                               # (B, RF)
        occ = self.occlusion[frames] if self.occlusion is not None else None
        return Batch(self.keypoints[frames], self.poses[(start + self.left)[:, None]], occ)
