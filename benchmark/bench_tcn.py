"""Throughput of the VideoPose3D TCNs and peak memory of ``evaluate``.

Usage:
    .venv/bin/python benchmark/bench_tcn.py                      # CPU, and CUDA (bf16) if present
    .venv/bin/python benchmark/bench_tcn.py --device cpu --quick
    .venv/bin/python benchmark/bench_tcn.py --device cuda --infer-batch 128 --infer-frames 8192
    .venv/bin/python benchmark/bench_tcn.py --data /tmp/hq --no-throughput    # evaluate memory only

Measures, for the 27-frame (3,3,3) and 243-frame (3,3,3,3,3) TCNs with 1024 channels:

* training frames/s: VideoPose3D's strided single-frame model, batches of receptive-field
  windows, forward + MPJPE backward + Adam step (one frame per window);
* inference frames/s: the dilated model on ``--infer-batch`` sequences of ``--infer-frames``
  output frames each (inputs padded by RF - 1), eval mode, no grad; bf16 autocast on CUDA.

Then the peak memory of ``evaluate_runs`` (one tcn run, ``--runs-channels`` channels, trained
for one epoch; test split of ``--data`` or of a small toy benchmark) in a fresh process:
``resource.getrusage`` ru_maxrss, and ``torch.cuda.max_memory_allocated`` on CUDA, next to the
RSS of a process that only imported torch and occpose.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from occpose.harness.device import autocast
from occpose.metrics import mpjpe
from occpose.models import TemporalModel, TemporalModelOptimized1f

MODELS = {"27": (3, 3, 3), "243": (3, 3, 3, 3, 3)}
J = 17


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _timed(fn, dev: torch.device, warmup: int, iters: int) -> float:
    """Seconds per call of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    _sync(dev)
    return (time.perf_counter() - t0) / iters


