"""Per-kind occluder samplers: walls, pillars, boxes, spheres, furniture and user meshes.

A sampler draws one :class:`OccluderGroup` -- an occluder made of primitives -- at its *full
size*, from the sequence's :class:`~.occluder_stage.Stage`. A group is defined in its local
frame (x lateral, y towards the camera, z up; see :meth:`Stage.rotation`) around an *anchor*
point that carries the motion: ``anchor`` (T, 3) world, one per frame (constant when static).

Growth: ``group.primitives(g)`` scales the local frame about the anchor along the ``grow``
axes by g in (0, 1] -- a wall grows in height, a pillar in radius, a box, ball, mesh or piece of
furniture in every direction. Every point at growth g is a convex combination of a full-size
point and a point on the anchor's growth axes, so a group that fits the stage (:func:`fit`) at
full size fits at every growth, and convex primitives grow as nested sets: the occluded
fraction never falls as g rises. :mod:`.placement` searches g.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import motion
from .geometry import BOX, CYLINDER, MESH, SPHERE, MeshData, OccluderSet
from .furniture import FURNITURE
from .stage import Stage

MOVABLE = ("box", "sphere", "mesh")
COMPACT = ("box", "sphere", "mesh")  # kinds that can cover a few joints anywhere (fillers)
GROW_ALL, GROW_UP, GROW_WIDE = (True, True, True), (False, False, True), (True, True, False)
# Smallest growth of each kind when it appears: a 10 cm kerb, a pole, a toy chair.
LOW = {"wall": 0.08, "pillar": 0.1, "box": 0.15, "sphere": 0.15, "furniture": 0.45, "mesh": 0.2}


@dataclass(frozen=True, eq=False)
class OccluderGroup:
    """One occluder (P primitives) at full size, with its motion.

    Attributes:
        kind: "wall", "pillar", "box", "sphere", "furniture" or "mesh"; detail: e.g. "table".
        motion: "static", "slide", "sway" or "follow".
        shape: (P,) int8 shape codes; centre: (P, 3) local centres; size: (P, 3) full sizes.
        color: (P, 3) float32 RGB; mesh_index: (P,) int32 into the sequence's meshes, or -1.
        grow: (3,) bool, the local axes that scale with growth; low: the smallest growth used.
        rotation: (3, 3) local -> world; anchor: (T, 3) world anchor per frame.
    """

    kind: str
    detail: str
    motion: str
    shape: np.ndarray
    centre: np.ndarray
    size: np.ndarray
    color: np.ndarray
    mesh_index: np.ndarray
    grow: np.ndarray
    low: float
    rotation: np.ndarray
    anchor: np.ndarray

    def primitives(self, growth: float) -> dict[str, np.ndarray]:
        """Primitive arrays at ``growth`` in (0, 1]: shape, size, pose (T, P, 4, 4), color, mesh_index."""
        sigma = np.where(self.grow, growth, 1.0)  # (3,) per local axis
        centre = self.centre * sigma  # (P, 3)
        pose = np.zeros((len(self.anchor), len(self.shape), 4, 4))
        pose[..., :3, :3] = self.rotation
        pose[..., :3, 3] = self.anchor[:, None] + centre @ self.rotation.T  # (T, P, 3)
        pose[..., 3, 3] = 1.0
        return {"shape": self.shape, "size": self.size * sigma, "pose": pose,
                "color": self.color, "mesh_index": self.mesh_index}

    def frozen(self, growth: float) -> "OccluderGroup":
        """This group fixed at ``growth``: its full size becomes the size at that growth."""
        sigma = np.where(self.grow, growth, 1.0)
        return replace(self, centre=self.centre * sigma, size=self.size * sigma, low=1.0)

    def shifted(self, delta) -> "OccluderGroup":
        return replace(self, anchor=self.anchor + np.asarray(delta, np.float64))


def build_set(groups: list[OccluderGroup], growths: list[float], meshes: tuple[MeshData, ...],
              n_frames: int) -> OccluderSet:
    """The world-frame OccluderSet of the groups with growth > 0 (group ids 0, 1, ... in order)."""
    parts = [(g.primitives(x), len(g.shape)) for g, x in zip(groups, growths) if x > 0]
    if not parts:
        return OccluderSet.empty(n_frames)
    cat = {k: np.concatenate([p[k] for p, _ in parts], axis=1 if k == "pose" else 0)
           for k in ("shape", "size", "pose", "color", "mesh_index")}
    group = np.repeat(np.arange(len(parts), dtype=np.int32), [n for _, n in parts])
    used = sorted({int(i) for i in cat["mesh_index"] if i >= 0})
    remap = np.full(max(len(meshes), 1), -1, np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    mesh_index = np.where(cat["mesh_index"] >= 0, remap[np.maximum(cat["mesh_index"], 0)], -1)
    return OccluderSet(shape=cat["shape"], size=cat["size"], pose=cat["pose"], group=group,
                       color=cat["color"], mesh_index=mesh_index,
                       meshes=tuple(meshes[i] for i in used))


def view_bounds(groups: list[OccluderGroup], growths: list[float], stage: Stage,
                meshes: tuple[MeshData, ...]) -> np.ndarray:
    """(T, O, 2, 3) bounds (min, max) of every primitive in the view frame (depth, lateral, z)."""
    return stage.view_aabb(build_set(groups, growths, meshes, stage.n_frames))


def fit(group: OccluderGroup, stage: Stage, meshes: tuple[MeshData, ...]) -> OccluderGroup | None:
    """The group moved towards the camera until its full size lies behind no part of the body.

    Returns None when it then crosses ``near`` (too deep for the room) or dips below the floor.
    """
    bounds = view_bounds([group], [1.0], stage, meshes)  # (T, P, 2, 3)
    excess = bounds[..., 1, 0].max() - stage.back
    if excess > 0:
        group = group.shifted(-(excess + 1e-9) * stage.u)
        bounds = bounds - np.array([excess + 1e-9, 0.0, 0.0])
    anchor_depth = (group.anchor - stage.origin) @ stage.u
    if (bounds[..., 0, 0].min() < stage.near or bounds[..., 0, 2].min() < -1e-9
            or anchor_depth.min() < stage.near or anchor_depth.max() > stage.back
            or group.anchor[:, 2].min() < 0):
        return None
    return group


# ------------------------------------------------------------------------------------ samplers
def sample_group(kind: str, rng: np.random.Generator, stage: Stage, cfg,
                 meshes: tuple[MeshData, ...], moving: bool) -> OccluderGroup | None:
    """One occluder of ``kind`` at full size, fitted to the stage (None if it does not fit)."""
    sampler = {"wall": _wall, "pillar": _pillar, "box": _box, "sphere": _sphere,
               "furniture": _furniture, "mesh": _mesh}[kind]
    group = sampler(rng, stage, cfg, meshes, moving)
    return fit(group, stage, meshes)


def _color(rng: np.random.Generator, n: int, shade=None) -> np.ndarray:
    base = rng.uniform(0.15, 0.9, 3)
    shade = np.ones(n) if shade is None else np.asarray(shade)
    return np.clip(base[None] * shade[:, None], 0.0, 1.0).astype(np.float32)


def _depth(rng: np.random.Generator, stage: Stage, extent: float) -> float:
    """Back depth of an occluder ``extent`` metres deep: up to ~1.8 m in front of the subject."""
    room = max(stage.room - extent, 0.0)
    return stage.back - rng.uniform(0.0, 1.0) ** 1.5 * min(1.8, 0.7 * room)


def _aim(rng: np.random.Generator, stage: Stage, depth: float,
         spread: float = 0.6) -> tuple[float, int, float | None]:
    """(lateral, frame, height or None) at ``depth`` on the line of sight to a body point.

    Without a focus: a random point across the silhouette at a random frame (no height). With
    ``stage.focus``: a joint-frame drawn by the focus weights, and its line-of-sight height.
    """
    w = stage.focus
    if w is not None and w.sum() > 0:
        flat = int(rng.choice(w.size, p=(w / w.sum()).ravel()))
        t, j = divmod(flat, w.shape[1])
        lateral = depth * stage.joint_slope[t, j] + rng.normal(0.0, 0.03)
        return lateral, t, float(stage.line_of_sight_height(depth, stage.joint_vslope[t, j]))
    t = int(rng.integers(stage.n_frames))
    half = 0.5 * (stage.slope_hi[t] - stage.slope_lo[t])
    slope = stage.centre_slope()[t] + half * float(np.clip(rng.normal(0.0, spread), -1.2, 1.2))
    return depth * slope, t, None


def _height(rng: np.random.Generator, aim: float | None, lo: float, hi: float) -> float:
    """A floating height in [lo, hi]: the aim's when there is one."""
    hi = max(lo, hi)
    return float(np.clip(aim, lo, hi)) if aim is not None else float(rng.uniform(lo, hi))


