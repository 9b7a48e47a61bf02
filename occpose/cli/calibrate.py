"""``occpose-bench calibrate-noise``: fit the detector-noise model to an image model's detections.

    occpose-bench calibrate-noise --data runs/quick_image/rendered --run runs/quick_image/image/p050 --out calib

Measures, on the rendered frames of --split (default train; the other split's errors are
reported for a check, never fitted on), the error of RUN/keypoints2d/<id>.npy against the
exact projections per joint state (visible, occluded_by_body, occluded_by_object,
out_of_frame) and occlusion level, in pixels of a 1000 px wide image, and fits per state a
Gaussian core plus an outlier component (EM, docs/presets.md "Calibrating the noise").
Writes into --out: noise.toml (a ready [train.noise] table with its provenance),
calibration.json (per state and level: counts, measured errors with 95% intervals, the fits),
calibration.md (tables) and calibration.png (measured vs fitted error distributions, mean
error per level measured vs predicted).
"""

from __future__ import annotations

import argparse

from .common import add_doc_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_doc_parser(sub, "calibrate-noise", "fit [train.noise] to an image model's 2D detections",
                       __doc__)
    p.add_argument("--data", required=True, metavar="RENDERED", help="a rendered benchmark directory")
    p.add_argument("--run", required=True, metavar="IMAGE_RUN",
                   help="image-model run with keypoints2d/<id>.npy predictions")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--split", default="train", choices=("train", "test"),
                   help="split to fit on (default train)")
    p.add_argument("--allow-missing-states", action="store_true",
                   help="a hidden state without joint-frames (e.g. out_of_frame) keeps its keys "
                        "unset instead of stopping (the shared occluded_* values apply)")
    p.add_argument("--no-plot", action="store_true", help="skip calibration.png (no matplotlib)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..dataset import open_benchmark
    from ..errors import OccposeError
    from ..harness.calibrate import calibrate, write_outputs

    if not Path(args.data).is_dir():
        raise OccposeError(f"--data {args.data}: not a benchmark directory")
    if not Path(args.run).is_dir():
        raise OccposeError(f"--run {args.run}: not an image-model run directory")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise OccposeError(f"--out {args.out}: a file is in the way; expected a folder")
    bench = open_benchmark(args.data)
    doc = calibrate(bench, Path(args.run), args.split, args.allow_missing_states)
    command = (f"occpose-bench calibrate-noise --data {args.data} --run {args.run} --out {args.out}"
               f" --split {args.split}" + (" --allow-missing-states" if args.allow_missing_states else ""))
    provenance = {"command": command, "data": str(args.data), "run": str(args.run),
                  "split": args.split}
    paths = write_outputs(doc, Path(args.out), provenance, plot=not args.no_plot)
    fit = doc["fit"]
    parts = [f"{s} {fit[s]['std']:.3g} px + {100 * fit[s]['outlier_prob']:.3g} % x "
             f"{fit[s]['outlier_std']:.3g} px" if fit[s] is not None else f"{s} not fitted (no data)"
             for s in doc["states"]]
    print(f"{args.out}: fitted on {doc['sequences']} {args.split} sequences: " + "; ".join(parts))
    print("wrote " + ", ".join(p.name for p in paths))
    return 0
