"""Calibrating the detector-noise model to an image model's 2D detections.

``occpose-bench calibrate-noise --data RENDERED --run IMAGE_RUN --out DIR`` measures, on the
rendered frames of one split (default ``train``), the error of the image model's detections
(``IMAGE_RUN/keypoints2d/<id>.npy``) against the exact projections, per joint state
(:data:`occpose.harness.inputs.STATES`) and occlusion level, in pixels of a 1000 px wide image
(the unit of :class:`occpose.config.NoiseSection`), and fits the noise model per state.

**The fit.** The detector-noise model gives a joint-frame of a state an isotropic Gaussian
error of ``std`` px per axis and, with probability ``outlier_prob``, an independent extra
Gaussian displacement of ``outlier_std`` px per axis. Its error is therefore a zero-mean scale
mixture of two isotropic 2D Gaussians, per axis ``s1 = std`` (weight ``1 - p``) and
``s2 = sqrt(std^2 + outlier_std^2)`` (weight ``p``), and depends on the error vector only
through its squared length ``r^2``. :func:`fit_mixture` is the maximum-likelihood fit of
exactly this model by EM (closed-form M step: ``p`` = mean responsibility, ``s_k^2`` =
responsibility-weighted mean of ``r^2 / 2``), started from a robust guess (``s1`` from the
median radius, ``s2 = 5 s1``, ``p = 0.1``). The one-Gaussian model (``p = 0``) is kept
instead when its BIC is lower (no evidence for outliers). Then ``outlier_std =
sqrt(s2^2 - s1^2)``. The shared ``occluded_std`` / ``outlier_*`` fields (used for occluded
joints without a body/object label, imported data) are fitted on both occluded states pooled.

**Checks**, written next to the fit (:func:`calibrate`): per state and level the measured
mean radial error with a 95% interval (bootstrap over (subject, action) clips,
:mod:`occpose.stats`) against the fitted state's mean (so a level dependence *within* a state
shows), per level the measured mean against the prediction of the states' mix (the fitted
per-state means weighted by that level's joint-frame counts) and against a simulation of the
written ``[train.noise]`` table through :func:`~occpose.harness.inputs.detector_noise` (the
inputs a TCN would train on: with clipping to the image and dropouts); the persistence of
errors between consecutive rendered frames (vector correlation, and how much more likely a
large error is after a large error of the same joint than overall), measured and simulated;
and the other split's measured errors (never fitted on).

**Dropouts.** The model's dropout holds a joint's previous-frame output. Detections exist only
on rendered frames (every ``frame_stride``-th frame), so a one-frame hold cannot be seen in
them; what can be seen is persistence at the render stride. ``dropout_prob`` is written as 0
(the measured per-frame error distribution is the fitted mixture and nothing in the data asks
for holds); the persistence statistics say whether the errors are temporally correlated, which
neither outliers nor one-frame holds reproduce (docs/presets.md, "Calibrating the noise").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OccposeError
from .inputs import STATES, _load_detector, detector_noise, joint_states

__all__ = ["Measurement", "measure", "fit_mixture", "fit_states", "calibrate", "write_outputs",
           "mixture_mean_radius", "noise_table"]

SCALE_WIDTH = 1000.0
LARGE = 4.0            # "large" error: r > LARGE * fitted core std (a core Gaussian: p = exp(-8))
TABLE_FIELDS = {       # state -> NoiseSection fields (std, outlier prob, outlier std)
    "visible": ("visible_std", "visible_outlier_prob", "visible_outlier_std"),
    "occluded_by_body": ("body_std", "body_outlier_prob", "body_outlier_std"),
    "occluded_by_object": ("object_std", "object_outlier_prob", "object_outlier_std"),
    "out_of_frame": ("out_of_frame_std", "out_of_frame_outlier_prob", "out_of_frame_outlier_std"),
    "occluded": ("occluded_std", "outlier_prob", "outlier_std"),
}


@dataclass
class Measurement:
    """Detection errors of the rendered joint-frames of one split.

    Attributes:
        errors: (N, 2) float64 detection - exact projection, pixels of a 1000 px wide image.
        states: (N,) int8 joint state codes (index into :data:`STATES`).
        levels: (N,) float64 target occlusion level of the sequence.
        seq: (N,) int64 index into ``ids``; frame, joint: (N,) int64.
        ids, clips: per sequence, its id and its (subject, action) bootstrap cluster.
        sequences: per sequence, what :func:`simulate` needs (PoseSequence, rendered mask).
    """

    errors: np.ndarray
    states: np.ndarray
    levels: np.ndarray
    seq: np.ndarray
    frame: np.ndarray
    joint: np.ndarray
    ids: list
    clips: list
    sequences: list

    @property
    def radius(self) -> np.ndarray:
        return np.sqrt((self.errors ** 2).sum(1))


def measure(bench, run: Path, split: str) -> Measurement:
    """Errors of ``run``'s detections on the rendered frames of ``split`` (module docstring)."""
    from ..dataset.poses import from_benchmark

    entries = [e for e in bench.entries if e.split == split]
    if not entries:
        raise OccposeError(f"--data {bench.root}: no sequences in the {split} split")
    parts = {k: [] for k in ("errors", "states", "levels", "seq", "frame", "joint")}
    ids, clips, sequences = [], [], []
    any_rendered_array = False
    for entry in entries:
        arrays = bench.load(entry)
        if "rendered" not in arrays.arrays:
            continue
        any_rendered_array = True
        rendered = np.asarray(arrays.rendered, dtype=bool)
        if not rendered.any():
            continue
        (pseq,) = from_benchmark(bench, [entry])
        for name in ("occluded_by_body", "occluded_by_object", "out_of_frame"):
            if name not in pseq.labels:
                raise OccposeError(f"{bench.root}: sequence {entry.id} has no {name!r} labels; "
                                   f"the joint states need them")
        det = _load_detector(pseq, run).astype(np.float64)
        states = joint_states(pseq)
        t_idx = np.flatnonzero(rendered)
        err = (det[t_idx] - pseq.joints_2d[t_idx].astype(np.float64)) * (SCALE_WIDTH / pseq.width)
        n_j = err.shape[1]
        k = len(ids)
        parts["errors"].append(err.reshape(-1, 2))
        parts["states"].append(states[t_idx].reshape(-1))
        parts["levels"].append(np.full(err.shape[0] * n_j, float(entry.target_level)))
        parts["seq"].append(np.full(err.shape[0] * n_j, k, dtype=np.int64))
        parts["frame"].append(np.repeat(t_idx, n_j).astype(np.int64))
        parts["joint"].append(np.tile(np.arange(n_j, dtype=np.int64), len(t_idx)))
        ids.append(entry.id)
        clips.append((entry.subject, entry.action))
        sequences.append((pseq, rendered))
    if not any_rendered_array:
        raise OccposeError(f"--data {bench.root}: not a rendered benchmark (no 'rendered' frames "
                           f"array; render it with the Blender backend, docs/format.md)")
    if not ids:
        raise OccposeError(f"--data {bench.root}: no rendered frames in the {split} split")
    m = Measurement(**{k: np.concatenate(v) for k, v in parts.items()}, ids=ids, clips=clips,
                    sequences=sequences)
    if (m.states > 3).any():
        raise OccposeError(f"--data {bench.root}: occluded joints without an occluded_by_body or "
                           f"occluded_by_object label")
    return m


