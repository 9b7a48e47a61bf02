"""``occpose-bench image-train`` / ``image-predict`` / ``image-eval``: the image model.

    occpose-bench image-train --data bench/quick-blender --out runs/img-p50 --p-occlude 0.5
    occpose-bench image-train --data bench/quick-blender --out runs/img-p0 --p-occlude 0
    occpose-bench image-train --data bench/h36m-blender --out runs/img-r50 --size resnet50 \\
        --device cuda --occluders procedural,rendered
    occpose-bench image-predict --data bench/quick-blender --run runs/img-p50
    occpose-bench image-eval --data bench/quick-blender --run p=0=runs/img-p0 --run p=0.5=runs/img-p50
    occpose-bench train --data bench/quick-blender --model tcn --keypoints2d detector:runs/img-p50 ...

Settings: the ``[image]`` table of ``--config PRESET`` (else of the benchmark's stored
configuration, else built-in defaults = the small CPU model), then ``--size``, then ``--set
image.KEY=VALUE``, then the flags. Rerunning image-train resumes from ``RUN/checkpoint.pt``.
"""

from __future__ import annotations

import argparse

from .common import name_list


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("image-train", help="train the image model on rendered train frames",
                       description="Train the volumetric-heatmap image model (Sarandi et al.) on "
                                   "the rendered frames of the train split, with synthetic "
                                   "occlusion augmentation. Reruns resume the run in RUN.")
    p.add_argument("--data", required=True, metavar="DIR", help="rendered benchmark directory")
    p.add_argument("--out", required=True, metavar="RUN", help="run directory")
    p.add_argument("--config", metavar="TOML", help="preset whose [image] section gives defaults")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set image.depth_bins=32 (repeatable)")
    p.add_argument("--size", choices=("small", "resnet50"),
                   help="model size: small (CPU, 128 px) or resnet50 (GPU, 256 px)")
    p.add_argument("--p-occlude", type=float, help="probability of pasting occluders (default 0.5)")
    p.add_argument("--occluders", type=name_list, metavar="SRC,...",
                   help="occluder sources: procedural, rendered, folder")
    p.add_argument("--occluder-folder", metavar="DIR", help="folder of RGBA cut-outs (source 'folder')")
    p.add_argument("--train-levels", type=_floats, metavar="L,...",
                   help="train only on sequences at these occlusion levels, e.g. 0")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--crop-size", type=int)
    p.add_argument("--workers", type=int, help="data-loading processes (0 = in the main process)")
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int)
    p.add_argument("--max-steps", type=int, help="at most this many batches per epoch (smoke tests)")
    p.add_argument("--overwrite", action="store_true", help="replace a run with other settings in RUN")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)

    q = sub.add_parser("image-predict", help="predict 2D and 3D poses of every sequence",
                       description="Write RUN/keypoints2d/<id>.npy (2D pixels, the harness's "
                                   "detector:RUN input) and RUN/predictions3d/<id>.npy "
                                   "(root-relative camera-frame metres) for every sequence; "
                                   "frames without a render are interpolated linearly over time.")
    q.add_argument("--data", required=True, metavar="DIR", help="rendered benchmark directory")
    q.add_argument("--run", required=True, metavar="RUN", help="trained image-model run")
    q.add_argument("--root-depth", choices=("predicted", "truth"),
                   help="root depth for back-projection (default: the run's setting, predicted)")
    q.add_argument("--no-flip", action="store_true", help="no test-time flip averaging")
    q.add_argument("--batch-size", type=int, default=64)
    q.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=run_predict)

    e = sub.add_parser("image-eval", help="MPJPE by occlusion level of image-model runs",
                       description="Evaluate predicted runs on a split and print a markdown table "
                                   "(MPJPE of all and occluded joints per level; with two runs, "
                                   "the change of the second against the first).")
    e.add_argument("--data", required=True, metavar="DIR", help="rendered benchmark directory")
    e.add_argument("--run", dest="runs", action="append", required=True, metavar="[LABEL=]RUN",
                   help="a predicted run, optionally labelled (repeatable)")
    e.add_argument("--split", default="test", choices=("test", "train"))
    e.add_argument("--out", metavar="FILE", help="also write the table and results (FILE, FILE.json)")
    e.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    from ..image import image_section, train_image_model

    sec = image_section(args.config, args.data, args.size, args.overrides,
                        p_occlude=args.p_occlude, occluder_sources=args.occluders,
                        occluder_folder=args.occluder_folder, train_levels=args.train_levels,
                        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                        crop_size=args.crop_size, workers=args.workers, device=args.device,
                        seed=args.seed)
    result = train_image_model(args.data, args.out, sec, overwrite=args.overwrite,
                               progress=not args.quiet, max_steps=args.max_steps)
    last = result.metrics[-1] if result.metrics else {}
    val = f", val MPJPE {last['val_mpjpe_mm']:.1f} mm" if "val_mpjpe_mm" in last else ""
    what = ("already complete" if result.resumed_from >= sec.epochs else
            f"resumed after epoch {result.resumed_from}" if result.resumed_from else "trained")
    print(f"{args.out}: image model, {result.epochs} epochs ({what}) on {result.device}, "
          f"p_occlude {sec.p_occlude}; train MPJPE {last.get('train_mpjpe_mm', float('nan')):.1f} mm"
          f"{val}, {last.get('images_per_s', float('nan')):.0f} images/s")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from ..image import predict_benchmark

    s = predict_benchmark(args.data, args.run, device=args.device, root_depth=args.root_depth,
                          flip=False if args.no_flip else None, batch_size=args.batch_size,
                          progress=not args.quiet)
    skipped = f"; skipped (no rendered frame): {', '.join(s['skipped'])}" if s["skipped"] else ""
    print(f"{args.run}: predicted {len(s['sequences'])} sequences (root depth {s['root_depth']}, "
          f"flip {'on' if s['flip'] else 'off'}){skipped}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..dataset.atomic import atomic_write_text
    from ..image import compare_image_runs

    runs = {}
    for text in args.runs:
        label, _, path = text.rpartition("=") if "=" in text else (None, "", text)
        runs[label or Path(path).name] = path
    results, table = compare_image_runs(args.data, runs, args.split)
    print(table, end="")
    if args.out:
        atomic_write_text(args.out, table)
        atomic_write_text(f"{args.out}.json", json.dumps(results, indent=1) + "\n")
    return 0
