"""``occpose-bench export``: a benchmark in another tool's format.

Usage::

    occpose-bench export runs/quick --format videopose3d --out exports/vp3d
    occpose-bench export runs/quick --format coco --out exports/quick_test.json --split test --levels 0.3 0.5

    occpose-bench export runs/quick --format videopose3d --group-by level --out exports/vp3d
    occpose-bench export runs/quick --format coco --layout coco17 --rendered-only --out exports/c17.json

``videopose3d`` writes into the folder ``--out``: ``data_3d_<name>.npz``,
``data_2d_<name>_gt.npz``, ``data_occlusion_<name>.npz``, ``cameras_<name>.json`` and the
VideoPose3D dataset class ``occpose_dataset.py`` (one VideoPose3D action per action and level,
``"walk L030"``, or with ``--group-by level`` ``"L030 walk"`` so that VideoPose3D's table is per
level). ``coco`` writes one COCO keypoints JSON file (one image per frame, v = 2 visible,
1 occluded, 0 out of frame; per-joint OKS sigmas in the category). docs/interop.md has the
commands for VideoPose3D's run.py and pycocotools.
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
    p.add_argument("--group-by", choices=("action", "level"), default="action",
                   help="videopose3d: first word of the action names, which VideoPose3D's "
                        "evaluation table groups by (default action: 'walk L030'; level: 'L030 walk')")
    p.add_argument("--keypoints2d", choices=("gt", "noise"), nargs="+", default=["gt"],
                   help="videopose3d: 2D files to write, data_2d_<name>_<k>.npz (gt always; noise: "
                        "occpose's simulated detector, the benchmark's [train.noise])")
    p.add_argument("--layout", choices=("native", "coco17"), default="native",
                   help="coco: the benchmark's own joints (default) or COCO's 17 keypoints "
                        "(shared joints mapped, the others v=0)")
    p.add_argument("--rendered-only", action="store_true",
                   help="coco: list only frames that were rendered (their PNGs exist)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..configio import is_safe_name
    from ..dataset import open_benchmark
    from ..errors import ConfigError

    # Flags of the other format are refused rather than ignored.
    other_format = {"videopose3d": ("coco", {"--layout": args.layout != "native",
                                             "--rendered-only": args.rendered_only}),
                    "coco": ("videopose3d", {"--group-by": args.group_by != "action",
                                             "--keypoints2d": args.keypoints2d != ["gt"]})}
    other, flags = other_format[args.format]
    for flag, used in flags.items():
        if used:
            raise ConfigError(f"{flag}: applies to --format {other}, not {args.format}")
    bench = open_benchmark(args.dir, verify=False)  # a bad benchmark fails before --out is touched
    if args.levels is not None:
        known = {round(e.target_level, 6) for e in bench.entries}
        missing = [v for v in args.levels if round(v, 6) not in known]
        if missing:
            raise ConfigError(f"--levels {missing}: not in {args.dir} (levels: "
                              f"{', '.join(f'{v:g}' for v in sorted(known))})")
    if args.format == "videopose3d":
        from ..interop.videopose3d import export_videopose3d_files

        if not is_safe_name(args.name):
            raise ConfigError(f"--name {args.name!r}: use letters, digits, '-' or '_'")
        from pathlib import Path

        from ..dataset.atomic import staged_file_set

        with staged_file_set(args.out, f"videopose3d-{args.name}") as stage:  # the files as one set
            files = export_videopose3d_files(args.dir, stage, args.name, args.split, args.levels,
                                             group_by=args.group_by, keypoints2d=args.keypoints2d)
            names = [p.name for p in files.paths()]
        for name in names:
            print(Path(args.out) / name)
    else:
        from ..interop.coco import export_coco

        coco = export_coco(args.dir, args.out, args.split, args.levels, layout=args.layout,
                           rendered_only=args.rendered_only)
        print(f"{args.out}: {len(coco['images'])} images, {len(coco['annotations'])} annotations"
              f"{coco['info'].get('note', '')}")
    return 0
