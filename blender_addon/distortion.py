"""Lens distortion for rendered frames (numpy only, no bpy).

Blender renders pinhole images. For a camera with Brown-Conrady distortion (``k``, ``p``) the
backend renders a larger pinhole *canvas* with the same focal lengths, big enough to hold every
ray the distorted image needs, and resamples it: output pixel centre (u + 0.5, v + 0.5) looks
up the canvas at its undistorted position (``occpose.camera.image_to_camera``), bilinearly. So
``joints_2d`` (``project_to_2d`` with distortion) land on the joints in the written frames, and
the masks (cast through the same distorted pixel rays) match them too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from occpose.camera import Camera, image_to_camera

MARGIN = 2  # canvas pixels beyond the furthest lookup

_RAYS: dict = {}  # camera JSON -> rays, and "last": (camera, rays) of the last call


def pixel_rays(camera: Camera) -> np.ndarray:
    """(H, W, 3) camera-frame directions (z = 1) through every pixel centre, distortion included;
    computed once per camera (the masks and the remap both cast through them)."""
    last = _RAYS.get("last")
    if last is not None and last[0] is camera:  # the masks ask once per capsule and frame
        return last[1]
    key = json.dumps(camera.to_dict(), sort_keys=True)
    if key not in _RAYS:
        if len(_RAYS) > 8:
            _RAYS.clear()
        vv, uu = np.mgrid[0:camera.height, 0:camera.width]
        pixels = np.stack([uu + 0.5, vv + 0.5], axis=-1)
        _RAYS[key] = image_to_camera(pixels, np.ones(vv.shape), camera)
        _RAYS[key].flags.writeable = False
    _RAYS["last"] = (camera, _RAYS[key])
    return _RAYS[key]


@dataclass(frozen=True, eq=False)
class Remap:
    """A canvas camera to render and, per output pixel, where to read it.

    Attributes:
        canvas: pinhole camera (no distortion) of the rendered canvas.
        x, y: (H, W) float64 canvas coordinates (pixel-centre units: pixel i spans [i, i+1)).
    """

    canvas: Camera
    x: np.ndarray
    y: np.ndarray


def remap_for(camera: Camera) -> Remap | None:
    """The remap of a distorted camera; None for a pinhole camera."""
    if not camera.has_distortion:
        return None
    xy = pixel_rays(camera)[..., :2]  # undistorted x/z, y/z
    src_x = xy[..., 0] * camera.fx + camera.cx  # in the pinhole image of the same intrinsics
    src_y = xy[..., 1] * camera.fy + camera.cy
    ox = MARGIN - np.floor(min(src_x.min(), 0.0))
    oy = MARGIN - np.floor(min(src_y.min(), 0.0))
    width = int(np.ceil(max(src_x.max(), camera.width) + ox + MARGIN))
    height = int(np.ceil(max(src_y.max(), camera.height) + oy + MARGIN))
    canvas = Camera(f"{camera.name}_canvas", width, height, camera.fx, camera.fy, camera.cx + ox,
                    camera.cy + oy, camera.rot_world_to_cam, camera.position)
    return Remap(canvas, src_x + ox, src_y + oy)


def apply(remap: Remap, canvas_image: np.ndarray) -> np.ndarray:
    """Resample a rendered canvas (H', W', C) float, top row first, into the distorted (H, W, C)."""
    img = np.asarray(canvas_image, np.float64)
    x, y = remap.x - 0.5, remap.y - 0.5  # pixel-centre coordinates -> array indices
    x0 = np.clip(np.floor(x).astype(np.int64), 0, img.shape[1] - 2)
    y0 = np.clip(np.floor(y).astype(np.int64), 0, img.shape[0] - 2)
    fx = np.clip(x - x0, 0.0, 1.0)[..., None]
    fy = np.clip(y - y0, 0.0, 1.0)[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy
