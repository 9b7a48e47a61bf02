"""COCO keypoints export of a benchmark, and a validating loader.

One COCO image per frame per sequence, one annotation (the subject) per image:

* image ``file_name`` = ``sequences/<id>/frames/NNNNNN.png`` (0-based frame number, relative to
  the benchmark root) for a frame the Blender backend rendered (``rendered: true``); a frame
  without a render is listed with ``file_name: null`` and ``rendered: false`` (its keypoints
  are still useful to 2D-to-3D tools), or left out with ``rendered_only`` (``--rendered-only``).
  ``width``/``height`` from the camera (the render resolution for Blender benchmarks), plus
  ``sequence``, ``frame``, ``subject``, ``action``, ``camera``, ``level``, ``split``.
* ``keypoints`` [x, y, v] * J in pixels (occpose's image frame, unchanged): v = 2 visible,
  v = 1 occluded (in frame, labelled, ray-cast hidden), v = 0 out of frame with x = y = 0;
  ``num_keypoints`` = count of v > 0; ``bbox`` [x, y, w, h] around the in-frame joints with a
  15 % margin per side (at least 10 px), clipped to the image; ``area``: COCO's segment area,
  the pixel count of the rendered visible-subject mask ``sequences/<id>/masks/NNNNNN.png``
  where one exists (``area_source: "mask"``), else the bbox area (``area_source: "bbox"``);
  ``iscrowd`` 0; custom ``occluded_by`` per joint (``"body"``, ``"object"``, ``"other"`` when
  occluded, else null) and ``occluder_fraction`` of the frame.
* one category ``person`` with the joint names, 1-based bone pairs and ``kpt_oks_sigmas``: the
  per-joint OKS sigmas to pass to ``COCOeval`` (``params.kpt_oks_sigmas``). pycocotools'
  default is COCO's 17 sigmas in COCO's joint order, which is wrong for any other layout.

**Layouts** (``layout``): ``"native"`` keeps the benchmark's joints (h36m17 or humaneva15);
``"coco17"`` writes COCO's 17 keypoints so COCO-trained 2D detectors can be scored with
pycocotools' defaults: the shared joints (shoulders, elbows, wrists, hips, knees, ankles) carry
occpose's values, nose, eyes and ears have v = 0 (occpose's ``Neck/Nose`` joint lies near the
chin, not at the nose, and the body model has no eyes or ears).

**OKS sigmas** (:data:`OKS_SIGMAS`): joints that COCO annotates take COCO's sigmas (shoulders
0.079, elbows 0.072, wrists 0.062, hips 0.107, knees 0.087, ankles 0.089). The others follow
the conventions of datasets that annotate them: head top and neck 0.079 as CrowdPose uses, the
pelvis and spine 0.107 (the hips' sigma: torso points located by the same hip/waist cues), the
thorax 0.079 (CrowdPose's neck). These are conventions, not measured annotator spreads, so an
AP on occpose's extra joints is comparable across models, not with COCO's published numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..dataset.atomic import atomic_write_text
from ..dataset.jsonio import read_json_object
from ..dataset.manifest import frame_path
from ..errors import DatasetError

BBOX_MARGIN = 0.15
BBOX_MIN_MARGIN = 10.0

COCO17_JOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                 "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                 "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
COCO17_SKELETON = ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
                   (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7))
# COCO's published per-keypoint sigmas, in COCO17_JOINTS order (pycocotools' default).
COCO17_SIGMAS = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
                 0.107, 0.107, 0.087, 0.087, 0.089, 0.089)
# occpose joint -> COCO keypoint, for the joints both mark at the same anatomical point.
COCO17_FROM = {
    "h36m17": {"LShoulder": "left_shoulder", "RShoulder": "right_shoulder", "LElbow": "left_elbow",
               "RElbow": "right_elbow", "LWrist": "left_wrist", "RWrist": "right_wrist",
               "LHip": "left_hip", "RHip": "right_hip", "LKnee": "left_knee", "RKnee": "right_knee",
               "LFoot": "left_ankle", "RFoot": "right_ankle"},
    "humaneva15": {"LShoulder": "left_shoulder", "RShoulder": "right_shoulder", "LElbow": "left_elbow",
                   "RElbow": "right_elbow", "LWrist": "left_wrist", "RWrist": "right_wrist",
                   "LHip": "left_hip", "RHip": "right_hip", "LKnee": "left_knee", "RKnee": "right_knee",
                   "LAnkle": "left_ankle", "RAnkle": "right_ankle"},
}
_COCO_SIGMA = dict(zip(COCO17_JOINTS, COCO17_SIGMAS))
# Per-joint OKS sigmas of occpose's layouts (module docstring says where each comes from).
OKS_SIGMAS = {
    name: tuple({**{j: _COCO_SIGMA[c] for j, c in COCO17_FROM[name].items()}, **extra}[j] for j in order)
    for name, order, extra in (
        ("h36m17", ("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
                    "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist"),
         {"Hip": 0.107, "Spine": 0.107, "Thorax": 0.079, "Neck/Nose": 0.079, "Head": 0.079}),
        ("humaneva15", ("Pelvis", "Thorax", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow",
                        "RWrist", "LHip", "LKnee", "LAnkle", "RHip", "RKnee", "RAnkle", "Head"),
         {"Pelvis": 0.107, "Thorax": 0.079, "Head": 0.079}))
}
LAYOUTS = ("native", "coco17")


def oks_sigmas(skeleton_name: str) -> tuple[float, ...]:
    """Per-joint OKS sigmas for a layout (``h36m17``, ``humaneva15`` or ``coco17``)."""
    if skeleton_name == "coco17":
        return COCO17_SIGMAS
    if skeleton_name not in OKS_SIGMAS:
        raise DatasetError(f"no OKS sigmas for skeleton {skeleton_name!r}; known: "
                           f"{', '.join([*OKS_SIGMAS, 'coco17'])}")
    return OKS_SIGMAS[skeleton_name]


def coco17_index(skeleton) -> np.ndarray:
    """(17,) index into the skeleton's joints for each COCO keypoint, -1 where none is shared."""
    if skeleton.name not in COCO17_FROM:
        raise DatasetError(f"no COCO-17 mapping for skeleton {skeleton.name!r}")
    src = {c: skeleton.index(j) for j, c in COCO17_FROM[skeleton.name].items()}
    return np.array([src.get(c, -1) for c in COCO17_JOINTS])


