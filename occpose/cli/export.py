"""``occpose-bench export``: a benchmark in another tool's format.

Usage::

    occpose-bench export runs/quick --format videopose3d --out exports/vp3d
    occpose-bench export runs/quick --format coco --out exports/quick_test.json --split test --levels 0.3 0.5

``videopose3d`` writes into the folder ``--out``: ``data_3d_<name>.npz``,
``data_2d_<name>_gt.npz``, ``data_occlusion_<name>.npz`` and ``cameras_<name>.json`` (one
VideoPose3D action per action and level, e.g. ``"walk L030"``). ``coco`` writes one COCO
keypoints JSON file (one image per frame, v = 2 visible, 1 occluded, 0 out of frame).
"""

from __future__ import annotations

import argparse

from .common import add_doc_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_doc_parser(sub, "export", "export a benchmark for VideoPose3D or as COCO keypoints", __doc__)
    p.add_argument("dir", metavar="DIR", help="benchmark directory")
    p.add_argument("--format", required=True, choices=("videopose3d", "coco"))
    p.add_argument("--out", required=True, metavar="PATH",
                   help="output folder (videopose3d) or JSON file (coco)")
    p.add_argument("--split", choices=("train", "test"), help="export one split only")
    p.add_argument("--levels", type=float, nargs="+", metavar="L",
                   help="export these target levels only, e.g. --levels 0.0 0.3")
    p.add_argument("--name", default="occpose", help="dataset name in VideoPose3D file names")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..configio import is_safe_name
    from ..dataset import open_benchmark
    from ..errors import ConfigError

    bench = open_benchmark(args.dir, verify=False)  # a bad benchmark fails before --out is touched
    if args.levels is not None:
        known = {round(e.target_level, 6) for e in bench.entries}
        missing = [v for v in args.levels if round(v, 6) not in known]
        if missing:
            raise ConfigError(f"--levels {missing}: not in {args.dir} (levels: "
                              f"{', '.join(f'{v:g}' for v in sorted(known))})")
    if args.format == "videopose3d":
        from ..interop.videopose3d import export_videopose3d

        if not is_safe_name(args.name):
            raise ConfigError(f"--name {args.name!r}: use letters, digits, '-' or '_'")
        from pathlib import Path

        from ..dataset.atomic import staged_file_set

        with staged_file_set(args.out, f"videopose3d-{args.name}") as stage:  # the files as one set
            names = [p.name for p in export_videopose3d(args.dir, stage, args.name, args.split,
                                                        args.levels)]
        for name in names:
            print(Path(args.out) / name)
    else:
        from ..interop.coco import export_coco

        coco = export_coco(args.dir, args.out, args.split, args.levels)
        print(f"{args.out}: {len(coco['images'])} images, {len(coco['annotations'])} annotations")
    return 0
