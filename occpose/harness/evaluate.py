"""Evaluating trained runs level by level (ARCHITECTURE.md, Protocol).

For every run and every test sequence the run's evaluation model predicts the whole sequence
(dilated TCN, edges padded by replication; flip averaging for the TCN models unless disabled),
from the run's own 2D inputs (its ``keypoints2d`` source; the noise model is seeded by sequence
id, so all runs see the same inputs) and, for occlusion-aware models, its ``occlusion_labels``
source as occlusion input. Poses are root-aligned (root joint subtracted from prediction and
truth) and compared in millimetres:

* ``mpjpe`` (protocol 1), ``p_mpjpe`` (protocol 2, per-frame Procrustes over all joints),
  ``n_mpjpe`` (per-frame least-squares scale), ``mpjve`` (mm/frame, first differences);
* splits: ``all`` joints; ``visible`` (not ``occluded``, in frame) and ``occluded`` (ray-cast
  truth, in frame). Out-of-frame joints count in ``all`` only; a velocity sample belongs to a
  split when the joint does in both frames.

Errors are pooled over joint-frames into a cube per run: level x action x metric x split x
joint, each axis with an ``all`` entry. Runs are grouped into models by name (a suffix tells
apart runs of one model with different settings); every number is reported as mean over seeds
with std (sample std, 0 for one seed), min and max.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dataset.atomic import atomic_write_text
from ..dataset.poses import PoseSequence
from ..errors import OccposeError
from ..metrics import procrustes_align, root_relative, scale_align
from .data import Prepared, prepare
from .device import resolve_device
from .checkpoint import CHECKPOINT_FILE
from .data import skeleton_for
from .inference import load_run, predict_sequence
from .settings import read_settings

__all__ = ["METRICS", "SPLITS", "UNITS", "joint_errors", "split_masks", "evaluate_runs",
           "run_labels"]

METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")
SPLITS = ("all", "visible", "occluded")
UNITS = {"mpjpe": "mm", "p_mpjpe": "mm", "n_mpjpe": "mm", "mpjve": "mm/frame"}
RESULTS_FORMAT = "occpose-results/1"
TCN_MODELS = ("tcn", "tcn-aug", "tcn-occ1", "tcn-occseq")


def joint_errors(pred: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Per joint-frame errors of root-aligned poses, in the inputs' units x 1000 (m -> mm).

    The pooled mean of each array equals :func:`occpose.metrics.mpjpe`, ``p_mpjpe``,
    ``n_mpjpe`` and ``mpjve`` of the same poses (tested).

    Args:
        pred, target: (T, J, 3) root-relative poses, metres.
    Returns:
        ``mpjpe``, ``p_mpjpe``, ``n_mpjpe``: (T, J) mm; ``mpjve``: (T-1, J) mm/frame.
    """
    pred = np.asarray(pred, dtype=np.float64) * 1000.0
    target = np.asarray(target, dtype=np.float64) * 1000.0
    aligned = procrustes_align(pred, target)                                     # (T, J, 3)
    out = {"mpjpe": np.linalg.norm(pred - target, axis=-1),
           "p_mpjpe": np.linalg.norm(aligned - target, axis=-1),
           "n_mpjpe": np.linalg.norm(scale_align(pred, target) - target, axis=-1)}
    if len(pred) >= 2:
        out["mpjve"] = np.linalg.norm(np.diff(pred, axis=0) - np.diff(target, axis=0), axis=-1)
    else:
        out["mpjve"] = np.zeros((0, pred.shape[1]))
    return out


def split_masks(occluded: np.ndarray, out_of_frame: np.ndarray) -> dict[str, np.ndarray]:
    """(T, J) bool masks of :data:`SPLITS`."""
    occluded, out_of_frame = np.asarray(occluded, bool), np.asarray(out_of_frame, bool)
    return {"all": np.ones_like(occluded), "visible": ~occluded & ~out_of_frame,
            "occluded": occluded & ~out_of_frame}


