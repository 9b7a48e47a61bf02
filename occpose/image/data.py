"""Rendered frames as training samples: person crops, labels in the crop camera, augmentation.

Only frames with a render are used: the Blender backend's ``rendered`` (T,) array marks them and
their PNGs lie at ``sequences/<id>/frames/NNNNNN.png`` (frame index, 6 digits). The manifest's
cameras are at render resolution, so ``joints_2d`` are rendered pixels.

A sample (:class:`CropDataset`) is the crop of one frame around the box of its projected joints
(:func:`occpose.image.crops.joint_box`; the true box also at test time, like the boxes that come
with Human3.6M), labelled in the crop camera frame (``Crop.rot``): root-relative joints (metres)
and the root's depth. Training samples are augmented from per-sample generators (so results
do not depend on worker count or order): ``default_rng([seed, epoch, index, 0])`` draws the
scale, shift and in-plane rotation of the crop camera, the horizontal flip (mirror x in the
crop frame and swap left/right joints; exact, since the crop's principal point is its centre)
and the colour jitter; a separate ``default_rng([seed, epoch, index, 1])`` draws the synthetic
occluders (the paster never sees labels). So runs that differ only in the occlusion probability
see exactly the same crops, flips and colours: the ablation changes nothing but the occluders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..camera import Camera
from ..dataset.manifest import frame_path
from ..errors import DatasetError, OccposeError
from .crops import Crop, joint_box, make_crop, warp_image

__all__ = ["SequenceFrames", "read_frame", "load_frames", "frame_refs",
           "CropDataset", "to_tensor", "MEAN", "STD"]

MEAN, STD = 0.5, 0.25  # pixel normalisation: (x / 255 - MEAN) / STD


@dataclass(eq=False)
class SequenceFrames:
    """What the image model needs of one sequence.

    Attributes:
        joints_3d_cam: (T, J, 3) float32 metres, camera frame.
        joints_2d: (T, J, 2) float32 rendered pixels.
        rendered: (T,) bool, frames with a PNG.
    """

    entry: object  # SequenceEntry
    camera: Camera
    joints_3d_cam: np.ndarray
    joints_2d: np.ndarray
    rendered: np.ndarray

    @property
    def id(self) -> str:
        return self.entry.id


def read_frame(root: str | Path, seq_id: str, t: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a rendered frame; DatasetError naming the file if missing or bad."""
    from PIL import Image, UnidentifiedImageError

    path = Path(root) / frame_path(seq_id, t)
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: rendered frame is missing (the arrays mark frame {t} as "
                           f"rendered); rerun the render to complete the benchmark") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DatasetError(f"{path}: unreadable rendered frame ({e})") from None


def load_frames(bench, entries) -> list[SequenceFrames]:
    """The arrays of ``entries`` that the image model uses (no images are read here)."""
    out = []
    for e in entries:
        seq = bench.load(e)
        out.append(SequenceFrames(e, bench.cameras[e.camera], seq.joints_3d_cam, seq.joints_2d,
                                  seq.rendered))
    return out


