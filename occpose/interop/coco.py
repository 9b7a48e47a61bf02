"""COCO keypoints export of a benchmark, and a validating loader.

One COCO image per frame per sequence, one annotation (the subject) per image:

* image ``file_name`` = ``sequences/<id>/frames/NNNNNN.png`` (0-based frame number, relative to
  the benchmark root), ``width``/``height`` from the camera, ``rendered`` true when the Blender
  backend rendered that frame (its ``rendered`` array) -- else the same path with
  ``rendered: false``; plus ``sequence``, ``frame``, ``subject``, ``action``, ``camera``,
  ``level``, ``split``.
* ``keypoints`` [x, y, v] * J in pixels (occpose's image frame, unchanged): v = 2 visible,
  v = 1 occluded (in frame, labelled, ray-cast hidden), v = 0 out of frame with x = y = 0;
  ``num_keypoints`` = count of v > 0; ``bbox`` [x, y, w, h] around the in-frame joints with a
  15 % margin per side (at least 10 px), clipped to the image; ``area`` = bbox w * h (there is no
  segmentation); ``iscrowd`` 0; custom ``occluded_by`` per joint (``"body"``, ``"object"``,
  ``"other"`` when occluded, else null) and ``occluder_fraction`` of the frame.
* one category ``person`` with the skeleton's joint names and 1-based bone pairs.
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


def export_coco(bench_dir, out_json, split: str | None = None, levels=None) -> dict:
    """Write a benchmark's 2D keypoints and visibility as a COCO keypoints JSON; returns it."""
    from ..dataset import open_benchmark

    bench = open_benchmark(bench_dir)
    entries = bench.select(split=split, levels=levels)
    if not entries:
        raise DatasetError(f"{bench_dir}: no sequences match split={split} levels={levels}")
    skeleton = bench.skeleton
    images, annotations = [], []
    for e in entries:
        seq = bench.load(e)
        arrays = seq.arrays
        cam = bench.cameras[e.camera]
        flags, by = keypoint_flags(arrays), occluded_by(arrays)
        xy = arrays["joints_2d"].astype(np.float64)
        rendered = seq.rendered
        for t in range(e.frames):
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": frame_path(e.id, t), "width": cam.width,
                           "height": cam.height, "rendered": bool(rendered[t]), "sequence": e.id,
                           "frame": t, "subject": e.subject, "action": e.action, "camera": e.camera,
                           "level": e.target_level, "split": e.split})
            kp = np.concatenate([np.where(flags[t, :, None] > 0, xy[t], 0.0).round(3),
                                 flags[t, :, None]], axis=1)
            box = _bbox(xy[t], flags[t], cam.width, cam.height)
            annotations.append({
                "id": image_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "keypoints": [float(v) if i % 3 < 2 else int(v) for i, v in enumerate(kp.reshape(-1))],
                "num_keypoints": int((flags[t] > 0).sum()), "bbox": box,
                "area": round(box[2] * box[3], 2), "occluded_by": by[t].tolist(),
                "occluder_fraction": round(float(arrays["occluder_fraction"][t]), 6)})
    coco = {
        "info": {"description": f"occpose benchmark {bench.manifest.get('name', '')} (COCO keypoints)",
                 "format": bench.manifest["format"], "skeleton": skeleton.name,
                 "split": split or "all", "levels": None if levels is None else [float(v) for v in levels]},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": list(skeleton.joint_names),
                        "skeleton": [[p + 1, c + 1] for p, c in skeleton.bones]}],
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
