"""The main job end to end: ``occpose-bench run --preset quick``.

Steps (each resumes when rerun with the same arguments):

1. ``OUT/benchmark``  -- analytic generation of every subject, action, camera and level;
2. ``OUT/reports/labels`` -- agreement of the clustered / boxed-man heuristics with the ray-cast
   truth;
3. ``OUT/rendered``   -- the test subjects rendered by the Blender backend (Blender ray-cast
   labels, frames, masks), when bpy or a Blender executable is available (``--backend auto``)
   or required (``--backend blender``); skipped with ``--backend analytic``;
4. ``OUT/runs/<model>-s<seed>`` -- every model of ``[train].models`` for every seed of
   ``[train].seeds``, trained on the train subjects of the analytic benchmark;
5. ``OUT/results``    -- evaluation of every run per occlusion level on the test subjects (the
   Blender-rendered benchmark when there is one), with report and plots;
6. ``OUT/summary.md`` -- the headline tables and where everything is.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config, load_config
from .dataset.atomic import atomic_write_text
from .errors import ConfigError, OccposeError

REPO = Path(__file__).resolve().parents[1]


def resolve_preset(preset: str) -> Path:
    """A preset path, or a name looked up in ``./scenes`` and then in the repository's ``scenes``."""
    candidates = [Path(preset)]
    if not preset.endswith(".toml"):
        candidates += [Path("scenes") / f"{preset}.toml", REPO / "scenes" / f"{preset}.toml"]
    for c in candidates:
        if c.is_file():
            return c
    names = sorted(p.stem for p in (REPO / "scenes").glob("*.toml"))
    raise ConfigError(f"--preset {preset}: no such preset file; known presets: {', '.join(names)}")


@dataclass
class RunOptions:
    preset: str
    out: Path
    backend: str = "auto"          # auto | analytic | blender
    seed: int | None = None
    overrides: list[str] = field(default_factory=list)
    device: str = "auto"
    blender: str | None = None     # Blender executable for the subprocess route
    workers: int = 0
    progress: bool = True


def _log(msg: str) -> None:
    print(f"[occpose run] {msg}", flush=True)


def _blender_available(blender: str | None) -> bool:
    from . import blender_backend

    if blender is not None or blender_backend.has_bpy():
        return True
    try:
        blender_backend.find_blender(None)
        return True
    except OccposeError:
        return False


def _render_test_split(cfg: Config, opts: RunOptions, preset: Path, out: Path) -> Path:
    """Render the test subjects with the Blender backend into ``out``; returns ``out``."""
    from . import blender_backend

    subjects = cfg.render.subjects or cfg.benchmark.test_subjects
    argv = ["--config", str(preset), "--out", str(out)]
    argv += ["--seed", str(opts.seed)] if opts.seed is not None else []
    for o in opts.overrides:
        argv += ["--set", o]
    argv += ["--set", "render.subjects=[" + ", ".join(f'"{s}"' for s in subjects) + "]"]
    argv += [] if opts.progress else ["--quiet"]
    code = blender_backend.run(argv, blender=opts.blender)
    if code != 0:
        raise OccposeError(f"the Blender render of the test subjects failed (exit {code}); see the "
                           f"messages above, or rerun with --backend analytic")
    return out


