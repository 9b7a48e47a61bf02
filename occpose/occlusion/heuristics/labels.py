"""The cheap occlusion heuristics of Wang et al. (section 4): clustered and boxed-man labels.

Both label a joint *occluded* from the pose alone (no scene, no occluders), so they can only
ever see self-occlusion. occpose stores them next to the ray-cast truth so that
``occpose-bench labels`` can measure how well they agree (:mod:`occpose.occlusion.agreement.scoring`).

* :mod:`.clustered` -- clustered (section 4.1): :func:`clustered_occlusion` and its
  ``*_grid`` variant.
* :mod:`.boxed` -- boxed man (section 4.2), plain and depth-aware:
  :func:`boxed_occlusion`, its ``*_grid`` variant, the boxes and their layouts.
* this module -- the dataset's three label arrays (:func:`heuristic_labels`) and the
  heuristics' inputs (:func:`heuristic_inputs`); it re-exports the names of both modules.

All functions are vectorised over frames: inputs are ``(T, J, ...)`` arrays, no Python loop over
frames (long inputs are processed in blocks of 1024 frames to keep the temporaries small). The
``*_grid`` variants label many epsilons or deltas in one pass for ``labels --sweep``.
Coordinates are computed in float64; :func:`heuristic_labels` rounds its inputs through float32
first, so stored labels are re-derivable exactly from the stored float32 arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...camera import Camera, normalize_screen_coordinates
from .boxed import (BOX_LAYOUTS, BoxLayout, box_depths, box_hits,  # noqa: F401 (re-exported)
                               boxed_occlusion, boxed_occlusion_grid, points_in_convex_quads,
                               points_in_hull4, segment_boxes)
from .clustered import clustered_occlusion, clustered_occlusion_grid  # noqa: F401

if TYPE_CHECKING:
    from ...config import HeuristicsSection

__all__ = ["BoxLayout", "BOX_LAYOUTS", "clustered_occlusion", "clustered_occlusion_grid",
           "boxed_occlusion", "boxed_occlusion_grid", "segment_boxes", "points_in_convex_quads",
           "points_in_hull4", "box_hits", "box_depths", "heuristic_inputs", "heuristic_labels"]


# ---- the dataset's three label arrays ----------------------------------------------------------

def heuristic_inputs(joints_cam: np.ndarray, joints_2d: np.ndarray, width: int,
                     height: int) -> dict[str, np.ndarray]:
    """The heuristics' float64 inputs, rounded through float32 first.

    Rounding makes labels computed here at generation time re-derivable exactly from the stored
    float32 ``joints_3d_cam`` and ``joints_2d`` arrays (as ``labels --sweep`` does).

    Returns:
        ``xy_camera`` (T, J, 2) metres, ``xy_normalized`` (T, J, 2) normalised screen units,
        ``depth`` (T, J) metres.
    """
    cam = np.asarray(joints_cam, dtype=np.float32).astype(np.float64)
    px = np.asarray(joints_2d, dtype=np.float32).astype(np.float64)
    return {"xy_camera": cam[..., :2], "depth": cam[..., 2],
            "xy_normalized": normalize_screen_coordinates(px, width, height)}


def heuristic_labels(joints_cam: np.ndarray, joints_2d: np.ndarray, camera: Camera,
                     cfg: HeuristicsSection) -> dict[str, np.ndarray]:
    """All three heuristic label arrays of one sequence, as the dataset format names them.

    Args:
        joints_cam: (T, J, 3) metres, camera frame (x right, y down, z forward).
        joints_2d: (T, J, 2) pixels in ``camera``'s image.
        camera: gives the image size for the normalised screen coordinates.
        cfg: :class:`~occpose.config.HeuristicsSection` (clustered_space, clustered_epsilon,
            clustered_clusters, boxed_delta, boxed_spine).
    Returns:
        ``occluded_clustered``, ``occluded_boxed``, ``occluded_boxed_depth``: (T, J) bool.
    """
    joints_cam, joints_2d = np.asarray(joints_cam), np.asarray(joints_2d)
    if (joints_cam.ndim != 3 or joints_cam.shape[-1] != 3
            or joints_2d.shape != joints_cam.shape[:2] + (2,)):
        raise ValueError(f"expected joints_cam (T, J, 3) and joints_2d (T, J, 2), got "
                         f"{joints_cam.shape} and {joints_2d.shape}")
    x = heuristic_inputs(joints_cam, joints_2d, camera.width, camera.height)
    xy = x["xy_camera"] if cfg.clustered_space == "camera" else x["xy_normalized"]
    plain, aware = boxed_occlusion_grid(x["xy_normalized"], [cfg.boxed_delta], x["depth"],
                                        spine=cfg.boxed_spine)
    return {
        "occluded_clustered": clustered_occlusion(xy, x["depth"], cfg.clustered_epsilon,
                                                  cfg.clustered_clusters),
        "occluded_boxed": plain[0],
        "occluded_boxed_depth": aware[0],
    }
