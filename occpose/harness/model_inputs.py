"""The inputs a lifting model sees, written for external models (``occpose-bench inputs``).

One ``.npz`` (no pickles; deterministic bytes), one array per key. Top-level keys:

==========================  ========================================================
``ids``                     (N,) str: sequence ids, sorted (the keys of a prediction file)
``subjects``/``actions``    (N,) str: each sequence's subject and action
``cameras``                 (N,) str: each sequence's camera name
``levels``                  (N,) float64: target occlusion level (manifest value)
``frames``                  (N,) int64: frames T per sequence
``joint_names``             (J,) str: the skeleton's joints, in array order
``keypoints2d_source``      (1,) str: ``exact``, ``noise`` or ``detector:RUN``
``noise``                   (1,) str: JSON of the detector-noise parameters (``noise`` only)
``split``                   (1,) str: ``test``, ``train`` or ``all``
==========================  ========================================================

Per sequence ``<id>/...``:

==================================  =====================================================
``<id>/keypoints_2d_px``            (T, J, 2) float32 image pixels (x right, y down)
``<id>/keypoints_2d``               (T, J, 2) float32 normalised as VideoPose3D's
                                    ``normalize_screen_coordinates``: ``px / w * 2 - [1, h / w]``
``<id>/camera_matrix``              (3, 3) float64 pinhole intrinsics K (pixels)
``<id>/distortion``                 (5,) float64 ``k1, k2, p1, p2, k3`` (OpenCV order)
``<id>/image_size``                 (2,) int64 ``width, height`` pixels
``<id>/occluded``, ``occluded_by_body``, ``occluded_by_object``, ``out_of_frame``
                                    (T, J) bool ray-cast labels, for reference (a model
                                    must not use them as input unless it says so)
``<id>/visibility``                 (T, J) float32 soft ray-cast visibility, for reference
==================================  =====================================================

The 2D keypoints are made by :func:`occpose.harness.inputs.keypoints_2d`, the function
``train`` and ``evaluate`` use: the detector-noise stream is seeded by the sequence id alone, so
an external model sees exactly the inputs occpose's own models see (tested).
"""

from __future__ import annotations

import json
from dataclasses import is_dataclass
from pathlib import Path

import numpy as np

from ..camera import normalize_screen_coordinates
from ..dataset.npz import write_npz
from ..errors import OccposeError
from .inputs import keypoints_2d

__all__ = ["LABEL_KEYS", "model_inputs", "write_inputs"]

LABEL_KEYS = ("occluded", "occluded_by_body", "occluded_by_object", "out_of_frame", "visibility")


def model_inputs(bench, split: str = "test", source: str = "exact", noise=None) -> dict[str, np.ndarray]:
    """The arrays of an inputs file (module docstring) for one split of an open Benchmark.

    Args:
        bench: a :class:`~occpose.dataset.Benchmark`.
        split: ``test``, ``train`` or ``all``.
        source: ``exact``, ``noise`` or ``detector:RUN``.
        noise: :class:`~occpose.config.NoiseSection` or dict (``noise`` only; default: built-in).
    """
    from ..dataset.poses import from_benchmark

    if split not in ("test", "train", "all"):
        raise OccposeError(f"--split {split!r}: expected test, train or all")
    entries = sorted(bench.select(split=None if split == "all" else split), key=lambda e: e.id)
    if not entries:
        raise OccposeError(f"{bench.root}: no sequences in split {split!r}")
    if noise is None and source == "noise":
        from ..config import NoiseSection

        noise = NoiseSection()
    if is_dataclass(noise):
        noise = noise.to_dict()
    out: dict[str, np.ndarray] = {
        "ids": np.array([e.id for e in entries]),
        "subjects": np.array([e.subject for e in entries]),
        "actions": np.array([e.action for e in entries]),
        "cameras": np.array([e.camera for e in entries]),
        "levels": np.array([float(e.target_level) for e in entries], dtype=np.float64),
        "frames": np.array([e.frames for e in entries], dtype=np.int64),
        "joint_names": np.array(list(bench.skeleton.joint_names)),
        "keypoints2d_source": np.array([source]),
        "noise": np.array([json.dumps(noise, sort_keys=True) if source == "noise" and noise else ""]),
        "split": np.array([split]),
    }
    for e in entries:
        seq = from_benchmark(bench, [e])[0]
        cam = bench.cameras[e.camera]
        px = keypoints_2d(seq, source, noise).pixels                                # (T, J, 2)
        out[f"{e.id}/keypoints_2d_px"] = px.astype(np.float32)
        out[f"{e.id}/keypoints_2d"] = normalize_screen_coordinates(px, cam.width, cam.height).astype(np.float32)
        out[f"{e.id}/camera_matrix"] = cam.intrinsic_matrix.astype(np.float64)
        out[f"{e.id}/distortion"] = np.array([cam.k[0], cam.k[1], cam.p[0], cam.p[1], cam.k[2]],
                                             dtype=np.float64)
        out[f"{e.id}/image_size"] = np.array([cam.width, cam.height], dtype=np.int64)
        for k in LABEL_KEYS:
            if k in seq.labels:
                dtype = np.float32 if k == "visibility" else bool
                out[f"{e.id}/{k}"] = np.asarray(seq.labels[k], dtype=dtype)
    return out


def write_inputs(bench, out: str | Path, split: str = "test", source: str = "exact",
                 noise=None) -> dict[str, np.ndarray]:
    """Write :func:`model_inputs` to ``out`` atomically (same inputs -> same bytes)."""
    arrays = model_inputs(bench, split, source, noise)
    write_npz(out, arrays)
    return arrays