def _group(kind, detail, motion_name, shape, centre, size, color, grow, low, rotation, anchor,
           mesh_index=None) -> OccluderGroup:
    shape = np.asarray(shape, np.int8)
    mesh_index = np.full(len(shape), -1, np.int32) if mesh_index is None else mesh_index
    return OccluderGroup(kind, detail, motion_name, shape, np.asarray(centre, np.float64),
                         np.asarray(size, np.float64), color, np.asarray(mesh_index, np.int32),
                         np.array(grow, bool), float(low), rotation, np.asarray(anchor, np.float64))


def _static(stage: Stage, depth: float, lateral: float, z: float = 0.0) -> np.ndarray:
    return np.repeat(stage.to_world(depth, lateral, z)[None], stage.n_frames, axis=0)


def _wall(rng, stage: Stage, cfg, meshes, moving) -> OccluderGroup:
    """A thin wide box on the floor, across the line of sight; grows in height."""
    thick = min(rng.uniform(0.08, 0.25), cfg.max_size)
    depth = _depth(rng, stage, thick)
    height = stage.line_of_sight_height(depth, stage.slope_top.max()) + 0.05
    height = float(np.clip(height, 0.3, min(3.0, cfg.max_size)))
    spread = depth * (stage.slope_hi.max() - stage.slope_lo.min())
    width = rng.uniform(0.5, 1.2) * spread + rng.uniform(0.3, 1.0)
    width = float(np.clip(width, 0.6, min(cfg.max_size, 1.6 * depth * stage.image_slope)))
    lateral, _, _ = _aim(rng, stage, depth, spread=0.4)
    lateral += rng.uniform(-0.25, 0.25) * width
    return _group("wall", "wall", "static", [BOX], [(0, thick / 2, height / 2)],
                  [(width / 2, thick / 2, height / 2)], _color(rng, 1), GROW_UP, LOW["wall"],
                  stage.rotation(rng.uniform(-0.3, 0.3)), _static(stage, depth, lateral))


