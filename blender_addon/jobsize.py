"""How big a Render Benchmark job is, before it starts: sequences, frames, time, disk.

No bpy here. Time and disk are rough estimates with a factor-of-two range either way, from the
rates measured on a 2-core CPU in ``blender_addon/README.md`` ("Performance"): per frame 25 ms of
Blender ray casts and masks; per rendered 256 x 256 frame about 1 s for anti-aliased Workbench,
0.07 s for 1-sample Workbench, 0.26 s per Cycles sample, 1.5 s for EEVEE; 0.5 s per sequence for
placement and scene building. A GPU renders Cycles and EEVEE far faster. Disk: 1.1 kB of arrays
per frame, 1.8 bytes per rendered RGB pixel (PNG), 0.05 per mask pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

from occpose.config import Config
from occpose.generate import plan

from .progress import format_duration

LABEL_SECONDS = 0.025  # per frame: Blender ray casts + per-pixel masks
SEQUENCE_SECONDS = 0.5  # per sequence: occluder placement + scene building
REFERENCE_PIXELS = 256 * 256
ARRAY_BYTES_PER_FRAME = 1100
RGB_BYTES_PER_PIXEL = 1.8
MASK_BYTES_PER_PIXEL = 0.05
RANGE = 2.0  # estimates are good to about this factor either way


@dataclass(frozen=True)
class JobSize:
    sequences: int
    frames: int  # labelled frames (every frame of every sequence)
    rendered: int  # frames with a PNG
    seconds: float  # central estimate, CPU
    bytes: int  # central estimate

    def summary(self) -> str:
        """One line, e.g. ``360 sequences, 54,000 frames (1,080 rendered), ~40 min (20 min to 1.3 h
        on a CPU), ~150 MB (75 to 300 MB)``."""
        lo, hi = self.seconds / RANGE, self.seconds * RANGE
        return (f"{self.sequences:,} sequences, {self.frames:,} frames ({self.rendered:,} rendered), "
                f"~{format_duration(self.seconds)} ({format_duration(lo)} to {format_duration(hi)} "
                f"on a CPU), ~{format_bytes(self.bytes)} ({format_bytes(self.bytes / RANGE)} to "
                f"{format_bytes(self.bytes * RANGE)})")


def render_seconds(engine: str, samples: int, pixels: int) -> float:
    """Estimated CPU seconds to render one frame."""
    scale = pixels / REFERENCE_PIXELS
    if engine == "cycles":
        return 0.26 * samples * scale
    if engine == "eevee":
        return 1.5 * scale
    return (1.0 if samples > 1 else 0.07) * scale


def job_size(cfg: Config) -> JobSize:
    """The size of rendering ``cfg`` with the Blender backend (``pipeline.iter_benchmark``)."""
    keys = plan(cfg, cfg.render.subjects)
    n_frames = cfg.benchmark.frames
    per_sequence = len(range(0, n_frames, cfg.render.frame_stride))
    rendered = len(keys) * per_sequence
    frames = len(keys) * n_frames
    w, h = cfg.render.resolution
    seconds = (len(keys) * SEQUENCE_SECONDS + frames * LABEL_SECONDS
               + rendered * render_seconds(cfg.render.engine, cfg.render.samples, w * h))
    size = frames * ARRAY_BYTES_PER_FRAME + rendered * w * h * (RGB_BYTES_PER_PIXEL + MASK_BYTES_PER_PIXEL)
    return JobSize(len(keys), frames, rendered, seconds, int(size))


def format_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}" if n < 10 * size else f"{n / size:.0f} {unit}"
    return f"{n:.0f} bytes"
