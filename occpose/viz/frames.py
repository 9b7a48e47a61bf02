"""2D drawing: skeletons coloured by occlusion state, occluder silhouettes, contact sheets.

Images are PIL images (RGB, pixels in occpose's image frame: origin at the top-left corner,
u right, v down); ``scale`` maps camera pixels to the drawn image (for thumbnails). Pillow is
imported inside the functions; matplotlib only when an Axes is passed in.
"""

from __future__ import annotations

import numpy as np

from ..camera import project_to_2d, world_to_camera

VISIBLE, OCCLUDED_BODY, OCCLUDED_OBJECT, OUT_OF_FRAME, OCCLUDED_OTHER = 0, 1, 2, 3, 4
STATE_COLORS: dict[int, tuple[int, int, int]] = {
    VISIBLE: (40, 190, 60),          # green
    OCCLUDED_BODY: (255, 150, 0),    # orange: self-occlusion
    OCCLUDED_OBJECT: (225, 30, 30),  # red: hidden by an occluder
    OUT_OF_FRAME: (150, 150, 150),   # grey
    OCCLUDED_OTHER: (170, 60, 200),  # purple: occluded, blocker not recorded
}
STATE_NAMES = {VISIBLE: "visible", OCCLUDED_BODY: "occluded by body",
               OCCLUDED_OBJECT: "occluded by object", OUT_OF_FRAME: "out of frame",
               OCCLUDED_OTHER: "occluded (other)"}
BACKGROUND = (236, 236, 232)


def joint_states(arrays: dict) -> np.ndarray:
    """(T, J) int8 state codes from a sequence's label arrays (out of frame wins, then object,
    then body)."""
    occ = np.asarray(arrays["occluded"])
    states = np.full(occ.shape, VISIBLE, dtype=np.int8)
    states[occ] = OCCLUDED_OTHER
    states[occ & np.asarray(arrays["occluded_by_body"])] = OCCLUDED_BODY
    states[occ & np.asarray(arrays["occluded_by_object"])] = OCCLUDED_OBJECT
    states[np.asarray(arrays["out_of_frame"])] = OUT_OF_FRAME
    return states


def _is_axes(obj) -> bool:
    return hasattr(obj, "scatter") and hasattr(obj, "plot")


def draw_skeleton_2d(image_or_ax, joints_2d, states, skeleton, scale: float = 1.0,
                     radius: float | None = None, width: float | None = None,
                     bone_color=(255, 255, 255)):
    """Draw bones as lines and joints as dots coloured by state (:data:`STATE_COLORS`).

    Args:
        image_or_ax: a PIL image (drawn in place), an (H, W, 3) uint8 array (a copy is drawn),
            or a matplotlib Axes in image coordinates (call ``ax.invert_yaxis()`` yourself).
        joints_2d: (J, 2) pixels; states: (J,) state codes; skeleton: supplies the bones.
        scale: multiply coordinates by this (thumbnails).
    Returns:
        The PIL image or the Axes drawn on.
    """
    uv = np.asarray(joints_2d, dtype=np.float64) * scale
    states = np.asarray(states)
    ok = np.isfinite(uv).all(axis=1)
    if _is_axes(image_or_ax):
        ax = image_or_ax
        lw = width or 2.0
        for p, c in skeleton.bones:
            if ok[p] and ok[c]:
                ax.plot(uv[[p, c], 0], uv[[p, c], 1], color="0.2", lw=lw, zorder=2)
        colors = [np.array(STATE_COLORS[int(s)]) / 255 for s in states[ok]]
        ax.scatter(uv[ok, 0], uv[ok, 1], c=colors, s=(radius or 4.0) ** 2, edgecolors="k",
                   linewidths=0.5, zorder=3)
        return ax
    from PIL import Image, ImageDraw

    img = image_or_ax
    if not isinstance(img, Image.Image):
        img = Image.fromarray(np.asarray(img, np.uint8))
    size = max(img.size)
    r = radius or max(2.0, size / 110)
    w = int(round(width or max(1.0, size / 250)))
    draw = ImageDraw.Draw(img)
    for p, c in skeleton.bones:
        if ok[p] and ok[c]:
            line = [tuple(uv[p]), tuple(uv[c])]
            draw.line(line, fill=(20, 20, 20), width=w + 2)
            draw.line(line, fill=tuple(bone_color), width=w)
    for j in np.flatnonzero(ok):
        x, y = uv[j]
        draw.ellipse([x - r, y - r, x + r, y + r], fill=STATE_COLORS[int(states[j])], outline=(0, 0, 0))
    return img