@dataclass
class _Cube:
    """Pooled error sums and counts: (level, action, metric, split, joint)."""

    sums: np.ndarray
    counts: np.ndarray

    @classmethod
    def empty(cls, n_levels: int, n_actions: int, n_joints: int) -> "_Cube":
        shape = (n_levels, n_actions, len(METRICS), len(SPLITS), n_joints)
        return cls(np.zeros(shape), np.zeros(shape, dtype=np.int64))

    def add(self, li: int, ai: int, errors: dict, masks: dict) -> None:
        for mi, metric in enumerate(METRICS):
            err = errors[metric]
            for si, split in enumerate(SPLITS):
                m = masks[split]
                if metric == "mpjve":
                    m = m[1:] & m[:-1]
                self.sums[li, ai, mi, si] += np.where(m, err, 0.0).sum(0)
                self.counts[li, ai, mi, si] += m.sum(0)

    def values(self) -> np.ndarray:
        """(L+1, A+1, M, S, J+1) pooled means, the last entry of level/action/joint = all."""
        s, c = self.sums, self.counts
        s = np.concatenate([s, s.sum(0, keepdims=True)], 0)
        c = np.concatenate([c, c.sum(0, keepdims=True)], 0)
        s = np.concatenate([s, s.sum(1, keepdims=True)], 1)
        c = np.concatenate([c, c.sum(1, keepdims=True)], 1)
        s = np.concatenate([s, s.sum(4, keepdims=True)], 4)
        c = np.concatenate([c, c.sum(4, keepdims=True)], 4)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def run_labels(settings_list) -> list[str]:
    """Model label per run: the model name, plus the settings that tell its runs apart."""
    ignore = {"seed", "epochs", "skeleton"}
    by_model: dict[str, list[dict]] = {}
    for s in settings_list:
        by_model.setdefault(s.model, []).append(s.relevant())
    labels = []
    for s in settings_list:
        group = by_model[s.model]
        d = s.relevant()
        keys = sorted(k for k in d if k not in ignore and any(k in g and g[k] != d[k] for g in group))
        if keys:
            labels.append(s.model + "[" + ",".join(f"{k}={json.dumps(d[k], sort_keys=True)}"
                                                  for k in keys) + "]")
        else:
            labels.append(s.model)
    return labels


def _level_name(level: float) -> str:
    return f"{level:.2f}"


def _stats(stack: np.ndarray) -> dict[str, np.ndarray]:
    """mean/std/min/max over axis 0 (seeds), NaN-aware; sample std, 0 for a single seed."""
    n = np.sum(~np.isnan(stack), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stack, axis=0)
        std = np.where(n > 1, np.nanstd(stack, axis=0, ddof=1) if len(stack) > 1 else 0.0, 0.0)
        std = np.where(n > 0, std, np.nan)
        return {"mean": mean, "std": std, "min": np.nanmin(stack, axis=0),
                "max": np.nanmax(stack, axis=0), "n": n}


def _num(x) -> float | None:
    x = float(x)
    return None if not np.isfinite(x) else round(x, 4)


def _slices(cube: np.ndarray, axes: dict, fmt) -> dict:
    """results.json views of a (L+1, A+1, M, S, J+1, ...) cube: by level/action/joint."""
    levels, actions, joints = axes["levels"], axes["actions"], axes["joints"]

    def ms(block):
        return {m: {s: fmt(block[mi][si]) for si, s in enumerate(SPLITS)} for mi, m in enumerate(METRICS)}

    return {
        "by_level": {lv: ms(cube[li, -1, :, :, -1]) for li, lv in enumerate(levels)},
        "by_action": {a: ms(cube[-1, ai, :, :, -1]) for ai, a in enumerate(actions)},
        "by_level_action": {lv: {a: ms(cube[li, ai, :, :, -1]) for ai, a in enumerate(actions)}
                            for li, lv in enumerate(levels)},
        "by_joint": {j: ms(cube[-1, -1, :, :, ji]) for ji, j in enumerate(joints)},
    }


