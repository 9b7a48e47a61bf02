"""Size estimates before a long run: memory, disk and time of generate, render and train.

A run that cannot fit on this machine is refused before it starts (and before ``--overwrite``
deletes anything) with a message giving the estimate; ``--force-size`` goes ahead anyway. The
estimates are deliberately rough upper bounds from measured per-frame costs (see
``docs/presets.md``, "Size limits"); they only have to separate "fits" from "cannot fit by orders
of magnitude", e.g. ``benchmark.frames = 1e9`` or ``train --channels 1e9``.

Limits: memory, the memory available now (``MemAvailable`` of ``/proc/meminfo``, else physical
memory); disk, the free space of the output's file system; time, :data:`MAX_DAYS` days.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import OccposeError

MAX_DAYS = 30.0
# rough upper bounds measured on the tests' tiny preset (docs/presets.md, "Size limits")
GEN_BASE_BYTES = 200e6           # interpreter, numpy, one worker's fixed state
GEN_BYTES_PER_RAY_FRAME = 64.0   # per joint x ray x occluder x frame, during the ray casts
GEN_NPZ_BYTES_PER_FRAME = 1500.0  # arrays.npz per frame (compressed), upper bound
GEN_SECONDS_PER_FRAME = 0.003    # per frame and sequence on one core
RENDER_BYTES_PER_PIXEL = 96.0    # Blender's render buffers and passes per pixel
PNG_BYTES_PER_PIXEL = 4.0        # frame + mask PNG per pixel, upper bound
RENDER_SECONDS_PER_SAMPLE_PIXEL = {"cycles": 2e-7, "eevee": 2e-8, "workbench": 2e-9}


class SizeError(OccposeError):
    """A run whose estimated memory, disk or time cannot fit on this machine."""


@dataclass
class Estimate:
    """What a run needs: peak ``memory`` and ``disk`` in bytes, ``seconds`` of compute."""

    what: str
    memory: float
    disk: float
    seconds: float

    def describe(self) -> str:
        return (f"about {human_bytes(self.memory)} of memory, {human_bytes(self.disk)} of disk and "
                f"{human_seconds(self.seconds)}")


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000.0
    return f"{n:.3g} PB"


def human_seconds(s: float) -> str:
    for unit, size in (("years", 365 * 86400.0), ("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


def available_memory() -> float:
    """Bytes of memory available to a new allocation now."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def free_disk(path: str | Path) -> float:
    """Free bytes on the file system that holds ``path`` (or would hold it)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return float(shutil.disk_usage(p).free)
    except OSError:
        return float("inf")


def generate_estimate(cfg, n_sequences: int, workers: int) -> Estimate:
    """Analytic ``generate`` of ``n_sequences`` sequences of ``cfg`` with ``workers`` processes."""
    from .skeleton import get_skeleton

    frames = cfg.benchmark.frames
    joints = max(17, get_skeleton(cfg.benchmark.skeleton).num_joints)
    per_frame = joints * cfg.visibility.rays * (cfg.occluders.max_occluders + 1) * GEN_BYTES_PER_RAY_FRAME
    groups = max(1, workers)
    memory = groups * (GEN_BASE_BYTES + frames * per_frame)
    disk = n_sequences * (4096 + frames * GEN_NPZ_BYTES_PER_FRAME) + 65536 * (1 + n_sequences / 100)
    evals = cfg.occluders.max_evaluations / 30.0
    seconds = n_sequences * frames * GEN_SECONDS_PER_FRAME * max(evals, 0.1) / groups
    return Estimate("generate", memory, disk, seconds)


def render_estimate(cfg, n_sequences: int) -> Estimate:
    """Blender ``generate --backend blender``: labels as the analytic backend, plus rendering."""
    base = generate_estimate(cfg, n_sequences, 1)
    w, h = cfg.render.resolution
    rendered = n_sequences * -(-cfg.benchmark.frames // cfg.render.frame_stride)
    per_sample = RENDER_SECONDS_PER_SAMPLE_PIXEL.get(cfg.render.engine, 2e-7)
    return Estimate("render", base.memory + w * h * RENDER_BYTES_PER_PIXEL,
                    base.disk + rendered * w * h * PNG_BYTES_PER_PIXEL,
                    base.seconds + rendered * w * h * cfg.render.samples * per_sample)


def train_estimate(settings, num_joints: int = 17, n_windows: int = 0) -> Estimate:
    """``train`` of a TCN / linear model: parameters, Adam state, activations of one batch."""
    c = float(settings.channels)
    widths = list(settings.filter_widths) or [3]
    inputs = num_joints * 3.0                       # 2D + one occlusion value per joint
    if settings.model == "linear":
        params = inputs * c + 2 * 2 * c * c + c * num_joints * 3
        layers = 5
    else:
        params = inputs * c * widths[0] + sum(c * c * w + c * c for w in widths[1:]) + c * num_joints * 4
        layers = 2 * len(widths)
    memory = 4.0 * params * 4 + 4.0 * settings.batch_size * c * layers * 3 + 300e6
    disk = 4.0 * params * 3 + 65536                 # checkpoint: weights + Adam moments
    flops = 6.0 * params * max(n_windows, settings.batch_size) * settings.epochs
    return Estimate("train", memory, disk, flops / 1e10)


def check(estimate: Estimate, out: str | Path | None, force: bool = False,
          memory: float | None = None) -> None:
    """Refuse ``estimate`` when it cannot fit on this machine, unless ``force``.

    Args:
        out: the output folder (its file system's free space bounds the disk).
        memory: bytes available to the run (default :func:`available_memory`; a GPU's memory
            for training on it).
    Raises:
        SizeError: naming the estimate, what this machine has and the --force-size flag.
    """
    if force:
        return
    have_mem = available_memory() if memory is None else memory
    have_disk = free_disk(out) if out is not None else float("inf")
    problems = []
    if estimate.memory > have_mem:
        problems.append(f"memory (this machine has {human_bytes(have_mem)} available)")
    if estimate.disk > have_disk:
        problems.append(f"disk ({human_bytes(have_disk)} free under {out})")
    if estimate.seconds > MAX_DAYS * 86400:
        problems.append(f"time (more than {MAX_DAYS:g} days)")
    if problems:
        raise SizeError(f"{estimate.what} would need {estimate.describe()}: too much "
                        f"{' and too much '.join(problems)}; make the run smaller, or pass "
                        f"--force-size to go ahead anyway")
