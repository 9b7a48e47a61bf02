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
  :meth:`BatchRayCaster.clip_counts` (the pipeline's path) labels many frames at once without
  ``frame_set``: every blocker's transform per frame comes from its own F-curves
  (``FCurve.evaluate``, the function Blender's animation system calls) composed with mathutils
  into the float32 matrix Blender makes (:class:`_Motion`), its shape-key values likewise, and a
  new shape-key state's tree is built from the mesh Blender's relative-key blending gives
  (``BVHTree.FromPolygons`` on the same vertices and loop triangles as ``FromObject``). Both are
  checked bit for bit against Blender's evaluation at the current frame before they are trusted;
  objects with a parent, constraints, drivers, NLA, modifiers (armatures: rigged characters) or
  other rotation modes make it fall back to ``frame_set`` and :meth:`BatchRayCaster.frame_counts`.
  The culling is tighter (the K rays of a joint as one bundle, then each ray against the
  capsules of shape-keyed objects, then every pair against the mesh's box in the object frame)
  and the casts come in two rounds: each ray's pair of nearest box entry, then only the pairs
  that enter before the hit found (the others cannot change what blocks the ray first). Every
  hit is still a ``BVHTree.ray_cast`` on the same tree with the same float inputs, so the counts
  are :meth:`frame_counts`' (the tests compare them).
* :class:`RayCaster` (the reference): one ``scene.ray_cast`` per hit, walking past non-blockers and
  forgiven hits. About 10x slower; kept as the yardstick of the tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from mathutils import Euler, Matrix, Quaternion, Vector
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
CLIP_CHUNK = 64


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


def segments_within_pairs(origin: np.ndarray, u: np.ndarray, length: np.ndarray, p0: np.ndarray,
                          p1: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """:func:`segments_within` for N (ray, capsule) pairs: u, p0, p1 (N, 3), length and radius
    (N,) -> (N,) bool."""
    d2 = p1 - p0
    w = origin - p0
    e = np.einsum("ni,ni->n", d2, d2)
    f = np.einsum("ni,ni->n", d2, w)
    b = np.einsum("ni,ni->n", u, d2)
    c = np.einsum("ni,ni->n", u, w)
    s, t = _closest_parameters(e, f, b, c, np.maximum(length, 0.0))
    gap = (origin + s[:, None] * u) - (p0 + t[:, None] * d2)
    return np.einsum("ni,ni->n", gap, gap) <= np.square(np.maximum(radius, 0.0)) * (radius >= 0)


def _closest_parameters(e, f, b, c, length):
    """Parameters (s along the ray, clamped to [0, length]; t along the segment, clamped to
    [0, 1]) of the closest points of rays and segments, from the dot products of
    :func:`segments_within` (any broadcastable shapes)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = e - b * b
        s = np.where(denom > 1e-12 * np.maximum(e, 1e-30), (b * f - c * e) / denom, 0.0)
        s = np.clip(np.where(e > 0, s, -c), 0.0, length)
        t = np.where(e > 0, (b * s + f) / e, 0.0)
        below, above = t < 0, t > 1
        s = np.where(below, np.clip(-c, 0.0, length), s)
        s = np.where(above, np.clip(b - c, 0.0, length), s)
        t = np.clip(t, 0.0, 1.0)
    return s, t


def segments_within_frames(origin: np.ndarray, u: np.ndarray, length: np.ndarray, p0: np.ndarray,
                           p1: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """:func:`segments_within` for F frames at once: u (F, R, 3), length (F, R), p0 and p1
    (F, O, 3), radius (F, R, O) -> (F, R, O) bool."""
    d2 = p1 - p0  # (F, O, 3)
    w = origin - p0
    e = np.einsum("foi,foi->fo", d2, d2)[:, None]  # (F, 1, O)
    f = np.einsum("foi,foi->fo", d2, w)[:, None]
    b = u @ d2.transpose(0, 2, 1)  # (F, R, O)
    c = u @ w.transpose(0, 2, 1)
    s, t = _closest_parameters(e, f, b, c, np.maximum(length, 0.0)[..., None])
    gap = (origin + s[..., None] * u[:, :, None]) - (p0[:, None] + t[..., None] * d2[:, None])
    return np.einsum("froi,froi->fro", gap, gap) <= np.square(np.maximum(radius, 0.0)) * (radius >= 0)


def rotation_matrices(mode: str, rot: np.ndarray) -> np.ndarray:
    """(T, 3, 3) float64 rotations of quaternions (T, 4) or Euler angles (T, 3) in ``mode``'s
    order (for culling: float64, not Blender's float32 matrices)."""
    rot = np.asarray(rot, np.float64)
    if mode == "QUATERNION":
        q = rot / np.where((n := np.linalg.norm(rot, axis=1, keepdims=True)) > 0, n, 1.0)
        w, x, y, z = q.T
        return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                         np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                         np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)],
                        axis=1)
    out = np.broadcast_to(np.eye(3), (len(rot), 3, 3)).copy()
    for axis in mode:  # XYZ: R = Rz Ry Rx, the first letter applied first
        a = rot[:, "XYZ".index(axis)]
        c, s_ = np.cos(a), np.sin(a)
        m = np.broadcast_to(np.eye(3), (len(rot), 3, 3)).copy()
        i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
        m[:, i, i], m[:, i, j], m[:, j, i], m[:, j, j] = c, -s_, s_, c
        out = m @ out
    return out


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
    box: tuple | None = None  # (lo, hi) (3,) each: bounding box of the mesh over ``bound``'s values

    motion: "_Motion | None" = None  # set when the clip path may read this object (see _Motion)
    built: dict = field(default_factory=dict)  # key values -> tree, clip path (see tree_at)

    @classmethod
    def of(cls, obj, is_occluder: bool, index: int) -> "_Blocker":
        keys = None
        if obj.type == "MESH" and not len(obj.modifiers) and _action_fcurves(obj) is not None:
            keys = _linear_keys(obj)
        blocker = cls(obj, is_occluder, index, keys)
        if keys is not None:
            blocker.motion = _Motion.of(obj)
        return blocker

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

    def capsule(self, evaluated, scene, values: tuple,
                more: list = ()) -> tuple[np.ndarray, np.ndarray, float]:
        """A bounding capsule of the mesh at the scene's current frame (object frame), for the
        shape-key ``values`` of that frame (:meth:`values`; ignored for re-read meshes); a new
        one also holds the states of the scene's frame range and of ``more``."""
        if self.keys is None:  # read the mesh now: the tree is built with it
            return self._shape(evaluated, ("frame", scene.frame_current)).capsule
        b = self.bound
        if b is None or not all(lo <= v <= hi for v, lo, hi in zip(values, b[3], b[4])):
            frames = range(scene.frame_start, scene.frame_end + 1)
            table = np.array([self.values(f) for f in frames] + [values] + list(more), np.float64)
            lo, hi = table.min(axis=0), table.max(axis=0)  # (keys,) each
            basis, keys = self.keys
            corners = []  # the mesh is affine in the values: the corner values bound it
            for corner in range(2 ** len(keys)):
                corners.append(basis + sum(((hi[i] if (corner >> i) & 1 else lo[i]) * off
                                            for i, (_, off, _) in enumerate(keys)), np.zeros(3)))
            pts = np.concatenate(corners)
            self.bound = b = (*bounding_capsule(pts), tuple(lo), tuple(hi))
            self.box = (pts.min(axis=0), pts.max(axis=0)) if len(pts) else (np.zeros(3), -np.ones(3))
        return b[0], b[1], b[2]

    def tree(self, evaluated, frame: int, values: tuple) -> BVHTree:
        """The tree of the evaluated mesh at ``frame`` (the scene's current frame)."""
        if self.keys is None:
            return self._shape(evaluated, ("frame", frame)).tree
        for sig, shape in self.shapes.items():
            if all(abs(a - b) <= KEY_SLACK for a, b in zip(sig, values)):
                return _resolved(shape.tree)
        return self._shape(evaluated, values).tree

    def _shape(self, evaluated, sig, build=None):
        shape = self.shapes.get(sig)
        if shape is None:
            if len(self.shapes) >= (1 if self.keys is None else SHAPES_PER_OBJECT):
                self.shapes.pop(next(iter(self.shapes)))  # oldest first
            shape = self.shapes[sig] = build(sig) if build is not None else self._build(evaluated)
        return shape

    def tree_at(self, values: tuple) -> "BVHTree | _Lazy":
        """:meth:`tree` without an evaluated object (the clip path): the same choice of tree
        (the same cache of evaluated mesh states, visited in the same frame order), a new state's
        tree built from the mesh that Blender's shape-key blending gives for ``values``
        (:meth:`_Motion.coords`) when a ray is first cast on it (:class:`_Lazy`), remembered for
        the clip under its exact values."""
        if len(values) == 1:
            v = values[0]
            for sig, shape in self.shapes.items():
                if abs(sig[0] - v) <= KEY_SLACK:
                    return shape.tree
        else:
            for sig, shape in self.shapes.items():
                if all(abs(a - b) <= KEY_SLACK for a, b in zip(sig, values)):
                    return shape.tree
        return self._shape(None, values, self._built).tree

    def _built(self, values: tuple) -> "_Shape":
        tree = self.built.get(values)
        if tree is None:
            if len(self.built) >= MAX_BUILT:
                self.built.pop(next(iter(self.built)))
            tree = self.built[values] = _Lazy(self.motion, self.keys, values)
        return _Shape(tree, None)

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
    tree: "BVHTree | _Lazy"
    capsule: tuple | None  # bounding capsule (re-read meshes only)


class _Lazy:
    """The tree of a shape-key state (``_Motion.tree``), built when first needed."""

    __slots__ = ("motion", "keys", "values", "tree")

    def __init__(self, motion, keys, values: tuple) -> None:
        self.motion, self.keys, self.values, self.tree = motion, keys, values, None

    def get(self) -> BVHTree:
        if self.tree is None:
            self.tree = self.motion.tree(self.keys, self.values)
        return self.tree


def _resolved(tree) -> BVHTree:
    return tree.get() if isinstance(tree, _Lazy) else tree


MAX_BUILT = 160  # shape-key states' trees kept per object for a clip's levels (~140 KB each)
TRANSFORMS = ("location", "rotation_quaternion", "rotation_euler", "scale")
EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


@dataclass(eq=False)
class _Motion:
    """How the clip path reads a blocker at any frame without ``frame_set``: its transform from
    its own F-curves (``FCurve.evaluate``, the function Blender's animation evaluation calls) and
    static properties, composed into the float32 matrix Blender makes of them (mathutils runs
    the same functions: ``normalize_qt``, ``quat_to_mat3`` / ``eulO_to_mat3``, column scaling),
    and its mesh as Blender blends relative shape keys (``co -= w (ref - key)`` in float32).

    Only for objects whose world matrix is exactly that: no parent, constraints, drivers, NLA,
    delta transforms or muted/blended action, a quaternion or Euler rotation mode; the mesh as
    in ``_Blocker.keys``. :meth:`check` compares both with Blender's evaluation at the current
    frame before the clip path trusts them (else the caster falls back to ``frame_set``).
    """

    obj: object
    mode: str
    channels: dict  # property -> [F-curve or constant value] per component
    animated: bool  # some component has an F-curve
    tris: list | None = None  # loop triangles (vertex indices), as BVHTree.FromObject takes them
    ref: np.ndarray | None = None  # (V, 3) float32 reference key
    blocks: list = field(default_factory=list)  # (V, 3) float32 per key block of _Blocker.keys
    cache: dict = field(default_factory=dict)  # frame -> flat 3x4 inverse world matrix
    last: dict = field(default_factory=dict)  # frames -> transforms, see transforms
    rotations: dict = field(default_factory=dict)  # see chunk
    checked: bool = False

    @classmethod
    def of(cls, obj) -> "_Motion | None":
        mode = obj.rotation_mode
        if (obj.parent is not None or len(obj.constraints) or obj.rigid_body is not None
                or (mode != "QUATERNION" and mode not in EULER_ORDERS)):
            return None
        if (tuple(obj.delta_location) != (0.0, 0.0, 0.0) or tuple(obj.delta_scale) != (1.0, 1.0, 1.0)
                or tuple(obj.delta_rotation_euler) != (0.0, 0.0, 0.0)
                or tuple(obj.delta_rotation_quaternion) != (1.0, 0.0, 0.0, 0.0)):
            return None
        anim = obj.animation_data
        if anim is not None and (len(anim.nla_tracks) or getattr(anim, "action_influence", 1.0) != 1.0
                                 or getattr(anim, "action_blend_type", "REPLACE") != "REPLACE"):
            return None
        fcurves = _action_fcurves(obj)
        if fcurves is None:
            return None
        rot = "rotation_quaternion" if mode == "QUATERNION" else "rotation_euler"
        channels = {path: list(getattr(obj, path)) for path in ("location", rot, "scale")}
        for fc in fcurves:
            path = fc.data_path
            if path.startswith("delta_") or path in ("rotation_mode", "rotation_axis_angle"):
                return None
            if path in channels and fc.array_index < len(channels[path]):
                if fc.mute:
                    return None
                channels[path][fc.array_index] = fc
            elif path in TRANSFORMS:
                continue  # the rotation mode not in use
        animated = any(not isinstance(c, float) for comps in channels.values() for c in comps)
        return cls(obj, mode, channels, animated)

    def values(self, path: str, frames: list) -> np.ndarray:
        """(T, n) float64 of a transform property at ``frames`` (float32 values, as stored)."""
        return np.array([[c] * len(frames) if isinstance(c, float) else [c.evaluate(f) for f in frames]
                         for c in self.channels[path]], np.float64).T.reshape(len(frames), -1)

    def transforms(self, frames: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """location (T, 3), rotation (T, 4) quaternion or (T, 3) Euler, scale (T, 3), kept per
        run of frames (the levels of a clip share the body)."""
        key = (frames[0], len(frames)) if frames == list(range(frames[0], frames[0] + len(frames))) \
            else tuple(frames)
        got = self.last.get(key)
        if got is None:
            if len(self.last) >= 64:
                self.last.pop(next(iter(self.last)))
            rot = "rotation_quaternion" if self.mode == "QUATERNION" else "rotation_euler"
            got = self.last[key] = (self.values("location", frames), self.values(rot, frames),
                                    self.values("scale", frames))
        return got

    def chunk(self, blocker: "_Blocker", frames: list) -> tuple:
        """(transforms, (T, 3, 3) float64 rotations, shape-key values per frame) at ``frames``,
        kept with the transforms (the levels of a clip share the body)."""
        tr = self.transforms(frames)
        got = self.rotations.get(id(tr))
        if got is None or got[0] is not tr:
            if len(self.rotations) >= 64:
                self.rotations.pop(next(iter(self.rotations)))
            vals = [blocker.values(f) for f in frames] if blocker.keys[1] else [()] * len(frames)
            got = self.rotations[id(tr)] = (tr, rotation_matrices(self.mode, tr[1]), vals)
        return tr, got[1], got[2]

    def matrix(self, loc, rot, scale) -> Matrix:
        """The float32 world matrix Blender makes of these property values (no parent)."""
        if self.mode == "QUATERNION":
            m = Quaternion(rot).normalized().to_matrix()
        else:
            m = Euler(rot, self.mode).to_matrix()
        if tuple(scale) != (1.0, 1.0, 1.0):
            m = m @ Matrix.Diagonal(scale)
        m = m.to_4x4()
        m.translation = loc
        return m

    def inverse(self, frame: int, transforms: tuple, i: int) -> list:
        """Flat 3x4 rows of the inverse world matrix at ``frame``, row ``i`` of ``transforms``
        (``inverted_safe``: a zero scale gives no hits), cached per frame (the levels of a clip
        share the body; an object without F-curves has one matrix)."""
        key = frame if self.animated else None
        flat = self.cache.get(key)
        if flat is None:
            loc, rot, scale = (x[i] for x in transforms)
            inv = self.matrix(loc, rot, scale).inverted_safe()
            flat = self.cache[key] = [c for row in inv[:3] for c in row]
        return flat

    def coords(self, keys, values: tuple) -> np.ndarray:
        """(V, 3) float32 mesh for shape-key ``values`` (Blender's relative blending, in order)."""
        co = self.ref.copy()
        for block, w in zip(self.blocks, values):
            if w != 0.0:
                co -= np.float32(w) * (self.ref - block)
        return co

    def tree(self, keys, values: tuple) -> BVHTree:
        """The tree ``BVHTree.FromObject`` builds of the mesh for ``values`` (same vertices, same
        triangles in the same order, epsilon 0)."""
        return BVHTree.FromPolygons(self.coords(keys, values).tolist(), self.tris, all_triangles=True)

    def check(self, blocker: "_Blocker", depsgraph, frame: int) -> bool:
        """Whether the matrix and mesh read this way are Blender's at the current ``frame``
        (bit for bit); reads the loop triangles and key coordinates."""
        obj = blocker.obj
        evaluated = obj.evaluated_get(depsgraph)
        loc, rot, scale = (x[0] for x in self.transforms([frame]))
        mine = self.matrix(loc, rot, scale)
        if [c for r in mine for c in r] != [c for r in evaluated.matrix_world for c in r]:
            return False
        keys = obj.data.shape_keys

        def read(seq, attr, width, dtype):
            out = np.empty(width * len(seq), dtype)
            seq.foreach_get(attr, out)
            return out.reshape(-1, width)

        if keys is None:
            self.ref = read(obj.data.vertices, "co", 3, np.float32)
        else:
            self.ref = read(keys.reference_key.data, "co", 3, np.float32)
            self.blocks = [read(block.data, "co", 3, np.float32) for block, _, _ in blocker.keys[1]]
        mesh = evaluated.to_mesh()
        try:
            final = read(mesh.vertices, "co", 3, np.float32)
            mesh.calc_loop_triangles()
            tris = read(mesh.loop_triangles, "vertices", 3, np.int32)
        finally:
            evaluated.to_mesh_clear()
        values = blocker.values(frame) if blocker.keys[1] else ()
        if final.shape != self.ref.shape or not np.array_equal(self.coords(blocker.keys, values), final):
            return False
        self.tris = tris.tolist()
        self.checked = True
        return True


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


    # ---- the clip path: every frame at once, read from the animation data -----------------------

    def reads_animation(self) -> bool:
        """Whether :meth:`clip_counts` reads every blocker from Blender's animation data (no
        ``frame_set``): each is a rigid or shape-keyed mesh (:class:`_Motion`) whose matrix and
        mesh matched Blender's evaluation when first checked, at the scene's current frame
        (which must be evaluated). Else :meth:`clip_counts` sets every frame and casts per frame."""
        scene = self.scene
        render = scene.render
        if render.frame_map_old != render.frame_map_new or not all(b.motion for b in self.objects):
            return False
        depsgraph = None
        for b in self.objects:
            if not b.motion.checked:
                depsgraph = depsgraph or compat.view_layer_depsgraph(scene)
                if not b.motion.check(b, depsgraph, scene.frame_current):
                    b.motion = None
                    return False
        return True

    def clip_counts(self, targets_world: np.ndarray, frames=None) -> tuple[np.ndarray, np.ndarray]:
        """Blocked and first-blocked-by-object ray counts (F, J) of ``frames`` (default all),
        the same as :meth:`frame_counts` after ``scene.frame_set`` of each frame.

        Args:
            targets_world: (T, J, K, 3) ray targets of the clip, world metres.
        """
        frames = list(range(len(targets_world)) if frames is None else frames)
        n_f, (n_j, k) = len(frames), targets_world.shape[1:3]
        if not self.reads_animation():
            scene, current = self.scene, self.scene.frame_current
            out = []
            for f in frames:
                scene.frame_set(f)
                out.append(self.frame_counts(targets_world[f]))
            scene.frame_set(current)
            return (np.array([o[0] for o in out], np.int32).reshape(n_f, n_j),
                    np.array([o[1] for o in out], np.int32).reshape(n_f, n_j))
        blocked = np.zeros((n_f, n_j), np.int32)
        by_object = np.zeros((n_f, n_j), np.int32)
        if not self.objects or not n_f:
            return blocked, by_object
        self.keyed = np.array([bool(b.keys[1]) for b in self.objects], bool)
        for start in range(0, n_f, CLIP_CHUNK):
            part = frames[start:start + CLIP_CHUNK]
            blocked[start:start + len(part)], by_object[start:start + len(part)] = \
                self._chunk_counts(targets_world[part], part)
        return blocked, by_object

    def _chunk_counts(self, targets: np.ndarray, frames: list) -> tuple[np.ndarray, np.ndarray]:
        """clip_counts of a few frames. The (ray, object) pairs are culled in numpy: the K rays
        of a joint as one bundle against the bounding capsules (widened by the bundle's spread),
        then each ray against them (as frame_counts), then against the mesh's bounding box in the
        object frame, whose entry distance bounds the hit from below. The survivors are cast in
        two rounds: each ray's pair of nearest entry, then only the pairs that enter before the
        hit found (the others cannot change the ray's outcome)."""
        n_f, n_j, k = targets.shape[:3]
        n_o = len(self.objects)
        loc = np.empty((n_o, n_f, 3))
        rot = np.empty((n_o, n_f, 3, 3))
        scale = np.empty((n_o, n_f, 3))
        raw, values, capsules, boxes = [], [], [], []
        for o, b in enumerate(self.objects):
            (lo, ro, sc), rm, vals = b.motion.chunk(b, frames)
            raw.append((lo, ro, sc))
            loc[o], rot[o], scale[o] = lo, rm, sc
            values.append(vals)
            capsules.append(self._clip_capsule(b, vals))
            boxes.append(b.box)
        p0l = np.array([c[0] for c in capsules])  # (O, 3) object frame
        p1l = np.array([c[1] for c in capsules])
        radius = np.array([c[2] for c in capsules])  # (O,)
        box_lo = np.array([bx[0] for bx in boxes]) - CULL_MARGIN  # (O, 3)
        box_hi = np.array([bx[1] for bx in boxes]) + CULL_MARGIN
        # world capsules per frame (float64 matrices: the margin covers their float32 rounding)
        sc_rot = rot * scale[:, :, None, :]  # (O, F, 3, 3) columns scaled
        p0 = np.einsum("ofij,oj->foi", sc_rot, p0l) + loc.transpose(1, 0, 2)  # (F, O, 3)
        p1 = np.einsum("ofij,oj->foi", sc_rot, p1l) + loc.transpose(1, 0, 2)
        rad = radius[None] * np.abs(scale).max(axis=2).T  # (F, O)
        d = targets.reshape(n_f, -1, 3) - self.origin  # (F, R, 3), rays r = j K + k
        length = np.sqrt(np.einsum("fri,fri->fr", d, d))
        u = d / np.where(length > 0, length, 1.0)[..., None]
        tol = np.repeat(self.tolerance[:n_j], k, axis=0)  # (R, O)
        # bundles: every point of ray r up to its target is within the spread of the segment
        # from the camera centre to the bundle's mean target (same fraction of the way)
        mean = d.reshape(n_f, n_j, k, 3).mean(axis=2)  # (F, J, 3)
        spread = np.sqrt(((d.reshape(n_f, n_j, k, 3) - mean[:, :, None]) ** 2).sum(axis=3)).max(axis=2)
        reach = np.sqrt(np.einsum("fji,fji->fj", mean, mean))
        axis = mean / np.where(reach > 0, reach, 1.0)[..., None]
        wide = (rad[:, None] + spread[..., None] + 3 * CULL_MARGIN) * (rad >= 0)[:, None] - (rad < 0)[:, None]
        f_idx, j_idx, o_idx = np.nonzero(segments_within_frames(self.origin, axis, reach, p0, p1, wide))
        f_idx, o_idx = np.repeat(f_idx, k), np.repeat(o_idx, k)
        r_idx = (np.repeat(j_idx * k, k).reshape(-1, k) + np.arange(k)).ravel()
        # each ray of the bundles against the capsules of shape-keyed objects: the pairs of
        # frame_counts' segments_within, which decide the trees of their states (tree_at); the
        # box test below culls the pairs of the other objects (one tree each)
        stop = length[f_idx, r_idx] - tol[r_idx, o_idx]
        sel = np.nonzero(self.keyed[o_idx])[0]
        fs, os_ = f_idx[sel], o_idx[sel]
        keep = np.ones(len(f_idx), bool)
        keep[sel] = segments_within_pairs(self.origin, u[fs, r_idx[sel]], stop[sel] + CULL_MARGIN,
                                          p0[fs, os_], p1[fs, os_],
                                          rad[fs, os_] + CULL_MARGIN * (rad[fs, os_] >= 0))
        f_idx, r_idx, o_idx, stop = f_idx[keep], r_idx[keep], o_idx[keep], stop[keep]
        blocked = np.zeros((n_f, n_j), np.int32)
        by_object = np.zeros((n_f, n_j), np.int32)
        if not len(f_idx):
            return blocked, by_object
        # the trees of the (frame, object) pairs with a ray, in frame then object order
        # (frame_counts' order, which decides the trees of shape-key states: _Blocker.tree_at)
        fo = f_idx * n_o + o_idx
        mark = np.zeros(n_f * n_o, bool)
        mark[fo] = True
        needed = np.flatnonzero(mark)  # sorted: frame, then object
        slot = (np.cumsum(mark) - 1)[fo]
        tree_of, tree_ids, inv = [], {}, []
        for f_o in needed.tolist():
            f, o = divmod(f_o, n_o)
            b = self.objects[o]
            tree = b.tree_at(values[o][f])
            tree_of.append(tree_ids.setdefault(id(tree), (len(tree_ids), tree))[0])
            inv.append(b.motion.inverse(frames[f], raw[o], f))
        inv = np.array(inv, np.float64).reshape(-1, 3, 4)  # Blender's float32 inverses
        o_loc = inv[:, :, :3] @ self.origin + inv[:, :, 3]  # (S, 3) camera centre, object frame
        d_loc = np.einsum("nij,nj->ni", inv[slot, :, :3], u[f_idx, r_idx])  # per world metre
        # the mesh's bounding box in the object frame: entry and exit, world metres
        lo_b, hi_b, o_b = box_lo[o_idx], box_hi[o_idx], o_loc[slot]
        with np.errstate(invalid="ignore", divide="ignore"):
            t1 = (lo_b - o_b) / d_loc
            t2 = (hi_b - o_b) / d_loc
        parallel = d_loc == 0
        inside = (o_b >= lo_b) & (o_b <= hi_b)
        t_in = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2)).max(axis=1)
        t_out = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2)).min(axis=1)
        pairs = np.nonzero((t_in <= t_out) & (t_out >= 0) & (t_in <= stop + CULL_MARGIN))[0]
        if not len(pairs):
            return blocked, by_object
        entry = np.maximum(t_in[pairs], 0.0)
        ray = f_idx[pairs] * (n_j * k) + r_idx[pairs]
        cast = _Casts([t for _, t in sorted(tree_ids.values(), key=lambda x: x[0])],
                      np.array(tree_of, np.int64), o_loc.tolist(), slot[pairs], d_loc[pairs],
                      length[f_idx[pairs], r_idx[pairs]], stop[pairs])
        # round 1: each ray's pair of nearest entry; round 2: the pairs entering before its hit
        order = np.lexsort((entry, ray))
        first = np.ones(len(order), bool)
        first[1:] = ray[order][1:] != ray[order][:-1]
        one = order[first]
        t = np.full(len(pairs), np.inf)
        t[one] = cast(one)
        best = np.full(n_f * n_j * k, np.inf)
        best[ray[one]] = t[one]
        rest = order[~first]
        rest = rest[entry[rest] <= best[ray[rest]]]
        t[rest] = cast(rest)
        is_occ = self.is_occluder[o_idx[pairs]]
        t_obj = np.full(n_f * n_j * k, np.inf)
        t_body = np.full(n_f * n_j * k, np.inf)
        np.minimum.at(t_obj, ray[is_occ], t[is_occ])
        np.minimum.at(t_body, ray[~is_occ], t[~is_occ])
        ray_blocked = np.isfinite(t_obj) | np.isfinite(t_body)
        first_obj = ray_blocked & (t_obj <= t_body)
        return (ray_blocked.reshape(n_f, n_j, k).sum(axis=2, dtype=np.int32),
                first_obj.reshape(n_f, n_j, k).sum(axis=2, dtype=np.int32))

    def _clip_capsule(self, b: _Blocker, values: list) -> tuple:
        """A bounding capsule (object frame) of the blocker's mesh at every frame of ``values``
        (``_Blocker.capsule``'s, widened to these values if they leave its range)."""
        if not b.keys[1]:
            return b.capsule(None, self.scene, ())
        table = np.array(values, np.float64)
        b.capsule(None, self.scene, values[0])
        lo, hi = np.array(b.bound[3]), np.array(b.bound[4])
        outside = np.nonzero(((table < lo) | (table > hi)).any(axis=1))[0].tolist()
        if outside:  # states beyond the scene's frame range: one bound for all of them
            b.capsule(None, self.scene, values[outside[0]], [values[i] for i in outside])
        return b.bound[:3]


