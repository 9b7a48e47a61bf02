"""Where synthetic occluders come from: RGBA cut-outs for :mod:`occpose.image.paster`.

Every source has ``sample(rng) -> (h, w, 4) uint8 RGBA`` (straight alpha) and draws only from
the generator it is given. Three sources:

* :class:`ProceduralOccluders`: ellipses, star-shaped polygons and rotated rectangles with random
  textures (smooth noise, stripes, checkers, colour gradients, flat colour), slightly soft edges.
* :class:`RenderedOccluders`: the benchmark's own occluder objects cut out of rendered training
  frames. The Blender backend's masks show the *visible subject*, not the occluders, so the
  occluder pixels come from the occluder geometry stored in every arrays file: each pixel's ray
  is cast against the occluders and the body (:mod:`occpose.occlusion.raycast.primitives`) and a pixel
  belongs to occluder g when g is the first thing it hits. This is exact up to Blender's mesh
  tessellation (32 segments per round primitive), so masks are eroded by one pixel. A
  difference of a level-0 and an occluded render was rejected: shadows, reflections and render
  noise of the occluders change pixels outside them, and the other levels' cameras see other
  occluders.
* :class:`FolderOccluders`: a user folder of RGBA cut-outs (e.g. objects segmented from Pascal
  VOC, as in the paper), validated on load: a file that is not an image, has no alpha channel,
  is fully transparent, too small or unreadable is an :class:`~occpose.errors.OccposeError`
  naming the file and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import OccposeError

__all__ = ["OccluderSource", "ProceduralOccluders", "RenderedOccluders", "FolderOccluders",
           "IMAGE_SUFFIXES", "occluder_masks", "cut_out", "load_cutout"]

IMAGE_SUFFIXES = (".png", ".webp", ".gif", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg")


class OccluderSource(Protocol):
    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One (h, w, 4) uint8 RGBA occluder."""


class _Cutouts:
    """A source that samples uniformly from a fixed list of RGBA cut-outs ``self.cutouts``."""

    cutouts: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.cutouts)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        return self.cutouts[int(rng.integers(len(self.cutouts)))]


# ------------------------------------------------------------------------------------ procedural
class ProceduralOccluders:
    """Random shapes with random textures, drawn at ``size`` pixels (resized when pasted)."""

    SHAPES = ("ellipse", "polygon", "rectangle")
    TEXTURES = ("noise", "stripes", "checker", "gradient", "flat")

    def __init__(self, size: int = 96) -> None:
        self.size = int(size)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        from PIL import Image, ImageDraw, ImageFilter

        w, h = (np.maximum(8, self.size * rng.uniform(0.35, 1.0, 2))).astype(int)
        mask = Image.new("L", (int(w), int(h)), 0)
        draw = ImageDraw.Draw(mask)
        shape = self.SHAPES[rng.integers(len(self.SHAPES))]
        if shape == "ellipse":
            draw.ellipse((0, 0, w - 1, h - 1), fill=255)
        else:
            draw.polygon(_outline(shape, int(w), int(h), rng), fill=255)
        mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
        rgb = _texture(self.TEXTURES[rng.integers(len(self.TEXTURES))], int(h), int(w), rng)
        out = np.concatenate([rgb, np.asarray(mask)[..., None]], axis=-1)
        return out if out[..., 3].any() else self.sample(rng)


