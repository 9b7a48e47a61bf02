"""Training the image model on a benchmark's rendered train-split frames.

One run directory holds::

    settings.json     format, benchmark path and config hash, the resolved [image] section
    checkpoint.pt     replaced atomically after every epoch (dict of tensors and plain types:
                      ``torch.load(weights_only=True)`` reads it): epoch, model, optimizer,
                      metrics, torch RNG state, settings
    metrics.jsonl     one JSON object per epoch (loss, train/val MPJPE in mm, images/s, lr)

Loss (Sarandi et al.): L1 between predicted and true root-relative joints in the crop camera
frame (metres; the crop frame is a rotation of the camera frame), the prediction back-projected
with the true root depth, plus ``root_weight`` x L1 of the root-depth head (metres). Adam with
the learning rate ``lr x lr_decay ** epoch``. Rerunning resumes after the last completed epoch;
a run with other training settings is refused unless ``overwrite``. On CPU, the same seed gives
the same weights: every sample's augmentation draws from its own seeded generator, the shuffle
from a per-epoch generator.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..dataset.atomic import atomic_write_text
from ..dataset.jsonio import read_json_object
from ..errors import OccposeError
from ..harness import checkpoint as harness_checkpoint
from ..harness.device import autocast, flush_denormal, resolve_device
from .data import CropDataset, frame_refs, load_frames, require_frames
from .settings import RUNTIME_KEYS, ImageSection, section_dict
from .volumetric import PoseNet, back_project

__all__ = ["ImageTrainResult", "build_model", "make_paster", "train_image_model", "resolve_device",
           "read_run_settings", "load_checkpoint", "image_loss", "CHECKPOINT", "SETTINGS", "METRICS"]

RUN_FORMAT = "occpose-image-run/1"
CHECKPOINT_FORMAT = "occpose-image-checkpoint/1"
CHECKPOINT, SETTINGS, METRICS = "checkpoint.pt", "settings.json", "metrics.jsonl"


@dataclass
class ImageTrainResult:
    """What :func:`train_image_model` did: epochs completed, per-epoch metrics, where."""

    run_dir: Path
    epochs: int
    metrics: list[dict]
    device: str
    resumed_from: int



def build_model(sec: ImageSection, num_joints: int) -> PoseNet:
    return PoseNet(num_joints, sec.backbone_depth, sec.backbone_width, sec.output_stride,
                   sec.depth_bins, sec.depth_range, sec.root_bins, tuple(sec.root_range))


def make_paster(sec: ImageSection, bench=None, entries=(), seed: int = 0):
    """The :class:`~occpose.image.paster.OcclusionPaster` of a section (None when p = 0)."""
    from .occluder_sources import FolderOccluders, ProceduralOccluders, RenderedOccluders
    from .paster import OcclusionPaster

    if sec.p_occlude == 0:
        return None
    sources = []
    for name in sec.occluder_sources:
        if name == "procedural":
            sources.append(ProceduralOccluders())
        elif name == "folder":
            sources.append(FolderOccluders(sec.occluder_folder))
        elif name == "rendered":
            if bench is None:
                raise OccposeError("the 'rendered' occluder source needs a benchmark")
            occluded = [e for e in entries if e.target_level > 0]
            sources.append(RenderedOccluders.from_benchmark(
                bench, occluded, np.random.default_rng([seed, 7])))
    return OcclusionPaster(sources, sec.p_occlude, tuple(sec.occluder_count), tuple(sec.occluder_scale))


def image_loss(model_out, batch: dict, sec: ImageSection) -> tuple[torch.Tensor, torch.Tensor]:
    """(total loss, (B, J, 3) predicted root-relative joints in metres, crop frame)."""
    intr = batch["intrinsics"]
    pose = back_project(model_out.uvz.float(), batch["root_depth"], intr)          # (B, J, 3)
    rel = pose - pose[:, :1]
    loss = (rel - batch["target"]).abs().mean()
    if sec.root_weight > 0:
        root = model_out.root_depth(intr, sec.crop_size)
        loss = loss + sec.root_weight * (root - batch["root_depth"]).abs().mean()
    return loss, rel


def read_run_settings(run_dir: str | Path) -> dict:
    return read_json_object(Path(run_dir) / SETTINGS,
                            f"not found; is {run_dir} an image-model run (occpose-bench "
                            f"image-train --out {run_dir})?", OccposeError, RUN_FORMAT)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Read an image-model checkpoint (``weights_only=True``); OccposeError naming the file."""
    return harness_checkpoint.load_checkpoint(path, map_location, fmt=CHECKPOINT_FORMAT)


