"""CPU seconds of one training epoch per model: the code of a git revision against the current code.

Usage:
    .venv/bin/python benchmark/bench_train_epoch.py --data runs/quick/benchmark
    .venv/bin/python benchmark/bench_train_epoch.py --data runs/quick/benchmark --models tcn,linear \
        --chunk 10 --baseline 3282476

The old code is ``git archive BASELINE occpose`` loaded in this process as a package of another
name (``occpose`` imports itself only relatively), next to the current ``occpose``. For each
model both codes set up the first epoch of a run as ``train_model`` does -- the ``[train]``
settings of ``--config`` (default scenes/quick.toml), seed 0, the benchmark's train split less
the validation clips, one torch thread -- and then train that epoch's batches in turns of
``--chunk`` steps, old and new alternating, each with its own RNG state, so both see the same
machine load at nearly the same moments. Printed per model, old, new and new/old:

* ``epoch``: CPU seconds (and wall-clock seconds) of the epoch's training steps (batches,
  augmentation, forward, backward, Adam: ``_run_epoch``), summed over the turns;
* ``eval``: CPU seconds of the per-epoch evaluation (``validation_mpjpe`` on the training and
  validation sequences), best of two alternating calls;
* ``same``: whether the two codes ended the epoch with bit-identical weights, BatchNorm
  statistics, Adam state, loss sums and RNG state.

On a shared machine compare the ratios of one run, the CPU ones first (``uptime`` load average
printed). Not timed here: the process start and ``train_model``'s setup, the same in both (~1.5 s
CPU; the first ``torch.optim`` optimizer imports ``torch._dynamo``, ~2 s, once per process).

Measured on 2026-12-02 (2 shared cores, AMD EPYC with AVX-512, torch 2.13 CPU, load average
1.0 during the run), quick preset (450 steps of 128 windows per epoch), old = 3282476, the
current code = the strided TCN's ReLU in place on BatchNorm's output and dropout mask in the
draw, and tcn-aug's joint-pair selects; ``--chunk 10``:

    model       epoch CPU s            eval CPU s          same
    tcn         10.72 -> 10.13 (0.95)  0.65 -> 0.64 (0.99)  yes
    tcn-occ1    14.57 -> 13.98 (0.96)  0.73 -> 0.64 (0.87)  yes
    tcn-occseq  12.56 -> 11.92 (0.95)  0.64 -> 0.63 (0.97)  yes
    tcn-aug     11.62 -> 10.61 (0.91)  0.49 -> 0.46 (0.95)  yes
    linear       4.00 ->  4.04 (1.01)  0.30 -> 0.29 (0.95)  yes

(wall-clock ratios the same to 0.01; the evaluation code did not change, its ratios are noise).
An earlier run under load average ~5 gave 0.94, 0.97, 0.94, 0.91, 1.01.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ("tcn", "tcn-occ1", "tcn-occseq", "tcn-aug", "linear")


class _Side:
    """One code's first epoch of a run, trained a chunk of steps at a time."""

    def __init__(self, pkg: str, model_name: str, args: argparse.Namespace) -> None:
        import torch

        self.T = T = importlib.import_module(f"{pkg}.harness.train")
        config = importlib.import_module(f"{pkg}.config")
        harness = importlib.import_module(f"{pkg}.harness")
        data = importlib.import_module(f"{pkg}.harness.data")
        inference = importlib.import_module(f"{pkg}.harness.inference")
        rng = importlib.import_module(f"{pkg}.rng")
        from torch.utils.data import DistributedSampler

        s = harness.RunSettings.from_train_section(config.load_config(args.config).train,
                                                   model_name, 0).validate()
        seqs = sorted(harness.split_sequences(harness.load_sequences(args.data), "train"),
                      key=lambda q: q.id)
        train, val = T.validation_split(seqs, s.validation)
        skeleton = data.skeleton_for(train[0].joints_2d.shape[1], s.skeleton)
        s.skeleton = skeleton.name
        self.dev = torch.device("cpu")
        with torch.random.fork_rng():
            torch.manual_seed(rng.key_seed(s.seed, "init") % T._SEED_MOD)
            self.model = inference.build_train_model(s, skeleton.num_joints)
        self.train_prepared = data.prepare(train, s)
        self.val_prepared = data.prepare(val, s)
        self.samples = T.EpochWindows(data.WindowSet(self.train_prepared,
                                                     self.model.receptive_field(),
                                                     inference.padding_of(self.model)),
                                      skeleton, s.flip_augment)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=s.lr, amsgrad=True)
        self.eval_model = inference.build_eval_model(s, skeleton.num_joints)
        sampler = DistributedSampler(range(len(self.samples)), num_replicas=1, rank=0,
                                     shuffle=True, seed=rng.key_seed(s.seed, "shuffle") % 2 ** 31)
        sampler.set_epoch(0)
        self.batches = T._batches(sampler, s.batch_size)
        self.model.set_bn_momentum(T.bn_momentum(s, 0))
        with torch.random.fork_rng():
            torch.manual_seed(rng.key_seed(s.seed, "dropout", 0, 0) % T._SEED_MOD)
            self.rng = torch.get_rng_state()
        self.gen = torch.Generator().manual_seed(rng.key_seed(s.seed, "augment", 0, 0)
                                                 % T._SEED_MOD)
        self.settings, self.skeleton = s, skeleton
        self.sums, self.samples_done, self.done = None, 0, 0
        self.cpu = self.wall = 0.0

    def steps(self, n: int) -> None:
        """The next ``n`` steps of the epoch, timed, with this side's global RNG state."""
        import torch

        chunk = self.batches[self.done:self.done + n]
        with torch.random.fork_rng(), self.T._deterministic(self.dev):
            torch.set_rng_state(self.rng)
            c0, w0 = time.process_time(), time.perf_counter()
            sums, k = self.T._run_epoch(self.model, self.model, self.opt, self.samples, chunk,
                                        self.settings, self.gen, self.dev, False)
            self.cpu += time.process_time() - c0
            self.wall += time.perf_counter() - w0
            self.rng = torch.get_rng_state()
        self.sums = sums if self.sums is None else self.sums + sums
        self.samples_done += k
        self.done += len(chunk)

    def evaluate(self) -> float:
        """CPU seconds of the per-epoch evaluation."""
        self.eval_model.load_state_dict(self.model.state_dict())
        c0 = time.process_time()
        with self.T._deterministic(self.dev):
            self.T.validation_mpjpe(self.eval_model, self.train_prepared, self.skeleton, self.dev)
            self.T.validation_mpjpe(self.eval_model, self.val_prepared, self.skeleton, self.dev)
        return time.process_time() - c0

    def state(self) -> list:
        import torch

        opt = self.opt.state_dict()["state"]
        return (list(self.model.state_dict().values())
                + [v for i in sorted(opt) for _, v in sorted(opt[i].items())]
                + [self.sums, torch.tensor(self.samples_done), self.rng])


