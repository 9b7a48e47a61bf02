"""Writing evaluation results: long-format CSV, a Markdown report and plots (all atomic).

Every number in the report is ``mean [low–high]``: the mean over a model's seeds and the 95%
bootstrap interval over test sequences (:mod:`occpose.stats`); with several seeds ``± std``
follows (sample std over seeds). ``–`` marks a cell with no joints (e.g. occluded joints at
level 0 without self-occlusion).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..markdown import table as md_table
from ..dataset.atomic import atomic_path, atomic_write_text
from ..skeleton import Skeleton

__all__ = ["write_csv", "markdown", "main_table", "differences_table", "plot_mpjpe_by_level", "plot_per_joint",
           "plot_skeletons"]

MIN_CLUSTERS = 10       # fewer independent clips than this: the report warns about the intervals
_NAMES = {"mpjpe": "MPJPE", "p_mpjpe": "P-MPJPE", "n_mpjpe": "N-MPJPE", "mpjve": "MPJVE"}


def write_csv(path: Path, runs: list[tuple[str, int]], cubes: list[np.ndarray], axes: dict) -> None:
    """``model, seed, level, action, joint, metric, split, value`` for every cell of every run."""
    from .evaluate import METRICS, SPLITS

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "seed", "level", "action", "joint", "metric", "split", "value"])
    for (model, seed), cube in zip(runs, cubes):
        for li, lv in enumerate(axes["levels"]):
            for ai, a in enumerate(axes["actions"]):
                for mi, m in enumerate(METRICS):
                    for si, s in enumerate(SPLITS):
                        for ji, j in enumerate(axes["joints"]):
                            v = cube[li, ai, mi, si, ji]
                            w.writerow([model, seed, lv, a, j, m, s,
                                        "nan" if np.isnan(v) else f"{v:.4f}"])
    atomic_write_text(path, buf.getvalue())


def _cell(st: dict | None, spread: bool = True) -> str:
    if not st or st["mean"] is None:
        return "–"
    text = f"{st['mean']:.1f}"
    if st.get("ci_low") is not None and st.get("ci_high") is not None:
        text += f" [{st['ci_low']:.1f}–{st['ci_high']:.1f}]"
    if spread and st["n"] > 1:
        text += f" ± {st['std']:.1f}"
    return text


def _diff_cell(d: dict | None) -> str:
    if not d or d["estimate"] is None:
        return "–"
    text = f"{d['estimate']:+.1f}"
    if d["ci_low"] is not None:
        text += f" [{d['ci_low']:+.1f}, {d['ci_high']:+.1f}]"
    return text + (" *" if d["significant"] else "")


def differences_table(results: dict, metric: str = "mpjpe", split: str = "all") -> str:
    """Paired differences (model minus reference) by level, with intervals; ``*`` = significant."""
    levels = results["levels"]
    rows = [[f"{m} − {d['minus']}"] + [_diff_cell(d["by_level"][lv][metric][split]) for lv in levels]
            + [d["by_level"]["all"][metric][split]["verdict"]]
            for m, d in results.get("differences", {}).items()]
    return md_table(["difference"] + [("level " + lv) if lv != "all" else "all" for lv in levels]
                    + ["verdict (all levels)"], rows)


def _level_table(results: dict, metric: str, split: str = "all") -> str:
    levels = results["levels"]
    rows = [[m] + [_cell(d["by_level"][lv][metric][split]) for lv in levels]
            for m, d in results["models"].items()]
    return md_table(["model"] + [("level " + lv) if lv != "all" else "all" for lv in levels], rows)


def main_table(results: dict) -> str:
    """MPJPE (mm) by occlusion level, one row per model (the table ``evaluate`` prints)."""
    return _level_table(results, "mpjpe")


def _interval_note(results: dict) -> str:
    iv = results.get("intervals", {})
    return (f"Cells: mean [95% interval], a {iv.get('method', 'percentile bootstrap')} over test "
            f"sequences ({iv.get('resamples', '?')} resamples, seed {iv.get('seed', '?')}, "
            f"resampling {iv.get('clusters', '?')} {iv.get('unit', 'clusters')}); with several "
            f"seeds the interval is that of the seed-mean and ± the sample std over seeds. "
            f"Errors in mm after root alignment; MPJVE in mm/frame. Visible/occluded: ray-cast "
            f"truth, out-of-frame joints excluded from both (counted in 'all'); occluded joints "
            f"are also split by their first blocker (body or object)."
            + (f" **Only {iv['clusters']} clips: a bootstrap over so few independent units gives "
               f"intervals that are too narrow; treat them as rough.**"
               if iv.get("clusters", 99) < MIN_CLUSTERS else ""))


def markdown(results: dict, title: str = "") -> str:
    """The full ``report.md``."""
    models = results["models"]
    seeds = {m: len(d["seeds"]) for m, d in models.items()}
    out = [f"# {title or 'occpose evaluation'}", ""]
    if results.get("partial"):
        p = results["partial"]
        out += [f"**Partial predictions: {p['scored']} of {p['expected']} test sequences scored "
                f"(--allow-partial); missing: {', '.join(p['missing'][:10])}"
                f"{' …' if len(p['missing']) > 10 else ''}. Not comparable with full results.**", ""]
    files = results.get("source") == "predictions"
    out += [f"{results['sequences']} test sequences, {results['frames']} frames; "
            + ("prediction files: " + ", ".join(seeds) if files else "runs: "
               + ", ".join(f"{m} ({n} seed{'s' if n != 1 else ''})" for m, n in seeds.items()))
            + (f"; test-time flip: {'on for TCN models' if results['flip'] else 'off'}."
               if results.get("source") != "predictions" else
               "; scored from prediction files (root-aligned: the root joint is subtracted)."), "",
            _interval_note(results), ""]
    for metric in results["metrics"]:
        out += [f"## {_NAMES[metric]} by occlusion level ({results['units'][metric]})", "",
                _level_table(results, metric), ""]
    if results.get("differences"):
        out += ["## Paired differences (MPJPE, mm, all joints)", "",
                "Each row: the first-named model's MPJPE minus the second's on the same test "
                "sequences, with its 95% paired-bootstrap interval (the same resamples for both); "
                "* = the interval excludes 0. Negative = the first-named model errs less.", "",
                differences_table(results), ""]
    out += ["## Visible vs occluded joints (MPJPE, mm)", ""]
    levels = results["levels"]
    rows = [[m, split] + [_cell(d["by_level"][lv]["mpjpe"][split]) for lv in levels]
            for m, d in models.items() for split in results["splits"]]
    out += [md_table(["model", "joints"] + levels, rows), ""]
    out += ["## Per action (MPJPE, mm, all levels)", ""]
    rows = [[a] + [_cell(d["by_action"][a]["mpjpe"]["all"]) for d in models.values()]
            for a in results["actions"]]
    out += [md_table(["action"] + list(models), rows), ""]
    out += ["## Per joint (MPJPE, mm, all levels)", ""]
    rows = [[j] + [_cell(d["by_joint"][j]["mpjpe"]["all"]) for d in models.values()]
            for j in results["joints"]]
    out += [md_table(["joint"] + list(models), rows), ""]
    if results.get("source") == "predictions":
        out += ["## Prediction files", "", md_table(
            ["file", "model", "sha256", "sequences"],
            [[r["run"], r["model"], r["sha256"][:16] + "…", str(r["sequences"])]
             for r in results["runs"]]), ""]
        return "\n".join(out)
    out += ["## Runs", "", md_table(
        ["run", "model", "seed", "epochs", "flip", "frames"],
        [[r["run"], r["model"], str(r["seed"]), str(r["epochs"]) + ("" if r["complete"] else " (incomplete)"),
          "yes" if r["flip"] else "no", str(r["frames"])] for r in results["runs"]]), ""]
    if has_curves(results):
        out += learning_curves_section(results)
    return "\n".join(out)


_CURVES = (("train_mpjpe_mm", "train (training mode)"), ("train_eval_mpjpe_mm", "train (eval mode)"),
           ("val_mpjpe_mm", "validation"))


def has_curves(results: dict) -> bool:
    return any(r.get("curve") for r in results.get("runs", []))


def model_curves(results: dict) -> dict[str, dict[str, np.ndarray]]:
    """{model: {metric key: (seeds, epochs) array, NaN where a seed lacks the epoch}} from the
    runs' per-epoch ``curve`` entries."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for model in results["models"]:
        curves = [r.get("curve") or [] for r in results["runs"] if r["model"] == model]
        n = max((c[-1]["epoch"] for c in curves if c), default=0)
        if not n:
            continue
        out[model] = {}
        for key, _ in _CURVES:
            arr = np.full((len(curves), n), np.nan)
            for i, c in enumerate(curves):
                for row in c:
                    if row.get(key) is not None and 1 <= row["epoch"] <= n:
                        arr[i, row["epoch"] - 1] = row[key]
            if np.isfinite(arr).any():
                out[model][key] = arr
    return out


