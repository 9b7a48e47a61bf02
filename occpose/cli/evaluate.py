"""``occpose-bench evaluate``: per-level metrics of trained runs on a benchmark's test split.

    occpose-bench evaluate --data bench/quick --runs runs/tcn-s0 runs/tcn-s1 runs/occ1-s0 \\
        --out results/quick
    occpose-bench evaluate --data bench/quick --runs runs/* --out results/quick --no-flip

Writes results.json, results.csv, report.md and plots into --out and prints MPJPE by level.
"""

from __future__ import annotations

import argparse

from .train import add_data_args, sequences_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate trained runs level by level on the test split",
                       description="Evaluate runs (model x seed) on every occlusion level of the "
                                   "test split: MPJPE, P-MPJPE, N-MPJPE, MPJVE, visible vs "
                                   "occluded joints, per action and joint; mean and spread over "
                                   "seeds per model.")
    add_data_args(p)
    p.add_argument("--runs", required=True, nargs="+", metavar="RUN", help="run directories")
    p.add_argument("--out", required=True, metavar="RESULTS", help="results directory")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--no-flip", action="store_true", help="no test-time flip averaging")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from ..harness import evaluate_runs, split_sequences
    from ..harness.report import main_table

    from ..harness.device import resolve_device

    t0 = time.perf_counter()
    resolve_device(args.device)                             # fail before loading data
    sequences = split_sequences(sequences_from_args(args), "test")
    results = evaluate_runs(sequences, args.runs, args.out, device=args.device,
                            flip=not args.no_flip, progress=not args.quiet,
                            plots=not args.no_plots)
    print("MPJPE (mm) by occlusion level, mean ± std [min–max] over seeds:")
    print(main_table(results))
    print(f"{args.out}: results.json, results.csv, report.md"
          f"{'' if args.no_plots else ', plots'} ({len(args.runs)} runs, {results['sequences']} "
          f"sequences, {time.perf_counter() - t0:.1f} s)")
    return 0
