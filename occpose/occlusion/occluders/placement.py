"""Occluder placement: controlled occlusion levels (ARCHITECTURE.md, "Occlusion level").

:func:`place_occluders` puts occluders between the camera and the subject so that a sequence's
MEAN occluder_fraction -- measured with :func:`~.visibility.label_visibility`, never assumed --
lies within ``cfg.tolerance`` of the target level.

Search. A *layout* is 1..``max_occluders`` occluder groups sampled by :mod:`.occluders` at full
size, fitted into the stage (:mod:`.occluder_stage`: in front of the body by ``clearance`` in
every frame, at least ``min_camera_distance`` from the camera, on or above the floor). One
scalar s in [0, n] controls it: group k has growth clip(s - k, 0, 1) (absent at 0, then from its
smallest size up to full size), so groups appear one after another and every group only grows.
Occluders always lie in front of the body, so growing them never frees a ray and the mean
fraction f(s) rises monotonically from f(0) = 0 (convex primitives grow as nested sets).

The search measures f(n), then takes regula falsi steps on [0, n], bisecting when one end
stalls, until f lies within the tolerance (and, while evaluations last, within half of it).
When a layout cannot reach the target, its groups are kept and compact occluders (boxes,
balls, meshes) are added, aimed at the joints still visible; when f jumps over the window (a
static subject whose hips all disappear behind a wall at once), the groups below the jump are
kept, frozen at their size there, and compact occluders fill the rest. A layout of
``max_occluders`` groups that fails is replaced by a fresh one. A level counts only when the
occluders hide at most ``max_image_fraction`` of the image. At most ``max_evaluations`` label
evaluations per sequence; if none lands within the tolerance,
:class:`~occpose.errors.LevelNotReachedError` names the sequence, the target and the best level
found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...camera import image_to_camera, world_to_camera
from ...errors import LevelNotReachedError
from .geometry import OccluderSet
from .motion import max_step
from .stage import Stage, make_stage
from .sampling import COMPACT, MOVABLE, OccluderGroup, build_set, sample_group
from ..raycast.primitives import ray_occluders
from ..raycast.visibility import VisibilityLabels, VisibilityParams, label_visibility

GROUP_TRIES = 6  # fresh draws of one group that does not fit the stage before giving up on it
GAP = 0.02  # a bracket narrower than this in s: f jumps over the tolerance window there
REFINE_STEPS = 4  # evaluations spent moving an accepted level towards the window's middle
RESERVE = 4  # ... only while at least this many evaluations are left
IMAGE_GRID = 20  # rays per image side for the image-fraction check
IMAGE_FRAMES = 5  # frames checked for the image fraction


@dataclass(frozen=True, eq=False)
class Placement:
    """The result of :func:`place_occluders`.

    Attributes:
        occluders: world-frame OccluderSet, T frames.
        labels: the visibility labels of exactly this placement.
        steps: label evaluations spent by the search (including the final one).
        achieved: mean occluder_fraction of ``labels`` (over ``skeleton``'s joints when given).
    """

    occluders: OccluderSet
    labels: VisibilityLabels
    steps: int
    achieved: float


@dataclass
class _Search:
    """Bookkeeping shared by the layouts of one sequence."""

    target: float
    tol: float
    budget: int
    steps: int = 0
    best: tuple | None = None  # (error, achieved, OccluderSet, labels) closest so far
    accepted: tuple | None = None  # the closest within tolerance and image limits
    too_big: int = 0  # levels within tolerance refused for hiding too much of the image

    def record(self, achieved, occ, labels, image_ok: bool) -> None:
        err = abs(achieved - self.target)
        if self.best is None or err < self.best[0]:
            self.best = (err, achieved, occ, labels)
        if err <= self.tol and not image_ok:
            self.too_big += 1
        elif err <= self.tol and (self.accepted is None or err < self.accepted[0]):
            self.accepted = (err, achieved, occ, labels)

    @property
    def left(self) -> int:
        return self.budget - self.steps


def place_occluders(joints_world, body, camera, target_level: float, rng: np.random.Generator,
                    cfg, params: VisibilityParams = VisibilityParams(), sequence: str = "",
                    fps: float = 50.0, base_dir: str | Path | None = None,
                    skeleton=None, labeller=None) -> Placement:
    """Occluders for one sequence whose mean occluder_fraction is ``target_level`` +- tolerance.

    Args:
        joints_world: (T, J, 3) float64 world joints (metres, Z up, floor z = 0).
        body: the subject's BodyModel; camera: the Camera.
        target_level: the wanted mean occluder_fraction in [0, 1); 0 places nothing.
        rng: the sequence's generator (same state -> identical occluders and labels).
        cfg: the preset's :class:`~occpose.config.OccluderSection`.
        params: the visibility definition's parameters.
        sequence: the sequence id, for error messages.
        fps: frame rate of the clip (speeds of moving occluders are in m/s).
        base_dir: the folder relative ``cfg.meshes`` paths are relative to (the preset's).
        skeleton: the joint layout the benchmark stores (``benchmark.skeleton``) when it is not
            the body's: the level is measured over its joints, as the stored
            occluder_fraction is (e.g. humaneva15 keeps 15 of the 17 joints).
        labeller: ``labeller(occluders_cam or None) -> VisibilityLabels`` measuring a candidate
            (default: the capsule definition on ``body``); a mesh body passes its own
            (:mod:`~occpose.occlusion.raycast.mesh_body`) with ``body`` a
            :class:`~occpose.occlusion.raycast.mesh_body.MeshStageBody`.
    Raises:
        LevelNotReachedError: no placement within the tolerance in ``cfg.max_evaluations``.
    """
    joints_world = np.asarray(joints_world, np.float64)
    n_j = body.skeleton.num_joints
    if joints_world.ndim != 3 or joints_world.shape[1:] != (n_j, 3) or not len(joints_world):
        raise ValueError(f"joints_world must have shape (T, {n_j}, 3), got {joints_world.shape}")
    if not 0.0 <= target_level < 1.0:
        raise ValueError(f"target_level must lie in [0, 1), got {target_level}")
    n_t = len(joints_world)
    # Labels from float32-rounded camera-frame joints: what the arrays file stores, so stored
    # files re-derive these labels exactly.
    joints_cam = world_to_camera(joints_world, camera).astype(np.float32).astype(np.float64)
    level = _level_function(body.skeleton, skeleton)
    if labeller is None:
        def labeller(occ_cam):
            return label_visibility(joints_cam, body, camera, occ_cam, params)
    if target_level <= 0:
        labels = labeller(None)
        return Placement(OccluderSet.empty(n_t), labels, 1, level(labels))
    meshes = ()
    if "mesh" in cfg.kinds:
        from .user_meshes import load_user_meshes

        meshes = load_user_meshes(cfg.meshes, base_dir, cfg.mesh_up, cfg.mesh_max_faces)
    stage = make_stage(joints_world, body, camera, cfg.clearance, cfg.min_camera_distance, fps)
    search = _Search(float(target_level), float(cfg.tolerance), int(cfg.max_evaluations))

    def evaluate(occ: OccluderSet) -> tuple[float, VisibilityLabels]:
        search.steps += 1
        labels = labeller(occ.in_camera_frame(camera))
        return level(labels), labels

    if stage.room > 0.05:
        n_groups = 1 + int(rng.random() < 0.35) + int(rng.random() < 0.15)
        prefix, known = [], (0.0, None)  # groups kept from the last layout, their (f, labels)
        while search.left > 0 and search.accepted is None:
            if len(prefix) >= cfg.max_occluders:
                prefix, known = [], (0.0, None)
            want = min(max(n_groups, len(prefix) + 1), cfg.max_occluders)
            focus = None if known[1] is None else _unoccluded(known[1])
            fresh = sample_layout(rng, stage.with_focus(focus), cfg, meshes, want - len(prefix))
            if not fresh:
                break
            layout = prefix + fresh
            reach, below = _search_layout(layout, len(prefix), known, stage, meshes, camera, cfg,
                                          search, evaluate)
            if reach[0] < search.target - search.tol:  # too weak: keep it all, add groups
                prefix, known = layout, reach
                n_groups = len(layout) + 1
            elif below is not None:  # f jumps over the window: keep what lies below the jump
                prefix, known = freeze(layout, below[0]), below[1:]
            else:
                prefix, known = [], (0.0, None)
    if search.accepted is None:
        best = search.best[1] if search.best is not None else 0.0
        room = "" if stage.room > 0.05 else (
            f"; no room for occluders between the camera and the subject (free depth "
            f"{stage.room:.2f} m; lower occluders.min_camera_distance or occluders.clearance)")
        if search.too_big:
            room += (f"; {search.too_big} placements within tolerance hid more than "
                     f"occluders.max_image_fraction = {cfg.max_image_fraction:g} of the image")
        raise LevelNotReachedError(
            f"sequence {sequence or '<unnamed>'}: occlusion level {target_level:g} not reached "
            f"within +-{cfg.tolerance:g} after {search.steps} label evaluations; best level found "
            f"{best:.3f}{room}. Allow more or larger occluders ([occluders] kinds, max_occluders, "
            f"max_size), raise occluders.max_evaluations, or lower the level")
    _, achieved, occ, labels = search.accepted
    problems = placement_problems(occ, stage, cfg.max_speed)
    if problems:  # the construction guarantees these; a failure here is a bug
        raise RuntimeError(f"sequence {sequence}: occluder placement broke its constraints: "
                           + "; ".join(problems))
    return Placement(occ, labels, search.steps, achieved)


def _level_function(source, target):
    """labels -> mean occluder_fraction over ``target``'s joints, computed exactly as the
    dataset's ``achieved_level`` is (float32 per-frame fractions, then their mean)."""
    if target is None or target.name == source.name:
        return lambda labels: float(labels.occluder_fraction.mean())
    from ...skeleton import convert_joints

    def level(labels: VisibilityLabels) -> float:
        by_object = convert_joints(labels.occluded_by_object[..., None], source, target)[..., 0]
        return float(by_object.mean(axis=1).astype(np.float32).mean())

    return level


def sample_layout(rng: np.random.Generator, stage: Stage, cfg, meshes, n_groups: int) -> list[OccluderGroup]:
    """``n_groups`` occluders of kinds drawn from ``cfg.kinds``, each fitted to the stage.

    With a focus (``stage.focus``: filling in after a layout fell short or jumped), only the
    compact kinds (boxes, balls, meshes) are drawn, aimed at the joints not yet hidden.
    """
    kinds = cfg.kinds
    if stage.focus is not None:  # filling in: compact occluders aimed at the joints left
        kinds = [k for k in cfg.kinds if k in COMPACT] or cfg.kinds
    layout = []
    for _ in range(n_groups):
        for _ in range(GROUP_TRIES):
            kind = str(rng.choice(kinds))
            moving = kind in MOVABLE and rng.random() < cfg.moving_probability
            group = sample_group(kind, rng, stage, cfg, meshes, moving)
            if group is not None:
                layout.append(group)
                break
    return layout


def growths(layout: list[OccluderGroup], s: float) -> list[float]:
    """Growth of each group at search parameter s in [0, n]: 0 (absent) or in [low, 1]."""
    out = []
    for k, g in enumerate(layout):
        x = float(np.clip(s - k, 0.0, 1.0))
        out.append(0.0 if x <= 0 else g.low + (1.0 - g.low) * x)
    return out


def freeze(layout: list[OccluderGroup], s: float) -> list[OccluderGroup]:
    """The groups present at s, each frozen at its growth there (full size = that size)."""
    return [g.frozen(x) for g, x in zip(layout, growths(layout, s)) if x > 0]


def _unoccluded(labels: VisibilityLabels) -> np.ndarray:
    """(T, J) weights: joints in frame and not yet hidden by an object."""
    return (~labels.occluded_by_object & ~labels.out_of_frame).astype(np.float64)


def _search_layout(layout, start: int, known: tuple, stage: Stage, meshes, camera, cfg,
                   search: _Search, evaluate) -> tuple[tuple, tuple | None]:
    """Search s in [start, n] for one layout whose first ``start`` groups give ``known``.

    Args:
        known: (f, labels or None) of the first ``start`` groups at full size.
    Returns:
        reach: (f, labels) with every group at full size.
        below: (s, f, labels) just below a jump of f over the tolerance window, when one was
            found: the caller keeps the groups there (:func:`freeze`) and adds new ones.
    """
    n = len(layout)

    def run(s: float) -> tuple[float, VisibilityLabels]:
        occ = build_set(layout, growths(layout, s), meshes, stage.n_frames)
        achieved, labels = evaluate(occ)
        in_window = abs(achieved - search.target) <= search.tol
        image_ok = in_window and image_fraction(occ, camera) <= cfg.max_image_fraction
        search.record(achieved, occ, labels, image_ok)
        return achieved, labels

    reach = run(float(n))
    if reach[0] < search.target - search.tol:
        return reach, None
    (lo_s, lo), (hi_s, hi) = (float(start), known), (float(n), reach)
    refine, stalled, probed = 0, False, set()
    while search.left > 0:
        if search.accepted is not None:  # in the window: refine towards its middle a little
            if (search.accepted[0] <= 0.5 * search.tol or refine >= REFINE_STEPS
                    or search.left < RESERVE):
                return reach, None
            refine += 1
        if hi_s - lo_s < GAP:
            return reach, (lo_s, *lo)
        width, k = hi_s - lo_s, int(lo_s)
        if lo_s == k and hi_s < k + 1 and k not in probed:
            # overshot inside group k, absent at lo: does it jump over the window on appearing?
            s, stalled = k + 1e-9, False
            probed.add(k)
        elif stalled:  # regula falsi kept one end last time: bisect
            s = lo_s + 0.5 * width
        else:
            s = lo_s + (search.target - lo[0]) * width / max(hi[0] - lo[0], 1e-12)
            s = float(np.clip(s, lo_s + 0.02 * width, hi_s - 0.02 * width))
        f = run(s)
        if f[0] < search.target:
            lo_s, lo = s, f
        else:
            hi_s, hi = s, f
        stalled = hi_s - lo_s > 0.5 * width
    return reach, None


def image_fraction(occ: OccluderSet, camera, frames: int = IMAGE_FRAMES, grid: int = IMAGE_GRID) -> float:
    """Largest fraction of the image hidden by the occluders, over ``frames`` evenly spaced frames.

    Measured on a ``grid`` x ``grid`` lattice of pixel-centre rays (lens distortion included).
    """
    if not occ.num_primitives:
        return 0.0
    uv = (np.stack(np.meshgrid(np.arange(grid), np.arange(grid), indexing="xy"), -1).reshape(-1, 2)
          + 0.5) / grid * np.array([camera.width, camera.height])
    dirs = image_to_camera(uv, np.ones(len(uv)), camera)  # (N, 3) camera frame
    idx = np.unique(np.linspace(0, occ.n_frames - 1, frames).round().astype(int))
    cam_occ = occ.select_frames(idx).in_camera_frame(camera)
    t = ray_occluders(np.zeros(3), np.broadcast_to(dirs, (len(idx),) + dirs.shape), cam_occ)
    return float(np.isfinite(t).any(axis=-1).mean(axis=-1).max())


def placement_problems(occ: OccluderSet, stage: Stage, max_speed: float) -> list[str]:
    """What a world-frame set violates (empty when fine): the stage's slab, the floor, speed.

    Exact: primitive bounds in the view frame (:meth:`OccluderSet.world_aabb`).
    """
    if not occ.num_primitives:
        return []
    view = stage.view_aabb(occ)  # (T, O, 2, 3)
    problems = []
    if view[..., 1, 0].max() > stage.back + 1e-6:
        problems.append(f"an occluder reaches depth {view[..., 1, 0].max():.3f} m, behind the "
                        f"clearance plane at {stage.back:.3f} m")
    if view[..., 0, 0].min() < stage.near - 1e-6:
        problems.append(f"an occluder comes within {view[..., 0, 0].min():.3f} m of the camera")
    if view[..., 0, 2].min() < -1e-6:
        problems.append(f"an occluder reaches z = {view[..., 0, 2].min():.4f} m, below the floor")
    step = max(max_step(occ.pose[:, i, :3, 3]) for i in range(occ.num_primitives))
    if step > max_speed / stage.fps + 1e-9:
        problems.append(f"an occluder moves {step * stage.fps:.2f} m/s, faster than {max_speed} m/s")
    return problems
