"""In-memory pose sequences: the common currency of training and evaluation.

Benchmark directories (:func:`from_benchmark`) and imported VideoPose3D files
(:mod:`occpose.interop.videopose3d`) both produce :class:`PoseSequence` records, so the harness
trains and evaluates on either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LABEL_ARRAYS = ("visibility", "occluded", "occluded_by_body", "occluded_by_object", "out_of_frame",
                "occluded_clustered", "occluded_boxed", "occluded_boxed_depth")


@dataclass(eq=False)
class PoseSequence:
    """One camera's view of one clip.

    Attributes:
        joints_3d_cam: (T, J, 3) float32 metres, camera frame (x right, y down, z forward).
        joints_2d: (T, J, 2) float32 pixels.
        width, height: image size in pixels (for screen normalisation).
        labels: (T, J) arrays by dataset-format name (any subset of :data:`LABEL_ARRAYS`).
        level: target occlusion level (0 for real data).
        fps: frame rate.
    """

    id: str
    subject: str
    action: str
    camera: str
    split: str
    level: float
    joints_3d_cam: np.ndarray
    joints_2d: np.ndarray
    width: int
    height: int
    fps: float = 50.0
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t, j, _ = self.joints_3d_cam.shape
        if self.joints_2d.shape != (t, j, 2):
            raise ValueError(f"{self.id}: joints_2d shape {self.joints_2d.shape} does not match "
                             f"joints_3d_cam {self.joints_3d_cam.shape}")

    @property
    def n_frames(self) -> int:
        return self.joints_3d_cam.shape[0]


def from_benchmark(bench, entries=None) -> list[PoseSequence]:
    """PoseSequences of a :class:`~occpose.dataset.Benchmark` (all entries, or those given)."""
    fps = float(bench.config.get("benchmark", {}).get("fps", 50.0))
    out = []
    for e in entries if entries is not None else bench.entries:
        seq = bench.load(e)
        cam = bench.cameras[e.camera]
        out.append(PoseSequence(
            id=e.id, subject=e.subject, action=e.action, camera=e.camera, split=e.split,
            level=e.target_level, joints_3d_cam=seq.arrays["joints_3d_cam"],
            joints_2d=seq.arrays["joints_2d"], width=cam.width, height=cam.height, fps=fps,
            labels={k: seq.arrays[k] for k in LABEL_ARRAYS if k in seq.arrays}))
    return out
