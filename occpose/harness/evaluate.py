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
  truth, in frame), the latter also split by its first blocker: ``occluded_by_body`` and
  ``occluded_by_object``. Out-of-frame joints count in ``all`` only; a velocity sample belongs
  to a split when the joint does in both frames.

Errors are summed per sequence (:class:`SequenceCube`: sequence x metric x split x joint) and
pooled over joint-frames into the cells of level x action x joint, each axis with an ``all``
entry. Runs are grouped into models by name (a suffix tells apart runs of one model with
different settings); every number is reported as the mean over seeds with a 95% interval from a
seeded bootstrap over test sequences (resampled by (subject, action) clip, :mod:`occpose.stats`;
for several seeds, of the seed-mean), and the spread over seeds (sample std, 0 for one seed, min,
max). Every model after the first also gets its paired difference to the first per level, with
its interval and verdict. ``occpose-bench score`` runs the same code on prediction files.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dataset.atomic import atomic_write_text
from ..dataset.poses import PoseSequence
from ..errors import OccposeError
from .. import stats
from ..metrics import procrustes_align, root_relative, scale_align
from .data import Prepared, prepare
from .device import resolve_device
from .checkpoint import CHECKPOINT_FILE
from .data import skeleton_for
from .inference import load_run, predict_sequence
from .settings import read_settings

__all__ = ["METRICS", "SPLITS", "UNITS", "joint_errors", "split_masks", "evaluate_runs",
           "run_labels", "SequenceCube", "SequenceLayout", "cube_statistics", "RunEval",
           "score_predictions", "assemble_results", "write_results", "test_axes"]

METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")
SPLITS = ("all", "visible", "occluded", "occluded_by_body", "occluded_by_object")
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


