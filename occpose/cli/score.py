"""``occpose-bench score``: score a prediction file of any model on a benchmark's test split.

    occpose-bench inputs --data bench/quick --keypoints2d noise --out inputs.npz
    python my_model.py inputs.npz predictions.npz            # your model, any framework
    occpose-bench score --data bench/quick --predictions predictions.npz --out results/mine
    occpose-bench score --data bench/quick --predictions mine.npz --compare theirs.npz --out results/vs

PRED.npz holds one float array per test sequence id, (T, J, 3) metres in the camera frame,
absolute or root-relative (scoring subtracts the root joint from prediction and truth). Writes
the tables and plots of ``evaluate`` (report.md, results.json/csv, PNGs) with 95% bootstrap
intervals, and scores.json (overall.mpjpe_mm, by_level["0.3"].mpjpe_mm, ...). ``--compare``
adds per level the paired difference A - B with its interval and a plain verdict.
"""

from __future__ import annotations

import argparse

from .common import add_doc_parser, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = add_doc_parser(sub, "score", "score a prediction file (.npz) level by level", __doc__)
    p.add_argument("--data", required=True, metavar="DIR", help="benchmark directory")
    p.add_argument("--predictions", required=True, metavar="PRED", help="prediction file A (.npz)")
    p.add_argument("--out", required=True, metavar="RESULTS", help="results directory")
    p.add_argument("--name", help="label of A in the tables (default: the file name)")
    p.add_argument("--compare", metavar="PRED_B", help="prediction file B: paired difference A - B")
    p.add_argument("--allow-partial", action="store_true",
                   help="score the test sequences A holds; the report says so on top")
    p.add_argument("--bootstrap", type=positive_int, default=None, metavar="N",
                   help="bootstrap resamples of the intervals (default 2000)")
    p.add_argument("--bootstrap-seed", type=int, default=None, metavar="S",
                   help="seed of the bootstrap (default 0; same seed, same intervals)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .. import stats
    from ..harness.report import differences_table, main_table
    from ..harness.score import score

    scores = score(args.data, args.predictions, args.out, name=args.name, compare=args.compare,
                   allow_partial=args.allow_partial, plots=not args.no_plots,
                   n_boot=args.bootstrap or stats.N_BOOTSTRAP,
                   boot_seed=stats.BOOTSTRAP_SEED if args.bootstrap_seed is None else args.bootstrap_seed)
    import json

    results = json.loads((Path(args.out) / "results.json").read_text("utf-8"))
    if scores["partial"]:
        print(f"PARTIAL: {scores['sequences']} of {scores['expected_sequences']} test sequences "
              f"scored (--allow-partial)")
    print("MPJPE (mm) by occlusion level, mean [95% interval over test sequences]:")
    print(main_table(results))
    if args.compare:
        print("Paired difference A − B (mm) [95% interval]; * = significant:")
        print(differences_table(results))
    o = scores["overall"]
    print(f"{args.out}: scores.json, report.md, results.json/csv{'' if args.no_plots else ', plots'}; "
          f"overall MPJPE {o['mpjpe_mm']:.1f} mm [{o['mpjpe_ci95'][0]:.1f}–{o['mpjpe_ci95'][1]:.1f}]")
    return 0