def _outline(shape: str, w: int, h: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Polygon vertices in a w x h box: a rotated rectangle or a star-shaped polygon."""
    c = np.array([w / 2, h / 2])
    if shape == "rectangle":
        a = rng.uniform(0, np.pi)
        half = np.array([w, h]) * rng.uniform(0.3, 0.5, 2)
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
        pts = corners @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    else:
        n = int(rng.integers(3, 10))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.4, 1.0, n)[:, None] * np.array([w, h]) / 2
        pts = np.stack([np.cos(ang), np.sin(ang)], -1) * rad
    pts = np.clip(pts + c, 0, [w - 1, h - 1])
    return [tuple(p) for p in pts]


def _texture(kind: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(h, w, 3) uint8 texture of two random colours."""
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, np.pi)
    along = xx * np.cos(a) + yy * np.sin(a)
    if kind == "noise":
        from PIL import Image

        cells = rng.uniform(0, 1, (int(rng.integers(2, 9)),) * 2).astype(np.float32)
        t = np.asarray(Image.fromarray(cells).resize((w, h), Image.BICUBIC))
        t = np.clip(t + rng.normal(0, 0.08, (h, w)), 0, 1)
    elif kind == "stripes":
        t = 0.5 + 0.5 * np.sin(2 * np.pi * along / rng.uniform(3, 16))
    elif kind == "checker":
        p = rng.uniform(4, 16)
        t = ((np.floor(xx / p) + np.floor(yy / p)) % 2).astype(np.float32)
    elif kind == "gradient":
        t = (along - along.min()) / max(float(np.ptp(along)), 1e-6)
    else:
        t = np.zeros((h, w), np.float32)
    rgb = c0 + (c1 - c0) * t[..., None]
    return np.clip(rgb, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------ user folder
def load_cutout(path: str | Path, min_size: int = 8) -> np.ndarray:
    """One RGBA cut-out, cropped to its non-transparent pixels: (h, w, 4) uint8.

    Raises:
        OccposeError: naming the file when it is not an image, unreadable, has no alpha channel,
            is fully transparent, or its visible part is smaller than ``min_size`` pixels.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    expected = "an RGBA image (PNG/WebP with transparency) of an object cut out"
    try:
        with Image.open(path) as im:
            im.load()
            has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
            rgba = np.asarray(im.convert("RGBA"))
    except UnidentifiedImageError:
        raise OccposeError(f"{path}: not an image; expected {expected}") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise OccposeError(f"{path}: unreadable image ({e}); expected {expected}") from None
    if not has_alpha:
        raise OccposeError(f"{path}: has no alpha channel (mode {im.mode}); expected {expected}, "
                           f"transparent outside the object")
    alpha = rgba[..., 3]
    if not alpha.any():
        raise OccposeError(f"{path}: is fully transparent; expected {expected}")
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    box = rgba[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    if min(box.shape[:2]) < min_size:
        raise OccposeError(f"{path}: visible part is {box.shape[1]}x{box.shape[0]} px, too small; "
                           f"expected at least {min_size} px in each direction")
    return np.ascontiguousarray(box)


class FolderOccluders(_Cutouts):
    """RGBA cut-outs from a folder (recursively): files ending in :data:`IMAGE_SUFFIXES`.

    Other files (READMEs, licences) and hidden files are ignored; every image file must be a valid
    cut-out (:func:`load_cutout`), and the folder must hold at least one.
    """

    def __init__(self, folder: str | Path, min_size: int = 8) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise OccposeError(f"{folder}: occluder folder not found; expected a folder of RGBA "
                               f"cut-outs ({', '.join(IMAGE_SUFFIXES)})")
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise OccposeError(f"{folder}: no image files; expected RGBA cut-outs "
                               f"({', '.join(IMAGE_SUFFIXES)})")
        self.files = files
        self.cutouts = [load_cutout(p, min_size) for p in files]


# ------------------------------------------------------------------------------------ rendered
def occluder_masks(joints_cam: np.ndarray, body, camera, occluders_cam) -> np.ndarray:
    """Visible pixels of each occluder in one frame, by ray casting.

    Args:
        joints_cam: (J, 3) metres, camera frame; body: the subject's BodyModel.
        occluders_cam: the frame's occluders in the camera frame (1 frame).
    Returns:
        (G, H, W) bool, one mask per occluder group (sorted ``occluders_cam.group`` ids): pixels
        whose ray hits the group before the body and before every other occluder.
    """
    from ..camera import image_to_camera
    from ..occlusion.raycast import primitives as raycast

    groups = np.unique(occluders_cam.group)
    out = np.zeros((len(groups), camera.height, camera.width), bool)
    if len(groups) == 0:
        return out
    u0, v0, u1, v1 = _occluder_bbox(occluders_cam, camera)
    if u1 <= u0 or v1 <= v0:
        return out
    vv, uu = np.mgrid[v0:v1, u0:u1]
    pixels = np.stack([uu.ravel() + 0.5, vv.ravel() + 0.5], axis=-1)
    dirs = image_to_camera(pixels, np.ones(len(pixels)), camera)                  # (N, 3)
    joints_cam = np.asarray(joints_cam, np.float64)
    if body is not None and len(joints_cam) == body.skeleton.num_joints:
        a, b, radius = body.capsules(joints_cam)
    else:  # no body, or another joint layout than the body model's: occluders only
        a, b, radius = np.array([[0.0, 0, -10]]), np.array([[0.0, 0, -11]]), np.full(1, 0.01)
    hit = np.full(len(dirs), -1)
    for s in range(0, len(dirs), 16384):
        d = dirs[s:s + 16384]
        zeros = np.zeros((len(d), 3))
        t_body = raycast.ray_capsule(zeros[:, None], d[:, None], a[None], b[None], radius[None]).min(1)
        t_occ = raycast.ray_occluders(zeros, d, occluders_cam, frames=np.zeros(len(d), np.int64))
        first = t_occ.argmin(axis=1)
        t_first = t_occ[np.arange(len(d)), first]
        visible = np.isfinite(t_first) & (t_first < t_body)
        hit[s:s + 16384] = np.where(visible, occluders_cam.group[first], -1)
    hit = hit.reshape(vv.shape)
    for i, g in enumerate(groups):
        out[i, v0:v1, u0:u1] = hit == g
    return out


def _occluder_bbox(occ_cam, camera) -> tuple[int, int, int, int]:
    """Pixel box (u0, v0, u1, v1), end exclusive, around the projected occluder bounds."""
    from ..camera import project_to_2d

    aabb = occ_cam.world_aabb()[0]                                                 # (O, 2, 3)
    corners = np.stack(np.meshgrid([0, 1], [0, 1], [0, 1], indexing="ij"), -1).reshape(-1, 3)
    pts = np.stack([aabb[:, corners[:, k], k] for k in range(3)], -1).reshape(-1, 3)  # (O*8, 3)
    if camera.has_distortion or (pts[:, 2] <= 1e-3).any():
        return 0, 0, camera.width, camera.height
    uv = project_to_2d(pts, camera)
    u0, v0 = np.floor(uv.min(axis=0)).astype(int) - 1
    u1, v1 = np.ceil(uv.max(axis=0)).astype(int) + 1
    return max(u0, 0), max(v0, 0), min(u1, camera.width), min(v1, camera.height)


def cut_out(image: np.ndarray, mask: np.ndarray, erode: int = 1, min_pixels: int = 64) -> np.ndarray | None:
    """RGBA cut-out (cropped to the mask's box) of ``image`` where ``mask``; None if too small."""
    m = mask.copy()
    for _ in range(erode):
        m[1:-1, 1:-1] &= m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
        m[[0, -1], :] = False
        m[:, [0, -1]] = False
    if m.sum() < min_pixels:
        return None
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    sl = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    alpha = (m[sl] * 255).astype(np.uint8)[..., None]
    return np.ascontiguousarray(np.concatenate([image[sl][..., :3], alpha], axis=-1))


class RenderedOccluders(_Cutouts):
    """Cut-outs of the benchmark's rendered occluders (module docstring).

    Args:
        cutouts: (h, w, 4) uint8 RGBA arrays; build them with :meth:`from_benchmark`.
    """

    def __init__(self, cutouts: list[np.ndarray]) -> None:
        if not cutouts:
            raise OccposeError("no rendered occluder cut-outs: the training sequences have no "
                               "rendered frames with visible occluders (levels > 0); use the "
                               "procedural or folder occluder sources")
        self.cutouts = cutouts

    @classmethod
    def from_benchmark(cls, bench, entries, rng: np.random.Generator, per_sequence: int = 4,
                       min_pixels: int = 64) -> "RenderedOccluders":
        """Cut out the occluders of ``per_sequence`` random rendered frames of each entry."""
        from .data import read_frame

        cutouts = []
        for e in entries:
            seq = bench.load(e)
            rendered = np.flatnonzero(seq.rendered)
            occ = seq.occluders()
            if occ.num_primitives == 0 or len(rendered) == 0:
                continue
            camera = bench.cameras[e.camera]
            occ_cam = occ.in_camera_frame(camera)
            frames = rng.choice(rendered, min(per_sequence, len(rendered)), replace=False)
            for t in sorted(int(f) for f in frames):
                image = read_frame(bench.root, e.id, t)
                masks = occluder_masks(seq.joints_3d_cam[t], bench.body_models[e.subject], camera,
                                       occ_cam.select_frames(t))
                for m in masks:
                    c = cut_out(image, m, min_pixels=min_pixels)
                    if c is not None:
                        cutouts.append(c)
        return cls(cutouts)
