"""Evaluating image-model runs level by level, and the paper's augmentation ablation table.

:func:`evaluate_image_run` reads ``RUN/predictions3d`` and ``RUN/keypoints2d`` (written by
:func:`occpose.image.predict.predict_benchmark`) for the sequences of one split and pools
joint-frames per target occlusion level. Only frames predicted from an image count (not the
interpolated ones). Poses are root-relative, compared in millimetres with
:mod:`occpose.metrics`: ``mpjpe`` (protocol 1), ``p_mpjpe`` (protocol 2), ``n_mpjpe``, each
also over ``visible`` (not ``occluded``, in frame) and ``occluded`` (ray-cast truth, in frame)
joints, the same splits as the harness; plus the mean 2D error in rendered pixels.

:func:`ablation_table` puts runs side by side (e.g. ``p=0`` and ``p=0.5``): MPJPE per level of
all and of occluded joints, and the difference of the last run to the first.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import markdown, stats
from ..errors import OccposeError
from ..harness.evaluate import split_masks
from ..metrics import mpjpe, n_mpjpe, p_mpjpe, root_relative
from .predict import PREDICT_FILE

__all__ = ["evaluate_image_run", "ablation_table", "compare_image_runs"]


def _load(run: Path, kind: str, seq_id: str, shape: tuple) -> np.ndarray:
    path = run / kind / f"{seq_id}.npy"
    if not path.is_file():
        raise OccposeError(f"{path}: missing; run `occpose-bench image-predict --run {run}` on "
                           f"this benchmark first")
    arr = np.load(path, allow_pickle=False)
    if arr.shape != shape:
        raise OccposeError(f"{path}: shape {arr.shape}, expected {shape}")
    return arr


def _scores(pred, gt, pred2d, gt2d, occluded, out_of_frame) -> dict:
    """Pooled metrics (mm, px) of (N, J, ...) arrays."""
    masks = split_masks(occluded, out_of_frame)
    vis, occ = masks["visible"], masks["occluded"]
    mm_p, mm_g = pred * 1000.0, gt * 1000.0
    err2d = np.linalg.norm(pred2d - gt2d, axis=-1)
    out = {"frames": int(len(pred)), "joints_occluded": float(occ.mean()) if occ.size else 0.0}
    for name, fn in (("mpjpe", mpjpe), ("p_mpjpe", p_mpjpe), ("n_mpjpe", n_mpjpe)):
        out[name] = float(fn(mm_p, mm_g))
        out[f"{name}_visible"] = float(fn(mm_p, mm_g, vis))
        out[f"{name}_occluded"] = float(fn(mm_p, mm_g, occ))
    out["err2d_px"] = float(err2d.mean())
    out["err2d_px_visible"] = float(err2d[vis].mean()) if vis.any() else float("nan")
    out["err2d_px_occluded"] = float(err2d[occ].mean()) if occ.any() else float("nan")
    return out


def evaluate_image_run(bench, run_dir: str | Path, split: str = "test", write: bool = True) -> dict:
    """MPJPE etc. by occlusion level of an image run's predictions (module docstring).

    Args:
        bench: a :class:`~occpose.dataset.Benchmark` or its directory.
        split: ``"test"``, ``"train"`` or None for all sequences.
        write: also write ``RUN/image_eval_<split>.json``.
    Returns:
        ``{"run", "split", "root_depth", "levels": {"0.0": scores, ...}, "all": scores}`` where
        scores hold ``mpjpe``, ``p_mpjpe``, ``n_mpjpe`` (+ ``_visible``/``_occluded``) in mm,
        ``err2d_px`` (+ splits), ``frames`` and ``joints_occluded``.
    """
    bench = _open(bench)
    return _score_run(bench, _truth(bench, split), run_dir, split, write)


def _open(bench):
    from ..dataset import open_benchmark

    return open_benchmark(bench) if isinstance(bench, (str, Path)) else bench


def _truth(bench, split: str | None) -> list:
    """The ground truth each run is scored against, loaded once for any number of runs:
    (entry, root-relative camera joints, 2D joints, occluded, out_of_frame) per sequence."""
    entries = bench.select(split=split)
    if not entries:
        raise OccposeError(f"{bench.root}: no sequences in split {split!r}")
    truth = []
    for e in entries:
        seq = bench.load(e)
        truth.append((e, root_relative(seq.joints_3d_cam), seq.joints_2d, seq.occluded,
                       seq.out_of_frame))
    return truth


def _per_sequence(e, pred, gt, occluded, out_of_frame) -> tuple:
    """(level, cluster key, MPJPE sum and count of all joints, of occluded joints) of a sequence."""
    err = np.linalg.norm(pred - gt, axis=-1) * 1000.0                         # (T', J) mm
    occ = split_masks(occluded, out_of_frame)["occluded"]
    return (round(float(e.target_level), 6), f"{e.subject}/{e.action}", float(err.sum()),
            int(err.size), float(err[occ].sum()), int(occ.sum()))


def _add_intervals(levels: dict, total: dict, per_seq: dict) -> None:
    """95% bootstrap intervals (over sequences, by clip) of MPJPE and occluded MPJPE."""
    w = stats.bootstrap_weights(stats.cluster_index(per_seq["cluster"]))
    sums = np.stack([per_seq["mpjpe_sum"], per_seq["occluded_sum"]], 1)          # (N, 2)
    counts = np.stack([per_seq["mpjpe_count"], per_seq["occluded_count"]], 1)
    lv = np.array(per_seq["level"])
    for key, block in [*levels.items(), ("all", total)]:
        idx = np.arange(len(lv)) if key == "all" else np.flatnonzero(lv == float(key))
        lo, hi = stats.percentile_interval(stats.pooled_replicates(sums[idx], counts[idx], w[:, idx]))
        block["mpjpe_ci"] = [float(lo[0]), float(hi[0])]
        block["mpjpe_occluded_ci"] = [float(lo[1]), float(hi[1])]


def _score_run(bench, truth: list, run_dir: str | Path, split: str | None, write: bool) -> dict:
    run = Path(run_dir)
    pooled: dict[float, list] = {}
    per_seq: dict[str, list] = {k: [] for k in ("id", "level", "cluster", "mpjpe_sum", "mpjpe_count",
                                                "occluded_sum", "occluded_count")}
    for e, gt, gt2d, occluded, out_of_frame in truth:
        t, j = e.frames, bench.skeleton.num_joints
        known = _load(run, "predicted_frames", e.id, (t,)).astype(bool)
        pred = _load(run, "predictions3d", e.id, (t, j, 3))[known]
        pred2d = _load(run, "keypoints2d", e.id, (t, j, 2))[known]
        parts = (pred.astype(np.float64), gt[known].astype(np.float64), pred2d, gt2d[known],
                 occluded[known], out_of_frame[known])
        pooled.setdefault(round(float(e.target_level), 6), []).append(parts)
        per_seq["id"].append(e.id)
        for k, v in zip(list(per_seq)[1:], _per_sequence(e, *parts[:2], *parts[4:])):
            per_seq[k].append(v)
    levels, everything = {}, []
    for level in sorted(pooled):
        cat = [np.concatenate(x) for x in zip(*pooled[level])]
        if len(cat[0]):
            levels[str(level)] = _scores(*cat)
            everything.append(cat)
    if not everything:
        raise OccposeError(f"{run}: no predicted frames in split {split!r}")
    total = _scores(*[np.concatenate(x) for x in zip(*everything)])
    _add_intervals(levels, total, per_seq)
    meta = {}
    if (run / PREDICT_FILE).is_file():
        meta = json.loads((run / PREDICT_FILE).read_text("utf-8"))
    result = {"run": str(run), "split": split, "root_depth": meta.get("root_depth"),
              "flip": meta.get("flip"), "levels": levels, "all": total, "per_sequence": per_seq}
    if write:
        from ..dataset.atomic import atomic_write_text

        atomic_write_text(run / f"image_eval_{split}.json", json.dumps(result, indent=1) + "\n")
    return result


def _fmt(x: float, ci=None) -> str:
    if x != x:
        return "-"
    return f"{x:.1f}" + (f" [{ci[0]:.1f}–{ci[1]:.1f}]" if ci and ci[0] == ci[0] else "")


def _paired(a: dict, b: dict, level: str) -> list[str]:
    """Paired difference a - b (all joints, occluded joints) on one level, with 95% interval."""
    pa, pb = a.get("per_sequence"), b.get("per_sequence")
    if not pa or not pb or pa["id"] != pb["id"]:
        return ["-", "-"]
    lv = np.array(pa["level"])
    idx = np.arange(len(lv)) if level == "all" else np.flatnonzero(lv == float(level))
    if not len(idx):
        return ["-", "-"]
    w = stats.bootstrap_weights(stats.cluster_index(pa["cluster"]))[:, idx]
    cells = []
    for key in ("mpjpe", "occluded"):
        sa, ca = np.array(pa[f"{key}_sum"])[idx], np.array(pa[f"{key}_count"])[idx]
        sb, cb = np.array(pb[f"{key}_sum"])[idx], np.array(pb[f"{key}_count"])[idx]
        est = float(stats.pooled_point(sa, ca) - stats.pooled_point(sb, cb))
        lo, hi = stats.percentile_interval(stats.pooled_replicates(sa, ca, w)
                                           - stats.pooled_replicates(sb, cb, w))
        cells.append("-" if est != est else f"{est:+.1f} [{float(lo):+.1f}, {float(hi):+.1f}]"
                     + (" *" if lo > 0 or hi < 0 else ""))
    return cells


def ablation_table(results: dict[str, dict]) -> str:
    """Markdown table of MPJPE (mm) by level for runs ``{label: evaluate_image_run(...)}``.

    Columns per run: MPJPE of all joints and of occluded joints, each with its 95% bootstrap
    interval over sequences (resampled by (subject, action) clip, :mod:`occpose.stats`); with two
    or more runs, the paired change of the last run against the first with its interval
    (negative = better; ``*`` = the interval excludes 0).
    """
    if not results:
        raise ValueError("ablation_table needs at least one run")
    labels = list(results)
    head = ["level"] + [f"{lab} {what}" for lab in labels for what in ("MPJPE", "occl. MPJPE")]
    if len(labels) > 1:
        head += [f"Δ {labels[-1]} vs {labels[0]}", "Δ occl."]
    rows = []
    levels = sorted({lv for r in results.values() for lv in r["levels"]}, key=float)
    for lv in levels + ["all"]:
        cells = [lv]
        for lab in labels:
            s = results[lab]["all"] if lv == "all" else results[lab]["levels"].get(lv, {})
            a, o = s.get("mpjpe", float("nan")), s.get("mpjpe_occluded", float("nan"))
            cells += [_fmt(a, s.get("mpjpe_ci")), _fmt(o, s.get("mpjpe_occluded_ci"))]
        if len(labels) > 1:
            cells += _paired(results[labels[-1]], results[labels[0]], lv)
        rows.append(cells)
    return markdown.table(head, rows) + "\n"


def compare_image_runs(bench, runs: dict[str, str | Path], split: str = "test") -> tuple[dict, str]:
    """Evaluate several runs (e.g. ``{"p=0": RUN0, "p=0.5": RUN1}``): (results, markdown table)."""
    bench = _open(bench)
    truth = _truth(bench, split)
    results = {label: _score_run(bench, truth, run, split, True) for label, run in runs.items()}
    return results, ablation_table(results)
