"""2D inputs of the lifting models: exact projections, a detector-noise model, detector output.

Sources (``keypoints2d`` setting / ``--keypoints2d`` flag):

* ``exact``: the dataset's projections ``joints_2d`` unchanged.
* ``noise``: a simulated 2D detector (:func:`detector_noise`), parameters from
  :class:`occpose.config.NoiseSection`. Its random stream is derived from the sequence id alone
  (:func:`occpose.rng.key_rng`), so training and evaluation inputs are identical across models,
  seeds and runs: like a fixed detector, every sequence has one noisy realisation.
* ``detector:RUN``: an image model's 2D predictions, ``RUN/keypoints2d/<sequence id>.npy``,
  (T, J, 2) pixels.

The detector-noise model, per joint-frame (pixel stds are for a 1000 px wide image and scale
with ``width / 1000``):

1. visible joints get isotropic Gaussian noise of ``visible_std`` px per axis;
2. hidden joints -- ray-cast ``occluded`` or ``out_of_frame`` -- get ``occluded_std`` px, plus,
   with probability ``outlier_prob``, an outlier displacement of ``outlier_std`` px per axis
   (the detector latched onto something else), and, with probability ``dropout_prob``, a
   dropout: the joint holds its last non-dropped output of an earlier frame (a tracker's
   hold), or the root joint's output in the same frame when there is none. Dropped and
   outlier joint-frames are marked in :class:`Keypoints2D`;
3. every output is clipped to the image rectangle ``[0, width] x [0, height]`` (a detector
   cannot answer outside the image; out-of-frame joints land on the border).

The same number of random draws is made whatever the parameters, so changing one parameter
never reshuffles the others' streams. Without an ``occluded`` label (imported data) only
``out_of_frame`` joints count as hidden.

Per joint state (:func:`joint_states`: visible, ``occluded_by_body``, ``occluded_by_object``,
``out_of_frame``) the optional ``body_*``, ``object_*`` and ``out_of_frame_*`` fields of
:class:`~occpose.config.NoiseSection` replace ``occluded_std`` and ``outlier_*`` in steps 2,
and ``visible_outlier_*`` adds outliers to step 1 (fitted to an image model's detections by
``occpose-bench calibrate-noise``, :mod:`occpose.harness.calibrate`). An occluded joint
without a body/object label (imported data) keeps ``occluded_std`` and ``outlier_*``. The
draws are the same ones in the same order, so without these fields the output is the
five-field model's, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..camera import normalize_screen_coordinates
from ..dataset.poses import PoseSequence
from ..errors import OccposeError
from ..rng import key_rng

__all__ = ["Keypoints2D", "parse_source", "detector_noise", "keypoints_2d", "normalized_keypoints",
           "occlusion_vectors", "hidden_mask", "joint_states", "STATES", "state_parameters"]

SOURCES = ("exact", "noise", "detector:RUN")
# Codes of :func:`joint_states`; 4 = occluded without a body/object label (imported data).
STATES = ("visible", "occluded_by_body", "occluded_by_object", "out_of_frame")
OCCLUDED_UNLABELLED = 4
# NoiseSection field prefix of each state code (None: the shared occluded_*/outlier_* fields).
_STATE_PREFIX = ("visible", "body", "object", "out_of_frame", None)


@dataclass
class Keypoints2D:
    """2D inputs of one sequence.

    Attributes:
        pixels: (T, J, 2) float32 image pixels.
        dropped: (T, J) bool, joint-frames replaced by a dropout (noise model only).
        outlier: (T, J) bool, joint-frames displaced by an outlier (noise model only).
    """

    pixels: np.ndarray
    dropped: np.ndarray
    outlier: np.ndarray


def parse_source(source: str) -> tuple[str, Path | None]:
    """``"exact"`` / ``"noise"`` / ``"detector:RUN"`` -> (kind, RUN or None)."""
    if source in ("exact", "noise"):
        return source, None
    if source.startswith("detector:") and len(source) > len("detector:"):
        return "detector", Path(source[len("detector:"):])
    raise OccposeError(f"unknown 2D input source {source!r}; expected exact, noise or detector:RUN")


def hidden_mask(seq: PoseSequence) -> np.ndarray:
    """(T, J) bool joints a detector cannot see: ray-cast ``occluded`` or ``out_of_frame``."""
    t, j = seq.joints_2d.shape[:2]
    hidden = np.zeros((t, j), dtype=bool)
    for name in ("occluded", "out_of_frame"):
        if name in seq.labels:
            hidden |= np.asarray(seq.labels[name], dtype=bool)
    return hidden


def joint_states(seq: PoseSequence) -> np.ndarray:
    """(T, J) int8 state code of every joint-frame, an index into :data:`STATES`.

    Hidden joints are exactly :func:`hidden_mask`'s: ``out_of_frame`` (3) first, then
    ``occluded_by_object`` (2), ``occluded_by_body`` (1), and 4 for an occluded joint that
    carries neither label (imported data); every other joint is visible (0).
    """
    hidden = hidden_mask(seq)
    states = np.zeros(hidden.shape, dtype=np.int8)
    states[hidden] = OCCLUDED_UNLABELLED
    for code, name in ((1, "occluded_by_body"), (2, "occluded_by_object"), (3, "out_of_frame")):
        if name in seq.labels:
            states[hidden & np.asarray(seq.labels[name], dtype=bool)] = code
    return states


def state_parameters(noise) -> np.ndarray:
    """(5, 3) float64 (std, outlier_prob, outlier_std) per state code, unset fields resolved:
    visible -> ``visible_std`` and no outliers unless ``visible_outlier_*``; the hidden states ->
    their own fields, else ``occluded_std`` / ``outlier_prob`` / ``outlier_std``."""
    get = noise.get if isinstance(noise, dict) else lambda k: getattr(noise, k, None)
    shared = (get("occluded_std"), get("outlier_prob"), get("outlier_std"))
    rows = []
    for prefix in _STATE_PREFIX:
        if prefix is None:
            rows.append(shared)
            continue
        fallback = (get("visible_std"), 0.0, 0.0) if prefix == "visible" else shared
        own = [get(f"{prefix}_std"), get(f"{prefix}_outlier_prob"), get(f"{prefix}_outlier_std")]
        rows.append(tuple(f if v is None else v for v, f in zip(own, fallback)))
    return np.array(rows, dtype=np.float64)


def _per_state(noise) -> bool:
    get = noise.get if isinstance(noise, dict) else lambda k: getattr(noise, k, None)
    from ..config import NOISE_STATE_FIELDS

    return any(get(k) is not None for k in NOISE_STATE_FIELDS)


def detector_noise(pixels: np.ndarray, hidden: np.ndarray, width: int, height: int, noise,
                   rng: np.random.Generator, states: np.ndarray | None = None) -> Keypoints2D:
    """Simulated detector output (module docstring).

    Args:
        pixels: (T, J, 2) exact projections, pixels.
        hidden: (T, J) bool, occluded or out-of-frame joints.
        width, height: image size in pixels.
        noise: a :class:`~occpose.config.NoiseSection` or a dict with its fields.
        rng: the sequence's generator.
        states: (T, J) codes of :func:`joint_states` (``states != 0`` must equal ``hidden``);
            needed only by the per-state fields (without it every hidden joint uses the shared
            ``occluded_std`` / ``outlier_*``).
    Returns:
        :class:`Keypoints2D` with float32 pixels.
    """
    get = noise.get if isinstance(noise, dict) else lambda k: getattr(noise, k)
    pixels = np.asarray(pixels, dtype=np.float64)
    t, j = pixels.shape[:2]
    s = width / 1000.0
    # Fixed draws, in a fixed order, whatever the parameters.
    base = rng.standard_normal((t, j, 2))
    out_noise = rng.standard_normal((t, j, 2))
    u_outlier = rng.random((t, j))
    u_dropout = rng.random((t, j))

    if _per_state(noise):
        if states is None:
            states = np.where(hidden, OCCLUDED_UNLABELLED, 0).astype(np.int8)
        table = state_parameters(noise)[np.asarray(states, dtype=np.intp)]           # (T, J, 3)
        std = table[..., 0] * s
        out = pixels + base * std[..., None]
        outlier = u_outlier < table[..., 1]
        out = out + outlier[..., None] * out_noise * (table[..., 2] * s)[..., None]
    else:   # the five-field model, expression for expression
        std = np.where(hidden, get("occluded_std"), get("visible_std")) * s          # (T, J)
        out = pixels + base * std[..., None]
        outlier = hidden & (u_outlier < get("outlier_prob"))
        out = out + outlier[..., None] * out_noise * (get("outlier_std") * s)
    dropped = hidden & (u_dropout < get("dropout_prob"))
    # Hold: index of the last non-dropped frame per joint (-1 before any detection).
    frames = np.where(~dropped, np.arange(t)[:, None], -1)                        # (T, J)
    last = np.maximum.accumulate(frames, axis=0)
    held = out[np.clip(last, 0, None), np.arange(j)[None, :]]                     # (T, J, 2)
    fallback = np.broadcast_to(out[:, :1], out.shape)                             # root, same frame
    replacement = np.where((last >= 0)[..., None], held, fallback)
    out = np.where(dropped[..., None], replacement, out)
    out[..., 0] = np.clip(out[..., 0], 0.0, width)
    out[..., 1] = np.clip(out[..., 1], 0.0, height)
    return Keypoints2D(out.astype(np.float32), dropped, outlier)


def _load_detector(seq: PoseSequence, run: Path) -> np.ndarray:
    from ..dataset.paths import inside

    # ids of imported data (VideoPose3D names with spaces) may not be safe names: the file must
    # still lie inside RUN/keypoints2d
    path = inside(run / "keypoints2d", f"{seq.id}.npy", f"sequence {seq.id!r}", "2D prediction file")
    if not path.is_file():
        raise OccposeError(f"{path}: no 2D predictions for sequence {seq.id}; run the image model "
                           f"of {run} on this benchmark first (expected keypoints2d/<id>.npy)")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise OccposeError(f"{path}: unreadable 2D predictions ({e})") from None
    want = seq.joints_2d.shape
    if arr.shape != want or not np.issubdtype(arr.dtype, np.floating):
        raise OccposeError(f"{path}: expected float (T, J, 2) = {want} pixels, got "
                           f"{arr.dtype} {arr.shape}")
    if not np.isfinite(arr).all():
        raise OccposeError(f"{path}: 2D predictions hold NaN or inf values")
    return arr.astype(np.float32)


def keypoints_2d(seq: PoseSequence, source: str, noise=None) -> Keypoints2D:
    """2D inputs of a sequence in pixels from ``source`` (module docstring)."""
    kind, run = parse_source(source)
    t, j = seq.joints_2d.shape[:2]
    none = np.zeros((t, j), dtype=bool)
    if kind == "exact":
        return Keypoints2D(np.asarray(seq.joints_2d, dtype=np.float32), none, none.copy())
    if kind == "detector":
        return Keypoints2D(_load_detector(seq, run), none, none.copy())
    if noise is None:
        from ..config import NoiseSection
        noise = NoiseSection()
    states = joint_states(seq)
    return detector_noise(seq.joints_2d, states != 0, seq.width, seq.height, noise,
                          key_rng("keypoints2d-noise", seq.id), states)


def normalized_keypoints(seq: PoseSequence, source: str, noise=None) -> np.ndarray:
    """(T, J, 2) float32 inputs in VideoPose3D normalised screen coordinates."""
    px = keypoints_2d(seq, source, noise).pixels
    return normalize_screen_coordinates(px, seq.width, seq.height).astype(np.float32)


def occlusion_vectors(seq: PoseSequence, label_array: str) -> np.ndarray:
    """(T, J) float32 occlusion vectors (1 = occluded) from a dataset label array.

    This is both the occlusion-aware models' training target and their input at test time: the
    heuristic labels (clustered, boxed) are computed by the generator from the 2D/3D labels in
    the dataset; ``occluded`` (truth) at test time is an oracle.
    """
    if label_array not in seq.labels:
        raise OccposeError(f"sequence {seq.id} has no {label_array!r} labels, which the "
                           f"occlusion-aware model needs; choose another --occlusion-labels")
    return np.asarray(seq.labels[label_array], dtype=np.float32)
