"""``occpose-bench generate``: make (or resume) a benchmark directory from a preset."""

from __future__ import annotations

import argparse
import time

from .common import add_config_args, config_from_args, nonnegative_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate a benchmark from a preset",
                       description="Generate subjects x actions x cameras x levels as the preset "
                                   "says. Reruns resume; a directory made from another config is "
                                   "refused unless --overwrite.")
    add_config_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output benchmark directory")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a benchmark in DIR that was made from a different configuration")
    p.add_argument("--shard", metavar="i/N", help="generate only slice i of N (for job arrays)")
    p.add_argument("--workers", type=nonnegative_int, default=0,
                   help="processes (0 = one per CPU core)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--backend", choices=("analytic", "blender"), default="analytic",
                   help="blender: Blender ray-cast labels, rendered frames and masks")
    p.add_argument("--blender", metavar="PATH",
                   help="Blender executable (default: the bpy module if importable, else "
                        "$OCCPOSE_BLENDER or `blender` on PATH)")
    p.add_argument("--engine", choices=("cycles", "workbench", "eevee"),
                   help="render engine for --backend blender (default: the preset's)")
    p.add_argument("--force-size", action="store_true",
                   help="go ahead even when the estimated memory, disk or time cannot fit on this "
                        "machine (the estimate is printed when a run is refused)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.backend == "blender":
        from ..blender_backend import arguments, run as run_blender
        from ..generate import parse_shard, plan, shard_keys
        from ..sizes import check, render_estimate

        cfg = config_from_args(args)  # checked here too, so a refused run changes nothing
        if args.engine:
            cfg.render.engine = args.engine
        keys = shard_keys(plan(cfg, cfg.render.subjects), parse_shard(args.shard))
        check(render_estimate(cfg, len(keys)), args.out, args.force_size)
        return run_blender(arguments(args), blender=args.blender)
    if args.engine or args.blender:
        from ..errors import ConfigError

        raise ConfigError("--engine and --blender need --backend blender")
    from ..generate import generate, parse_shard

    cfg = config_from_args(args)
    shard = parse_shard(args.shard)
    t0 = time.perf_counter()
    manifest = generate(cfg, args.out, overwrite=args.overwrite, shard=shard, workers=args.workers,
                        progress=not args.quiet, force_size=args.force_size)
    dt = time.perf_counter() - t0
    seqs = manifest["sequences"]
    frames = sum(s["frames"] for s in seqs)
    print(f"{args.out}: {len(seqs)} sequences, {frames} frames, status {manifest['status']} "
          f"({dt:.1f} s, {frames / max(dt, 1e-9):.0f} frames/s)")
    return 0 if manifest["status"] == "complete" else 1