def mask_path(seq_id: str, frame: int) -> str:
    """A rendered frame's visible-subject mask, relative to the benchmark root."""
    return f"sequences/{seq_id}/masks/{int(frame):06d}.png"


def mask_area(path: Path) -> int | None:
    """Pixel count of a visible-subject mask PNG (non-zero pixels); None when there is none."""
    if not path.is_file():
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(np.count_nonzero(np.asarray(im.convert("L"))))
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise DatasetError(f"{path}: unreadable mask PNG ({type(e).__name__}: {e})") from None


def keypoint_flags(arrays: dict) -> np.ndarray:
    """(T, J) int COCO visibility: 2 visible, 1 occluded in frame, 0 out of frame."""
    v = np.where(arrays["occluded"], 1, 2)
    return np.where(arrays["out_of_frame"], 0, v).astype(np.int64)


def occluded_by(arrays: dict) -> np.ndarray:
    """(T, J) object array: ``"body"``, ``"object"``, ``"other"`` for occluded joints, else None."""
    out = np.full(arrays["occluded"].shape, None, dtype=object)
    occ = arrays["occluded"] & ~arrays["out_of_frame"]
    out[occ] = "other"
    out[occ & arrays["occluded_by_body"]] = "body"
    out[occ & arrays["occluded_by_object"]] = "object"
    return out


def _bbox(xy: np.ndarray, flags: np.ndarray, width: int, height: int) -> list[float]:
    pts = xy[flags > 0]
    if len(pts) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    margin = np.maximum((hi - lo) * BBOX_MARGIN, BBOX_MIN_MARGIN)
    lo = np.maximum(lo - margin, 0.0)
    hi = np.minimum(hi + margin, [width, height])
    return [round(float(v), 2) for v in (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])]


