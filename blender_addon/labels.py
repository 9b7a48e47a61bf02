"""Visibility labels by Blender ray casts (``scene.ray_cast``) on the animated, tessellated scene.

The definition is occpose's (:mod:`occpose.occlusion.raycast.visibility`), and so is everything but the
ray casting: the ray targets come from ``visibility.ray_targets`` (same sunflower disk, same K
points), the joint labels from ``visibility.labels_from_counts`` and ``out_of_frame_mask``.
This module only answers, per ray, "what blocks it first": the first hit along the segment
camera centre -> target on a blocker (body or occluder object; floor, backdrop and markers are
not blockers) with t < L - tol, where tol is the tolerance for the joint's own segments (grazing
hits on them, t >= L - tolerance, are forgiven) and 1e-6 m otherwise, decides body or object.

Two casters compute this:

* :class:`BatchRayCaster` (used by the pipeline): per frame, the rays are culled in numpy against a
  bounding capsule of every blocker (from the evaluated mesh, in world space), and only the
  surviving (ray, object) pairs are cast with ``mathutils.bvhtree.BVHTree.ray_cast`` in the
  object's local frame, on a tree built from the evaluated mesh (``foreach_get``). Trees are kept
  while an object's evaluated mesh does not change (rigid occluders, body capsules whose stretch
  shape key holds its value) and rebuilt when it does. Each object's *first* hit suffices: an
  object blocks iff its first hit lies before its stopping distance (the later hits of an own
  segment whose first hit is forgiven lie beyond the target too).
* :class:`RayCaster` (the reference): one ``scene.ray_cast`` per hit, walking past non-blockers and
  forgiven hits. About 10x slower; kept as the yardstick of the tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from mathutils import Vector
from mathutils.bvhtree import BVHTree

from occpose.camera import Camera, camera_to_world
from occpose.occlusion.raycast.visibility import (OTHER_TOLERANCE, VisibilityLabels, VisibilityParams,
                                          labels_from_counts, out_of_frame_mask, ray_targets)
from occpose.viz.frames import joint_states as frames_joint_states

from . import compat

FREE, BODY, OBJECT = 0, 1, 2
SKIP = 1e-5  # metres stepped past a skipped hit before casting again


@dataclass
class RayCaster:
    """Casts the sample rays of one camera against a scene's blockers.

    Attributes:
        blockers: object name -> (is_occluder, segment or primitive index), see ``bridge.blockers``.
        incidence: (J, S) bool, the joints' own body segments (``BodyModel.incidence``).
        origin: (3,) camera centre, world metres.
    """

    scene: object
    blockers: dict
    incidence: np.ndarray
    params: VisibilityParams
    origin: np.ndarray

    def first_blocker(self, depsgraph, target: Vector, joint: int) -> int:
        """FREE, BODY or OBJECT for the ray from the camera centre to ``target`` (world)."""
        origin = Vector(self.origin)
        direction = target - origin
        length = direction.length
        direction.normalize()
        travelled = 0.0
        while travelled < length:
            hit, loc, _n, _i, obj, _m = self.scene.ray_cast(depsgraph, origin + direction * travelled,
                                                           direction, distance=length - travelled)
            if not hit:
                return FREE
            t = (loc - origin).dot(direction)
            info = self.blockers.get(obj.name) if obj is not None else None
            if info is not None:
                is_occluder, index = info
                own = not is_occluder and self.incidence[joint, index]
                if t < length - (self.params.tolerance if own else OTHER_TOLERANCE):
                    return OBJECT if is_occluder else BODY
            travelled = max(t, travelled) + SKIP
        return FREE

    def frame_counts(self, targets_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Blocked and first-blocked-by-object ray counts (J,) at the scene's current frame.

        Args:
            targets_world: (J, K, 3) ray targets, world metres.
        """
        depsgraph = compat.view_layer_depsgraph(self.scene)
        n_j, k = targets_world.shape[:2]
        blocked = np.zeros(n_j, np.int32)
        by_object = np.zeros(n_j, np.int32)
        for j in range(n_j):
            for r in range(k):
                kind = self.first_blocker(depsgraph, Vector(targets_world[j, r]), j)
                blocked[j] += kind != FREE
                by_object[j] += kind == OBJECT
        return blocked, by_object


