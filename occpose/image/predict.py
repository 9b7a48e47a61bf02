"""Running a trained image model on every sequence of a benchmark.

For each rendered frame: the crop around the true box of the projected joints (as in training,
without jitter), the network on the crop and, with ``flip`` (the default, as in the paper), on
its mirror image; the mirror's prediction is un-flipped (``u -> S - u``, left/right swapped) and
averaged with the direct one (2D, relative depth and root depth). Then

* 2D: crop pixels -> original rendered pixels (:meth:`occpose.image.crops.Crop.to_image`);
* 3D: back-projection with the crop intrinsics at the predicted root depth (``root_depth =
  "predicted"``) or the true one (``"truth"``), rotation from the crop frame to the camera frame,
  root joint subtracted.

Frames without a render get values by linear interpolation over time between the nearest
predicted frames (held constant before the first and after the last one), so every sequence
has one value per frame, as the harness's ``--keypoints2d detector:RUN`` expects. Written into
the run directory (atomically, one file per sequence)::

    keypoints2d/<id>.npy       (T, J, 2) float32 pixels of the rendered image
    predictions3d/<id>.npy     (T, J, 3) float32 root-relative joints, camera frame, metres
    predicted_frames/<id>.npy  (T,) bool, frames predicted from an image (others interpolated)
    predict.json               root-depth mode, flip, epoch, sequences, sequences skipped

A sequence without any rendered frame cannot be predicted: it is skipped and listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..dataset.atomic import atomic_path, atomic_write_text
from .crops import crop_to_image
from .data import CropDataset, SequenceFrames, frame_refs, load_frames
from .settings import ImageSection, section_from_dict
from .train import (CHECKPOINT, SETTINGS, build_model, load_checkpoint, read_run_settings,
                    resolve_device)
from .volumetric import PoseNet, back_project, flip_coords

__all__ = ["LoadedImageRun", "load_image_run", "predict_crops", "predict_sequence",
           "SequencePrediction", "interpolate_frames", "predict_benchmark", "PREDICT_FILE"]

PREDICT_FILE = "predict.json"


@dataclass
class LoadedImageRun:
    """A trained image model ready for inference."""

    dir: Path
    section: ImageSection
    model: PoseNet
    device: torch.device
    epoch: int
    flip_perm: np.ndarray


def load_image_run(run_dir: str | Path, device: str | None = None) -> LoadedImageRun:
    """Load a run's settings and last checkpoint; the model is in eval mode on ``device``."""
    from ..skeleton import get_skeleton

    run_dir = Path(run_dir)
    data = read_run_settings(run_dir)
    sec = section_from_dict(data["image"], str(run_dir / SETTINGS))
    dev = resolve_device(device or sec.device)
    ckpt = load_checkpoint(run_dir / CHECKPOINT, map_location=dev)
    model = build_model(sec, int(data["num_joints"])).to(dev)
    model.load_state_dict(ckpt["model"])
    model.eval()
    perm = get_skeleton(data["skeleton"]).flip_permutation()
    return LoadedImageRun(run_dir, sec, model, dev, int(ckpt["epoch"]), perm)


