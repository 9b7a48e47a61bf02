"""``occpose-bench convert``: bring outside motion and poses in.

Usage::

    occpose-bench convert bvh mocap/walk01.bvh --config scenes/quick.toml --out runs/walk01
    occpose-bench convert bvh clip.bvh --mapping my_rig.toml --scale 0.056444 --subject B2 \\
        --action stroll --config scenes/h36m.toml --set 'benchmark.levels=[0.0, 0.3]' --out runs/b2
    occpose-bench convert bvh 01_01.bvh 02_01.bvh 05_01.bvh --scale 0.056444 --clips-as subjects \\
        --subjects C1,C2,C5 --action walk --split test --config scenes/quick.toml --out runs/cmu_test
    occpose-bench convert videopose3d --data-3d data/data_3d_h36m.npz \\
        --data-2d data/data_2d_h36m_gt.npz --cameras h36m_cameras.json --trust-pickle \\
        --out data/h36m_poses.npz

``bvh`` runs imported clips through the generator (occluders, labels) with the preset's
cameras, levels and body model. Several files make one benchmark: by default each clip is an
action of one subject (``--subject``; action names from ``--actions`` or the file names);
with ``--clips-as subjects`` each clip is its own subject (``--subjects``, default B1, B2, ...)
performing one action (``--action``, default ``mocap``). Heights are estimated from the clips
(a subject of several clips gets their median); frames = the shortest clip's length at the
preset's fps (longer clips are cut, which is printed). ``--split test`` makes the imported
subjects test subjects (a test set for a model trained elsewhere). The joint mapping, scale,
stature and pelvis height of every clip are printed and recorded in the manifest's ``import``
field, with a warning when they are implausible for a person (docs/interop.md).
``videopose3d`` validates VideoPose3D files and writes their PoseSequences (camera-frame 3D,
2D, labels, splits) to one pickle-free npz that ``occpose.interop.load_pose_bundle`` reads
without trusting pickles again.
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
    b.add_argument("files", nargs="+", metavar="FILE", help="BVH file(s)")
    b.add_argument("--mapping", metavar="TOML", help="joint mapping file ([mapping] Hip = \"Hips\" ...)")
    b.add_argument("--scale", type=float, help="metres per BVH unit (default: detect m/cm/mm)")
    b.add_argument("--up", choices=("y", "z"), default="y", help="the file's up axis (default y)")
    b.add_argument("--clips-as", choices=("actions", "subjects"), default="actions",
                   help="several files: actions of one subject (default) or one subject each")
    b.add_argument("--subject", default="B1", help="subject name when clips are actions (default B1)")
    b.add_argument("--subjects", type=name_list, metavar="B1,B2,...",
                   help="subject names, one per file, with --clips-as subjects (default B1, B2, ...)")
    b.add_argument("--action", help="action name (one file, or --clips-as subjects; default: the "
                                    "file name, or 'mocap')")
    b.add_argument("--actions", type=name_list, metavar="A,B,...",
                   help="action names, one per file (default: the file names)")
    b.add_argument("--split", choices=("train", "test"), default="train",
                   help="the split of the imported subjects (default train)")
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


def clip_config(args: argparse.Namespace, n_frames: int, heights: dict[str, float], actions: list[str]):
    """The preset with the imported clips' subjects and actions, all in ``args.split``."""
    from ..config import config_from_dict, read_preset
    from ..configio import apply_overrides

    data = apply_overrides(read_preset(args.config), args.overrides)
    b = data.setdefault("benchmark", {})
    if args.seed is not None:
        b["seed"] = args.seed
    names = list(heights)
    b.update(actions=list(actions), frames=n_frames, train_subjects=names if args.split == "train" else [],
             test_subjects=names if args.split == "test" else [])
    data["subjects"] = {s: {"height": round(h, 3)} for s, h in heights.items()}
    return config_from_dict(data, str(args.config), imported_actions=tuple(actions))