def _sample_frames(prepared: list[Prepared], n: int = 3) -> list[tuple[int, int]]:
    """(sequence index, frame) of up to n high-occlusion frames at the highest level."""
    if not prepared:
        return []
    top = max(p.level for p in prepared)
    cands = []
    for i, p in enumerate(prepared):
        if p.level == top:
            counts = p.occluded.sum(1)
            f = int(np.argmax(counts))
            cands.append((-int(counts[f]), p.id, i, f))
    return [(i, f) for _, _, i, f in sorted(cands)[:n]]


def _check_runs(run_dirs: list[Path], num_joints: int) -> tuple[list, list[str]]:
    """Settings and model labels of every run, checked before any work starts."""
    all_settings = [read_settings(d)[0].validate() for d in run_dirs]
    for d, s in zip(run_dirs, all_settings):
        if not (d / CHECKPOINT_FILE).is_file():
            raise OccposeError(f"{d / CHECKPOINT_FILE}: no checkpoint; the run has not finished "
                               f"an epoch yet")
        if skeleton_for(num_joints, s.skeleton).num_joints != num_joints:
            raise OccposeError(f"{d}: trained on skeleton {s.skeleton}, the test data has "
                               f"{num_joints} joints")
    labels = run_labels(all_settings)
    seen: dict[tuple, Path] = {}
    for d, s, lab in zip(run_dirs, all_settings, labels):
        if (lab, s.seed) in seen:
            raise OccposeError(f"runs {seen[lab, s.seed]} and {d} are both {lab} with seed "
                               f"{s.seed}; evaluate one of them")
        seen[lab, s.seed] = d
    return all_settings, labels


@dataclass
class _RunEval:
    """One run's pooled errors, its poses at the sample frames and its summary."""

    cube: np.ndarray
    samples: list[np.ndarray]
    info: dict


def _evaluate_run(run, prepared: list[Prepared], levels: list[float], actions: list[str],
                  flip: bool, picks: list[tuple[int, int]], dev, bar) -> _RunEval:
    s = run.settings
    use_flip = flip and s.model in TCN_MODELS
    cube = _Cube.empty(len(levels), len(actions), prepared[0].keypoints.shape[1])
    t0 = time.perf_counter()
    picked = {}
    for i, p in enumerate(prepared):
        pred = root_relative(predict_sequence(run.model, p, run.skeleton, dev, flip=use_flip))
        cube.add(levels.index(p.level), actions.index(p.action), joint_errors(pred, p.poses),
                 split_masks(p.occluded, p.out_of_frame))
        picked.update({(i, f): pred[f] for si, f in picks if si == i})
        bar.update(1)
    dt = time.perf_counter() - t0
    frames = sum(p.n_frames for p in prepared)
    info = {"run": str(run.dir), "seed": s.seed, "epochs": run.epoch, "complete": run.complete,
            "flip": use_flip, "settings": s.to_dict(), "frames": frames, "time_s": round(dt, 3),
            "frames_per_s": round(frames / max(dt, 1e-9), 1)}
    return _RunEval(cube.values(), [picked[k] for k in picks], info)


def _assemble(evals: list[_RunEval], labels: list[str], axes: dict, header: dict) -> dict:
    """The results.json document: per-run slices and per-model statistics over seeds."""
    results = {"format": RESULTS_FORMAT, "metrics": list(METRICS), "splits": list(SPLITS),
               "units": UNITS, **axes, **header, "runs": [], "models": {}}
    for ev, lab in zip(evals, labels):
        results["runs"].append({**ev.info, "model": lab, **_slices(ev.cube, axes, _num)})
    for lab in dict.fromkeys(labels):
        idx = [i for i, x in enumerate(labels) if x == lab]
        st = _stats(np.stack([evals[i].cube for i in idx]))
        packed = np.stack([st["mean"], st["std"], st["min"], st["max"], st["n"]], -1)
        results["models"][lab] = {
            "seeds": [evals[i].info["seed"] for i in idx],
            "runs": [evals[i].info["run"] for i in idx],
            **_slices(packed, axes, lambda v: {"mean": _num(v[0]), "std": _num(v[1]),
                                              "min": _num(v[2]), "max": _num(v[3]),
                                              "n": int(v[4])})}
    return results