# --------------------------------------------------------------------------------- occluders
def _sphere_points(n: int = 160) -> np.ndarray:
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = np.pi * (1 + 5 ** 0.5) * k
    rho = np.sqrt(1 - z * z)
    return np.stack([rho * np.cos(phi), rho * np.sin(phi), z], axis=1)


def _ring(n: int = 36) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(a), np.sin(a), np.zeros(n)], axis=1)


BOX_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
BOX_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8)
             if np.count_nonzero(BOX_CORNERS[a] != BOX_CORNERS[b]) == 1]


def surface_points(occluders, i: int) -> np.ndarray:
    """(N, 3) points on primitive ``i``'s surface in its object frame (metres)."""
    from ..occlusion.occluders.geometry import BOX, CAPSULE, CYLINDER, MESH, SPHERE

    code, size = int(occluders.shape[i]), occluders.size[i]
    if code == BOX:
        t = np.linspace(0, 1, 9)[:, None, None]
        edges = np.concatenate([(1 - t) * BOX_CORNERS[a] + t * BOX_CORNERS[b] for a, b in BOX_EDGES])
        return edges.reshape(-1, 3) * size
    if code == SPHERE:
        return _sphere_points() * size[0]
    if code == CYLINDER:
        ring = _ring() * size[0]
        return np.concatenate([ring + [0, 0, -size[2]], ring + [0, 0, size[2]]])
    if code == CAPSULE:
        s = _sphere_points() * size[0]
        return np.concatenate([s + [0, 0, -size[2]], s + [0, 0, size[2]]])
    if code == MESH:
        v = occluders.mesh_vertices(i)
        return v[:: max(1, len(v) // 2000)]
    raise ValueError(f"unknown occluder shape code {code}")


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (monotone chain) of (N, 2) points, counter-clockwise, (H, 2)."""
    pts = np.unique(np.round(points, 3), axis=0)
    if len(pts) < 3:
        return pts

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and np.cross(out[-1] - out[-2], p - out[-2]) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def occluder_outlines(occluders, frame: int, camera) -> list[tuple[np.ndarray, tuple, list]]:
    """Projected silhouettes of every primitive at ``frame``.

    Returns:
        [(hull (H, 2) pixels, RGB 0-255 colour, edge polylines [(N, 2) pixels] for boxes)],
        skipping primitives entirely behind the camera; points behind it are dropped.
    """
    from ..occlusion.occluders.geometry import BOX

    out = []
    for i in range(occluders.num_primitives):
        pose = occluders.pose[frame, i]
        obj = surface_points(occluders, i)
        cam = world_to_camera(obj @ pose[:3, :3].T + pose[:3, 3], camera)  # (N, 3)
        front = cam[:, 2] > 0.05
        if front.sum() < 3:
            continue
        uv = project_to_2d(cam[front], camera)
        color = tuple(int(c * 255) for c in occluders.color[i])
        edges = []
        if int(occluders.shape[i]) == BOX and front.all():
            edges = list(uv.reshape(len(BOX_EDGES), 9, 2))
        out.append((_hull(uv), color, edges))
    return out


def draw_occluders_2d(image, occluders, frame: int, camera, scale: float = 1.0, alpha: float = 0.45):
    """Fill the occluders' projected silhouettes (translucent) on a PIL image; returns it."""
    from PIL import Image, ImageDraw

    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for hull, color, edges in occluder_outlines(occluders, frame, camera):
        pts = [tuple(p) for p in hull * scale]
        if len(pts) >= 3:
            draw.polygon(pts, fill=(*color, int(255 * alpha)), outline=(*_darker(color), 255))
        for e in edges:
            draw.line([tuple(p) for p in e * scale], fill=(*_darker(color), 255), width=1)
    base = image.convert("RGBA")
    base.alpha_composite(overlay)
    return base.convert("RGB")


def _darker(color) -> tuple:
    return tuple(int(c * 0.55) for c in color)


# ------------------------------------------------------------------------------ tiles, sheets
def render_frame(joints_2d, states, skeleton, camera, image=None, occluders=None, frame: int = 0,
                 max_size: int = 480):
    """One thumbnail: the rendered frame (PIL image or array) if given, else a plain background
    with the occluders' silhouettes, and the skeleton on top. Returns a PIL image."""
    from PIL import Image

    scale = min(1.0, max_size / max(camera.width, camera.height))
    size = (max(1, round(camera.width * scale)), max(1, round(camera.height * scale)))
    if image is not None:
        img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, np.uint8))
        img = img.convert("RGB").resize(size)
    else:
        img = Image.new("RGB", size, BACKGROUND)
        if occluders is not None and occluders.num_primitives:
            img = draw_occluders_2d(img, occluders, frame, camera, scale)
    return draw_skeleton_2d(img, joints_2d, states, skeleton, scale=scale)