@torch.no_grad()
def predict_crops(model: PoseNet, images: torch.Tensor, flip_perm=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(uvz (B, J, 3), root_norm (B,)) for a batch of crops, flip-averaged when ``flip_perm``.

    See :class:`~occpose.image.volumetric.PoseOutput` for the units.
    """
    out = model(images)
    if flip_perm is None:
        return out.uvz.float(), out.root_norm.float()
    mirrored = model(torch.flip(images, dims=[-1]))
    uvz_m = flip_coords(mirrored.uvz.float(), images.shape[-1], torch.as_tensor(flip_perm))
    return (out.uvz.float() + uvz_m) / 2, (out.root_norm.float() + mirrored.root_norm.float()) / 2


@dataclass
class SequencePrediction:
    """One sequence's predictions; frames without a render are interpolated."""

    keypoints2d: np.ndarray   # (T, J, 2) float32 pixels
    poses3d: np.ndarray       # (T, J, 3) float32 root-relative, camera frame, metres
    predicted: np.ndarray     # (T,) bool


def interpolate_frames(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill frames where ``known`` is False by linear interpolation over time.

    Args:
        values: (T, ...) with meaningful entries where ``known``; known: (T,) bool, any True.
    Returns:
        (T, ...) float32; before the first / after the last known frame the edge value is held.
    """
    known = np.asarray(known, bool)
    t_known = np.flatnonzero(known)
    flat = np.asarray(values, np.float64).reshape(len(known), -1)
    out = np.empty_like(flat)
    for c in range(flat.shape[1]):
        out[:, c] = np.interp(np.arange(len(known)), t_known, flat[t_known, c])
    return out.reshape(np.shape(values)).astype(np.float32)


def predict_sequence(run: LoadedImageRun, root, seq: SequenceFrames, root_depth: str = "predicted",
                     flip: bool = True, batch_size: int = 64, workers: int = 0) -> SequencePrediction | None:
    """Predict every rendered frame of ``seq`` (module docstring); None without rendered frames."""
    refs = frame_refs([seq])
    if len(refs) == 0:
        return None
    sec = run.section   # train=False: no flips, jitter or occluders
    ds = CropDataset(root, [seq], refs, sec, run.flip_perm, train=False)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, num_workers=workers)
    n_t, n_j = seq.joints_2d.shape[:2]
    kp, poses = np.zeros((n_t, n_j, 2)), np.zeros((n_t, n_j, 3))
    for batch in loader:
        images = batch["image"].to(run.device)
        uvz, root_norm = predict_crops(run.model, images, run.flip_perm if flip else None)
        uvz, intr = uvz.cpu().double(), batch["intrinsics"].double()
        if root_depth == "truth":
            z_root = batch["root_depth"].double()
        else:
            z_root = root_norm.cpu().double() * intr[:, 0] / sec.crop_size
        pose_crop = back_project(uvz, z_root, intr)                                   # (B, J, 3)
        rot = batch["rot"].double()
        pose_cam = torch.einsum("bji,bkj->bki", rot, pose_crop).numpy()               # R^T p
        t = refs[batch["index"].numpy(), 1]
        poses[t] = pose_cam - pose_cam[:, :1]
        kp[t] = crop_to_image(uvz[..., :2].numpy(), rot.numpy(), intr.numpy(), seq.camera)
    known = seq.rendered.copy()
    return SequencePrediction(interpolate_frames(kp, known), interpolate_frames(poses, known), known)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)


def predict_benchmark(data, run_dir: str | Path, device: str | None = None,
                      root_depth: str | None = None, flip: bool | None = None,
                      batch_size: int = 64, progress: bool = True) -> dict:
    """Predict every sequence of a benchmark (all splits) and write the files of the module
    docstring into ``run_dir``; returns the ``predict.json`` summary."""
    from tqdm import tqdm

    from ..dataset import open_benchmark

    bench = open_benchmark(data) if isinstance(data, (str, Path)) else data
    run = load_image_run(run_dir, device)
    root_depth = root_depth or run.section.root_depth
    flip = run.section.flip_test if flip is None else flip
    if root_depth not in ("predicted", "truth"):
        from ..errors import OccposeError
        raise OccposeError(f"--root-depth {root_depth!r}: expected predicted or truth")
    run_dir = Path(run_dir)
    done, skipped = [], []
    for entry in tqdm(bench.entries, desc="image-predict", unit="seq", disable=not progress):
        (seq,) = load_frames(bench, [entry])
        pred = predict_sequence(run, bench.root, seq, root_depth, flip, batch_size, run.section.workers)
        if pred is None:
            skipped.append(entry.id)
            continue
        _save_npy(run_dir / "keypoints2d" / f"{entry.id}.npy", pred.keypoints2d)
        _save_npy(run_dir / "predictions3d" / f"{entry.id}.npy", pred.poses3d)
        _save_npy(run_dir / "predicted_frames" / f"{entry.id}.npy", pred.predicted)
        done.append(entry.id)
    summary = {"format": "occpose-image-predictions/1", "data": str(Path(bench.root).resolve()),
               "config_sha256": bench.manifest["config_sha256"], "epoch": run.epoch,
               "root_depth": root_depth, "flip": bool(flip), "sequences": done, "skipped": skipped,
               "interpolation": "linear over time between predicted frames, edges held"}
    atomic_write_text(run_dir / PREDICT_FILE, json.dumps(summary, indent=1) + "\n")
    return summary
