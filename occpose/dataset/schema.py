"""The per-sequence arrays of the dataset format: names, shapes, dtypes, meaning.

Shapes use symbols: ``T`` frames, ``J`` joints. ``occluder_*`` arrays (the occluder geometry)
are validated by :class:`occpose.occlusion.occluders.geometry.OccluderSet`. See ``docs/format.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DatasetError

FORMAT = "occpose-bench/1"


@dataclass(frozen=True)
class ArraySpec:
    name: str
    shape: tuple
    dtype: str
    required: bool
    doc: str


ARRAYS: tuple[ArraySpec, ...] = (
    ArraySpec("joints_3d_world", ("T", "J", 3), "float32", True, "joint positions, metres, world frame (Z up)"),
    ArraySpec("joints_3d_cam", ("T", "J", 3), "float32", True, "joint positions, metres, camera frame (x right, y down, z forward)"),
    ArraySpec("joints_2d", ("T", "J", 2), "float32", True, "projected joints, pixels, with lens distortion"),
    ArraySpec("visibility", ("T", "J"), "float32", True, "ray-cast soft visibility in [0, 1]"),
    ArraySpec("occluded", ("T", "J"), "bool", True, "ray-cast truth: visibility < 0.5 and in frame"),
    ArraySpec("occluded_by_body", ("T", "J"), "bool", True, "occluded, first blocker a body segment"),
    ArraySpec("occluded_by_object", ("T", "J"), "bool", True, "occluded, first blocker an occluder"),
    ArraySpec("out_of_frame", ("T", "J"), "bool", True, "projects outside the image or behind the camera"),
    ArraySpec("occluder_fraction", ("T",), "float32", True, "joints occluded by objects / J"),
    ArraySpec("self_occlusion_fraction", ("T",), "float32", True, "joints occluded by the body / J"),
    ArraySpec("occluded_clustered", ("T", "J"), "bool", False, "clustered heuristic (2D distance + depth)"),
    ArraySpec("occluded_boxed", ("T", "J"), "bool", False, "boxed-man heuristic, 2D only as in the paper"),
    ArraySpec("occluded_boxed_depth", ("T", "J"), "bool", False, "boxed-man, only boxes of nearer segments"),
    ArraySpec("mask_visible_fraction", ("T",), "float32", False, "rendered subject pixels visible / pixels without occluders (Blender)"),
    ArraySpec("rendered", ("T",), "bool", False, "frames with a rendered PNG and mask (Blender)"),
)
SPECS = {s.name: s for s in ARRAYS}


def validate_arrays(arrays: dict[str, np.ndarray], n_frames: int, n_joints: int, file: str) -> None:
    """Check names, shapes, dtypes, finiteness and value ranges; raise DatasetError naming the field."""
    dims = {"T": n_frames, "J": n_joints}
    for spec in ARRAYS:
        if spec.name not in arrays:
            if spec.required:
                raise DatasetError(f"{file}: missing array '{spec.name}' ({spec.doc})")
            continue
        arr = arrays[spec.name]
        want = tuple(dims.get(d, d) for d in spec.shape)
        if arr.shape != want:
            raise DatasetError(f"{file}: array '{spec.name}' has shape {arr.shape}, expected {want}")
        if arr.dtype != np.dtype(spec.dtype):
            raise DatasetError(f"{file}: array '{spec.name}' has dtype {arr.dtype}, expected {spec.dtype}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise DatasetError(f"{file}: array '{spec.name}' holds NaN or inf values")
    for name in ("visibility", "occluder_fraction", "self_occlusion_fraction", "mask_visible_fraction"):
        if name in arrays and ((arrays[name] < 0).any() or (arrays[name] > 1).any()):
            raise DatasetError(f"{file}: array '{name}' has values outside [0, 1]")
    for name in arrays:
        if name not in SPECS and not name.startswith("occluder_"):
            raise DatasetError(f"{file}: unexpected array '{name}' (not part of {FORMAT})")
