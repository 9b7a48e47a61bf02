"""The user's own objects as occluders: a collection of mesh objects read into an OccluderSet.

Every object of the collection (and its child collections) whose evaluated geometry is a mesh
-- meshes with their modifiers, curves, text, surfaces -- and that renders (``hide_render`` off)
blocks visibility rays as an *object*, in the interactive Label Visibility and in Render
Benchmark. Its evaluated geometry is read with ``foreach_get`` (vertices and loop triangles) at
every frame of the clip and written into the dataset as a MESH occluder, so the stored arrays
re-derive the labels with the analytic backend:

* ``matrix_world = [A | t]`` is split by the polar decomposition ``A = R P`` (R a rotation,
  P symmetric positive: scale and shear); the occluder's pose per frame is ``[R | t]`` and its
  mesh is the evaluated vertices with ``P`` applied (``MeshData`` vertices, object frame, size 1);
* animated location and rotation are per-frame poses; the object-frame geometry (``P`` times the
  evaluated vertices, modifiers included) must be the same in every frame -- an object that
  deforms over the clip (animated scale, shape keys, armature or cloth) is refused with a message
  naming it and the frame, because the format stores rigid occluders.

Nothing here writes to the user's objects; the add-on's own collections (``<scene> Placed Occluders``
and friends, see :mod:`.bridge`) are refused as user collections, because Build Scene clears them.
"""

from __future__ import annotations

import bpy
import numpy as np

from occpose.errors import ConfigError
from occpose.occlusion.occluders.geometry import MESH, MeshData, OccluderSet

from . import bridge, compat

DEFAULT_COLLECTION = "OccPose Occluders"
GEOMETRY_TYPES = {"MESH", "CURVE", "SURFACE", "META", "FONT"}
SAME_SHAPE = 1e-5  # metres (plus 1e-6 of the object's extent): object-frame vertex drift allowed


def find_collection(scene, name: str, required: bool = True):
    """The user's occluder collection by name (None when absent and not ``required``)."""
    coll = bpy.data.collections.get(name) if name else None
    if coll is None:
        if required:
            raise ConfigError(f"occluder collection {name!r} not found; put your occluding objects "
                              f"into a collection of that name or pick another one")
        return None
    own = {f"{s.name} {n}" for s in bpy.data.scenes
           for n in (bridge.BODY, bridge.OCCLUDERS, bridge.SCENERY, bridge.MARKERS)}
    if coll.name in own:
        if not required:  # a default-named collection that is the add-on's own means none
            return None
        raise ConfigError(f"occluder collection {name!r} is one of the add-on's own collections "
                          "(cleared by Build Scene); put your objects into another collection")
    return coll


def in_scene(scene, coll) -> bool:
    """Whether ``coll`` is one of the scene's collections (at any depth)."""
    return coll.name in {c.name for c in scene.collection.children_recursive}


def occluder_objects(coll) -> list:
    """The collection's rendering geometry objects, sorted by name (a stable primitive order)."""
    return sorted((o for o in coll.all_objects if o.type in GEOMETRY_TYPES and not o.hide_render),
                  key=lambda o: o.name)