def split_masks(occluded: np.ndarray, out_of_frame: np.ndarray, by_body: np.ndarray | None = None,
                by_object: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """(T, J) bool masks of :data:`SPLITS`.

    ``occluded_by_body`` / ``occluded_by_object``: occluded in-frame joints whose first blocker
    is the body / an occluder (all False when the labels are not given).
    """
    occluded, out_of_frame = np.asarray(occluded, bool), np.asarray(out_of_frame, bool)
    hidden = occluded & ~out_of_frame
    none = np.zeros_like(occluded)
    return {"all": np.ones_like(occluded), "visible": ~occluded & ~out_of_frame,
            "occluded": hidden,
            "occluded_by_body": hidden & np.asarray(by_body, bool) if by_body is not None else none,
            "occluded_by_object": hidden & np.asarray(by_object, bool) if by_object is not None else none.copy()}


@dataclass
class SequenceCube:
    """Per-sequence error sums and joint-frame counts of one run: (N, metric, split, joint+1).

    The last joint entry is the sum over joints. Pooling any set of sequences is a sum over
    axis 0; :mod:`occpose.stats` resamples that axis for the intervals.
    """

    sums: np.ndarray
    counts: np.ndarray

    @classmethod
    def empty(cls, n_sequences: int, n_joints: int) -> "SequenceCube":
        shape = (n_sequences, len(METRICS), len(SPLITS), n_joints + 1)
        return cls(np.zeros(shape), np.zeros(shape, dtype=np.int64))

    def add(self, i: int, errors: dict, masks: dict) -> None:
        """Pool sequence ``i``'s :func:`joint_errors` under its :func:`split_masks`."""
        for mi, metric in enumerate(METRICS):
            err = errors[metric]
            for si, split in enumerate(SPLITS):
                m = masks[split]
                if metric == "mpjve":
                    m = m[1:] & m[:-1]
                s, c = np.where(m, err, 0.0).sum(0), m.sum(0)                   # (J,)
                self.sums[i, mi, si, :-1] = s
                self.counts[i, mi, si, :-1] = c
                self.sums[i, mi, si, -1] = s.sum()
                self.counts[i, mi, si, -1] = c.sum()


@dataclass
class SequenceLayout:
    """Which cells a test sequence belongs to, and its bootstrap cluster.

    Attributes:
        level: (N,) index into the levels; action: (N,) index into the actions.
        cluster: (N,) bootstrap cluster (one per (subject, action) clip: every camera and level
            of a clip shares its motion, so they are resampled together).
    """

    level: np.ndarray
    action: np.ndarray
    cluster: np.ndarray
    n_levels: int
    n_actions: int

    @classmethod
    def of(cls, items, levels: list[float], actions: list[str]) -> "SequenceLayout":
        """From anything with ``level``, ``action`` and ``subject`` (Prepared, PoseSequence)."""
        return cls(np.array([levels.index(float(p.level)) for p in items], dtype=np.int64),
                   np.array([actions.index(p.action) for p in items], dtype=np.int64),
                   stats.cluster_index((p.subject, p.action) for p in items),
                   len(levels), len(actions))

    def cells(self):
        """(level index, action index, sequence indices) of every (L+1) x (A+1) cell; the last
        index of each axis is ``all``."""
        for li in range(self.n_levels + 1):
            lm = np.ones(len(self.level), bool) if li == self.n_levels else self.level == li
            for ai in range(self.n_actions + 1):
                am = np.ones(len(self.action), bool) if ai == self.n_actions else self.action == ai
                yield li, ai, np.flatnonzero(lm & am)


def cube_statistics(models: list[list[SequenceCube]], layout: SequenceLayout,
                    pairs: list[tuple[int, int]] = (), n_boot: int = stats.N_BOOTSTRAP,
                    seed: int = stats.BOOTSTRAP_SEED) -> dict:
    """Point values and 95% intervals of every cell, for models of one or more seeds.

    Args:
        models: per model, its runs' (seeds') :class:`SequenceCube`.
        layout: the sequences' cells and clusters.
        pairs: (a, b) model indices whose paired difference a - b is wanted (by level, all
            actions and joints).
    Returns:
        ``values``: per model (seeds, L+1, A+1, M, S, J+1) pooled means of each run;
        ``low``/``high``: per model (L+1, A+1, M, S, J+1) interval of the seed-mean (per joint
        only for all levels and actions; NaN elsewhere: those cells are never reported);
        ``diff``: per pair (point, low, high) arrays (L+1, M, S).
    """
    w_all = stats.bootstrap_weights(layout.cluster, n_boot, seed)
    shape = (layout.n_levels + 1, layout.n_actions + 1) + models[0][0].sums.shape[1:]
    values = [np.full((len(runs),) + shape, np.nan) for runs in models]
    low = [np.full(shape, np.nan) for _ in models]
    high = [np.full(shape, np.nan) for _ in models]
    diff = {p: tuple(np.full((shape[0],) + shape[2:4], np.nan) for _ in range(3)) for p in pairs}
    for li, ai, idx in layout.cells():
        if not len(idx):
            continue
        w = w_all[:, idx]
        # per-joint intervals are reported for all levels and actions only (by_joint)
        joints = slice(None) if (li, ai) == (layout.n_levels, layout.n_actions) else slice(-1, None)
        seed_mean = []
        for k, runs in enumerate(models):
            reps = []
            for r, cube in enumerate(runs):
                values[k][r, li, ai] = stats.pooled_point(cube.sums[idx], cube.counts[idx])
                reps.append(stats.pooled_replicates(cube.sums[idx][..., joints],
                                                    cube.counts[idx][..., joints], w))
            reps = np.mean(reps, axis=0)                                  # (B, M, S, J+1 or 1)
            low[k][li, ai][..., joints], high[k][li, ai][..., joints] = stats.percentile_interval(reps)
            seed_mean.append(reps[..., -1])
        if ai == layout.n_actions:
            for a, b in pairs:
                point = (stats.seed_spread(values[a][:, li, ai, ..., -1])["mean"]
                         - stats.seed_spread(values[b][:, li, ai, ..., -1])["mean"])
                lo, hi = stats.percentile_interval(seed_mean[a] - seed_mean[b])
                diff[a, b][0][li], diff[a, b][1][li], diff[a, b][2][li] = point, lo, hi
    return {"values": values, "low": low, "high": high, "diff": diff}


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
class RunEval:
    """One run's (or prediction file's) per-sequence errors, poses at the sample frames and
    summary (``info``: at least ``run`` and ``seed``)."""

    cube: SequenceCube
    samples: list[np.ndarray]
    info: dict


def score_predictions(predictions, prepared: list[Prepared],
                      picks: list[tuple[int, int]] = ()) -> tuple[SequenceCube, list[np.ndarray]]:
    """Per-sequence errors of predicted poses (any iterable of (T, J, 3) metres, camera frame,
    in the order of ``prepared``; root-aligned here) and the poses at ``picks``."""
    cube = SequenceCube.empty(len(prepared), prepared[0].poses.shape[1]) if prepared else None
    picked = {}
    for i, (pred, p) in enumerate(zip(predictions, prepared)):
        pred = root_relative(np.asarray(pred, dtype=np.float64))
        cube.add(i, joint_errors(pred, p.poses), p.masks())
        picked.update({(i, f): pred[f] for si, f in picks if si == i})
    return cube, [picked[k] for k in picks]


CURVE_KEYS = ("train_mpjpe_mm", "train_eval_mpjpe_mm", "val_mpjpe_mm")


def learning_curve(metrics: list) -> list[dict]:
    """Per-epoch training (training mode, augmented windows), training (evaluation mode) and
    validation MPJPE in mm from a checkpoint's metrics; keys a run did not record are left out."""
    curve = []
    for m in metrics or []:
        if not isinstance(m, dict) or "epoch" not in m:
            continue
        row = {"epoch": int(m["epoch"])}
        row.update({k: _num(m[k]) for k in CURVE_KEYS if isinstance(m.get(k), (int, float))})
        curve.append(row)
    return curve


def _evaluate_run(run, prepared: list[Prepared], flip: bool, picks: list[tuple[int, int]],
                  dev, bar, keep: dict | None = None) -> RunEval:
    s = run.settings
    use_flip = flip and s.model in TCN_MODELS

    def predictions():
        for p in prepared:
            pred = predict_sequence(run.model, p, run.skeleton, dev, flip=use_flip)
            if keep is not None:
                keep[p.id] = pred
            yield pred
            bar.update(1)

    cube, samples = score_predictions(predictions(), prepared, picks)
    frames = sum(p.n_frames for p in prepared)
    # no measured times here: results are the same bytes for the same runs and data
    info = {"run": str(run.dir), "seed": s.seed, "epochs": run.epoch, "complete": run.complete,
            "flip": use_flip, "settings": s.to_dict(), "frames": frames,
            "curve": learning_curve(run.metrics)}
    return RunEval(cube, samples, info)


def _cell_fmt(v) -> dict:
    """A model's cell: mean/std/min/max/n over seeds, 95% interval of the seed-mean."""
    return {"mean": _num(v[0]), "ci_low": _num(v[5]), "ci_high": _num(v[6]), "std": _num(v[1]),
            "min": _num(v[2]), "max": _num(v[3]), "n": int(v[4])}


def _diff_fmt(names: tuple[str, str]):
    def fmt(v) -> dict:
        est, lo, hi = (float(x) for x in v)
        ok = bool(np.isfinite(est) and np.isfinite(lo) and np.isfinite(hi))
        return {"estimate": _num(est), "ci_low": _num(lo), "ci_high": _num(hi),
                "significant": bool(ok and (lo > 0 or hi < 0)),
                "verdict": stats.verdict(est, lo, hi, *names)}
    return fmt


def assemble_results(evals: list[RunEval], labels: list[str], axes: dict, header: dict,
                     layout: SequenceLayout, *, n_boot: int = stats.N_BOOTSTRAP,
                     boot_seed: int = stats.BOOTSTRAP_SEED, reference: int = 0) -> tuple[dict, list[np.ndarray]]:
    """The results.json document (per-run values, per-model statistics over seeds with 95%
    bootstrap intervals, paired differences of every model against model ``reference``, by
    default the first) and each run's
    (L+1, A+1, M, S, J+1) cube of values, in the order of ``evals``."""
    results = {"format": RESULTS_FORMAT, "metrics": list(METRICS), "splits": list(SPLITS),
               "units": UNITS, **axes, **header,
               "intervals": {"confidence": stats.CONFIDENCE, "method": "percentile bootstrap",
                             "resamples": n_boot, "seed": boot_seed,
                             "unit": "clips: all test sequences of one (subject, action)",
                             "clusters": int(len(np.unique(layout.cluster)))},
               "runs": [], "models": {}, "differences": {}}
    names = list(dict.fromkeys(labels))
    idx = {lab: [i for i, x in enumerate(labels) if x == lab] for lab in names}
    pairs = [(k, reference) for k in range(len(names)) if k != reference]
    st = cube_statistics([[evals[i].cube for i in idx[lab]] for lab in names], layout, pairs,
                         n_boot, boot_seed)
    cubes: list = [None] * len(evals)
    for k, lab in enumerate(names):
        for r, i in enumerate(idx[lab]):
            cubes[i] = st["values"][k][r]
            results["runs"].append((i, {**evals[i].info, "model": lab,
                                        **_slices(st["values"][k][r], axes, _num)}))
        sp = stats.seed_spread(st["values"][k])
        packed = np.stack([sp["mean"], sp["std"], sp["min"], sp["max"], sp["n"],
                           st["low"][k], st["high"][k]], -1)
        results["models"][lab] = {"seeds": [evals[i].info["seed"] for i in idx[lab]],
                                  "runs": [evals[i].info["run"] for i in idx[lab]],
                                  **_slices(packed, axes, _cell_fmt)}
    results["runs"] = [r for _, r in sorted(results["runs"], key=lambda x: x[0])]
    for a, b in pairs:
        cube = np.stack(st["diff"][a, b], -1)                                  # (L+1, M, S, 3)
        fmt = _diff_fmt((names[a], names[b]))
        results["differences"][names[a]] = {
            "minus": names[b],
            "by_level": {lv: {m: {s: fmt(cube[li, mi, si]) for si, s in enumerate(SPLITS)}
                              for mi, m in enumerate(METRICS)}
                         for li, lv in enumerate(axes["levels"])}}
    return results, cubes


def write_results(results: dict, cubes: list[np.ndarray], evals: list[RunEval], labels: list[str],
                  axes: dict, out_dir, *, plots: bool, truth: list[np.ndarray], skeleton,
                  title: str = "") -> None:
    """results.json, results.csv, report.md and (with ``plots``) the PNG plots, atomically."""
    from . import report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(results, indent=1) + "\n")
    report.write_csv(out / "results.csv", [(r["model"], r["seed"]) for r in results["runs"]],
                     cubes, axes)
    atomic_write_text(out / "report.md", report.markdown(results, title=title))
    if plots:
        samples: dict[str, list] = {}
        for lab, ev in zip(labels, evals):
            samples.setdefault(lab, ev.samples)                # first seed of each model
        report.plot_mpjpe_by_level(results, out / "mpjpe_by_level.png")
        report.plot_per_joint(results, out / "per_joint.png")
        if report.has_curves(results):
            report.plot_learning_curves(results, out / "learning_curves.png")
        report.plot_skeletons(truth, samples, skeleton, out / "skeletons_high_occlusion.png",
                              title=f"level {axes['levels'][-2]}")


