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
  capsule of a convex mesh at its shape-key state, or against the mesh's box in the object
  frame), and most rays are decided without a cast: a closed convex mesh (checked once per mesh,
  :func:`~.raygeom.solid_of`: boxes, spheres, cylinders, capsules, the body's stretching capsules) holds an
  inner box or capsule, and a ray that enters it before its stopping distance (with a 0.1 mm
  slack, SURE) certainly hits the mesh no later; a ray is then blocked, and first by an object
  (a body) when that hit comes before every pair of the other kind can enter. Only the
  undecided rays (~1 per frame: grazing a mesh, near-ties of body and object) are cast, in two
  rounds: each ray's pair of nearest entry, then only the pairs that enter before the hit found
  (the others cannot change what blocks the ray first). Every cast is still a
  ``BVHTree.ray_cast`` on the tree :meth:`frame_counts` uses (the cache of shape-key states is
  visited in the same order) with the same float inputs, and a decided ray's outcome is the one
  its casts would give (with 0.1 mm to spare for float32 rounding), so the counts are
  :meth:`frame_counts`' (the tests compare them).
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
from .raygeom import (STRETCH_MAX, STRETCH_MIN, Solid, bounding_capsule, capsule_entry,
                      closest_parameters, ray_axis, segments_within, segments_within_frames,
                      segments_within_pairs, slab, solid_of)

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


SURE = CULL_MARGIN  # metres: slack of the decisions made without a cast (hits certain or ordered)
MAX_SOLIDS = 256  # solid_of results kept, per mesh content
_SOLIDS: dict = {}


def _decide(ray: np.ndarray, is_occ: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple:
    """The rays (sorted) of (ray, object) pairs, whether each is decided without a cast and
    whether an object blocks it first: blocked if a pair certainly hits (hi < inf), first by an
    object (a body) if that kind's certain hit comes SURE before every lo of the other kind."""
    by_ray = np.argsort(ray, kind="stable")
    ray_s = ray[by_ray]
    starts = np.flatnonzero(np.r_[True, ray_s[1:] != ray_s[:-1]])
    bounds = np.stack([np.where(is_occ, hi, np.inf), np.where(is_occ, lo, np.inf),
                       np.where(is_occ, np.inf, hi), np.where(is_occ, np.inf, lo)])
    obj_hi, obj_lo, body_hi, body_lo = np.minimum.reduceat(bounds[:, by_ray], starts, axis=1)
    obj_first = obj_hi + SURE < body_lo
    return ray_s[starts], obj_first | (body_hi + SURE < obj_lo), obj_first


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
    inner: "Solid | None | bool" = False  # clip path: see solid (False: not computed yet)
    chunks: dict = field(default_factory=dict)  # clip path: see BatchRayCaster._object_chunk

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

    def solid(self) -> "Solid | None":
        """The certified inner shapes of the mesh (:func:`solid_of`; a single stretch key only),
        from the coordinates and triangles :meth:`_Motion.check` read; computed once."""
        if self.inner is False:
            m, keys = self.motion, self.keys[1]
            if m is None or m.tri_array is None or len(keys) > 1:
                self.inner = None
            else:  # the same mesh (e.g. left and right limbs, the levels' bodies): looked up
                key = b"".join(x.tobytes() for x in (m.ref, *m.blocks, m.tri_array))
                if key not in _SOLIDS:
                    if len(_SOLIDS) >= MAX_SOLIDS:
                        _SOLIDS.pop(next(iter(_SOLIDS)))
                    offset = (m.blocks[0].astype(np.float64) - m.ref) if keys else None
                    _SOLIDS[key] = solid_of(m.ref, m.tri_array, offset)
                self.inner = _SOLIDS[key]
        return self.inner

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
    tri_array: np.ndarray | None = None  # (F, 3) int32, the same triangles
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
        self.tri_array = tris
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
        then each ray against the object's certified outer capsule (_capsule_pairs) or its
        bounding box in the object frame (_box_pairs), which give a distance before which the
        pair cannot hit (lo) and, with the certified inner capsule or box, one by which it
        certainly hits (hi). The rays these decide are not cast; the others are
        (_cast_undecided)."""
        n_f, n_j, k = targets.shape[:3]
        n_o = len(self.objects)
        loc = np.empty((n_o, n_f, 3))
        rot = np.empty((n_o, n_f, 3, 3))
        scale = np.empty((n_o, n_f, 3))
        raw, values, capsules, boxes, tables = [], [], [], [], []
        key = (frames[0], n_f) if frames == list(range(frames[0], frames[0] + n_f)) else tuple(frames)
        for o, b in enumerate(self.objects):
            (lo, ro, sc), rm, vals, capsule, table = self._object_chunk(b, frames, key)
            raw.append((lo, ro, sc))
            loc[o], rot[o], scale[o] = lo, rm, sc
            values.append(vals)
            capsules.append(capsule)
            boxes.append(b.box)
            tables.append(table)
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
        stop = length[f_idx, r_idx] - tol[r_idx, o_idx]
        blocked = np.zeros((n_f, n_j), np.int32)
        by_object = np.zeros((n_f, n_j), np.int32)
        if not len(f_idx):
            return blocked, by_object
        fo = f_idx * n_o + o_idx  # (frame, object) slot of every pair
        solids = [b.solid() for b in self.objects]
        quiet = np.array([self._quiet(b, t) for b, t in zip(self.objects, tables)], bool)
        capsule = np.array([s is not None and s.box is None and s.rho > 0 for s in solids], bool)
        # each ray of the bundles against the bounding capsules of shape-keyed objects: the pairs
        # of frame_counts' segments_within, which decide the trees of their states (tree_at;
        # needed only while an object's cache of states may change: not quiet), and the culling
        # of the objects without a certified capsule
        sel = np.nonzero((self.keyed & (~capsule | ~quiet))[o_idx])[0]
        keep = np.ones(len(f_idx), bool)
        if len(sel):
            fs, os_ = f_idx[sel], o_idx[sel]
            keep[sel] = segments_within_pairs(self.origin, u[fs, r_idx[sel]], stop[sel] + CULL_MARGIN,
                                              p0[fs, os_], p1[fs, os_],
                                              rad[fs, os_] + CULL_MARGIN * (rad[fs, os_] >= 0))
        visits = np.unique(fo[keep & (self.keyed & ~quiet)[o_idx]])  # sorted: frame, then object
        # per pair: lo, a distance before which it cannot hit; hi, one by which it certainly
        # hits (SURE before its stop), else inf (see _capsule_pairs and _box_pairs)
        capsule_pairs = self._capsule_pairs(np.nonzero(capsule[o_idx])[0], keep, k, f_idx, r_idx, o_idx,
                                            u, stop, solids, tables, sc_rot, loc, scale)
        parts = [capsule_pairs, self._box_pairs(np.nonzero(keep & ~capsule[o_idx])[0], f_idx, r_idx, o_idx,
                                                u, stop, solids, rot, loc, scale, box_lo, box_hi)]
        pairs = np.concatenate([p[0] for p in parts])
        if not len(pairs):
            return blocked, by_object
        lo = np.concatenate([p[1] for p in parts])
        hi = np.concatenate([p[2] for p in parts])
        ray = f_idx[pairs] * (n_j * k) + r_idx[pairs]
        is_occ = self.is_occluder[o_idx[pairs]]
        rays_u, decided, obj_first = _decide(ray, is_occ, lo, hi)
        undecided = np.zeros(n_f * n_j * k, bool)
        undecided[rays_u[~decided]] = True
        n_cap = len(capsule_pairs[0])
        again = np.nonzero(undecided[ray[:n_cap]])[0]
        if len(again):  # a better lo of their capsule pairs: their rays' entries
            lo[again] = capsule_pairs[3](again)
            redo = np.nonzero(undecided[ray])[0]
            rays_r, dec_r, first_r = _decide(ray[redo], is_occ[redo], lo[redo], hi[redo])
            undecided[rays_r[dec_r]] = False
            rays_u = np.concatenate([rays_u[decided], rays_r[dec_r]])
            obj_first = np.concatenate([obj_first[decided], first_r[dec_r]])
            decided = np.ones(len(rays_u), bool)
        ray_blocked = np.zeros(n_f * n_j * k, bool)
        first_obj = np.zeros(n_f * n_j * k, bool)
        ray_blocked[rays_u[decided]] = True
        first_obj[rays_u[decided & obj_first]] = True
        cast = undecided[ray]
        trees = self._slot_trees(visits, np.unique(fo[pairs[cast]]), n_o, values)
        if cast.any():
            self._cast_undecided(pairs[cast], fo, trees, frames, raw, u, f_idx, r_idx, length, stop,
                                 np.maximum(lo[cast], 0.0), ray_blocked, first_obj, n_o, n_j * k)
        return (ray_blocked.reshape(n_f, n_j, k).sum(axis=2, dtype=np.int32),
                first_obj.reshape(n_f, n_j, k).sum(axis=2, dtype=np.int32))

    @staticmethod
    def _quiet(b: _Blocker, table: np.ndarray) -> bool:
        """Whether no state of ``table`` (F, keys) would change the blocker's cache of states
        (_Blocker.tree_at: each finds a cached one), so that tree_at may be skipped."""
        if not b.shapes:
            return False
        if not table.shape[1]:
            return True
        sigs = np.array(list(b.shapes), np.float64)  # (cached, keys)
        return bool((np.abs(table[:, None] - sigs[None]) <= KEY_SLACK).all(axis=2).any(axis=1).all())

    def _capsule_pairs(self, sel, keep, k, f_idx, r_idx, o_idx, u, stop, solids, tables, sc_rot, loc,
                       scale):
        """(pairs kept, lo, hi) of the pairs ``sel`` on objects with a certified capsule
        (:class:`~.raygeom.Solid`), in the world frame: the outer capsule (every vertex within its radius
        of its axis, scaled by the largest scale) culls the pair unless the ray comes within it
        before its stop, and the ray's entry into it (or the camera centre's distance to it) is
        lo; when the camera centre is out of it, the ray's point nearest the inner capsule's
        axis up to its last distance, if inside (radius rho scaled by the smallest scale), lies
        in a ball inside the mesh: the ray's entry into that ball is hi. ``sel``: whole bundles
        (K pairs each, in order), kept where ``keep``. Also returns a function giving a better lo
        of some of the kept pairs (their rays' entry into the outer capsule)."""
        if not len(sel):
            return sel, np.empty(0), np.empty(0), None
        objs = np.unique(o_idx[sel])
        n_o, n_f = len(self.objects), sc_rot.shape[1]
        ends = np.zeros((4, n_o, n_f, 3))  # outer axis, inner axis (object frame)
        outer = np.zeros((n_o, n_f))
        inner = np.full((n_o, n_f), -1.0)
        for o in objs.tolist():
            s = solids[o]
            outer[o] = s.radius
            if s.t is None:
                ends[:, o] = np.array([s.b0, s.b1, s.a0, s.a1])[:, None]
                inner[o] = s.rho
            else:
                w = tables[o][:, 0]
                ends[0, o] = ends[2, o] = s.a0
                ends[1, o] = ends[3, o] = s.a0 + w[:, None] * s.t
                inner[o] = np.where((w >= STRETCH_MIN) & (w <= STRETCH_MAX), s.rho, -1.0)
        world = np.einsum("ofij,eofj->eofi", sc_rot[objs], ends[:, objs]) + loc[objs]  # (4, o, F, 3)
        s_abs = np.abs(scale[objs])
        r_out = outer[objs] * s_abs.max(axis=2) + CULL_MARGIN
        r_in = np.where(inner[objs] > 0, inner[objs] * s_abs.min(axis=2), -1.0)
        # the camera centre's distance to the outer capsule, per slot (> 0: out of the mesh)
        axis = world[1] - world[0]
        rel = self.origin - world[0]
        ee = np.einsum("ofi,ofi->of", axis, axis)
        along = np.clip(np.einsum("ofi,ofi->of", axis, rel) / np.where(ee > 0, ee, 1.0), 0.0, 1.0)
        gap0 = rel - along[..., None] * axis
        slot_lo = np.sqrt(np.einsum("ofi,ofi->of", gap0, gap0)) - r_out
        where = np.zeros(n_o, np.int64)
        where[objs] = np.arange(len(objs))
        # the K rays of each (frame, joint, object) bundle at once: the pairs come K by K
        tri = sel[::k] // k
        ot, ft = where[o_idx[tri * k]], f_idx[tri * k]
        uu = u.reshape(n_f, -1, k, 3)[ft, r_idx[tri * k] // k]  # (T, K, 3)
        st = stop.reshape(-1, k)[tri]
        d2, w_, e_t = axis[ot, ft], rel[ot, ft], ee[ot, ft, None]
        f_t, b_, c_ = np.einsum("ti,ti->t", d2, w_)[:, None], uu @ d2[:, :, None], uu @ w_[:, :, None]
        b_, c_ = b_[..., 0], c_[..., 0]
        s_, t_ = closest_parameters(e_t, f_t, b_, c_, st + CULL_MARGIN)
        # |w + s u - t axis|^2 (the ray's point minus the axis point), |u| = 1
        gap2 = (np.einsum("ti,ti->t", w_, w_)[:, None] + s_ * (s_ + 2 * c_) + t_ * (t_ * e_t - 2 * f_t)
                - 2 * s_ * t_ * b_)
        ro = r_out[ot, ft]
        kept = (gap2 <= (ro * ro)[:, None]) & keep.reshape(-1, k)[tri]
        t_i, k_i = np.nonzero(kept)
        sel = tri[t_i] * k + k_i
        oi, fi, uu, st = ot[t_i], ft[t_i], uu[t_i, k_i], st[t_i, k_i]
        out_lo = slot_lo[oi, fi]
        hi = np.full(len(sel), np.inf)
        ri = r_in[oi, fi]
        last = st - SURE
        cand = np.nonzero((ri > 0) & (out_lo > 0) & (last > 0))[0]
        if len(cand):
            d2_i = (world[3] - world[2])[oi[cand], fi[cand]]
            w_i = self.origin - world[2][oi[cand], fi[cand]]
            ri2 = ri[cand] ** 2
            a_rel, gap2_i, s_i = ray_axis(w_i, uu[cand], d2_i, np.einsum("ni,ni->n", d2_i, d2_i), last[cand])
            s_p = np.einsum("ni,ni->n", a_rel, uu[cand])  # the axis point's projection on the ray
            line2 = np.maximum(np.einsum("ni,ni->n", a_rel, a_rel) - s_p * s_p, 0.0)
            ok = (gap2_i < ri2) & (s_i > 0) & (line2 < ri2)
            entry = np.clip(s_p - np.sqrt(np.maximum(ri2 - line2, 0.0)), 0.0, last[cand])
            hi[cand[ok]] = entry[ok]

        def entries(idx):  # lo of the pairs idx: also the ray's entry into the outer capsule
            o_, f_ = oi[idx], fi[idx]
            return np.maximum(out_lo[idx], capsule_entry(rel[o_, f_], uu[idx], axis[o_, f_], ee[o_, f_],
                                                          r_out[o_, f_]))

        return sel, np.maximum(out_lo, 0.0), hi, entries

    def _box_pairs(self, sel, f_idx, r_idx, o_idx, u, stop, solids, rot, loc, scale, box_lo, box_hi):
        """(pairs kept, lo, hi) of the pairs ``sel`` in the object frame (float64 maps from the
        transforms): the mesh's bounding box (widened by CULL_MARGIN) culls the pair unless the
        ray enters it before its stop, and its entry is lo; a certified inner box (boxes) gives
        hi. A slot with a zero scale keeps its pairs, uncertified (cast as frame_counts)."""
        if not len(sel):
            return sel, np.empty(0), np.empty(0), None
        fi, oi = f_idx[sel], o_idx[sel]
        sc = scale[oi, fi]
        with np.errstate(divide="ignore"):
            inv_s = 1.0 / sc
        regular = np.isfinite(inv_s).all(axis=1)
        inv_s[~regular] = 0.0
        a_map = rot[oi, fi].transpose(0, 2, 1) * inv_s[:, :, None]  # diag(1 / s) R^T
        o_b = np.einsum("nij,nj->ni", a_map, self.origin - loc[oi, fi])
        d_b = np.einsum("nij,nj->ni", a_map, u[fi, r_idx[sel]])  # per world metre
        t_in, t_out = slab(o_b, d_b, box_lo[oi], box_hi[oi])
        st = stop[sel]
        kept = ((t_in <= t_out) & (t_out >= 0) & (t_in <= st + CULL_MARGIN)) | ~regular
        hi = np.full(len(sel), np.inf)
        has_box = np.array([s is not None and s.box is not None for s in solids], bool)
        cert = np.nonzero(kept & regular & has_box[oi] & (t_in > 0))[0]
        if len(cert):
            inner = np.array([s.box if h else np.zeros((2, 3)) for s, h in zip(solids, has_box)])
            lo_i, hi_i = inner[oi[cert], 0], inner[oi[cert], 1]
            e_in, e_out = slab(o_b[cert], d_b[cert], lo_i, hi_i)
            good = (e_in < e_out) & (e_in > 0) & (e_in < st[cert] - SURE)
            hi[cert[good]] = e_in[good]
        t_in = np.where(regular, t_in, 0.0)
        return sel[kept], t_in[kept], hi[kept], None

    def _slot_trees(self, visits: np.ndarray, cast_slots: np.ndarray, n_o: int, values: list) -> dict:
        """slot -> tree (_Blocker.tree_at) of the (frame, object) slots ``cast_slots``. tree_at
        changes an object's cache of states only when a state finds none of the cached ones, so
        only the objects whose states may (not quiet, see _quiet) are asked about every slot of
        ``visits`` (sorted: frame_counts' order), the others only about the cast slots."""
        want = set(cast_slots.tolist())
        trees = {}
        owner = visits % n_o
        for o in np.unique(owner).tolist():
            b, vals = self.objects[o], values[o]
            for slot in visits[owner == o].tolist():
                tree = b.tree_at(vals[slot // n_o])
                if slot in want:
                    trees[slot] = tree
        for slot in want.difference(trees):
            f, o = divmod(slot, n_o)
            trees[slot] = self.objects[o].tree_at(values[o][f])
        return trees

    def _cast_undecided(self, cast, fo, trees, frames, raw, u, f_idx, r_idx, length, stop, entry,
                        ray_blocked, first_obj, n_o, n_rays) -> None:
        """Cast the pairs ``cast`` (indices of the chunk's pairs) of the rays left undecided, in
        two rounds: each ray's pair of nearest box entry, then only the pairs that enter before
        the hit found (the others cannot change what blocks the ray first); sets the rays'
        outcomes in ``ray_blocked`` and ``first_obj``."""
        slots, slot = np.unique(fo[cast], return_inverse=True)
        tree_of, tree_ids, inv = [], {}, []
        for s in slots.tolist():
            f, o = divmod(s, n_o)
            tree = trees[s]
            tree_of.append(tree_ids.setdefault(id(tree), (len(tree_ids), tree))[0])
            inv.append(self.objects[o].motion.inverse(frames[f], raw[o], f))
        inv = np.array(inv, np.float64).reshape(-1, 3, 4)  # Blender's float32 inverses
        o_loc = inv[:, :, :3] @ self.origin + inv[:, :, 3]  # (S, 3) camera centre, object frame
        fc, rc = f_idx[cast], r_idx[cast]
        d_loc = np.einsum("nij,nj->ni", inv[slot, :, :3], u[fc, rc])  # per world metre
        ray = fc * n_rays + rc
        casts = _Casts([t for _, t in sorted(tree_ids.values(), key=lambda x: x[0])],
                       np.array(tree_of, np.int64), o_loc.tolist(), slot, d_loc, length[fc, rc], stop[cast])
        order = np.lexsort((entry, ray))
        first = np.ones(len(order), bool)
        first[1:] = ray[order][1:] != ray[order][:-1]
        one = order[first]
        t = np.full(len(cast), np.inf)
        t[one] = casts(one)
        best = np.full(n_rays * (int(fc.max()) + 1), np.inf)
        best[ray[one]] = t[one]
        rest = order[~first]
        rest = rest[entry[rest] <= best[ray[rest]]]
        t[rest] = casts(rest)
        is_occ = self.is_occluder[fo[cast] % n_o]
        t_obj = np.full(len(best), np.inf)
        t_body = np.full(len(best), np.inf)
        np.minimum.at(t_obj, ray[is_occ], t[is_occ])
        np.minimum.at(t_body, ray[~is_occ], t[~is_occ])
        hit = np.isfinite(t_obj) | np.isfinite(t_body)
        rays = np.unique(ray)
        ray_blocked[rays] = hit[rays]
        first_obj[rays] = (hit & (t_obj <= t_body))[rays]

    def _object_chunk(self, b: _Blocker, frames: list, key) -> tuple:
        """A blocker at ``frames`` (``key``): its transforms, float64 rotations and shape-key
        values (_Motion.chunk), bounding capsule (_clip_capsule) and values (F, keys), kept
        while its bound holds (the levels of a clip share the body)."""
        got = b.chunks.get(key)
        if got is not None and got[0] is b.bound:
            return got[1]
        transforms, rm, vals = b.motion.chunk(b, frames)
        capsule = self._clip_capsule(b, vals)
        out = (transforms, rm, vals, capsule, np.array(vals, np.float64).reshape(len(frames), -1))
        if len(b.chunks) >= 64:
            b.chunks.pop(next(iter(b.chunks)))
        b.chunks[key] = (b.bound, out)
        return out

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
