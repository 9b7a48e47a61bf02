"""Train several runs at once on the CPU: one process per run, one torch thread each.

The models of ``occpose-bench run`` are small (a few hundred thousand parameters, batches of
128): two torch threads on one run share the work poorly, and while another process (the
Blender render) holds a core, the threads of a multi-threaded run spin-wait for each other
(measured on 2 cores: one epoch 11 s alone, 37 s beside one busy process). One thread per run and
as many runs at a time as there are cores keeps every core busy with no such waiting (two
1-thread runs side by side: 14.6 s per epoch each, against 11.2 s one after the other with two
threads). It also makes the checkpoints independent of the machine's core count: a run's bytes
depend on torch's thread count, which is always 1 here.

Each worker loads the split it trains on from the benchmark directory once (a worker-level
cache) and calls :func:`~.train.train_model`; runs resume as usual. On CUDA the runs are
trained one after the other in this process instead (one GPU).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .settings import RunSettings

_CACHE: dict = {}


@dataclass(frozen=True)
class TrainJob:
    """One run: train ``settings`` on ``split`` of the benchmark in ``data`` into ``out``."""

    data: str
    split: str
    settings: RunSettings
    out: str


def _sequences(data: str, split: str):
    from ..dataset import open_benchmark
    from ..dataset.poses import from_benchmark
    from .loading import split_sequences

    key = (data, split)
    if key not in _CACHE:
        _CACHE.clear()                          # one split in memory per worker
        b = open_benchmark(data)
        _CACHE[key] = split_sequences(from_benchmark(b, b.select(split=split)), split)
    return _CACHE[key]


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _train(job: TrainJob) -> str:
    from .train import train_model

    train_model(_sequences(job.data, job.split), None, job.settings, job.out, device="cpu",
                progress=False)
    return job.out


def cpu_slots() -> int:
    """Runs trained at once: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                      # not Linux
        return max(1, os.cpu_count() or 1)


def train_runs(jobs: list[TrainJob], *, device: str = "auto", workers: int = 0, progress: bool = True,
               log: Callable[[str], None] = print) -> list[Path]:
    """Train every job (resuming finished and partial runs); returns the run folders in the
    order of ``jobs``. ``workers``: runs at once on the CPU (0 = one per CPU)."""
    from .device import resolve_device
    from .train import train_model

    if not jobs:
        return []
    if resolve_device(device).type != "cpu":
        for k, job in enumerate(jobs, 1):
            log(f"4/5 training {job.settings.model} seed {job.settings.seed} -> {job.out} ({k}/{len(jobs)})")
            train_model(_sequences(job.data, job.split), None, job.settings, job.out, device=device,
                        progress=progress)
        _CACHE.clear()
        return [Path(j.out) for j in jobs]
    n = min(workers or cpu_slots(), len(jobs))
    log(f"4/5 training {len(jobs)} runs, {n} at a time, one torch thread each")
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch's threads
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker) as pool:
        futures = {pool.submit(_train, job): job for job in jobs}
        done_count = 0
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()                  # a failed run stops the rest
                    done_count += 1
                    job = futures[f]
                    log(f"4/5 trained {job.settings.model} seed {job.settings.seed} -> {job.out} "
                        f"({done_count}/{len(jobs)})")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [Path(j.out) for j in jobs]