def run_pipeline(opts: RunOptions) -> dict:
    """Run every step; returns a summary dict (also written to ``OUT/summary.json``)."""
    from .dataset import open_benchmark
    from .dataset.poses import from_benchmark
    from .generate import generate
    from .harness import RunSettings, evaluate_runs, split_sequences, train_model
    from .harness.report import main_table
    from .occlusion.agreement import agreement_report, format_summary, write_report

    preset = resolve_preset(opts.preset)
    cfg = load_config(preset, opts.overrides, opts.seed)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    if opts.backend not in ("auto", "analytic", "blender"):
        raise ConfigError(f"--backend {opts.backend}: expected auto, analytic or blender")
    use_blender = opts.backend == "blender" or (opts.backend == "auto" and _blender_available(opts.blender))
    timings: dict[str, float] = {}

    t = time.perf_counter()
    _log(f"1/5 generating {preset} into {out / 'benchmark'}")
    manifest = generate(cfg, out / "benchmark", workers=opts.workers, progress=opts.progress)
    if manifest["status"] != "complete":
        raise OccposeError(f"{out / 'benchmark'}: generation incomplete")
    timings["generate"] = time.perf_counter() - t

    t = time.perf_counter()
    _log("2/5 heuristic labels against the ray-cast truth")
    bench = open_benchmark(out / "benchmark")
    agreement = agreement_report(bench)
    write_report(agreement, out / "reports" / "labels")
    print(format_summary(agreement), flush=True)
    timings["labels"] = time.perf_counter() - t

    test_dir = out / "benchmark"
    if use_blender:
        t = time.perf_counter()
        _log(f"3/5 rendering the test subjects with Blender into {out / 'rendered'}")
        test_dir = _render_test_split(cfg, opts, preset, out / "rendered")
        timings["render"] = time.perf_counter() - t
    else:
        _log("3/5 Blender rendering skipped (--backend analytic or no Blender found)")

    t = time.perf_counter()
    train_seqs = split_sequences(from_benchmark(bench), "train")
    test_bench = open_benchmark(test_dir)
    test_seqs = split_sequences(from_benchmark(test_bench), "test")
    if not test_seqs:
        raise OccposeError(f"{test_dir}: no test-split sequences to evaluate on")
    runs = []
    for model in cfg.train.models:
        for seed in cfg.train.seeds:
            run_dir = out / "runs" / f"{model}-s{seed}"
            _log(f"4/5 training {model} seed {seed} -> {run_dir}")
            settings = RunSettings.from_train_section(cfg.train, model, seed).validate()
            train_model(train_seqs, test_seqs, settings, run_dir, device=opts.device,
                        progress=opts.progress)
            runs.append(run_dir)
    timings["train"] = time.perf_counter() - t

    t = time.perf_counter()
    _log(f"5/5 evaluating {len(runs)} runs per occlusion level -> {out / 'results'}")
    results = evaluate_runs(test_seqs, runs, out / "results", device=opts.device, progress=opts.progress)
    table = main_table(results)
    print(table, flush=True)
    timings["evaluate"] = time.perf_counter() - t

    summary = {
        "preset": str(preset), "out": str(out), "seed": cfg.benchmark.seed,
        "test_data": str(test_dir), "blender": use_blender, "timings_s": timings,
        "benchmark": str(out / "benchmark"), "labels_report": str(out / "reports" / "labels"),
        "runs": [str(r) for r in runs], "results": str(out / "results"),
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    atomic_write_text(out / "summary.md", _summary_markdown(summary, format_summary(agreement), table))
    _log(f"done in {sum(timings.values()):.0f} s; see {out / 'summary.md'}")
    return summary


def _summary_markdown(summary: dict, agreement: str, table: str) -> str:
    t = summary["timings_s"]
    lines = [
        f"# occpose run: {summary['preset']}",
        "",
        f"Test data: `{summary['test_data']}` ({'Blender renders and ray-cast labels' if summary['blender'] else 'analytic labels'}).",
        "",
        "## MPJPE by occlusion level (mm, mean ± std over seeds)",
        "", "```", table.rstrip(), "```", "",
        "## Heuristic labels against the ray-cast truth", "", "```", agreement.rstrip(), "```", "",
        "## Where things are", "",
        f"- benchmark: `{summary['benchmark']}`",
        f"- label agreement report: `{summary['labels_report']}`",
        f"- runs: {', '.join(f'`{r}`' for r in summary['runs'])}",
        f"- results (report.md, results.json/csv, plots): `{summary['results']}`",
        "",
        "Timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in t.items()),
        "",
    ]
    return "\n".join(lines)
