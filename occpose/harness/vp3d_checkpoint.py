"""Published VideoPose3D checkpoints as evaluable runs (``evaluate --videopose3d CKPT``).

VideoPose3D's ``run.py`` saves ``torch.save({"epoch", "lr", "random_state", "optimizer",
"model_pos", "model_traj", "random_state_semi"})``; ``model_pos`` is the state dict of its
``TemporalModel``/``TemporalModelOptimized1f``, whose keys, shapes and outputs occpose's TCN
shares (:mod:`occpose.models.tcn`). Only ``model_pos`` is used.

Loading is ``torch.load(..., weights_only=True)``. ``random_state`` is a pickled
``numpy.random.RandomState`` (the batch generator's), which ``weights_only`` refuses by default.
occpose lists the globals a checkpoint needs *without* unpickling it
(``torch.serialization.get_unsafe_globals_in_checkpoint``) and allows exactly those a
``RandomState`` is rebuilt from -- numpy's RandomState and bit-generator constructors (which
only look names up in numpy's table of bit generators), ``ndarray``, ``dtype`` and numpy's array
reconstructor -- and nothing else. A checkpoint that needs any other global (an arbitrary object,
code) is refused, naming the global, before anything is unpickled. The random state itself is
discarded.

The architecture is not stored in the checkpoint: ``--architecture`` (filter widths),
``--channels`` and ``--causal`` must be those it was trained with, as for VideoPose3D's
``run.py``. Every ``model_pos`` tensor is compared with the model those flags build; the first
layer whose shape differs (or that one side lacks) is named.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

from ..errors import OccposeError
from .data import skeleton_for
from .inference import LoadedRun, build_eval_model
from .settings import RunSettings

__all__ = ["RANDOM_STATE_GLOBALS", "read_videopose3d_checkpoint", "load_videopose3d_run"]

# Globals a pickled numpy.random.RandomState needs (numpy 1.x and 2.x spellings).
RANDOM_STATE_GLOBALS = (
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937",
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.ndarray", "numpy.dtype", "numpy.dtypes.UInt32DType", "numpy.dtypes.Int64DType",
)


def _resolve(name: str):
    import importlib

    module, _, attr = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


def read_videopose3d_checkpoint(path: str | Path, with_epoch: bool = False):
    """The ``model_pos`` state dict of a VideoPose3D checkpoint (module docstring); with
    ``with_epoch`` also its ``epoch`` (0 when absent or not an integer)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise OccposeError(f"{path}: checkpoint not found")
    with open(path, "rb") as f:
        head = f.read(2)
    if zipfile.is_zipfile(path):
        try:
            needed = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception as e:                                      # noqa: BLE001 (any parse failure)
            raise OccposeError(f"{path}: unreadable checkpoint ({type(e).__name__}: {e})") from None
        other = [g for g in needed if g not in RANDOM_STATE_GLOBALS]
        if other:
            raise OccposeError(f"{path}: holds objects occpose does not load "
                               f"({', '.join(sorted(other)[:3])}{' …' if len(other) > 3 else ''}); "
                               f"expected VideoPose3D's checkpoint dict of tensors and plain values")
    elif head != b"\x80\x02":                                       # legacy torch.save: pickle protocol 2
        raise OccposeError(f"{path}: not a torch checkpoint (expected a file written by torch.save)")
    # The RandomState globals and the numpy types its BUILD step uses; the weights-only
    # unpickler refuses everything else (legacy files are checked by it alone).
    allowed = [obj for obj in (_resolve(g) for g in RANDOM_STATE_GLOBALS) if obj is not None]
    try:
        with torch.serialization.safe_globals(allowed):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError) as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        why = next((ln for ln in lines if "but got" in ln or "nsupported global" in ln.lower()), None)
        if why:
            raise OccposeError(f"{path}: holds objects occpose does not load ({why[:160]}); "
                               f"expected VideoPose3D's checkpoint dict of tensors and plain "
                               f"values") from None
        raise OccposeError(f"{path}: unreadable checkpoint ({lines[0] if lines else type(e).__name__})") from None
    if not isinstance(ckpt, dict) or "model_pos" not in ckpt:
        keys = ", ".join(map(str, list(ckpt)[:6])) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise OccposeError(f"{path}: key 'model_pos' missing (found {keys}); expected VideoPose3D's "
                           f"checkpoint dict with epoch, lr, random_state, optimizer, model_pos")
    state = ckpt["model_pos"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise OccposeError(f"{path}: key 'model_pos' is not a state dict of tensors")
    if with_epoch:
        epoch = ckpt.get("epoch")
        return state, epoch if isinstance(epoch, int) and epoch >= 0 else 0
    return state


def _check_shapes(path: Path, state: dict, model, flags: str) -> None:
    want = model.state_dict()
    for k, v in want.items():
        if k not in state:
            raise OccposeError(f"{path}: model_pos lacks layer {k!r}, which {flags} has; the "
                               f"checkpoint was trained with another --architecture")
        if tuple(state[k].shape) != tuple(v.shape):
            raise OccposeError(f"{path}: model_pos[{k!r}] has shape {tuple(state[k].shape)}, "
                               f"{flags} expects {tuple(v.shape)}")
    extra = [k for k in state if k not in want]
    if extra:
        raise OccposeError(f"{path}: model_pos has layer {extra[0]!r}, which {flags} lacks; the "
                           f"checkpoint was trained with another --architecture")


def load_videopose3d_run(path: str | Path, filter_widths: list[int], device, num_joints: int, *,
                         channels: int = 1024, causal: bool = False,
                         keypoints2d: str = "exact", noise: dict | None = None,
                         skeleton: str = "") -> LoadedRun:
    """A VideoPose3D checkpoint as a :class:`LoadedRun` of model ``tcn`` (eval mode)."""
    path = Path(path)
    state, epoch = read_videopose3d_checkpoint(path, with_epoch=True)
    settings = RunSettings(model="tcn", filter_widths=list(filter_widths), channels=channels,
                           causal=causal, keypoints2d=keypoints2d, epochs=max(epoch, 1))
    if noise is not None:
        settings.noise = dict(noise)
    settings.validate()
    sk = skeleton_for(num_joints, skeleton)
    model = build_eval_model(settings, sk.num_joints)
    flags = (f"--architecture {','.join(map(str, filter_widths))} --channels {channels}"
             f"{' --causal' if causal else ''} on {sk.num_joints} joints")
    _check_shapes(path, state, model, flags)
    model.load_state_dict(state)
    model.to(device).eval()
    return LoadedRun(path, settings, model, max(epoch, 1), [], sk)
