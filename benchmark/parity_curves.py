"""Per-epoch learning curves of occpose runs next to VideoPose3D ``run.py`` logs (docs/parity.md).

    python benchmark/parity_curves.py --run occpose-s0=runs/tcn-s0 --vp3d-log vp3d-s0=vp3d_s0.log \
        --out docs/images/parity_curves.png

occpose: ``RUN/metrics.jsonl`` -- ``train_mpjpe_mm`` (training mode, the epoch's batches) and
``train_eval_mpjpe_mm`` (evaluation mode, whole training sequences, root-aligned).
VideoPose3D: its per-epoch lines ``[e] time T lr L 3d_train A 3d_eval B 3d_valid C`` (metres x
1000: training mode; evaluation mode on the training sequences; evaluation mode on the test
sequences, neither root-aligned). Also prints the curves as a Markdown table and the training
throughput (samples per second of the epochs' training loops).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

_VP3D_LINE = re.compile(r"^\[(\d+)\] time ([\d.]+) lr [\d.e-]+ 3d_train ([\d.]+) 3d_eval ([\d.]+)"
                        r" 3d_valid ([\d.]+)")


def read_vp3d_log(path: str) -> list[dict]:
    out = []
    for line in Path(path).read_text().splitlines():
        m = _VP3D_LINE.match(line.strip())
        if m:
            e, minutes, tr, ev, va = m.groups()
            out.append({"epoch": int(e), "time_s": 60 * float(minutes), "train": float(tr),
                        "train_eval": float(ev), "test_eval": float(va)})
    return out


def read_run(run: str) -> list[dict]:
    rows = [json.loads(x) for x in (Path(run) / "metrics.jsonl").read_text().splitlines() if x]
    return [{"epoch": r["epoch"], "time_s": r["time_s"], "train": r["train_mpjpe_mm"],
             "train_eval": r.get("train_eval_mpjpe_mm"), "val": r.get("val_mpjpe_mm"),
             "samples": r["samples"]} for r in rows]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=RUN")
    ap.add_argument("--vp3d-log", action="append", default=[], metavar="LABEL=FILE")
    ap.add_argument("--samples", type=int, default=None,
                    help="samples per VideoPose3D epoch (for its frames/s)")
    ap.add_argument("--out", help="PNG file")
    args = ap.parse_args(argv)
    curves = {}
    for spec in args.run:
        label, run = spec.split("=", 1)
        curves[label] = read_run(run)
    for spec in args.vp3d_log:
        label, path = spec.split("=", 1)
        curves[label] = read_vp3d_log(path)
        if args.samples:
            for r in curves[label]:
                r["samples"] = args.samples

    for label, rows in curves.items():
        print(f"\n{label}\n\n| epoch | train (train mode) | train (eval mode) | validation / test (eval mode) |")
        print("|---|---|---|---|")
        for r in rows:
            other = r.get("val") if r.get("val") is not None else r.get("test_eval")
            print(f"| {r['epoch']} | {r['train']:.1f} | {r['train_eval']:.1f} | "
                  + (f"{other:.1f} |" if other is not None else "- |"))
        if rows and all("samples" in r for r in rows):
            fps = sorted(r["samples"] / r["time_s"] for r in rows)
            print(f"\ntraining throughput: median {fps[len(fps) // 2]:.0f} samples/s over "
                  f"{len(rows)} epochs (min {fps[0]:.0f}, max {fps[-1]:.0f})")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 5))
        for i, (label, rows) in enumerate(curves.items()):
            ep = [r["epoch"] for r in rows]
            ax.plot(ep, [r["train"] for r in rows], "--", color=f"C{i}", label=f"{label} train (train mode)")
            ax.plot(ep, [r["train_eval"] for r in rows], "-", color=f"C{i}", label=f"{label} train (eval mode)")
            for key, what in (("val", "validation"), ("test_eval", "test")):
                other = [r.get(key) for r in rows]
                if any(v is not None for v in other):
                    ax.plot(ep, other, ":", color=f"C{i}", label=f"{label} {what} (eval mode)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("MPJPE (mm)")
        ax.set_ylim(0, 200)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.out, dpi=100)
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