def export_coco(bench_dir, out_json, split: str | None = None, levels=None, layout: str = "native",
                rendered_only: bool = False) -> dict:
    """Write a benchmark's 2D keypoints and visibility as a COCO keypoints JSON; returns it.

    Args:
        layout: ``"native"`` (the benchmark's joints) or ``"coco17"`` (module docstring).
        rendered_only: list only rendered frames (an error if there are none).
    """
    from ..dataset import open_benchmark

    if layout not in LAYOUTS:
        raise DatasetError(f"layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    bench = open_benchmark(bench_dir)
    entries = bench.select(split=split, levels=levels)
    if not entries:
        raise DatasetError(f"{bench_dir}: no sequences match split={split} levels={levels}")
    skeleton = bench.skeleton
    if layout == "coco17":
        index = coco17_index(skeleton)
        names, bones, sigmas = list(COCO17_JOINTS), [list(b) for b in COCO17_SKELETON], COCO17_SIGMAS
    else:
        index = np.arange(skeleton.num_joints)
        names, bones = list(skeleton.joint_names), [[p + 1, c + 1] for p, c in skeleton.bones]
        sigmas = oks_sigmas(skeleton.name)
    shared = index >= 0
    root = Path(bench_dir)
    images, annotations, skipped, mask_areas = [], [], 0, 0
    for e in entries:
        seq = bench.load(e)
        arrays = seq.arrays
        cam = bench.cameras[e.camera]
        flags0, by0 = keypoint_flags(arrays), occluded_by(arrays)
        xy0 = arrays["joints_2d"].astype(np.float64)
        flags = np.where(shared, flags0[:, index], 0)
        xy = np.where(shared[:, None], xy0[:, index], 0.0)
        by = np.where(shared, by0[:, index], None)
        rendered = seq.rendered
        for t in range(e.frames):
            if rendered_only and not rendered[t]:
                skipped += 1
                continue
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": frame_path(e.id, t) if rendered[t] else None,
                           "width": cam.width, "height": cam.height, "rendered": bool(rendered[t]),
                           "sequence": e.id, "frame": t, "subject": e.subject, "action": e.action,
                           "camera": e.camera, "level": e.target_level, "split": e.split})
            kp = np.concatenate([np.where(flags[t, :, None] > 0, xy[t], 0.0).round(3),
                                 flags[t, :, None]], axis=1)
            box = _bbox(xy0[t], flags0[t], cam.width, cam.height)
            area = mask_area(root / mask_path(e.id, t)) if rendered[t] else None
            mask_areas += area is not None
            annotations.append({
                "id": image_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "keypoints": [float(v) if i % 3 < 2 else int(v) for i, v in enumerate(kp.reshape(-1))],
                "num_keypoints": int((flags[t] > 0).sum()), "bbox": box,
                "area": round(box[2] * box[3], 2) if area is None else float(area),
                "area_source": "bbox" if area is None else "mask",
                "occluded_by": by[t].tolist(),
                "occluder_fraction": round(float(arrays["occluder_fraction"][t]), 6)})
    if not images:
        raise DatasetError(f"{bench_dir}: no rendered frames among the {skipped} selected; --rendered-only "
                           f"needs a benchmark rendered by the Blender backend (generate --backend blender)")
    note = (f" ({skipped} frames without a render left out)" if skipped else
            f" ({sum(not im['rendered'] for im in images)} without a render: file_name null)"
            if not all(im["rendered"] for im in images) else "")
    coco = {
        "info": {"description": f"occpose benchmark {bench.manifest.get('name', '')} (COCO keypoints)",
                 "format": bench.manifest["format"], "skeleton": skeleton.name, "layout": layout,
                 "split": split or "all", "levels": None if levels is None else [float(v) for v in levels],
                 "rendered_only": rendered_only, "mask_areas": mask_areas, "note": note},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": names,
                        "skeleton": bones, "kpt_oks_sigmas": list(sigmas)}],
    }
    atomic_write_text(out_json, json.dumps(coco, separators=(",", ":")) + "\n")
    return coco


def load_coco(path) -> dict:
    """Read and validate a COCO keypoints JSON (structure, ids, keypoint lengths and flags).

    Raises:
        DatasetError: naming the file and the offending field.
    """
    path = Path(path)
    coco = read_json_object(path)
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco.get(key), list):
            raise DatasetError(f"{path}: field {key!r} must be a list")
    cats = {}
    for i, c in enumerate(coco["categories"]):
        if not isinstance(c, dict) or "id" not in c or not isinstance(c.get("keypoints"), list):
            raise DatasetError(f"{path}: categories[{i}] needs 'id' and a 'keypoints' list")
        cats[c["id"]] = len(c["keypoints"])
    image_ids = set()
    for i, im in enumerate(coco["images"]):
        if not isinstance(im, dict) or not {"id", "file_name", "width", "height"} <= set(im):
            raise DatasetError(f"{path}: images[{i}] needs id, file_name, width and height")
        image_ids.add(im["id"])
    for i, a in enumerate(coco["annotations"]):
        where = f"{path}: annotations[{i}]"
        if not isinstance(a, dict):
            raise DatasetError(f"{where}: expected an object")
        for key in ("image_id", "category_id", "keypoints", "num_keypoints", "bbox"):
            if key not in a:
                raise DatasetError(f"{where}: missing field {key!r}")
        if a["image_id"] not in image_ids:
            raise DatasetError(f"{where}: image_id {a['image_id']} is not in 'images'")
        if a["category_id"] not in cats:
            raise DatasetError(f"{where}: category_id {a['category_id']} is not in 'categories'")
        kp = a["keypoints"]
        n = cats[a["category_id"]]
        if not isinstance(kp, list) or len(kp) != 3 * n:
            raise DatasetError(f"{where}: 'keypoints' must hold {3 * n} numbers (x, y, v per joint)")
        flags = kp[2::3]
        if any(v not in (0, 1, 2) for v in flags):
            raise DatasetError(f"{where}: keypoint flags must be 0, 1 or 2, got {sorted(set(flags))}")
        if a["num_keypoints"] != sum(v > 0 for v in flags):
            raise DatasetError(f"{where}: 'num_keypoints' {a['num_keypoints']} does not match the flags")
        if not isinstance(a["bbox"], list) or len(a["bbox"]) != 4:
            raise DatasetError(f"{where}: 'bbox' must be [x, y, w, h]")
    return coco
