"""The main job end to end: ``occpose-bench run --preset quick``.

Steps (each resumes when rerun with the same arguments):

1. ``OUT/benchmark``  -- analytic generation of every subject, action, camera and level;
2. ``OUT/reports/labels`` -- agreement of the clustered / boxed-man heuristics with the ray-cast
   truth;
3. ``OUT/rendered``   -- the test subjects rendered by the Blender backend (Blender ray-cast
   labels, frames, masks), when bpy or a Blender executable is available (``--backend auto``)
   or required (``--backend blender``); skipped with ``--backend analytic``. The render needs
   nothing from steps 1, 2 and 4: it runs in a child process from the start, beside them (its
   output in ``OUT/logs/render.log``), unless ``overlap`` is off (``--sequential``). With
   ``[image] in_run = true`` every subject is rendered, and ``OUT/image/p000`` and
   ``OUT/image/p050`` hold the image model trained without and with synthetic occlusion
   augmentation, with their 2D/3D predictions for every frame
   (``OUT/reports/image_ablation.md``);
4. ``OUT/runs/<model>-s<seed>`` -- every model of ``[train].models`` for every seed of
   ``[train].seeds``, trained on the train subjects of the analytic benchmark (with the image
   stage also ``tcn-detector-<image run>-s<seed>``: the TCN trained on the image model's 2D
   detections of the rendered train subjects); on the CPU several runs at once, one process and
   one torch thread each (:mod:`occpose.harness.parallel`, ``train_workers``);
5. ``OUT/results``    -- evaluation of every run per occlusion level on the test subjects (the
   Blender-rendered benchmark when there is one), with report and plots;
6. ``OUT/summary.md`` -- the headline tables and where everything is.
"""

from __future__ import annotations

import json
import subprocess
import sys
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
    force_size: bool = False       # go ahead when the size estimate says it cannot fit
    overlap: bool = True           # render in a child process while the models train
    train_workers: int = 0         # runs trained at once on the CPU, one torch thread each (0 = CPUs)


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


def _render_argv(cfg: Config, opts: RunOptions, preset: Path, out: Path) -> list[str]:
    """render_bench arguments that render the test subjects (all subjects with the image stage)
    into ``out``."""
    subjects = cfg.render.subjects or (
        [*cfg.benchmark.train_subjects, *cfg.benchmark.test_subjects] if cfg.image.in_run
        else cfg.benchmark.test_subjects)
    argv = ["--config", str(preset), "--out", str(out)]
    argv += ["--seed", str(opts.seed)] if opts.seed is not None else []
    for o in opts.overrides:
        argv += ["--set", o]
    argv += ["--set", "render.subjects=[" + ", ".join(f'"{s}"' for s in subjects) + "]"]
    return argv