# ------------------------------------------------------------------------------------ the fit
def _log_component(r2: np.ndarray, var: float) -> np.ndarray:
    """log density of an isotropic 2D Gaussian of per-axis variance ``var`` at squared radius."""
    return -math.log(2 * math.pi * var) - r2 / (2 * var)


def fit_mixture(errors: np.ndarray, max_iter: int = 2000, tol: float = 1e-9) -> dict:
    """Maximum-likelihood fit of the noise model of one state (module docstring).

    Args:
        errors: (N, 2) error vectors, N >= 1.
    Returns:
        dict: ``std``, ``outlier_prob``, ``outlier_std`` (the NoiseSection values), ``s1``,
        ``s2`` (per-axis stds of the two components), ``n``, ``iterations``, ``loglik`` and
        ``bic`` of the chosen model, ``bic_one`` / ``bic_two`` of both, ``outliers``
        (whether the two-component model was chosen).
    """
    e = np.asarray(errors, dtype=np.float64)
    r2 = (e ** 2).sum(1)
    n = len(r2)
    floor = 1e-12
    var_one = max(float(r2.mean()) / 2, floor)
    ll_one = float(_log_component(r2, var_one).sum())
    bic_one = -2 * ll_one + 1 * math.log(n)
    # EM for two components, started from a robust guess.
    v1 = max(float(np.median(r2)) / (2 * math.log(2)), floor)
    v2, p = 25.0 * v1, 0.1
    ll, it = -np.inf, 0
    for it in range(1, max_iter + 1):
        a = math.log(1 - p) + _log_component(r2, v1)
        b = math.log(p) + _log_component(r2, v2)
        top = np.logaddexp(a, b)
        new_ll = float(top.sum())
        w = np.exp(b - top)                                   # responsibility of the wide one
        sw = float(w.sum())
        p = min(max(sw / n, 1e-9), 1 - 1e-9)
        v1 = max(float(((1 - w) * r2).sum()) / (2 * max(n - sw, 1e-300)), floor)
        v2 = max(float((w * r2).sum()) / (2 * max(sw, 1e-300)), floor)
        if v2 < v1:                                           # keep component 1 the core
            v1, v2, p = v2, v1, 1 - p
        if new_ll - ll <= tol * n:
            ll = new_ll
            break
        ll = new_ll
    a = math.log(1 - p) + _log_component(r2, v1)
    b = math.log(p) + _log_component(r2, v2)
    ll_two = float(np.logaddexp(a, b).sum())
    bic_two = -2 * ll_two + 3 * math.log(n)
    two = bic_two < bic_one
    if two:
        s1, s2 = math.sqrt(v1), math.sqrt(v2)
        res = dict(std=s1, outlier_prob=p, outlier_std=math.sqrt(max(v2 - v1, 0.0)), s1=s1, s2=s2,
                   loglik=ll_two, bic=bic_two)
    else:
        s = math.sqrt(var_one)
        res = dict(std=s, outlier_prob=0.0, outlier_std=0.0, s1=s, s2=s, loglik=ll_one, bic=bic_one)
    res.update(n=n, iterations=it, bic_one=bic_one, bic_two=bic_two, outliers=bool(two))
    return res


