"""``occpose-bench evaluate``: per-level metrics of trained runs on a benchmark's test split.

    occpose-bench evaluate --data bench/quick --runs runs/tcn-s0 runs/tcn-s1 runs/occ1-s0 \\
        --out results/quick
    occpose-bench evaluate --data bench/quick --runs runs/* --out results/quick --no-flip
    occpose-bench evaluate --data bench/quick --videopose3d pretrained_h36m_cpn.bin \\
        --architecture 3,3,3,3,3 --out results/vp3d

Writes results.json, results.csv, report.md and plots into --out and prints MPJPE by level;
every number carries a 95% bootstrap interval over test sequences (and the spread over seeds).
--videopose3d evaluates a checkpoint saved by VideoPose3D's run.py (its model_pos weights,
loaded with torch.load(weights_only=True)) like any run; --architecture, --channels and
--causal must be the ones it was trained with.
"""

from __future__ import annotations

import argparse

from .train import add_data_args, sequences_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate trained runs level by level on the test split",
                       description="Evaluate runs (model x seed) on every occlusion level of the "
                                   "test split: MPJPE, P-MPJPE, N-MPJPE, MPJVE, visible vs "
                                   "occluded joints, per action and joint; mean, 95% bootstrap "
                                   "interval over test sequences and spread over seeds per model.")
    add_data_args(p)
    p.add_argument("--runs", nargs="+", default=[], metavar="RUN", help="run directories")
    p.add_argument("--out", required=True, metavar="RESULTS", help="results directory")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--no-flip", action="store_true", help="no test-time flip averaging")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--save-predictions", action="store_true",
                   help="also write RESULTS/predictions/<run>.npz, prediction files for 'score'")
    g = p.add_argument_group("VideoPose3D checkpoints")
    g.add_argument("--videopose3d", action="append", default=[], metavar="CKPT",
                   help="a checkpoint saved by VideoPose3D's run.py (repeatable)")
    g.add_argument("--architecture", metavar="W,W,...",
                   help="its filter widths, e.g. 3,3,3,3,3 (required with --videopose3d)")
    g.add_argument("--channels", type=int, default=1024, help="its channels (default 1024)")
    g.add_argument("--causal", action="store_true", help="it was trained with --causal")
    g.add_argument("--keypoints2d", metavar="SOURCE",
                   help="its 2D inputs: exact, noise or detector:RUN (default: the benchmark's "
                        "[train] keypoints2d)")
    p.set_defaults(func=run)


def _videopose3d_runs(args, device, num_joints) -> list:
    from ..errors import OccposeError
    from ..harness.vp3d_checkpoint import load_videopose3d_run
    from .train import parse_widths, train_section

    if not args.videopose3d:
        if args.architecture:
            raise OccposeError("--architecture is for --videopose3d checkpoints")
        return []
    if not args.architecture:
        raise OccposeError("--videopose3d needs --architecture, the filter widths it was trained "
                           "with (e.g. 3,3,3,3,3)")
    widths = parse_widths(args.architecture)
    if args.channels < 1:
        raise OccposeError(f"--channels {args.channels}: expected a positive integer")
    args.config, args.overrides = None, []
    train = train_section(args, args.data)
    return [load_videopose3d_run(c, widths, device, num_joints, channels=args.channels,
                                 causal=args.causal, keypoints2d=args.keypoints2d or train.keypoints2d,
                                 noise=train.noise.to_dict())
            for c in args.videopose3d]


def run(args: argparse.Namespace) -> int:
    import time

    from ..errors import OccposeError
    from ..harness import evaluate_runs, split_sequences
    from ..harness.device import resolve_device
    from ..harness.report import main_table

    t0 = time.perf_counter()
    if not args.runs and not args.videopose3d:
        raise OccposeError("nothing to evaluate: give --runs RUN... and/or --videopose3d CKPT")
    dev = resolve_device(args.device)                       # fail before loading data
    sequences = split_sequences(sequences_from_args(args), "test")
    if not sequences:
        raise OccposeError(f"{args.data}: no test sequences")
    loaded = _videopose3d_runs(args, dev, sequences[0].joints_2d.shape[1])
    results = evaluate_runs(sequences, args.runs, args.out, device=args.device,
                            flip=not args.no_flip, progress=not args.quiet,
                            plots=not args.no_plots, loaded=loaded,
                            save_predictions=args.save_predictions)
    print("MPJPE (mm) by occlusion level, mean [95% interval] ± std over seeds:")
    print(main_table(results))
    n = len(args.runs) + len(args.videopose3d)
    print(f"{args.out}: results.json, results.csv, report.md"
          f"{'' if args.no_plots else ', plots'} ({n} runs, {results['sequences']} "
          f"sequences, {time.perf_counter() - t0:.1f} s)")
    return 0
