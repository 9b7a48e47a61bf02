"""Throughput of the image model: training and inference images/s, per size and device.

Usage (from the repository root):

    # both sizes on CPU (and on CUDA when available), synthetic crops
    .venv/bin/python benchmark/bench_image.py

    # one size, one device, more steps
    .venv/bin/python benchmark/bench_image.py --sizes small --devices cpu --steps 20
    .venv/bin/python benchmark/bench_image.py --sizes resnet50 --devices cuda --batch 64 --steps 30

    # also the data pipeline (read PNG, crop, paste occluders, flip, jitter) on a rendered
    # benchmark, or on a Pillow-drawn toy benchmark when DIR does not exist yet
    .venv/bin/python benchmark/bench_image.py --data runs/quick-blender --sizes small

Training = forward, L1 loss, backward and Adam step on random crops (bf16 autocast on CUDA);
inference = forward under no_grad, with and without flip averaging (two passes). Models are the
named sizes of ``occpose.image.SIZES``: ``small`` (ResNet-18 layout, width 16, 128 px, stride 16)
and ``resnet50`` (bottleneck ResNet-50, width 64, 256 px, stride 16). Prints one line per
measurement; timings are medians over ``--steps`` after ``--warmup`` steps.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from occpose.harness.device import autocast
from occpose.image import SIZES, image_section
from occpose.image.predict import predict_crops
from occpose.image.train import build_model
from occpose.skeleton import H36M_17


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _median_time(fn, dev, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(dev)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_model(size: str, dev: torch.device, batch: int, steps: int, warmup: int) -> dict:
    sec = image_section(size=size)
    torch.manual_seed(0)
    model = build_model(sec, 17).to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    s = sec.crop_size
    x = torch.randn(batch, 3, s, s, device=dev)
    if dev.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    target = torch.randn(batch, 17, 3, device=dev) * 0.2

    def train_step():
        with autocast(dev):
            out = model(x)
        loss = (out.uvz.float() / s - target).abs().mean() + out.root_norm.float().mean() * 0
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    t_train = _median_time(train_step, dev, steps, warmup)
    model.eval()
    perm = H36M_17.flip_permutation()

    def infer(flip):
        def run():
            with autocast(dev):
                predict_crops(model, x, perm if flip else None)
        return run

    t_inf = _median_time(infer(False), dev, steps, warmup)
    t_flip = _median_time(infer(True), dev, steps, warmup)
    params = sum(p.numel() for p in model.parameters())
    return {"size": size, "device": str(dev), "crop": s, "batch": batch, "params_M": params / 1e6,
            "train_img_s": batch / t_train, "infer_img_s": batch / t_inf, "infer_flip_img_s": batch / t_flip}


def bench_data(data: str, size: str, n: int) -> dict:
    from occpose.dataset import open_benchmark
    from occpose.image.data import CropDataset, frame_refs, load_frames
    from occpose.image.train import make_paster

    root = Path(data)
    if not (root / "manifest.json").is_file():
        from occpose.image.toy import write_toy_image_benchmark

        write_toy_image_benchmark(root, frames=40, size=256, subjects=("S1", "S2"))
    bench = open_benchmark(root)
    sec = image_section(size=size, p_occlude=0.5)
    seqs = load_frames(bench, bench.select(split="train"))
    refs = frame_refs(seqs)
    ds = CropDataset(bench.root, seqs, refs, sec, bench.skeleton.flip_permutation(), True,
                     make_paster(sec, bench, []), seed=0)
    n = min(n, len(ds))
    t0 = time.perf_counter()
    for i in range(n):
        ds[i]
    return {"size": size, "data": str(root), "samples": n, "data_img_s": n / (time.perf_counter() - t0)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="small,resnet50", help="comma-separated: " + ", ".join(SIZES))
    p.add_argument("--devices", default="cpu,cuda", help="comma-separated: cpu, cuda (skipped if absent)")
    p.add_argument("--batch", type=int, help="images per step (default: the size's batch_size)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--data", metavar="DIR", help="also time the data pipeline on this benchmark")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, CUDA: {cuda}")
    for dev_name in args.devices.split(","):
        if dev_name == "cuda" and not torch.cuda.is_available():
            continue
        dev = torch.device(dev_name)
        for size in args.sizes.split(","):
            batch = args.batch or (SIZES[size]["batch_size"] if dev.type == "cuda" else
                                   min(SIZES[size]["batch_size"], 16 if size == "resnet50" else 32))
            r = bench_model(size, dev, batch, args.steps, args.warmup)
            print(f"{r['size']:9s} {r['device']:5s} crop {r['crop']:3d} batch {r['batch']:3d} "
                  f"{r['params_M']:6.2f} M params: train {r['train_img_s']:8.1f} img/s, "
                  f"inference {r['infer_img_s']:8.1f} img/s ({r['infer_flip_img_s']:8.1f} with flip)",
                  flush=True)
    if args.data:
        for size in args.sizes.split(","):
            r = bench_data(args.data, size, 200)
            print(f"{r['size']:9s} data pipeline on {r['data']}: {r['data_img_s']:.1f} img/s "
                  f"({r['samples']} samples, one process)", flush=True)


if __name__ == "__main__":
    main()
