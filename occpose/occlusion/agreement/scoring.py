"""How well the cheap 2D occlusion heuristics agree with the ray-cast truth.

Each heuristic (``clustered``, ``boxed``, ``boxed_depth``; arrays ``occluded_<name>``) is scored
against the truth ``occluded`` as a binary classifier, positive = occluded. Joints flagged
``out_of_frame`` are excluded from every count.

Conventions
    precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2 TP / (2 TP + FP + FN),
    accuracy = (TP + TN) / N. A ratio whose denominator is 0 (e.g. precision of a heuristic
    that flags nothing) is ``nan``: ``null`` in JSON, ``n/a`` in Markdown and on stdout.
    Each ratio also gets a 95% interval (``precision_ci`` ... ``[low, high]``) from the seeded
    bootstrap over sequences of :mod:`occpose.stats`, resampled by (subject, action) clip.

Self- vs object occlusion
    The heuristics see only the body, never the occluders, so the report separates the two:
    ``recall_self`` is the recall on joints whose truth is ``occluded_by_body``, ``recall_object``
    the recall on joints ``occluded_by_object`` (whatever a heuristic catches there it catches by
    coincidence); ``f1_self_truth`` scores it against self-occlusion alone (truth
    ``occluded_by_body``, object-occluded joints left out), and the level-0 block scores it on
    the sequences without occluders. Precision cannot be split by cause: a false alarm has none.

The sweep recomputes the heuristics from the stored ``joints_3d_cam`` and ``joints_2d`` over
grids of epsilon and delta (:mod:`occpose.occlusion.heuristics.labels`, vectorised over all frames of
all selected sequences at once) and reports F1 per value and the best one.

The output side -- Markdown tables, the terminal summary, the F1-by-level plot and the report
files -- is in :mod:`.report`; its functions are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ... import stats
from ...errors import DatasetError, OccposeError
from .report import format_summary, plot_f1_by_level, render_markdown, write_report
from ..heuristics.labels import boxed_occlusion_grid, clustered_occlusion_grid, heuristic_inputs

__all__ = ["HEURISTICS", "Confusion", "confusion", "precision", "recall", "f1_score", "accuracy",
           "LabelSet", "load_label_set", "agreement_report", "sweep_heuristics",
           "render_markdown", "format_summary", "plot_f1_by_level", "write_report"]

HEURISTICS: dict[str, str] = {"clustered": "occluded_clustered", "boxed": "occluded_boxed",
                              "boxed_depth": "occluded_boxed_depth"}

# Sweep grids. Epsilon in camera space: metres; everything else: normalised screen units.
EPSILONS_CAMERA = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4)
EPSILONS_NORMALIZED = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12,
                       0.15, 0.2)
DELTAS = (0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15, 0.2, 0.25)


# ---- metrics ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Confusion:
    """Confusion counts of a binary labelling, positive = occluded."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def to_dict(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn, "n": self.n,
                "precision": precision(self), "recall": recall(self), "f1": f1_score(self),
                "accuracy": accuracy(self)}


def _ratio(num: float, den: float) -> float:
    """num / den, nan when den is 0."""
    return num / den if den else math.nan