def legend_strip(width: int, states=(VISIBLE, OCCLUDED_BODY, OCCLUDED_OBJECT, OUT_OF_FRAME)):
    """A white strip naming the joint colours; PIL image of the given width."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, 24), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    x = 8
    for s in states:
        draw.ellipse([x, 7, x + 10, 17], fill=STATE_COLORS[s], outline=(0, 0, 0))
        draw.text((x + 15, 6), STATE_NAMES[s], fill=(0, 0, 0))
        x += 30 + int(draw.textlength(STATE_NAMES[s]))
    return img


def contact_sheet(tiles, titles=None, columns: int | None = None, title: str | None = None,
                  legend: bool = False, pad: int = 6, background=(255, 255, 255)):
    """Arrange images (PIL or arrays, any sizes) in a grid with optional captions.

    Args:
        titles: one caption per tile (drawn above it).
        columns: grid width (default: about square).
        title: a heading line; legend: append :func:`legend_strip`.
    Returns:
        The sheet as a PIL RGB image.
    """
    from PIL import Image, ImageDraw

    tiles = [t if isinstance(t, Image.Image) else Image.fromarray(np.asarray(t, np.uint8)) for t in tiles]
    if not tiles:
        raise ValueError("contact_sheet needs at least one tile")
    columns = columns or int(np.ceil(np.sqrt(len(tiles))))
    rows = int(np.ceil(len(tiles) / columns))
    cap = 16 if titles else 0
    tw, th = max(t.width for t in tiles), max(t.height for t in tiles)
    head = 22 if title else 0
    width = columns * (tw + pad) + pad
    sheet = Image.new("RGB", (width, head + rows * (th + cap + pad) + pad), background)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, 5), title, fill=(0, 0, 0))
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        x, y = pad + c * (tw + pad), head + pad + r * (th + cap + pad)
        if titles:
            draw.text((x, y + 1), str(titles[k]), fill=(0, 0, 0))
        sheet.paste(tile.convert("RGB"), (x, y + cap))
    if legend:
        strip = legend_strip(width)
        full = Image.new("RGB", (width, sheet.height + strip.height), background)
        full.paste(sheet, (0, 0))
        full.paste(strip, (0, sheet.height))
        sheet = full
    return sheet