def evaluate_runs(sequences_test: list[PoseSequence], run_dirs: list[str | Path],
                  out_dir: str | Path, *, device: str = "auto", flip: bool = True,
                  progress: bool = True, plots: bool = True) -> dict:
    """Evaluate runs on test sequences and write the results (module docstring).

    Writes ``results.json``, ``results.csv`` (long format: model, seed, level, action, joint,
    metric, split, value), ``report.md`` and, with ``plots``, ``mpjpe_by_level.png``,
    ``per_joint.png`` and ``skeletons_high_occlusion.png`` into ``out_dir`` (atomically).

    Args:
        sequences_test: the test split.
        run_dirs: run directories (``settings.json`` + ``checkpoint.pt``).
        out_dir: results directory (created).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        flip: test-time flip averaging for the TCN models.
        progress: tqdm progress bar on stderr.
        plots: write the PNG plots.
    Returns:
        The ``results.json`` content.
    """
    from tqdm import tqdm

    from . import report

    if not sequences_test:
        raise OccposeError("no test sequences (is the data's test split empty?)")
    if not run_dirs:
        raise OccposeError("no runs to evaluate")
    dev = resolve_device(device)
    sequences = sorted(sequences_test, key=lambda s: s.id)
    num_joints = sequences[0].joints_2d.shape[1]
    run_dirs = [Path(d) for d in run_dirs]
    all_settings, labels = _check_runs(run_dirs, num_joints)
    skeleton = skeleton_for(num_joints, all_settings[0].skeleton)
    levels = sorted({float(s.level) for s in sequences})
    actions = sorted({s.action for s in sequences})
    axes = {"levels": [_level_name(v) for v in levels] + ["all"], "actions": actions + ["all"],
            "joints": list(skeleton.joint_names) + ["all"]}
    inputs: dict[str, list[Prepared]] = {}          # runs with the same inputs share them
    evals: list[_RunEval] = []
    picks: list[tuple[int, int]] = []
    bar = tqdm(total=len(run_dirs) * len(sequences), desc="evaluate", unit="seq",
               disable=not progress, file=sys.stderr)
    for run_dir in run_dirs:
        run = load_run(run_dir, dev, num_joints)                # one model in memory at a time
        if not run.complete:
            print(f"warning: {run.dir} has trained {run.epoch} of {run.settings.epochs} epochs; "
                  f"evaluating its last checkpoint", file=sys.stderr)
        s = run.settings
        key = json.dumps([s.keypoints2d, s.noise if s.keypoints2d == "noise" else None,
                          s.label_array if s.uses_occlusion else None], sort_keys=True)
        if key not in inputs:
            inputs[key] = prepare(sequences, s)
        if not evals:
            picks = _sample_frames(inputs[key])
        evals.append(_evaluate_run(run, inputs[key], levels, actions, flip, picks, dev, bar))
        del run
    bar.close()
    results = _assemble(evals, labels, axes, {
        "flip": flip, "sequences": len(sequences), "device": str(dev),
        "frames": int(sum(s.n_frames for s in sequences))})

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(results, indent=1) + "\n")
    report.write_csv(out / "results.csv", [(lab, ev.info["seed"]) for lab, ev in zip(labels, evals)],
                     [ev.cube for ev in evals], axes)
    atomic_write_text(out / "report.md", report.markdown(results))
    if plots:
        first = next(iter(inputs.values()))
        truth = [first[si].poses[f] for si, f in picks]
        samples: dict[str, list] = {}
        for lab, ev in zip(labels, evals):
            samples.setdefault(lab, ev.samples)                # first seed of each model
        report.plot_mpjpe_by_level(results, out / "mpjpe_by_level.png")
        report.plot_per_joint(results, out / "per_joint.png")
        report.plot_skeletons(truth, samples, skeleton, out / "skeletons_high_occlusion.png",
                              title=f"level {axes['levels'][-2]}")
    return results
