"""Score TCN weights from occpose runs and from other trainers (VideoPose3D's ``run.py``) with one
script on one ground truth: a benchmark's test split (docs/parity.md).

    python benchmark/parity_score.py --data bench/quick --run occpose-s0=runs/tcn-s0 \
        --weights vp3d-s0=vp3d_s0.pt --channels 256 --filter-widths 3,3,3 --precise-bn \
        --out parity.json

``--weights LABEL=FILE`` is a plain ``state_dict`` of VideoPose3D's ``TemporalModel`` (its
checkpoints' ``model_pos``, saved alone with ``torch.save``; read with ``weights_only=True``);
its keys are occpose's. An occpose ``checkpoint.pt`` (e.g. a copy kept after some epoch) is also
accepted there; its model takes the ``--channels``/``--filter-widths`` given. Every model is evaluated the same way: the dilated TCN on each whole test
sequence padded by edge replication, with and without flip averaging, MPJPE (mm) root-aligned
(the prediction's root moved to the target's) and as predicted (VideoPose3D's protocol #1), the
mean over all test frames and joints; and the evaluation-mode MPJPE on the training split.
``--precise-bn`` adds each model with its BatchNorm statistics re-estimated on the training split
with its final weights (:func:`occpose.harness.train.precise_bn`), and how far the running
statistics it evaluates with are from those: per layer, the mean over channels of
|running mean - re-estimated mean| / re-estimated std and of |ln(running var / re-estimated var)|,
averaged over the layers. 2D inputs are the exact
projections. Prints a Markdown table; ``--out`` writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from occpose.dataset import open_benchmark
from occpose.dataset.poses import from_benchmark
from occpose.harness import RunSettings, split_sequences
from occpose.harness.data import WindowSet, prepare, skeleton_for
from occpose.harness.inference import build_eval_model, build_train_model, padding_of, predict_sequence
from occpose.harness.settings import read_settings
from occpose.harness.train import EpochWindows, precise_bn


def _errors(model, prepared, skeleton, flip: bool) -> tuple[float, float]:
    """(root-aligned, as predicted) MPJPE in mm over all frames and joints."""
    dev = torch.device("cpu")
    aligned, raw, n = 0.0, 0.0, 0
    for p in prepared:
        pred = predict_sequence(model, p, skeleton, dev, flip=flip)              # (T, J, 3)
        err_raw = np.linalg.norm(pred - p.poses, axis=-1)
        err_al = np.linalg.norm((pred - pred[:, :1]) - p.poses, axis=-1)
        raw += float(err_raw.sum())
        aligned += float(err_al.sum())
        n += err_raw.size
    return 1000 * aligned / n, 1000 * raw / n


def bn_memory(epochs: int, steps: int, m0: float = 0.1, m1: float = 0.001) -> list[float]:
    """Share of the final running statistics from each epoch's batches (the initial values
    keep the rest) under the per-epoch momentum ``m_e = m0 exp(-e/E ln(m0/m1))``."""
    import math

    shares, later = [0.0] * epochs, 1.0
    for e in reversed(range(epochs)):
        m = m0 * math.exp(-e / epochs * math.log(m0 / m1))
        shares[e] = (1 - (1 - m) ** steps) * later
        later *= (1 - m) ** steps
    return shares


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bn-memory", nargs="+", type=int, metavar="N",
                    help="EPOCHS STEPS [STEPS ...]: print the running statistics' memory and exit")
    ap.add_argument("--data", help="benchmark directory")
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=RUN")
    ap.add_argument("--weights", action="append", default=[], metavar="LABEL=FILE")
    ap.add_argument("--channels", type=int, default=256, help="of the --weights models")
    ap.add_argument("--filter-widths", default="3,3,3", help="of the --weights models")
    ap.add_argument("--precise-bn", action="store_true")
    ap.add_argument("--out", help="JSON file")
    args = ap.parse_args(argv)
    if args.bn_memory:
        epochs = args.bn_memory[0]
        print("| steps per epoch | last epoch | last 3 epochs | last 5 epochs | first half |")
        print("|---|---|---|---|---|")
        for steps in args.bn_memory[1:]:
            w = bn_memory(epochs, steps)
            print(f"| {steps} | {w[-1]:.1%} | {sum(w[-3:]):.1%} | {sum(w[-5:]):.1%} | "
                  f"{sum(w[:epochs // 2]):.1%} |")
        return 0
    if not args.data:
        ap.error("--data is required")
    torch.set_num_threads(1)

    bench = open_benchmark(args.data)
    seqs = from_benchmark(bench, bench.select())
    base = RunSettings(model="tcn", keypoints2d="exact", channels=args.channels,
                       filter_widths=[int(w) for w in args.filter_widths.split(",")], dropout=0.25)
    train_p = prepare(split_sequences(seqs, "train"), base)
    test_p = prepare(split_sequences(seqs, "test"), base)
    skeleton = skeleton_for(train_p[0].keypoints.shape[1])

    models = []
    for spec in args.run:
        label, run = spec.split("=", 1)
        settings, _ = read_settings(run)
        state = torch.load(Path(run) / "checkpoint.pt", weights_only=True)["model"]
        models.append((label, settings, state))
    for spec in args.weights:
        label, path = spec.split("=", 1)
        state = torch.load(path, weights_only=True)
        if "format" in state and "model" in state:                 # an occpose checkpoint.pt
            state = state["model"]
        models.append((label, base, state))

    rows, staleness = [], {}
    for label, settings, state in models:
        variants = [(label, state)]
        if args.precise_bn:
            train_model = build_train_model(settings, skeleton.num_joints)
            train_model.load_state_dict(state)
            samples = EpochWindows(WindowSet(train_p, train_model.receptive_field(),
                                             padding_of(train_model)), skeleton, flip=True)
            precise_bn(train_model, samples, 1024, torch.device("cpu"), settings.seed)
            new = train_model.state_dict()
            layers = [k[:-len("running_mean")] for k in new if k.endswith("running_mean")]
            shift = [float(((state[p + "running_mean"] - new[p + "running_mean"]).abs()
                            / new[p + "running_var"].sqrt()).mean()) for p in layers]
            ratio = [float((state[p + "running_var"] / new[p + "running_var"]).log().abs().mean())
                     for p in layers]
            staleness[label] = {"mean_shift_in_std": sum(shift) / len(shift),
                                "abs_log_var_ratio": sum(ratio) / len(ratio),
                                "per_layer_mean_shift": shift, "per_layer_abs_log_var_ratio": ratio}
            variants.append((f"{label} +precise BN", new))
        for name, st in variants:
            model = build_eval_model(settings, skeleton.num_joints)
            model.load_state_dict(st)
            model.eval()
            row = {"model": name}
            for flip in (True, False):
                a, r = _errors(model, test_p, skeleton, flip)
                tag = "flip" if flip else "noflip"
                row[f"test_aligned_{tag}"], row[f"test_raw_{tag}"] = a, r
            row["train_eval_aligned"] = _errors(model, train_p, skeleton, False)[0]
            rows.append(row)
            print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items() if k != "model"),
                  file=sys.stderr, flush=True)

    print("| model | test, root-aligned, flip | test, as predicted, flip | test, root-aligned, "
          "no flip | train (eval mode), root-aligned, no flip |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['test_aligned_flip']:.1f} | {r['test_raw_flip']:.1f} | "
              f"{r['test_aligned_noflip']:.1f} | {r['train_eval_aligned']:.1f} |")
    for label, st in staleness.items():
        print(f"\n{label}: running vs re-estimated BatchNorm statistics: mean shift "
              f"{st['mean_shift_in_std']:.3f} std, |ln var ratio| {st['abs_log_var_ratio']:.3f} "
              f"(averages over {len(st['per_layer_mean_shift'])} layers)")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "bn_staleness": staleness},
                                             indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