def _same(a: list, b: list) -> bool:
    import torch

    return len(a) == len(b) and all(torch.equal(x, y) and x.dtype == y.dtype for x, y in zip(a, b))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="benchmark directory (e.g. runs/quick/benchmark)")
    p.add_argument("--config", default=str(REPO / "scenes" / "quick.toml"))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--chunk", type=int, default=10, help="steps per turn")
    p.add_argument("--baseline", default="3282476", help="git revision of the old code")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    old_pkg = f"occpose_{args.baseline}"
    tar = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline, "occpose"],
                         check=True, capture_output=True).stdout
    rows = []
    with tempfile.TemporaryDirectory(prefix="occpose-bench-train-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            archive.extractall(tmp, filter="data")
        os.rename(Path(tmp) / "occpose", Path(tmp) / old_pkg)
        sys.path.insert(0, tmp)
        sys.path.insert(0, str(REPO))
        for m in [m for m in args.models.split(",") if m]:
            sides = {"old": _Side(old_pkg, m, args), "new": _Side("occpose", m, args)}
            for k in range(0, len(sides["old"].batches), args.chunk):
                for name in (("old", "new") if k // args.chunk % 2 == 0 else ("new", "old")):
                    sides[name].steps(args.chunk)
            evals = {name: [] for name in sides}
            for name in ("old", "new", "new", "old"):
                evals[name].append(sides[name].evaluate())
            row = (m, *(sides[n].cpu for n in ("old", "new")), *(sides[n].wall for n in ("old", "new")),
                   *(min(evals[n]) for n in ("old", "new")),
                   _same(sides["old"].state(), sides["new"].state()), len(sides["new"].batches))
            rows.append(row)
            print(f"  {m}: {row[8]} steps; epoch CPU s old {row[1]:.2f}, new {row[2]:.2f}; load "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
    print(f"\ntorch {torch.__version__}, 1 thread, old = {args.baseline}, turns of {args.chunk} "
          f"steps, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'model':10s} {'epoch CPU s':>22s} {'epoch wall s':>22s} {'eval CPU s':>20s}  same")
    for m, co, cn, wo, wn, eo, en, same, _ in rows:
        print(f"{m:10s} {co:6.2f} -> {cn:6.2f} ({cn / co:.2f})  {wo:6.2f} -> {wn:6.2f} "
              f"({wn / wo:.2f})  {eo:5.2f} -> {en:5.2f} ({en / eo:.2f})  {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
