"""3D pose error metrics: MPJPE (protocol 1), P-MPJPE (protocol 2), N-MPJPE and MPJVE.

Every function takes numpy arrays or torch tensors and returns the same kind: a numpy scalar
(``np.floating``) for arrays, a 0-d tensor for tensors (differentiable where the maths is).
If either argument is a tensor the computation runs in torch on that tensor's device and dtype.
torch is never imported here: a tensor can only exist if the caller already imported torch, so
this module stays importable with numpy alone.

Units are whatever the inputs use (the benchmark reports millimetres: pass millimetres, or
multiply metres by 1000). Poses are ``(..., J, 3)``: any number of leading axes (batch, time),
then joints, then xyz. The benchmark root-aligns poses first (:func:`root_relative`).

Masks select which joints are *averaged* (e.g. visible vs occluded joints); they never change
an alignment. A mask is boolean ``(..., J)`` broadcastable to the pose's leading axes; when it
selects nothing the metric is ``nan``.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "root_relative", "procrustes_align",
           "scale_align"]

_EPS = 1e-12


def _torch_if_tensor(*xs):
    """The torch module if any argument is a tensor, else None (never imports torch)."""
    torch = sys.modules.get("torch")
    if torch is not None and any(isinstance(x, torch.Tensor) for x in xs):
        return torch
    return None


def _coerce(pred, target, mask=None):
    """Poses on one backend and float dtype; returns (torch-or-None, pred, target, mask)."""
    torch = _torch_if_tensor(pred, target, mask)
    if torch is not None:
        ref = pred if isinstance(pred, torch.Tensor) else target
        dtype = ref.dtype if ref.is_floating_point() else torch.get_default_dtype()
        pred = torch.as_tensor(pred, dtype=dtype, device=ref.device)
        target = torch.as_tensor(target, dtype=dtype, device=ref.device)
        if mask is not None:
            mask = torch.as_tensor(mask, dtype=torch.bool, device=ref.device)
    else:
        pred, target = np.asarray(pred), np.asarray(target)
        dtype = np.result_type(pred.dtype, target.dtype, np.float32)
        pred, target = pred.astype(dtype, copy=False), target.astype(dtype, copy=False)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
    if pred.shape != target.shape or pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"expected pred and target of the same shape (..., J, 3), "
                         f"got {tuple(pred.shape)} and {tuple(target.shape)}")
    return torch, pred, target, mask


def _masked_mean(torch, err, mask):
    """Mean of per-joint errors ``(..., J)`` over the joints selected by ``mask`` (or all)."""
    if mask is None:
        return err.mean()
    if torch is not None:
        mask = torch.broadcast_to(mask, err.shape)
        return err[mask].mean()  # nan when empty
    mask = np.broadcast_to(mask, err.shape)
    if not mask.any():
        return err.dtype.type(np.nan)
    return err[mask].mean()


def _joint_errors(torch, pred, target):
    """(..., J) Euclidean distance per joint."""
    diff = pred - target
    if torch is not None:
        return torch.linalg.vector_norm(diff, dim=-1)
    return np.linalg.norm(diff, axis=-1)


def mpjpe(pred, target, mask=None):
    """Mean per-joint position error, protocol 1 (no alignment beyond what the caller did).

    Args:
        pred, target: (..., J, 3) poses in the same units and frame.
        mask: optional bool (..., J); average only over the selected joints.
    Returns:
        Scalar mean Euclidean distance, same units as the input; nan if ``mask`` selects nothing.
    """
    torch, pred, target, mask = _coerce(pred, target, mask)
    return _masked_mean(torch, _joint_errors(torch, pred, target), mask)


def _sum(torch, x, axes):
    if torch is not None:
        return x.sum(dim=axes, keepdim=True)
    return x.sum(axis=axes, keepdims=True)


def procrustes_align(pred, target):
    """Similarity-align each predicted pose to its target (rotation, uniform scale, translation).

    Solves ``min_{s,R,t} sum_j |s R p_j + t - q_j|^2`` per pose with an SVD of the 3x3
    cross-covariance; the sign of the smallest singular direction is flipped when needed so that
    ``R`` is a proper rotation (det +1), never a reflection.

    Args:
        pred, target: (..., J, 3) poses.
    Returns:
        (..., J, 3) aligned prediction, same kind as the inputs.
    """
    torch, pred, target, _ = _coerce(pred, target)
    lin = torch.linalg if torch is not None else np.linalg
    mu_p = pred.mean(-2, keepdims=True) if torch is None else pred.mean(dim=-2, keepdim=True)
    mu_t = target.mean(-2, keepdims=True) if torch is None else target.mean(dim=-2, keepdim=True)
    p0, t0 = pred - mu_p, target - mu_t                                   # (..., J, 3)
    norm_p = _sum(torch, p0 ** 2, (-2, -1)) ** 0.5 + _EPS                 # (..., 1, 1)
    norm_t = _sum(torch, t0 ** 2, (-2, -1)) ** 0.5 + _EPS
    p0, t0 = p0 / norm_p, t0 / norm_t
    h = t0.swapaxes(-1, -2) @ p0                                          # (..., 3, 3)
    u, s, vt = lin.svd(h)
    v = vt.swapaxes(-1, -2)
    # Reflection fix: if det(V U^T) < 0, flip the last column of V and the last singular value.
    sign = (lin.det(v @ u.swapaxes(-1, -2)) < 0)                         # (...,)
    flip = 1.0 - 2.0 * (sign.to(v.dtype) if torch is not None else sign.astype(v.dtype))
    if torch is not None:
        ones = torch.ones_like(s[..., :2])
        d = torch.cat([ones, flip[..., None]], dim=-1)                   # (..., 3)
    else:
        d = np.concatenate([np.ones_like(s[..., :2]), flip[..., None]], axis=-1)
    v = v * d[..., None, :]
    s = s * d
    rot = v @ u.swapaxes(-1, -2)                                          # (..., 3, 3), p @ rot ~ t
    scale = s.sum(-1)[..., None, None] * norm_t / norm_p                  # (..., 1, 1)
    return scale * (pred - mu_p) @ rot + mu_t


def p_mpjpe(pred, target, mask=None):
    """MPJPE after per-pose Procrustes alignment, protocol 2.

    Each predicted pose is aligned to its target by the similarity transform (rotation, uniform
    scale, translation; reflections excluded) that minimises the squared error over *all* joints;
    ``mask`` only selects which joints are averaged afterwards.

    Args:
        pred, target: (..., J, 3) poses in the same units.
        mask: optional bool (..., J).
    Returns:
        Scalar, same units as the input; nan if ``mask`` selects nothing.
    """
    torch, pred, target, mask = _coerce(pred, target, mask)
    aligned = procrustes_align(pred, target)
    return _masked_mean(torch, _joint_errors(torch, aligned, target), mask)


def scale_align(pred, target):
    """Each predicted pose scaled by its least-squares optimal scale
    ``s = <pred, target> / <pred, pred>`` (sums over joints and xyz); no rotation or translation.

    Args:
        pred, target: (..., J, 3) poses.
    Returns:
        (..., J, 3) scaled prediction, same kind as the inputs.
    """
    torch, pred, target, _ = _coerce(pred, target)
    return _sum(torch, pred * target, (-2, -1)) / (_sum(torch, pred ** 2, (-2, -1)) + _EPS) * pred


def n_mpjpe(pred, target, mask=None):
    """MPJPE after scaling each predicted pose by its least-squares optimal scale.

    ``s = <pred, target> / <pred, pred>`` per pose (sums over joints and xyz), as in VideoPose3D's
    normalised MPJPE; no rotation or translation is applied. ``mask`` selects averaged joints.

    Args:
        pred, target: (..., J, 3) poses in the same units.
        mask: optional bool (..., J).
    Returns:
        Scalar, same units as the input; nan if ``mask`` selects nothing.
    """
    torch, pred, target, mask = _coerce(pred, target, mask)
    return _masked_mean(torch, _joint_errors(torch, scale_align(pred, target), target), mask)


def mpjve(pred, target, mask=None):
    """Mean per-joint velocity error: MPJPE of the first differences along time (axis 0).

    Args:
        pred, target: (T, ..., J, 3) pose sequences, T >= 2, same units (result is units/frame).
        mask: optional bool (T, ..., J) per-frame selection (a velocity sample between frames
            t-1 and t is averaged when the joint is selected in both frames), or (T-1, ..., J)
            per velocity sample.
    Returns:
        Scalar, units per frame; nan if nothing is selected.
    """
    torch, pred, target, mask = _coerce(pred, target, mask)
    if pred.shape[0] < 2:
        raise ValueError(f"mpjve needs at least 2 frames along axis 0, "
                         f"got shape {tuple(pred.shape)}")
    vel_p, vel_t = pred[1:] - pred[:-1], target[1:] - target[:-1]          # (T-1, ..., J, 3)
    if mask is not None and mask.ndim == pred.ndim - 1 and mask.shape[0] == pred.shape[0]:
        mask = mask[1:] & mask[:-1]
    return _masked_mean(torch, _joint_errors(torch, vel_p, vel_t), mask)


def root_relative(x, root: int = 0):
    """Joints relative to the root joint: ``x - x[..., root, :]``.

    Args:
        x: (..., J, C) array or tensor.
        root: index of the root joint (0 = hip/pelvis in both occpose skeletons).
    Returns:
        (..., J, C), same kind and dtype; the root joint becomes zero.
    """
    if _torch_if_tensor(x) is None:
        x = np.asarray(x)
    return x - x[..., root:root + 1, :]
