"""Training throughput of occpose's TCN loop against the previous loop, on the same windows.

Usage:
    .venv/bin/python benchmark/bench_tcn_train.py                     # toy data, issue-10 settings
    .venv/bin/python benchmark/bench_tcn_train.py --data bench/quick --threads 1 --rounds 5

Settings (VideoPose3D's, issue 10): filter widths 3,3,3, 256 channels, batch 1024, dropout 0.25,
Adam with amsgrad. Two loops over the same training windows, each timed for ``--steps`` steps per
round, alternating for ``--rounds`` rounds so that both see the same machine load:

* ``old``: the loop before issue 10: each batch gathered from the windows and flipped with
  probability 1/2 by ``torch.where`` over a flipped copy of the whole batch; the strided TCN as
  channels-first convolutions with ``nn.Dropout`` (``TemporalModelOptimized1f.channels_first``).
* ``new``: the epoch's plain and flipped windows prepared once (:class:`EpochWindows`), one
  gather per batch; the strided TCN computed frames-major with matrix products and
  uniform-draw dropout (the default).

Prints each loop's median frames/s (training samples per second, gather + forward + backward +
Adam step) and the ratio new / old. Absolute figures depend on the machine and its load; compare
the ratio. VideoPose3D's own ``run.py`` on the same data is measured in docs/parity.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from occpose.harness import RunSettings
from occpose.harness.data import WindowSet, flip_poses, prepare, skeleton_for
from occpose.harness.train import EpochWindows
from occpose.metrics import mpjpe
from occpose.models import TemporalModelOptimized1f


def _windows(data: str | None, settings: RunSettings):
    if data:
        from occpose.harness import load_sequences, split_sequences

        seqs = split_sequences(load_sequences(data), "train")
    else:
        from occpose.harness.toy import toy_sequences

        seqs = [s for s in toy_sequences(subjects=("S1", "S2", "S3"), actions=("walk", "box"),
                                         levels=(0.0, 0.3), frames=150) if s.split == "train"]
    prepared = prepare(seqs, settings)
    return prepared, skeleton_for(prepared[0].keypoints.shape[1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="benchmark directory (default: a toy benchmark)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--steps", type=int, default=4, help="timed steps per loop and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--channels", type=int, default=256)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = RunSettings(model="tcn", keypoints2d="exact", channels=args.channels,
                           filter_widths=[3, 3, 3], dropout=0.25)
    prepared, skeleton = _windows(args.data, settings)
    j = skeleton.num_joints

    loops = {}
    for name in ("old", "new"):
        torch.manual_seed(0)
        model = TemporalModelOptimized1f(j, 2, j, (3, 3, 3), dropout=0.25, channels=args.channels)
        model.channels_first = name == "old"
        windows = WindowSet(prepared, model.receptive_field(), model.input_padding())
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
        gen = torch.Generator().manual_seed(0)
        samples = EpochWindows(windows, skeleton, flip=True) if name == "new" else windows
        loops[name] = (model, opt, samples, gen)

    def run(name: str, steps: int) -> float:
        model, opt, samples, gen = loops[name]
        model.train()
        t0 = time.perf_counter()
        for _ in range(steps):
            index = torch.randint(len(samples), (args.batch,), generator=gen)
            batch = samples.batch(index)
            kp, poses = batch.keypoints, batch.poses
            if name == "old":
                flip = torch.rand(kp.shape[0], generator=gen) < 0.5
                kp = torch.where(flip[:, None, None, None], flip_poses(kp, skeleton), kp)
                poses = torch.where(flip[:, None, None, None], flip_poses(poses, skeleton), poses)
            opt.zero_grad(set_to_none=True)
            loss = mpjpe(model(kp), poses)
            loss.backward()
            opt.step()
        return args.batch * steps / (time.perf_counter() - t0)

    for name in loops:                                                  # warm-up
        run(name, 1)
    fps = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name in loops:
            fps[name].append(run(name, args.steps))
    med = {k: statistics.median(v) for k, v in fps.items()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(loops['new'][2])} "
          f"epoch samples; batch {args.batch}, {args.channels} channels, widths 3,3,3")
    for name in loops:
        print(f"{name}: {med[name]:8.0f} frames/s (median of {args.rounds} rounds of "
              f"{args.steps} steps: {', '.join(f'{v:.0f}' for v in fps[name])})")
    print(f"ratio new / old: {med['new'] / med['old']:.2f}")


if __name__ == "__main__":
    main()