def _clip_names(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(subject, action) per file, from the flags; ConfigError names a bad flag."""
    from ..errors import ConfigError

    n = len(args.files)

    def stem(f: str) -> str:
        return re.sub(r"[^a-z0-9_-]+", "_", Path(f).stem.lower()).strip("_") or "bvh"

    def count(flag: str, values: list[str]) -> list[str]:
        if len(values) != n:
            raise ConfigError(f"{flag}: {len(values)} names for {n} files")
        return values

    if args.clips_as == "actions":
        if args.subjects:
            raise ConfigError("--subjects: use it with --clips-as subjects (clips as actions use --subject)")
        if args.action and n > 1:
            raise ConfigError("--action: one name for several files; use --actions A,B,... or the file names")
        actions = count("--actions", args.actions) if args.actions else (
            [args.action] if args.action else [stem(f) for f in args.files])
        subjects = [args.subject] * n
        if len(set(actions)) != n:
            raise ConfigError(f"--actions: two files have the same action name ({', '.join(actions)}); "
                              f"name them with --actions")
    else:
        if args.actions:
            raise ConfigError("--actions: use it with --clips-as actions (clips as subjects use --action)")
        subjects = count("--subjects", args.subjects) if args.subjects else [f"B{k + 1}" for k in range(n)]
        actions = [args.action or "mocap"] * n
        if len(set(subjects)) != n:
            raise ConfigError(f"--subjects: a name is given twice ({', '.join(subjects)})")
    for flag, names in (("--action", actions), ("--subject", subjects)):
        for name in names:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                raise ConfigError(f"{flag} {name!r}: use letters, digits, '-' or '_'")
    return list(zip(subjects, actions))


def run_bvh(args: argparse.Namespace) -> int:
    import hashlib
    import statistics

    from ..config import load_config
    from ..generate import generate
    from ..interop.bvh import BvhError, body_check, load_bvh

    names = _clip_names(args)
    fps = load_config(args.config, args.overrides, args.seed).benchmark.fps
    clips, records = [], []
    for file, (subject, action) in zip(args.files, names):
        clip = load_bvh(file, fps=fps, scale=args.scale, mapping=args.mapping, up=args.up)
        if clip.n_frames < 2:
            raise BvhError(f"{file}: {clip.n_frames} frame at {fps:g} fps; need at least 2")
        check = body_check(clip.joints_world)
        if not 0.5 <= check["stature_m"] <= 2.6:
            raise BvhError(f"{file}: estimated stature {check['stature_m']:.2f} m is implausible; check "
                           f"--scale (now {clip.scale:g} m per unit) and the --mapping")
        print(f"{file}: {clip.n_frames} frames at {fps:g} fps (source {clip.source_fps:g} fps), "
              f"scale {clip.scale:g} m/unit{' (detected)' if args.scale is None else ''}, up {args.up}, "
              f"stature {check['stature_m']:.2f} m, pelvis {check['pelvis_height_m']:.2f} m "
              f"({100 * check['pelvis_fraction']:.0f}% of stature) -> subject {subject}, action {action}")
        print("  mapping: " + ", ".join(f"{k} <- {v}" for k, v in clip.mapping.items()))
        for w in check["warnings"]:
            print(f"  warning: {w}; check --scale and the --mapping (docs/interop.md)")
        clips.append(clip)
        records.append({"file": Path(file).name, "sha256": hashlib.sha256(Path(file).read_bytes()).hexdigest(),
                        "subject": subject, "action": action, "split": args.split, "scale": clip.scale,
                        "scale_detected": args.scale is None, "up": args.up, "source_fps": clip.source_fps,
                        "frames": clip.n_frames, "mapping": dict(clip.mapping),
                        "mapping_file": None if args.mapping is None else Path(args.mapping).name,
                        **{k: round(v, 4) if isinstance(v, float) else v for k, v in check.items()}})
    n_frames = min(c.n_frames for c in clips)
    for file, c in zip(args.files, clips):
        if c.n_frames > n_frames:
            print(f"{file}: cut to {n_frames} frames (the shortest clip; a benchmark has one length)")
    for r in records:
        r["frames_used"] = n_frames
    heights: dict[str, list[float]] = {}
    for (subject, _), r in zip(names, records):
        heights.setdefault(subject, []).append(r["stature_m"])
    heights = {s: float(statistics.median(v)) for s, v in heights.items()}
    actions = list(dict.fromkeys(a for _, a in names))
    cfg = clip_config(args, n_frames, heights, actions)
    manifest = generate(cfg, args.out, overwrite=args.overwrite, workers=args.workers, progress=not args.quiet,
                        clips={k: c.joints_world[:n_frames] for k, c in zip(names, clips)},
                        extra={"import": {"kind": "bvh", "clips": records}})
    print(f"{args.out}: {len(manifest['sequences'])} sequences ({args.split}), status {manifest['status']}")
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
