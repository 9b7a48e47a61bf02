"""Building models from run settings, loading trained runs, and whole-sequence inference.

Training the plain TCN (``tcn``, ``tcn-aug``) uses VideoPose3D's strided single-frame model;
inference always uses the dilated model with the same weights on the whole sequence, padded at
both ends by replicating the edge frames (``model.input_padding()``) so that there is one
output per input frame. Test-time flip averaging (TCN models) predicts the sequence and its
mirror image and averages the prediction with the un-mirrored prediction of the mirror.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import OccposeError
from ..models import build_model
from ..skeleton import Skeleton
from .checkpoint import CHECKPOINT_FILE, load_checkpoint
from .data import Prepared, flip_labels, flip_poses, skeleton_for
from .device import autocast
from .settings import RunSettings, read_settings

__all__ = ["build_train_model", "build_eval_model", "LoadedRun", "load_run", "predict_sequence"]


def _kwargs(settings: RunSettings, num_joints: int) -> dict:
    return dict(num_joints=num_joints, filter_widths=tuple(settings.filter_widths),
                channels=settings.channels, dropout=settings.dropout, causal=settings.causal,
                **settings.model_kwargs)


def build_eval_model(settings: RunSettings, num_joints: int, single_frame: bool = False) -> nn.Module:
    """The model that runs on whole sequences (dilated TCN, occlusion-aware TCN or linear)."""
    try:
        return build_model(settings.model, **_kwargs(settings, num_joints), single_frame=single_frame)
    except ValueError as e:
        raise OccposeError(str(e)) from None


def build_train_model(settings: RunSettings, num_joints: int) -> nn.Module:
    """The model trained on receptive-field windows: the strided single-frame twin of the TCN
    (``tcn``, ``tcn-aug``) or of the occlusion-aware TCNs, with the evaluation model's
    ``state_dict``; ``linear`` as is."""
    return build_eval_model(settings, num_joints, single_frame=True)


def padding_of(model: nn.Module) -> tuple[int, int]:
    """(left, right) edge frames to replicate; (0, 0) for single-frame models."""
    return model.input_padding() if hasattr(model, "input_padding") else (0, 0)


@dataclass
class LoadedRun:
    """A trained run ready for inference.

    Attributes:
        dir: the run directory.
        settings: its :class:`RunSettings`.
        model: evaluation model in eval mode, on the requested device.
        epoch: epochs trained (may be fewer than ``settings.epochs`` if unfinished).
        metrics: per-epoch training metrics.
        skeleton: joint layout used for flips.
    """

    dir: Path
    settings: RunSettings
    model: nn.Module
    epoch: int
    metrics: list
    skeleton: Skeleton

    @property
    def complete(self) -> bool:
        return self.epoch >= self.settings.epochs


def load_run(run_dir: str | Path, device: torch.device, num_joints: int | None = None) -> LoadedRun:
    """Rebuild a run's evaluation model from ``settings.json`` and ``checkpoint.pt``."""
    run_dir = Path(run_dir)
    settings, _ = read_settings(run_dir)
    settings.validate()
    ckpt = load_checkpoint(run_dir / CHECKPOINT_FILE)
    state = ckpt["model"]
    skeleton = skeleton_for(num_joints or 0, settings.skeleton)
    model = build_eval_model(settings, skeleton.num_joints)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise OccposeError(f"{run_dir / CHECKPOINT_FILE}: weights do not fit the model in "
                           f"settings.json ({str(e).splitlines()[0]})") from None
    model.to(device).eval()
    return LoadedRun(run_dir, settings, model, int(ckpt["epoch"]), list(ckpt.get("metrics", [])),
                     skeleton)


def _pad(x: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """Replicate the first/last frame of (B, T, ...) ``left``/``right`` times."""
    if left == 0 and right == 0:
        return x
    return torch.cat([x[:, :1].expand(-1, left, *x.shape[2:]), x,
                      x[:, -1:].expand(-1, right, *x.shape[2:])], dim=1)


@torch.no_grad()
def predict_sequence(model: nn.Module, prepared: Prepared, skeleton: Skeleton,
                     device: torch.device, flip: bool = False) -> np.ndarray:
    """3D poses of one whole sequence.

    Args:
        model: an evaluation model in eval mode on ``device``.
        prepared: the sequence's inputs (and occlusion vectors for occlusion-aware models).
        skeleton: for the left/right swap of flip averaging.
        flip: average with the un-flipped prediction of the flipped input.
    Returns:
        (T, J, 3) float32 metres, root-relative, one pose per input frame.
    """
    kp = torch.from_numpy(prepared.keypoints)[None]                            # (1, T, J, 2)
    occ = torch.from_numpy(prepared.occlusion)[None] if getattr(model, "uses_occlusion", False) else None
    if flip:
        kp = torch.cat([kp, flip_poses(kp, skeleton)])                          # (2, T, J, 2)
        if occ is not None:
            occ = torch.cat([occ, flip_labels(occ, skeleton)])
    left, right = padding_of(model)
    kp = _pad(kp, left, right).to(device)
    with autocast(device):
        if occ is not None:
            out = model(kp, _pad(occ, left, right).to(device)).pose
        else:
            out = model(kp)
    out = out.float().cpu()                                                     # (B, T, J, 3)
    if flip:
        out = (out[0] + flip_poses(out[1], skeleton)) / 2
    else:
        out = out[0]
    return out.numpy()
