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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..generate import generate, parse_shard

    cfg = config_from_args(args)
    shard = parse_shard(args.shard)
    t0 = time.perf_counter()
    manifest = generate(cfg, args.out, overwrite=args.overwrite, shard=shard, workers=args.workers,
                        progress=not args.quiet)
    dt = time.perf_counter() - t0
    seqs = manifest["sequences"]
    frames = sum(s["frames"] for s in seqs)
    print(f"{args.out}: {len(seqs)} sequences, {frames} frames, status {manifest['status']} "
          f"({dt:.1f} s, {frames / max(dt, 1e-9):.0f} frames/s)")
    return 0 if manifest["status"] == "complete" else 1