CULL_MARGIN = 1e-4  # metres: slack of the bounding-capsule culling (float32 meshes, transforms)
KEY_SLACK = 3e-7  # shape-key values closer than this share a tree (<= 0.3 um for a 1 m key)
SHAPES_PER_OBJECT = 4  # evaluated mesh states (trees) kept per object
MAX_KEYS = 4  # objects with more animated shape keys are re-read every frame


def bounding_capsule(verts: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """A capsule holding every vertex (V, 3): axis along the longest bounding-box side, radius the
    largest vertex distance to the axis segment (tight for capsules, spheres and cylinders)."""
    verts = np.asarray(verts, np.float64)
    if not len(verts):
        return np.zeros(3), np.zeros(3), -1.0  # an empty mesh: never a candidate
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    centre, axis = 0.5 * (lo + hi), int(np.argmax(hi - lo))
    rel = verts - centre
    across = np.delete(rel, axis, axis=1)
    half = max(0.5 * (hi[axis] - lo[axis]) - float(np.sqrt((across * across).sum(1)).max()), 0.0)
    rel[:, axis] -= np.clip(rel[:, axis], -half, half)
    p0, p1 = centre.copy(), centre.copy()
    p0[axis] -= half
    p1[axis] += half
    return p0, p1, float(np.sqrt((rel * rel).sum(1)).max())


def segments_within(origin: np.ndarray, u: np.ndarray, length: np.ndarray, p0: np.ndarray,
                    p1: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """(R, O) bool: the ray segment origin + s u, s in [0, length] (u (R, 3) unit, length (R, O))
    comes within ``radius`` (O,) of the segment p0-p1 (O, 3), i.e. enters that capsule before
    ``length`` (closest points of two segments, clamped; Ericson, Real-Time Collision Detection
    5.1.9)."""
    d2 = p1 - p0  # (O, 3)
    w = origin - p0  # (O, 3)
    e = np.einsum("oi,oi->o", d2, d2)[None]  # (1, O)
    f = np.einsum("oi,oi->o", d2, w)[None]
    b = u @ d2.T  # (R, O), per unit ray length
    c = u @ w.T
    length = np.maximum(length, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = e - b * b  # a = 1 per unit length
        s = np.where(denom > 1e-12 * np.maximum(e, 1e-30), (b * f - c * e) / denom, 0.0)
        s = np.clip(np.where(e > 0, s, -c), 0.0, length)  # e = 0: a point (ball)
        t = np.where(e > 0, (b * s + f) / e, 0.0)
        below, above = t < 0, t > 1
        s = np.where(below, np.clip(-c, 0.0, length), s)
        s = np.where(above, np.clip(b - c, 0.0, length), s)
        t = np.clip(t, 0.0, 1.0)
    gap = (origin[None, None] + s[..., None] * u[:, None]) - (p0[None] + t[..., None] * d2[None])
    return np.einsum("roi,roi->ro", gap, gap) <= np.square(np.maximum(radius, 0.0))[None] * (radius >= 0)


def _action_fcurves(id_data):
    """The F-curves animating ``id_data`` (legacy and slotted actions); None when unknown (drivers,
    or an action layout this code does not read)."""
    anim = getattr(id_data, "animation_data", None)
    if anim is None:
        return []
    if len(anim.drivers):
        return None
    action = anim.action
    if action is None:
        return []
    layers = getattr(action, "layers", None)
    if layers is not None and len(layers) and getattr(anim, "action_slot", None) is not None:
        strips = layers[0].strips
        bag = strips[0].channelbag(anim.action_slot) if len(strips) else None
        return list(bag.fcurves) if bag is not None else []
    fcurves = getattr(action, "fcurves", None)
    return list(fcurves) if fcurves is not None else None


def _linear_keys(obj):
    """(basis (V, 3), [(key block, offset (V, 3), value F-curve or None)]) when the mesh is its
    basis plus value-weighted offsets of relative shape keys (no vertex groups); else None."""
    keys = obj.data.shape_keys
    if keys is None:
        co = np.empty(3 * len(obj.data.vertices), np.float32)
        obj.data.vertices.foreach_get("co", co)
        return co.reshape(-1, 3).astype(np.float64), []
    fcurves = _action_fcurves(keys)
    if fcurves is None or not keys.use_relative:
        return None
    by_path = {fc.data_path: fc for fc in fcurves}
    blocks = list(keys.key_blocks)
    ref = keys.reference_key

    def coords(block):
        co = np.empty(3 * len(block.data), np.float32)
        block.data.foreach_get("co", co)
        return co.reshape(-1, 3).astype(np.float64)

    basis, out = coords(ref), []
    for block in blocks:
        if block == ref or block.mute:
            continue
        if block.vertex_group or block.relative_key != ref:
            return None
        fc = by_path.get(f'key_blocks["{block.name}"].value')
        out.append((block, coords(block) - basis, fc))
    if len(out) > MAX_KEYS:
        return None
    return basis, out


@dataclass(eq=False)
class _Blocker:
    """A blocker object, the bounding capsule of its mesh over the clip, and the BVH trees of its
    evaluated mesh states (object frame).

    ``keys``: (basis, [(key block, offset, F-curve)]) when the evaluated mesh is the basis plus the
    keyed shape-key offsets (no modifiers, drivers or vertex groups): trees are then kept per set
    of key values and built only when a ray needs them. None: the mesh may change any frame; it is
    re-read every frame.
    """

    obj: object
    is_occluder: bool
    index: int
    keys: tuple | None
    shapes: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)  # frame -> shape-key values
    depsgraph: object = None  # of the frame being labelled (set by the caster)
    bound: tuple | None = None  # (p0, p1, radius, values lo, values hi)

    @classmethod
    def of(cls, obj, is_occluder: bool, index: int) -> "_Blocker":
        keys = None
        if obj.type == "MESH" and not len(obj.modifiers) and _action_fcurves(obj) is not None:
            keys = _linear_keys(obj)
        return cls(obj, is_occluder, index, keys)

    def values(self, frame: int) -> tuple:
        """The shape-key values at ``frame`` (clamped to their sliders, as Blender does), read
        once per frame (the levels of a clip share this object, see ``BatchRayCaster``'s reuse)."""
        cached = self.cache.get(frame)
        if cached is None:
            cached = self.cache[frame] = self._values(frame)
        return cached

    def _values(self, frame: int) -> tuple:
        return tuple(min(max(fc.evaluate(frame) if fc is not None else block.value,
                             block.slider_min), block.slider_max)
                     for block, _, fc in self.keys[1])

    def capsule(self, evaluated, scene, values: tuple) -> tuple[np.ndarray, np.ndarray, float]:
        """A bounding capsule of the mesh at the scene's current frame (object frame), for the
        shape-key ``values`` of that frame (:meth:`values`; ignored for re-read meshes)."""
        if self.keys is None:  # read the mesh now: the tree is built with it
            return self._shape(evaluated, ("frame", scene.frame_current)).capsule
        b = self.bound
        if b is None or not all(lo <= v <= hi for v, lo, hi in zip(values, b[3], b[4])):
            frames = range(scene.frame_start, scene.frame_end + 1)
            table = np.array([self.values(f) for f in frames] + [values], np.float64)
            lo, hi = table.min(axis=0), table.max(axis=0)  # (keys,) each
            basis, keys = self.keys
            corners = []  # the mesh is affine in the values: the corner values bound it
            for corner in range(2 ** len(keys)):
                corners.append(basis + sum(((hi[i] if (corner >> i) & 1 else lo[i]) * off
                                            for i, (_, off, _) in enumerate(keys)), np.zeros(3)))
            self.bound = b = (*bounding_capsule(np.concatenate(corners)), tuple(lo), tuple(hi))
        return b[0], b[1], b[2]

    def tree(self, evaluated, frame: int, values: tuple) -> BVHTree:
        """The tree of the evaluated mesh at ``frame`` (the scene's current frame)."""
        if self.keys is None:
            return self._shape(evaluated, ("frame", frame)).tree
        for sig, shape in self.shapes.items():
            if all(abs(a - b) <= KEY_SLACK for a, b in zip(sig, values)):
                return shape.tree
        return self._shape(evaluated, values).tree

    def _shape(self, evaluated, sig):
        shape = self.shapes.get(sig)
        if shape is None:
            if len(self.shapes) >= (1 if self.keys is None else SHAPES_PER_OBJECT):
                self.shapes.pop(next(iter(self.shapes)))  # oldest first
            shape = self.shapes[sig] = self._build(evaluated)
        return shape

    def _build(self, evaluated) -> "_Shape":
        """The tree of the evaluated (final) mesh; re-read meshes also give their bounds."""
        # epsilon 0: the triangle test of scene.ray_cast (mathutils sphere-casts for epsilon > 0)
        tree = BVHTree.FromObject(evaluated, self.depsgraph)
        if self.keys is not None:
            return _Shape(tree, None)
        mesh = evaluated.to_mesh()
        try:
            co = np.empty(3 * len(mesh.vertices), np.float32)
            mesh.vertices.foreach_get("co", co)
        finally:
            evaluated.to_mesh_clear()
        return _Shape(tree, bounding_capsule(co.reshape(-1, 3)))


@dataclass(eq=False)
class _Shape:
    tree: BVHTree
    capsule: tuple | None  # bounding capsule (re-read meshes only)


class BatchRayCaster:
    """Casts the sample rays of one camera against a scene's blockers, a frame at a time, with
    numpy culling and per-object BVH trees (see the module docstring); same arguments and
    answers as :class:`RayCaster`."""

    def __init__(self, scene, blockers: dict, incidence: np.ndarray, params: VisibilityParams,
                 origin: np.ndarray, reuse: "BatchRayCaster | None" = None) -> None:
        """``reuse``: a caster of the same scene whose body objects have not changed since (only
        the occluders were swapped): its body trees are kept."""
        self.scene, self.params = scene, params
        self.origin = np.asarray(origin, np.float64)
        self.incidence = np.asarray(incidence, bool)
        kept = {} if reuse is None else {(b.obj.name, b.obj.as_pointer()): b for b in reuse.objects
                                         if not b.is_occluder}
        self.objects = []
        for name, (is_occluder, index) in blockers.items():
            obj = scene.objects.get(name)
            if obj is None:
                continue
            old = kept.get((name, obj.as_pointer()))
            if old is not None and not is_occluder and old.index == int(index):
                self.objects.append(old)
            else:
                self.objects.append(_Blocker.of(obj, bool(is_occluder), int(index)))
        occ = np.array([b.is_occluder for b in self.objects], bool)
        index = np.array([b.index for b in self.objects], np.int64)
        n_j, n_s = self.incidence.shape if self.incidence.ndim == 2 else (0, 0)
        valid = (index >= 0) & (index < n_s)
        own = np.zeros((n_j, len(self.objects)), bool)
        if n_s:
            own = ~occ[None] & valid[None] & self.incidence[:, np.clip(index, 0, n_s - 1)]
        self.tolerance = np.where(own, params.tolerance, OTHER_TOLERANCE)  # (J, O)
        self.is_occluder = occ

    def frame_counts(self, targets_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Blocked and first-blocked-by-object ray counts (J,) at the scene's current frame.

        Args:
            targets_world: (J, K, 3) ray targets, world metres.
        """
        n_j, k = targets_world.shape[:2]
        blocked = np.zeros(n_j, np.int32)
        by_object = np.zeros(n_j, np.int32)
        if not self.objects:
            return blocked, by_object
        scene = self.scene
        depsgraph = compat.view_layer_depsgraph(scene)
        frame = scene.frame_current
        evaluated = [b.obj.evaluated_get(depsgraph) for b in self.objects]
        values = [b.values(frame) if b.keys is not None else () for b in self.objects]
        for b in self.objects:
            b.depsgraph = depsgraph
        bounds = [b.capsule(ev, scene, v) for b, ev, v in zip(self.objects, evaluated, values)]
        mats = [ev.matrix_world for ev in evaluated]
        world = np.array(mats, np.float64)  # (O, 4, 4)
        rot, trans = world[:, :3, :3], world[:, :3, 3]
        p0 = np.einsum("oij,oj->oi", rot, np.array([bd[0] for bd in bounds])) + trans
        p1 = np.einsum("oij,oj->oi", rot, np.array([bd[1] for bd in bounds])) + trans
        scale = np.sqrt((rot * rot).sum(axis=1).max(axis=1))  # largest axis scale
        radius = np.array([bd[2] for bd in bounds]) * scale
        d = targets_world.reshape(-1, 3) - self.origin  # (R, 3), rays r = j K + k
        length = np.sqrt(np.einsum("ri,ri->r", d, d))
        u = d / np.where(length > 0, length, 1.0)[:, None]
        stop = length[:, None] - np.repeat(self.tolerance[:n_j], k, axis=0)  # (R, O)
        near = segments_within(self.origin, u, stop + CULL_MARGIN, p0, p1,
                               radius + CULL_MARGIN * (radius >= 0))
        r_idx, o_idx = np.nonzero(near)
        if not len(r_idx):
            return blocked, by_object
        needed = np.unique(o_idx)
        trees = {}
        inv = np.zeros((len(self.objects), 4, 4))
        for o in needed.tolist():
            trees[o] = self.objects[o].tree(evaluated[o], frame, values[o])
            inv[o] = mats[o].inverted_safe()  # a zero scale gives no hits, not an error
        o_loc = inv[:, :3, :3] @ self.origin + inv[:, :3, 3]  # (O, 3) camera centre, local
        d_loc = np.einsum("nij,nj->ni", inv[o_idx, :3, :3], u[r_idx])
        s = np.sqrt(np.einsum("ni,ni->n", d_loc, d_loc))
        with np.errstate(invalid="ignore", divide="ignore"):
            d_loc /= s[:, None]
        limit = length[r_idx] * s
        dist = np.array([trees[o].ray_cast(ol, dl, lim)[3]
                         for o, ol, dl, lim in zip(o_idx.tolist(), o_loc[o_idx].tolist(),
                                                   d_loc.tolist(), limit.tolist())], float)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = dist / s  # None (no hit) became NaN
            t = np.where(t < stop[r_idx, o_idx], t, np.inf)
        is_occ = self.is_occluder[o_idx]
        t_obj = np.full(len(length), np.inf)
        t_body = np.full(len(length), np.inf)
        np.minimum.at(t_obj, r_idx[is_occ], t[is_occ])
        np.minimum.at(t_body, r_idx[~is_occ], t[~is_occ])
        ray_blocked = np.isfinite(t_obj) | np.isfinite(t_body)
        first_obj = ray_blocked & (t_obj <= t_body)
        return (ray_blocked.reshape(n_j, k).sum(axis=1, dtype=np.int32),
                first_obj.reshape(n_j, k).sum(axis=1, dtype=np.int32))


def targets_world(joints_cam: np.ndarray, joint_radius: np.ndarray, camera: Camera,
                  params: VisibilityParams) -> np.ndarray:
    """(T, J, K, 3) world-frame ray targets: occpose's sample points, moved out of the camera frame."""
    return camera_to_world(ray_targets(joints_cam, joint_radius, params), camera)


def label_scene(scene, caster: RayCaster, joints_cam: np.ndarray, body, camera: Camera,
                frames=None) -> VisibilityLabels:
    """Blender ray-cast labels of a whole clip (frames 0..T-1 of the animated scene).

    Args:
        joints_cam: (T, J, 3) metres, camera frame; used for the ray targets and out_of_frame.
    """
    targets = targets_world(joints_cam, body.joint_radius, camera, caster.params)
    n_t, n_j = joints_cam.shape[:2]
    blocked = np.zeros((n_t, n_j), np.int32)
    by_object = np.zeros((n_t, n_j), np.int32)
    current = scene.frame_current
    for t in range(n_t) if frames is None else frames:
        scene.frame_set(t)
        blocked[t], by_object[t] = caster.frame_counts(targets[t])
    scene.frame_set(current)
    return labels_from_counts(blocked, by_object, caster.params.rays, out_of_frame_mask(joints_cam, camera))


def joint_states(labels: VisibilityLabels) -> np.ndarray:
    """(T, J) int8 state code per joint-frame (:func:`occpose.viz.frames.joint_states`: visible,
    hidden by the body, hidden by an object, out of frame)."""
    return frames_joint_states(labels.to_arrays())


def agreement(a: VisibilityLabels, b: VisibilityLabels) -> float:
    """Fraction of joint-frames whose state (visible / body / object / out) is the same."""
    return float((joint_states(a) == joint_states(b)).mean())