def _prepare_run(out: Path, settings: dict, overwrite: bool) -> None:
    """Write settings.json, or check it against an existing run (runtime keys may differ)."""
    path = out / SETTINGS
    if path.is_file():
        old = read_run_settings(out)
        strip = lambda d: {k: v for k, v in d["image"].items() if k not in RUNTIME_KEYS}  # noqa: E731
        same = strip(old) == strip(settings) and old.get("config_sha256") == settings["config_sha256"]
        if not same:
            if not overwrite:
                raise OccposeError(f"{out}: holds a run with other settings or another benchmark; "
                                   f"use another --out or pass --overwrite to replace it")
            for name in (CHECKPOINT, METRICS):
                (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(settings, indent=1) + "\n")


def _loader(ds, batch_size: int, order: list[int] | None, workers: int, drop_last: bool):
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, sampler=order, shuffle=False,
                                       num_workers=workers, drop_last=drop_last,
                                       persistent_workers=False, pin_memory=False)


@torch.no_grad()
def _validate(model, loader, sec: ImageSection, device) -> float:
    model.eval()
    err, n = 0.0, 0
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(batch["image"])
        _, rel = image_loss(out, batch, sec)
        err += float(torch.linalg.vector_norm(rel - batch["target"], dim=-1).mean(-1).sum())
        n += len(rel)
    return 1000.0 * err / max(n, 1)


def train_image_model(data, out: str | Path, sec: ImageSection, device: str | None = None,
                      overwrite: bool = False, progress: bool = True,
                      max_steps: int | None = None) -> ImageTrainResult:
    """Train (or resume) the image model on the rendered train-split frames of ``data``.

    Args:
        data: a benchmark directory or an opened :class:`~occpose.dataset.Benchmark`.
        out: the run directory.
        sec: resolved settings (:func:`occpose.image.settings.image_section`).
        device: overrides ``sec.device``.
        max_steps: stop each epoch after this many steps (tests and benchmarks).
    """
    from ..dataset import open_benchmark

    bench = open_benchmark(data) if isinstance(data, (str, Path)) else data
    out = Path(out)
    dev = resolve_device(device or sec.device)
    if device:
        sec = replace(sec, device=device)
    levels = sec.train_levels or None
    train_entries = bench.select(split="train", levels=levels)
    train_seqs = load_frames(bench, train_entries)
    train_refs = frame_refs(train_seqs, sec.frame_stride)
    require_frames(train_refs, "train split" + (f" at levels {levels}" if levels else ""), bench.root)
    val_seqs = load_frames(bench, bench.select(split="test")) if sec.val_frames else []
    val_refs = frame_refs(val_seqs, 1, sec.val_frames) if val_seqs else np.zeros((0, 2), np.int64)
    settings = {"format": RUN_FORMAT, "data": str(Path(bench.root).resolve()),
                "config_sha256": bench.manifest["config_sha256"], "skeleton": bench.skeleton.name,
                "num_joints": bench.skeleton.num_joints, "image": section_dict(sec)}
    _prepare_run(out, settings, overwrite)

    torch.manual_seed(sec.seed)
    model = build_model(sec, bench.skeleton.num_joints).to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=sec.lr, weight_decay=sec.weight_decay)
    metrics, start = [], 0
    if (out / CHECKPOINT).is_file():
        ckpt = load_checkpoint(out / CHECKPOINT, map_location=dev)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        metrics, start = list(ckpt["metrics"]), int(ckpt["epoch"])
        torch.set_rng_state(ckpt["rng"])
    perm = bench.skeleton.flip_permutation()
    # Cut-outs may come from any train sequence (also levels excluded by train_levels): they
    # lend occluder appearance only, never poses or labels.
    paster = make_paster(sec, bench, bench.select(split="train"), sec.seed) if start < sec.epochs else None
    train_ds = CropDataset(bench.root, train_seqs, train_refs, sec, perm, True, paster, sec.seed)
    val_ds = CropDataset(bench.root, val_seqs, val_refs, sec, perm, False)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True

    with flush_denormal():
        for epoch in range(start, sec.epochs):
            metrics.append(_epoch(model, opt, train_ds, val_ds, sec, epoch, dev, out, progress,
                                  max_steps))
            _save(out, model, opt, epoch + 1, metrics, settings)
    return ImageTrainResult(out, len(metrics), metrics, str(dev), start)


