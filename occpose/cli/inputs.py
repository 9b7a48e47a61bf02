"""``occpose-bench inputs``: the 2D inputs, cameras and labels a model sees, as one .npz.

    occpose-bench inputs --data bench/quick --keypoints2d noise --out inputs.npz
    occpose-bench inputs --data bench/quick --keypoints2d exact --split test --out exact.npz
    occpose-bench inputs --data bench/rendered --keypoints2d detector:runs/image --out det.npz

Per sequence of the split: 2D keypoints in pixels and normalised as VideoPose3D's
normalize_screen_coordinates, camera intrinsics, image size and, for reference, the ray-cast
occlusion labels; one array per key, no pickles (keys: docs/api.md). The detector noise is the
stream train and evaluate use (seeded by sequence id), with the parameters of --config's
[train.noise], else of the benchmark's stored preset, else the built-in defaults.
"""

from __future__ import annotations

import argparse

from .common import add_doc_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_doc_parser(sub, "inputs", "write the model inputs of a split (.npz)", __doc__)
    p.add_argument("--data", required=True, metavar="DIR", help="benchmark directory")
    p.add_argument("--keypoints2d", required=True, metavar="SOURCE",
                   help="2D inputs: exact, noise or detector:RUN")
    p.add_argument("--split", default="test", choices=("test", "train", "all"),
                   help="sequences to write (default test)")
    p.add_argument("--out", required=True, metavar="NPZ", help="output file")
    p.add_argument("--config", metavar="TOML", help="preset whose [train.noise] gives the noise")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value, e.g. --set train.noise.visible_std=5 (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..dataset import open_benchmark
    from ..errors import OccposeError
    from ..harness.inputs import parse_source
    from ..harness.model_inputs import write_inputs
    from .train import train_section

    parse_source(args.keypoints2d)
    if not Path(args.data).is_dir():
        raise OccposeError(f"--data {args.data}: not a benchmark directory")
    if not str(args.out).endswith(".npz"):
        raise OccposeError(f"--out {args.out}: expected a file name ending in .npz")
    bench = open_benchmark(args.data)
    noise = train_section(args, args.data).noise
    arrays = write_inputs(bench, args.out, args.split, args.keypoints2d, noise)
    n = len(arrays["ids"])
    print(f"{args.out}: {n} {args.split} sequences, {int(arrays['frames'].sum())} frames, "
          f"2D from {args.keypoints2d} (keys: ids, <id>/keypoints_2d, <id>/keypoints_2d_px, "
          f"<id>/camera_matrix, ...; see docs/api.md)")
    return 0
