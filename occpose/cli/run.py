"""``occpose-bench run``: the main job end to end (see :mod:`occpose.pipeline`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import nonnegative_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="generate, label, render, train, evaluate and report",
                       description="The main job: generate the preset's benchmark, report the "
                                   "heuristic labels' agreement with the ray-cast truth, render the "
                                   "test subjects in Blender (when available), train every model "
                                   "for every seed, evaluate per occlusion level, write a report. "
                                   "Rerun the same command to resume.")
    p.add_argument("--preset", default="quick", help="preset name in scenes/ or a TOML path (default quick)")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default runs/<preset>)")
    p.add_argument("--backend", default="auto", choices=("auto", "analytic", "blender"),
                   help="test data: Blender renders (auto when bpy or blender is found) or analytic")
    p.add_argument("--blender", metavar="PATH", help="Blender executable (default: bpy module, else PATH)")
    p.add_argument("--seed", type=int, default=None, help="global seed (overrides benchmark.seed)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset value (repeatable)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--workers", type=nonnegative_int, default=0, help="generation processes (0 = cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--train-workers", type=nonnegative_int, default=0, metavar="N",
                   help="runs trained at once on the CPU, one torch thread each (default 0: one "
                        "per CPU); the checkpoints do not depend on it")
    p.add_argument("--sequential", action="store_true",
                   help="render in the foreground after the labels step instead of in a child "
                        "process beside generation and training (same outputs, slower)")
    p.add_argument("--force-size", action="store_true",
                   help="go ahead even when the estimated memory, disk or time cannot fit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..pipeline import RunOptions, run_pipeline

    out = Path(args.out) if args.out else Path("runs") / Path(args.preset).stem
    run_pipeline(RunOptions(preset=args.preset, out=out, backend=args.backend, seed=args.seed,
                            overrides=args.overrides, device=args.device, blender=args.blender,
                            workers=args.workers, progress=not args.quiet,
                            force_size=args.force_size, overlap=not args.sequential,
                            train_workers=args.train_workers))
    return 0
