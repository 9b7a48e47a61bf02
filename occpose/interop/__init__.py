"""Other formats in and out: VideoPose3D (import/export), COCO keypoints (export), BVH (import).

* :mod:`.videopose3d` -- ``load_videopose3d`` -> PoseSequences; ``export_videopose3d``;
  ``save_pose_bundle``/``load_pose_bundle``, the pickle-free cache of ``convert videopose3d``.
* :mod:`.vp3d_dataset` -- the VideoPose3D dataset class ``occpose_dataset.py`` written by the export.
* :mod:`.vp3d_cameras` -- VideoPose3D's cameras: the ``--cameras`` JSON, quaternions,
  ``camera_from_dict`` / ``camera_to_videopose3d`` (re-exported by :mod:`.videopose3d`).
* :mod:`.safe_pickle` -- reading VideoPose3D's pickled npz files with an allow-list unpickler.
* :mod:`.coco` -- ``export_coco`` / ``load_coco``, OKS sigmas, the COCO-17 mapping.
* :mod:`.bvh` -- ``load_bvh`` -> (T, 17, 3) world joints for the generator; ``body_check``.
* :mod:`.bvh_mapping` -- BVH joint names -> the 17 Human3.6M joints (built-in and TOML mappings).
"""

from .bvh import BvhClip, BvhError, body_check, estimate_stature, load_bvh, parse_bvh
from .coco import export_coco, load_coco
from .safe_pickle import RestrictedUnpickler, UnsafePickleError, load_npz
from .videopose3d import (camera_from_dict, camera_to_videopose3d, export_videopose3d,
                          load_pose_bundle, load_videopose3d, read_cameras_json, save_pose_bundle)

__all__ = [
    "BvhClip", "BvhError", "body_check", "estimate_stature", "load_bvh", "parse_bvh",
    "export_coco", "load_coco",
    "RestrictedUnpickler", "UnsafePickleError", "load_npz",
    "camera_from_dict", "camera_to_videopose3d", "export_videopose3d", "load_videopose3d",
    "load_pose_bundle", "read_cameras_json", "save_pose_bundle",
]