def evaluated_mesh(obj, depsgraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Object-frame evaluated vertices (V, 3) float64, triangles (F, 3) int64 and the (4, 4)
    world matrix of ``obj`` at the depsgraph's frame (modifiers and deformation applied)."""
    ev = obj.evaluated_get(depsgraph)
    mesh = ev.to_mesh()
    try:
        mesh.calc_loop_triangles()
        co = np.empty(len(mesh.vertices) * 3, np.float32)
        mesh.vertices.foreach_get("co", co)
        tris = np.empty(len(mesh.loop_triangles) * 3, np.int32)
        mesh.loop_triangles.foreach_get("vertices", tris)
    finally:
        ev.to_mesh_clear()
    return (co.reshape(-1, 3).astype(np.float64), tris.reshape(-1, 3).astype(np.int64),
            np.array(ev.matrix_world, np.float64))


def polar(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, P) with ``matrix[:3, :3] = R @ P``, R a proper rotation and P symmetric (a mirror
    goes into P)."""
    u, s, vt = np.linalg.svd(matrix[:3, :3])
    rot = u @ vt
    stretch = vt.T @ np.diag(s) @ vt
    if np.linalg.det(rot) < 0:  # negative scale: keep R proper, the mirror goes into P
        flip = np.diag([1.0, 1.0, -1.0])
        rot, stretch = rot @ flip, flip @ stretch
    return rot, stretch


def object_color(obj) -> tuple[float, float, float]:
    """RGB in [0, 1]: the first material's viewport colour, else the object colour."""
    mats = [m for m in getattr(obj.data, "materials", []) if m is not None]
    rgba = mats[0].diffuse_color if mats else obj.color
    return tuple(float(np.clip(c, 0.0, 1.0)) for c in rgba[:3])


def read_occluders(scene, coll, n_frames: int, start: int = 0) -> OccluderSet:
    """The collection's objects as MESH occluders (world frame) over n_frames frames from
    ``start`` (pose t of the set is Blender frame start + t).

    Raises:
        ConfigError: an object without triangles, or whose object-frame shape changes.
    """
    if not in_scene(scene, coll):
        raise ConfigError(f"occluder collection {coll.name!r} is not in scene {scene.name!r}; "
                          "link it into the scene whose visibility you label")
    objs = occluder_objects(coll)
    if not objs:
        return OccluderSet.empty(n_frames)
    current = scene.frame_current
    shapes: list = [None] * len(objs)
    pose = np.zeros((n_frames, len(objs), 4, 4))
    try:
        for t in range(n_frames):
            scene.frame_set(start + t)
            depsgraph = compat.view_layer_depsgraph(scene)
            for i, obj in enumerate(objs):
                verts, tris, matrix = evaluated_mesh(obj, depsgraph)
                rot, stretch = polar(matrix)
                pose[t, i, :3, :3], pose[t, i, :3, 3], pose[t, i, 3, 3] = rot, matrix[:3, 3], 1.0
                shaped = verts @ stretch.T  # (V, 3) object frame, scale applied
                if shapes[i] is None:
                    if not len(tris):
                        raise ConfigError(f"occluder object {obj.name!r} (collection {coll.name!r}) "
                                          "has no faces; expected a mesh with faces")
                    shapes[i] = (shaped, tris)
                elif not _same_shape(shapes[i], shaped, tris):
                    raise ConfigError(
                        f"occluder object {obj.name!r} changes shape at frame {start + t} (animated scale, "
                        "shape keys or deforming modifiers); occpose stores occluders as rigid "
                        "meshes: animate only its location and rotation, or apply the deformation")
    finally:
        scene.frame_set(current)
    meshes = tuple(MeshData(obj.name, v, f) for obj, (v, f) in zip(objs, shapes))
    return OccluderSet.from_primitives(
        np.full(len(objs), MESH), np.ones((len(objs), 3)), pose,
        color=np.array([object_color(o) for o in objs], np.float32),
        mesh_index=np.arange(len(objs)), meshes=meshes)


def _same_shape(first, shaped: np.ndarray, tris: np.ndarray) -> bool:
    verts0, tris0 = first
    if verts0.shape != shaped.shape or not np.array_equal(tris0, tris):
        return False
    extent = float(np.ptp(verts0, axis=0).max()) if len(verts0) else 0.0
    return bool(np.abs(verts0 - shaped).max() <= SAME_SHAPE + 1e-6 * extent)


def blockers(occ: OccluderSet | None) -> dict[str, tuple[bool, int]]:
    """Ray-caster table entries (``bridge.blockers`` format) for the user's objects: each blocks
    as an object. The objects are named by their meshes (:func:`read_occluders`)."""
    if occ is None:
        return {}
    return {m.name: (True, -1) for m in occ.meshes}


def link_collection(scene, coll) -> None:
    """Show the user's collection in ``scene`` too (the render scene of Render Benchmark)."""
    if not in_scene(scene, coll):
        scene.collection.children.link(coll)


RENDER_SCENE = "OccPose Render"  # the scene the pipeline renders in when user objects take part


def scene_occluders(scene, name: str | None, n_frames: int) -> OccluderSet | None:
    """The user's collection ``name`` linked into ``scene`` and read over the clip (None: no
    collection named, nothing to add)."""
    if not name:
        return None
    coll = find_collection(scene, name)
    link_collection(scene, coll)
    return read_occluders(scene, coll, n_frames)


def add_arguments(parser) -> None:
    """The command-line flags of user scenes (``benchmark/render_bench.py``)."""
    parser.add_argument("--occluders", metavar="COLLECTION", default=None,
                        help="a collection of your .blend whose objects occlude (evaluated meshes, "
                             "animated or not), stored as mesh occluders with every sequence")


def with_scene_occluders(scene, inputs, name: str | None):
    """``inputs`` (``sequence.SequenceInputs``) with the user's objects of collection ``name``
    in ``scene``; a missing collection of the default name means none (any other name is an
    error)."""
    required = bool(name) and name != DEFAULT_COLLECTION
    coll = find_collection(scene, name, required=required)
    if coll is None or not (required or in_scene(scene, coll)):  # the default: only if it is here
        return inputs
    inputs.scene_occluders = read_occluders(scene, coll, inputs.n_frames)
    return inputs


def collection_setting(scene) -> str:
    """The occluder collection picked in the panel (``scene.occpose_user``), default name else."""
    settings = getattr(scene, "occpose_user", None)
    return settings.occluders if settings is not None else DEFAULT_COLLECTION


def render_setting(scene) -> str | None:
    """The collection Render Benchmark takes along: the panel's, None when it does not exist
    under the default name."""
    name = collection_setting(scene)
    if name == DEFAULT_COLLECTION and find_collection(scene, name, required=False) is None:
        return None
    return name


def with_identity(cfg, occ: OccluderSet | None):
    """``cfg`` with the user's objects in its identity: ``benchmark.name`` gets ``+scene-<sha>``
    of their stored arrays, so a benchmark folder made with other objects (or none) is refused
    without --overwrite instead of being resumed."""
    if occ is None:
        return cfg
    import copy
    import hashlib

    digest = hashlib.sha256()
    for value in occ.to_arrays().values():
        digest.update(np.ascontiguousarray(value).tobytes())
    out = copy.deepcopy(cfg)
    out.benchmark.name = f"{cfg.benchmark.name}+scene-{digest.hexdigest()[:12]}"
    return out