def learning_curves_section(results: dict) -> list[str]:
    """Markdown: per model, per epoch, the seed mean (min–max) of the training and validation
    MPJPE recorded while training (validation = held-out clips of the training subjects)."""
    out = ["## Learning curves (MPJPE, mm, while training)", "",
           "Seed mean (min–max over seeds) per epoch. *train (training mode)*: the augmented "
           "training windows as the optimiser saw them; *train (eval mode)* and *validation*: whole "
           "sequences in evaluation mode (BatchNorm running statistics, no flip) of the training "
           "clips and of the held-out validation clips of the training subjects. The test split "
           "is not used while training.", ""]
    for model, curves in model_curves(results).items():
        keys = [k for k, _ in _CURVES if k in curves]
        n = curves[keys[0]].shape[1]
        rows = []
        for e in range(n):
            cells = []
            for k in keys:
                col = curves[k][:, e]
                col = col[np.isfinite(col)]
                cells.append("–" if not col.size else
                             f"{col.mean():.1f}" + (f" ({col.min():.1f}–{col.max():.1f})" if col.size > 1 else ""))
            rows.append([str(e + 1)] + cells)
        out += [f"### {model}", "", md_table(["epoch"] + [dict(_CURVES)[k] for k in keys], rows), ""]
        if "val_mpjpe_mm" in curves:
            v = np.nanmean(curves["val_mpjpe_mm"], axis=0)
            if np.isfinite(v).any():
                best = int(np.nanargmin(v))
                out += [f"Validation MPJPE (seed mean) lowest at epoch {best + 1} ({v[best]:.1f} mm); "
                        f"last epoch {n}: {v[-1]:.1f} mm.", ""]
    return out


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_mpjpe_by_level(results: dict, path: Path) -> None:
    """One line per model: MPJPE over occlusion level, shaded min–max over seeds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    levels = [lv for lv in results["levels"] if lv != "all"]
    x = [float(lv) for lv in levels]
    for name, d in results["models"].items():
        st = [d["by_level"][lv]["mpjpe"]["all"] for lv in levels]
        mean = np.array([s["mean"] if s["mean"] is not None else np.nan for s in st])
        lo = np.array([s["ci_low"] if s["ci_low"] is not None else np.nan for s in st])
        hi = np.array([s["ci_high"] if s["ci_high"] is not None else np.nan for s in st])
        line, = ax.plot(x, mean, marker="o", label=f"{name} (n={len(d['seeds'])})")
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("occlusion level (fraction of joints occluded by objects)")
    ax.set_ylabel("MPJPE (mm)")
    ax.set_title("MPJPE by occlusion level (shaded: 95% interval)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_learning_curves(results: dict, path: Path) -> None:
    """One panel per model: training and validation MPJPE per epoch, one line per seed."""
    plt = _pyplot()
    curves = model_curves(results)
    n = len(curves)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    styles = {"train_mpjpe_mm": ("tab:blue", "--"), "train_eval_mpjpe_mm": ("tab:blue", "-"),
              "val_mpjpe_mm": ("tab:orange", "-")}
    for ax, (model, c) in zip(axes.flat, curves.items()):
        for key, name in _CURVES:
            if key not in c:
                continue
            color, ls = styles[key]
            for i, row in enumerate(c[key]):
                ax.plot(np.arange(1, row.size + 1), row, color=color, ls=ls, lw=1,
                        label=name if i == 0 else None)
        ax.set_title(model, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("MPJPE (mm)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Learning curves (one line per seed)", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_per_joint(results: dict, path: Path) -> None:
    """Grouped bars: MPJPE per joint (all levels) per model, error bars = 95% interval."""
    plt = _pyplot()
    joints = [j for j in results["joints"] if j != "all"]
    models = list(results["models"])
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(joints) * max(1, len(models)) ** 0.5), 4))
    width = 0.8 / max(len(models), 1)
    xs = np.arange(len(joints))
    for k, name in enumerate(models):
        st = [results["models"][name]["by_joint"][j]["mpjpe"]["all"] for j in joints]
        mean = np.array([s["mean"] if s["mean"] is not None else np.nan for s in st])
        lo = np.array([s["ci_low"] if s["ci_low"] is not None else np.nan for s in st])
        hi = np.array([s["ci_high"] if s["ci_high"] is not None else np.nan for s in st])
        err = np.nan_to_num(np.stack([mean - lo, hi - mean]).clip(0))
        ax.bar(xs + (k - (len(models) - 1) / 2) * width, mean, width, yerr=err, label=name,
               capsize=2)
    ax.set_xticks(xs, joints, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("MPJPE (mm)")
    ax.set_title("MPJPE per joint (all levels; bars: 95% interval)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def plot_skeletons(truth: list[np.ndarray], predictions: dict[str, list[np.ndarray]],
                   skeleton: Skeleton, path: Path, title: str = "") -> None:
    """Rows: high-occlusion frames; columns: models; truth black, prediction coloured.

    Poses are (J, 3) camera-frame metres (x right, y down, z forward), drawn with up = -y.
    """
    plt = _pyplot()
    rows, cols = max(len(truth), 1), max(len(predictions), 1)
    fig = plt.figure(figsize=(3 * cols, 3 * rows))
    for r, gt in enumerate(truth):
        for c, (name, preds) in enumerate(predictions.items()):
            ax = fig.add_subplot(rows, cols, r * cols + c + 1, projection="3d")
            for pose, color in ((gt, "black"), (preds[r], "tab:red")):
                for p, ch in skeleton.bones:
                    ax.plot([pose[p, 0], pose[ch, 0]], [pose[p, 2], pose[ch, 2]],
                            [-pose[p, 1], -pose[ch, 1]], color=color, lw=1.5)
            lim = max(float(np.abs(gt).max()), 0.5)
            ax.set_xlim(-lim, lim), ax.set_ylim(-lim, lim), ax.set_zlim(-lim, lim)
            ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
    fig.suptitle(f"Highest occlusion {title}: truth (black) vs prediction (red)", fontsize=10)
    _save(fig, path)
