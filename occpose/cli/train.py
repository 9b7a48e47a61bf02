"""``occpose-bench train``: train (or resume) one model with one seed on a benchmark's train split.

    occpose-bench train --data bench/quick --model tcn --out runs/tcn-s0
    occpose-bench train --data bench/quick --model tcn-occ1 --out runs/occ1-s1 --seed 1 \\
        --occlusion-labels boxed --epochs 10 --channels 256
    torchrun --nproc-per-node 4 -m occpose.cli train --data bench/quick --model tcn --out runs/tcn

Defaults come from the ``[train]`` section of ``--config PRESET`` if given, else of the
configuration stored in the benchmark's manifest, else :class:`occpose.config.TrainSection`;
flags override them. Rerunning the same command resumes from ``RUN/checkpoint.pt``.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one pose model (one seed) on the train split",
                       description="Train one model on the train split (all levels), validating "
                                   "on the test split every epoch. Reruns resume the run in RUN.")
    add_data_args(p)
    p.add_argument("--model", required=True, metavar="NAME",
                   help="tcn, tcn-occ1, tcn-occseq, tcn-aug or linear")
    p.add_argument("--out", required=True, metavar="RUN", help="run directory")
    p.add_argument("--config", metavar="TOML", help="preset whose [train] section gives defaults")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset value, e.g. --set train.lr=0.0005 (repeatable)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="windows per step and process")
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-decay", type=float, help="learning-rate factor per epoch")
    p.add_argument("--channels", type=int, help="TCN channels / linear hidden width")
    p.add_argument("--filter-widths", metavar="W,W,...", help="TCN kernel widths, e.g. 3,3,3")
    p.add_argument("--dropout", type=float)
    p.add_argument("--causal", action="store_true", default=None, help="causal TCN")
    p.add_argument("--seed", type=int, help="training seed (default: first of train.seeds)")
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--keypoints2d", metavar="SOURCE", help="2D inputs: exact, noise or detector:RUN")
    p.add_argument("--occlusion-labels", metavar="SOURCE",
                   help="truth, clustered, boxed or boxed_depth (occlusion-aware models)")
    p.add_argument("--lambda-occ", type=float, help="weight of the occlusion L1 loss")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a run with different settings in RUN")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force-size", action="store_true",
                   help="go ahead even when the estimated memory, disk or time cannot fit")
    p.set_defaults(func=run)


def add_data_args(p: argparse.ArgumentParser) -> None:
    """``--data`` and the VideoPose3D options (shared with ``evaluate``)."""
    p.add_argument("--data", required=True, metavar="DIR|NPZ",
                   help="benchmark directory, pose bundle from 'convert videopose3d', or a "
                        "VideoPose3D data_3d_*.npz")
    g = p.add_argument_group("VideoPose3D data_3d input")
    g.add_argument("--data-2d", metavar="NPZ", help="its data_2d_*.npz (default: project the 3D)")
    g.add_argument("--cameras", metavar="JSON", help="camera JSON (required for data_3d files)")
    g.add_argument("--occlusion", metavar="NPZ", help="occpose data_occlusion_*.npz labels")
    g.add_argument("--trust-pickle", action="store_true",
                   help="allow the pickled dicts of VideoPose3D files (trusted files only)")


def sequences_from_args(args: argparse.Namespace):
    from ..harness import load_sequences

    return load_sequences(args.data, trust_pickle=args.trust_pickle, data_2d=args.data_2d,
                          cameras=args.cameras, occlusion=args.occlusion)


def parse_widths(text: str) -> list[int]:
    from ..errors import OccposeError

    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        widths = []
    if not widths or any(w < 1 or w % 2 == 0 for w in widths):
        raise OccposeError(f"--filter-widths {text!r}: expected odd integers >= 1 separated by "
                           f"commas, e.g. 3,3,3")
    return widths


def train_section(args: argparse.Namespace, data_path):
    """The [train] defaults: --config preset, else the benchmark's stored config, else built-in."""
    from ..config import TrainSection, load_config
    from ..configio import apply_overrides, build
    from ..dataset.manifest import stored_section

    if args.config:
        return load_config(args.config, args.overrides).train
    data = stored_section(data_path, "train")
    data = apply_overrides({"train": data}, args.overrides)["train"]
    return build(TrainSection, data, "train", "--set" if args.overrides else str(data_path))


def _check_size(settings, dev, out, force: bool) -> None:
    """Refuse a model that cannot fit in this device's memory (:mod:`occpose.sizes`)."""
    from ..sizes import check, train_estimate

    memory = None
    if getattr(dev, "type", "cpu") == "cuda":
        import torch

        memory = float(torch.cuda.mem_get_info(dev)[0])
    check(train_estimate(settings), out, force, memory=memory)


def run(args: argparse.Namespace) -> int:
    import os

    from ..errors import OccposeError
    from ..harness import RunSettings, split_sequences, train_model
    from ..harness.device import resolve_device
    from ..models import MODEL_NAMES

    if args.model not in MODEL_NAMES:
        raise OccposeError(f"--model {args.model!r}: unknown model; known models: "
                           f"{', '.join(MODEL_NAMES)}")
    widths = parse_widths(args.filter_widths) if args.filter_widths is not None else None
    train = train_section(args, args.data)
    seed = args.seed if args.seed is not None else train.seeds[0]
    settings = RunSettings.from_train_section(
        train, args.model, seed, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        lr_decay=args.lr_decay, channels=args.channels, filter_widths=widths,
        dropout=args.dropout, causal=args.causal, keypoints2d=args.keypoints2d,
        occlusion_labels=args.occlusion_labels, lambda_occ=args.lambda_occ).validate()
    device = args.device or train.device
    dev = resolve_device(device)                            # fail before loading data
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise OccposeError(f"{args.out}: exists and is not a directory")
    _check_size(settings, dev, args.out, args.force_size)
    sequences = sequences_from_args(args)
    train_seqs, test_seqs = split_sequences(sequences, "train"), split_sequences(sequences, "test")
    result = train_model(train_seqs, test_seqs, settings, args.out,
                         device=device, overwrite=args.overwrite,
                         progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) == 0:           # torchrun: one summary line
        last = result.metrics[-1] if result.metrics else {}
        val = f", val MPJPE {last['val_mpjpe_mm']:.1f} mm" if "val_mpjpe_mm" in last else ""
        what = ("already complete" if result.resumed_from >= settings.epochs else
                f"resumed after epoch {result.resumed_from}" if result.resumed_from else "trained")
        print(f"{args.out}: {settings.model} seed {settings.seed}, {result.epochs} epochs ({what}), "
              f"{len(train_seqs)} train sequences on {result.device}; train MPJPE "
              f"{last.get('train_mpjpe_mm', float('nan')):.1f} mm{val}")
    return 0