def mixture_mean_radius(fit: dict) -> float:
    """Mean error length of a fitted state: ``sqrt(pi / 2)`` times the mixture of the stds."""
    p = fit["outlier_prob"]
    return math.sqrt(math.pi / 2) * ((1 - p) * fit["s1"] + p * fit["s2"])


def mixture_cdf(fit: dict, r: np.ndarray) -> np.ndarray:
    """P(error length <= r) of a fitted state (Rayleigh mixture)."""
    p = fit["outlier_prob"]
    r = np.asarray(r, np.float64)
    return (1 - p) * (1 - np.exp(-r ** 2 / (2 * fit["s1"] ** 2))) + p * (1 - np.exp(-r ** 2 / (2 * fit["s2"] ** 2)))


def fit_states(m: Measurement, allow_missing: bool = False) -> dict:
    """Fit per state (and ``occluded``: body and object pooled).

    A state without joint-frames is refused, unless ``allow_missing`` (for the hidden states):
    then its fit is None and its keys stay unset (the shared ``occluded`` values apply). The
    visible state and at least one occluded state are always needed.
    """
    fits = {}
    for code, name in enumerate(STATES):
        sel = m.states == code
        if not sel.any():
            if allow_missing and code != 0:
                fits[name] = None
                continue
            hint = ("; --allow-missing-states leaves its keys unset (the shared occluded_* "
                    "values apply)" if code != 0 else "")
            raise OccposeError(f"no rendered {name} joint-frames in this split, so its noise "
                               f"cannot be fitted{hint}")
        fits[name] = fit_mixture(m.errors[sel])
    occluded = (m.states == 1) | (m.states == 2)
    if not occluded.any():
        raise OccposeError("no rendered occluded joint-frames in this split, so the occluded "
                           "noise cannot be fitted")
    fits["occluded"] = fit_mixture(m.errors[occluded])
    return fits


def noise_table(fits: dict) -> dict:
    """The ``[train.noise]`` values of the fits (rounded to 4 significant digits)."""
    def r4(v: float) -> float:
        return float(f"{v:.4g}")

    table = {}
    for state in ("visible", "occluded", "occluded_by_body", "occluded_by_object", "out_of_frame"):
        f = fits[state]
        if f is None:
            continue
        std_k, prob_k, ostd_k = TABLE_FIELDS[state]
        table[std_k] = r4(f["std"])
        table[prob_k] = r4(f["outlier_prob"])
        table[ostd_k] = r4(f["outlier_std"])
        if state == "occluded":
            table["dropout_prob"] = 0.0
    return table


