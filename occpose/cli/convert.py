"""``occpose-bench convert``: bring outside motion and poses in.

Usage::

    occpose-bench convert bvh mocap/walk01.bvh --config scenes/quick.toml --out runs/walk01
    occpose-bench convert bvh clip.bvh --mapping my_rig.toml --scale 0.056444 --subject B2 \\
        --action stroll --config scenes/h36m.toml --set 'benchmark.levels=[0.0, 0.3]' --out runs/b2
    occpose-bench convert videopose3d --data-3d data/data_3d_h36m.npz \\
        --data-2d data/data_2d_h36m_gt.npz --cameras h36m_cameras.json --trust-pickle \\
        --out data/h36m_poses.npz

``bvh`` runs the imported clip through the generator (occluders, labels) with the preset's
cameras, levels and body model: one subject (height estimated from the clip), one action,
frames = the clip's length at the preset's fps. ``videopose3d`` validates VideoPose3D files and
writes their PoseSequences (camera-frame 3D, 2D, labels, splits) to one pickle-free npz that
``occpose.interop.load_pose_bundle`` reads without trusting pickles again.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from .common import add_config_args, add_doc_parser, name_list, nonnegative_int


def register(sub: argparse._SubParsersAction) -> None:
    p = add_doc_parser(sub, "convert", "import BVH motion or VideoPose3D data", __doc__)
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    b = kinds.add_parser("bvh", help="BVH motion -> benchmark directory (through the generator)")
    b.add_argument("file", metavar="FILE", help="BVH file")
    b.add_argument("--mapping", metavar="TOML", help="joint mapping file ([mapping] Hip = \"Hips\" ...)")
    b.add_argument("--scale", type=float, help="metres per BVH unit (default: detect m/cm/mm)")
    b.add_argument("--up", choices=("y", "z"), default="y", help="the file's up axis (default y)")
    b.add_argument("--subject", default="B1", help="subject name (default B1)")
    b.add_argument("--action", help="action name (default: the file name)")
    add_config_args(b)
    b.add_argument("--out", required=True, metavar="DIR", help="output benchmark directory")
    b.add_argument("--overwrite", action="store_true", help="replace a benchmark in DIR made from another config")
    b.add_argument("--workers", type=nonnegative_int, default=0, help="processes (0 = one per CPU core)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=run_bvh)

    v = kinds.add_parser("videopose3d", help="VideoPose3D npz files -> pickle-free PoseSequence npz")
    v.add_argument("--data-3d", required=True, metavar="F", help="data_3d_<name>.npz")
    v.add_argument("--data-2d", metavar="F", help="data_2d_<name>_<det>.npz (default: project the 3D)")
    v.add_argument("--cameras", required=True, metavar="F.json", help="camera JSON (see docs)")
    v.add_argument("--occlusion", metavar="F", help="data_occlusion_<name>.npz (occpose exports)")
    v.add_argument("--trust-pickle", action="store_true",
                   help="allow the pickled members of VideoPose3D files (read with an allow-list)")
    v.add_argument("--train-subjects", type=name_list, metavar="S1,S5,...")
    v.add_argument("--test-subjects", type=name_list, metavar="S9,S11")
    v.add_argument("--layout", choices=("h36m", "humaneva15"), help="default: from the files")
    v.add_argument("--fps", type=float, help="frame rate (default: 50 h36m, 60 humaneva15)")
    v.add_argument("--out", required=True, metavar="F.npz", help="output PoseSequence npz")
    v.set_defaults(func=run_videopose3d)


def clip_config(args: argparse.Namespace, n_frames: int, height: float, action: str):
    """The preset with the imported clip as its only subject and action."""
    from ..config import config_from_dict, read_preset
    from ..configio import apply_overrides

    data = apply_overrides(read_preset(args.config), args.overrides)
    b = data.setdefault("benchmark", {})
    if args.seed is not None:
        b["seed"] = args.seed
    b.update(actions=[action], train_subjects=[args.subject], test_subjects=[], frames=n_frames)
    data["subjects"] = {args.subject: {"height": round(height, 3)}}
    return config_from_dict(data, str(args.config), imported_actions=(action,))


def run_bvh(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..errors import ConfigError
    from ..generate import generate
    from ..interop.bvh import BvhError, estimate_stature, load_bvh

    action = args.action or re.sub(r"[^a-z0-9_-]+", "_", Path(args.file).stem.lower()).strip("_") or "bvh"
    for flag, name in (("--action", action), ("--subject", args.subject)):
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ConfigError(f"{flag} {name!r}: use letters, digits, '-' or '_'")
    fps = load_config(args.config, args.overrides, args.seed).benchmark.fps
    clip = load_bvh(args.file, fps=fps, scale=args.scale, mapping=args.mapping, up=args.up)
    if clip.n_frames < 2:
        raise BvhError(f"{args.file}: {clip.n_frames} frame at {fps:g} fps; need at least 2")
    height = estimate_stature(clip.joints_world)
    if not 0.5 <= height <= 2.6:
        raise BvhError(f"{args.file}: estimated stature {height:.2f} m is implausible; check --scale "
                       f"(now {clip.scale:g} m per unit) and the --mapping")
    cfg = clip_config(args, clip.n_frames, height, action)
    print(f"{args.file}: {clip.n_frames} frames at {fps:g} fps (source {clip.source_fps:g} fps), "
          f"scale {clip.scale:g} m/unit, stature {height:.2f} m -> subject {args.subject}, action {action}")
    manifest = generate(cfg, args.out, overwrite=args.overwrite, workers=args.workers,
                        progress=not args.quiet, clips={(args.subject, action): clip.joints_world})
    print(f"{args.out}: {len(manifest['sequences'])} sequences, status {manifest['status']}")
    return 0 if manifest["status"] == "complete" else 1


def run_videopose3d(args: argparse.Namespace) -> int:
    from ..interop.videopose3d import load_videopose3d, save_pose_bundle

    seqs = load_videopose3d(args.data_3d, args.data_2d, args.cameras, trust_pickle=args.trust_pickle,
                            train_subjects=args.train_subjects, test_subjects=args.test_subjects,
                            occlusion=args.occlusion, layout=args.layout, fps=args.fps)
    source = {k: getattr(args, k) for k in ("data_3d", "data_2d", "cameras", "occlusion")}
    save_pose_bundle(seqs, args.out, source)
    splits = {s: sum(q.split == s for q in seqs) for s in ("train", "test")}
    print(f"{args.out}: {len(seqs)} sequences ({splits['train']} train, {splits['test']} test), "
          f"{sum(q.n_frames for q in seqs)} frames")
    return 0
