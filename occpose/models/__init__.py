"""3D pose models evaluated by the benchmark (torch).

=============  ==============================================  ================================
name           model                                           forward
=============  ==============================================  ================================
``tcn``        VideoPose3D :class:`TemporalModel`              ``model(kp) -> pose``
``tcn-occ1``   :class:`TemporalModelOcc1` (one vector)         ``model(kp, occ) -> OccPoseOutput``
``tcn-occseq`` :class:`TemporalModelOccSeq` (many vectors)     ``model(kp, occ) -> OccPoseOutput``
``tcn-aug``    :class:`TemporalModel`, trained on keypoints    ``model(kp) -> pose``
               from :func:`occlude_keypoints`
``linear``     Martinez et al. :class:`LinearModel`            ``model(kp) -> pose``
=============  ==============================================  ================================

``kp`` is (B, T, J, 2), ``occ`` (B, T, J) with 1 = occluded, ``pose`` (B, T - RF + 1, J, 3).
Every model has ``receptive_field()`` (RF; 1 for ``linear``), ``set_bn_momentum(m)`` and a
``uses_occlusion`` attribute telling whether ``forward`` takes the occlusion vectors.
"""

from __future__ import annotations

import inspect
from typing import Sequence

from torch import nn

from .keypoint_augment import AugmentedKeypoints, occlude_keypoints
from .linear import LinearModel
from .occ_tcn import (OccPoseOutput, TemporalModelOcc1, TemporalModelOccSeq, occlusion_aware_loss,
                      occlusion_loss)
from .tcn import TemporalModel, TemporalModelOptimized1f

__all__ = [
    "MODEL_NAMES", "build_model",
    "TemporalModel", "TemporalModelOptimized1f",
    "TemporalModelOcc1", "TemporalModelOccSeq", "OccPoseOutput", "occlusion_loss",
    "occlusion_aware_loss",
    "LinearModel",
    "occlude_keypoints", "AugmentedKeypoints",
]

MODEL_NAMES = ("tcn", "tcn-occ1", "tcn-occseq", "tcn-aug", "linear")

_TEMPORAL = {"tcn": TemporalModel, "tcn-aug": TemporalModel,
             "tcn-occ1": TemporalModelOcc1, "tcn-occseq": TemporalModelOccSeq}


def build_model(name: str, num_joints: int, filter_widths: Sequence[int] = (3, 3, 3),
                channels: int = 1024, dropout: float | None = None, causal: bool = False,
                single_frame: bool = False, **kw) -> nn.Module:
    """Build a benchmark model by name.

    Args:
        name: one of :data:`MODEL_NAMES`.
        num_joints: joints in and out (2D in, 3D out).
        filter_widths, causal: temporal models only (ignored by ``linear``).
        single_frame: temporal models only: the strided single-frame training twin
            (:class:`TemporalModelOptimized1f`, or the occlusion-aware models' strided trunk),
            whose ``state_dict`` loads into the model built without it; ``linear`` is a
            single-frame model already and ignores it.
        channels: conv channels, or the hidden width of ``linear``.
        dropout: None for the model's paper default (0.25 for the TCNs, 0.5 for ``linear``).
        **kw: further constructor arguments, e.g. ``occ_channels``, ``threshold``, ``gating`` for
            the occlusion-aware models, ``num_stages`` for ``linear``, ``in_features``,
            ``num_joints_out``.
    Raises:
        ValueError: unknown model name or keyword argument.
    """
    if name == "linear":
        cls = LinearModel
        args = dict(num_joints_in=num_joints, linear_size=channels,
                    dropout=0.5 if dropout is None else dropout)
    elif name in _TEMPORAL:
        cls = _TEMPORAL[name]
        args = dict(num_joints_in=num_joints, in_features=2, num_joints_out=num_joints,
                    filter_widths=tuple(filter_widths), causal=causal,
                    dropout=0.25 if dropout is None else dropout, channels=channels)
        if cls is TemporalModel:
            cls = TemporalModelOptimized1f if single_frame else TemporalModel
        else:
            args["single_frame"] = single_frame
    else:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODEL_NAMES)}")
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(kw) - accepted)
    if unknown:
        raise ValueError(f"model {name!r} does not take {', '.join(unknown)}; "
                         f"it takes {', '.join(sorted(accepted))}")
    return cls(**{**args, **kw})