def _pillar(rng, stage: Stage, cfg, meshes, moving) -> OccluderGroup:
    """A tall cylinder or square column on the floor; grows in radius."""
    height = min(rng.uniform(2.0, 3.0), cfg.max_size)
    r = min(rng.uniform(0.1, 0.35), cfg.max_size / 2)
    depth = _depth(rng, stage, 2 * r)
    lateral, _, _ = _aim(rng, stage, depth)
    round_ = rng.random() < 0.6
    return _group("pillar", "cylinder" if round_ else "column", "static",
                  [CYLINDER if round_ else BOX], [(0, r, height / 2)], [(r, r, height / 2)],
                  _color(rng, 1), GROW_WIDE, LOW["pillar"],
                  stage.rotation(0.0 if round_ else rng.uniform(-0.4, 0.4)),
                  _static(stage, depth, lateral))


def _moving_anchor(rng, stage: Stage, cfg, depth: float, lateral: float, t_aim: int,
                   z_mid: float, z_amp: float, modes: tuple[str, ...]) -> tuple[str, np.ndarray]:
    """(motion name, (T, 3) world anchor) of a moving occluder at ``depth``."""
    name = str(rng.choice(modes))
    n = stage.n_frames
    z = np.full(n, z_mid)
    if name == "slide":
        lat = motion.slide(rng, n, stage.fps, lateral, t_aim, cfg.max_speed)
    elif name == "sway":
        lat, z = motion.sway(rng, n, stage.fps, lateral, z_mid, z_amp, cfg.max_speed)
    else:
        lat = motion.follow(rng, stage.centre_slope(), depth, stage.fps, cfg.max_speed)
    return name, stage.to_world(depth, lat, z)