def confusion(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> Confusion:
    """Counts of predicted vs true labels over the joints where ``mask`` is True (all if None)."""
    pred, truth = np.asarray(pred, dtype=bool), np.asarray(truth, dtype=bool)
    mask = np.ones(pred.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    return Confusion(tp=int((pred & truth & mask).sum()), fp=int((pred & ~truth & mask).sum()),
                     fn=int((~pred & truth & mask).sum()), tn=int((~pred & ~truth & mask).sum()))


def precision(c: Confusion) -> float:
    """TP / (TP + FP): of the joints a heuristic calls occluded, the share that are."""
    return _ratio(c.tp, c.tp + c.fp)


def recall(c: Confusion) -> float:
    """TP / (TP + FN): of the occluded joints, the share a heuristic finds."""
    return _ratio(c.tp, c.tp + c.fn)


def f1_score(c: Confusion) -> float:
    """2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall."""
    return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn)


def accuracy(c: Confusion) -> float:
    """(TP + TN) / N."""
    return _ratio(c.tp + c.tn, c.n)


# ---- the labels of a benchmark, concatenated over sequences ------------------------------------

@dataclass
class LabelSet:
    """Per-joint labels of the selected sequences, concatenated along frames (F = all frames).

    Attributes:
        truth, by_body, by_object, valid: (F, J) bool; valid = not out_of_frame.
        predicted: heuristic name -> (F, J) bool stored labels.
        action, level: (F,) int indices into ``actions`` and ``levels``.
        sequence: (F,) int index of each frame's sequence (``sequences`` of them).
        weights: (B, sequences) bootstrap weights of :func:`occpose.stats.bootstrap_weights`,
            resampling (subject, action) clips.
        inputs: for the sweep, :func:`heuristic_inputs` of every sequence concatenated
            (``xy_camera``, ``xy_normalized``, ``depth``), or empty.
    """

    truth: np.ndarray
    by_body: np.ndarray
    by_object: np.ndarray
    valid: np.ndarray
    predicted: dict[str, np.ndarray]
    action: np.ndarray
    level: np.ndarray
    actions: list[str]
    levels: list[float]
    joint_names: list[str]
    sequences: int
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    sequence: np.ndarray | None = None
    weights: np.ndarray | None = None


def _level(entry) -> float:
    return round(float(entry.target_level), 6)


def load_label_set(bench, entries, with_inputs: bool = False) -> LabelSet:
    """Load and concatenate the label arrays of ``entries`` of an open Benchmark.

    Raises:
        OccposeError: no entries; DatasetError: a sequence lacks a heuristic array.
    """
    if not entries:
        raise OccposeError(f"{bench.root}: no sequences selected")
    actions = sorted({e.action for e in entries})
    levels = sorted({_level(e) for e in entries})
    truth_arrays = {"truth": "occluded", "by_body": "occluded_by_body",
                    "by_object": "occluded_by_object"}
    cols: dict[str, list] = {k: [] for k in (*truth_arrays, "valid", "action", "level", "sequence")}
    predicted: dict[str, list] = {h: [] for h in HEURISTICS}
    inputs: dict[str, list] = {}
    for entry in entries:
        a = bench.load(entry).arrays
        for name, array in HEURISTICS.items():
            if array not in a:
                raise DatasetError(f"{bench.root / entry.path}: missing array '{array}' "
                                   f"({name} heuristic labels); regenerate the benchmark with an "
                                   f"occpose that writes heuristic labels")
            predicted[name].append(a[array])
        for key, array in truth_arrays.items():
            cols[key].append(a[array])
        cols["valid"].append(~a["out_of_frame"])
        cols["action"].append(np.full(entry.frames, actions.index(entry.action)))
        cols["level"].append(np.full(entry.frames, levels.index(_level(entry))))
        cols["sequence"].append(np.full(entry.frames, len(cols["sequence"])))
        if with_inputs:
            cam = bench.cameras[entry.camera]
            x = heuristic_inputs(a["joints_3d_cam"], a["joints_2d"], cam.width, cam.height)
            for k, v in x.items():
                inputs.setdefault(k, []).append(v)
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    return LabelSet(truth=cat["truth"], by_body=cat["by_body"], by_object=cat["by_object"],
                    valid=cat["valid"], predicted={h: np.concatenate(v) for h, v in predicted.items()},
                    action=cat["action"], level=cat["level"], actions=actions, levels=levels,
                    joint_names=list(bench.skeleton.joint_names), sequences=len(entries),
                    inputs={k: np.concatenate(v) for k, v in inputs.items()},
                    sequence=cat["sequence"],
                    weights=stats.bootstrap_weights(stats.cluster_index(
                        (e.subject, e.action) for e in entries)))


# ---- scoring ------------------------------------------------------------------------------------

def _stats(pred, truth, valid, by_body, by_object) -> dict:
    """Confusion metrics plus the self/object split of one heuristic on one group of joints."""
    out = confusion(pred, truth, valid).to_dict()
    self_c = confusion(pred, by_body, valid & ~by_object)
    n_self, n_object = int((by_body & valid).sum()), int((by_object & valid).sum())
    out.update(recall_self=_ratio(int((pred & by_body & valid).sum()), n_self), n_self=n_self,
               recall_object=_ratio(int((pred & by_object & valid).sum()), n_object),
               n_object=n_object, f1_self_truth=f1_score(self_c))
    return out


def _intervals(ls: LabelSet, sel: tuple, pred: np.ndarray, truth: np.ndarray,
               valid: np.ndarray, by_body: np.ndarray | None = None,
               by_object: np.ndarray | None = None) -> dict:
    """95% bootstrap intervals of precision, recall, F1 and accuracy over sequences (and, given
    the first-blocker labels, of recall_self, recall_object and f1_self_truth)."""
    seq = ls.sequence[sel[0]]

    def per_sequence(x):                                              # (S,) counts
        return np.bincount(seq, weights=x.reshape(len(x), -1).sum(1), minlength=ls.sequences)

    tp, fp = per_sequence(pred & truth & valid), per_sequence(pred & ~truth & valid)
    fn, tn = per_sequence(~pred & truth & valid), per_sequence(~pred & ~truth & valid)
    ratios = {"precision": (tp, tp + fp), "recall": (tp, tp + fn), "f1": (2 * tp, 2 * tp + fp + fn),
              "accuracy": (tp + tn, tp + fp + fn + tn)}
    if by_body is not None:
        self_valid = valid & ~by_object
        stp, sfp = per_sequence(pred & by_body & self_valid), per_sequence(pred & ~by_body & self_valid)
        sfn = per_sequence(~pred & by_body & self_valid)
        ratios.update(recall_self=(per_sequence(pred & by_body & valid), per_sequence(by_body & valid)),
                      recall_object=(per_sequence(pred & by_object & valid), per_sequence(by_object & valid)),
                      f1_self_truth=(2 * stp, 2 * stp + sfp + sfn))
    sums = np.stack([v[0] for v in ratios.values()], 1)                 # (S, 4)
    counts = np.stack([v[1] for v in ratios.values()], 1)
    lo, hi = stats.percentile_interval(stats.pooled_replicates(sums, counts, ls.weights))
    return {f"{k}_ci": [float(lo[i]), float(hi[i])] for i, k in enumerate(ratios)}


def _group(ls: LabelSet, frames: np.ndarray | None = None, joint: int | None = None) -> dict:
    """{heuristic: stats} over the frames selected by ``frames`` (bool (F,)) and/or one joint."""
    sel = (slice(None) if frames is None else frames, slice(None) if joint is None else joint)
    out = {}
    for h in HEURISTICS:
        pred, truth, valid = ls.predicted[h][sel], ls.truth[sel], ls.valid[sel]
        out[h] = _stats(pred, truth, valid, ls.by_body[sel], ls.by_object[sel])
        if ls.weights is not None:
            out[h].update(_intervals(ls, sel, pred, truth, valid, ls.by_body[sel], ls.by_object[sel]))
    return out


def level_key(level: float) -> str:
    return f"{level:g}"


def agreement_report(bench, split: str | None = None, sweep: bool = False) -> dict:
    """The full agreement report of an open Benchmark as a JSON-ready dict.

    Args:
        split: ``"train"``, ``"test"``, ``"all"`` or None (all sequences).
        sweep: also run :func:`sweep_heuristics`.
    """
    split = None if split == "all" else split
    entries = bench.select(split=split)
    if not entries:
        raise OccposeError(f"{bench.root}: no sequences in split {split or 'all'!r}")
    ls = load_label_set(bench, entries, with_inputs=sweep)
    params = dict(bench.config.get("heuristics", {})) if isinstance(bench.config, dict) else {}
    level0 = [i for i, lv in enumerate(ls.levels) if lv == 0.0]
    self_only = {h: confusion(ls.predicted[h], ls.by_body, ls.valid & ~ls.by_object).to_dict()
                 | _intervals(ls, (slice(None), slice(None)), ls.predicted[h], ls.by_body,
                              ls.valid & ~ls.by_object) for h in HEURISTICS}
    by_level = {level_key(lv): _group(ls, frames=ls.level == i) for i, lv in enumerate(ls.levels)}
    report = {
        "benchmark": str(bench.root),
        "name": bench.manifest.get("name"),
        "skeleton": bench.skeleton.name,
        "split": split or "all",
        "sequences": ls.sequences,
        "frames": int(ls.truth.shape[0]),
        "joints_evaluated": int(ls.valid.sum()),
        "joints_out_of_frame": int((~ls.valid).sum()),
        "parameters": params,
        "arrays": dict(HEURISTICS),
        "overall": _group(ls),
        "self_occlusion_truth": self_only,
        "level0": by_level[level_key(ls.levels[level0[0]])] if level0 else None,
        "by_level": by_level,
        "by_action": {a: _group(ls, frames=ls.action == i) for i, a in enumerate(ls.actions)},
        "by_joint": {name: _group(ls, joint=j) for j, name in enumerate(ls.joint_names)},
    }
    if sweep:
        report["sweep"] = sweep_heuristics(ls, params)
        if bench.skeleton.name != "h36m17":
            report["sweep_note"] = (f"recomputed on the benchmark's {bench.skeleton.name} joints; the "
                                    f"stored labels were computed on 17 joints before conversion, so "
                                    f"they need not match exactly")
    return report


# ---- parameter sweep ----------------------------------------------------------------------------

def _grid(default, configured) -> list[float]:
    values = set(float(v) for v in default)
    if configured is not None:
        values.add(float(configured))
    return sorted(values)


def _best(values, f1) -> dict | None:
    scores = np.array([-np.inf if math.isnan(v) else v for v in f1])
    if not np.isfinite(scores).any():
        return None
    i = int(np.argmax(scores))
    return {"value": values[i], "f1": f1[i], "at_grid_edge": i in (0, len(values) - 1)}


def _sweep_entry(ls: LabelSet, labels: np.ndarray, values, heuristic: str, parameter: str,
                 units: str, configured) -> dict:
    """F1 per grid value; ``labels`` (V, F, J) bool, one labelling per value."""
    confs = [confusion(lab, ls.truth, ls.valid) for lab in labels]
    f1 = [f1_score(c) for c in confs]
    # Self-occlusion truth: joints hidden by objects left out (what a 2D heuristic can know).
    self_valid = ls.valid & ~ls.by_object
    f1_self = [f1_score(confusion(lab, ls.by_body, self_valid)) for lab in labels]
    entry = {"heuristic": heuristic, "parameter": parameter, "units": units, "values": list(values),
             "precision": [precision(c) for c in confs], "recall": [recall(c) for c in confs],
             "f1": f1, "f1_self": f1_self, "configured": None,
             "f1_ci": [_intervals(ls, (slice(None),), lab, ls.truth, ls.valid)["f1_ci"]
                       for lab in labels] if ls.weights is not None else None,
             "f1_self_ci": [_intervals(ls, (slice(None),), lab, ls.by_body, self_valid)["f1_ci"]
                            for lab in labels] if ls.weights is not None else None,
             "best": _best(values, f1), "best_self": _best(values, f1_self)}
    if configured is not None:
        i = values.index(float(configured))
        stored = ls.predicted[heuristic]
        same = (labels[i] == stored)[ls.valid].mean() if ls.valid.any() else math.nan
        entry["configured"] = {"value": values[i], "f1": f1[i], "matches_stored": float(same)}
    return entry


def sweep_heuristics(ls: LabelSet, params: dict | None = None, epsilons_camera=EPSILONS_CAMERA,
                     epsilons_normalized=EPSILONS_NORMALIZED, deltas=DELTAS) -> dict:
    """F1 of each heuristic over parameter grids, recomputed from the stored joints.

    Args:
        ls: labels loaded with ``with_inputs=True``.
        params: the benchmark's ``[heuristics]`` settings; their values join the grids and are
            checked against the stored labels (``configured.matches_stored``: share of evaluated
            joints whose recomputed label equals the stored one).
    Returns:
        ``clustered_camera``, ``clustered_normalized``, ``boxed``, ``boxed_depth``: each with
        values, precision, recall, f1 (lists), best {value, f1} and configured.
    """
    params = params or {}
    space = params.get("clustered_space")
    eps = params.get("clustered_epsilon")
    delta = params.get("boxed_delta")
    x = ls.inputs
    out = {}
    for name, xy_key, grid, units in (
            ("camera", "xy_camera", epsilons_camera, "m, camera-frame X/Y"),
            ("normalized", "xy_normalized", epsilons_normalized, "normalised screen units")):
        conf = eps if space == name else None
        values = _grid(grid, conf)
        labels = clustered_occlusion_grid(x[xy_key], x["depth"], values)   # (V, F, J)
        out[f"clustered_{name}"] = _sweep_entry(ls, labels, values, "clustered", "epsilon",
                                                units, conf)
    values = _grid(deltas, delta)
    plain, aware = boxed_occlusion_grid(x["xy_normalized"], values, x["depth"])   # (V, F, J) each
    for name, labels in (("boxed", plain), ("boxed_depth", aware)):
        out[name] = _sweep_entry(ls, labels, values, name, "delta", "normalised screen units", delta)
    return out