def test_axes(sequences, skeleton) -> tuple[list[float], list[str], dict]:
    """Levels, actions and the results axes (level/action/joint names, each + ``all``)."""
    levels = sorted({float(s.level) for s in sequences})
    actions = sorted({s.action for s in sequences})
    axes = {"levels": [_level_name(v) for v in levels] + ["all"], "actions": actions + ["all"],
            "joints": list(skeleton.joint_names) + ["all"]}
    return levels, actions, axes


def evaluate_runs(sequences_test: list[PoseSequence], run_dirs: list[str | Path],
                  out_dir: str | Path, *, device: str = "auto", flip: bool = True,
                  progress: bool = True, plots: bool = True, n_boot: int = stats.N_BOOTSTRAP,
                  boot_seed: int = stats.BOOTSTRAP_SEED, loaded: list = (),
                  save_predictions: bool = False) -> dict:
    """Evaluate runs on test sequences and write the results (module docstring).

    Writes ``results.json``, ``results.csv`` (long format: model, seed, level, action, joint,
    metric, split, value), ``report.md`` and, with ``plots``, ``mpjpe_by_level.png``,
    ``per_joint.png``, ``skeletons_high_occlusion.png`` and ``learning_curves.png`` (the runs'
    per-epoch training / validation MPJPE, also a report section) into ``out_dir`` (atomically).

    Args:
        sequences_test: the test split.
        run_dirs: run directories (``settings.json`` + ``checkpoint.pt``).
        out_dir: results directory (created).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        flip: test-time flip averaging for the TCN models.
        progress: tqdm progress bar on stderr.
        plots: write the PNG plots.
        n_boot, boot_seed: bootstrap resamples and seed of the intervals (:mod:`occpose.stats`).
        loaded: further runs already loaded (:class:`~.inference.LoadedRun`, e.g. VideoPose3D
            checkpoints from :func:`~.vp3d_checkpoint.load_videopose3d_run`), labelled
            ``videopose3d:<file name>``.
        save_predictions: also write each run's predictions as a prediction file for
            ``occpose-bench score``: ``out_dir/predictions/<run folder or checkpoint name>.npz``
            (one (T, J, 3) float32 array per test sequence id, root-relative metres).
    Returns:
        The ``results.json`` content.
    """
    from tqdm import tqdm

    if not sequences_test:
        raise OccposeError("no test sequences (is the data's test split empty?)")
    if not run_dirs and not loaded:
        raise OccposeError("no runs to evaluate")
    dev = resolve_device(device)
    sequences = sorted(sequences_test, key=lambda s: s.id)
    num_joints = sequences[0].joints_2d.shape[1]
    run_dirs = [Path(d) for d in run_dirs]
    all_settings, labels = _check_runs(run_dirs, num_joints) if run_dirs else ([], [])
    for r in loaded:
        if r.skeleton.num_joints != num_joints:
            raise OccposeError(f"{r.dir}: the model has {r.skeleton.num_joints} joints, the test "
                               f"data {num_joints}")
        all_settings.append(r.settings)
        labels.append(f"videopose3d:{r.dir.name}")
    if len(set(labels[len(run_dirs):])) != len(loaded):
        raise OccposeError("two --videopose3d checkpoints with the same file name; rename one")
    skeleton = skeleton_for(num_joints, all_settings[0].skeleton)
    levels, actions, axes = test_axes(sequences, skeleton)
    inputs: dict[str, list[Prepared]] = {}          # runs with the same inputs share them
    evals: list[RunEval] = []
    picks: list[tuple[int, int]] = []
    bar = tqdm(total=(len(run_dirs) + len(loaded)) * len(sequences), desc="evaluate", unit="seq",
               disable=not progress, file=sys.stderr)
    saved: set[str] = set()
    for item in [*run_dirs, *loaded]:
        # one model in memory at a time (the already loaded ones aside)
        run = load_run(item, dev, num_joints) if isinstance(item, Path) else item
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
        keep: dict | None = {} if save_predictions else None
        evals.append(_evaluate_run(run, inputs[key], flip, picks, dev, bar, keep))
        if keep is not None:
            from ..dataset.npz import write_npz

            name = run.dir.name
            while name in saved:                        # two runs in folders of one name
                name += "_"
            saved.add(name)
            write_npz(Path(out_dir) / "predictions" / f"{name}.npz", keep)
        del run
    bar.close()
    first = next(iter(inputs.values()))
    layout = SequenceLayout.of(first, levels, actions)
    results, cubes = assemble_results(evals, labels, axes, {
        "flip": flip, "sequences": len(sequences), "device": str(dev),
        "frames": int(sum(s.n_frames for s in sequences))}, layout, n_boot=n_boot,
        boot_seed=boot_seed)
    write_results(results, cubes, evals, labels, axes, out_dir, plots=plots,
                  truth=[first[si].poses[f] for si, f in picks], skeleton=skeleton)
    return results
