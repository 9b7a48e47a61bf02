"""The output side of the heuristics agreement report of :mod:`.scoring`.

:func:`render_markdown` (tables), :func:`format_summary` (terminal), :func:`plot_f1_by_level`
and :func:`write_report` (``agreement.json``, ``agreement.md``, ``agreement_f1_by_level.png``).
A ratio that is ``nan`` is ``n/a`` in Markdown and on stdout, ``null`` in JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ... import markdown


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _table(header: list[str], rows: list[list]) -> str:
    return markdown.table(header, [[_fmt(c) for c in row] for row in rows])


_FULL = ["heuristic", "TP", "FP", "FN", "TN", "precision", "recall", "F1", "accuracy"]
_GROUP = ["heuristic", "n", "precision", "recall", "F1", "accuracy", "recall self", "recall object",
          "F1 vs self-occl."]


def _ci(s: dict, key: str) -> str:
    """A ratio with its 95% interval (``0.812 [0.790–0.833]``) when the report has one."""
    lo, hi = s.get(f"{key}_ci", (None, None))
    if lo is None or hi is None or any(isinstance(v, float) and math.isnan(v) for v in (lo, hi)):
        return _fmt(s[key])
    return f"{_fmt(s[key])} [{lo:.3f}–{hi:.3f}]"


def _full_rows(block: dict) -> list[list]:
    return [[h, s["tp"], s["fp"], s["fn"], s["tn"], _ci(s, "precision"), _ci(s, "recall"),
             _ci(s, "f1"), _ci(s, "accuracy")] for h, s in block.items()]


def _group_rows(groups: dict, label: str) -> tuple[list[str], list[list]]:
    rows = [[g, h, s["n"], _ci(s, "precision"), _ci(s, "recall"), _ci(s, "f1"), _ci(s, "accuracy"),
             _ci(s, "recall_self"), _ci(s, "recall_object"), _ci(s, "f1_self_truth")]
            for g, block in groups.items() for h, s in block.items()]
    return [label] + _GROUP, rows


def _sweep_table(entry: dict) -> str:
    best = entry["best"]["value"] if entry["best"] else None
    conf = entry["configured"]["value"] if entry["configured"] else None
    best_self = entry["best_self"]["value"] if entry.get("best_self") else None
    rows = []
    n = len(entry["values"])
    f1_ci, f1_self_ci = entry.get("f1_ci") or [None] * n, entry.get("f1_self_ci") or [None] * n
    for v, p, r, f, fs, fc, fsc in zip(entry["values"], entry["precision"], entry["recall"],
                                       entry["f1"], entry["f1_self"], f1_ci, f1_self_ci):
        f = _ci({"f1": f, "f1_ci": fc}, "f1") if fc else f
        fs = _ci({"f1": fs, "f1_ci": fsc}, "f1") if fsc else fs
        mark = " ".join(m for m, on in (("best", v == best), ("best vs self-occlusion", v == best_self),
                                         ("configured", v == conf)) if on)
        rows.append([f"{v:g}", p, r, f, fs, mark])
    return _table([entry["parameter"], "precision", "recall", "F1", "F1 vs self-occlusion", "note"], rows)


def _best_sentence(entry: dict, key: str, what: str) -> str:
    b = entry.get(key)
    if not b:
        return f"No {entry['parameter']} gives a defined F1 {what}."
    return (f"Best {entry['parameter']} {what}: {b['value']:g}, F1 {_fmt(b['f1'])}"
            + (" (at the edge of the grid)." if b["at_grid_edge"] else "."))


def render_markdown(report: dict) -> str:
    """The report as Markdown tables."""
    ov = report["overall"]
    md = [f"# Occlusion heuristics vs ray-cast truth: {report.get('name') or report['benchmark']}",
          "",
          f"Benchmark `{report['benchmark']}`, split {report['split']}: {report['sequences']} "
          f"sequences, {report['frames']} frames, {report['joints_evaluated']} joints evaluated "
          f"({report['joints_out_of_frame']} out of frame, excluded). Parameters: "
          + (", ".join(f"{k} = {v}" for k, v in report["parameters"].items()) or "unknown") + ".",
          "",
          "Positive = occluded. Precision TP/(TP+FP), recall TP/(TP+FN), F1 2TP/(2TP+FP+FN), "
          "accuracy (TP+TN)/N; n/a where a denominator is 0. [low–high]: 95% interval, a seeded "
          "percentile bootstrap over sequences resampled by (subject, action) clip "
          "(occpose.stats).",
          "", "## Overall", "", _table(_FULL, _full_rows(ov)), "",
          "## Self-occlusion vs object occlusion", "",
          "The heuristics see only the body (2D joints, plus depth for clustered and boxed_depth); "
          "they cannot see occluders. Recall on object-occluded joints is what they catch by "
          "coincidence; F1 against self-occlusion truth (object-occluded joints left out) and on "
          "level-0 sequences (no occluders) is what they are actually able to do.", ""]
    l0 = report["level0"]
    rows = [[h, _ci(s, "recall_self"), s["n_self"], _ci(s, "recall_object"), s["n_object"],
             _ci(s, "f1"), _ci(report["self_occlusion_truth"][h], "f1"),
             _ci(l0[h], "f1") if l0 else None]
            for h, s in ov.items()]
    md += [_table(["heuristic", "recall self-occluded", "n self", "recall object-occluded",
                   "n object", "F1 (all truth)", "F1 vs self-occlusion", "F1 level 0"], rows), "",
           "### Against self-occlusion truth only", "",
           _table(_FULL, _full_rows(report["self_occlusion_truth"])), "",
           "### Level-0 sequences (no occluders)", "",
           _table(_FULL, _full_rows(l0)) if l0 else "No level-0 sequences in this selection.", ""]
    for key, title, label in (("by_level", "By occlusion level", "level"),
                              ("by_action", "By action", "action"),
                              ("by_joint", "By joint", "joint")):
        header, rows = _group_rows(report[key], label)
        md += [f"## {title}", "", _table(header, rows), ""]
    if "sweep" in report:
        md += ["## Parameter sweep", "",
               "Heuristics recomputed from the stored joints; F1 against the ray-cast truth.", ""]
        for name, entry in report["sweep"].items():
            md += [f"### {name} ({entry['parameter']}, {entry['units']})", "",
                   _best_sentence(entry, "best", "against the full truth"),
                   _best_sentence(entry, "best_self", "against self-occlusion truth "
                                  "(joints hidden by objects left out)"), "",
                   _sweep_table(entry), ""]
        if "sweep_note" in report:
            md += [f"Note: {report['sweep_note']}.", ""]
    return "\n".join(md)


def format_summary(report: dict) -> str:
    """Plain-text overall table (and sweep bests) for the terminal."""
    header = ["heuristic", "TP", "FP", "FN", "TN", "prec", "recall", "F1", "acc", "R self", "R obj"]
    rows = [[h, s["tp"], s["fp"], s["fn"], s["tn"], s["precision"], s["recall"], s["f1"],
             s["accuracy"], s["recall_self"], s["recall_object"]] for h, s in report["overall"].items()]
    cells = [header] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [f"{report['benchmark']} ({report['split']}): {report['sequences']} sequences, "
             f"{report['joints_evaluated']} joints evaluated, "
             f"{report['joints_out_of_frame']} out of frame (excluded)"]
    lines += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
              for r in cells]
    for name, entry in report.get("sweep", {}).items():
        parts = []
        for key, what in (("best", "best"), ("best_self", "best vs self-occlusion")):
            b = entry.get(key)
            parts.append(f"{what} {entry['parameter']} = {b['value']:g} (F1 {_fmt(b['f1'])}"
                         f"{', grid edge' if b['at_grid_edge'] else ''})" if b else f"{what}: no defined F1")
        conf = entry["configured"]
        if conf:
            parts.append(f"configured {conf['value']:g} (F1 {_fmt(conf['f1'])})")
        lines.append(f"sweep {name}: " + "; ".join(parts))
    return "\n".join(lines)


def plot_f1_by_level(report: dict, path: str | Path) -> None:
    """F1 by occlusion level, one line per heuristic (dashed: F1 vs self-occlusion truth)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ...dataset.atomic import atomic_path
    from .scoring import HEURISTICS

    levels = list(report["by_level"])
    x = [float(lv) for lv in levels]
    fig = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, h in enumerate(HEURISTICS):
        color = f"C{i}"
        f1 = [report["by_level"][lv][h]["f1"] for lv in levels]
        self_f1 = [report["by_level"][lv][h]["f1_self_truth"] for lv in levels]
        ax.plot(x, f1, "o-", color=color, label=f"{h}")
        ax.plot(x, self_f1, "o--", color=color, alpha=0.5, label=f"{h} vs self-occlusion")
    ax.set_xlabel("target occlusion level (occluder fraction)")
    ax.set_ylabel("F1 against ray-cast truth")
    ax.set_ylim(0, 1)
    ax.set_title(f"Occlusion heuristics by level ({report['split']})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)


def _json_ready(obj):
    """nan -> None and numpy scalars -> Python, recursively."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if math.isnan(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_report(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write agreement.json, agreement.md and agreement_f1_by_level.png atomically."""
    from ...dataset.atomic import atomic_write_text

    out_dir = Path(out_dir)
    paths = {"json": out_dir / "agreement.json", "markdown": out_dir / "agreement.md",
             "plot": out_dir / "agreement_f1_by_level.png"}
    atomic_write_text(paths["json"], json.dumps(_json_ready(report), indent=1, allow_nan=False) + "\n")
    atomic_write_text(paths["markdown"], render_markdown(report) + "\n")
    plot_f1_by_level(report, paths["plot"])
    return paths
