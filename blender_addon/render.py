"""Render settings and single-frame renders, reproducible to the byte.

* Cycles: fixed seed (from the sequence key, ``use_animated_seed`` off), adaptive sampling off,
  denoising always off (Debian's Blender 3.4 has no OpenImageDenoise at all), CPU unless
  ``render.device = "gpu"`` and a GPU backend works (else a warning and CPU).
* Workbench: studio lighting, material colours, anti-aliasing from ``samples``
  (1 = off, else the largest of 5/8/11/16/32 samples not above it).
* EEVEE: ``samples`` TAA samples.
* Distorted cameras: a larger pinhole canvas is rendered and resampled (:mod:`.distortion`).
* PNG, 8-bit RGB, no metadata (stamps off, and the text chunks Cycles always adds -- render
  times -- are stripped); the Filmic view transform for Cycles and EEVEE (highlights of the
  random lights stay unclipped), Standard for Workbench's flat colours.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from pathlib import Path

import bpy
import numpy as np

from occpose.config import RenderSection

from . import compat, distortion, pngio

WORKBENCH_AA = (5, 8, 11, 16, 32)


def configure(scene, rs: RenderSection, seed: int) -> dict:
    """Apply ``rs`` to ``scene``; returns what was used (engine id, device, denoising)."""
    engine_id = compat.set_engine(scene, rs.engine)
    info = {"engine": rs.engine, "engine_id": engine_id, "device": "cpu", "denoising": False,
            "blender": bpy.app.version_string}
    if rs.engine == "cycles":
        cy = scene.cycles
        cy.samples = rs.samples
        cy.use_denoising = False
        if hasattr(cy, "use_adaptive_sampling"):
            cy.use_adaptive_sampling = False
        cy.seed = seed
        cy.use_animated_seed = False
        cy.max_bounces = 6
        cy.device = "CPU"
        if rs.device == "gpu":
            backend = compat.enable_cycles_gpu()
            if backend is None:
                print("occpose: warning: render.device = 'gpu' but Cycles finds no GPU; rendering "
                      "on the CPU", file=sys.stderr)
            else:
                cy.device = "GPU"
                info["device"] = f"gpu ({backend})"
        scene.view_layers[0].cycles.denoising_store_passes = False
    elif rs.engine == "workbench":
        shading = scene.display.shading
        shading.light = "STUDIO"
        shading.color_type = "MATERIAL"
        shading.show_shadows = True
        aa = [n for n in WORKBENCH_AA if n <= rs.samples]
        scene.display.render_aa = str(aa[-1]) if aa else ("FXAA" if rs.samples > 1 else "OFF")
    else:
        scene.eevee.taa_render_samples = rs.samples
    render = scene.render
    render.film_transparent = False
    render.use_file_extension = False
    render.use_overwrite = True
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "RGB"
    render.image_settings.color_depth = "8"
    render.image_settings.compression = 15
    for name in dir(render):
        if name.startswith("use_stamp"):
            setattr(render, name, False)
    shaded = ("Standard",) if rs.engine == "workbench" else ("Filmic", "Standard")
    info["view_transform"] = compat.set_view_transform(scene, shaded)
    scene.view_settings.look = "None"
    return info


def render_frame(scene, path: str | Path, remap: distortion.Remap | None = None) -> None:
    """Render the scene's current frame to ``path`` (PNG), atomically.

    Blender writes a temporary file; the final file is that PNG without its text chunks (render
    times), or, for a distorted camera (``remap``), the canvas resampled into the distorted image.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.render.tmp")
    scene.render.filepath = str(tmp)
    try:
        result = _render(scene, write_still=True)
        if "FINISHED" not in result or not tmp.is_file():
            raise RuntimeError(f"Blender did not render {path} ({result})")
        if remap is None:
            data = tmp.read_bytes()
            stripped = pngio.without_text(data)
            if len(stripped) == len(data):  # nothing to strip (Workbench, EEVEE): keep Blender's file
                os.replace(tmp, path)
            else:
                pngio.replace_bytes(path, stripped)
        else:
            image = distortion.apply(remap, read_rgb(tmp))
            pngio.write_png(path, np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8))
    finally:
        tmp.unlink(missing_ok=True)


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1], top row first, of an 8-bit PNG (through Blender's loader)."""
    image = bpy.data.images.load(str(path))
    try:
        w, h = image.size
        px = np.empty(w * h * 4, np.float32)
        image.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(image)
    return px.reshape(h, w, 4)[::-1, :, :3]


def render_only(scene) -> None:
    """Render the current frame without writing anything (the raw engine rate of the benchmark)."""
    _render(scene, write_still=False)


def _render(scene, write_still: bool):
    """``render.render`` with ``scene`` as the context scene. (Its ``scene=`` argument renders a
    scene that is not the context's without evaluating its animation at the current frame.)
    Blender's own per-frame "Saved: ... / Time: ..." lines are silenced in background mode."""
    with bpy.context.temp_override(scene=scene), _quiet_stdout(bpy.app.background):
        return bpy.ops.render.render(write_still=write_still)


def _libc_fflush() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def _quiet_stdout(enabled: bool):
    """Send the C-level stdout (file descriptor 1) to /dev/null while rendering."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        _libc_fflush()  # C stdio buffers Blender's lines when stdout is a pipe: drop them here
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