def frame_refs(seqs: list[SequenceFrames], stride: int = 1, limit: int | None = None) -> np.ndarray:
    """(N, 2) int64 (sequence index, frame) of rendered frames, every ``stride``-th per sequence.

    ``limit``: keep at most that many, evenly spaced over the list (deterministic).
    """
    refs = [(i, int(t)) for i, s in enumerate(seqs) for t in np.flatnonzero(s.rendered)[::stride]]
    refs = np.array(refs, dtype=np.int64).reshape(-1, 2)
    if limit is not None and len(refs) > limit:
        refs = refs[np.linspace(0, len(refs) - 1, limit).round().astype(int)]
    return refs


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(S, S, 3) uint8 -> (3, S, S) float32 normalised (numpy: no tiny multi-threaded torch ops
    in data-loading code)."""
    x = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) * np.float32(1 / (255 * STD))
    return torch.from_numpy(np.ascontiguousarray(x - np.float32(MEAN / STD)))


def _color_jitter(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    img = image.astype(np.float32)
    bright = 1 + rng.uniform(-amount, amount)
    contrast = 1 + rng.uniform(-amount, amount)
    gain = 1 + rng.uniform(-amount / 2, amount / 2, 3)
    mean = img.mean()
    img = ((img - mean) * contrast + mean) * bright * gain
    return np.clip(img, 0, 255).astype(np.uint8)


class CropDataset(torch.utils.data.Dataset):
    """Crops of rendered frames with crop-frame labels.

    Args:
        root: the benchmark directory (for the PNGs).
        seqs: sequences (:func:`load_frames`); refs: (N, 2) from :func:`frame_refs`.
        section: the :class:`~occpose.config.ImageSection` (crop size, box, augmentation).
        flip_perm: (J,) left/right permutation of the skeleton.
        train: augment (jitter, paster, flip, colour) when True.
        paster: an :class:`~occpose.image.paster.OcclusionPaster` (train only), or None.
        seed: base of the per-sample generators; :meth:`set_epoch` changes them per epoch.

    Items: ``image`` (3, S, S) float32; ``target`` (J, 3) float32 root-relative joints, crop
    frame, metres; ``root_depth`` () float32 metres; ``intrinsics`` (4,) float32 crop (fx, fy,
    cx, cy); ``rot`` (3, 3) float32 camera -> crop frame; ``index`` () int64; ``occluders``
    () int64 pasted occluders.
    """

    def __init__(self, root, seqs: list[SequenceFrames], refs: np.ndarray, section,
                 flip_perm: np.ndarray, train: bool = False, paster=None, seed: int = 0) -> None:
        self.root, self.seqs, self.refs = Path(root), seqs, np.asarray(refs, np.int64)
        self.sec, self.flip_perm, self.train = section, np.asarray(flip_perm), train
        self.paster, self.seed, self.epoch = paster, int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.refs)

    def crop_of(self, index: int, rng: np.random.Generator | None = None) -> Crop:
        """The crop camera of sample ``index`` (jittered when ``rng`` is given)."""
        si, t = self.refs[index]
        s, sec = self.seqs[si], self.sec
        box = joint_box(s.joints_2d[t], sec.box_margin)
        if rng is None:
            return make_crop(s.camera, box, sec.crop_size, sec.box_fill)
        zoom = float(np.exp(rng.uniform(np.log(1 - sec.scale_jitter), np.log(1 + sec.scale_jitter))))
        shift = tuple(rng.uniform(-sec.shift_jitter, sec.shift_jitter, 2))
        roll = float(np.deg2rad(rng.uniform(-sec.rotation_deg, sec.rotation_deg)))
        return make_crop(s.camera, box, sec.crop_size, sec.box_fill, zoom, shift, roll)

    def __getitem__(self, index: int) -> dict:
        si, t = (int(v) for v in self.refs[index])
        s, sec = self.seqs[si], self.sec
        rng = np.random.default_rng([self.seed, self.epoch, index, 0]) if self.train else None
        crop = self.crop_of(index, rng)
        image = warp_image(read_frame(self.root, s.id, t), crop)
        joints = crop.to_crop_frame(s.joints_3d_cam[t])                             # (J, 3)
        root_depth = joints[0, 2]
        target = joints - joints[:1]
        n_occ = 0
        if rng is not None:
            if self.paster is not None:
                pasted = self.paster(image, np.random.default_rng([self.seed, self.epoch, index, 1]))
                image, n_occ = pasted.image, pasted.count
            if rng.random() < sec.flip_prob:
                image = image[:, ::-1]
                target = target[self.flip_perm] * np.array([-1.0, 1.0, 1.0])
            if sec.color_jitter > 0:
                image = _color_jitter(image, sec.color_jitter, rng)
        return {"image": to_tensor(image),
                "target": torch.from_numpy(target.astype(np.float32)),
                "root_depth": torch.tensor(root_depth, dtype=torch.float32),
                "intrinsics": torch.from_numpy(crop.intrinsics),
                "rot": torch.from_numpy(crop.rot.astype(np.float32)),
                "index": torch.tensor(index, dtype=torch.int64),
                "occluders": torch.tensor(n_occ, dtype=torch.int64)}


def require_frames(refs: np.ndarray, what: str, root) -> None:
    if len(refs) == 0:
        raise OccposeError(f"{root}: no rendered frames in the {what}; the image model needs a "
                           f"benchmark rendered by the Blender backend (benchmark/render_bench.py)")