@dataclass(eq=False)
class _Casts:
    """BVH casts of (ray, object) pairs of a chunk of frames, exactly as
    ``BatchRayCaster.frame_counts`` casts them: pair i starts at ``o_loc[slot[i]]`` along
    ``d_loc[i]`` (object frame, per world metre) on tree ``trees[tree_of[slot[i]]]``. Called with
    pair indices, it gives each pair's hit distance (world metres) if before ``stop``, else inf."""

    trees: list
    tree_of: np.ndarray  # (S,) tree index per (frame, object) slot
    o_loc: list  # (S, 3) camera centre in the object frame
    slot: np.ndarray  # (N,)
    d_loc: np.ndarray  # (N, 3)
    length: np.ndarray  # (N,) world metres to the target
    stop: np.ndarray  # (N,)

    def __call__(self, pairs: np.ndarray) -> np.ndarray:
        if not len(pairs):
            return np.empty(0)
        d_loc = self.d_loc[pairs]
        s = np.sqrt(np.einsum("ni,ni->n", d_loc, d_loc))
        with np.errstate(invalid="ignore", divide="ignore"):
            d_loc = d_loc / s[:, None]
        limit = self.length[pairs] * s
        slot = self.slot[pairs]
        tree_of = self.tree_of[slot]
        if len(self.trees) < 2 ** 15:
            tree_of = tree_of.astype(np.int16)  # a stable sort of int16 is a radix sort
        order = np.argsort(tree_of, kind="stable")
        bounds = np.searchsorted(tree_of[order], np.arange(len(self.trees) + 1)).tolist()
        o_loc = self.o_loc
        origins = [o_loc[i] for i in slot[order].tolist()]
        dirs, limits = d_loc[order].tolist(), limit[order].tolist()
        dist = np.empty(len(pairs))
        for i, tree in enumerate(self.trees):
            a, z = bounds[i], bounds[i + 1]
            if z > a:
                hits = list(map(_resolved(tree).ray_cast, origins[a:z], dirs[a:z], limits[a:z]))
                dist[order[a:z]] = [h[3] for h in hits]  # None (no hit): NaN
        with np.errstate(invalid="ignore", divide="ignore"):
            t = dist / s
        return np.where(t < self.stop[pairs], t, np.inf)


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
    frames = list(range(n_t) if frames is None else frames)
    if isinstance(caster, BatchRayCaster):  # every frame at once (frame_set only if it must)
        blocked[frames], by_object[frames] = caster.clip_counts(targets, frames)
    else:
        current = scene.frame_current
        for t in frames:
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