class _Render:
    """The Blender stage into ``OUT/rendered``: in a child process beside the training
    (``overlap``), its output in ``OUT/logs/render.log``, or in the foreground."""

    def __init__(self, cfg: Config, opts: RunOptions, preset: Path, out: Path):
        from . import blender_backend

        self.out, self.log = out / "rendered", out / "logs" / "render.log"
        what = "all" if cfg.image.in_run else "the test"
        _log(f"3/5 rendering {what} subjects with Blender into {self.out}"
             + (f", in the background while the next steps run (log: {self.log})" if opts.overlap else ""))
        self.t0 = time.perf_counter()
        argv = _render_argv(cfg, opts, preset, self.out)
        self.proc = None
        if opts.overlap:
            # the log keeps the per-sequence lines whatever --quiet says
            self.proc = blender_backend.start(argv, self.log, blender=opts.blender)
            self.code = None
        else:
            self.code = blender_backend.run(argv + ([] if opts.progress else ["--quiet"]),
                                            blender=opts.blender)
        self.seconds = None if self.proc else time.perf_counter() - self.t0

    def wait(self) -> Path:
        """Wait for the render; raises when it failed. Returns the rendered benchmark folder."""
        where = "see the messages above"
        if self.proc is not None:
            self.code = self.proc.wait()
            self.seconds = time.perf_counter() - self.t0
            self.proc = None
            where = f"see {self.log}"
            if self.code != 0:
                tail = self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
                print("\n".join(tail), file=sys.stderr, flush=True)
        if self.code != 0:
            raise OccposeError(f"the Blender render of the test subjects failed (exit {self.code}); "
                               f"{where}, or rerun with --backend analytic")
        return self.out

    def stop(self) -> None:
        """Stop a render still running (the run failed or was interrupted; a rerun resumes it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _image_stage(cfg: Config, preset: Path, opts: RunOptions, rendered: Path, out: Path) -> tuple[dict, str]:
    """Image model without and with synthetic occlusion augmentation on the renders: train,
    predict 2D/3D for every frame, compare per level. Returns ({label: run dir}, Markdown)."""
    from .image import compare_image_runs, image_section, predict_benchmark, train_image_model

    overrides = [o for o in opts.overrides if o.startswith("image.")]
    device = None if opts.device == "auto" else opts.device
    runs = {}
    for p in dict.fromkeys((0.0, cfg.image.p_occlude)):
        label = f"p={p:g}"
        run_dir = out / "image" / f"p{round(p * 100):03d}"
        _log(f"image model {label} -> {run_dir}")
        sec = image_section(config=preset, overrides=overrides, p_occlude=p)
        train_image_model(rendered, run_dir, sec, device=device, progress=opts.progress)
        predict_benchmark(rendered, run_dir, device=device, progress=opts.progress)
        runs[label] = run_dir
    results, table = compare_image_runs(rendered, runs)
    atomic_write_text(out / "reports" / "image_ablation.json", json.dumps(results, indent=1) + "\n")
    atomic_write_text(out / "reports" / "image_ablation.md",
                      "# Image model: MPJPE by occlusion level without and with synthetic "
                      "occlusion augmentation\n\n" + table + "\n")
    print(table, flush=True)
    return runs, table


def run_pipeline(opts: RunOptions) -> dict:
    """Run every step; returns a summary dict (also written to ``OUT/summary.json``)."""
    t_start = time.perf_counter()
    preset = resolve_preset(opts.preset)
    cfg = load_config(preset, opts.overrides, opts.seed)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    if opts.backend not in ("auto", "analytic", "blender"):
        raise ConfigError(f"--backend {opts.backend}: expected auto, analytic or blender")
    use_blender = opts.backend == "blender" or (opts.backend == "auto" and _blender_available(opts.blender))
    timings: dict[str, float] = {}
    if use_blender:  # the renders come later: refuse an infeasible run before any work
        from .generate import plan
        from .sizes import check, render_estimate

        keys = plan(cfg, cfg.render.subjects or list(cfg.benchmark.test_subjects))
        check(render_estimate(cfg, len(keys)), out, opts.force_size)

    render = None
    if cfg.image.in_run and not use_blender:
        raise ConfigError(f"{preset}: 'image.in_run' needs Blender renders, but --backend is "
                          f"{opts.backend} and no Blender was found (install the bpy module)")
    try:
        if use_blender and opts.overlap:  # the render needs nothing from the steps before it
            render = _Render(cfg, opts, preset, out)
        summary = _steps(cfg, opts, preset, out, use_blender, render, timings, t_start)
    finally:
        if render is not None:
            render.stop()
    return summary


def _steps(cfg: Config, opts: RunOptions, preset: Path, out: Path, use_blender: bool,
           render: "_Render | None", timings: dict, t_start: float) -> dict:
    from .dataset import open_benchmark
    from .dataset.poses import from_benchmark
    from .generate import generate
    from .harness import RunSettings, evaluate_runs, split_sequences
    from .harness.parallel import TrainJob, train_runs
    from .harness.report import main_table
    from .occlusion.agreement.scoring import agreement_report, format_summary, write_report

    t = time.perf_counter()
    _log(f"1/5 generating {preset} into {out / 'benchmark'}")
    manifest = generate(cfg, out / "benchmark", workers=opts.workers, progress=opts.progress,
                        force_size=opts.force_size)
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
    if use_blender and render is None:
        render = _Render(cfg, opts, preset, out)
    elif not use_blender:
        _log("3/5 Blender rendering skipped (--backend analytic or no Blender found)")

    def load_split(b, split):  # only the split's sequences are read and checked
        return split_sequences(from_benchmark(b, b.select(split=split)), split)

    t = time.perf_counter()
    jobs = [TrainJob(str(out / "benchmark"), "train",
                     RunSettings.from_train_section(cfg.train, model, seed).validate(),
                     str(out / "runs" / f"{model}-s{seed}"))
            for model in cfg.train.models for seed in cfg.train.seeds]
    runs = train_runs(jobs, device=opts.device, workers=opts.train_workers, progress=opts.progress,
                      log=_log)
    timings["train"] = time.perf_counter() - t

    if render is not None:
        if render.proc is not None:
            _log("3/5 waiting for the Blender render to finish")
        test_dir = render.wait()
        _log(f"3/5 Blender render done in {render.seconds:.0f} s")
        timings["render"] = render.seconds
    image_runs, image_table = {}, ""
    if cfg.image.in_run:
        t = time.perf_counter()
        image_runs, image_table = _image_stage(cfg, preset, opts, test_dir, out)
        timings["image"] = time.perf_counter() - t

    test_bench = open_benchmark(test_dir)
    test_seqs = load_split(test_bench, "test")
    if not test_seqs:
        raise OccposeError(f"{test_dir}: no test-split sequences to evaluate on")
    if image_runs:
        t = time.perf_counter()
        _log("4/5 the TCN on the image models' 2D detections of the rendered train subjects")
        jobs = [TrainJob(str(test_dir), "train", RunSettings.from_train_section(
                    cfg.train, "tcn", seed, keypoints2d=f"detector:{image_run}").validate(),
                         str(out / "runs" / f"tcn-detector-{image_run.name}-s{seed}"))
                for image_run in image_runs.values() for seed in cfg.train.seeds]
        runs += train_runs(jobs, device=opts.device, workers=opts.train_workers,
                           progress=opts.progress, log=_log)
        timings["train_detector"] = time.perf_counter() - t

    t = time.perf_counter()
    _log(f"5/5 evaluating {len(runs)} runs per occlusion level -> {out / 'results'}")
    results = evaluate_runs(test_seqs, runs, out / "results", device=opts.device, progress=opts.progress)
    table = main_table(results)
    print(table, flush=True)
    timings["evaluate"] = time.perf_counter() - t

    summary = {
        "preset": str(preset), "out": str(out), "seed": cfg.benchmark.seed,
        "test_data": str(test_dir), "blender": use_blender,
        "benchmark": str(out / "benchmark"), "labels_report": str(out / "reports" / "labels"),
        "runs": [str(r) for r in runs], "results": str(out / "results"),
        "image_runs": {k: str(v) for k, v in image_runs.items()},
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    # measured wall times: the one output of a run that differs between identical runs
    total = time.perf_counter() - t_start
    atomic_write_text(out / "timings.json", json.dumps(
        {"timings_s": timings, "total_s": total, "render_overlapped": opts.overlap and use_blender},
        indent=1) + "\n")
    atomic_write_text(out / "summary.md",
                      _summary_markdown(summary, format_summary(agreement), table, image_table))
    _log("timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    _log(f"done in {total:.0f} s; see {out / 'summary.md'}")
    return summary


def _summary_markdown(summary: dict, agreement: str, table: str, image_table: str = "") -> str:
    lines = [
        f"# occpose run: {summary['preset']}",
        "",
        f"Test data: `{summary['test_data']}` ({'Blender renders and ray-cast labels' if summary['blender'] else 'analytic labels'}).",
        "",
        "## MPJPE by occlusion level (mm, mean ± std over seeds)",
        "", "```", table.rstrip(), "```", "",
        *(["## Image model without / with synthetic occlusion augmentation", "",
            image_table.rstrip(), ""] if image_table else []),
        "## Heuristic labels against the ray-cast truth", "", "```", agreement.rstrip(), "```", "",
        "## Where things are", "",
        f"- benchmark: `{summary['benchmark']}`",
        f"- label agreement report: `{summary['labels_report']}`",
        f"- runs: {', '.join(f'`{r}`' for r in summary['runs'])}",
        f"- results (report.md, results.json/csv, plots): `{summary['results']}`",
        "- wall times of the steps: `timings.json`, and the Blender render's log `logs/render.log` "
        "(with the epochs' `time_s` in each run's `metrics.jsonl`, all that differs between "
        "identical runs; the output folder's path also appears in the reports)",
        "",
    ]
    return "\n".join(lines)