def _aloft(rng, z_aim: float | None, reach: float, moving: bool, p_moving: float) -> bool:
    """Whether a box or ball floats: its aim is out of reach from the floor, or by chance if moving."""
    if z_aim is not None:
        return z_aim > reach
    return moving and rng.random() < p_moving


def _box(rng, stage: Stage, cfg, meshes, moving) -> OccluderGroup:
    """A crate on the floor (maybe two stacked) or sliding; a box hanging, floating or carried."""
    cap = cfg.max_size / 2
    ranges = ((0.15, 0.45), (0.15, 0.35), (0.15, 0.4)) if moving else ((0.2, 0.6), (0.15, 0.4), (0.2, 0.55))
    hx, hy, hz = (min(rng.uniform(*r), cap) for r in ranges)
    depth = _depth(rng, stage, 2 * hy)
    lateral, t_aim, z_aim = _aim(rng, stage, depth)
    rotation = stage.rotation(rng.uniform(-0.5, 0.5))
    if _aloft(rng, z_aim, 2 * hz + 0.1, moving, 0.65):
        z_mid = _height(rng, z_aim, hz + 0.3, 1.5)
        if moving:
            name, anchor = _moving_anchor(rng, stage, cfg, depth, lateral, t_aim, z_mid,
                                          min(0.3, z_mid - hz - 0.05), ("slide", "sway", "follow"))
        else:
            name, anchor = "static", _static(stage, depth, lateral, z_mid)
        return _group("box", "carried box" if moving else "hanging box", name, [BOX], [(0, hy, 0)],
                      [(hx, hy, hz)], _color(rng, 1), GROW_ALL, LOW["box"], rotation, anchor)
    if moving:
        name, anchor = _moving_anchor(rng, stage, cfg, depth, lateral, t_aim, 0.0, 0.0, ("slide",))
        return _group("box", "floor box", name, [BOX], [(0, hy, hz)], [(hx, hy, hz)],
                      _color(rng, 1), GROW_ALL, LOW["box"], rotation, anchor)
    centre, size = [(0, hy, hz)], [(hx, hy, hz)]
    if rng.random() < 0.35 and 2 * hz + 0.3 <= cfg.max_size:  # a smaller crate on top
        h2 = (hx * rng.uniform(0.5, 1.0), hy * rng.uniform(0.6, 1.0), min(rng.uniform(0.15, 0.35), cap))
        centre.append((rng.uniform(-0.5, 0.5) * (hx - h2[0]), h2[1], 2 * hz + h2[2]))
        size.append(h2)
    return _group("box", "crate", "static", [BOX] * len(size), centre, size,
                  _color(rng, len(size), [1.0, 0.85][:len(size)]), GROW_ALL, LOW["box"],
                  rotation, _static(stage, depth, lateral))