def bench_train(widths, channels: int, batch: int, dev: torch.device, warmup: int, iters: int) -> float:
    torch.manual_seed(0)
    model = TemporalModelOptimized1f(J, 2, J, widths, channels=channels).to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, amsgrad=True)
    rf = model.receptive_field()
    x = torch.randn(batch, rf, J, 2, device=dev)
    y = torch.randn(batch, 1, J, 3, device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast(dev):
            loss = mpjpe(model(x).float(), y)
        loss.backward()
        opt.step()

    return batch / _timed(step, dev, warmup, iters)


@torch.no_grad()
def bench_infer(widths, channels: int, batch: int, frames: int, dev: torch.device, warmup: int,
                iters: int) -> float:
    torch.manual_seed(0)
    model = TemporalModel(J, 2, J, widths, channels=channels).to(dev).eval()
    x = torch.randn(batch, frames + model.receptive_field() - 1, J, 2, device=dev)

    def run():
        with autocast(dev):
            model(x)

    return batch * frames / _timed(run, dev, warmup, iters)


def _peak_rss_mb() -> dict:
    """ru_maxrss (may include the parent's RSS at fork) and VmHWM (this process's own peak)."""
    out = {"ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out["vmhwm_mb"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def prepare_child(data: str, run: str, channels: str, device: str) -> None:
    """Fresh process: train the run to evaluate (one epoch on two training sequences)."""
    from occpose.harness import RunSettings, load_sequences, split_sequences, train_model

    train = split_sequences(load_sequences(data), "train")
    settings = RunSettings(model="tcn", epochs=1, batch_size=256, channels=int(channels),
                           keypoints2d="noise")
    train_model(train[:2], None, settings, run, device=device, progress=False)


def evaluate_child(data: str, run: str, out: str, device: str) -> None:
    """Fresh process: evaluate one run, print peak memory as JSON."""
    from occpose.harness import evaluate_runs, load_sequences, split_sequences

    dev = torch.device(device)
    t0 = time.perf_counter()
    test = split_sequences(load_sequences(data), "test")
    evaluate_runs(test, [run], out, device=device, progress=False)
    cuda_mb = torch.cuda.max_memory_allocated(dev) / 2 ** 20 if dev.type == "cuda" else None
    print(json.dumps({**_peak_rss_mb(), "cuda_mb": cuda_mb, "seconds": time.perf_counter() - t0,
                      "frames": sum(s.n_frames for s in test)}))


def baseline_child() -> None:
    import occpose.harness  # noqa: F401

    print(json.dumps(_peak_rss_mb()))


def bench_evaluate_memory(data: str | None, channels: int, device: str) -> dict:
    """Peak memory of evaluate, each step in a fresh process (run this before anything big:
    a child's ru_maxrss starts from the parent's RSS at fork)."""
    from occpose.harness.toy import write_toy_benchmark

    tmp = Path(tempfile.mkdtemp(prefix="bench_tcn_"))
    if data is None:
        data = str(write_toy_benchmark(tmp / "bench", subjects=("S1",), actions=("walk", "box"),
                                       levels=(0.0, 0.3, 0.5), frames=150,
                                       test_subjects=("S4", "S5")))
    child = [sys.executable, __file__]

    def call(*argv) -> dict:
        res = subprocess.run(child + list(argv), check=True, capture_output=True, text=True)
        lines = res.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else {}

    call("--prepare-child", data, str(tmp / "run"), str(channels), device)
    out = call("--evaluate-child", data, str(tmp / "run"), str(tmp / "res"), device)
    out["baseline"] = call("--baseline-child")
    out["data"] = data
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", help="auto (CPU, then CUDA if present), cpu or cuda")
    p.add_argument("--channels", type=int, default=1024)
    p.add_argument("--train-batch", type=int, default=None, help="default 256 CPU / 1024 CUDA")
    p.add_argument("--infer-batch", type=int, default=None, help="default 1 CPU / 128 CUDA")
    p.add_argument("--infer-frames", type=int, default=None, help="default 2048 CPU / 8192 CUDA")
    p.add_argument("--iters", type=int, default=None, help="timed iterations (default 3 / 20)")
    p.add_argument("--quick", action="store_true", help="smaller batches (CPU smoke test)")
    p.add_argument("--data", help="benchmark directory for the evaluate memory measurement")
    p.add_argument("--runs-channels", type=int, default=1024, help="channels of the evaluated run")
    p.add_argument("--no-memory", action="store_true", help="skip the evaluate memory measurement")
    p.add_argument("--no-throughput", action="store_true", help="only the evaluate memory")
    p.add_argument("--evaluate-child", nargs=4, help=argparse.SUPPRESS)
    p.add_argument("--prepare-child", nargs=4, help=argparse.SUPPRESS)
    p.add_argument("--baseline-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.evaluate_child:
        return evaluate_child(*args.evaluate_child)
    if args.prepare_child:
        return prepare_child(*args.prepare_child)
    if args.baseline_child:
        return baseline_child()

    if args.device == "auto":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [args.device]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    memory = None
    if not args.no_memory:                      # first, while this process is still small
        memory = bench_evaluate_memory(args.data, args.runs_channels,
                                       "cuda" if "cuda" in devices else "cpu")
    for name in [] if args.no_throughput else devices:
        dev = torch.device(name)
        cuda = dev.type == "cuda"
        if cuda:
            torch.backends.cudnn.benchmark = True
        tb = args.train_batch or (64 if args.quick else 1024 if cuda else 256)
        ib = args.infer_batch or (128 if cuda else 1)
        fr = args.infer_frames or (8192 if cuda else 512 if args.quick else 2048)
        iters = args.iters or (20 if cuda else 2 if args.quick else 3)
        prec = "bf16 autocast" if cuda else "float32"
        for rf, widths in MODELS.items():
            train_fps = bench_train(widths, args.channels, tb, dev, 2, iters)
            infer_fps = bench_infer(widths, args.channels, ib, fr, dev, 2, iters)
            print(f"{name:4s} {prec:13s} TCN {rf:>3s} frames, {args.channels} ch: training "
                  f"{train_fps:12,.0f} frames/s (batch {tb}); inference {infer_fps:14,.0f} frames/s "
                  f"({ib} x {fr} frames)")
    if memory is not None:
        m, base = memory, memory["baseline"]
        cuda = f", CUDA max allocated {m['cuda_mb']:.0f} MiB" if m["cuda_mb"] is not None else ""
        own = f" (VmHWM {m['vmhwm_mb']:.0f} MiB)" if "vmhwm_mb" in m else ""
        print(f"evaluate ({'cuda' if 'cuda' in devices else 'cpu'}, 1 tcn run, {args.runs_channels} "
              f"ch, {m['frames']} test frames, {m['seconds']:.1f} s): peak RSS ru_maxrss "
              f"{m['ru_maxrss_mb']:.0f} MiB{own}; a process that only imports torch + "
              f"occpose.harness: {base['ru_maxrss_mb']:.0f} MiB{cuda}")


if __name__ == "__main__":
    main()