def _epoch(model, opt, train_ds, val_ds, sec: ImageSection, epoch: int, dev, out: Path,
           progress: bool, max_steps: int | None) -> dict:
    """Train one epoch (and validate); returns its metrics."""
    lr = sec.lr * sec.lr_decay ** epoch
    for g in opt.param_groups:
        g["lr"] = lr
    train_ds.set_epoch(epoch)
    shuffle = torch.Generator().manual_seed(sec.seed * 100003 + epoch)
    order = torch.randperm(len(train_ds), generator=shuffle).tolist()
    loader = _loader(train_ds, sec.batch_size, order, sec.workers, len(order) > sec.batch_size)
    steps = len(loader) if max_steps is None else min(len(loader), max_steps)
    bar = _bar(steps, f"epoch {epoch + 1}/{sec.epochs}", progress)
    model.train()
    t0, seen, loss_sum, err_sum = time.perf_counter(), 0, 0.0, 0.0
    for step, batch in enumerate(loader):
        if step >= steps:
            break
        loss, err = _step(model, opt, batch, sec, dev)
        seen += len(batch["image"])
        loss_sum += loss * len(batch["image"])
        err_sum += err
        if not math.isfinite(loss_sum):
            raise OccposeError(f"{out}: training diverged (loss {loss}) in epoch {epoch + 1}; "
                               f"lower --lr")
        bar.update(1)
        bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
    bar.close()
    dt = time.perf_counter() - t0
    m = {"epoch": epoch + 1, "lr": lr, "loss": loss_sum / max(seen, 1),
         "train_mpjpe_mm": 1000.0 * err_sum / max(seen, 1), "images": seen,
         "images_per_s": seen / max(dt, 1e-9), "seconds": dt}
    if len(val_ds):
        val_loader = _loader(val_ds, sec.batch_size, None, sec.workers, False)
        m["val_mpjpe_mm"] = _validate(model, val_loader, sec, dev)
    return m


def _step(model, opt, batch: dict, sec: ImageSection, dev) -> tuple[float, float]:
    """One Adam step; returns (loss, summed per-sample MPJPE in metres)."""
    batch = {k: v.to(dev, non_blocking=True) for k, v in batch.items()}
    if dev.type == "cuda":
        batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
    with autocast(dev):
        out = model(batch["image"])
    loss, rel = image_loss(out, batch, sec)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    err = torch.linalg.vector_norm(rel.detach() - batch["target"], dim=-1).mean(-1).sum()
    return float(loss.detach()), float(err)


def _save(out: Path, model, opt, epoch: int, metrics: list[dict], settings: dict) -> None:
    state = {"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
             "metrics": metrics, "rng": torch.get_rng_state(), "settings": json.dumps(settings)}
    harness_checkpoint.save_checkpoint(out / CHECKPOINT, state, fmt=CHECKPOINT_FORMAT)
    harness_checkpoint.write_metrics_log(out / METRICS, metrics)


def _bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="batch", disable=not enabled, leave=False)