def _sphere(rng, stage: Stage, cfg, meshes, moving) -> OccluderGroup:
    """A ball resting or rolling on the floor; hanging, or floating along a smooth curve."""
    r = min(rng.uniform(0.12, 0.45), cfg.max_size / 2)
    depth = _depth(rng, stage, 2 * r) - r  # the anchor is under / at the centre
    lateral, t_aim, z_aim = _aim(rng, stage, depth)
    if _aloft(rng, z_aim, 2 * r + 0.1, moving, 0.6):
        z_mid = _height(rng, z_aim, r + 0.25, 1.6)
        if moving:
            name, anchor = _moving_anchor(rng, stage, cfg, depth, lateral, t_aim, z_mid,
                                          min(0.4, z_mid - r - 0.05), ("sway", "slide", "follow"))
        else:
            name, anchor = "static", _static(stage, depth, lateral, z_mid)
        detail, centre = "floating ball" if moving else "hanging ball", (0, 0, 0)
    elif moving:
        name, anchor = _moving_anchor(rng, stage, cfg, depth, lateral, t_aim, 0.0, 0.0, ("slide",))
        detail, centre = "rolling ball", (0, 0, r)
    else:
        name, anchor, detail, centre = "static", _static(stage, depth, lateral), "ball", (0, 0, r)
    return _group("sphere", detail, name, [SPHERE], [centre], [(r, r, r)], _color(rng, 1),
                  GROW_ALL, LOW["sphere"], stage.rotation(0.0), anchor)


def _furniture(rng, stage: Stage, cfg, meshes, moving) -> OccluderGroup:
    """A table, chair, shelf or sofa standing on the floor, turned to face any way."""
    detail = str(rng.choice(list(FURNITURE)))
    shape, centre, size, shade = FURNITURE[detail](rng)
    lo = (centre - size).min(axis=0)
    hi = (centre + size).max(axis=0)
    scale = min(1.0, cfg.max_size / float((hi - lo).max()))
    centre, size = centre * scale, size * scale
    extent = float(np.linalg.norm((hi - lo)[:2])) * scale
    depth = _depth(rng, stage, extent)
    lateral, _, _ = _aim(rng, stage, depth)
    yaw = rng.choice([0.0, 0.5 * np.pi, np.pi, -0.5 * np.pi]) + rng.uniform(-0.25, 0.25)
    return _group("furniture", detail, "static", shape, centre, size, _color(rng, len(shape), shade),
                  GROW_ALL, LOW["furniture"], stage.rotation(yaw), _static(stage, depth, lateral))


def _mesh(rng, stage: Stage, cfg, meshes, moving) -> OccluderGroup:
    """A user mesh standing on the floor (static or sliding) or floating, any yaw."""
    k = int(rng.integers(len(meshes)))
    extent = min(rng.uniform(*cfg.mesh_size), cfg.max_size)
    depth = _depth(rng, stage, extent)
    lateral, t_aim, z_aim = _aim(rng, stage, depth)
    span = float(np.ptp(meshes[k].vertices[:, 2])) * extent
    if not moving:
        name, anchor = "static", _static(stage, depth, lateral)
    elif rng.random() < 0.5:
        name, anchor = _moving_anchor(rng, stage, cfg, depth, lateral, t_aim, 0.0, 0.0, ("slide",))
    else:
        z_mid = _height(rng, None if z_aim is None else z_aim - span / 2, 0.2, 1.6 - span)
        name, anchor = _moving_anchor(rng, stage, cfg, depth, lateral, t_aim, z_mid,
                                      min(0.3, z_mid - 0.05), ("sway", "slide", "follow"))
    return _group("mesh", meshes[k].name, name, [MESH], [(0, 0, 0)], [(extent,) * 3],
                  _color(rng, 1), GROW_ALL, LOW["mesh"], stage.rotation(rng.uniform(-np.pi, np.pi)),
                  anchor, mesh_index=[k])