# --------------------------------------------------------------------------- measured stats
def _intervals(seq: np.ndarray, n_seq: int, value: np.ndarray, cells: np.ndarray, n_cells: int,
               weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pooled mean of ``value`` per cell with its bootstrap interval over the sequences
    (``weights``: (B, n_seq)): arrays (n, mean, low, high) over the cells."""
    from ..stats import percentile_interval, pooled_point, pooled_replicates

    sums = np.zeros((n_seq, n_cells))
    counts = np.zeros((n_seq, n_cells))
    np.add.at(sums, (seq, cells), value)
    np.add.at(counts, (seq, cells), 1.0)
    point = pooled_point(sums, counts)
    lo, hi = percentile_interval(pooled_replicates(sums, counts, weights))
    return counts.sum(0), point, lo, hi


def _num(v) -> float | None:
    v = float(v)
    return None if not math.isfinite(v) else v


def measured_stats(m: Measurement, fits: dict | None, levels: list[float], weights) -> dict:
    """Per state x level (and "all"): n, mean radius, per-axis rms and mean (bias), the fraction
    of large errors (r > LARGE x the fitted core std), each with a 95% interval; median and 90th
    percentile radius without one."""
    r = m.radius
    lv_index = np.searchsorted(levels, m.levels)
    n_lv = len(levels) + 1
    out = {}
    for code, name in enumerate(STATES):
        keep = m.states == code
        if not keep.any():
            out[name] = {}
            continue
        e, cells = m.errors[keep], lv_index[keep]
        rows: dict[str, dict] = {}
        stats = {"mean_radius": r[keep], "mean_x": e[:, 0], "mean_y": e[:, 1],
                 "ms_x": e[:, 0] ** 2, "ms_y": e[:, 1] ** 2}
        if fits is not None and fits.get(name) is not None:
            stats["large_fraction"] = (r[keep] > LARGE * fits[name]["s1"]).astype(np.float64)
        # every joint-frame counted twice: in its level's cell and in cell n_lv - 1 ("all")
        both = np.concatenate([cells, np.full(len(cells), n_lv - 1)])
        seq2 = np.concatenate([m.seq[keep], m.seq[keep]])
        per_cell = {key: _intervals(seq2, len(m.ids), np.concatenate([value, value]), both, n_lv,
                                    weights)
                    for key, value in stats.items()}
        for c in range(n_lv):
            label = "all" if c == n_lv - 1 else f"{levels[c]:g}"
            n = int(per_cell["mean_radius"][0][c])
            if n == 0:
                continue
            row = {"n": n}
            for key, (_, point, lo, hi) in per_cell.items():
                if key.startswith("ms_"):
                    row["rms_" + key[3:]] = [_num(np.sqrt(point[c])), _num(np.sqrt(lo[c])), _num(np.sqrt(hi[c]))]
                else:
                    row[key] = [_num(point[c]), _num(lo[c]), _num(hi[c])]
            rc = r[keep][cells == c] if c < n_lv - 1 else r[keep]
            row["median_radius"] = _num(np.median(rc))
            row["p90_radius"] = _num(np.percentile(rc, 90))
            rows[label] = row
        out[name] = rows
    return out


def level_means(m: Measurement, levels: list[float], weights, values=None) -> dict:
    """Per level: n and the pooled mean radius (or of ``values``) with its interval."""
    lv_index = np.searchsorted(levels, m.levels)
    n, point, lo, hi = _intervals(m.seq, len(m.ids), m.radius if values is None else values,
                                  lv_index, len(levels), weights)
    return {f"{lv:g}": {"n": int(n[i]), "mean_radius": [_num(point[i]), _num(lo[i]), _num(hi[i])]}
            for i, lv in enumerate(levels) if n[i] > 0}


def simulate(m: Measurement, table: dict) -> np.ndarray:
    """(N, 2) errors of the written table on the measured joint-frames: the noise stream that
    ``--keypoints2d noise`` gives each sequence (its id's generator), rendered frames only."""
    from ..rng import key_rng

    out = []
    for pseq, rendered in m.sequences:
        states = joint_states(pseq)
        k = detector_noise(pseq.joints_2d, states != 0, pseq.width, pseq.height, table,
                           key_rng("keypoints2d-noise", pseq.id), states)
        err = (k.pixels.astype(np.float64) - pseq.joints_2d.astype(np.float64)) * (SCALE_WIDTH / pseq.width)
        out.append(err[np.flatnonzero(rendered)].reshape(-1, 2))
    return np.concatenate(out)


def persistence(m: Measurement, errors: np.ndarray, fits: dict, weights: np.ndarray) -> dict:
    """Per state: statistics of pairs of consecutive rendered frames of a joint in that state
    (``lag_frames``: the commonest gap): the vector correlation ``sum e_t . e_t' /
    sqrt(sum |e_t|^2 sum |e_t'|^2)`` (0 for independent zero-mean errors) and the ratio
    P(large at t' | large at t) / P(large) (1 for independent ones), each with a 95% interval
    from the same bootstrap over clips (``weights``: (B, sequences))."""
    from ..stats import percentile_interval

    order = np.lexsort((m.frame, m.joint, m.seq))
    seq, joint, frame = m.seq[order], m.joint[order], m.frame[order]
    e, st = errors[order], m.states[order]
    nxt = (seq[1:] == seq[:-1]) & (joint[1:] == joint[:-1])
    n_seq = len(m.ids)
    out = {}
    for code, name in enumerate(STATES):
        pair = nxt & (st[1:] == code) & (st[:-1] == code)
        if pair.sum() < 2:
            out[name] = {"pairs": int(pair.sum())}
            continue
        a, b, where = e[:-1][pair], e[1:][pair], seq[:-1][pair]
        thr = LARGE * fits[name]["s1"]
        la, lb = np.sqrt((a ** 2).sum(1)) > thr, np.sqrt((b ** 2).sum(1)) > thr
        # per-sequence sums: a.b, |a|^2, |b|^2, large at t, large at both, large at t or t', pairs
        terms = np.stack([(a * b).sum(1), (a ** 2).sum(1), (b ** 2).sum(1), la, la & lb,
                          la.astype(np.float64) + lb, np.ones(len(a))], axis=1)
        sums = np.zeros((n_seq, terms.shape[1]))
        np.add.at(sums, where, terms)

        def stats(tot):                                                       # tot: (..., 7)
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = tot[..., 0] / np.sqrt(tot[..., 1] * tot[..., 2])
                ratio = (tot[..., 4] / tot[..., 3]) / (tot[..., 5] / (2 * tot[..., 6]))
            return corr, ratio

        corr, ratio = stats(sums.sum(0))
        rep_corr, rep_ratio = stats(weights @ sums)
        c_lo, c_hi = percentile_interval(np.where(np.isfinite(rep_corr), rep_corr, np.nan))
        r_lo, r_hi = percentile_interval(np.where(np.isfinite(rep_ratio), rep_ratio, np.nan))
        gaps = (frame[1:] - frame[:-1])[pair]
        out[name] = {"pairs": int(pair.sum()), "lag_frames": int(np.bincount(gaps).argmax()),
                     "correlation": [_num(corr), _num(c_lo), _num(c_hi)],
                     "large_fraction": _num(sums[:, 5].sum() / (2 * sums[:, 6].sum())),
                     "large_after_large_ratio": [_num(ratio), _num(r_lo), _num(r_hi)]}
    return out


# ---------------------------------------------------------------------------------- the run
def calibrate(bench, run: Path, split: str = "train", allow_missing: bool = False) -> dict:
    """Measure, fit and check (module docstring); returns the ``calibration.json`` document
    (without provenance) plus ``"_plot"`` arrays for :func:`write_outputs`."""
    from ..stats import bootstrap_weights, cluster_index

    run = Path(run)
    if not run.is_dir():
        raise OccposeError(f"--run {run}: not an image-model run directory")
    if not (run / "keypoints2d").is_dir():
        raise OccposeError(f"--run {run}: no keypoints2d/ folder of 2D predictions; run "
                           f"occpose-bench image-predict with this run first")
    levels = sorted({float(e.target_level) for e in bench.entries})
    m = measure(bench, run, split)
    fits = fit_states(m, allow_missing)
    table = noise_table(fits)
    weights = bootstrap_weights(cluster_index(m.clips))
    measured = measured_stats(m, fits, levels, weights)
    sim = simulate(m, table)
    sim_m = Measurement(sim, m.states, m.levels, m.seq, m.frame, m.joint, m.ids, m.clips, m.sequences)
    # per level: measured, the states' mix of the fitted means, the simulated table
    fitted_mean = np.array([mixture_mean_radius(fits[s]) if fits[s] is not None else np.nan
                            for s in STATES])
    by_level = level_means(m, levels, weights)
    mix = level_means(m, levels, weights, values=fitted_mean[m.states])
    simulated = level_means(sim_m, levels, weights)
    level_rows = {}
    lv_index = np.searchsorted(levels, m.levels)
    for i, lv in enumerate(levels):
        key = f"{lv:g}"
        if key not in by_level:
            continue
        sel = lv_index == i
        frac = {s: _num((m.states[sel] == c).mean()) for c, s in enumerate(STATES)}
        meas = by_level[key]["mean_radius"]
        level_rows[key] = {"n": by_level[key]["n"], "state_fractions": frac,
                           "measured_mean_radius": meas,
                           "states_mix_mean_radius": mix[key]["mean_radius"][0],
                           "simulated_mean_radius": simulated[key]["mean_radius"][0],
                           "measured_over_mix": _num(meas[0] / mix[key]["mean_radius"][0]),
                           "mix_within_interval": bool(meas[1] <= mix[key]["mean_radius"][0] <= meas[2])}
    state_fit = {}
    for s in STATES + ("occluded",):
        f = fits[s]
        if f is None:
            state_fit[s] = None
            continue
        state_fit[s] = {k: (_num(v) if isinstance(v, float) else v) for k, v in f.items()}
        state_fit[s]["fitted_mean_radius"] = _num(mixture_mean_radius(f))
    doc = {
        "format": "occpose-noise-calibration/1",
        "split": split,
        "states": list(STATES),
        "levels": [f"{lv:g}" for lv in levels],
        "units": "pixels of a 1000 px wide image (NoiseSection units); radius = |detection - projection|",
        "large_error": f"r > {LARGE:g} x the state's fitted core std",
        "sequences": len(m.ids),
        "fit": state_fit,
        "noise": table,
        "measured": measured,
        "by_level": level_rows,
        "simulated": measured_stats(sim_m, fits, levels, weights),
        "persistence": {"measured": persistence(m, m.errors, fits, weights),
                        "simulated": persistence(m, sim, fits, weights)},
    }
    other = "test" if split == "train" else "train"
    try:
        mo = measure(bench, run, other)
    except OccposeError as e:        # e.g. no rendered frames there: the fit stands without it
        mo = None
        doc["check_split"] = {"split": other, "skipped": str(e)}
    if mo is not None:
        wo = bootstrap_weights(cluster_index(mo.clips))
        doc["check_split"] = {"split": other, "sequences": len(mo.ids),
                              "measured": measured_stats(mo, fits, levels, wo),
                              "by_level": level_means(mo, levels, wo)}
    doc["_plot"] = {"radius": m.radius, "states": m.states, "sim_radius": sim_m.radius}
    return doc


# ------------------------------------------------------------------------------- the outputs
def _fmt(v: float) -> str:
    return repr(float(v))


def noise_toml(doc: dict, provenance: dict) -> str:
    """A ready ``[train.noise]`` table with a provenance comment."""
    fit = doc["fit"]
    lines = ["# Detector-noise model fitted by occpose-bench calibrate-noise (docs/presets.md,",
             "# \"Calibrating the noise\") to an image model's 2D detections.",
             f"# command: {provenance['command']}",
             f"# data: {provenance['data']}",
             f"# run: {provenance['run']}",
             f"# split: {doc['split']} ({doc['sequences']} sequences, rendered frames only)"]
    for s in STATES:
        f = fit[s]
        if f is None:
            lines.append(f"# {s}: no joint-frames; its keys are unset (the occluded_* values apply)")
            continue
        lines.append(f"# {s}: n = {f['n']}, std {f['std']:.3g} px, outliers "
                     f"{100 * f['outlier_prob']:.3g} % of {f['outlier_std']:.3g} px, mean error "
                     f"{f['fitted_mean_radius']:.3g} px")
    lines += ["# dropout_prob = 0: one-frame holds are invisible at the render stride (calibration.md)",
              "[train.noise]"]
    lines += [f"{k} = {_fmt(v)}" for k, v in doc["noise"].items()]
    return "\n".join(lines) + "\n"


def _ci(c) -> str:
    if c is None or c[0] is None:
        return "–"
    return f"{c[0]:.2f} [{c[1]:.2f}, {c[2]:.2f}]"


def _fitted_mean(doc: dict, state: str) -> str:
    f = doc["fit"][state]
    return "–" if f is None else f"{f['fitted_mean_radius']:.2f}"


def calibration_md(doc: dict, provenance: dict) -> str:
    """Tables of the fit and the checks."""
    from ..markdown import table as md_table

    out = ["# Detector-noise calibration", "",
           f"`{provenance['command']}`", "",
           f"Fitted on the {doc['split']} split ({doc['sequences']} sequences, rendered frames). "
           f"Errors in {doc['units']}; intervals are 95% bootstrap intervals over (subject, action) "
           f"clips. Large error: {doc['large_error']}.", "",
           "## Fit per joint state", ""]
    rows = []
    for s in STATES + ("occluded",):
        f = doc["fit"][s]
        if f is None:
            rows.append([s, "0", "–", "–", "–", "–", "–", "–"])
            continue
        meas = doc["measured"].get(s, {}).get("all", {}) if s != "occluded" else {}
        rows.append([s, str(f["n"]), f"{f['std']:.3g}", f"{100 * f['outlier_prob']:.3g}",
                     f"{f['outlier_std']:.3g}", "yes" if f["outliers"] else "no",
                     f"{f['fitted_mean_radius']:.2f}", _ci(meas.get("mean_radius"))])
    out += [md_table(["state", "n", "std px", "outlier %", "outlier std px", "outliers (BIC)",
                      "fitted mean px", "measured mean px"], rows), "",
            "`occluded` (body and object pooled) gives the shared `occluded_std`/`outlier_*`.", "",
            "## Measured error per state and level", ""]
    rows = []
    for s in STATES:
        for lv, r in doc["measured"][s].items():
            rows.append([s, lv, str(r["n"]), _ci(r["mean_radius"]), f"{r['median_radius']:.2f}",
                         f"{r['p90_radius']:.2f}", _ci(r["rms_x"]), _ci(r["rms_y"]),
                         _ci(r["mean_x"]), _ci(r["mean_y"]), _ci([100 * v if v is not None else None
                                                                  for v in r["large_fraction"]]),
                         _fitted_mean(doc, s)])
    out += [md_table(["state", "level", "n", "mean px", "median", "p90", "rms x", "rms y", "bias x",
                      "bias y", "large %", "fit mean"], rows), "",
            "## Level dependence: measured vs predicted from the states' mix", ""]
    rows = []
    for lv, r in doc["by_level"].items():
        fr = r["state_fractions"]
        rows.append([lv, str(r["n"]), " / ".join(f"{100 * fr[s]:.0f}" for s in STATES),
                     _ci(r["measured_mean_radius"]), f"{r['states_mix_mean_radius']:.2f}",
                     f"{r['measured_over_mix']:.3f}", f"{r['simulated_mean_radius']:.2f}",
                     "yes" if r["mix_within_interval"] else "no"])
    out += [md_table(["level", "n", "% vis / body / object / out", "measured mean px",
                      "states-mix mean px", "measured / mix", "simulated table px",
                      "mix in interval"], rows), "",
            "## Persistence between consecutive rendered frames", ""]
    rows = []
    for s in STATES:
        a, b = doc["persistence"]["measured"][s], doc["persistence"]["simulated"][s]
        if "correlation" not in a:
            rows.append([s, str(a["pairs"]), "–", "–", "–", "–", "–"])
            continue
        rows.append([s, str(a["pairs"]), str(a["lag_frames"]), _ci(a["correlation"]),
                     _ci(b["correlation"]), _ci(a["large_after_large_ratio"]),
                     _ci(b["large_after_large_ratio"])])
    out += [md_table(["state", "pairs", "lag (frames)", "correlation measured", "simulated",
                      "P(large|large)/P(large) measured", "simulated"], rows), ""]
    if "skipped" in doc.get("check_split", {}):
        c = doc["check_split"]
        out += [f"## Check: the {c['split']} split", "", f"Not measured: {c['skipped']}", ""]
    elif "check_split" in doc:
        c = doc["check_split"]
        out += [f"## Check: the {c['split']} split (measured only, not fitted on)", ""]
        rows = [[s, str(c["measured"][s]["all"]["n"]), _ci(c["measured"][s]["all"]["mean_radius"]),
                 _fitted_mean(doc, s)]
                for s in STATES if c["measured"].get(s)]
        out += [md_table(["state", "n", "measured mean px", "fitted mean px"], rows), ""]
        rows = [[lv, str(r["n"]), _ci(r["mean_radius"])] for lv, r in c["by_level"].items()]
        out += [md_table(["level", "n", "measured mean px"], rows), ""]
    out += ["## `[train.noise]`", "", "```toml", noise_toml(doc, provenance).rstrip(), "```", ""]
    return "\n".join(out)


def plot_calibration(doc: dict, path: Path) -> None:
    """Per state the measured and fitted distributions of the error length (survival function
    P(error > r), log-log, so that the outlier tail shows), and per level the measured mean
    error (with its interval) vs the states' mix of the fits and the simulated table."""
    from .report import _pyplot, _save

    plt = _pyplot()
    data = doc["_plot"]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    axes = axes.ravel()
    for code, (name, ax) in enumerate(zip(STATES, axes)):
        r = np.sort(data["radius"][data["states"] == code])
        rs = np.sort(data["sim_radius"][data["states"] == code])
        f = doc["fit"][name]
        if f is None or not len(r):
            ax.set_title(f"{name}: no joint-frames", fontsize=9)
            ax.axis("off")
            continue
        lo = max(float(r[r > 0].min()) if (r > 0).any() else 0.01, 0.01)
        hi = max(float(r.max()), lo * 10)
        grid = np.geomspace(lo, hi, 200)
        ax.plot(r, 1 - np.arange(len(r)) / len(r), label="measured", lw=2)
        ax.plot(grid, 1 - mixture_cdf(f, grid), label="fitted mixture", ls="--")
        ax.plot(rs, 1 - np.arange(len(rs)) / len(rs), label="simulated table", lw=1, alpha=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(0.5 / max(len(r), 1), 1.2)
        ax.set_title(f"{name} (n={len(r)}): std {f['std']:.3g}, outliers "
                     f"{100 * f['outlier_prob']:.3g}% x {f['outlier_std']:.3g}", fontsize=9)
        ax.set_xlabel("error length r (px, 1000 px wide image)")
        ax.set_ylabel("P(error > r)")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    ax = axes[len(STATES)]
    lv = list(doc["by_level"])
    x = [float(v) for v in lv]
    meas = np.array([doc["by_level"][k]["measured_mean_radius"] for k in lv], dtype=np.float64)
    yerr = np.stack([meas[:, 0] - meas[:, 1], meas[:, 2] - meas[:, 0]])             # (2, L)
    ax.errorbar(x, meas[:, 0], yerr=yerr, marker="o",
                capsize=3, label="measured (95%)")
    ax.plot(x, [doc["by_level"][k]["states_mix_mean_radius"] for k in lv], marker="s", ls="--",
            label="states' mix of the fits")
    ax.plot(x, [doc["by_level"][k]["simulated_mean_radius"] for k in lv], marker="^", ls=":",
            label="simulated table")
    ax.set_xlabel("occlusion level")
    ax.set_ylabel("mean error length (px)")
    ax.set_title(f"mean error by level ({doc['split']} split)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    for extra in axes[len(STATES) + 1:]:
        extra.axis("off")
    fig.tight_layout()
    _save(fig, path)


def write_outputs(doc: dict, out: Path, provenance: dict, plot: bool = True) -> list[Path]:
    """noise.toml, calibration.json, calibration.md (and calibration.png) into ``out``, atomically."""
    from ..dataset.atomic import atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plain = {k: v for k, v in doc.items() if k != "_plot"}
    plain["provenance"] = provenance
    paths = [out / "noise.toml", out / "calibration.json", out / "calibration.md"]
    atomic_write_text(paths[0], noise_toml(doc, provenance))
    atomic_write_text(paths[1], json.dumps(plain, indent=1, allow_nan=False) + "\n")
    atomic_write_text(paths[2], calibration_md(doc, provenance))
    if plot:
        plot_calibration(doc, out / "calibration.png")
        paths.append(out / "calibration.png")
    return paths
